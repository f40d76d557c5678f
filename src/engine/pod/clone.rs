//! `pod clone`: a new pod with the settings of an existing one (some
//! changed), and a copy of each of its containers (libpod's `PodClone`):
//! the infra container is made anew from the pod's settings, the others
//! from their stored specs with the old pod's namespaces taken out. Names
//! follow Podman's `-clone`, `-clone1`, … rule. On error, the new pod goes.

use hutch_storage::Store;

use super::create::{PodCreateOptions, PodCreateReport, create};
use super::{lookup, remove};
use crate::config::Context;
use crate::engine::container::clone::{clone_name, unjoined};
use crate::engine::container::create::{self as ccreate, CreateOptions};
use crate::engine::container::pod_join::PodView;
use crate::engine::state::State;
use crate::engine::{Result, ResultExt};
use crate::spec::pod::PodConfig;
use crate::spec::{DeviceRequest, Mount, Namespace, ResourceRequest, SecurityOpts};

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

/// The pod create settings `pod clone` can change; `None` (or empty)
/// keeps the original's. Lists add to the original's.
#[derive(Debug, Clone, Default)]
pub struct PodChanges {
    pub hostname: Option<String>,
    /// Added to (and overriding) the original's labels.
    pub labels: std::collections::BTreeMap<String, String>,
    pub infra_command: Option<Vec<String>>,
    pub infra_name: Option<String>,
    pub infra_monitor_pidfile: Option<std::path::PathBuf>,
    pub userns: Option<crate::spec::Userns>,
    /// The pod cgroup's limits given (`--cpus`, `--memory`, the block-I/O
    /// and cpuset flags…) and `--cgroup-parent`, merged as `update` does.
    pub resources: ResourceRequest,
    /// Added; a device given again takes its new form.
    pub devices: Vec<DeviceRequest>,
    /// Replaces the original's security options when given.
    pub security: Option<SecurityOpts>,
    pub pid: Option<Namespace>,
    pub uts: Option<Namespace>,
    /// Added; one at an original's destination replaces it.
    pub mounts: Vec<Mount>,
    pub shm_size: Option<u64>,
    /// Added to (and overriding) the original's.
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// Added to the original's.
    pub volumes_from: Vec<String>,
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
        r.merge(&c.resources);
        r.nano_cpus = r.nano_cpus.filter(|n| *n > 0);
        cfg.cgroup = None;
        for d in c.devices {
            cfg.devices.retain(|o| o.container_path != d.container_path);
            cfg.devices.push(d);
        }
        if let Some(s) = c.security {
            cfg.security = s;
        }
        if let Some(ns) = c.pid {
            cfg.namespaces.pid = ns;
        }
        if let Some(ns) = c.uts {
            cfg.namespaces.uts = ns;
        }
        for m in c.mounts {
            cfg.mounts.retain(|o| o.destination != m.destination);
            cfg.mounts.push(m);
        }
        cfg.shm_size = c.shm_size.or(cfg.shm_size);
        cfg.sysctls.extend(c.sysctls);
        for v in c.volumes_from {
            if !cfg.volumes_from.contains(&v) {
                cfg.volumes_from.push(v);
            }
        }
    }
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
    let old_view = PodView {
        id: old.id.clone(),
        name: old.name.clone(),
        infra_id: old.infra_id.clone(),
        config: old.config.clone(),
    };
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
            let mut spec = unjoined(&c.spec, &old_view);
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
