//! Lifecycle operations on an existing container: start (detached), stop,
//! kill, wait, and what they share: the restart policy, signal names, the
//! "stopped by user" mark that keeps a restart policy from undoing a stop,
//! and recovery after a dead monitor.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hutch_storage::Store;

use super::{Paths, events, monitor};
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{Container, ContainerState, EventFilter, EventType, Monitor, State};
use crate::runtime::oci;

/// Podman's default `stop` timeout, in seconds.
pub const DEFAULT_STOP_TIMEOUT: u32 = 10;

/// `--restart` (typed in the container spec).
pub use crate::spec::RestartPolicy;
/// Signal names, parsed where every flag is (`spec::parse`).
pub use crate::spec::parse::restart::{signal as parse_signal, signal_name};

/// The file whose presence says the user stopped or killed the container:
/// the monitor then does not restart it. `start` removes it.
fn stop_mark(paths: &Paths) -> PathBuf {
    paths.userdata.join("stopped-by-user")
}

pub fn stopped_by_user(paths: &Paths) -> bool {
    stop_mark(paths).exists()
}

fn mark_stopped_by_user(paths: &Paths) -> anyhow::Result<()> {
    let mark = stop_mark(paths);
    std::fs::write(&mark, b"").with_context(|| format!("writing {}", mark.display()))
}

/// The container's stop signal: `--stop-signal`, else the image's
/// StopSignal, else SIGTERM.
pub fn stop_signal(store: &Store, c: &Container) -> i32 {
    if let Some(n) = c.spec.stop_signal {
        return n;
    }
    image::lookup(store, &c.image_id)
        .ok()
        .and_then(|img| image::config(store, &img).ok())
        .and_then(|cfg| cfg["config"]["StopSignal"].as_str().map(String::from))
        .and_then(|s| parse_signal(&s).ok())
        .unwrap_or(libc::SIGTERM)
}

/// Whether the container's monitor process lives.
pub fn monitor_alive(c: &Container) -> bool {
    match (c.monitor_pid, c.monitor_start_time) {
        (Some(pid), Some(start_time)) => Monitor { pid, start_time }.is_alive(),
        _ => false,
    }
}

/// The state as Podman names it: a container the runtime has not seen
/// yet is "created" too.
pub fn state_name(s: ContainerState) -> &'static str {
    match s {
        ContainerState::Configured => "created",
        other => other.as_str(),
    }
}

/// Runs the state database's recovery and finishes what the dead monitors
/// left: the runtime's record, the mount, the attach socket; a half-done
/// removal is completed.
pub fn recover(ctx: &Context, store: &Store, state: &State) -> anyhow::Result<()> {
    let report = state.recover()?;
    for c in &report.exited {
        let paths = Paths::new(ctx, store.root(), &c.id);
        if let Ok((runtime, _)) = oci::select(
            Some(&c.runtime),
            &oci::host_facts(),
            &ctx.run_dir.join("runtime"),
            true,
        ) {
            let _ = runtime.run("delete", &c.id, &runtime.delete_args(&c.id, true));
        }
        let _ = store.unmount_container(&c.id);
        let _ = std::fs::remove_file(&paths.attach);
        events::record(state, c, "died", &[("containerExitCode", "-1".to_owned())]);
    }
    for c in &report.unfinished_removals {
        let paths = Paths::new(ctx, store.root(), &c.id);
        if let Err(e) = super::remove::remove_stopped(store, state, &paths, &c.id) {
            tracing::warn!(container = %c.id, "finishing removal: {e:#}");
        }
    }
    Ok(())
}

/// Starts a created or exited container in the background; returns once
/// it runs. A running container is left as it is (Podman's `start` is
/// idempotent). `start --attach` builds on this: it is the detached half.
pub fn start_detached(ctx: &Context, store: &Store, state: &State, id: &str) -> anyhow::Result<()> {
    let _lock = state.lock_container(id)?;
    let mut c = state.container(id)?;
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
        bail!(
            "container {} is being removed: container state improper",
            c.id
        );
    }
    let paths = Paths::new(ctx, store.root(), id);
    let _ = std::fs::remove_file(stop_mark(&paths));
    match monitor::spawn(ctx, id, false, c.spec.remove)? {
        monitor::Spawned::Created { .. } => Ok(()),
        monitor::Spawned::Failed { message, .. } => {
            bail!("unable to start container {}: {message}", c.id)
        }
    }
}

