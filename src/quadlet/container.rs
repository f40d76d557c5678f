//! `.container` files: a service that runs the container with `hutch run
//! --rm --replace -d` under `Type=notify` (`--sdnotify=conmon`: the
//! monitor says when it runs; `Notify=true` the container itself,
//! `Notify=healthy` its first passing health check), `KillMode=mixed`, `Delegate=yes` and
//! `--cgroups=split` (the container's cgroup inside the service's), and
//! stops it with `hutch rm -f`. `Pod=NAME.pod` puts it in that file's
//! pod, bound to the pod's service (`BindsTo=`), which starts it.

use super::render::{Cmd, Deps, Parts};
use super::unit_file::Entry;
use super::{Cx, Service, UnitError, boolean, words};
use crate::engine::container::systemd_unit::escape_arg;

pub fn translate(cx: &Cx) -> Result<Service, UnitError> {
    cx.require_group("Container")?;
    let file = cx.file;
    let stem = cx.stem;
    let mut image: Option<String> = None;
    let name = cx
        .units
        .get(cx.name)
        .and_then(|u| u.resource.clone())
        .unwrap_or_else(|| format!("systemd-{stem}"));
    let mut exec: Vec<String> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    let mut deps = Deps::default();
    let mut user: Option<String> = None;
    let mut group: Option<String> = None;
    // `Notify=`: who sends READY=1; the monitor unless the file says so.
    let mut sdnotify = "--sdnotify=conmon";
    for e in file.section("Container") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "Image" => image = Some(cx.image(e, &mut deps)?),
            "ContainerName" => {}
            // Read by Units (the service's name, the pod's members).
            "ServiceName" | "GlobalArgs" => {}
            "StartWithPod" => {
                boolean(file, e)?;
            }
            "Pod" => {
                if !v.ends_with(".pod") {
                    return Err(file.error(e, format!("pod {v} is not Quadlet based")));
                }
                let (pod, service) = cx.resource_of(e, v)?;
                flag(&mut args, "--pod", &pod);
                deps.add("BindsTo", service.clone());
                deps.add("After", service);
            }
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
            "Volume" => flag(&mut args, "--volume", &cx.volume(e, &mut deps)?),
            "Network" => flag(&mut args, "--network", &cx.network(e, &mut deps)?),
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
            // Podman 5's reading: `healthy` (any case), else a boolean;
            // the last key wins. `healthy` needs a check at create (a
            // HealthCmd or the image's HEALTHCHECK), which `run` enforces.
            "Notify" => {
                sdnotify = if v.eq_ignore_ascii_case("healthy") {
                    "--sdnotify=healthy"
                } else {
                    match boolean(file, e) {
                        Ok(true) => "--sdnotify=container",
                        Ok(false) => "--sdnotify=conmon",
                        Err(_) => {
                            return Err(file.error(
                                e,
                                format!("invalid value {v:?}: use true, false or healthy"),
                            ));
                        }
                    }
                };
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
            _ => return Err(cx.unknown(e, "Container")),
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

    let mut run = Cmd::new(cx, "Container")?;
    // %t and %N are the unit's specifiers, not text.
    run.arg("run")
        .raw(&format!(
            "--name={}",
            escape_arg(&name).replace("%%N", "%N")
        ))
        .raw("--cidfile=%t/%N.cid")
        .args(["--replace", "--rm", "--cgroups=split", sdnotify, "-d"])
        .args(args.iter().map(String::as_str))
        .args(extra.iter().map(String::as_str))
        .arg(&image)
        .args(exec.iter().map(String::as_str));
    let mut stop = Cmd::new(cx, "Container")?;
    stop.args(["rm", "-v", "-f", "-i"])
        .raw("--cidfile=%t/%N.cid");
    let stop = stop.line();
    let stop_post = format!("-{stop}");
    cx.render(Parts {
        group: "Container",
        deps,
        service: vec![
            "Environment=PODMAN_SYSTEMD_UNIT=%n".into(),
            "KillMode=mixed".into(),
            format!("ExecStop={stop}"),
            format!("ExecStopPost={stop_post}"),
            "Delegate=yes".into(),
            "Type=notify".into(),
            "NotifyAccess=all".into(),
            "SyslogIdentifier=%N".into(),
        ],
        // A cidfile left by a run that ended without its ExecStopPost (the
        // machine lost power) would make `run --cidfile` refuse to start.
        service_after: vec![
            "ExecStartPre=-/bin/rm -f %t/%N.cid".into(),
            format!("ExecStart={}", run.line()),
        ],
    })
}

fn flag(args: &mut Vec<String>, f: &str, v: &str) {
    args.push(f.to_owned());
    args.push(v.to_owned());
}
