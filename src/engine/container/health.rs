//! Health checks: `healthcheck run` (also what a container's monitor runs
//! at each interval, as Podman's systemd timers run `podman healthcheck
//! run`), the health log of `inspect`'s `.State.Health`, and the check a
//! container gets at create (its own flags, else the image's HEALTHCHECK).
//!
//! The log is `userdata/healthcheck.log` (Podman's name and JSON shape),
//! replaced by rename under an `flock` of `healthcheck.lock`, so that a
//! check killed half way leaves the previous log whole and two checks do
//! not lose each other's entry. The status is also in the database's
//! `health` column, for `ps` (its STATUS and `--filter health=`) without
//! reading a file per container.
//!
//! What it does not do: schedule anything (the monitor does), or hold the
//! container's lifecycle lock while the check runs (a `stop` must not wait
//! out a check's timeout).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use hutch_storage::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exec::{self, ExecRequest, ExecStdio, Started};
use super::{Paths, events};
use crate::config::Context;
use crate::engine::state::{Container, ContainerState, State};
use crate::engine::{Result, ResultExt};
use crate::host::time;
use crate::spec::{HealthCheck, HealthOnFailure};

/// In the container's userdata, as Podman names it.
pub const LOG_FILE: &str = "healthcheck.log";
const LOCK_FILE: &str = "healthcheck.lock";
/// Podman's `MaxHealthCheckNumberLogs`: the entries kept.
pub const MAX_LOG_ENTRIES: usize = 5;
/// Podman's `MaxHealthCheckLogLength`: the bytes of output kept per entry.
pub const MAX_OUTPUT: usize = 500;
/// What is read of a check's output at most; the rest is drained unread.
const READ_LIMIT: usize = 64 * 1024;
/// The largest health log read back (5 entries of 500 bytes fit many
/// times over); a bigger file is treated as empty.
const MAX_LOG_FILE: u64 = 1024 * 1024;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// Podman's `HealthCheckResults`: `inspect`'s `.State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthLog {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthEntry>,
}

/// One check's outcome (Podman's `HealthCheckLog`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthEntry {
    pub start: String,
    pub end: String,
    /// 0 healthy, 1 failed, -1 timed out (Podman's codes).
    pub exit_code: i32,
    pub output: String,
}

impl HealthLog {
    /// `.State.Health` as Podman 4.3.1 prints it: `Log` is null when no
    /// check ran.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "Status": self.status,
            "FailingStreak": self.failing_streak,
            "Log": if self.log.is_empty() { Value::Null } else { serde_json::json!(self.log) },
        })
    }

    /// Podman's `updateHealthCheckLog`: a pass is healthy and ends the
    /// streak; a failure outside the start period lengthens it, and at
    /// `retries` failures in a row the container is unhealthy. The status
    /// of a first failure is left as it is (Podman writes "healthy" when it
    /// was empty; hutch's is "starting" from the start on).
    fn record(&mut self, entry: HealthEntry, in_start_period: bool, retries: u32) {
        if entry.exit_code == 0 {
            self.status = HEALTHY.to_owned();
            self.failing_streak = 0;
        } else {
            if self.status.is_empty() {
                self.status = STARTING.to_owned();
            }
            if !in_start_period {
                self.failing_streak = self.failing_streak.saturating_add(1);
                if self.failing_streak >= retries {
                    self.status = UNHEALTHY.to_owned();
                }
            }
        }
        self.log.push(entry);
        if self.log.len() > MAX_LOG_ENTRIES {
            let extra = self.log.len() - MAX_LOG_ENTRIES;
            self.log.drain(..extra);
        }
    }
}

