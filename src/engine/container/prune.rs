//! `container prune`: every container that is down for good, removed as
//! `rm` removes (network teardown included).

use hutch_storage::Store;

use super::depend::Graph;
use super::lifecycle::monitor_alive;
use super::remove::{self, RemoveOptions, RemoveReport};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::prune_filter::PruneFilters;
use crate::engine::state::{ContainerState, State};

/// `container prune [--filter]`.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    pub filters: PruneFilters,
}

pub fn prune(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &PruneOptions,
) -> Result<Vec<RemoveReport>> {
    let graph = Graph::new(state.list_containers(true)?);
    // Podman's prune passes over pods' infra containers: they go with
    // their pod (`pod rm`, `pod prune`), never on their own.
    let infra: std::collections::HashSet<String> = state
        .list_pods()?
        .into_iter()
        .filter_map(|p| p.infra_id)
        .collect();
    let down: Vec<&str> = graph
        .containers()
        .filter(|c| !infra.contains(&c.id))
        .filter(|c| {
            matches!(
                c.state,
                ContainerState::Exited | ContainerState::Configured | ContainerState::Stopped
            ) && !monitor_alive(c)
                && (opts.filters.is_empty() || {
                    let image_labels = crate::engine::image::lookup(store, &c.image_id)
                        .ok()
                        .and_then(|i| crate::engine::image::config(store, &i).ok())
                        .map(|cfg| cfg["config"]["Labels"].clone())
                        .unwrap_or_default();
                    let labels = super::list::labels(c, &image_labels);
                    opts.filters.matches(
                        c.created,
                        labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    )
                })
        })
        .map(|c| c.id.as_str())
        .collect();
    // Dependents first, so that a pruned dependency is not refused for a
    // dependent pruned after it; a dependent that runs keeps its
    // dependency (refused, reported).
    let names: Vec<String> = graph
        .removal_order(&down)
        .into_iter()
        .filter(|c| down.contains(&c.id.as_str()))
        .map(|c| c.id)
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    // Not forced: one that started meanwhile is refused, not killed; one
    // that went meanwhile is skipped.
    remove::remove(
        ctx,
        store,
        state,
        &RemoveOptions {
            names,
            ignore: true,
            ..RemoveOptions::default()
        },
    )
}
