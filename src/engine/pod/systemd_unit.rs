//! `generate systemd POD`: the pod's unit and one unit per container of
//! the pod (not the infra container), as Podman 4.3.1 writes them. The
//! pod's unit starts and stops the infra container (`Type=forking` on its
//! monitor's pid file), or with `--new` creates the pod afresh (`pod
//! create --infra-conmon-pidfile --pod-id-file --replace`) and removes it
//! at the stop; the containers' units are bound to it (`BindsTo=`) and
//! it wants them (`Wants=`, `Before=`). Containers are rendered by
//! `engine::container::systemd_unit`.

use hutch_storage::Store;

use super::{Pod, lookup};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::container::lifecycle::DEFAULT_STOP_TIMEOUT;
use crate::engine::container::systemd_unit::{
    CONTINUATION, SystemdOptions, Unit, UnitInput, escape_arg, format_options, input_of, render,
    unit_head, user_dependencies_and_service_head,
};
use crate::engine::state::State;

/// What the pod's unit is made of, beside its members' units.
#[derive(Debug, Clone, Default)]
pub struct PodUnitInput {
    pub id: String,
    pub name: String,
    /// The infra container: its id, name, stop timeout and monitor pid file.
    pub infra: UnitInput,
    /// The arguments `pod create` was given (after `pod create`), for
    /// `--new`; `None` for a pod made otherwise (`kube play`, `run --pod
    /// new:`).
    pub create_args: Option<Vec<String>>,
    /// The members' unit names (`container-NAME`), for `Wants=`/`Before=`.
    pub members: Vec<String>,
}

/// The pod's unit, then its containers' units.
pub fn generate(
    ctx: &Context,
    store: &Store,
    state: &State,
    name_or_id: &str,
    opts: &SystemdOptions,
) -> Result<Vec<Unit>> {
    opts.validate()?;
    let pod = lookup(state, name_or_id)?;
    let Some(infra_id) = pod.infra_id.clone() else {
        crate::fail!(
            InvalidState,
            "pod {} has no infra container: a pod unit starts and stops the infra container",
            pod.name
        );
    };
    let pod_unit = unit_name(&opts.pod_prefix, &opts.separator, &pod, opts.use_name);
    let pod_id_file = format!("%t/{pod_unit}.pod-id");
    let mut infra = None;
    let mut members = Vec::new();
    for c in pod.containers(state)? {
        let mut input = input_of(ctx, store, &c)?;
        if c.id == infra_id {
            infra = Some(input);
            continue;
        }
        input.pod_unit = Some(pod_unit.clone());
        input.pod_id_file = opts.new.then(|| pod_id_file.clone());
        members.push(input);
    }
    let Some(infra) = infra else {
        crate::fail!(
            Internal,
            "the infra container of pod {} is missing",
            pod.name
        );
    };
    let member_units: Vec<Unit> = members
        .iter()
        .map(|m| render(m, opts))
        .collect::<Result<_>>()?;
    let input = PodUnitInput {
        id: pod.id.clone(),
        name: pod.name.clone(),
        infra,
        create_args: create_args(&pod.config.create_command),
        members: member_units.iter().map(|u| u.name.clone()).collect(),
    };
    let mut units = vec![render_pod(&input, opts)?];
    units.extend(member_units);
    Ok(units)
}

fn unit_name(prefix: &str, sep: &str, pod: &Pod, use_name: bool) -> String {
    let ident = if use_name { &pod.name } else { &pod.id };
    format!("{prefix}{sep}{ident}")
}

/// The words after `pod create` in the command line that made the pod.
fn create_args(cmd: &[String]) -> Option<Vec<String>> {
    cmd.windows(2)
        .position(|w| w[0] == "pod" && w[1] == "create")
        .map(|i| cmd[i + 2..].to_vec())
}

