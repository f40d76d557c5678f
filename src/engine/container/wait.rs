//! `wait`: block until containers reach a condition (by default their
//! exit, with its code), polling the state database as Podman does.

use std::time::Duration;

use hutch_storage::Store;

use super::lifecycle::{recover, settled};
use super::select::Selection;
use crate::config::Context;
use crate::engine::state::{ContainerState, EventFilter, EventType, State};
use crate::engine::{Error, Result};

/// `wait [--condition C]... [--interval D] [--ignore] [-l] NAME...`.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub select: Selection,
    /// Any one of them ends the wait; empty means [`Condition::Exited`].
    pub conditions: Vec<Condition>,
    /// How often the state is polled.
    pub interval: Duration,
    /// A missing container reports -1 instead of failing.
    pub ignore: bool,
}

impl Default for WaitOptions {
    fn default() -> WaitOptions {
        WaitOptions {
            select: Selection::default(),
            conditions: Vec::new(),
            // Podman's default `--interval`.
            interval: Duration::from_millis(250),
            ignore: false,
        }
    }
}

impl WaitOptions {
    /// Parses `--condition` values the way Podman names states.
    pub fn conditions(names: &[String]) -> Result<Vec<Condition>> {
        names.iter().map(|c| Condition::parse(c)).collect()
    }
}

/// One container's wait: its exit code for an exit condition, -1 for the
/// others and for an ignored missing container.
#[derive(Debug)]
pub struct WaitReport {
    pub input: String,
    pub id: String,
    pub result: Result<i32>,
}

/// Waits for each selected container in turn; `each` sees a report as
/// soon as it is known (the CLI prints it then, as Podman does).
pub fn wait(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &WaitOptions,
    each: &mut dyn FnMut(&WaitReport),
) -> Result<Vec<WaitReport>> {
    if opts.select.all {
        crate::fail!(BadInput, "wait takes no --all");
    }
    let conds: Vec<Condition> = if opts.conditions.is_empty() {
        vec![Condition::Exited]
    } else {
        opts.conditions.clone()
    };
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        let report = match c {
            Ok(c) => WaitReport {
                input,
                id: c.id.clone(),
                result: wait_one(ctx, store, state, &c.id, &conds, opts.interval),
            },
            Err(_) if opts.ignore => WaitReport {
                input,
                id: String::new(),
                result: Ok(-1),
            },
            Err(e) => WaitReport {
                input,
                id: String::new(),
                result: Err(e),
            },
        };
        each(&report);
        reports.push(report);
    }
    Ok(reports)
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
    pub fn parse(s: &str) -> Result<Condition> {
        Ok(match s {
            "configured" | "created" | "initialized" => Condition::Created,
            "running" => Condition::Running,
            "paused" => Condition::Paused,
            "stopped" | "exited" => Condition::Exited,
            "removing" => Condition::Removing,
            "removed" => Condition::Removed,
            _ => crate::fail!(BadInput, "unknown container state: {s}: invalid argument"),
        })
    }
}

/// Waits until container `id` meets one of `conds`; returns its exit code
/// for an exit condition, else -1 (as Podman does).
pub fn wait_one(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
    conds: &[Condition],
    interval: Duration,
) -> Result<i32> {
    wait_one_while(ctx, store, state, id, conds, interval, &|| true)
}

/// [`wait_one`] that also ends, with an error, when `keep_going` says the
/// caller gave up (an API client that hung up).
pub fn wait_one_while(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
    conds: &[Condition],
    interval: Duration,
    keep_going: &dyn Fn() -> bool,
) -> Result<i32> {
    loop {
        if !keep_going() {
            crate::fail!(Internal, "the wait for {id} was abandoned");
        }
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
                    return died_code(state, id).ok_or_else(|| {
                        Error::not_found(format!(
                            "no container with ID {id} found: no such container"
                        ))
                    });
                }
                (_, None) => crate::fail!(
                    NotFound,
                    "no container with ID {id} found: no such container"
                ),
                // Never started: Podman 4.3 answers at once, with 0.
                (Condition::Exited, Some(c))
                    if matches!(
                        c.state,
                        ContainerState::Configured | ContainerState::Created
                    ) && c.exit_code.is_none()
                        && c.started_at.is_none() =>
                {
                    return Ok(0);
                }
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

/// Docker's wait conditions (`POST /containers/{id}/wait?condition=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCondition {
    /// The default: at once for a created or exited container, else at the
    /// end of this run.
    NotRunning,
    /// The end of the next run, even when it has not started yet.
    NextExit,
    /// Once the container is gone; the exit code of its last run.
    Removed,
}

