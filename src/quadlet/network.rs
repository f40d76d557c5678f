//! `.network` files: a oneshot service that creates the network
//! (`NetworkName=`, else `systemd-NAME`) with `hutch network create
//! --ignore`; `NetworkDeleteOnStop=true` removes it when the service
//! stops. `.container`, `.pod` and `.build` files use it as
//! `Network=NAME.network`.

use super::render::{Cmd, Deps, Parts};
use super::{Cx, Service, UnitError, boolean, words};

pub fn translate(cx: &Cx) -> Result<Service, UnitError> {
    cx.require_group("Network")?;
    let file = cx.file;
    let mut cmd = Cmd::new(cx, "Network")?;
    cmd.args(["network", "create", "--ignore"]);
    let mut extra: Vec<String> = Vec::new();
    let mut subnet = None;
    let mut gateway = None;
    let mut delete_on_stop = false;
    let mut labels = Vec::new();
    for e in file.section("Network") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "Subnet" => {
                // hutch's networks have one subnet.
                if subnet.replace(e).is_some() {
                    return Err(file.error(e, "hutch networks have one subnet"));
                }
            }
            "Gateway" => {
                if gateway.replace(e).is_some() {
                    return Err(file.error(e, "cannot set more gateways than subnets"));
                }
            }
            "Internal" => {
                if boolean(file, e)? {
                    cmd.arg("--internal");
                }
            }
            "Label" => labels.extend(words(file, e)?),
            "Driver" => {
                if v != "bridge" {
                    return Err(file.error(e, format!("{v:?}: hutch networks are bridges")));
                }
            }
            "NetworkDeleteOnStop" => delete_on_stop = boolean(file, e)?,
            "NetworkName" | "ServiceName" | "GlobalArgs" => {}
            "PodmanArgs" | "HutchArgs" => extra.extend(words(file, e)?),
            "ContainersConfModule"
            | "DisableDNS"
            | "DNS"
            | "IPAMDriver"
            | "IPRange"
            | "IPv6"
            | "InterfaceName"
            | "Options" => return Err(cx.not_yet(e)),
            _ => return Err(cx.unknown(e, "Network")),
        }
    }
    match (subnet, gateway) {
        (Some(s), g) => {
            cmd.flag("--subnet", &s.value);
            if let Some(g) = g {
                cmd.flag("--gateway", &g.value);
            }
        }
        (None, Some(g)) => {
            return Err(file.error(g, "cannot set gateway or range without subnet"));
        }
        (None, None) => {}
    }
    for l in &labels {
        cmd.flag("--label", l);
    }
    cmd.args(extra.iter().map(String::as_str));
    let name = cx
        .units
        .get(cx.name)
        .and_then(|u| u.resource.clone())
        .unwrap_or_else(|| format!("systemd-{}", cx.stem));
    cmd.arg(&name);
    let mut service = Vec::new();
    if delete_on_stop {
        let mut rm = Cmd::new(cx, "Network")?;
        rm.args(["network", "rm", &name]);
        service.push(format!("ExecStopPost={}", rm.line()));
    }
    service.extend(super::volume::oneshot(cmd.line(), true));
    cx.render(Parts {
        group: "Network",
        deps: Deps::default(),
        service,
        service_after: Vec::new(),
    })
}
