//! A container joining a pod: at create, the pod's shared namespaces
//! become the container's (`container:INFRA`), its hostname the pod's, and
//! what only the pod may set (ports, networks) is refused with Podman's
//! words; at each start, the infra container is started first and the
//! container's config.json is pointed at the infra's current namespaces
//! (its pid changes with every start of the pod).

use anyhow::Context as _;
use hutch_rootless_net::NetworkMode;
use hutch_storage::Store;

use super::Paths;
use crate::config::Context;
use crate::engine::state::{Container, PodRow, State};
use crate::engine::{Error, Result};
use crate::spec::pod::{ExitPolicy, PodConfig};
use crate::spec::{ContainerSpec, Namespace};

/// What a container needs of its pod.
#[derive(Debug, Clone)]
pub struct PodView {
    pub id: String,
    pub name: String,
    pub infra_id: Option<String>,
    pub config: PodConfig,
}

impl PodView {
    pub fn of(row: PodRow) -> Result<PodView> {
        let config: PodConfig = serde_json::from_str(&row.config).map_err(|e| {
            Error::internal(format!("the stored configuration of pod {}: {e}", row.id))
        })?;
        Ok(PodView {
            id: row.id,
            name: row.name,
            infra_id: row.infra_id,
            config,
        })
    }
}

fn lookup(state: &State, query: &str) -> Result<PodView> {
    PodView::of(state.pod(query)?)
}

/// The spec of a container created in `spec.pod`, with the pod's shared
/// namespaces and the pod's full id; the spec as it is without a pod.
pub fn expand(state: &State, spec: &ContainerSpec) -> Result<(ContainerSpec, Option<PodView>)> {
    let Some(query) = &spec.pod else {
        return Ok((spec.clone(), None));
    };
    let pod = lookup(state, query)?;
    let mut s = spec.clone();
    s.pod = Some(pod.id.clone());
    // The pod's cgroup holds its containers (the infra's too), unless one
    // asks for a parent of its own.
    if let Some(pc) = &pod.config.cgroup
        && pod.config.share_parent != Some(false)
        && s.resources.cgroup_parent.is_none()
    {
        s.resources.cgroup_parent = Some(pc.path.clone());
    }
    // `pod create -v`: every container of the pod mounts the pod's
    // volumes, except where it mounts something of its own (Podman).
    for m in &pod.config.mounts {
        if !s.mounts.iter().any(|o| o.destination == m.destination) {
            s.mounts.push(m.clone());
        }
    }
    // `pod create --device`/`--volumes-from`: every container of the pod
    // has them too (Podman), its own first.
    for d in &pod.config.devices {
        if !s.devices.contains(d) {
            s.devices.push(d.clone());
        }
    }
    for v in &pod.config.volumes_from {
        if !s.setup.volumes_from.contains(v) {
            s.setup.volumes_from.push(v.clone());
        }
    }
    // `pod create --shm-size`: the size of the /dev/shm of containers
    // that share the pod's IPC namespace.
    if pod.config.shares("ipc") && s.shm_size.is_none() {
        s.shm_size = pod.config.shm_size;
    }
    // Podman: init containers run as the pod starts, so a running pod
    // takes no new one.
    if s.init_ctr.is_some()
        && state
            .pod_containers(&pod.id)?
            .iter()
            .any(|c| c.state == crate::engine::state::ContainerState::Running)
    {
        crate::fail!(InvalidState, "cannot add init-ctr to a running pod");
    }
    let Some(infra) = pod.infra_id.clone() else {
        // No infra container (`--infra=false`, or the infra itself being
        // made): nothing to join.
        return Ok((s, Some(pod)));
    };
    let cfg = &pod.config;
    if cfg.shares("net") {
        if !s.network.ports.is_empty() || s.network.publish_all {
            crate::fail!(
                BadInput,
                "invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod"
            );
        }
        if s.network.mode.is_some() || !s.network.connected.is_empty() {
            crate::fail!(
                BadInput,
                "invalid config provided: networks must be defined when the pod is created: network cannot be configured when it is shared with a pod"
            );
        }
        s.network.mode = Some(NetworkMode::Container { id: infra.clone() });
        // The pod's DNS and hosts are the infra's /etc files' business.
    }
    let join = |ns: &mut Namespace, name: &str| {
        if cfg.shares(name) && *ns == Namespace::Private {
            *ns = Namespace::Container(infra.clone());
        }
    };
    join(&mut s.namespaces.ipc, "ipc");
    join(&mut s.namespaces.uts, "uts");
    join(&mut s.namespaces.pid, "pid");
    if cfg.shares("uts") && s.hostname.is_none() {
        s.hostname = Some(hostname(&pod));
    }
    if cfg.shares("net") {
        // Podman gives every container the pod's --add-host entries.
        for h in &cfg.add_hosts {
            if !s.add_hosts.contains(h) {
                s.add_hosts.push(h.clone());
            }
        }
    }
    Ok((s, Some(pod)))
}

/// The pod's hostname: `--hostname`, else its name (Podman's rule).
pub fn hostname(pod: &PodView) -> String {
    pod.config
        .hostname
        .clone()
        .unwrap_or_else(|| pod.name.clone())
}

