//! Lifecycle operations on an existing container: start (detached), stop,
//! kill, wait, and what they share: the restart policy, signal names, the
//! "stopped by user" mark that keeps a restart policy from undoing a stop,
//! and recovery after a dead monitor.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hutch_storage::Store;

use super::create::CreateRequest;
use super::{Paths, events, monitor};
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{Container, ContainerState, EventFilter, EventType, Monitor, State};
use crate::runtime::oci;

/// Podman's default `stop` timeout, in seconds.
pub const DEFAULT_STOP_TIMEOUT: u32 = 10;

/// The create request a container was made with (defaults for fields an
/// older hutch did not record).
pub fn request_of(c: &Container) -> CreateRequest {
    serde_json::from_str(&c.config).unwrap_or_default()
}

/// `--restart`: what the monitor does when the container exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    /// Restart after a non-zero exit, at most this many times (0: no limit).
    OnFailure(u32),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    pub fn parse(s: &str) -> anyhow::Result<RestartPolicy> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let policy = match name {
            "" | "no" => RestartPolicy::No,
            "on-failure" => RestartPolicy::OnFailure(match count {
                Some(c) => c
                    .parse()
                    .with_context(|| format!("invalid restart policy {s:?}: bad retry count"))?,
                None => 0,
            }),
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            _ => bail!(
                "invalid restart policy {s:?}: must be one of no, on-failure[:N], always, unless-stopped"
            ),
        };
        if count.is_some() && !matches!(policy, RestartPolicy::OnFailure(_)) {
            bail!("restart policy {name:?} takes no retry count: only on-failure does");
        }
        Ok(policy)
    }

    /// Podman's `HostConfig.RestartPolicy.Name`.
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "",
            RestartPolicy::OnFailure(_) => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    pub fn max_retries(self) -> u32 {
        match self {
            RestartPolicy::OnFailure(n) => n,
            _ => 0,
        }
    }

    /// Whether an exit with `code`, after `restarts` restarts so far,
    /// calls for another run. A stop by the user is checked separately.
    pub fn should_restart(self, code: i32, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || restarts < max),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

/// Checks the lifecycle fields of a create request, before anything is made.
pub fn validate(req: &CreateRequest) -> anyhow::Result<()> {
    if let Some(p) = &req.restart {
        let policy = RestartPolicy::parse(p)?;
        if req.remove && policy != RestartPolicy::No {
            bail!(
                "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\""
            );
        }
    }
    if let Some(s) = &req.stop_signal {
        parse_signal(s)?;
    }
    Ok(())
}

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

const SIGNALS: [(&str, i32); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// A signal by number (`9`), name (`KILL`, `SIGKILL`, `sigkill`) or
/// real-time name (`RTMIN+3`).
pub fn parse_signal(s: &str) -> anyhow::Result<i32> {
    let invalid = || anyhow::anyhow!("invalid signal: {s}");
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = SIGNALS.iter().find(|(n, _)| *n == name) {
        return Ok(*n);
    }
    match name {
        "IOT" => return Ok(libc::SIGABRT),
        "CLD" => return Ok(libc::SIGCHLD),
        "POLL" => return Ok(libc::SIGIO),
        _ => {}
    }
    let rt = |base: i32, off: &str| -> anyhow::Result<i32> {
        let off: i32 = if off.is_empty() {
            0
        } else {
            off.parse().map_err(|_| invalid())?
        };
        let n = base + off;
        if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        }
    };
    if let Some(off) = name.strip_prefix("RTMIN") {
        return rt(libc::SIGRTMIN(), off.trim_start_matches('+'));
    }
    if let Some(off) = name.strip_prefix("RTMAX") {
        return rt(libc::SIGRTMAX(), off);
    }
    Err(invalid())
}

/// `SIGTERM` for 15.
pub fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(name, _)| format!("SIG{name}"))
        .unwrap_or_else(|| n.to_string())
}

/// The container's stop signal: `--stop-signal`, else the image's
/// StopSignal, else SIGTERM.
pub fn stop_signal(store: &Store, c: &Container) -> i32 {
    if let Some(s) = request_of(c).stop_signal
        && let Ok(n) = parse_signal(&s)
    {
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
/// removal is completed. A running container whose monitor wrote the exit
/// file is recorded as stopped with that code at once, without waiting for
/// its cleanup (or whether its monitor still lives).
pub fn recover(ctx: &Context, store: &Store, state: &State) -> anyhow::Result<()> {
    record_exit_files(ctx, store, state)?;
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

/// Running containers whose exit file exists: the monitor saw the exit
/// (the spawner removes the file before every start, so it is this run's).
fn record_exit_files(ctx: &Context, store: &Store, state: &State) -> anyhow::Result<()> {
    for c in state.list_containers(false)? {
        if !c.state.is_active() {
            continue;
        }
        let paths = Paths::new(ctx, store.root(), &c.id);
        let Some(code) = super::cleanup::exit_code_of(&paths) else {
            continue;
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
        if let Ok(row) = state.update_state(&c.id, t) {
            events::record(
                state,
                &row,
                "died",
                &[("containerExitCode", code.to_string())],
            );
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
    let req = request_of(&c);
    let start = monitor::Start {
        remove: req.remove,
        ..monitor::Start::default()
    };
    match monitor::spawn_with(ctx, store, state, id, start)? {
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
        .or(request_of(c).stop_timeout)
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
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("on-failure:2").unwrap(),
            RestartPolicy::OnFailure(2)
        );
        assert_eq!(
            RestartPolicy::parse("on-failure").unwrap(),
            RestartPolicy::OnFailure(0)
        );
        assert_eq!(
            RestartPolicy::parse("always").unwrap(),
            RestartPolicy::Always
        );
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("always:3").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
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

    #[test]
    fn rm_conflicts_with_restart() {
        let req = CreateRequest {
            remove: true,
            restart: Some("always".into()),
            ..CreateRequest::default()
        };
        assert!(validate(&req).is_err());
        let req = CreateRequest {
            remove: true,
            restart: Some("no".into()),
            ..CreateRequest::default()
        };
        assert!(validate(&req).is_ok());
    }
}
