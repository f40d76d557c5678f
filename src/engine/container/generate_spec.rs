//! `generate spec CONTAINER|POD`: the SpecGenerator JSON that would make
//! the container (or pod) again, with the keys Podman 4.3.1 prints (its
//! `ConfigToSpec`, which carries only part of a container's settings: no
//! working directory, hostname, capabilities, stop signal or timeout,
//! annotations, log driver, host entries or limits, however they were
//! set), in its order, empty ones left out as Go's `omitempty` does.
//! Built from what hutch records (the spec, the OCI config's environment
//! and the image's command); what Podman derives from state hutch does not
//! keep is documented in docs/compat.md.

use serde_json::{Map, Value, json};

use crate::config::Context;
use crate::engine::pod;
use crate::engine::state::{Container, State};
use crate::engine::{Error, ErrorKind, Result};
use crate::spec::{ContainerSpec, MountSource, Namespace, SdNotify, Userns};
use hutch_rootless_net::NetworkMode;
use hutch_storage::Store;

/// `--name` (default true): the name with `-clone` after it, as Podman's
/// `container clone` would name the copy; false keeps the name.
#[derive(Debug, Clone, Copy)]
pub struct GenerateSpecOptions {
    pub new_name: bool,
}

/// The spec of the container named `query`, else of the pod; Podman's
/// error when neither exists.
pub fn generate(
    ctx: &Context,
    store: &Store,
    state: &State,
    query: &str,
    opts: GenerateSpecOptions,
) -> Result<Value> {
    if let Ok(c) = state.container(query) {
        return Ok(container_spec(ctx, store, &c, opts));
    }
    if let Ok(p) = pod::lookup(state, query) {
        let infra = p
            .infra_id
            .as_deref()
            .and_then(|id| state.container(id).ok());
        let default = super::network::default_mode(ctx);
        return Ok(pod_spec(&p, infra.as_ref(), &default, opts));
    }
    Err(Error::new(
        ErrorKind::NotFound,
        format!("could not find a pod or container with the id {query}"),
    ))
}

fn name_of(name: &str, opts: GenerateSpecOptions) -> String {
    if opts.new_name {
        format!("{name}-clone")
    } else {
        name.to_owned()
    }
}

fn ns(mode: &str) -> Value {
    json!({"nsmode": mode})
}

fn ns_value(mode: &str, value: &str) -> Value {
    if value.is_empty() {
        ns(mode)
    } else {
        json!({"nsmode": mode, "value": value})
    }
}

/// Podman's `IDMappings` as `ConfigToSpec` copies them for a container
/// in the user's namespace (no explicit maps).
fn idmappings() -> Value {
    json!({
        "HostUIDMapping": true,
        "HostGIDMapping": true,
        "UIDMap": null,
        "GIDMap": null,
        "AutoUserNs": false,
        "AutoUserNsOpts": {
            "Size": 0,
            "InitialSize": 0,
            "PasswdFile": "",
            "GroupFile": "",
            "AdditionalUIDMappings": null,
            "AdditionalGIDMappings": null
        }
    })
}

/// Podman's default shm size (64000k), when none was asked for.
const DEFAULT_SHM_SIZE: u64 = 65_536_000;

/// Mount options as Podman records them: the given ones plus the
/// defaults it adds (`rw`, `rprivate`, and the kind's own).
fn options(given: &[String], extra: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = given.to_vec();
    if !out.iter().any(|o| o == "ro" || o == "rw") {
        out.insert(0, "rw".into());
    }
    let propagation = [
        "private", "rprivate", "shared", "rshared", "slave", "rslave",
    ];
    if !out.iter().any(|o| propagation.contains(&o.as_str())) {
        out.insert(1, "rprivate".into());
    }
    for e in extra {
        let present = out.iter().any(|o| {
            o == e
                || (*e == "rbind" && o == "bind")
                || (*e == "nosuid" && o == "suid")
                || (*e == "nodev" && o == "dev")
        });
        if !present {
            out.push((*e).to_owned());
        }
    }
    out
}

