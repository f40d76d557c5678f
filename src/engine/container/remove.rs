//! `remove`: containers, with Podman's force, depend, volumes, ignore and
//! timeout rules, and the network teardown; the one removal that `rm`,
//! `container prune`, `volume rm -f`, `network rm -f` (and later `pod rm`
//! and the API's DELETE route) share.
//!
//! As Podman: every name is looked up before anything is removed (a
//! missing one fails the whole call, not found, unless `ignore` or
//! `force`); a container others depend on is refused (conflict) unless
//! `depend` removes those first; a running one without `force` is refused
//! (invalid state) and the others still go.

use std::time::Duration;

use hutch_storage::Store;

use super::select::Report;
use super::{Paths, depend, lifecycle, stop};
use crate::config::Context;
use crate::engine::state::{Container, ContainerState, State, StateError, Transition};
use crate::engine::{Error, ErrorKind, Result, ResultExt};

/// What to remove and how.
#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    /// Names or ids, as the user gave them (reports carry them back).
    pub names: Vec<String>,
    /// Every container (`rm -a`); `names` must then be empty.
    pub all: bool,
    /// The most recently created container (`rm -l`); no `names`.
    pub latest: bool,
    /// Running containers too (stopped first); missing names are skipped.
    pub force: bool,
    /// Missing names are skipped.
    pub ignore: bool,
    /// Containers that depend on a named one go first (`--depend`).
    pub depend: bool,
    /// The anonymous volumes the containers used, when nobody else does.
    pub volumes: bool,
    /// Seconds a forced removal waits for the stop signal before SIGKILL;
    /// `None` kills at once (Docker's and hutch's `rm -f`).
    pub timeout: Option<u32>,
    /// `pod rm`: a pod's infra container may go (with the pod); any other
    /// removal refuses it, as Podman does.
    pub pod_removal: bool,
}

impl RemoveOptions {
    /// Podman's checks of the flag combination, before anything is looked up.
    pub fn validate(&self) -> Result<()> {
        if self.timeout.is_some() && !self.force {
            crate::fail!(
                BadInput,
                "--force option must be specified to use the --time option"
            );
        }
        if self.all && !self.names.is_empty() {
            crate::fail!(BadInput, "no arguments are needed with --all");
        }
        if self.latest && !self.names.is_empty() {
            crate::fail!(BadInput, "--latest and containers cannot be used together");
        }
        if !self.all && !self.latest && self.names.is_empty() {
            crate::fail!(BadInput, "must specify at least one container to remove");
        }
        Ok(())
    }
}

/// One container's outcome: removed (`error` is `None`) or not, and why.
/// `input` is the name as given; the full id for `all` and for what
/// `depend` added.
pub type RemoveReport = Report;

