//! `.pod` files: a service that creates the pod (`PodName=`, else
//! `systemd-NAME`) in `ExecStartPre` with `hutch pod create --replace
//! --infra-conmon-pidfile=%t/%N.pid`, starts it, and is `Type=forking` on
//! the infra container's monitor (its `PIDFile=`), as Podman's is on
//! conmon. The containers whose `.container` says `Pod=NAME.pod` are bound
//! to it (`BindsTo=`) and started with it (`Wants=`, `Before=`).

use super::render::{Cmd, Deps, Parts};
use super::{Cx, Service, UnitError, words};

pub fn translate(cx: &Cx) -> Result<Service, UnitError> {
    cx.require_group("Pod")?;
    let file = cx.file;
    let info = cx.units.get(cx.name);
    let name = info
        .and_then(|u| u.resource.clone())
        .unwrap_or_else(|| format!("systemd-{}", cx.stem));
    let mut deps = Deps::default();
    for member in info.map(|u| u.pod_members.clone()).unwrap_or_default() {
        deps.add("Wants", member.clone());
        deps.add("Before", member);
    }
    let mut create = Cmd::new(cx, "Pod")?;
    create
        .args(["pod", "create"])
        .raw("--infra-conmon-pidfile=%t/%N.pid")
        .arg("--replace");
    let mut exit_policy = "stop".to_owned();
    let mut args: Vec<String> = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    let flag = |args: &mut Vec<String>, f: &str, v: &str| {
        args.push(f.to_owned());
        args.push(v.to_owned());
    };
    for e in file.section("Pod") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "ExitPolicy" => v.clone_into(&mut exit_policy),
            "UserNS" => flag(&mut args, "--userns", v),
            "PublishPort" => flag(&mut args, "--publish", v),
            "Label" => {
                for w in words(file, e)? {
                    flag(&mut args, "--label", &w);
                }
            }
            "Network" => flag(&mut args, "--network", &cx.network(e, &mut deps)?),
            "NetworkAlias" => flag(&mut args, "--network-alias", v),
            "DNS" => flag(&mut args, "--dns", v),
            "DNSOption" => flag(&mut args, "--dns-option", v),
            "DNSSearch" => flag(&mut args, "--dns-search", v),
            "AddHost" => flag(&mut args, "--add-host", v),
            "HostName" => flag(&mut args, "--hostname", v),
            "PodName" | "ServiceName" | "GlobalArgs" => {}
            "PodmanArgs" | "HutchArgs" => extra.extend(words(file, e)?),
            "ContainersConfModule"
            | "GIDMap"
            | "UIDMap"
            | "SubUIDMap"
            | "SubGIDMap"
            | "IP"
            | "IP6"
            | "ShmSize"
            | "Volume" => return Err(cx.not_yet(e)),
            _ => return Err(cx.unknown(e, "Pod")),
        }
    }
    create.flag("--exit-policy", &exit_policy);
    create.args(args.iter().map(String::as_str));
    create.flag("--infra-name", &format!("{name}-infra"));
    create.flag("--name", &name);
    create.args(extra.iter().map(String::as_str));
    let mut start = Cmd::new(cx, "Pod")?;
    start.args(["pod", "start", &name]);
    let mut stop = Cmd::new(cx, "Pod")?;
    stop.args(["pod", "stop", "--ignore", "--time=10", &name]);
    let mut rm = Cmd::new(cx, "Pod")?;
    rm.args(["pod", "rm", "--ignore", "--force", &name]);
    cx.render(Parts {
        group: "Pod",
        deps,
        service: vec![
            "SyslogIdentifier=%N".into(),
            format!("ExecStart={}", start.line()),
            format!("ExecStop={}", stop.line()),
            format!("ExecStopPost={}", rm.line()),
            format!("ExecStartPre={}", create.line()),
            "Environment=PODMAN_SYSTEMD_UNIT=%n".into(),
            "Type=forking".into(),
            "Restart=on-failure".into(),
            "PIDFile=%t/%N.pid".into(),
        ],
        service_after: Vec::new(),
    })
}
