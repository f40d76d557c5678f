//! Lifecycle operations on an existing container: start (detached), stop,
//! kill, wait, and what they share: the restart policy, signal names, the
//! "stopped by user" mark that keeps a restart policy from undoing a stop,
//! and recovery after a dead monitor.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hutch_storage::Store;

use super::{Paths, events};
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{Container, ContainerState, Monitor, State};
use crate::engine::{Result, ResultExt};

// Moved to one file per operation; these names stay for the callers of
// the create path and the monitor.
pub use super::start::start_detached;
pub use super::stop::stop_one as stop;
pub use super::wait::Condition;

/// Podman's default `stop` timeout, in seconds.
pub const DEFAULT_STOP_TIMEOUT: u32 = 10;

/// `--restart` (typed in the container spec).
pub use crate::spec::RestartPolicy;
/// Signal names, parsed where every flag is (`spec::parse`).
pub use crate::spec::parse::restart::signal_name;

/// A signal by number or name (`9`, `KILL`, `SIGKILL`, `RTMIN+3`); a bad
/// one is bad input.
pub fn parse_signal(s: &str) -> Result<i32> {
    crate::spec::parse::restart::signal(s).kind(crate::engine::ErrorKind::BadInput)
}

/// The fields of a container's stored spec that the operations on an
/// existing container read (attach, start, list, stop).
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub command: Vec<String>,
    /// `-t`: the container has a terminal.
    pub tty: bool,
    /// `-i`: its stdin stays open for attach clients.
    pub interactive: bool,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--label` as `KEY=VALUE`.
    pub labels: Vec<String>,
    pub stop_timeout: Option<u32>,
}

pub fn stored(c: &Container) -> Stored {
    let s = &c.spec;
    Stored {
        command: s.command.clone(),
        tty: s.tty,
        interactive: s.interactive,
        auto_remove: s.remove,
        labels: s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        stop_timeout: s.stop_timeout,
    }
}

/// The container's log file; `None` with the `none` log driver.
pub fn log_path_of(paths: &Paths, c: &Container) -> Option<PathBuf> {
    super::create::log_path(paths, &c.spec.log)
}

/// The file whose presence says the user stopped or killed the container:
/// the monitor then does not restart it. `start` removes it.
pub(crate) fn stop_mark(paths: &Paths) -> PathBuf {
    paths.userdata.join("stopped-by-user")
}

/// The file whose presence says a `restart` stops the container to start
/// it again: the exit's cleanup then leaves a `--rm` container in place,
/// as Podman's restart does (the restart holds the container meanwhile).
pub(crate) fn restart_mark(paths: &Paths) -> PathBuf {
    paths.userdata.join("restarting")
}

pub fn stopped_by_user(paths: &Paths) -> bool {
    stop_mark(paths).exists()
}

pub(crate) fn mark_stopped_by_user(paths: &Paths) -> Result<()> {
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
/// yet is "created" too; one the runtime holds created (`init`) is
/// "initialized".
pub fn state_name(s: ContainerState) -> &'static str {
    match s {
        ContainerState::Configured => "created",
        ContainerState::Created => "initialized",
        other => other.as_str(),
    }
}

/// Makes the runtime forget container `c`, killing a process its record
/// still names: what a monitor killed during the runtime's `create` (or
/// with its spawner) leaves behind. Cheap when the runtime has no record
/// of it (no process is started).
pub(crate) fn forget_in_runtime(ctx: &Context, paths: &Paths, c: &Container) {
    forget_in_runtime_with(ctx, paths, c, false);
}

/// [`forget_in_runtime`]; `created`: the container's last `create`
/// finished (its start is on record, and it ran until now), so nothing a
/// killed `create` leaves needs looking for.
pub(crate) fn forget_in_runtime_with(ctx: &Context, paths: &Paths, c: &Container, created: bool) {
    // The cgroup manager as the container was created with, so that a
    // cgroup of its own goes too.
    let no_cgroup = crate::cgroups::container::Plan::read(&paths.userdata).is_none();
    match super::oci_runtime(ctx, Some(&c.runtime), no_cgroup) {
        Ok((runtime, _)) => {
            let pid_file = paths.pid_file();
            let forgotten = match created {
                true => runtime.forget_created(&c.id, &pid_file),
                false => runtime.forget(&c.id, &pid_file),
            };
            if let Err(e) = forgotten {
                tracing::warn!(container = %c.id, "runtime delete: {e}");
            }
        }
        Err(e) => tracing::warn!(container = %c.id, "runtime delete: {e}"),
    }
}

/// Runs the state database's recovery and finishes what the dead monitors
/// left: the runtime's record, the mount, the attach socket; a half-done
/// removal is completed. A running container whose monitor wrote the exit
/// file is recorded as stopped with that code at once, without waiting for
/// its cleanup (or whether its monitor still lives).
pub fn recover(ctx: &Context, store: &Store, state: &State) -> Result<()> {
    sweep_unfinished_creates(store, state)?;
    record_exit_files(ctx, store, state)?;
    let report = state.recover()?;
    for c in &report.exited {
        let paths = Paths::new(ctx, store.root(), &c.id);
        forget_in_runtime(ctx, &paths, c);
        super::userns_view::detach(ctx, &c.id);
        let _ = store.unmount_container(&c.id);
        // The network namespace's bind mount and helper (what the dead
        // monitor's cleanup would have ended).
        super::network::teardown(ctx, &c.id);
        remove_sockets(&paths);
        events::record(state, c, "died", &[("containerExitCode", "-1".to_owned())]);
        // The dead monitor's cleanup would have finished a `--rm` (with
        // its anonymous volumes, as Podman does): the next command does,
        // instead of leaving it listed as Exited (-1) for good.
        if c.spec.remove
            && let Err(e) = super::remove::remove_if_unlocked(store, state, &paths, &c.id, true)
        {
            tracing::warn!(container = %c.id, "finishing --rm: {e:#}");
        }
    }
    for c in &report.unfinished_removals {
        let paths = Paths::new(ctx, store.root(), &c.id);
        forget_in_runtime(ctx, &paths, c);
        if let Err(e) = super::remove::remove_stopped(store, state, &paths, &c.id) {
            tracing::warn!(container = %c.id, "finishing removal: {e:#}");
        }
    }
    Ok(())
}

/// The attach and terminal sockets a dead monitor left in the runtime dir.
pub(crate) fn remove_sockets(paths: &Paths) {
    let _ = std::fs::remove_file(&paths.attach);
    let _ = std::fs::remove_file(paths.console_socket());
}

/// Container directories without a row: a `create` killed before it
/// recorded the container (it made the layer, the read-only view of the
/// image and the userdata first). A create holds the container's lock from
/// before its directory exists until its row does, so a directory whose
/// lock is free and which still has no row is nobody's: its mounts and
/// files go, and with them the reference they made to the image's layers.
fn sweep_unfinished_creates(store: &Store, state: &State) -> Result<()> {
    let Ok(dir) = std::fs::read_dir(store.root().join("containers")) else {
        return Ok(());
    };
    let names: Vec<String> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let known: std::collections::HashSet<String> = state.container_ids()?.into_iter().collect();
    for id in names.into_iter().filter(|n| !known.contains(n)) {
        let Some(lock) = state.try_lock_container(&id)? else {
            continue; // being created right now
        };
        if state.container(&id).is_ok() {
            continue; // its create finished meanwhile
        }
        tracing::info!(container = %id, "removing what an interrupted create left");
        if let Err(e) = store.remove_container_layer(&id) {
            tracing::warn!(container = %id, "removing an unfinished container: {e}");
            continue;
        }
        let _ = lock.unlink();
    }
    Ok(())
}

/// Running containers whose exit file exists: the monitor saw the exit
/// (the spawner removes the file before every start, so it is this run's).
fn record_exit_files(ctx: &Context, store: &Store, state: &State) -> Result<()> {
    for c in state.list_containers(false)? {
        if c.state.is_active() {
            record_exit_file(&Paths::new(ctx, store.root(), &c.id), state, &c);
        }
    }
    Ok(())
}

/// Records the exit of running container `c` from its exit file, when its
/// monitor wrote one; whether the exit is on record now (by this call or
/// by the cleanup before it).
pub(crate) fn record_exit_file(paths: &Paths, state: &State, c: &Container) -> bool {
    let Some(code) = super::cleanup::exit_code_of(paths) else {
        return false;
    };
    let at = std::fs::metadata(paths.exit())
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or_else(crate::host::time::now_ns, |d| {
            i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
        });
    // The cleanup may record it first: then this transition is refused.
    let t = crate::engine::state::Transition::Stopped {
        code,
        at,
        oom: crate::cgroups::container::oom_killed(&paths.userdata),
    };
    match state.update_state(&c.id, t) {
        Ok(row) => {
            events::record(
                state,
                &row,
                "died",
                &[("containerExitCode", code.to_string())],
            );
            true
        }
        Err(_) => state
            .container(&c.id)
            .is_ok_and(|now| !now.state.is_active()),
    }
}

/// Polls the row of container `id` (`None` once it is gone) until `done`
/// holds; false after `limit`.
pub fn wait_until(
    state: &State,
    id: &str,
    limit: Duration,
    mut done: impl FnMut(Option<&Container>) -> bool,
) -> Result<bool> {
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
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        nap(row.as_ref(), (deadline - now).min(POLL_STEP));
    }
}

/// How often [`wait_until`] looks at the row at most.
const POLL_STEP: Duration = Duration::from_millis(20);

/// Sleeps for `limit`, or less: until the container's monitor exits, or
/// its init, when it has a live monitor. What a stop or a removal waits
/// for follows one of these (the monitor writes the exit file once its
/// init is gone, records the exit, then exits): woken by their pidfds,
/// the waiter looks again at once instead of up to a step later.
fn nap(row: Option<&Container>, limit: Duration) {
    use std::os::fd::AsRawFd;
    let open = |pid: Option<i32>| {
        rustix::process::Pid::from_raw(pid?)
            .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
    };
    let live = row.filter(|c| monitor_alive(c));
    let monitor = live.and_then(|c| open(c.monitor_pid));
    let init = live
        .filter(|c| c.state.is_active())
        .and_then(|c| open(c.pid));
    let mut fds: Vec<libc::pollfd> = [&monitor, &init]
        .into_iter()
        .flatten()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if fds.is_empty() {
        std::thread::sleep(limit);
        return;
    }
    let begun = Instant::now();
    let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX).max(1);
    // SAFETY: valid pollfds; an interrupted or failed poll only ends the
    // nap early, and the caller looks at the row again.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    // An init that exited but is not reaped yet (its monitor writes the
    // exit file next) stays readable: a short pause instead of a spin.
    let floor = Duration::from_millis(2).min(limit);
    if let Some(rest) = floor.checked_sub(begun.elapsed()) {
        std::thread::sleep(rest);
    }
}

/// kill(2) on a container's init; a process gone already is no error.
pub(crate) fn signal(pid: i32, sig: i32) -> Result<()> {
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

/// Whether a container is down for good: exited (or never started) and
/// no monitor left that could restart it, or removed.
pub(crate) fn settled(c: Option<&Container>) -> bool {
    c.is_none_or(|c| {
        matches!(c.state, ContainerState::Exited | ContainerState::Configured) && !monitor_alive(c)
    })
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
