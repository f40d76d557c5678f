//! `start`: created or exited containers run again under a new monitor;
//! detached (returns once they run), or attached to one of them (the
//! monitor waits for the client before it starts the container, so none of
//! the output is missed).

use std::os::unix::net::UnixStream;
use std::time::Duration;

use hutch_storage::Store;

use super::activation::PassedFds;
use super::attach::{AttachOptions, AttachSession};
use super::lifecycle::{monitor_alive, stop_mark, wait_until};
use super::select::{Report, Selection};
use super::{Paths, monitor};
use crate::config::Context;
use crate::engine::state::{ContainerState, State};
use crate::engine::{Error, Result, ResultExt};

/// `start [-a [-i]] [--all] [-l] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub select: Selection,
    /// Attach to the (single) container: `start -a`.
    pub attach: Option<AttachOptions>,
    /// Descriptors the caller hands to the containers it starts (each
    /// gets them), with socket activation.
    pub passed: Option<std::sync::Arc<PassedFds>>,
}

impl StartOptions {
    pub fn validate(&self) -> Result<()> {
        self.select.validate()?;
        if let Some(a) = &self.attach {
            if self.select.all || self.select.names.len() > 1 {
                crate::fail!(
                    BadInput,
                    "you cannot start and attach multiple containers at once"
                );
            }
            a.validate()?;
        }
        Ok(())
    }
}

pub type StartReport = Report;

/// What `start` did.
pub enum Started {
    /// One report per container.
    Detached(Vec<StartReport>),
    /// Attached: the session to drive; `None` when the container ran
    /// already (Podman starts a running container as a no-op).
    Attached(Option<AttachSession>),
}

pub fn start(ctx: &Context, store: &Store, state: &State, opts: &StartOptions) -> Result<Started> {
    opts.validate()?;
    if let Some(attach) = &opts.attach {
        return start_attached(ctx, store, state, opts, attach).map(Started::Attached);
    }
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        let id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        let result = c.and_then(|c| {
            start_dependencies(ctx, store, state, &c, 0)
                .and_then(|()| {
                    start_detached_with(ctx, store, state, &c.id, opts.passed.as_deref())
                })
                // Quoted, as Podman's `start` without `-a` says it.
                .map_err(|e| e.context(format!("unable to start container {:?}", c.id)))
        });
        reports.push(Report::of(input, id, result));
    }
    Ok(Started::Detached(reports))
}

fn start_attached(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &StartOptions,
    attach: &AttachOptions,
) -> Result<Option<AttachSession>> {
    state.recover()?;
    let Some((_, c)) = opts.select.resolve(state)?.into_iter().next() else {
        return Ok(None);
    };
    let c = c?;
    if c.state.is_active() {
        return Ok(None);
    }
    if !matches!(
        c.state,
        ContainerState::Configured | ContainerState::Created | ContainerState::Exited
    ) {
        crate::fail!(
            InvalidState,
            "container {} is {}: it cannot be started",
            c.name,
            c.state
        );
    }
    start_dependencies(ctx, store, state, &c, 0)?;
    let console = attach.console(&c)?;
    if super::init::is_initialized(ctx, store, &c) {
        // The client first: the monitor's relay takes it before any
        // output once the container runs.
        let paths = Paths::new(ctx, store.root(), &c.id);
        let socket = UnixStream::connect(&paths.attach)
            .with_context(|| format!("attaching to container {}", c.name))?;
        let _lock = state.lock_container(&c.id)?;
        return match monitor::go_initialized(ctx, store, state, &c.id)? {
            monitor::Spawned::Failed { code, message } => Err(Error::runtime(code, message)),
            monitor::Spawned::Created { .. } => {
                Ok(Some(AttachSession::new(&c.id, socket, console)))
            }
        };
    }
    // The spawner mounts the root (unmounted by the last monitor) while the
    // monitor starts up.
    let start = monitor::Start {
        wait_for_attach: true,
        remove: c.spec.remove,
        passed: opts.passed.as_deref(),
        ..monitor::Start::default()
    };
    // As `start_detached`: one spawner at a time (it may delete the
    // runtime's leftover record of the container).
    let lock = state.lock_container(&c.id)?;
    let spawned = monitor::spawn_with(ctx, store, state, &c.id, start)?;
    drop(lock);
    let client = match spawned {
        monitor::Spawned::Failed { code, message } => return Err(Error::runtime(code, message)),
        monitor::Spawned::Created { attach, .. } => attach,
    };
    let socket = match client {
        Some(s) => s,
        None => {
            let paths = Paths::new(ctx, store.root(), &c.id);
            UnixStream::connect(&paths.attach)
                .with_context(|| format!("attaching to container {}", c.name))?
        }
    };
    Ok(Some(AttachSession::new(&c.id, socket, console)))
}

