//! `container clone`: a new container from an existing one's stored
//! create request (libpod's `ContainerClone`), with new limits, in
//! another pod or from another image if asked; then, as Podman, the
//! original removed (`--destroy`) and the copy started (`--run`).

use hutch_rootless_net::NetworkMode;
use hutch_storage::Store;

use super::create::{self, CreateOptions};
use super::pod_join::PodView;
use super::remove::{RemoveOptions, remove};
use crate::config::Context;
use crate::engine::state::State;
use crate::engine::{Result, ResultExt};
use crate::runtime::spec::resources::ResourceRequest;
use crate::spec::{ContainerSpec, Namespace};

/// What `container clone` copies and what it does after.
#[derive(Debug, Clone, Default)]
pub struct CloneOptions {
    /// The container to copy (name, id or id prefix).
    pub container: String,
    /// `NAME` or `--name`; `None`: Podman's `-clone` name.
    pub name: Option<String>,
    /// `IMAGE`: the copy runs this image instead.
    pub image: Option<String>,
    /// The limits given; the others keep the original's.
    pub resources: ResourceRequest,
    /// `--pod`: the copy joins this pod instead of the original's.
    pub pod: Option<String>,
    /// `--destroy`: the original is removed once the copy exists.
    pub destroy: bool,
    /// `--force`: with `destroy`, a running original is removed too.
    pub force: bool,
    /// `--run`: the copy is started.
    pub run: bool,
    /// How `image` is pulled when missing.
    pub create: CreateOptions,
}

/// The copy, and what to tell the user.
#[derive(Debug, Clone)]
pub struct CloneReport {
    pub id: String,
    pub name: String,
    /// The create's warnings (printed as `create` prints them).
    pub warnings: Vec<String>,
}

/// Podman's warnings when `--pod` takes settings of the copy away.
pub const NETWORKS_RESET: &str = "resetting network config, cannot specify a network other than the pod's when sharing the net namespace";
pub const NAMESPACES_RESET: &str = "At least one namespace was reset to the default configuration";

/// Podman's name for a copy of `name` (`ContainerClone`/`PodClone`):
/// `NAME-clone`, then `NAME-clone1`, `-clone2`…; a name that already
/// ends in `-cloneN` counts on from N. `taken` says whether a name is in
/// use.
pub fn clone_name(name: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let mut n = name.to_owned();
    if taken(&format!("{name}-clone")) {
        n.push_str("-clone");
    }
    let Some(at) = n.find("-clone") else {
        return format!("{name}-clone");
    };
    let end = at + "-clone".len();
    let mut count = match n[end..].parse::<u64>() {
        Ok(num) => {
            n.truncate(end);
            num
        }
        Err(_) => {
            let first = format!("{n}1");
            if !taken(&first) {
                return first;
            }
            0
        }
    };
    loop {
        count += 1;
        let candidate = format!("{n}{count}");
        if !taken(&candidate) {
            return candidate;
        }
    }
}

/// The spec a container was asked with, before it joined `old`: the
/// namespaces, hostname, hosts and cgroup its pod gave it are taken out,
/// so that joining another pod (or a copy of this one) gives it that
/// pod's.
pub fn unjoined(spec: &ContainerSpec, old: &PodView) -> ContainerSpec {
    let mut s = spec.clone();
    if let Some(infra) = &old.infra_id {
        if matches!(&s.network.mode, Some(NetworkMode::Container { id }) if id == infra) {
            s.network.mode = None;
        }
        for ns in [
            &mut s.namespaces.ipc,
            &mut s.namespaces.uts,
            &mut s.namespaces.pid,
        ] {
            if matches!(ns, Namespace::Container(id) if id == infra) {
                *ns = Namespace::Private;
            }
        }
        if old.config.shares("uts") {
            let pod_host = super::pod_join::hostname(old);
            if s.hostname.as_deref() == Some(pod_host.as_str()) {
                s.hostname = None;
            }
        }
        if old.config.shares("net") {
            s.add_hosts.retain(|h| !old.config.add_hosts.contains(h));
        }
    }
    if let Some(pc) = &old.config.cgroup
        && s.resources.cgroup_parent.as_deref() == Some(pc.path.as_str())
    {
        s.resources.cgroup_parent = None;
    }
    s
}

