//! System-wide figures the API's `info` and `system df` report: how many
//! containers in which state, how many images.

use crate::config::Context;
use crate::engine::Result;
use crate::engine::state::ContainerState;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub containers: usize,
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
    pub images: usize,
}

/// Counts containers by state and images. Reads the records only: no
/// container's liveness is checked here (the cleanup keeps the records
/// current).
pub fn counts(ctx: &Context) -> Result<Counts> {
    let state = crate::engine::container::open_state(ctx)?;
    let store = crate::engine::image::open_store(ctx)?;
    let mut c = Counts {
        images: store.all_images()?.len(),
        ..Counts::default()
    };
    for row in state.list_containers(true)? {
        c.containers += 1;
        match row.state {
            ContainerState::Running => c.running += 1,
            ContainerState::Paused => c.paused += 1,
            _ => c.stopped += 1,
        }
    }
    Ok(c)
}

pub mod check;
pub mod df;
pub mod integrity;
pub mod prune;

/// `system migrate --new-runtime NAME`: every container's OCI runtime
/// becomes NAME, which must be a runtime this host has (by name, as
/// Podman's configured runtimes). Returns the ids changed. A container
/// whose process runs keeps its runtime (the old one holds its state;
/// Podman stops such containers first, hutch's migrate runs outside the
/// namespace and leaves them be, with a warning).
pub fn migrate_runtime(ctx: &Context, name: &str) -> Result<Vec<String>> {
    let known = crate::runtime::oci::host_facts()
        .installed
        .iter()
        .any(|(n, _)| n == name);
    if !known {
        crate::fail!(
            BadInput,
            "change to runtime {name:?} requested but no such runtime is defined: invalid argument"
        );
    }
    let state = crate::engine::container::open_state(ctx)?;
    let mut changed = Vec::new();
    for c in state.list_containers(true)? {
        if c.runtime == name {
            continue;
        }
        if c.state.is_active() {
            tracing::warn!(
                "container {} is {}: it keeps runtime {} until it is stopped and migrated again",
                c.id,
                c.state,
                c.runtime
            );
            continue;
        }
        state.set_runtime(&c.id, name)?;
        changed.push(c.id);
    }
    Ok(changed)
}