/// The check a container is created with: its own (`--health-cmd`, or
/// `NONE` to drop the image's), else the image's `Healthcheck` with
/// Podman's defaults for the times it leaves at zero.
pub fn effective(requested: Option<&HealthCheck>, image_config: &Value) -> Option<HealthCheck> {
    if let Some(h) = requested {
        return Some(h.clone());
    }
    let h = image_config.get("Healthcheck")?;
    let test: Vec<String> = h
        .get("Test")?
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    if test.is_empty() {
        return None;
    }
    let ns = |k: &str| h.get(k).and_then(Value::as_u64).filter(|n| *n > 0);
    Some(HealthCheck {
        test,
        interval_ns: ns("Interval"),
        timeout_ns: ns("Timeout"),
        start_period_ns: ns("StartPeriod"),
        retries: h
            .get("Retries")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .and_then(|n| u32::try_from(n).ok()),
    })
}

/// The check the monitor should schedule: its interval, when the
/// container has a check and a timer (interval > 0).
pub fn timer_interval(c: &Container) -> Option<u64> {
    let h = c.spec.health_check.as_ref().filter(|h| h.enabled())?;
    Some(h.interval_ns()).filter(|n| *n > 0)
}

/// The stored log; empty when there is none (or it cannot be read).
pub fn read_log(userdata: &Path) -> HealthLog {
    let path = userdata.join(LOG_FILE);
    match std::fs::metadata(&path) {
        Ok(m) if m.len() <= MAX_LOG_FILE => {}
        _ => return HealthLog::default(),
    }
    std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Changes the log under its lock and writes it by rename.
fn update_log(userdata: &Path, change: impl FnOnce(&mut HealthLog)) -> Result<HealthLog> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let lock_path = userdata.join(LOCK_FILE);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(std::io::Error::from)
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let mut log = read_log(userdata);
    change(&mut log);
    let path = userdata.join(LOG_FILE);
    let bytes = serde_json::to_vec(&log)?;
    hutch_monitor::frame::write_atomic(&path, &bytes)
        .with_context(|| format!("writing the health log {}", path.display()))?;
    Ok(log)
}

/// At each start of a container with a check: "starting", streak 0 (the
/// log of earlier runs is kept, as Podman keeps it). Podman keeps the
/// streak too, so that a container restarted by `--health-on-failure
/// restart` is unhealthy again at its first failure; hutch gives it its
/// retries anew.
pub fn started(state: &State, userdata: &Path, c: &Container) -> Result<()> {
    if !c
        .spec
        .health_check
        .as_ref()
        .is_some_and(HealthCheck::enabled)
    {
        return Ok(());
    }
    update_log(userdata, |l| {
        l.status = STARTING.to_owned();
        l.failing_streak = 0;
    })?;
    state.set_health(&c.id, Some(STARTING))?;
    Ok(())
}

/// What one `healthcheck run` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// This check passed.
    pub passed: bool,
    /// The container's status after it.
    pub status: String,
    /// The check ran past its timeout (Podman then fails the command).
    pub timed_out: Option<String>,
}

/// `healthcheck run`: runs the container's check once, records it, and
/// acts on `--health-on-failure` when the container turned unhealthy.
pub fn run(ctx: &Context, store: &Store, state: &State, c: &Container) -> Result<RunReport> {
    if c.state != ContainerState::Running {
        crate::fail!(InvalidState, "container {} is not running", c.id);
    }
    let check = c.spec.health_check.as_ref().filter(|h| h.enabled());
    let (check, command) = match check.and_then(|h| Some((h, h.exec_command()?))) {
        Some(x) => x,
        None => crate::fail!(
            InvalidState,
            "container {} has no defined healthcheck",
            c.id
        ),
    };
    let paths = Paths::new(ctx, store.root(), &c.id);
    let timeout = Duration::from_nanos(check.timeout_ns());
    let start_ns = time::now_ns();
    let started = Instant::now();
    let (exit_code, output) = execute(ctx, store.root(), state, c, command, timeout)?;
    let end_ns = time::now_ns();
    let timed_out = (started.elapsed() > timeout).then(|| {
        format!(
            "healthcheck command exceeded timeout of {}",
            crate::spec::parse::health::duration_text(check.timeout_ns())
        )
    });
    let exit_code = if timed_out.is_some() { -1 } else { exit_code };
    let in_start_period = c
        .started_at
        .is_some_and(|s| start_ns < s.saturating_add(check.start_period_ns() as i64));
    let entry = HealthEntry {
        start: rfc3339_local(start_ns),
        end: rfc3339_local(end_ns),
        exit_code,
        output: truncate(&output, MAX_OUTPUT),
    };
    let retries = check.retries();
    let log = update_log(&paths.userdata, |l| {
        l.record(entry, in_start_period, retries)
    })?;
    state.set_health(&c.id, Some(&log.status))?;
    events::record(
        state,
        c,
        "health_status",
        &[("health_status", log.status.clone())],
    );
    let passed = exit_code == 0;
    if !passed && log.status == UNHEALTHY {
        on_failure(ctx, store, state, c, c.spec.health_on_failure)?;
    }
    Ok(RunReport {
        passed,
        status: log.status,
        timed_out,
    })
}

