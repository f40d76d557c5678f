//! `pod clone`: a new pod with the settings of an existing one (some
//! changed), and a copy of each of its containers (libpod's `PodClone`):
//! the infra container is made anew from the pod's settings, the others
//! from their stored specs with the old pod's namespaces taken out. Names
//! follow Podman's `-clone`, `-clone1`, … rule. On error, the new pod goes.

use hutch_rootless_net::NetworkMode;
use hutch_storage::Store;

use super::create::{PodCreateOptions, PodCreateReport, create};
use super::{Pod, lookup, remove};
use crate::config::Context;
use crate::engine::container::create::{self as ccreate, CreateOptions};
use crate::engine::state::State;
use crate::engine::{Result, ResultExt};
use crate::spec::pod::PodConfig;
use crate::spec::{ContainerSpec, Namespace};

/// What `pod clone` changes of the original and what it does after.
#[derive(Debug, Clone, Default)]
pub struct PodCloneOptions {
    /// The pod to copy (id, name or id prefix).
    pub pod: String,
    /// `NAME` or `--name`; `None`: Podman's `-clone` name.
    pub name: Option<String>,
    /// Settings that replace the original's (`--hostname`, `--label`…),
    /// applied to a copy of its configuration.
    pub changes: PodChanges,
    /// `--destroy`: the original is removed (its containers stopped).
    pub destroy: bool,
    /// `--start`: the new pod is started.
    pub start: bool,
}

/// The pod create settings `pod clone` can change; `None` keeps the
/// original's.
#[derive(Debug, Clone, Default)]
pub struct PodChanges {
    pub hostname: Option<String>,
    /// Added to (and overriding) the original's labels.
    pub labels: std::collections::BTreeMap<String, String>,
    pub infra_command: Option<Vec<String>>,
    pub infra_name: Option<String>,
    pub infra_monitor_pidfile: Option<std::path::PathBuf>,
    pub userns: Option<crate::spec::Userns>,
    pub memory: Option<i64>,
    pub nano_cpus: Option<u64>,
    pub cgroup_parent: Option<String>,
}

impl PodChanges {
    fn apply(&self, cfg: &mut PodConfig) {
        let c = self.clone();
        cfg.hostname = c.hostname.or(cfg.hostname.take());
        cfg.labels.extend(c.labels);
        cfg.infra_command = c.infra_command.or(cfg.infra_command.take());
        cfg.infra_name = c.infra_name.or(cfg.infra_name.take());
        cfg.infra_monitor_pidfile = c.infra_monitor_pidfile.or(cfg.infra_monitor_pidfile.take());
        if let Some(u) = c.userns {
            cfg.userns = u;
        }
        let r = &mut cfg.resources;
        r.memory = c.memory.or(r.memory);
        r.nano_cpus = c.nano_cpus.or(r.nano_cpus).filter(|n| *n > 0);
        r.cgroup_parent = c.cgroup_parent.or(r.cgroup_parent.take());
        cfg.cgroup = None;
    }
}

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
/// so that joining the new pod gives it the new pod's.
fn unjoined(spec: &ContainerSpec, old: &Pod) -> ContainerSpec {
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
            let pod_host = old
                .config
                .hostname
                .clone()
                .unwrap_or_else(|| old.name.clone());
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

/// `pod clone`: the new pod's report.
pub fn clone(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &PodCloneOptions,
) -> Result<PodCreateReport> {
    let old = lookup(state, &opts.pod)?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => clone_name(&old.name, &|n| state.pod(n).is_ok()),
    };
    let mut config = old.config.clone();
    opts.changes.apply(&mut config);
    let old_ctrs = old.containers(state)?;
    let ctr_taken = |n: &str| state.check_name_free(n).is_err();
    if config.infra && opts.changes.infra_name.is_none() {
        // Podman names the copy of the infra container as any other.
        if let Some(infra) = old_ctrs.iter().find(|c| old.is_infra(c)) {
            config.infra_name = Some(clone_name(&infra.name, &ctr_taken));
        }
    }
    let report = create(
        ctx,
        store,
        state,
        &PodCreateOptions {
            name: Some(name),
            config,
            replace: false,
        },
    )?;
    let copied = old_ctrs
        .iter()
        .filter(|c| !old.is_infra(c))
        .try_for_each(|c| {
            let mut spec = unjoined(&c.spec, &old);
            spec.name = Some(clone_name(&c.name, &ctr_taken));
            spec.pod = Some(report.id.clone());
            ccreate::create(ctx, store, state, &spec, &CreateOptions::default())
                .map(|_| ())
                .with_context(|| format!("cloning container {} of pod {}", c.name, old.name))
        });
    let undo = |e: crate::engine::Error| {
        if let Ok(p) = lookup(state, &report.id) {
            let _ = remove::remove_one(ctx, store, state, &p, true, Some(0));
        }
        e
    };
    copied.map_err(undo)?;
    if opts.destroy {
        remove::remove_one(ctx, store, state, &old, true, None)
            .with_context(|| format!("destroying the original pod {}", old.name))
            .map_err(undo)?;
    }
    if opts.start {
        let new = lookup(state, &report.id)?;
        let errors = super::lifecycle::start_pod(ctx, store, state, &new)?;
        if let Some(e) = errors.into_iter().next() {
            return Err(e.context(format!("starting pod {}", report.name)));
        }
        super::record(state, &new.id, &new.name, "start");
    }
    Ok(report)
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
}
