//! `auto-update`, as Podman 4.3 does it: running containers labelled
//! `io.containers.autoupdate=registry` (alias `image`) or `local` that run
//! in a systemd unit (the `PODMAN_SYSTEMD_UNIT` label, which `run` takes
//! from the environment a Quadlet or `generate systemd --new` unit sets)
//! are checked for a newer image; with an update, the image is pulled and
//! the unit restarted (systemd creates the container anew from the image
//! its name now points to). When the restart fails the old image gets the
//! name back and the unit is restarted again (`--rollback`).
//!
//! A restart that succeeds is not yet an update that works: when the
//! unit's container has a scheduled health check, auto-update waits
//! (bounded by the check's own schedule, see [`health_wait_bound`]) for it
//! to turn healthy, and rolls back as for a failed restart when it turns
//! unhealthy, stops, or is not healthy in time. Podman gets the same from
//! `--sdnotify=healthy` units only (systemd then fails the restart at
//! `TimeoutStartSec`); hutch also covers a check without it, and such a
//! unit's restart has waited for healthy already, so the wait ends at once.
//!
//! Restarting goes through `systemctl` (`--user` when rootless), not
//! D-Bus; a host without systemd reports that per container. A dry run
//! needs no systemd at all (Podman 4.3 connects to D-Bus even then).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Context;
use crate::engine::container::{self as container, health, lifecycle};
use crate::engine::image::{self, pull};
use crate::engine::state::{Container, ContainerState, State, StateError};
use crate::engine::{Error, ErrorKind, Result};
use crate::image::registry::Platform;

/// The label naming a container's policy.
pub const POLICY_LABEL: &str = "io.containers.autoupdate";
/// The label naming an auth file for the container's registry, which wins
/// over `--authfile`.
pub const AUTHFILE_LABEL: &str = "io.containers.autoupdate.authfile";
/// The label naming the systemd unit the container runs in.
pub const UNIT_LABEL: &str = "PODMAN_SYSTEMD_UNIT";

#[derive(Debug, Clone)]
pub struct AutoUpdateOptions {
    /// `--dry-run`: report `pending`, change nothing.
    pub dry_run: bool,
    /// `--rollback` (default true).
    pub rollback: bool,
    /// `--authfile`.
    pub authfile: Option<PathBuf>,
}

/// A container's auto-update policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Registry,
    Local,
}

impl Policy {
    /// Podman's `LookupPolicy`: `None` for "disabled" (or empty), an error
    /// naming the valid ones for anything unknown.
    pub fn parse(s: &str) -> Result<Option<Policy>> {
        match s {
            "" | "disabled" => Ok(None),
            "registry" | "image" => Ok(Some(Policy::Registry)),
            "local" => Ok(Some(Policy::Local)),
            _ => crate::fail!(
                BadInput,
                "invalid auto-update policy {s:?}: valid policies are [\"disabled\" \"image\" \"local\" \"registry\"]"
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Registry => "registry",
            Policy::Local => "local",
        }
    }
}

/// One row of the report (Podman's `AutoUpdateReport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub container_id: String,
    pub container_name: String,
    /// The image name the container was created from.
    pub image: String,
    pub policy: Policy,
    pub unit: String,
    /// `false`, `pending` (dry run), `true`, `failed` or `rolled back`.
    pub updated: String,
    /// Why it was rolled back (the restart's error, or the health check's
    /// verdict), for a warning: Podman reports a rollback as no error.
    pub rollback_reason: Option<String>,
}

struct Task {
    id: String,
    name: String,
    image_id: String,
    raw_image: String,
    policy: Policy,
    unit: String,
    authfile: Option<PathBuf>,
}

/// Checks (and, unless a dry run, updates) every container with a policy.
/// Errors do not stop the others, as in Podman (one misconfigured
/// container must not hold back the security updates of the rest): they
/// come back beside the reports.
pub fn auto_update(ctx: &Context, opts: &AutoUpdateOptions) -> (Vec<Report>, Vec<Error>) {
    let mut errors = Vec::new();
    let tasks = match assemble(ctx, opts, &mut errors) {
        Ok(t) => t,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let store = match image::open_store(ctx) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let state = match container::open_state(ctx) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), vec![e]),
    };
    // A name pulled once serves every unit that uses it.
    let mut pulled: HashMap<String, bool> = HashMap::new();
    let mut reports = Vec::new();
    for t in tasks {
        let mut report = Report {
            container_id: t.id.clone(),
            container_name: t.name.clone(),
            image: t.raw_image.clone(),
            policy: t.policy,
            unit: t.unit.clone(),
            updated: "failed".into(),
            rollback_reason: None,
        };
        if let Err(e) = update_one(ctx, &store, &state, opts, &t, &mut pulled, &mut report) {
            errors.push(e);
        }
        reports.push(report);
    }
    (reports, errors)
}

