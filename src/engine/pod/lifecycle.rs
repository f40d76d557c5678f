//! `pod start|stop|restart|kill|pause|unpause`: the container operation on
//! each of the pod's containers, in dependency order (the infra container
//! first to start, last to stop), with one report per pod.

use hutch_storage::Store;

use super::{Pod, all, lookup};
use crate::config::Context;
use crate::engine::container::{kill, lifecycle, pause, start, stop};
use crate::engine::state::{Container, ContainerState, State};
use crate::engine::{Error, Result};

/// Which pods: names or ids as given, or every pod.
#[derive(Debug, Clone, Default)]
pub struct PodSelection {
    pub names: Vec<String>,
    pub all: bool,
}

impl PodSelection {
    pub fn validate(&self) -> Result<()> {
        if self.all && !self.names.is_empty() {
            crate::fail!(BadInput, "when --all is set, no pod names may be given");
        }
        if !self.all && self.names.is_empty() {
            crate::fail!(BadInput, "you must provide at least one pod name or id");
        }
        Ok(())
    }

    /// Every pod selected; a missing name fails the whole call (Podman
    /// looks every name up before acting on any).
    pub fn resolve(&self, state: &State) -> Result<Vec<Pod>> {
        self.validate()?;
        if self.all {
            return all(state);
        }
        self.names.iter().map(|n| lookup(state, n)).collect()
    }
}

/// What happened to one pod: its id, and the errors of its containers
/// (empty: done).
#[derive(Debug)]
pub struct PodReport {
    pub id: String,
    pub errors: Vec<Error>,
}

/// The operations of this file.
#[derive(Debug, Clone)]
pub enum PodAction {
    Start,
    /// Seconds before SIGKILL; `None`: each container's stop timeout.
    Stop {
        timeout: Option<u32>,
    },
    Restart {
        timeout: Option<u32>,
    },
    /// A signal name or number.
    Kill {
        signal: String,
    },
    Pause,
    Unpause,
}

/// Applies `action` to every selected pod.
pub fn act(
    ctx: &Context,
    store: &Store,
    state: &State,
    select: &PodSelection,
    action: &PodAction,
) -> Result<Vec<PodReport>> {
    let sig = match action {
        PodAction::Kill { signal } => Some(lifecycle::parse_signal(signal)?),
        _ => None,
    };
    lifecycle::recover(ctx, store, state)?;
    let pods = select.resolve(state)?;
    let mut reports = Vec::new();
    for pod in pods {
        // Podman 4.3.1 passes over a pod with nothing paused, saying
        // nothing.
        if matches!(action, PodAction::Unpause)
            && !pod
                .containers(state)?
                .iter()
                .any(|c| c.state == ContainerState::Paused)
        {
            continue;
        }
        let errors = match action {
            PodAction::Start => start_pod(ctx, store, state, &pod)?,
            PodAction::Stop { timeout } => stop_pod(ctx, store, state, &pod, *timeout)?,
            PodAction::Restart { timeout } => {
                let mut e = stop_pod(ctx, store, state, &pod, *timeout)?;
                if e.is_empty() {
                    e = start_pod(ctx, store, state, &pod)?;
                }
                e
            }
            PodAction::Kill { .. } => {
                let sig = sig.unwrap_or(libc::SIGKILL);
                let running: Vec<Container> = pod
                    .containers(state)?
                    .into_iter()
                    .filter(|c| c.state == ContainerState::Running)
                    .collect();
                if running.is_empty() {
                    vec![Error::invalid_state(format!(
                        "no containers in pod {} are running: container state improper",
                        pod.id
                    ))]
                } else {
                    running
                        .iter()
                        .filter_map(|c| kill::kill_one(ctx, store, state, c, sig).err())
                        .collect()
                }
            }
            PodAction::Pause | PodAction::Unpause => {
                let freeze = matches!(action, PodAction::Pause);
                let want = if freeze {
                    ContainerState::Running
                } else {
                    ContainerState::Paused
                };
                let errors: Vec<Error> = pod
                    .containers(state)?
                    .iter()
                    .filter(|c| c.state == want)
                    .filter_map(|c| match freeze {
                        true => pause::pause(ctx, store, state, c).err(),
                        false => pause::unpause(ctx, store, state, c).err(),
                    })
                    .collect();
                // Without a freezer no container of the pod can pause:
                // one error for the pod, in Podman's words.
                if freeze && errors.iter().any(|e| e.text().contains("cgroup V1")) {
                    vec![Error::invalid_state(
                        "can not pause pods containing rootless containers with cgroup V1: this container does not have a cgroup",
                    )]
                } else {
                    errors
                }
            }
        };
        if errors.is_empty() {
            let name = match action {
                PodAction::Start => "start",
                PodAction::Stop { .. } => "stop",
                PodAction::Restart { .. } => "restart",
                PodAction::Kill { .. } => "kill",
                PodAction::Pause => "pause",
                PodAction::Unpause => "unpause",
            };
            super::record(state, &pod.id, &pod.name, name);
        }
        reports.push(PodReport {
            id: pod.id.clone(),
            errors,
        });
    }
    Ok(reports)
}