fn network(mode: &NetworkMode, put: &mut impl FnMut(&str, Value)) -> bool {
    match mode {
        NetworkMode::None => put("netns", ns("none")),
        NetworkMode::Host => put("netns", ns("host")),
        NetworkMode::Pasta { options } => put("netns", ns_value("pasta", &options.join(","))),
        NetworkMode::Slirp4netns { options } => {
            put("netns", ns_value("slirp4netns", &options.join(",")))
        }
        NetworkMode::Container { id } => put("netns", ns_value("container", id)),
        NetworkMode::Ns { path } => put("netns", ns_value("path", &path.to_string_lossy())),
        NetworkMode::Network { .. } => put("netns", ns("bridge")),
    }
    // Podman carries published ports for these modes only.
    matches!(
        mode,
        NetworkMode::Network { .. } | NetworkMode::Slirp4netns { .. } | NetworkMode::Pasta { .. }
    )
}

fn ports(s: &crate::spec::NetworkSpec) -> Value {
    json!(
        s.ports
            .iter()
            .map(|p| json!({
                "host_ip": p.host_ip,
                "container_port": p.container_port,
                "host_port": p.host_port,
                "range": p.range,
                "protocol": p.protocol.to_string(),
            }))
            .collect::<Vec<_>>()
    )
}

fn networks(s: &crate::spec::NetworkSpec) -> Value {
    let mut names: Vec<&String> = s.connected.iter().collect();
    if let Some(NetworkMode::Network { name }) = &s.mode {
        names.insert(0, name);
    }
    if names.is_empty() {
        return Value::Null;
    }
    Value::Object(names.into_iter().map(|n| (n.clone(), json!({}))).collect())
}

fn namespace(n: &Namespace, default: &str) -> Value {
    match n {
        Namespace::Private => ns(default),
        Namespace::Host => ns("host"),
        Namespace::Container(id) => ns_value("container", id),
        Namespace::Path(p) => ns_value("path", &p.to_string_lossy()),
    }
}