/// Polls the row of container `id` (`None` once it is gone) until `done`
/// holds; false after `limit`.
pub fn wait_until(
    state: &State,
    id: &str,
    limit: Duration,
    mut done: impl FnMut(Option<&Container>) -> bool,
) -> anyhow::Result<bool> {
    let deadline = Instant::now() + limit;
    loop {
        let row = match state.container(id) {
            Ok(c) => Some(c),
            Err(crate::engine::state::StateError::NoSuchContainer { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if done(row.as_ref()) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a container is down for good: exited (or never started) and
/// no monitor left that could restart it, or removed.
fn settled(c: Option<&Container>) -> bool {
    c.is_none_or(|c| {
        matches!(c.state, ContainerState::Exited | ContainerState::Configured) && !monitor_alive(c)
    })
}

/// Stops the container: its stop signal, then SIGKILL after `timeout`
/// seconds (`None`: its `--stop-timeout`, else 10). Marked as stopped by
/// the user first, so a restart policy leaves it stopped.
pub fn stop(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    timeout: Option<u32>,
) -> anyhow::Result<()> {
    let paths = Paths::new(ctx, store.root(), &c.id);
    if settled(Some(c)) {
        return Ok(());
    }
    mark_stopped_by_user(&paths)?;
    let timeout = timeout
        .or(c.spec.stop_timeout)
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
            tracing::info!(container = %c.id, "timed out after {timeout}s, sending SIGKILL");
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
        bail!("timed out waiting for container {} to stop", c.id);
    }
    events::record(state, c, "stop", &[]);
    Ok(())
}

/// Sends `sig` to the container's init; only a running container.
pub fn kill(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    sig: i32,
) -> anyhow::Result<()> {
    let pid = match (c.state, c.pid) {
        (ContainerState::Running | ContainerState::Paused, Some(pid)) => pid,
        _ => bail!(
            "can only kill running containers. {} is in state {}: container state improper",
            c.id,
            state_name(c.state)
        ),
    };
    mark_stopped_by_user(&Paths::new(ctx, store.root(), &c.id))?;
    signal(pid, sig)?;
    events::record(state, c, "kill", &[("signal", signal_name(sig))]);
    Ok(())
}

fn signal(pid: i32, sig: i32) -> anyhow::Result<()> {
    // SAFETY: kill(2) on the container's init, recorded by its live monitor.
    if unsafe { libc::kill(pid, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        // Gone already: its exit is what the caller waits for anyway.
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e).with_context(|| format!("sending signal {sig} to process {pid}"));
        }
    }
    Ok(())
}

/// `wait --condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Created,
    Running,
    Paused,
    /// Exited (Podman's "stopped" and "exited" both wait for the exit).
    Exited,
    Removing,
    Removed,
}

impl Condition {
    pub fn parse(s: &str) -> anyhow::Result<Condition> {
        Ok(match s {
            "configured" | "created" | "initialized" => Condition::Created,
            "running" => Condition::Running,
            "paused" => Condition::Paused,
            "stopped" | "exited" => Condition::Exited,
            "removing" => Condition::Removing,
            "removed" => Condition::Removed,
            _ => bail!("invalid condition {s:?}: unknown container state"),
        })
    }
}

/// Waits until container `id` meets one of `conds`; returns its exit code
/// for an exit condition, else -1 (as Podman does).
pub fn wait(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
    conds: &[Condition],
    interval: Duration,
) -> anyhow::Result<i32> {
    loop {
        // A monitor killed while we wait would otherwise leave it running.
        recover(ctx, store, state)?;
        let row = match state.container(id) {
            Ok(c) => Some(c),
            Err(crate::engine::state::StateError::NoSuchContainer { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        for cond in conds {
            let met = match (cond, &row) {
                (Condition::Removed, None) => return Ok(died_code(state, id).unwrap_or(-1)),
                (Condition::Exited, None) => {
                    // Removed after its exit (`--rm`): the died event kept the code.
                    return died_code(state, id).with_context(|| {
                        format!("no container with ID {id} found: no such container")
                    });
                }
                (_, None) => bail!("no container with ID {id} found: no such container"),
                (Condition::Exited, Some(c)) => {
                    if c.exit_code.is_some() && settled(Some(c)) {
                        return Ok(c.exit_code.unwrap_or(-1));
                    }
                    false
                }
                (Condition::Created, Some(c)) => {
                    matches!(
                        c.state,
                        ContainerState::Configured | ContainerState::Created
                    )
                }
                (Condition::Running, Some(c)) => c.state == ContainerState::Running,
                (Condition::Paused, Some(c)) => c.state == ContainerState::Paused,
                (Condition::Removing, Some(c)) => c.state == ContainerState::Removing,
                (Condition::Removed, Some(_)) => false,
            };
            if met {
                return Ok(-1);
            }
        }
        std::thread::sleep(interval);
    }
}

/// The exit code of the container's last recorded death.
fn died_code(state: &State, id: &str) -> Option<i32> {
    let filter = EventFilter {
        types: vec![EventType::Container],
        actions: vec!["died".to_owned()],
        actors: vec![id.to_owned()],
        after_id: None,
    };
    state
        .events(None, None, &filter)
        .ok()?
        .last()?
        .attributes
        .get("containerExitCode")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        let p = RestartPolicy::OnFailure(2);
        assert!(p.should_restart(1, 0) && p.should_restart(1, 1));
        assert!(!p.should_restart(1, 2) && !p.should_restart(0, 0));
        assert!(RestartPolicy::Always.should_restart(0, 100));
        assert!(!RestartPolicy::No.should_restart(1, 0));
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), 10);
        assert_eq!(parse_signal("RTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("99").is_err());
        assert_eq!(signal_name(15), "SIGTERM");
    }
}