/// The running containers with a policy, one per unit (Podman supports no
/// more), in creation order.
fn assemble(ctx: &Context, opts: &AutoUpdateOptions, errors: &mut Vec<Error>) -> Result<Vec<Task>> {
    let store = image::open_store(ctx)?;
    let state = container::open_state(ctx)?;
    // A container whose monitor died is not running any more.
    lifecycle::recover(ctx, &store, &state)?;
    let mut all = state.list_containers(true)?;
    all.sort_by_key(|c| c.created);
    let mut tasks: Vec<Task> = Vec::new();
    for c in all {
        if c.state != ContainerState::Running {
            continue;
        }
        let labels = &c.spec.labels;
        let Some(value) = labels.get(POLICY_LABEL) else {
            continue;
        };
        let policy = match Policy::parse(value) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let Some(unit) = labels.get(UNIT_LABEL) else {
            errors.push(Error::new(
                ErrorKind::BadInput,
                format!(
                    "auto-updating container {:?}: no {UNIT_LABEL} label found",
                    c.id
                ),
            ));
            continue;
        };
        if let Some(other) = tasks.iter().find(|t| t.unit == *unit) {
            errors.push(Error::new(
                ErrorKind::BadInput,
                format!(
                    "only 1 task per unit supported but unit {unit} has 2 ({} and {})",
                    other.id, c.id
                ),
            ));
            continue;
        }
        let raw_image = if c.spec.image.is_empty() {
            c.image_name.clone()
        } else {
            c.spec.image.clone()
        };
        tasks.push(Task {
            id: c.id.clone(),
            name: c.name.clone(),
            image_id: c.image_id.clone(),
            raw_image,
            policy,
            unit: unit.clone(),
            authfile: labels
                .get(AUTHFILE_LABEL)
                .map(PathBuf::from)
                .or_else(|| opts.authfile.clone()),
        });
    }
    Ok(tasks)
}

fn update_one(
    ctx: &Context,
    store: &hutch_storage::Store,
    state: &State,
    opts: &AutoUpdateOptions,
    t: &Task,
    pulled: &mut HashMap<String, bool>,
    report: &mut Report,
) -> Result<()> {
    let kind = match t.policy {
        Policy::Registry => "registry",
        Policy::Local => "locally",
    };
    let check_failed = |e: Error| {
        Error::new(
            e.kind(),
            format!(
                "{kind} auto-updating container {:?}: image check for {:?} failed: {}",
                t.id,
                t.raw_image,
                e.text()
            ),
        )
    };
    let current = image::lookup(store, &t.image_id).map_err(|e| {
        check_failed(Error::new(
            ErrorKind::NotFound,
            format!("the container's image {}: {e}", t.image_id),
        ))
    })?;
    let registry_opts = pull::RegistryOptions {
        authfile: t.authfile.clone(),
        ..Default::default()
    };
    // Another unit already moved to this name's new image.
    let already = t.policy == Policy::Registry && pulled.get(&t.raw_image) == Some(&true);
    if !already {
        let newer = match t.policy {
            Policy::Registry => {
                let remote =
                    pull::remote_digest(ctx, &t.raw_image, &Platform::host(), &registry_opts)
                        .map_err(check_failed)?;
                remote != current.digest
            }
            Policy::Local => {
                let named = image::lookup(store, &t.raw_image)
                    .map_err(|e| check_failed(Error::new(ErrorKind::NotFound, e.to_string())))?;
                named.digest != current.digest
            }
        };
        if !newer {
            report.updated = "false".into();
            return Ok(());
        }
        if opts.dry_run {
            report.updated = "pending".into();
            return Ok(());
        }
        if t.policy == Policy::Registry {
            let req = pull::PullRequest {
                name: t.raw_image.clone(),
                platform: Platform::host(),
                options: registry_opts,
            };
            pull::pull(ctx, store, &req, &mut |_, _| {}).map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "registry auto-updating container {:?}: image update for {:?} failed: {}",
                        t.id,
                        t.raw_image,
                        e.text()
                    ),
                )
            })?;
            pulled.insert(t.raw_image.clone(), true);
        }
    }
    let restarted = restart_unit(ctx, t).and_then(|()| wait_healthy(state, t));
    if restarted.is_ok() {
        report.updated = "true".into();
        return Ok(());
    }
    if !opts.rollback || already {
        return restarted;
    }
    // Roll back: the old image takes the name again, and the unit is
    // restarted onto it.
    image::tag(store, &current, &t.raw_image).map_err(|e| {
        Error::new(
            e.kind(),
            format!("falling back to previous image: {}", e.text()),
        )
    })?;
    pulled.insert(t.raw_image.clone(), false);
    if let Err(e) = restart_unit(ctx, t) {
        let first = restarted.err().map(|e| e.text()).unwrap_or_default();
        return Err(Error::new(
            e.kind(),
            format!(
                "{first}; restarting unit with old image during fallback: {}",
                e.text()
            ),
        ));
    }
    report.updated = "rolled back".into();
    report.rollback_reason = restarted.err().map(|e| e.text());
    Ok(())
}