/// Before container `c` of a pod starts: its infra container runs, and
/// the container's config.json names the infra's current namespaces.
/// Nothing for a container outside a pod, or for the infra itself.
pub fn before_start(ctx: &Context, store: &Store, state: &State, c: &Container) -> Result<()> {
    let Some(pod_id) = &c.pod_id else {
        return Ok(());
    };
    let Ok(pod) = lookup(state, pod_id) else {
        return Ok(());
    };
    let Some(infra_id) = pod.infra_id.as_deref() else {
        return Ok(());
    };
    if infra_id == c.id {
        return Ok(());
    }
    let infra = state.container(infra_id)?;
    let infra = if infra.state.is_active() && infra.pid.is_some() {
        infra
    } else {
        super::start::start_detached(ctx, store, state, infra_id)
            .map_err(|e| e.context(format!("starting the infra container of pod {}", pod.name)))?;
        state.container(infra_id)?
    };
    let Some(pid) = infra.pid else {
        crate::fail!(
            InvalidState,
            "the infra container of pod {} is not running: its namespaces cannot be joined",
            pod.name
        );
    };
    let n = &c.spec.namespaces;
    let mut kinds = Vec::new();
    for (ns, kind) in [(&n.ipc, "ipc"), (&n.uts, "uts"), (&n.pid, "pid")] {
        if *ns == Namespace::Container(infra_id.to_owned()) {
            kinds.push(kind);
        }
    }
    // The pod's network, where it is the infra's own namespace (not a
    // file hutch's network helper holds): by the infra's pid too.
    if c.spec.network.mode
        == Some(NetworkMode::Container {
            id: infra_id.to_owned(),
        })
    {
        kinds.push("network");
    }
    if kinds.is_empty() {
        return Ok(());
    }
    let paths = Paths::new(ctx, store.root(), &c.id);
    repoint(&paths.userdata.join("config.json"), pid, &kinds)
        .with_context(|| format!("joining the namespaces of pod {}", pod.name))
        .map_err(Error::from)
}

/// Whether `c` is its pod's infra container with hutch's own pause image
/// and command: catatonit only holds the namespaces and reaps, it uses no
/// network, so it may run before the network helper is ready (which the
/// monitor still waits for before it reports the start: the members join
/// a configured namespace).
pub fn is_default_infra(state: &State, c: &Container) -> bool {
    let Some(pod_id) = &c.pod_id else {
        return false;
    };
    lookup(state, pod_id).is_ok_and(|p| {
        p.infra_id.as_deref() == Some(c.id.as_str())
            && p.config.infra_image.is_none()
            && p.config.infra_command.is_none()
    })
}

/// After container `c` of a pod exited (its cleanup): with
/// `--exit-policy=stop`, the infra container is stopped once no other
/// container of the pod runs, so the pod reads as exited (Podman's rule).
/// Best effort: the cleanup goes on whatever happens here.
pub fn after_exit(ctx: &Context, store: &Store, state: &State, c: &Container) {
    let Some(pod_id) = &c.pod_id else {
        return;
    };
    let Ok(pod) = lookup(state, pod_id) else {
        return;
    };
    let Some(infra) = pod.infra_id.as_deref() else {
        return;
    };
    if pod.config.exit_policy != ExitPolicy::Stop || infra == c.id {
        return;
    }
    let Ok(ctrs) = state.pod_containers(&pod.id) else {
        return;
    };
    // This container's own monitor is the one running this cleanup.
    let busy = ctrs.iter().any(|o| {
        o.id != infra && o.id != c.id && (o.state.is_active() || super::lifecycle::monitor_alive(o))
    });
    if busy {
        return;
    }
    if let Ok(i) = state.container(infra)
        && let Err(e) = super::stop::stop_one(ctx, store, state, &i, None)
    {
        tracing::warn!(pod = %pod.id, "stopping the infra container (exit policy stop): {e:#}");
    }
}

/// Sets the path of each namespace in `kinds` in config.json to infra
/// process `pid`'s; written by rename, so a crash leaves the old file.
fn repoint(config: &std::path::Path, pid: i32, kinds: &[&str]) -> anyhow::Result<()> {
    let text = std::fs::read(config).with_context(|| format!("reading {}", config.display()))?;
    let mut spec: serde_json::Value = serde_json::from_slice(&text)?;
    let Some(list) = spec["linux"]["namespaces"].as_array_mut() else {
        return Ok(());
    };
    for ns in list {
        let kind = ns["type"].as_str().unwrap_or_default().to_owned();
        // Only a namespace joined by a process's pid moves with it; a
        // file (a network helper's namespace) stays.
        let by_pid = ns["path"].as_str().is_some_and(|p| p.starts_with("/proc/"));
        if kinds.contains(&kind.as_str()) && by_pid {
            let proc_name = if kind == "network" { "net" } else { &kind };
            ns["path"] = serde_json::Value::String(format!("/proc/{pid}/ns/{proc_name}"));
        }
    }
    let tmp = config.with_extension("json.pod");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&spec)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, config).with_context(|| format!("replacing {}", config.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repoint_replaces_only_the_named_namespaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("config.json");
        std::fs::write(
            &f,
            r#"{"linux":{"namespaces":[{"type":"ipc","path":"/proc/0/ns/ipc"},{"type":"mount"},{"type":"network","path":"/run/x"}]}}"#,
        )
        .expect("write");
        repoint(&f, 42, &["ipc"]).expect("repoint");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).expect("read")).expect("json");
        assert_eq!(v["linux"]["namespaces"][0]["path"], "/proc/42/ns/ipc");
        assert_eq!(v["linux"]["namespaces"][2]["path"], "/run/x");
        // A network namespace file stays; one joined by pid follows it,
        // under /proc's name for it.
        repoint(&f, 43, &["network"]).expect("repoint");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).expect("read")).expect("json");
        assert_eq!(v["linux"]["namespaces"][2]["path"], "/run/x");
        std::fs::write(
            &f,
            r#"{"linux":{"namespaces":[{"type":"network","path":"/proc/0/ns/net"}]}}"#,
        )
        .expect("write");
        repoint(&f, 44, &["network"]).expect("repoint");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).expect("read")).expect("json");
        assert_eq!(v["linux"]["namespaces"][0]["path"], "/proc/44/ns/net");
    }
}