/// How deep `start` follows dependencies of dependencies: create refuses
/// a dependency that does not exist yet, so a chain is acyclic, and this
/// only bounds a state edited by hand.
const MAX_DEPENDENCY_DEPTH: usize = 32;

/// Starts what `c` depends on (`--requires`, the containers whose
/// namespaces it joins), theirs first, as Podman's start does; running
/// ones are left as they are.
fn start_dependencies(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &crate::engine::state::Container,
    depth: usize,
) -> Result<()> {
    if c.spec.dependencies.is_empty() {
        return Ok(());
    }
    if depth >= MAX_DEPENDENCY_DEPTH {
        crate::fail!(
            InvalidState,
            "container {}: dependencies nested more than {MAX_DEPENDENCY_DEPTH} deep",
            c.id
        );
    }
    for id in &c.spec.dependencies {
        let dep = state.container(id)?;
        if matches!(dep.state, ContainerState::Running | ContainerState::Paused) {
            continue;
        }
        start_dependencies(ctx, store, state, &dep, depth + 1)?;
        start_detached(ctx, store, state, &dep.id)
            .map_err(|e| e.context(format!("starting dependency container {}", dep.id)))?;
    }
    Ok(())
}

/// `start_detached` after what the container depends on (`run -d`).
pub fn start_with_dependencies(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
    passed: Option<&PassedFds>,
) -> Result<()> {
    let c = state.container(id)?;
    start_dependencies(ctx, store, state, &c, 0)?;
    start_detached_with(ctx, store, state, id, passed)
}

/// Starts a created or exited container in the background; returns once
/// it runs. A running container is left as it is (Podman's `start` is
/// idempotent).
pub fn start_detached(ctx: &Context, store: &Store, state: &State, id: &str) -> Result<()> {
    start_detached_with(ctx, store, state, id, None)
}

/// [`start_detached`] with descriptors for the container.
pub fn start_detached_with(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
    passed: Option<&PassedFds>,
) -> Result<()> {
    let _lock = state.lock_container(id)?;
    let mut c = state.container(id)?;
    if super::init::is_initialized(ctx, store, &c) {
        return match monitor::go_initialized(ctx, store, state, id)? {
            monitor::Spawned::Created { .. } => Ok(()),
            monitor::Spawned::Failed { code, message } => Err(Error::runtime(code, message)),
        };
    }
    if matches!(c.state, ContainerState::Stopped) || monitor_alive(&c) {
        // Running, or a monitor still finishing (cleanup, a policy restart).
        if matches!(c.state, ContainerState::Running | ContainerState::Paused) {
            return Ok(());
        }
        wait_until(state, id, Duration::from_secs(10), |c| {
            c.is_none_or(|c| !monitor_alive(c) || c.state == ContainerState::Running)
        })?;
        c = state.container(id)?;
        if matches!(c.state, ContainerState::Running | ContainerState::Paused) {
            return Ok(());
        }
    }
    if c.state == ContainerState::Removing {
        crate::fail!(
            InvalidState,
            "container {} is being removed: container state improper",
            c.id
        );
    }
    let paths = Paths::new(ctx, store.root(), id);
    let _ = std::fs::remove_file(stop_mark(&paths));
    let start = monitor::Start {
        remove: c.spec.remove,
        passed,
        ..monitor::Start::default()
    };
    match monitor::spawn_with(ctx, store, state, id, start)? {
        monitor::Spawned::Created { .. } => Ok(()),
        monitor::Spawned::Failed { code, message } => Err(Error::runtime(code, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attached_start_takes_one_container() {
        let names =
            |n: &[&str]| Selection::names(&n.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let two = StartOptions {
            select: names(&["a", "b"]),
            passed: None,
            attach: Some(AttachOptions::default()),
        };
        assert!(two.validate().is_err());
        let one = StartOptions {
            select: names(&["a"]),
            passed: None,
            attach: Some(AttachOptions::default()),
        };
        assert!(one.validate().is_ok());
        let detached = StartOptions {
            select: names(&["a", "b"]),
            passed: None,
            attach: None,
        };
        assert!(detached.validate().is_ok());
    }
}
