//! After a container's run, what its monitor cannot do itself (it opens no
//! database and no store): `hutch __cleanup ID`, run by the monitor once
//! it has written the exit file, as conmon runs Podman's exit command. It
//! records the exit, removes the runtime's record, unmounts the layer,
//! tears the network down, does `--rm` and applies the restart policy (a
//! new monitor). Every step may be repeated: a cleanup killed half way is
//! finished by `recover`, `rm` or the next `start`.

use std::process::{Command, Stdio};

use hutch_storage::Store;

use super::lifecycle;
use super::monitor::{self, Spawned, Start};
use super::{Paths, events, network};
use crate::config::Context;
use crate::engine::state::{ContainerState, Monitor, State, StateError, Transition};
use crate::host::time;
use crate::runtime::oci;

/// What the monitor saw of the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct CleanupOptions {
    /// The runtime's `create` ran: the outcome is recorded as an exit (a
    /// refusal reads "Exited (127)" in `ps`, not "Created").
    pub created: bool,
    /// The container ran: its exit is recorded and the restart policy
    /// applies.
    pub started: bool,
    /// `--rm`: the container goes once cleaned up.
    pub remove: bool,
}

/// The code in the container's exit file, written by its monitor.
pub fn exit_code_of(paths: &Paths) -> Option<i32> {
    std::fs::read_to_string(paths.exit())
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn cleanup(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
    opts: CleanupOptions,
) -> anyhow::Result<()> {
    let paths = Paths::new(ctx, store.root(), id);
    let row = match state.container(id) {
        Ok(r) => r,
        // Removed meanwhile (`rm -f`): it did the rest.
        Err(StateError::NoSuchContainer { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let code = exit_code_of(&paths).unwrap_or(-1);
    // The exit a checkpoint's dump caused: recorded as checkpointed, with
    // Podman's exit code 0 (the process did not end, it was saved).
    let code = if opts.started && super::checkpoint::settle_exit(&paths) {
        0
    } else {
        code
    };
    // The exit first: it is what `ps`, `wait` and `inspect` look at.
    if opts.created || opts.started {
        record_exit(state, id, code, &paths, opts);
    }
    // The runtime forgets the container while the rest is cleaned up: a
    // process of its own (milliseconds) waited for before the restart
    // policy creates the same id again.
    let no_cgroup = crate::cgroups::container::Plan::read(&paths.userdata).is_none();
    let delete = (opts.created || opts.started)
        .then(|| super::oci_runtime(ctx, Some(&row.runtime), no_cgroup).ok())
        .flatten()
        .map(|(runtime, _)| runtime)
        .map(|runtime| {
            Command::new(&runtime.path)
                .args(runtime.delete_args(id, true))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        });
    // A runtime `create` killed half way (the monitor saw it fail) leaves
    // the child it forked holding the container's pipes and mount, and no
    // runtime state names it (found by the kill-anywhere harness). After a
    // start (`started`) the `create` finished: no sweep of every process.
    if opts.created
        && !opts.started
        && let Ok((runtime, _)) = super::oci_runtime(ctx, Some(&row.runtime), no_cgroup)
    {
        runtime.kill_unrecorded(id);
    }
    super::userns_view::detach(ctx, id);
    let _ = store.unmount_container(id);
    network::teardown(ctx, id);
    let _ = std::fs::remove_file(&paths.attach);
    match state.container(id).map(|r| r.state) {
        Ok(ContainerState::Stopped) => {
            let _ = state.update_state(id, Transition::CleanedUp);
        }
        Ok(ContainerState::Created) => {
            let _ = state.update_state(
                id,
                Transition::Exited {
                    code,
                    at: time::now_ns(),
                    oom: false,
                },
            );
        }
        _ => {}
    }
    // `--rm` takes the container's anonymous volumes too, as Podman does.
    if opts.remove
        && !lifecycle::restart_mark(&paths).exists()
        && let Err(e) = super::remove::remove_after_exit(store, state, &paths, id, true)
    {
        tracing::warn!(container = id, "removing: {e:#}");
    }
    let mut outcome = delete.map(|d| d.and_then(|c| c.wait_with_output()));
    // A delete killed from outside leaves the runtime's record of a
    // container that no longer runs: once more, in the foreground.
    if let Some(Ok(out)) = &outcome
        && std::os::unix::process::ExitStatusExt::signal(&out.status).is_some()
        && let Ok((runtime, _)) = super::oci_runtime(ctx, Some(&row.runtime), no_cgroup)
    {
        outcome = Some(
            Command::new(&runtime.path)
                .args(runtime.delete_args(id, true))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output(),
        );
    }
    // A delete killed while it removed the record leaves one the runtime
    // itself may fail on (the kill-anywhere harness found it, once in some
    // fifty kills of `crun delete`): forgotten for good, as `rm` does.
    if let Some(Ok(out)) = &outcome
        && !out.status.success()
        && let Ok((runtime, _)) = super::oci_runtime(ctx, Some(&row.runtime), no_cgroup)
        && runtime.has_state(id)
        && runtime.forget(id, &paths.pid_file()).is_ok()
    {
        outcome = None;
    }
    match outcome {
        // Only a container that ran must have been in the runtime.
        Some(Ok(out)) if !out.status.success() && opts.started => tracing::warn!(
            container = id,
            "runtime delete: {} ({})",
            oci::runtime_message(&String::from_utf8_lossy(&out.stderr)),
            out.status
        ),
        Some(Err(e)) => tracing::warn!(container = id, "runtime delete: {e}"),
        _ => {}
    }
    if opts.started && !opts.remove {
        restart(ctx, store, state, id, code, &paths);
    }
    if opts.started {
        super::pod_join::after_exit(ctx, store, state, &row);
    }
    Ok(())
}

/// Records the exit code; a transition already made (by `recover`, which
/// reads the exit file too) is left as it is.
fn record_exit(state: &State, id: &str, code: i32, paths: &Paths, opts: CleanupOptions) {
    let Ok(row) = state.container(id) else { return };
    let at = time::now_ns();
    if matches!(
        row.state,
        ContainerState::Configured | ContainerState::Exited | ContainerState::Stopped
    ) && (opts.created && !opts.started || row.state == ContainerState::Configured)
    {
        // The spawner never recorded the start (the runtime refused, or
        // the spawner died first): on record as created by this run's
        // monitor (the parent), so the exit can follow.
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() };
        if let Some(m) = Monitor::of(parent).or_else(Monitor::current) {
            let _ = state.update_state(id, Transition::Created { monitor: m });
        }
    }
    let Ok(row) = state.container(id) else { return };
    if row.state.is_active() {
        let oom = crate::cgroups::container::oom_killed(&paths.userdata);
        if let Ok(row) = state.update_state(id, Transition::Stopped { code, at, oom }) {
            events::record(
                state,
                &row,
                "died",
                &[("containerExitCode", code.to_string())],
            );
        }
    }
}

/// The restart policy: a new monitor for the next run, unless the user
/// stopped the container or the policy says no more.
fn restart(ctx: &Context, store: &Store, state: &State, id: &str, code: i32, paths: &Paths) {
    // The stop mark before the row: a forced `rm` may go on while this
    // cleanup runs, and it marks the container, sets it removing, then
    // deletes its files (the mark with them). Read in this order, a mark
    // gone with the files is seen with the row removing or gone.
    if lifecycle::stopped_by_user(paths) {
        return;
    }
    let Ok(row) = state.container(id) else { return };
    if row.state == ContainerState::Removing {
        return;
    }
    let policy = super::launch::fields_of(ctx, &row, paths).restart;
    if !policy.should_restart(code, row.restart_count) {
        return;
    }
    let start = Start {
        restarting: true,
        ..Start::default()
    };
    match monitor::spawn_with(ctx, store, state, id, start) {
        Ok(Spawned::Created { .. }) => {}
        Ok(Spawned::Failed { message, .. }) => {
            tracing::warn!(container = id, "restarting: {message}")
        }
        Err(e) => tracing::warn!(container = id, "restarting: {e:#}"),
    }
}