/// How often the restarted container's health is looked at.
const HEALTH_POLL: Duration = Duration::from_millis(250);
/// How long a unit's container may be missing after its restart (a unit
/// of another type than hutch's own may create it after systemctl
/// returns), or may take to start when it has no check.
const CONTAINER_GRACE: Duration = Duration::from_secs(30);
/// The most a check's schedule makes auto-update wait, unless its first
/// check comes later than that (it is always waited for).
const MAX_HEALTH_WAIT: Duration = Duration::from_secs(600);

/// What the unit's container shows after the restart.
#[derive(Debug, PartialEq, Eq)]
enum Health {
    /// Healthy, or running without a scheduled check: the update stands.
    Ready,
    /// Starting, or not recorded yet.
    Wait,
    /// Roll back, for this reason.
    Failed(String),
}

fn health_of(c: &Container) -> Health {
    match c.state {
        ContainerState::Running => {}
        // A unit whose start does not wait for the container (not
        // Type=notify) may return before it runs.
        ContainerState::Configured | ContainerState::Created => return Health::Wait,
        other => return Health::Failed(format!("its container is {}", other.as_str())),
    }
    // No timer (no check, or `--health-interval disable`): nothing will
    // ever say healthy, so running is all there is to wait for.
    if health::timer_interval(c).is_none() {
        return Health::Ready;
    }
    match c.health.as_deref() {
        Some(health::HEALTHY) => Health::Ready,
        Some(health::UNHEALTHY) => Health::Failed("its container is unhealthy".into()),
        _ => Health::Wait,
    }
}

/// How long a container with check `h` may take to turn healthy: its
/// start period and `retries + 1` intervals and timeouts (the first check
/// runs one interval after the start; a check failing outside the start
/// period `retries` times in a row is a verdict), plus a grace; at most
/// [`MAX_HEALTH_WAIT`], but never less than the time to its first check.
fn health_wait_bound(h: &crate::spec::HealthCheck) -> Duration {
    let round = Duration::from_nanos(h.interval_ns().saturating_add(h.timeout_ns()));
    let first = round + CONTAINER_GRACE;
    let full = Duration::from_nanos(h.start_period_ns())
        + round.saturating_mul(h.retries().saturating_add(1))
        + CONTAINER_GRACE;
    full.min(MAX_HEALTH_WAIT).max(first)
}

/// After a restart: waits until the unit's container (found by its name,
/// which Quadlet and `generate systemd` units keep; `--new` units create
/// a new container under it) is healthy or fails (see [`Health`]).
fn wait_healthy(state: &State, t: &Task) -> Result<()> {
    let started = Instant::now();
    let failed = |why: String| {
        Error::new(
            ErrorKind::InvalidState,
            format!(
                "auto-updating container {:?}: systemd unit {:?} restarted but {why}",
                t.id, t.unit
            ),
        )
    };
    loop {
        let (health, bound) = match state.container(&t.name) {
            Ok(c) => {
                let check = c.spec.health_check.as_ref().filter(|h| h.enabled());
                (
                    health_of(&c),
                    check.map_or(CONTAINER_GRACE, health_wait_bound),
                )
            }
            // Waited for up to the grace, then a failure.
            Err(StateError::NoSuchContainer { .. }) => (Health::Wait, CONTAINER_GRACE),
            Err(e) => return Err(e.into()),
        };
        match health {
            Health::Ready => return Ok(()),
            Health::Failed(why) => return Err(failed(why)),
            Health::Wait if started.elapsed() >= bound => {
                return Err(failed(match state.container(&t.name) {
                    Ok(_) => format!(
                        "its container did not become healthy within {} s",
                        bound.as_secs()
                    ),
                    Err(_) => format!("no container is named {:?}", t.name),
                }));
            }
            Health::Wait => std::thread::sleep(HEALTH_POLL),
        }
    }
}

