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