/// `--pod`: what the new pod shares is taken from the copy's own
/// settings, with Podman's warnings (its copy always carries a UTS mode
/// and a network mode of its own, so sharing either warns). They are
/// logged as they happen, as Podman logs them: before a create that may
/// still fail.
fn into_pod(spec: &mut ContainerSpec, pod: &PodView, notices: &mut Vec<String>) {
    spec.pod = Some(pod.id.clone());
    if pod.infra_id.is_none() {
        return;
    }
    let cfg = &pod.config;
    let mut reset = cfg.shares("uts");
    if cfg.shares("net") {
        if !spec.network.connected.is_empty() {
            notices.push(NETWORKS_RESET.to_owned());
            spec.network.connected.clear();
            spec.network.aliases.clear();
        }
        spec.network.mode = None;
        reset = true;
    }
    for (ns, name) in [
        (&mut spec.namespaces.ipc, "ipc"),
        (&mut spec.namespaces.pid, "pid"),
    ] {
        if cfg.shares(name) && *ns != Namespace::Private {
            *ns = Namespace::Private;
            reset = true;
        }
    }
    if reset {
        notices.push(NAMESPACES_RESET.to_owned());
    }
}

/// `container clone`: the copy's report. The copy exists before the
/// original goes (Podman's order: a refused `--destroy` leaves both).
pub fn clone(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &CloneOptions,
) -> Result<CloneReport> {
    if opts.force && !opts.destroy {
        crate::fail!(
            BadInput,
            "cannot set --force without --destroy: invalid argument"
        );
    }
    let source = state.container(&opts.container)?;
    let mut spec = source.spec.clone();
    let mut notices = Vec::new();
    if let Some(query) = &opts.pod {
        let pod = PodView::of(state.pod(query)?)?;
        if let Some(old) = &source.pod_id
            && let Ok(row) = state.pod(old)
        {
            spec = unjoined(&spec, &PodView::of(row)?);
        }
        into_pod(&mut spec, &pod, &mut notices);
        for n in &notices {
            tracing::warn!("{n}");
        }
    }
    spec.name = Some(match &opts.name {
        Some(n) => n.clone(),
        None => clone_name(&source.name, &|n| state.check_name_free(n).is_err()),
    });
    if let Some(img) = &opts.image {
        spec.image = img.clone();
    }
    spec.resources.merge(&opts.resources);
    let created = create::create(ctx, store, state, &spec, &opts.create)?;
    if opts.destroy {
        let reports = remove(
            ctx,
            store,
            state,
            &RemoveOptions {
                names: vec![source.id.clone()],
                force: opts.force,
                ..RemoveOptions::default()
            },
        )?;
        if let Some(e) = reports.into_iter().find_map(|r| r.error) {
            return Err(e);
        }
    }
    if opts.run {
        super::start::start_with_dependencies(ctx, store, state, &created.id, None)
            .with_context(|| format!("starting the clone {}", created.name))?;
    }
    Ok(CloneReport {
        id: created.id,
        name: created.name,
        warnings: created.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_names_count_as_podman_counts() {
        let taken = |set: &'static [&'static str]| move |n: &str| set.contains(&n);
        assert_eq!(clone_name("web", &taken(&[])), "web-clone");
        assert_eq!(clone_name("web", &taken(&["web-clone"])), "web-clone1");
        assert_eq!(
            clone_name("web", &taken(&["web-clone", "web-clone1"])),
            "web-clone2"
        );
        // Cloning a clone counts on from its number.
        assert_eq!(clone_name("web-clone", &taken(&[])), "web-clone1");
        assert_eq!(
            clone_name("web-clone3", &taken(&["web-clone4"])),
            "web-clone5"
        );
    }

    #[test]
    fn a_pod_sharing_net_and_uts_takes_the_copys_own() {
        let mut spec = ContainerSpec::default();
        spec.network.mode = Some(NetworkMode::None);
        spec.network.connected = vec!["n1".into()];
        spec.namespaces.pid = Namespace::Host;
        let pod = PodView {
            id: "p".into(),
            name: "pod".into(),
            infra_id: Some("i".into()),
            config: crate::spec::pod::PodConfig {
                infra: true,
                share: vec!["net".into(), "uts".into(), "ipc".into()],
                ..Default::default()
            },
        };
        let mut notices = Vec::new();
        into_pod(&mut spec, &pod, &mut notices);
        assert_eq!(notices, [NETWORKS_RESET, NAMESPACES_RESET]);
        assert_eq!(spec.network.mode, None);
        assert!(spec.network.connected.is_empty());
        // The pod does not share pid: the copy keeps its own.
        assert_eq!(spec.namespaces.pid, Namespace::Host);
        assert_eq!(spec.pod.as_deref(), Some("p"));
        // A pod without an infra container shares nothing.
        let mut plain = ContainerSpec::default();
        let mut none = Vec::new();
        into_pod(
            &mut plain,
            &PodView {
                infra_id: None,
                ..pod
            },
            &mut none,
        );
        assert!(none.is_empty());
    }
}
