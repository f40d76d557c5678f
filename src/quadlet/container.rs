//! `.container` files: a service that runs the container with `hutch run
//! --rm --replace -d` under `Type=notify` (`--sdnotify=conmon`: the
//! monitor says when it runs), `KillMode=mixed`, `Delegate=yes` and
//! `--cgroups=split` (the container's cgroup inside the service's), and
//! stops it with `hutch rm -f`.

use super::unit_file::{Entry, UnitFile};
use super::{Options, Service, UnitError, boolean, copy_section, install, words};
use crate::engine::container::systemd_unit::escape_arg;

pub fn translate(file: &UnitFile, stem: &str, opts: &Options) -> Result<Service, UnitError> {
    if !file.has_section("Container") {
        return Err(UnitError {
            file: file.path.clone(),
            line: 0,
            key: String::new(),
            message: "no [Container] section".into(),
        });
    }
    let mut image: Option<String> = None;
    let mut name = format!("systemd-{stem}");
    let mut exec: Vec<String> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    let mut deps: Vec<String> = Vec::new();
    let mut user: Option<String> = None;
    let mut group: Option<String> = None;
    for e in file.section("Container") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "Image" => image = Some(v.to_owned()),
            "ContainerName" => name = v.to_owned(),
            "Exec" => exec = words(file, e)?,
            "Entrypoint" => flag(&mut args, "--entrypoint", v),
            "Environment" => {
                for w in words(file, e)? {
                    if !w.contains('=') {
                        return Err(file.error(e, format!("{w:?} is not KEY=VALUE")));
                    }
                    flag(&mut args, "--env", &w);
                }
            }
            "EnvironmentFile" => flag(&mut args, "--env-file", v),
            "EnvironmentHost" => {
                if boolean(file, e)? {
                    args.push("--env-host".into());
                }
            }
            "PublishPort" => flag(&mut args, "--publish", v),
            "Volume" => flag(&mut args, "--volume", &volume(file, e, &mut deps)?),
            "Network" => {
                if v.ends_with(".network") {
                    return Err(file.error(e, ".network units are not supported by hutch yet"));
                }
                flag(&mut args, "--network", v);
            }
            "Label" => {
                for w in words(file, e)? {
                    flag(&mut args, "--label", &w);
                }
            }
            "Annotation" => {
                for w in words(file, e)? {
                    flag(&mut args, "--annotation", &w);
                }
            }
            "HealthCmd" => flag(&mut args, "--health-cmd", v),
            "HealthInterval" => flag(&mut args, "--health-interval", v),
            "HealthRetries" => flag(&mut args, "--health-retries", v),
            "HealthStartPeriod" => flag(&mut args, "--health-start-period", v),
            "HealthTimeout" => flag(&mut args, "--health-timeout", v),
            "HealthOnFailure" => flag(&mut args, "--health-on-failure", v),
            "Notify" => {
                if v == "healthy" || boolean(file, e)? {
                    return Err(file.error(
                        e,
                        "the container's own sd_notify (--sdnotify=container, healthy) is not supported by hutch yet",
                    ));
                }
            }
            "User" => user = Some(v.to_owned()),
            "Group" => group = Some(v.to_owned()),
            "UserNS" => flag(&mut args, "--userns", v),
            "WorkingDir" => flag(&mut args, "--workdir", v),
            "HostName" => flag(&mut args, "--hostname", v),
            "ReadOnly" => {
                if boolean(file, e)? {
                    args.push("--read-only".into());
                }
            }
            "RunInit" => {
                if boolean(file, e)? {
                    args.push("--init".into());
                }
            }
            "NoNewPrivileges" => {
                if boolean(file, e)? {
                    flag(&mut args, "--security-opt", "no-new-privileges");
                }
            }
            "AddCapability" => {
                for w in words(file, e)? {
                    flag(&mut args, "--cap-add", &w);
                }
            }
            "DropCapability" => {
                for w in words(file, e)? {
                    flag(&mut args, "--cap-drop", &w);
                }
            }
            "AddDevice" => flag(&mut args, "--device", v),
            "Tmpfs" => flag(&mut args, "--tmpfs", v),
            "Timezone" => flag(&mut args, "--tz", v),
            "StopTimeout" => flag(&mut args, "--stop-timeout", v),
            "Pull" => flag(&mut args, "--pull", v),
            "AutoUpdate" => {
                if !matches!(v, "registry" | "local") {
                    return Err(file.error(e, format!("{v:?}: use registry or local")));
                }
                flag(
                    &mut args,
                    "--label",
                    &format!("io.containers.autoupdate={v}"),
                );
            }
            // Podman's pass-through of raw flags, also under hutch's name.
            "PodmanArgs" | "HutchArgs" => extra.extend(words(file, e)?),
            "Pod" => return Err(file.error(e, "pods are not supported by hutch's Quadlet yet")),
            other => {
                return Err(file.error(
                    e,
                    format!("unsupported key {other:?} in group \"Container\""),
                ));
            }
        }
    }
    let Some(image) = image else {
        return Err(UnitError {
            file: file.path.clone(),
            line: 0,
            key: "Image".into(),
            message: "no Image key specified".into(),
        });
    };
    if let Some(u) = user {
        let spec = match group {
            Some(g) => format!("{u}:{g}"),
            None => u,
        };
        args.push("--user".into());
        args.push(spec);
    } else if group.is_some() {
        let e = file
            .section("Container")
            .find(|e| e.key == "Group")
            .cloned()
            .unwrap_or(Entry {
                key: "Group".into(),
                value: String::new(),
                line: 0,
            });
        return Err(file.error(&e, "Group= needs User="));
    }

    let mut run: Vec<String> = [
        "run",
        &format!("--name={name}"),
        "--cidfile=%t/%N.cid",
        "--replace",
        "--rm",
        "--cgroups=split",
        "--sdnotify=conmon",
        "-d",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    run.extend(args);
    run.extend(extra);
    run.push(image);
    run.extend(exec);
    let run_line: Vec<String> = run
        .iter()
        .map(|a| {
            // %t and %N are the unit's specifiers, not text.
            if a.contains("%t/%N.cid") {
                a.clone()
            } else if let Some(n) = a.strip_prefix("--name=") {
                format!("--name={}", escape_arg(n).replace("%%N", "%N"))
            } else {
                escape_arg(a)
            }
        })
        .collect();

    let mut s = String::from(super::HEADER);
    s.push_str("[X-Container]\n");
    s.push_str(&copy_section(file, "Container"));
    s.push_str("\n[Unit]\n");
    s.push_str(&copy_section(file, "Unit"));
    s.push_str(&format!("SourcePath={}\n", file.path));
    s.push_str(&format!("RequiresMountsFor={}\n", opts.run_dir));
    for d in &deps {
        s.push_str(&format!("Requires={d}\nAfter={d}\n"));
    }
    s.push_str("\n[Service]\n");
    s.push_str("Environment=PODMAN_SYSTEMD_UNIT=%n\n");
    s.push_str("KillMode=mixed\n");
    let hutch = &opts.hutch;
    s.push_str(&format!(
        "ExecStop={hutch} rm -v -f -i --cidfile=%t/%N.cid\n"
    ));
    s.push_str(&format!(
        "ExecStopPost=-{hutch} rm -v -f -i --cidfile=%t/%N.cid\n"
    ));
    s.push_str("Delegate=yes\nType=notify\nNotifyAccess=all\nSyslogIdentifier=%N\n");
    s.push_str(&copy_section(file, "Service"));
    // A cidfile left by a run that ended without its ExecStopPost (the
    // machine lost power) would make `run --cidfile` refuse to start.
    s.push_str("ExecStartPre=-/bin/rm -f %t/%N.cid\n");
    s.push_str(&format!("ExecStart={hutch} {}\n", run_line.join(" ")));
    let (wanted_by, required_by, install_text) = install(file);
    if !install_text.is_empty() {
        s.push_str("\n[Install]\n");
        s.push_str(&install_text);
    }
    Ok(Service {
        name: super::service_name(stem, "container"),
        content: s,
        wanted_by,
        required_by,
    })
}

fn flag(args: &mut Vec<String>, f: &str, v: &str) {
    args.push(f.to_owned());
    args.push(v.to_owned());
}

/// `Volume=SRC:DEST[:OPTS]`: a `NAME.volume` source is that unit's volume
/// (`systemd-NAME`: hutch's `.volume` files take no `VolumeName=`), and
/// the service needs it first.
fn volume(file: &UnitFile, e: &Entry, deps: &mut Vec<String>) -> Result<String, UnitError> {
    let v = e.value.as_str();
    if v.is_empty() {
        return Err(file.error(e, "empty volume"));
    }
    match v.split_once(':') {
        Some((src, rest)) if src.ends_with(".volume") => {
            let stem = &src[..src.len() - ".volume".len()];
            if stem.is_empty() {
                return Err(file.error(e, format!("bad volume unit {src:?}")));
            }
            deps.push(super::service_name(stem, "volume"));
            Ok(format!("systemd-{stem}:{rest}"))
        }
        _ => Ok(v.to_owned()),
    }
}