impl ExitCondition {
    pub fn parse(s: &str) -> Result<ExitCondition> {
        Ok(match s {
            "" | "not-running" => ExitCondition::NotRunning,
            "next-exit" => ExitCondition::NextExit,
            "removed" => ExitCondition::Removed,
            _ => crate::fail!(BadInput, "invalid condition: {s:?}"),
        })
    }
}

/// A Docker-style wait, set up before the client is answered: the
/// container is resolved now (a missing one fails here, before anything is
/// sent) and only what happens to it after this point counts, read from
/// its events, so an exit or removal between the answer's header and the
/// first poll is never missed.
#[derive(Debug, Clone)]
pub struct ExitWatch {
    pub id: String,
    condition: ExitCondition,
    /// The container's last event when the watch was made.
    after: i64,
    /// Met already (`not-running` of a container that does not run).
    ready: Option<i32>,
}

pub fn watch(
    ctx: &Context,
    store: &Store,
    state: &State,
    name: &str,
    condition: ExitCondition,
) -> Result<ExitWatch> {
    recover(ctx, store, state)?;
    let c = state.container(name)?;
    let filter = EventFilter {
        types: vec![EventType::Container],
        actors: vec![c.id.clone()],
        ..EventFilter::default()
    };
    let after = state
        .events(None, None, &filter)?
        .last()
        .map_or(0, |e| e.id);
    // The state alone decides: the monitor of a run that just ended may
    // still be cleaning up after its `died` event.
    let ready = (condition == ExitCondition::NotRunning && !c.state.is_active())
        .then(|| c.exit_code.unwrap_or(0));
    Ok(ExitWatch {
        id: c.id,
        condition,
        after,
        ready,
    })
}

impl ExitWatch {
    /// Blocks until the condition holds (the exit code it reports), or
    /// until `keep_going` says the caller gave up.
    pub fn wait(
        &self,
        ctx: &Context,
        store: &Store,
        state: &State,
        interval: Duration,
        keep_going: &dyn Fn() -> bool,
    ) -> Result<i32> {
        if let Some(code) = self.ready {
            return Ok(code);
        }
        let died = EventFilter {
            types: vec![EventType::Container],
            actions: vec!["died".to_owned()],
            actors: vec![self.id.clone()],
            after_id: Some(self.after),
        };
        loop {
            // A monitor killed while we wait would otherwise leave it running.
            recover(ctx, store, state)?;
            let row = state.container(&self.id);
            let gone = matches!(
                row,
                Err(crate::engine::state::StateError::NoSuchContainer { .. })
            );
            match self.condition {
                ExitCondition::Removed => {
                    if gone {
                        return Ok(died_code(state, &self.id).unwrap_or(0));
                    }
                }
                ExitCondition::NotRunning | ExitCondition::NextExit => {
                    let code = state
                        .events(None, None, &died)?
                        .first()
                        .and_then(|e| e.attributes.get("containerExitCode")?.parse().ok());
                    if let Some(code) = code {
                        return Ok(code);
                    }
                    // A run that ended without its event (not-running
                    // only: next-exit waits for a run after the watch).
                    if let (ExitCondition::NotRunning, Ok(c)) = (self.condition, &row)
                        && !c.state.is_active()
                    {
                        return Ok(c.exit_code.unwrap_or(0));
                    }
                    if gone {
                        // Removed without a run after the watch began.
                        return Ok(died_code(state, &self.id).unwrap_or(0));
                    }
                }
            }
            if !keep_going() {
                crate::fail!(Internal, "the wait for container {} was abandoned", self.id);
            }
            std::thread::sleep(interval);
        }
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
    use crate::engine::ErrorKind;

    #[test]
    fn docker_conditions() {
        assert_eq!(ExitCondition::parse("").unwrap(), ExitCondition::NotRunning);
        assert_eq!(
            ExitCondition::parse("not-running").unwrap(),
            ExitCondition::NotRunning
        );
        assert_eq!(
            ExitCondition::parse("next-exit").unwrap(),
            ExitCondition::NextExit
        );
        assert_eq!(
            ExitCondition::parse("removed").unwrap(),
            ExitCondition::Removed
        );
        let e = ExitCondition::parse("exited").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert_eq!(e.text(), "invalid condition: \"exited\"");
    }

    #[test]
    fn conditions_by_podman_state_names() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            WaitOptions::conditions(&names(&["stopped", "exited", "running"])).unwrap(),
            [Condition::Exited, Condition::Exited, Condition::Running]
        );
        assert_eq!(
            WaitOptions::conditions(&names(&["configured", "removed"])).unwrap(),
            [Condition::Created, Condition::Removed]
        );
        let e = WaitOptions::conditions(&names(&["bogus"])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert_eq!(e.text(), "unknown container state: bogus: invalid argument");
    }
}
