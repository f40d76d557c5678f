//! `restart`: stop, then start detached, with a "restart" event.

use hutch_storage::Store;

use super::lifecycle::restart_mark;
use super::select::{Report, Selection};
use super::start::start_detached;
use super::stop::stop_one;
use super::{Paths, events};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::state::{ContainerState, State};

/// `restart [-a] [-l] [--running] [-t N] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct RestartOptions {
    pub select: Selection,
    /// Only the containers that run now.
    pub running: bool,
    /// Seconds the stop waits before SIGKILL (see [`stop_one`]).
    pub timeout: Option<u32>,
}

pub type RestartReport = Report;

/// Restarts each selected container; reports carry the full id (Podman
/// prints ids for `restart`).
pub fn restart(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &RestartOptions,
) -> Result<Vec<RestartReport>> {
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        if opts.running && c.as_ref().is_ok_and(|c| c.state != ContainerState::Running) {
            continue;
        }
        let id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        let result = c.and_then(|c| {
            // A `--rm` container's exit must not remove it between the
            // stop and the start.
            let mark = restart_mark(&Paths::new(ctx, store.root(), &c.id));
            if c.spec.remove {
                let _ = std::fs::write(&mark, b"");
            }
            let done = stop_one(ctx, store, state, &c, opts.timeout).and_then(|()| {
                start_detached(ctx, store, state, &c.id)
                    .map_err(|e| e.context(format!("unable to start container {}", c.id)))
            });
            let _ = std::fs::remove_file(&mark);
            done?;
            events::record(state, &c, "restart", &[]);
            Ok(())
        });
        reports.push(Report::of(input, id, result));
    }
    Ok(reports)
}