/// `systemctl [--user] restart UNIT`, waiting for the job as Podman does
/// (`systemctl` waits by default).
fn restart_unit(ctx: &Context, t: &Task) -> Result<()> {
    let mut cmd = std::process::Command::new("systemctl");
    if !ctx.rootful {
        cmd.arg("--user");
    }
    cmd.args(["restart", "--", &t.unit]);
    let failed = |why: String| {
        Error::new(
            ErrorKind::Internal,
            format!(
                "auto-updating container {:?}: restarting systemd unit {:?} failed: {why}",
                t.id, t.unit
            ),
        )
    };
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("running systemctl: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    // systemctl's own message, bounded: it is one line or a few.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let msg: String = stderr.trim().chars().take(1000).collect();
    Err(failed(if msg.is_empty() {
        format!("systemctl {}", out.status)
    } else {
        msg
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::HealthCheck;

    #[test]
    fn policies_as_podman_names_them() {
        assert_eq!(Policy::parse("image").unwrap(), Some(Policy::Registry));
        assert_eq!(Policy::parse("registry").unwrap(), Some(Policy::Registry));
        assert_eq!(Policy::parse("local").unwrap(), Some(Policy::Local));
        assert_eq!(Policy::parse("disabled").unwrap(), None);
        assert_eq!(Policy::parse("").unwrap(), None);
        let e = Policy::parse("always").unwrap_err();
        assert!(e.text().contains("invalid auto-update policy \"always\""));
    }

    fn container(
        state: ContainerState,
        check: Option<HealthCheck>,
        health: Option<&str>,
    ) -> Container {
        let spec = crate::spec::ContainerSpec {
            health_check: check,
            ..Default::default()
        };
        Container {
            id: "c".into(),
            name: "web".into(),
            image_id: String::new(),
            image_name: String::new(),
            created: 0,
            state,
            pid: None,
            exit_code: None,
            exited_at: None,
            started_at: None,
            oom_killed: false,
            restart_count: 0,
            spec,
            pod_id: None,
            health: health.map(String::from),
            runtime: String::new(),
            monitor_pid: None,
            monitor_start_time: None,
        }
    }

    fn check(test: &[&str], interval_ns: Option<u64>) -> Option<HealthCheck> {
        Some(HealthCheck {
            test: test.iter().map(|s| s.to_string()).collect(),
            interval_ns,
            ..Default::default()
        })
    }

    #[test]
    fn the_restarted_containers_health_decides_the_rollback() {
        let running = ContainerState::Running;
        let hc = check(&["CMD", "true"], Some(1_000_000_000));
        // No check, a disabled one, or one without a timer: running is enough.
        assert_eq!(health_of(&container(running, None, None)), Health::Ready);
        assert_eq!(
            health_of(&container(running, check(&["NONE"], None), None)),
            Health::Ready
        );
        assert_eq!(
            health_of(&container(running, check(&["CMD", "true"], Some(0)), None)),
            Health::Ready
        );
        // With one, only its verdict counts.
        assert_eq!(
            health_of(&container(running, hc.clone(), None)),
            Health::Wait
        );
        assert_eq!(
            health_of(&container(running, hc.clone(), Some(health::STARTING))),
            Health::Wait
        );
        assert_eq!(
            health_of(&container(running, hc.clone(), Some(health::HEALTHY))),
            Health::Ready
        );
        assert_eq!(
            health_of(&container(running, hc.clone(), Some(health::UNHEALTHY))),
            Health::Failed("its container is unhealthy".into())
        );
        // One not started yet is waited for (up to the grace); one that
        // exited after the restart fails it, check or not.
        assert_eq!(
            health_of(&container(ContainerState::Created, None, None)),
            Health::Wait
        );
        assert_eq!(
            health_of(&container(ContainerState::Exited, None, None)),
            Health::Failed("its container is exited".into())
        );
        assert_eq!(
            health_of(&container(
                ContainerState::Stopped,
                hc,
                Some(health::HEALTHY)
            )),
            Health::Failed("its container is stopped".into())
        );
    }

    #[test]
    fn the_wait_follows_the_checks_schedule_within_bounds() {
        let s = 1_000_000_000u64;
        let h = |interval: u64, timeout: u64, start: u64, retries: u32| HealthCheck {
            test: vec!["CMD".into(), "true".into()],
            interval_ns: Some(interval * s),
            timeout_ns: Some(timeout * s),
            start_period_ns: Some(start * s),
            retries: Some(retries),
        };
        // 5 s start period, (1 + 2) × (1 s + 2 s), 30 s grace.
        assert_eq!(health_wait_bound(&h(1, 2, 5, 2)), Duration::from_secs(44));
        // Podman's defaults (30 s, 30 s, 3 retries): 4 rounds of 60 s.
        assert_eq!(
            health_wait_bound(&HealthCheck {
                test: vec!["CMD".into(), "true".into()],
                ..Default::default()
            }),
            Duration::from_secs(270)
        );
        // Capped at 10 minutes...
        assert_eq!(health_wait_bound(&h(100, 10, 0, 10)), MAX_HEALTH_WAIT);
        // ...but the first check is always waited for.
        assert_eq!(
            health_wait_bound(&h(3600, 10, 0, 3)),
            Duration::from_secs(3640)
        );
    }
}