/// Starts the pod's containers, the infra container first (the others'
/// start would start it anyway, to join its namespaces).
pub fn start_pod(ctx: &Context, store: &Store, state: &State, pod: &Pod) -> Result<Vec<Error>> {
    let mut ctrs = pod.containers(state)?;
    if ctrs.is_empty() {
        crate::fail!(
            NotFound,
            "no containers in pod {} have no dependencies, cannot start pod: no such container",
            pod.id
        );
    }
    ctrs.sort_by_key(|c| !pod.is_infra(c));
    // Podman's order: the infra container, then the init containers one
    // at a time, each to its end, then the rest.
    let (inits, ctrs): (Vec<Container>, Vec<Container>) =
        ctrs.into_iter().partition(|c| c.spec.init_ctr.is_some());
    let mut errors = Vec::new();
    let mut inits_done = inits.is_empty();
    for c in &ctrs {
        if !inits_done && !pod.is_infra(c) {
            inits_done = true;
            run_init_containers(ctx, store, state, &inits)?;
        }
        if let Err(e) = start::start_detached(ctx, store, state, &c.id) {
            let e = e.context(format!("starting container {}", c.id));
            if pod.is_infra(c) {
                // Nothing else can join namespaces that do not exist.
                return Ok(vec![e]);
            }
            errors.push(e);
        }
    }
    if !inits_done {
        run_init_containers(ctx, store, state, &inits)?;
    }
    Ok(errors)
}

/// Runs each init container to its end (oldest first); a non-zero exit
/// stops the pod's start with Podman's error, and a "once" container is
/// removed after it ran, so the pod's next start skips it.
fn run_init_containers(
    ctx: &Context,
    store: &Store,
    state: &State,
    inits: &[Container],
) -> Result<()> {
    use crate::engine::container::{remove, wait};
    for c in inits {
        if c.state == ContainerState::Running {
            continue;
        }
        let watch = wait::watch(ctx, store, state, &c.id, wait::ExitCondition::NextExit)?;
        start::start_detached(ctx, store, state, &c.id)?;
        let code = watch.wait(
            ctx,
            store,
            state,
            std::time::Duration::from_millis(50),
            &|| true,
        )?;
        if code != 0 {
            crate::fail!(
                InvalidState,
                "init container {} exited with code {code}",
                c.id
            );
        }
        if c.spec.init_ctr.as_deref() == Some("once") {
            remove::remove(
                ctx,
                store,
                state,
                &remove::RemoveOptions {
                    names: vec![c.id.clone()],
                    force: true,
                    ..remove::RemoveOptions::default()
                },
            )?;
        }
    }
    Ok(())
}

/// Sends every running container of `ctrs` (the infra container only
/// with `infra`: a graceful stop keeps the pod's network until the others
/// are down) its stop signal (SIGKILL for `timeout` 0) at once, marked as
/// stopped by the user, so the stops that follow wait for all of them
/// together (Podman stops a pod's containers in parallel too). Errors are
/// the stops' to report.
pub(super) fn signal_members(
    ctx: &Context,
    store: &Store,
    pod: &Pod,
    ctrs: &[Container],
    timeout: Option<u32>,
    infra: bool,
) {
    for c in ctrs.iter().filter(|c| infra || !pod.is_infra(c)) {
        let (ContainerState::Running, Some(pid)) = (c.state, c.pid) else {
            continue;
        };
        let sig = if timeout == Some(0) {
            libc::SIGKILL
        } else {
            lifecycle::stop_signal(store, c)
        };
        let paths = crate::engine::container::Paths::new(ctx, store.root(), &c.id);
        if lifecycle::mark_stopped_by_user(&paths).is_ok() {
            let _ = lifecycle::signal(pid, sig);
        }
    }
}

/// Stops the pod's containers, the infra container last.
pub fn stop_pod(
    ctx: &Context,
    store: &Store,
    state: &State,
    pod: &Pod,
    timeout: Option<u32>,
) -> Result<Vec<Error>> {
    let mut ctrs = pod.containers(state)?;
    ctrs.sort_by_key(|c| pod.is_infra(c));
    signal_members(ctx, store, pod, &ctrs, timeout, false);
    let mut errors = Vec::new();
    for c in &ctrs {
        if let Err(e) = stop::stop_one(ctx, store, state, c, timeout) {
            errors.push(e.context(format!("stopping container {}", c.id)));
        }
    }
    Ok(errors)
}
