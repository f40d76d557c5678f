//! `system prune` and `system reset`: every kind of object at once, in
//! Podman's order (containers, pods, volumes, images, networks), each
//! through its own engine operation so that removal means the same here
//! as in `rm`, `pod rm`, `volume rm`, `rmi` and `network rm`.

use std::collections::HashMap;

use crate::config::Context;
use crate::engine::container::list::{self, ListOptions};
use crate::engine::container::prune::{self as ctr_prune, PruneOptions};
use crate::engine::container::remove::{self, RemoveOptions, RemoveReport};
use crate::engine::image::prune::{self as img_prune, ImagePruneOptions};
use crate::engine::network::{self, NetworkRemoveOptions};
use crate::engine::pod::lifecycle::PodSelection;
use crate::engine::pod::remove::{self as pod_remove, PodRemoveOptions, PodRemoveReport};
use crate::engine::prune_filter::PruneFilters;
use crate::engine::volume;
use crate::engine::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct SystemPruneOptions {
    /// Tagged images no container uses too, not only dangling ones.
    pub all: bool,
    /// Unused volumes too.
    pub volumes: bool,
    /// For containers, images, networks and volumes (not pods, as Podman).
    pub filters: PruneFilters,
}

#[derive(Debug, Default)]
pub struct SystemPruneReport {
    pub containers: Vec<RemoveReport>,
    pub pods: Vec<PodRemoveReport>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
    pub networks: Vec<String>,
    /// Bytes: removed containers' writable layers, volumes and images.
    pub reclaimed: u64,
}

pub fn prune(ctx: &Context, opts: &SystemPruneOptions) -> Result<SystemPruneReport> {
    let store = crate::engine::image::open_store(ctx)?;
    let state = crate::engine::container::open_state(ctx)?;
    let mut report = SystemPruneReport::default();
    // Sizes are taken before anything goes: afterwards there is nothing
    // left to measure.
    let rw_sizes: HashMap<String, u64> = list::list(
        ctx,
        &store,
        &state,
        &ListOptions {
            all: true,
            size: true,
            ..ListOptions::default()
        },
    )?
    .into_iter()
    .map(|c| (c.id, c.size.map_or(0, |(rw, _)| rw)))
    .collect();
    report.containers = ctr_prune::prune(
        ctx,
        &store,
        &state,
        &PruneOptions {
            filters: opts.filters.clone(),
        },
    )?;
    report.reclaimed += report
        .containers
        .iter()
        .filter(|r| r.error.is_none())
        .filter_map(|r| rw_sizes.get(&r.id))
        .sum::<u64>();
    report.pods = pod_remove::prune(ctx, &store, &state)?;
    if opts.volumes {
        let mut sizes = HashMap::new();
        for v in state.list_volumes()? {
            sizes.insert(v.name.clone(), volume::size(&v));
        }
        let f = &opts.filters;
        report.volumes = volume::prune(&state, &|v| {
            !f.matches(
                v.created,
                v.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
        })?;
        report.reclaimed += report
            .volumes
            .iter()
            .filter_map(|n| sizes.get(n))
            .sum::<u64>();
    }
    let image_sizes: HashMap<String, u64> = store
        .images
        .list()?
        .into_iter()
        .map(|i| (i.id.hex().to_owned(), i.size))
        .collect();
    report.images = img_prune::prune(
        &store,
        &ImagePruneOptions {
            all: opts.all,
            filters: opts.filters.clone(),
        },
    )?;
    report.reclaimed += report
        .images
        .iter()
        .filter_map(|i| image_sizes.get(i))
        .sum::<u64>();
    report.networks = network::prune(ctx, &store, &state, &opts.filters)?;
    Ok(report)
}

/// `system reset`: every container (stopped first, `timeout` seconds
/// each, then killed), pod, volume, network other than the default one,
/// image and secret of the user. The first failure ends it, named.
pub fn reset(ctx: &Context, timeout: Option<u32>) -> Result<()> {
    let store = crate::engine::image::open_store(ctx)?;
    let state = crate::engine::container::open_state(ctx)?;
    let failed = |what: &str, e: Error| e.context(format!("system reset: removing {what}"));
    let pods = pod_remove::remove(
        ctx,
        &store,
        &state,
        &PodRemoveOptions {
            select: PodSelection {
                names: Vec::new(),
                all: true,
            },
            force: true,
            ignore: true,
            timeout,
        },
    )?;
    if let Some(e) = pods.into_iter().find_map(|r| r.error) {
        return Err(failed("pods", e));
    }
    let ctrs = remove::remove(
        ctx,
        &store,
        &state,
        &RemoveOptions {
            all: true,
            force: true,
            ignore: true,
            volumes: true,
            timeout,
            ..RemoveOptions::default()
        },
    )?;
    if let Some(e) = ctrs.into_iter().find_map(|r| r.error) {
        return Err(failed("containers", e));
    }
    for v in state.list_volumes()? {
        volume::remove_volume(ctx, &store, &state, &v.name, true, timeout)
            .map_err(|e| failed(&format!("volume {}", v.name), e))?;
    }
    let names: Vec<String> = network::store(ctx)?
        .list()
        .map_err(network::error)?
        .into_iter()
        .map(|n| n.name)
        .filter(|n| n != hutch_rootless_net::networks::DEFAULT_NETWORK)
        .collect();
    let nets = network::remove_networks(
        ctx,
        &store,
        &state,
        &NetworkRemoveOptions {
            names,
            force: true,
            timeout,
        },
    )?;
    if let Some(e) = nets.into_iter().find_map(|r| r.error) {
        return Err(failed("networks", e));
    }
    img_prune::prune(
        &store,
        &ImagePruneOptions {
            all: true,
            ..ImagePruneOptions::default()
        },
    )?;
    let secrets = crate::engine::secret::SecretStore::new(store.root());
    for s in secrets.list()? {
        secrets
            .remove(&s.id)
            .map_err(|e| failed(&format!("secret {}", s.name), e))?;
    }
    Ok(())
}
