//! The container rows of hutch before the typed spec (schema version 1):
//! the create flags' text as JSON (`CreateRequest`). Kept only to convert
//! such rows once, in the schema migration to version 2; nothing else reads
//! this format.
//!
//! The flags are parsed again with today's parsers, which accepted them
//! when the container was made. What the old engine resolved from the
//! caller's process at create cannot be resolved again, so it is taken
//! from the container's generated `userdata/config.json` where that holds
//! it:
//! - bind sources (relative `-v ./x` ones were made absolute against the
//!   caller's directory): the source of config.json's mount at the same
//!   destination;
//! - `-e KEY` without a value and the bare keys of `--env-file`: the value
//!   config.json's process env has for the key, else the variable is
//!   dropped;
//! - `--env-file` files are read again when they still exist, else only
//!   the process env of config.json can tell, and they are dropped;
//! - a custom seccomp profile (`--security-opt seccomp=PATH`) is read again
//!   when the file still exists; without it, a later `update` regenerating
//!   config.json fails with "seccomp profile ... was not read".

use std::path::{Path, PathBuf};

use rusqlite::Transaction;
use serde::Deserialize;
use serde_json::Value;

use super::StateError;
use crate::runtime::spec::IdMap;
use crate::runtime::spec::resources::ResourceRequest;
use crate::spec::parse::{self, NetworkFlags};
use crate::spec::{ContainerSpec, MountSource, SPEC_VERSION, SeccompChoice};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NetworkRequest {
    mode: Option<String>,
    publish: Vec<String>,
    publish_all: bool,
    dns: hutch_rootless_net::DnsConfig,
    aliases: Vec<String>,
}

/// `engine::container::create::CreateRequest` as hutch 0.x stored it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateRequest {
    image: String,
    command: Vec<String>,
    name: Option<String>,
    entrypoint: Option<String>,
    env: Vec<String>,
    workdir: Option<String>,
    user: Option<String>,
    read_only: bool,
    remove: bool,
    runtime: Option<String>,
    env_file: Vec<PathBuf>,
    env_host: Vec<String>,
    read_only_tmpfs: Option<bool>,
    hostname: Option<String>,
    add_host: Vec<String>,
    volumes: Vec<String>,
    mounts: Vec<String>,
    tmpfs: Vec<String>,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    privileged: bool,
    security_opt: Vec<String>,
    devices: Vec<String>,
    ulimits: Vec<String>,
    init: bool,
    init_path: Option<PathBuf>,
    labels: Vec<String>,
    annotations: Vec<String>,
    userns: Option<String>,
    uidmap: Vec<String>,
    gidmap: Vec<String>,
    group_add: Vec<String>,
    pid: Option<String>,
    ipc: Option<String>,
    uts: Option<String>,
    log_driver: Option<String>,
    log_opts: Vec<String>,
    auto_userns: Option<(Vec<IdMap>, Vec<IdMap>)>,
    dependencies: Vec<String>,
    network: NetworkRequest,
    resources: ResourceRequest,
    restart: Option<String>,
    stop_signal: Option<String>,
    stop_timeout: Option<u32>,
    interactive: bool,
    tty: bool,
}

/// A value parsed again, or the default with a warning: the old engine
/// accepted it, so a failure means a parser grew stricter since.
fn or_default<T: Default>(what: &str, id: &str, r: anyhow::Result<T>) -> T {
    r.unwrap_or_else(|e| {
        tracing::warn!(container = %id, "migrating {what}: {e:#}; left at its default");
        T::default()
    })
}