fn container_spec(ctx: &Context, store: &Store, c: &Container, opts: GenerateSpecOptions) -> Value {
    let s: &ContainerSpec = &c.spec;
    let view = super::inspect::inspect(ctx, store, c);
    let config = &view["Config"];
    let mut g = Map::new();
    let mut put = |k: &str, v: Value| {
        g.insert(k.to_owned(), v);
    };
    put("name", json!(name_of(&c.name, opts)));
    if let Some(p) = &c.pod_id {
        put("pod", json!(p));
    }
    if let Some(e) = s.entrypoint.as_ref().filter(|e| !e.is_empty()) {
        put("entrypoint", json!(e));
    }
    let command = if s.command.is_empty() {
        config["Cmd"].clone()
    } else {
        json!(s.command)
    };
    if command.as_array().is_some_and(|a| !a.is_empty()) {
        put("command", command);
    }
    // HOME is the runtime's (from the user's passwd entry) unless set:
    // Podman's spec holds none.
    let home_set = s.env.iter().any(|e| e.starts_with("HOME="));
    let env: Map<String, Value> = config["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
        .filter(|e| home_set || !e.starts_with("HOME="))
        .map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            (k.to_owned(), json!(v))
        })
        .collect();
    if !env.is_empty() {
        put("env", Value::Object(env));
    }
    if s.interactive {
        put("stdin", json!(true));
    }
    if !s.labels.is_empty() {
        put("labels", json!(s.labels));
    }
    if s.restart != crate::spec::RestartPolicy::No {
        put("restart_policy", json!(s.restart.name()));
    }
    let sdnotify = match s.sdnotify {
        SdNotify::Container => "container",
        SdNotify::Conmon => "conmon",
        SdNotify::Healthy => "healthy",
        SdNotify::Ignore => "ignore",
    };
    put("sdnotifyMode", json!(sdnotify));
    put("pidns", namespace(&s.namespaces.pid, "default"));
    put("utsns", namespace(&s.namespaces.uts, "private"));
    put("containerCreateCommand", json!(s.create_command));
    put("init_container_type", json!(""));
    put("image", json!(c.image_id));
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for m in &s.mounts {
        match &m.source {
            MountSource::Bind(p) => mounts.push(json!({
                "destination": m.destination, "type": "bind", "source": p,
                "options": options(&m.options, &["rbind"]),
            })),
            MountSource::Tmpfs => mounts.push(json!({
                "destination": m.destination, "type": "tmpfs", "source": "tmpfs",
                "options": options(&m.options, &["nosuid", "nodev", "tmpcopyup"]),
            })),
            MountSource::Named(n) => volumes.push(json!({
                "Name": n, "Dest": m.destination,
                "Options": options(&m.options, &["nosuid", "nodev", "rbind"]),
                "IsAnonymous": false,
            })),
            MountSource::Anonymous => {}
        }
    }
    let mut tmpfs: Vec<&str> = s.tmpfs.iter().map(|t| t.destination.as_str()).collect();
    for t in &s.tmpfs {
        mounts.push(json!({
            "destination": t.destination, "type": "tmpfs", "source": "tmpfs",
            "options": options(&t.options, &["nosuid", "nodev", "tmpcopyup"]),
        }));
    }
    // --read-only's own tmpfs mounts, as Podman lists them.
    if s.read_only && s.read_only_tmpfs {
        for d in ["/tmp", "/var/tmp", "/run"] {
            if !tmpfs.contains(&d) {
                tmpfs.push(d);
                mounts.push(json!({
                    "destination": d, "type": "tmpfs", "source": "tmpfs",
                    "options": options(&[], &["nosuid", "nodev", "tmpcopyup"]),
                }));
            }
        }
    }
    if !mounts.is_empty() {
        put("mounts", json!(mounts));
    }
    if !volumes.is_empty() {
        put("volumes", json!(volumes));
    }
    put("ipcns", namespace(&s.namespaces.ipc, "default"));
    put("shm_size", json!(s.shm_size.unwrap_or(DEFAULT_SHM_SIZE)));
    if s.privileged {
        put("privileged", json!(true));
    }
    if let Some(u) = s.user.as_ref().filter(|u| !u.is_empty()) {
        put("user", json!(u));
    }
    if !s.group_add.is_empty() {
        put("groups", json!(s.group_add));
    }
    // hutch labels nothing for SELinux, which Podman says this way.
    put("selinux_opts", json!(["disable"]));
    let userns = match &s.userns {
        Userns::KeepId { .. } => "keep-id",
        _ => "default",
    };
    put("userns", ns(userns));
    put("idmappings", idmappings());
    put("umask", json!(format!("{:04o}", s.umask.unwrap_or(0o022))));
    put("cgroupns", ns("default"));
    let mode = s
        .network
        .mode
        .clone()
        .unwrap_or_else(|| super::network::default_mode(ctx));
    if network(&mode, &mut put) && !s.network.ports.is_empty() {
        put("portmappings", ports(&s.network));
    }
    put("Networks", networks(&s.network));
    put("use_image_hosts", json!(false));
    put("resource_limits", json!({}));
    Value::Object(g)
}

fn pod_spec(
    p: &pod::Pod,
    infra: Option<&Container>,
    default: &NetworkMode,
    opts: GenerateSpecOptions,
) -> Value {
    let cfg = &p.config;
    let mut g = Map::new();
    let mut put = |k: &str, v: Value| {
        g.insert(k.to_owned(), v);
    };
    put("name", json!(name_of(&p.name, opts)));
    if !cfg.labels.is_empty() {
        put("labels", json!(cfg.labels));
    }
    if let Some(i) = infra {
        put("infra_image", json!(i.image_id));
    }
    put("pidns", ns("default"));
    put("userns", ns("default"));
    put("utsns", ns("private"));
    let mode = cfg.network.mode.clone().unwrap_or_else(|| default.clone());
    if network(&mode, &mut put) && !cfg.network.ports.is_empty() {
        put("portmappings", ports(&cfg.network));
    }
    put("Networks", networks(&cfg.network));
    put("shm_size", json!(DEFAULT_SHM_SIZE));
    put("idmappings", idmappings());
    Value::Object(g)
}

#[cfg(test)]
mod tests {
    use super::options;

    #[test]
    fn mount_options_get_podmans_defaults() {
        assert_eq!(options(&[], &["rbind"]), ["rw", "rprivate", "rbind"]);
        assert_eq!(
            options(&["ro".into()], &["nosuid", "nodev", "rbind"]),
            ["ro", "rprivate", "nosuid", "nodev", "rbind"]
        );
        assert_eq!(
            options(&["rw".into(), "bind".into()], &["rbind"]),
            ["rw", "rprivate", "bind"]
        );
    }
}
