//! `kill`: a signal to running containers' init.

use hutch_storage::Store;

use super::lifecycle::{mark_stopped_by_user, parse_signal, signal, signal_name, state_name};
use super::select::{Report, Selection};
use super::{Paths, events};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::state::{Container, ContainerState, State};

/// `kill [-a] [-l] [-s SIGNAL] NAME...`.
#[derive(Debug, Clone)]
pub struct KillOptions {
    pub select: Selection,
    /// A number, a name with or without `SIG`, or `RTMIN+N`.
    pub signal: String,
}

impl Default for KillOptions {
    fn default() -> KillOptions {
        KillOptions {
            select: Selection::default(),
            signal: "KILL".to_owned(),
        }
    }
}

impl KillOptions {
    /// The signal's number; a bad name is bad input.
    pub fn validate(&self) -> Result<i32> {
        parse_signal(&self.signal)
    }
}

pub type KillReport = Report;

/// Signals every selected container; with `all` only those that run.
pub fn kill(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &KillOptions,
) -> Result<Vec<KillReport>> {
    let sig = opts.validate()?;
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        if opts.select.all
            && c.as_ref()
                .is_ok_and(|c| !matches!(c.state, ContainerState::Running))
        {
            continue;
        }
        let id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        let result = c.and_then(|c| kill_one(ctx, store, state, &c, sig));
        reports.push(Report::of(input, id, result));
    }
    Ok(reports)
}

/// Sends `sig` to the container's init; only a running container.
pub fn kill_one(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    sig: i32,
) -> Result<()> {
    let pid = match (c.state, c.pid) {
        (ContainerState::Running | ContainerState::Paused, Some(pid)) => pid,
        _ => crate::fail!(
            InvalidState,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorKind;

    #[test]
    fn signal_names_are_checked() {
        let with = |s: &str| KillOptions {
            signal: s.to_owned(),
            ..KillOptions::default()
        };
        assert_eq!(KillOptions::default().validate().unwrap(), libc::SIGKILL);
        assert_eq!(with("sigterm").validate().unwrap(), libc::SIGTERM);
        assert_eq!(with("HUP").validate().unwrap(), libc::SIGHUP);
        assert_eq!(with("10").validate().unwrap(), 10);
        let e = with("BOGUS").validate().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert_eq!(e.text(), "invalid signal: BOGUS");
        assert!(with("0").validate().is_err());
    }
}