/// The old request of container `id` as a spec; `oci` is its config.json.
fn convert(id: &str, old: CreateRequest, oci: Option<&Value>) -> ContainerSpec {
    let oci_env: Vec<String> = oci
        .and_then(|o| o.pointer("/process/env"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let lookup = |k: &str| {
        let prefix = format!("{k}=");
        oci_env
            .iter()
            .find_map(|e| e.strip_prefix(&prefix).map(String::from))
    };
    // Podman's order: the host's, the files', then -e.
    let mut env: Vec<String> = Vec::new();
    for e in old.env_host {
        parse::env::set(&mut env, e);
    }
    for f in &old.env_file {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for e in parse::env::env_file(&text, &lookup) {
            parse::env::set(&mut env, e);
        }
    }
    for e in parse::env::env(&old.env, &lookup) {
        parse::env::set(&mut env, e);
    }

    let oci_binds: Vec<(String, String)> = oci
        .and_then(|o| o.get("mounts"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|m| m["type"] == "bind")
                .filter_map(|m| {
                    Some((
                        m["destination"].as_str()?.to_owned(),
                        m["source"].as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let root = Path::new("/");
    let mut mounts = Vec::new();
    for v in &old.volumes {
        mounts.push(parse::mount::volume(v, root));
    }
    for m in &old.mounts {
        mounts.push(parse::mount::mount(m, root));
    }
    let mut mounts: Vec<_> = mounts
        .into_iter()
        .filter_map(|m| {
            m.map_err(|e| tracing::warn!(container = %id, "migrating a mount: {e:#}; dropped"))
                .ok()
        })
        .collect();
    for m in &mut mounts {
        if let MountSource::Bind(src) = &mut m.source {
            let dest = crate::runtime::spec::mounts::clean_destination(&m.destination)
                .unwrap_or_else(|_| m.destination.clone());
            if let Some((_, s)) = oci_binds.iter().find(|(d, _)| *d == dest) {
                *src = PathBuf::from(s);
            }
        }
    }

    let security = or_default(
        "--security-opt",
        id,
        parse::security::security(&old.security_opt).map_err(Into::into),
    );
    let seccomp_profile = match &security.seccomp {
        SeccompChoice::Path(p) => std::fs::read_to_string(p).ok(),
        _ => None,
    };
    let network = or_default(
        "the network flags",
        id,
        parse::network(&NetworkFlags {
            mode: old.network.mode.as_deref(),
            publish: &old.network.publish,
            publish_all: old.network.publish_all,
            dns: old.network.dns.clone(),
            aliases: &old.network.aliases,
        }),
    );
    ContainerSpec {
        version: SPEC_VERSION,
        host_users: Vec::new(),
        rootfs: None,
        sysctls: std::collections::BTreeMap::new(),
        requires: Vec::new(),
        image: old.image,
        name: old.name,
        command: old.command,
        entrypoint: old
            .entrypoint
            .map(|e| if e.is_empty() { Vec::new() } else { vec![e] }),
        env,
        workdir: old.workdir,
        user: old.user,
        hostname: old.hostname,
        read_only: old.read_only,
        read_only_tmpfs: old.read_only_tmpfs.unwrap_or(true),
        network,
        mounts,
        tmpfs: old
            .tmpfs
            .iter()
            .filter_map(|t| parse::mount::tmpfs(t).ok())
            .collect(),
        namespaces: crate::spec::Namespaces {
            pid: or_default(
                "--pid",
                id,
                parse::userns::namespace("pid", old.pid.as_deref()),
            ),
            ipc: or_default(
                "--ipc",
                id,
                parse::userns::namespace("ipc", old.ipc.as_deref()),
            ),
            uts: or_default(
                "--uts",
                id,
                parse::userns::namespace("uts", old.uts.as_deref()),
            ),
        },
        userns: or_default(
            "--userns",
            id,
            parse::userns::userns(old.userns.as_deref(), &old.uidmap, &old.gidmap),
        ),
        restart: or_default(
            "--restart",
            id,
            parse::restart::restart(old.restart.as_deref().unwrap_or("")),
        ),
        log: or_default(
            "the log options",
            id,
            parse::log::log(old.log_driver.as_deref(), &old.log_opts),
        ),
        resources: old.resources,
        cap_add: old.cap_add,
        cap_drop: old.cap_drop,
        privileged: old.privileged,
        ulimits: or_default(
            "--ulimit",
            id,
            parse::ulimit::ulimits(&old.ulimits).map_err(Into::into),
        ),
        security,
        seccomp_profile,
        devices: old
            .devices
            .iter()
            .filter_map(|d| parse::device::device(d).ok())
            .collect(),
        // Legacy records predate CDI.
        cdi_devices: Vec::new(),
        labels: or_default(
            "--label",
            id,
            parse::hosts::key_values("--label", &old.labels),
        ),
        annotations: or_default(
            "--annotation",
            id,
            parse::hosts::key_values("--annotation", &old.annotations),
        ),
        add_hosts: old
            .add_host
            .iter()
            .filter_map(|h| parse::hosts::add_host(h).ok())
            .collect(),
        group_add: old.group_add,
        init: old.init,
        init_path: old.init_path,
        stop_signal: old
            .stop_signal
            .as_deref()
            .and_then(|s| parse::restart::signal(s).ok()),
        stop_timeout: old.stop_timeout,
        timezone: None,
        shm_size: None,
        monitor_pidfile: None,
        run_timeout: None,
        tty: old.tty,
        interactive: old.interactive,
        remove: old.remove,
        runtime: old.runtime,
        health_check: None,
        health_on_failure: Default::default(),
        create_command: Vec::new(),
        sdnotify: Default::default(),
        notify_socket: None,
        dependencies: old.dependencies,
        auto_userns: old.auto_userns,
        pod: None,
        init_ctr: None,
        preserve_fds: 0,
        systemd: Default::default(),
        systemd_active: false,
        umask: None,
        unsetenv: Vec::new(),
        unsetenv_all: false,
        cgroupns: None,
        personality: None,
        seccomp_policy: None,
        chroot_dirs: Vec::new(),
        setup: Default::default(),
    }
}

/// Schema 1 → 2: every container row's request becomes a spec. `db` is the
/// database file, `<graphroot>/state/hutch.db`, whose graphroot holds the
/// containers' userdata (`<graphroot>/containers/<id>/userdata`).
pub(super) fn migrate(tx: &Transaction<'_>, db: &Path) -> Result<(), StateError> {
    let op = "converting container rows to the typed spec";
    let graphroot = db.parent().and_then(Path::parent);
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT id, config FROM containers")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(StateError::sql(op))?;
    for (id, config) in rows {
        let value: Value = serde_json::from_str(&config).unwrap_or(Value::Null);
        if value.get("version").is_some() {
            continue;
        }
        let old: CreateRequest = serde_json::from_value(value).unwrap_or_else(|e| {
            tracing::warn!(container = %id, "migrating an unreadable request: {e}");
            CreateRequest::default()
        });
        let oci: Option<Value> = graphroot
            .map(|g| g.join("containers").join(&id).join("userdata/config.json"))
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        let spec = convert(&id, old, oci.as_ref());
        let text = serde_json::to_string(&spec).map_err(|source| StateError::Json {
            what: "a migrated container spec",
            source,
        })?;
        tx.execute(
            "UPDATE containers SET config = ?1 WHERE id = ?2",
            rusqlite::params![text, id],
        )
        .map_err(StateError::sql(op))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Namespace, RestartPolicy, Userns};

    #[test]
    fn an_old_request_becomes_a_spec() {
        let old: CreateRequest = serde_json::from_str(
            r#"{"image":"busybox","command":["sleep","60"],"env":["A=1","KEEP","GONE"],
                "volumes":["./src:/src:ro","data:/data"],"restart":"on-failure:3",
                "userns":"keep-id","pid":"container:other","stop_signal":"INT",
                "ulimits":["nofile=10:20"],"network":{"mode":"pasta","publish":["8080:80"]},
                "entrypoint":""}"#,
        )
        .unwrap();
        let oci = serde_json::json!({
            "process": {"env": ["PATH=/bin", "KEEP=kept"]},
            "mounts": [{"type": "bind", "source": "/home/u/src", "destination": "/src"}]
        });
        let spec = convert("x", old, Some(&oci));
        assert_eq!(spec.version, SPEC_VERSION);
        assert_eq!(spec.env, vec!["A=1", "KEEP=kept"]);
        assert_eq!(
            spec.mounts[0].source,
            MountSource::Bind("/home/u/src".into())
        );
        assert_eq!(spec.mounts[1].source, MountSource::Named("data".into()));
        assert_eq!(spec.restart, RestartPolicy::OnFailure(3));
        assert!(matches!(spec.userns, Userns::KeepId { .. }));
        assert_eq!(spec.namespaces.pid, Namespace::Container("other".into()));
        assert_eq!(spec.stop_signal, Some(libc::SIGINT));
        assert_eq!(spec.ulimits.limits.len(), 1);
        assert_eq!(spec.network.ports[0].container_port, 80);
        assert_eq!(spec.entrypoint, Some(Vec::new()));
    }
}
