//! `init`: a created container made ready without running its process, as
//! Podman's `init` does: the runtime creates it and its monitor starts
//! (network, mounts, cgroup), then holds it until `start` says go
//! (monitor::go_initialized). Podman calls that state "initialized".

use hutch_storage::Store;

use super::lifecycle::monitor_alive;
use super::select::{Report, Selection};
use super::{Paths, monitor};
use crate::config::Context;
use crate::engine::state::{Container, ContainerState, State};
use crate::engine::{Error, Result};

/// `init [--all] [--latest] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub select: Selection,
}

/// Whether `c` is held created by its monitor, waiting for `start`.
pub fn is_initialized(ctx: &Context, store: &Store, c: &Container) -> bool {
    c.state == ContainerState::Created
        && monitor_alive(c)
        && Paths::new(ctx, store.root(), &c.id).hold_socket().exists()
}

pub fn init(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &InitOptions,
) -> Result<Vec<Report>> {
    state.recover()?;
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        // `--all` leaves the containers that are past created alone, as
        // Podman's does.
        if opts.select.all
            && c.as_ref().is_ok_and(|c| {
                !matches!(c.state, ContainerState::Configured | ContainerState::Exited)
            })
        {
            continue;
        }
        let id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        let result = c.and_then(|c| init_one(ctx, store, state, &c));
        reports.push(Report::of(input, id, result));
    }
    Ok(reports)
}

/// Kills the held init of an initialized container (`stop`, `rm -f`):
/// its monitor sees it go, records the exit and cleans up.
pub fn end_held(ctx: &Context, store: &Store, c: &Container) -> Result<()> {
    if !is_initialized(ctx, store, c) {
        return Ok(());
    }
    let paths = Paths::new(ctx, store.root(), &c.id);
    let pid = std::fs::read_to_string(paths.pid_file())
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|p| *p > 0);
    match pid {
        Some(pid) => super::lifecycle::signal(pid, libc::SIGKILL),
        None => Ok(()),
    }
}

fn init_one(ctx: &Context, store: &Store, state: &State, c: &Container) -> Result<()> {
    let _lock = state.lock_container(&c.id)?;
    let c = state.container(&c.id)?;
    // Podman re-initializes a stopped container; anything the runtime
    // holds already is refused with its message.
    let ready = matches!(c.state, ContainerState::Configured | ContainerState::Exited)
        && !monitor_alive(&c);
    if !ready {
        crate::fail!(
            InvalidState,
            "container {} has already been created in runtime: container state improper",
            c.id
        );
    }
    let start = monitor::Start {
        remove: c.spec.remove,
        init: true,
        ..monitor::Start::default()
    };
    match monitor::spawn_with(ctx, store, state, &c.id, start).map_err(Error::from_any)? {
        monitor::Spawned::Created { .. } => Ok(()),
        monitor::Spawned::Failed { code, message } => Err(Error::runtime(code, message)),
    }
}