/// `--health-on-failure`: what an unhealthy container gets.
fn on_failure(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    action: HealthOnFailure,
) -> Result<()> {
    let what = || format!("health-on-failure {} of {}", action.name(), c.name);
    match action {
        HealthOnFailure::None => Ok(()),
        HealthOnFailure::Kill => super::kill::kill_one(ctx, store, state, c, libc::SIGKILL)
            .map_err(|e| e.context(what())),
        HealthOnFailure::Stop => {
            super::stop::stop_one(ctx, store, state, c, None).map_err(|e| e.context(what()))
        }
        HealthOnFailure::Restart => {
            super::stop::stop_one(ctx, store, state, c, None).map_err(|e| e.context(what()))?;
            super::start::start_detached(ctx, store, state, &c.id)
                .map_err(|e| e.context(what()))?;
            events::record(state, c, "restart", &[]);
            Ok(())
        }
    }
}

/// Runs `command` in the container as an exec session and returns its
/// exit code and output (stdout and stderr as they came, lines joined as
/// Podman joins them). Killed at `timeout`. A command the runtime could
/// not start is a failure (code 1) with the runtime's message, as in
/// Podman.
fn execute(
    ctx: &Context,
    graphroot: &Path,
    state: &State,
    c: &Container,
    command: Vec<String>,
    timeout: Duration,
) -> Result<(i32, String)> {
    let req = ExecRequest {
        command,
        ..ExecRequest::default()
    };
    let session = exec::create_session(state, c, &req)?;
    let started = exec::start_session(
        ctx,
        graphroot,
        state,
        c,
        &session,
        &req,
        None,
        ExecStdio::Pipes,
    );
    let result = match started {
        Ok(Started::Failed { message, .. }) => Ok((1, message)),
        Ok(Started::Running(running)) => {
            let pipes: Vec<&OwnedFd> = running.stdout.iter().chain(&running.stderr).collect();
            let output = collect(running.pid, &pipes, timeout);
            let code = exec::wait(state, &running);
            Ok((code, output))
        }
        Err(e) => Err(e),
    };
    // Podman keeps no session for a check either.
    let _ = state.remove_exec_session(&session);
    result
}

