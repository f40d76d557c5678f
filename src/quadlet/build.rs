//! `.build` files: a oneshot service that builds the image with `hutch
//! build --tag IMAGETAG`; `.container` and `.volume` files use it as
//! `Image=NAME.build` (the first `ImageTag=`). The context is
//! `SetWorkingDirectory=` (`unit`, `file`, or a path), else the
//! directory of an absolute `File=`.

use super::render::{Cmd, Deps, Parts};
use super::{Cx, Service, UnitError, boolean, whole, words};

pub fn translate(cx: &Cx) -> Result<Service, UnitError> {
    cx.require_group("Build")?;
    let file = cx.file;
    let mut cmd = Cmd::new(cx, "Build")?;
    cmd.arg("build");
    let mut tags: Vec<String> = Vec::new();
    let mut containerfile: Option<String> = None;
    let mut set_wd: Option<(String, &super::unit_file::Entry)> = None;
    let mut args: Vec<String> = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    let flag = |args: &mut Vec<String>, f: &str, v: &str| {
        args.push(f.to_owned());
        args.push(v.to_owned());
    };
    for e in file.section("Build") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "ImageTag" => tags.push(v.to_owned()),
            "File" => containerfile = Some(v.to_owned()),
            "SetWorkingDirectory" => set_wd = Some((v.to_owned(), e)),
            "Label" => {
                for w in words(file, e)? {
                    flag(&mut args, "--label", &w);
                }
            }
            "Target" => flag(&mut args, "--target", v),
            // One word with `=`: both flags take an optional value.
            "Pull" => args.push(format!("--pull={v}")),
            "ForceRM" => args.push(format!("--force-rm={}", boolean(file, e)?)),
            "ServiceName" | "GlobalArgs" => {}
            "PodmanArgs" | "HutchArgs" => extra.extend(words(file, e)?),
            "Annotation"
            | "Arch"
            | "AuthFile"
            | "ContainersConfModule"
            | "DNS"
            | "DNSOption"
            | "DNSSearch"
            | "Environment"
            | "GroupAdd"
            | "Network"
            | "Retry"
            | "RetryDelay"
            | "Secret"
            | "TLSVerify"
            | "Variant"
            | "Volume" => return Err(cx.not_yet(e)),
            _ => return Err(cx.unknown(e, "Build")),
        }
    }
    if tags.is_empty() {
        return Err(whole(&file.path, "ImageTag", "no ImageTag key specified"));
    }
    let user_wd = file
        .section("Service")
        .filter(|e| e.key == "WorkingDirectory")
        .last()
        .map(|e| e.value.clone());
    let dir_of = |p: &str| {
        std::path::Path::new(p)
            .parent()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // The build's context, and the service's WorkingDirectory= (so that a
    // relative File= is found), as Podman's handleSetWorkingDirectory.
    let (context, workdir) = match &set_wd {
        Some((v, e)) => match v.to_ascii_lowercase().as_str() {
            "unit" => (None, Some(dir_of(&file.path))),
            "file" => {
                let Some(f) = &containerfile else {
                    return Err(file.error(e, "no File key specified"));
                };
                (None, Some(dir_of(&cx.relative(f))))
            }
            _ if v.contains("://") => (Some(v.clone()), None),
            _ => (Some(cx.relative(v)), None),
        },
        None => (None, None),
    };
    let workdir = if user_wd.is_some() { None } else { workdir };
    let has_wd = user_wd.is_some() || workdir.is_some();
    if context.is_none() && !has_wd && containerfile.is_none() {
        return Err(whole(
            &file.path,
            "SetWorkingDirectory",
            "neither SetWorkingDirectory, nor File key specified",
        ));
    }
    for t in &tags {
        cmd.flag("--tag", t);
    }
    cmd.args(args.iter().map(String::as_str));
    if let Some(f) = &containerfile {
        cmd.flag("--file", f);
    }
    cmd.args(extra.iter().map(String::as_str));
    // The context is the last argument: the one asked for, else the
    // working directory (`.`), else the absolute File='s directory.
    match (&context, &containerfile) {
        (Some(c), _) => {
            cmd.arg(c);
        }
        (None, _) if has_wd => {
            cmd.arg(".");
        }
        (None, Some(f)) if f.starts_with('/') => {
            cmd.arg(&dir_of(f));
        }
        (None, _) => {
            return Err(whole(
                &file.path,
                "File",
                "relative path in File key requires SetWorkingDirectory key to be set",
            ));
        }
    }
    let mut service = super::volume::oneshot(cmd.line(), false);
    if let Some(d) = workdir {
        service.push(format!("WorkingDirectory={d}"));
    }
    cx.render(Parts {
        group: "Build",
        deps: Deps::default(),
        service,
        service_after: Vec::new(),
    })
}
