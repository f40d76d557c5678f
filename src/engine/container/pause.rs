//! `pause`/`unpause`: freezing a container's processes through the OCI
//! runtime, which uses the container's cgroup freezer. A container without
//! a cgroup (rootless on a cgroup v1 host, where no freezer is delegated)
//! cannot be frozen: that is said in one line and nothing changes, as
//! Podman does.

use hutch_storage::Store;

use super::Paths;
use super::select::{Report, Selection};
use crate::config::Context;
use crate::engine::state::{Container, ContainerState, State, Transition};
use crate::engine::{Result, ResultExt};

/// Whether the container's spec gave it a cgroup.
fn has_cgroup(ctx: &Context, store: &Store, c: &Container) -> bool {
    let spec = Paths::new(ctx, store.root(), &c.id)
        .userdata
        .join("config.json");
    std::fs::read(&spec)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| {
            v["linux"]["cgroupsPath"]
                .as_str()
                .is_some_and(|p| !p.is_empty())
        })
}

/// `pause`/`unpause [-a] [-l] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct PauseOptions {
    /// With `all`: every running container (paused ones to unpause).
    pub select: Selection,
}

pub type PauseReport = Report;

/// Pauses (`freeze`) or unpauses each selected container; reports carry
/// the full id, which Podman prints.
pub fn pause_each(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &PauseOptions,
    freeze: bool,
) -> Result<Vec<PauseReport>> {
    state.recover()?;
    let want = if freeze {
        ContainerState::Running
    } else {
        ContainerState::Paused
    };
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        if opts.select.all && c.as_ref().is_ok_and(|c| c.state != want) {
            continue;
        }
        let id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        let result = c.and_then(|c| match freeze {
            true => pause(ctx, store, state, &c),
            false => unpause(ctx, store, state, &c),
        });
        reports.push(Report::of(input, id, result));
    }
    Ok(reports)
}

pub fn pause(ctx: &Context, store: &Store, state: &State, c: &Container) -> Result<()> {
    if c.state != ContainerState::Running {
        crate::fail!(
            InvalidState,
            "{:?} is not running, can't pause: container state improper",
            c.name
        );
    }
    if !has_cgroup(ctx, store, c) {
        crate::fail!(
            InvalidState,
            "can not pause containers on rootless containers with cgroup V1: container {} has no cgroup, so there is no freezer to stop it with",
            c.name
        );
    }
    run(ctx, c, "pause")?;
    state.update_state(&c.id, Transition::Paused)?;
    Ok(())
}

pub fn unpause(ctx: &Context, store: &Store, state: &State, c: &Container) -> Result<()> {
    if c.state != ContainerState::Paused {
        crate::fail!(
            InvalidState,
            "{:?} is not paused, can't unpause: container state improper",
            c.name
        );
    }
    if !has_cgroup(ctx, store, c) {
        crate::fail!(
            InvalidState,
            "unpause is not supported for cgroupv1 rootless containers"
        );
    }
    run(ctx, c, "resume")?;
    state.update_state(&c.id, Transition::Unpaused)?;
    Ok(())
}

fn run(ctx: &Context, c: &Container, action: &'static str) -> Result<()> {
    let (runtime, _) = super::oci_runtime(ctx, Some(&c.runtime), true)?;
    // start_args ends with the verb and the id: the same global flags
    // (state root, cgroup manager) with another verb.
    let mut args = runtime.start_args(&c.id);
    if let Some(verb) = args.iter_mut().rev().nth(1) {
        *verb = action.into();
    }
    runtime
        .run(action, &c.id, &args)
        .with_context(|| format!("{action} of container {}", c.name))?;
    Ok(())
}