/// Reads the pipes until the process `pid` (this process's child) exited,
/// killing it at `timeout`. Pipes that a process left in the background
/// keeps open are not waited for past a short grace.
fn collect(pid: i32, pipes: &[&OwnedFd], timeout: Duration) -> String {
    let pidfd = rustix::process::Pid::from_raw(pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let deadline = Instant::now() + timeout;
    let mut out: Vec<u8> = Vec::new();
    let mut open: Vec<bool> = vec![true; pipes.len()];
    let mut exited_at: Option<Instant> = None;
    let mut killed = false;
    let grace = Duration::from_millis(100);
    loop {
        let now = Instant::now();
        if let Some(t) = exited_at
            && (now >= t + grace || !open.iter().any(|o| *o))
        {
            break;
        }
        // Killed and still not seen to exit (no pidfd, and a zombie looks
        // alive): the wait for it is exec::wait's, not this loop's.
        if killed && exited_at.is_none() && now >= deadline + Duration::from_secs(2) {
            break;
        }
        if exited_at.is_none() && now >= deadline && !killed {
            // SAFETY: kill(2) of our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        let mut fds: Vec<libc::pollfd> = pipes
            .iter()
            .zip(&open)
            .map(|(p, o)| libc::pollfd {
                fd: if *o { p.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        fds.push(libc::pollfd {
            fd: match (&pidfd, exited_at) {
                (Some(p), None) => p.as_fd().as_raw_fd(),
                _ => -1,
            },
            events: libc::POLLIN,
            revents: 0,
        });
        let wait_until = match exited_at {
            Some(t) => t + grace,
            None if killed => now + grace,
            None => deadline,
        };
        let ms = wait_until
            .saturating_duration_since(now)
            .as_millis()
            .clamp(1, 1000) as i32;
        // SAFETY: a valid array of pollfds (negative fds are ignored).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        let last = fds.len() - 1;
        if fds[last].revents != 0 || (pidfd.is_none() && exited_at.is_none() && !alive(pid)) {
            exited_at = Some(Instant::now());
        }
        for (i, p) in pipes.iter().enumerate() {
            if !open[i] || fds[i].revents == 0 {
                continue;
            }
            let mut buf = [0u8; 8192];
            match rustix::io::read(p, &mut buf) {
                Ok(0) | Err(_) => open[i] = false,
                Ok(n) => {
                    let room = READ_LIMIT.saturating_sub(out.len());
                    out.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&out);
    text.lines().collect::<Vec<_>>().join("\n")
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 checks existence only.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// At most `max` bytes of `s`, cut on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Go's `time.Time` JSON text in UTC with nanoseconds, as Podman writes
/// the log's times.
fn rfc3339_local(ns: i64) -> String {
    super::inspect::rfc3339_nano(Some(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: i32) -> HealthEntry {
        HealthEntry {
            exit_code: code,
            ..HealthEntry::default()
        }
    }

    #[test]
    fn failures_in_a_row_turn_a_container_unhealthy() {
        let mut l = HealthLog {
            status: STARTING.into(),
            ..HealthLog::default()
        };
        l.record(entry(1), false, 2);
        assert_eq!((l.status.as_str(), l.failing_streak), (STARTING, 1));
        l.record(entry(1), false, 2);
        assert_eq!((l.status.as_str(), l.failing_streak), (UNHEALTHY, 2));
        l.record(entry(0), false, 2);
        assert_eq!((l.status.as_str(), l.failing_streak), (HEALTHY, 0));
        // In the start period failures do not count.
        l.record(entry(1), true, 1);
        assert_eq!((l.status.as_str(), l.failing_streak), (HEALTHY, 0));
        for _ in 0..10 {
            l.record(entry(1), false, 3);
        }
        assert_eq!(l.log.len(), MAX_LOG_ENTRIES);
        assert_eq!(l.failing_streak, 10);
        assert_eq!(HealthLog::default().to_json()["Log"], Value::Null);
    }

    #[test]
    fn the_images_check_with_podmans_defaults() {
        let image = serde_json::json!({"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 0,
            "Retries": 0, "StartPeriod": 5}});
        let h = effective(None, &image).unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "true"]);
        assert_eq!(h.interval_ns(), HealthCheck::DEFAULT_INTERVAL_NS);
        assert_eq!(h.retries(), 3);
        assert_eq!(h.start_period_ns(), 5);
        let none = HealthCheck {
            test: vec!["NONE".into()],
            ..HealthCheck::default()
        };
        let own = effective(Some(&none), &image).unwrap();
        assert!(!own.enabled());
        assert_eq!(effective(None, &serde_json::json!({})), None);
        assert_eq!(
            h.exec_command().unwrap(),
            ["/bin/sh", "-c", "true"].map(String::from)
        );
    }

    #[test]
    fn output_is_cut_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
