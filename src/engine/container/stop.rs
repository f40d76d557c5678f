//! `stop`: the container's stop signal, then SIGKILL after the timeout.
//! Marked as stopped by the user first, so a restart policy leaves it
//! stopped.

use std::time::Duration;

use hutch_storage::Store;

use super::lifecycle::{
    DEFAULT_STOP_TIMEOUT, mark_stopped_by_user, settled, signal, stop_signal, stored, wait_until,
};
use super::select::{Report, Selection};
use super::{Paths, events};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::state::{Container, ContainerState, State};

/// `stop [-a] [-i] [-l] [-t N] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct StopOptions {
    pub select: Selection,
    /// Missing names are skipped (`--ignore`).
    pub ignore: bool,
    /// Seconds before SIGKILL; `None`: the container's `--stop-timeout`,
    /// else 10.
    pub timeout: Option<u32>,
}

pub type StopReport = Report;

/// Stops every selected container; with `all` only those that run.
pub fn stop(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &StopOptions,
) -> Result<Vec<StopReport>> {
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        let c = match c {
            Ok(c) => c,
            Err(_) if opts.ignore => continue,
            Err(e) => {
                reports.push(Report::of(input, String::new(), Err(e)));
                continue;
            }
        };
        if opts.select.all && !matches!(c.state, ContainerState::Running | ContainerState::Paused) {
            continue;
        }
        let result = stop_one(ctx, store, state, &c, opts.timeout);
        reports.push(Report::of(input, c.id, result));
    }
    Ok(reports)
}

/// Stops one container: its stop signal, then SIGKILL after `timeout`
/// seconds (`None`: its `--stop-timeout`, else 10; 0 kills at once).
pub fn stop_one(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    timeout: Option<u32>,
) -> Result<()> {
    let paths = Paths::new(ctx, store.root(), &c.id);
    if settled(Some(c)) {
        return Ok(());
    }
    mark_stopped_by_user(&paths)?;
    // An initialized container's process never ran: its held init goes at
    // once, and its monitor records the end.
    super::init::end_held(ctx, store, c)?;
    let timeout = timeout
        .or(stored(c).stop_timeout)
        .unwrap_or(DEFAULT_STOP_TIMEOUT);
    if let (ContainerState::Running | ContainerState::Paused, Some(pid)) = (c.state, c.pid) {
        let sig = if timeout == 0 {
            libc::SIGKILL
        } else {
            stop_signal(store, c)
        };
        signal(pid, sig)?;
        if sig != libc::SIGKILL
            && !wait_until(
                state,
                &c.id,
                Duration::from_secs(u64::from(timeout)),
                settled,
            )?
        {
            // Podman's warning, word for word (scripts grep for it).
            tracing::warn!(
                "StopSignal {} failed to stop container {} in {timeout} seconds, resorting to SIGKILL",
                crate::spec::parse::restart::signal_name(sig),
                c.name
            );
            // The pid is still the container's: its monitor, which reaps
            // it, has not recorded an exit.
            if let Ok(now) = state.container(&c.id)
                && now.state == ContainerState::Running
            {
                signal(pid, libc::SIGKILL)?;
            }
        }
    }
    if !wait_until(state, &c.id, Duration::from_secs(30), settled)? {
        crate::fail!(Internal, "timed out waiting for container {} to stop", c.id);
    }
    events::record(state, c, "stop", &[]);
    Ok(())
}