/// The pod's unit.
pub fn render_pod(input: &PodUnitInput, opts: &SystemdOptions) -> Result<Unit> {
    let ident = if opts.use_name {
        input.name.as_str()
    } else {
        input.id.as_str()
    };
    let unit = format!("{}{}{ident}", opts.pod_prefix, opts.separator);
    let infra = &input.infra;
    let stop_timeout = opts.stop_timeout.unwrap_or(if infra.stop_timeout > 0 {
        infra.stop_timeout
    } else {
        DEFAULT_STOP_TIMEOUT
    });
    let hutch: Vec<String> = infra.hutch.iter().map(|a| escape_arg(a)).collect();
    if hutch.is_empty() {
        crate::fail!(Internal, "no hutch binary to run in the unit");
    }
    let with = |words: &[&str]| -> Vec<String> {
        let mut v = hutch.clone();
        v.extend(words.iter().map(|w| (*w).to_owned()));
        v
    };
    let mut s = unit_head(&unit, opts, infra, &infra.run_dir);
    let members = input.members.iter().map(|m| format!("{m}.service"));
    let members = members.collect::<Vec<_>>().join(" ");
    s.push_str(&format!("Wants={members}\nBefore={members}\n"));
    user_dependencies_and_service_head(&mut s, opts, stop_timeout);
    let t = stop_timeout.to_string();
    if opts.new {
        let Some(create_args) = &input.create_args else {
            crate::fail!(
                InvalidState,
                "cannot use --new on pod {:?}: no create command found: only works on pods created directly with hutch pod create",
                input.id
            );
        };
        let pid = format!("%t/{unit}.pid");
        let id_file = format!("%t/{unit}.pod-id");
        s.push_str(&format!(
            "ExecStartPre=/bin/rm{CONTINUATION}-f {pid} {id_file}\n"
        ));
        let mut create = with(&["pod", "create"]);
        create.extend([
            "--infra-conmon-pidfile".to_owned(),
            pid.clone(),
            "--pod-id-file".to_owned(),
            id_file.clone(),
        ]);
        let (opts_given, has) = flags_of(create_args);
        if !has("--exit-policy") {
            create.push("--exit-policy=stop".into());
        }
        create.extend(opts_given.iter().map(|a| escape_arg(a)));
        if has("--name") && !has("--replace") {
            create.push("--replace".into());
        }
        s.push_str(&format!("ExecStartPre={}\n", format_options(&create)));
        s.push_str(&format!(
            "ExecStart={}{CONTINUATION}--pod-id-file {id_file}\n",
            format_options(&with(&["pod", "start"]))
        ));
        s.push_str(&format!(
            "ExecStop={}{CONTINUATION}--ignore{CONTINUATION}--pod-id-file {id_file} {CONTINUATION}-t {t}\n",
            format_options(&with(&["pod", "stop"]))
        ));
        s.push_str(&format!(
            "ExecStopPost={}{CONTINUATION}--ignore{CONTINUATION}-f{CONTINUATION}--pod-id-file {id_file}\n",
            format_options(&with(&["pod", "rm"]))
        ));
        s.push_str(&format!("PIDFile={pid}\n"));
    } else {
        let infra_ident = if opts.use_name {
            &infra.name
        } else {
            &infra.id
        };
        let target = escape_arg(infra_ident);
        s.push_str(&format!(
            "ExecStart={}\n",
            format_options(&with(&["start", &target]))
        ));
        // Podman's doubled space before the continuation, as for containers.
        let stop = with(&["stop", "", "-t", &t, &target]);
        s.push_str(&format!("ExecStop={}\n", format_options(&stop)));
        s.push_str(&format!("ExecStopPost={}\n", format_options(&stop)));
        s.push_str(&format!("PIDFile={}\n", infra.pid_file));
    }
    s.push_str("Type=forking\n");
    s.push_str("\n[Install]\nWantedBy=default.target\n");
    Ok(Unit {
        name: unit,
        content: s,
    })
}