/// Removes the containers `opts` names. Fails as a whole only when a name
/// is missing (not found) or the state cannot be read; anything that goes
/// wrong with one container is in its report.
pub fn remove(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &RemoveOptions,
) -> Result<Vec<RemoveReport>> {
    opts.validate()?;
    // Only a container whose monitor still lives has a pid worth
    // signalling: after a killed monitor the recorded pid may belong to
    // anyone by now.
    state.recover()?;

    let graph = depend::Graph::new(state.list_containers(true)?);
    let mut targets: Vec<(String, Container)> = Vec::new();
    if opts.all {
        // Every container goes: those that depend on others first.
        let roots: Vec<&str> = graph.containers().map(|c| c.id.as_str()).collect();
        for c in graph.removal_order(&roots) {
            targets.push((c.id.clone(), c));
        }
    } else if opts.latest {
        // Podman: "no such container", exit 1, when there is none.
        let c = super::select::latest(state)?;
        targets.push((c.id.clone(), c));
    } else {
        for q in &opts.names {
            match state.container(q) {
                Ok(c) => {
                    if !targets.iter().any(|(_, t)| t.id == c.id) {
                        targets.push((q.clone(), c));
                    }
                }
                Err(StateError::NoSuchContainer { .. }) if opts.ignore || opts.force => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    let mut reports: Vec<RemoveReport> = Vec::new();
    let removed = |reports: &[RemoveReport], id: &str| {
        reports.iter().any(|r| r.id == id && r.error.is_none())
    };
    for (label, c) in &targets {
        if removed(&reports, &c.id) {
            continue;
        }
        // `rm -a` takes pods' infra containers too, and with them their
        // pods (below), as Podman does.
        if !opts.pod_removal
            && !opts.all
            && let Some(pod) = infra_of(state, c)
        {
            reports.push(RemoveReport {
                input: label.clone(),
                id: c.id.clone(),
                error: Some(Error::conflict(format!(
                    "container {} is the infra container of pod {pod} and cannot be removed without removing the pod",
                    c.id
                ))),
            });
            continue;
        }
        let batch: Vec<(String, Container)> = if opts.depend && !opts.all {
            graph
                .removal_order(&[c.id.as_str()])
                .into_iter()
                .filter(|d| !removed(&reports, &d.id))
                .map(|d| (d.id.clone(), d))
                .collect()
        } else {
            let dependents: Vec<&Container> = graph
                .dependents(&c.id)
                .into_iter()
                .filter(|d| !removed(&reports, &d.id))
                .collect();
            if !dependents.is_empty() {
                reports.push(RemoveReport {
                    input: label.clone(),
                    id: c.id.clone(),
                    error: Some(Error::conflict(depend::refusal(&c.id, &dependents))),
                });
                continue;
            }
            vec![(label.clone(), c.clone())]
        };
        for (label, c) in batch {
            let result = remove_one(ctx, store, state, &c, opts);
            let failed = result.is_err();
            reports.push(RemoveReport {
                input: label,
                id: c.id.clone(),
                error: result.err(),
            });
            if failed {
                // What depends on it was removed, it was not: the rest of
                // this chain stays.
                break;
            }
        }
    }
    if opts.all {
        // A pod whose infra container went is gone with it.
        for pod in state.list_pods()? {
            if pod.infra_id.is_some() && state.pod_containers(&pod.id)?.is_empty() {
                state.delete_pod(&pod.id)?;
            }
        }
    }
    Ok(reports)
}

/// The id of the pod whose infra container `c` is, if it is one.
fn infra_of(state: &State, c: &Container) -> Option<String> {
    let pod = state.pod(c.pod_id.as_deref()?).ok()?;
    (pod.infra_id.as_deref() == Some(c.id.as_str())).then_some(pod.id)
}

/// Stops (with `force`) and removes one container, tearing down its
/// network. One `rm` at a time per container: a second one waits for the
/// container's lock, then finds it gone. With `force`, a container that
/// another process removed first (a concurrent `rm -f`, the `--rm`
/// cleanup of its own monitor, which does not take the lock) counts as
/// removed, as Podman's `--force` does not fail on what is gone already.
fn remove_one(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    opts: &RemoveOptions,
) -> Result<()> {
    let lock = match state.lock_container(&c.id) {
        Ok(l) => l,
        Err(_) if opts.force && removed_by_another(state, &c.id) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    match remove_locked(ctx, store, state, c, opts) {
        Ok(()) => {
            // Nobody locks a removed container again (ids are not reused).
            let _ = lock.unlink();
            Ok(())
        }
        Err(_) if opts.force && removed_by_another(state, &c.id) => {
            let _ = lock.unlink();
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Whether container `id` is gone, or being removed by another process and
/// gone within a while.
fn removed_by_another(state: &State, id: &str) -> bool {
    match state.container(id) {
        Err(StateError::NoSuchContainer { .. }) => true,
        Ok(c) if c.state == ContainerState::Removing => {
            lifecycle::wait_until(state, id, Duration::from_secs(30), |c| c.is_none())
                .unwrap_or(false)
        }
        _ => false,
    }
}

fn remove_locked(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    opts: &RemoveOptions,
) -> Result<()> {
    // The row may have changed since the lookup (a dependent was stopped,
    // the container exited, another `rm` removed it).
    let c = state.container(&c.id)?;
    let timeout = opts.timeout.unwrap_or(0);
    // Killed here after a recorded start: its `create` finished.
    let ran = matches!(c.state, ContainerState::Running | ContainerState::Paused);
    if ran {
        if !opts.force {
            crate::fail!(
                InvalidState,
                "cannot remove container {} as it is {} - running or paused containers cannot be removed without force: container state improper",
                c.id,
                c.state.as_str()
            );
        }
        // Marked as stopped by the user, so a restart policy does not
        // bring it back while it is being removed.
        kill_for_removal(ctx, store, state, &c, timeout)
            .with_context(|| format!("stopping container {}", c.name))?;
    } else if lifecycle::monitor_alive(&c) {
        // Between two runs of a restart policy: its monitor would start
        // it again under the removal.
        stop::stop_one(ctx, store, state, &c, Some(timeout))
            .with_context(|| format!("stopping container {}", c.name))?;
    }
    let paths = Paths::new(ctx, store.root(), &c.id);
    // A monitor killed during the runtime's `create` (with its spawner)
    // leaves the runtime's init waiting for `start`, and its record: they
    // go with the container.
    lifecycle::forget_in_runtime_with(ctx, &paths, &c, ran);
    super::userns_view::detach(ctx, &c.id);
    super::network::teardown(ctx, &c.id);
    // This `rm` holds the lock already (remove_one).
    finish_removal(store, state, &paths, &c.id, opts.volumes, None)
        .with_context(|| format!("removing container {}", c.name))
}

/// `rm -f` of a running container: its stop signal (SIGKILL at once for
/// `timeout` 0, else after it), then, once its monitor saw the exit (the
/// exit file), the exit on record. The removal goes on while the monitor's
/// own cleanup may still run, as Podman's `rm -f` does not wait for
/// conmon's exit command either: every step of that cleanup is idempotent
/// and finds the row stopped, being removed or gone (the runtime's record,
/// the mount, the network are the removal's to end as well), and the
/// stop mark keeps its restart policy off.
fn kill_for_removal(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    timeout: u32,
) -> Result<()> {
    let paths = Paths::new(ctx, store.root(), &c.id);
    lifecycle::mark_stopped_by_user(&paths)?;
    let seen = |row: Option<&Container>| {
        row.is_none_or(|r| {
            !r.state.is_active() || !lifecycle::monitor_alive(r) || paths.exit().exists()
        })
    };
    // An exit file says the pid is reaped (`pod rm` signals its members
    // first): no signal to a pid that may be someone else's by now.
    if let Some(pid) = c.pid.filter(|_| !paths.exit().exists()) {
        let sig = if timeout == 0 {
            libc::SIGKILL
        } else {
            lifecycle::stop_signal(store, c)
        };
        lifecycle::signal(pid, sig)?;
        if sig != libc::SIGKILL
            && !lifecycle::wait_until(state, &c.id, Duration::from_secs(u64::from(timeout)), seen)?
        {
            // Podman's warning, word for word (scripts grep for it).
            tracing::warn!(
                "StopSignal {} failed to stop container {} in {timeout} seconds, resorting to SIGKILL",
                crate::spec::parse::restart::signal_name(sig),
                c.name
            );
            // The pid is still the container's: its monitor, which reaps
            // it, has not written the exit.
            if !paths.exit().exists() {
                lifecycle::signal(pid, libc::SIGKILL)?;
            }
        }
    }
    if !lifecycle::wait_until(state, &c.id, Duration::from_secs(30), seen)? {
        crate::fail!(Internal, "timed out waiting for container {} to stop", c.id);
    }
    if let Ok(now) = state.container(&c.id)
        && now.state.is_active()
    {
        lifecycle::record_exit_file(&paths, state, &now);
    }
    super::events::record(state, c, "stop", &[]);
    Ok(())
}

/// Removes a container that no longer runs.
pub fn remove_stopped(store: &Store, state: &State, paths: &Paths, id: &str) -> Result<()> {
    remove_stopped_with(store, state, paths, id, false)
}

/// [`remove_stopped`]; with `volumes` (`rm -v`) also the anonymous volumes
/// it used that no other container uses. Named volumes always stay.
///
/// The container's lock is held from the mark "removing" to the row's
/// end: another process's (or the API service's other request's) recovery
/// skips a locked container, instead of taking a removal in progress for
/// one a dead process left half done and removing it under this one.
pub fn remove_stopped_with(
    store: &Store,
    state: &State,
    paths: &Paths,
    id: &str,
    volumes: bool,
) -> Result<()> {
    let lock = state.lock_container(id)?;
    finish_removal(store, state, paths, id, volumes, Some(lock))
}

/// The `--rm` removal after the container's exit, run by its cleanup. A
/// start that failed has its cleanup run while the starting command still
/// holds the container's lock (it waits for the monitor's report, which
/// comes after the cleanup): the lock is taken only when it is free, so
/// the two never wait for each other.
pub fn remove_after_exit(
    store: &Store,
    state: &State,
    paths: &Paths,
    id: &str,
    volumes: bool,
) -> Result<()> {
    let lock = state.try_lock_container(id)?;
    finish_removal(store, state, paths, id, volumes, lock)
}

/// The `--rm` removal that recovery finishes for a container whose monitor
/// died: only when its lock is free (a command holding it, a `start` or an
/// `rm`, decides its fate instead); false when it was busy.
pub(crate) fn remove_if_unlocked(
    store: &Store,
    state: &State,
    paths: &Paths,
    id: &str,
    volumes: bool,
) -> Result<bool> {
    let Some(lock) = state.try_lock_container(id)? else {
        return Ok(false);
    };
    finish_removal(store, state, paths, id, volumes, Some(lock))?;
    Ok(true)
}

/// The removal itself; `lock` is unlinked with the row. `None`: the caller
/// holds the lock (an `rm`) or could not have it (see
/// [`remove_after_exit`]).
fn finish_removal(
    store: &Store,
    state: &State,
    paths: &Paths,
    id: &str,
    volumes: bool,
    mut lock: Option<crate::engine::state::ContainerLock>,
) -> Result<()> {
    let row = match state.container(id) {
        Ok(row) => row,
        Err(e) => {
            // Gone already (removed while this one waited): no stray lock
            // file left behind.
            if let Some(l) = lock.take() {
                let _ = l.unlink();
            }
            return Err(e.into());
        }
    };
    if row.state.is_active()
        && !matches!(
            row.state,
            ContainerState::Created | ContainerState::Configured
        )
    {
        return Err(Error::new(
            ErrorKind::InvalidState,
            format!(
                "cannot remove container {} as it is {}: stop it first or use -f",
                row.name,
                row.state.as_str()
            ),
        ));
    }
    if row.state != ContainerState::Removing {
        state.update_state(id, Transition::Removing)?;
    }
    store.remove_container_layer(id)?;
    if let Some(dir) = paths.userdata.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    // A monitor killed before its cleanup left them in the runtime dir,
    // which nothing else sweeps.
    super::lifecycle::remove_sockets(paths);
    let orphans = state.remove_container(id)?;
    if let Some(l) = lock.take() {
        let _ = l.unlink();
    }
    super::events::record(state, &row, "remove", &[]);
    if volumes {
        crate::engine::volume::remove_orphans(state, &orphans)
            .with_context(|| format!("removing the anonymous volumes of {}", row.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(names: &[&str]) -> RemoveOptions {
        RemoveOptions {
            names: names.iter().map(|s| s.to_string()).collect(),
            ..RemoveOptions::default()
        }
    }

    #[test]
    fn options_are_checked_like_podman() {
        assert!(opts(&["a"]).validate().is_ok());
        let none = opts(&[]).validate().unwrap_err();
        assert_eq!(none.kind(), ErrorKind::BadInput);
        let both = RemoveOptions {
            all: true,
            ..opts(&["a"])
        };
        assert_eq!(both.validate().unwrap_err().kind(), ErrorKind::BadInput);
        // --depend with -a is accepted: -a already orders by dependency.
        let all_depend = RemoveOptions {
            all: true,
            depend: true,
            ..opts(&[])
        };
        assert!(all_depend.validate().is_ok());
        let time_without_force = RemoveOptions {
            timeout: Some(3),
            ..opts(&["a"])
        };
        let e = time_without_force.validate().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert!(e.text().contains("--force"), "{}", e.text());
        let forced = RemoveOptions {
            timeout: Some(3),
            force: true,
            ..opts(&["a"])
        };
        assert!(forced.validate().is_ok());
        let latest = RemoveOptions {
            latest: true,
            ..opts(&[])
        };
        assert!(latest.validate().is_ok());
        let latest_and_name = RemoveOptions {
            latest: true,
            ..opts(&["a"])
        };
        assert_eq!(
            latest_and_name.validate().unwrap_err().kind(),
            ErrorKind::BadInput
        );
    }
}
