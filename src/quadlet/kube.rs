//! `.kube` files: a `Type=notify` service that plays the YAML with
//! `hutch kube play --replace --service-container=true` (a service
//! container whose monitor tells systemd the pods run) and removes what
//! it made with `hutch kube down` in `ExecStopPost`, as Podman's does.

use super::render::{Cmd, Deps, Parts};
use super::{Cx, Service, UnitError, boolean, whole, words};

pub fn translate(cx: &Cx) -> Result<Service, UnitError> {
    cx.require_group("Kube")?;
    let file = cx.file;
    let mut yaml: Option<String> = None;
    let mut workdir: Option<String> = None;
    let mut extra: Vec<String> = Vec::new();
    for e in file.section("Kube") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "Yaml" => yaml = Some(cx.relative(v)),
            "SetWorkingDirectory" => match v.to_ascii_lowercase().as_str() {
                "yaml" | "unit" => workdir = Some(v.to_ascii_lowercase()),
                _ => {
                    return Err(file.error(e, format!("unsupported value {v:?}: use yaml or unit")));
                }
            },
            "KubeDownForce" => {
                if boolean(file, e)? {
                    return Err(cx.not_yet(e));
                }
            }
            "ServiceName" | "GlobalArgs" => {}
            "PodmanArgs" | "HutchArgs" => extra.extend(words(file, e)?),
            "AutoUpdate"
            | "ConfigMap"
            | "ContainersConfModule"
            | "ExitCodePropagation"
            | "LogDriver"
            | "LogOpt"
            | "Network"
            | "PublishPort"
            | "UserNS" => return Err(cx.not_yet(e)),
            _ => return Err(cx.unknown(e, "Kube")),
        }
    }
    let Some(yaml) = yaml else {
        return Err(whole(&file.path, "Yaml", "no Yaml key specified"));
    };
    let mut play = Cmd::new(cx, "Kube")?;
    play.args(["kube", "play", "--replace", "--service-container=true"])
        .args(extra.iter().map(String::as_str))
        .arg(&yaml);
    let mut down = Cmd::new(cx, "Kube")?;
    down.args(["kube", "down", &yaml]);
    let mut service = vec![
        "KillMode=mixed".into(),
        "Environment=PODMAN_SYSTEMD_UNIT=%n".into(),
        "Type=notify".into(),
        "NotifyAccess=all".into(),
        "SyslogIdentifier=%N".into(),
        format!("ExecStart={}", play.line()),
        format!("ExecStopPost={}", down.line()),
    ];
    // A WorkingDirectory= of the file's own wins (it is copied after).
    let dir_of = |p: &str| {
        std::path::Path::new(p)
            .parent()
            .map(|d| d.to_string_lossy().into_owned())
    };
    let wd = match workdir.as_deref() {
        Some("yaml") => dir_of(&yaml),
        Some(_) => dir_of(&file.path),
        None => None,
    };
    if let Some(d) = wd.filter(|_| !file.section("Service").any(|e| e.key == "WorkingDirectory")) {
        service.push(format!("WorkingDirectory={d}"));
    }
    cx.render(Parts {
        group: "Kube",
        deps: Deps::default(),
        service,
        service_after: Vec::new(),
    })
}