/// `pod create`'s arguments without those the unit decides
/// (`--infra-conmon-pidfile`, `--pod-id-file`), and a test for a flag.
fn flags_of(args: &[String]) -> (Vec<String>, impl Fn(&str) -> bool + '_) {
    let mut kept = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        match a.as_str() {
            "--infra-conmon-pidfile" | "--pod-id-file" => skip = true,
            _ if a.starts_with("--infra-conmon-pidfile=") || a.starts_with("--pod-id-file=") => {}
            _ => kept.push(a.clone()),
        }
    }
    let has = move |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    (kept, has)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PodUnitInput {
        PodUnitInput {
            id: "9a5002dbc77fa1e8e2c9c1ba3341f95a09eb5be66d35aa23791d2c23e9911474".into(),
            name: "mypod".into(),
            infra: UnitInput {
                id: "8a0b0210f7528274cfa4921103cda0940053c9988d708920f04a4f69d774cf11".into(),
                name: "8a0b0210f752-infra".into(),
                stop_timeout: 10,
                hutch: vec!["/usr/bin/hutch".into()],
                run_dir: "/tmp/hutch-run-1001".into(),
                pid_file: "/home/u/.local/share/hutch/containers/8a0b/userdata/monitor.pid".into(),
                version: "0.1.0".into(),
                now: 1_796_591_607,
                ..UnitInput::default()
            },
            create_args: Some(["--name", "mypod"].map(String::from).to_vec()),
            members: vec!["container-c1".into()],
        }
    }

    /// Podman 4.3.1's pod unit (`podman generate systemd --name mypod`),
    /// with hutch's names and paths.
    #[test]
    fn pod_unit_as_podman_writes_it() {
        let opts = SystemdOptions {
            use_name: true,
            ..SystemdOptions::default()
        };
        let unit = render_pod(&input(), &opts).unwrap();
        assert_eq!(unit.name, "pod-mypod");
        assert_eq!(
            unit.content,
            "# pod-mypod.service
# autogenerated by hutch 0.1.0
# Sun Dec  6 21:13:27 UTC 2026

[Unit]
Description=hutch pod-mypod.service
Documentation=man:podman-generate-systemd(1)
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/tmp/hutch-run-1001
Wants=container-c1.service
Before=container-c1.service

[Service]
Environment=PODMAN_SYSTEMD_UNIT=%n
Restart=on-failure
TimeoutStopSec=70
ExecStart=/usr/bin/hutch start 8a0b0210f752-infra
ExecStop=/usr/bin/hutch stop  \\
\t-t 10 8a0b0210f752-infra
ExecStopPost=/usr/bin/hutch stop  \\
\t-t 10 8a0b0210f752-infra
PIDFile=/home/u/.local/share/hutch/containers/8a0b/userdata/monitor.pid
Type=forking

[Install]
WantedBy=default.target
"
        );
    }

    /// `--new`: Podman 4.3.1's text.
    #[test]
    fn new_pod_unit_creates_the_pod() {
        let opts = SystemdOptions {
            use_name: true,
            new: true,
            no_header: true,
            ..SystemdOptions::default()
        };
        let unit = render_pod(&input(), &opts).unwrap();
        let service = unit.content.split("[Service]\n").nth(1).unwrap();
        assert_eq!(
            service,
            "Environment=PODMAN_SYSTEMD_UNIT=%n
Restart=on-failure
TimeoutStopSec=70
ExecStartPre=/bin/rm \\
\t-f %t/pod-mypod.pid %t/pod-mypod.pod-id
ExecStartPre=/usr/bin/hutch pod create \\
\t--infra-conmon-pidfile %t/pod-mypod.pid \\
\t--pod-id-file %t/pod-mypod.pod-id \\
\t--exit-policy=stop \\
\t--name mypod \\
\t--replace
ExecStart=/usr/bin/hutch pod start \\
\t--pod-id-file %t/pod-mypod.pod-id
ExecStop=/usr/bin/hutch pod stop \\
\t--ignore \\
\t--pod-id-file %t/pod-mypod.pod-id  \\
\t-t 10
ExecStopPost=/usr/bin/hutch pod rm \\
\t--ignore \\
\t-f \\
\t--pod-id-file %t/pod-mypod.pod-id
PIDFile=%t/pod-mypod.pid
Type=forking

[Install]
WantedBy=default.target
"
        );
        // A pod from kube play has no command line to replay.
        let kube = PodUnitInput {
            create_args: None,
            ..input()
        };
        assert!(render_pod(&kube, &opts).is_err());
    }

    #[test]
    fn create_args_follow_pod_create() {
        let cmd = [
            "hutch", "--root", "/r", "pod", "create", "-p", "80", "--name", "p",
        ]
        .map(String::from);
        assert_eq!(create_args(&cmd).unwrap(), ["-p", "80", "--name", "p"]);
        assert!(create_args(&["hutch".to_owned()]).is_none());
    }
}
