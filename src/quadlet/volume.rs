//! `.volume` files: a oneshot service that creates the named volume
//! (`VolumeName=`, else `systemd-NAME`) with `hutch volume create
//! --ignore`, which `.container` files use as `Volume=NAME.volume:/dest`.

use super::render::{Cmd, Deps, Parts};
use super::{Cx, Service, UnitError, words};

pub fn translate(cx: &Cx) -> Result<Service, UnitError> {
    cx.require_group("Volume")?;
    let file = cx.file;
    let mut cmd = Cmd::new(cx, "Volume")?;
    cmd.args(["volume", "create", "--ignore"]);
    let mut opt: Vec<String> = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    for e in file.section("Volume") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "Label" => {
                for w in words(file, e)? {
                    cmd.flag("--label", &w);
                }
            }
            "Device" => opt.push(format!("device={v}")),
            "Type" => opt.push(format!("type={v}")),
            "Options" => opt.push(format!("o={v}")),
            // Read by Units.
            "VolumeName" | "ServiceName" | "GlobalArgs" => {}
            "PodmanArgs" | "HutchArgs" => extra.extend(words(file, e)?),
            "ContainersConfModule" | "Copy" | "Driver" | "Group" | "Image" | "User" => {
                return Err(cx.not_yet(e));
            }
            _ => return Err(cx.unknown(e, "Volume")),
        }
    }
    for o in &opt {
        cmd.flag("--opt", o);
    }
    cmd.args(extra.iter().map(String::as_str));
    let name = cx
        .units
        .get(cx.name)
        .and_then(|u| u.resource.clone())
        .unwrap_or_else(|| format!("systemd-{}", cx.stem));
    cmd.arg(&name);
    cx.render(Parts {
        group: "Volume",
        deps: Deps::default(),
        service: oneshot(cmd.line(), true),
        service_after: Vec::new(),
    })
}

/// A oneshot service's lines: `RemainAfterExit=yes` for the ones that
/// make something others need while they are active.
pub(crate) fn oneshot(exec: String, remain: bool) -> Vec<String> {
    let mut v = vec![format!("ExecStart={exec}"), "Type=oneshot".into()];
    if remain {
        v.push("RemainAfterExit=yes".into());
    }
    v.push("SyslogIdentifier=%N".into());
    v
}
