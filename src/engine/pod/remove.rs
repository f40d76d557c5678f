//! `pod rm` and `pod prune`: a pod goes with its containers (those that
//! run only with `force`, stopped first), the infra container last, then
//! its row. The containers are removed by the container removal, so
//! their network, mounts and monitors go as they do for `rm`.

use hutch_storage::Store;

use super::lifecycle::PodSelection;
use super::{Pod, all, lookup, status};
use crate::config::Context;
use crate::engine::container::remove::{self as cremove, RemoveOptions};
use crate::engine::state::{ContainerState, State, StateError};
use crate::engine::{Error, Result};

/// `pod rm [-a] [-f] [-i] [-t N] POD...`.
#[derive(Debug, Clone, Default)]
pub struct PodRemoveOptions {
    pub select: PodSelection,
    /// Running containers too (stopped first).
    pub force: bool,
    /// Missing pods are skipped.
    pub ignore: bool,
    /// Seconds a forced stop waits before SIGKILL; `None`: at once.
    pub timeout: Option<u32>,
}

/// One pod's outcome: `input` as given (the id for `--all`), the pod's id
/// when found, and the error, if any.
#[derive(Debug)]
pub struct PodRemoveReport {
    pub input: String,
    pub id: String,
    pub error: Option<Error>,
}

pub fn remove(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &PodRemoveOptions,
) -> Result<Vec<PodRemoveReport>> {
    opts.select.validate()?;
    if opts.timeout.is_some() && !opts.force {
        crate::fail!(
            BadInput,
            "--force option must be specified to use the --time option"
        );
    }
    state.recover()?;
    let targets: Vec<(String, Result<Pod>)> = if opts.select.all {
        all(state)?
            .into_iter()
            .map(|p| (p.id.clone(), Ok(p)))
            .collect()
    } else {
        opts.select
            .names
            .iter()
            .map(|n| (n.clone(), lookup(state, n)))
            .collect()
    };
    let mut reports = Vec::new();
    for (input, pod) in targets {
        let pod = match pod {
            Ok(p) => p,
            Err(e) => {
                if opts.ignore
                    && e.downcast_ref::<StateError>()
                        .is_some_and(|s| matches!(s, StateError::NoSuchPod { .. }))
                {
                    continue;
                }
                reports.push(PodRemoveReport {
                    input,
                    id: String::new(),
                    error: Some(e),
                });
                continue;
            }
        };
        let result = remove_one(ctx, store, state, &pod, opts.force, opts.timeout);
        reports.push(PodRemoveReport {
            input,
            id: pod.id,
            error: result.err(),
        });
    }
    Ok(reports)
}

/// Removes one pod and its containers.
pub fn remove_one(
    ctx: &Context,
    store: &Store,
    state: &State,
    pod: &Pod,
    force: bool,
    timeout: Option<u32>,
) -> Result<()> {
    let ctrs = pod.containers(state)?;
    if !force
        && let Some(c) = ctrs
            .iter()
            .find(|c| matches!(c.state, ContainerState::Running | ContainerState::Paused))
    {
        crate::fail!(
            InvalidState,
            "pod {} has containers that are not ready to be removed: cannot remove container {} as it is {} - running or paused containers cannot be removed without force: container state improper",
            pod.id,
            c.id,
            c.state.as_str()
        );
    }
    if force {
        // `rm -f` kills at once unless given a time (hutch's rule).
        // Killed at once, the infra container too: nothing is left to
        // shut down gracefully.
        let timeout = timeout.unwrap_or(0);
        super::lifecycle::signal_members(ctx, store, pod, &ctrs, Some(timeout), timeout == 0);
    }
    if !ctrs.is_empty() {
        // `depend`: the containers that joined the infra's namespaces go
        // before it; `force` also takes those that run.
        let reports = cremove::remove(
            ctx,
            store,
            state,
            &RemoveOptions {
                names: ctrs.iter().map(|c| c.id.clone()).collect(),
                force: true,
                depend: true,
                timeout: if force { timeout } else { None },
                pod_removal: true,
                ..RemoveOptions::default()
            },
        )?;
        if let Some(e) = reports.into_iter().find_map(|r| r.error) {
            return Err(e.context(format!("removing pod {}", pod.id)));
        }
    }
    state.delete_pod(&pod.id)?;
    if let Some(pc) = &pod.config.cgroup {
        crate::cgroups::pod::remove(pc, super::create::session_bus().as_deref());
    }
    super::record(state, &pod.id, &pod.name, "remove");
    Ok(())
}

/// `pod prune`: removes every pod whose status is stopped or exited
/// (libpod's `PrunePods`: created pods stay); the ids removed.
pub fn prune(ctx: &Context, store: &Store, state: &State) -> Result<Vec<PodRemoveReport>> {
    state.recover()?;
    let mut reports = Vec::new();
    for pod in all(state)? {
        let ctrs = pod.containers(state)?;
        if !matches!(status(&ctrs), "Exited" | "Stopped") {
            continue;
        }
        let result = remove_one(ctx, store, state, &pod, false, None);
        reports.push(PodRemoveReport {
            input: pod.id.clone(),
            id: pod.id,
            error: result.err(),
        });
    }
    Ok(reports)
}
