//! The descriptors `run` and `start` hand to the container: taken over at
//! the start of the command (before hutch opens a file of its own, which
//! could take a number the caller left free), used by the command later.

use std::sync::Mutex;

use crate::engine::container::activation::{Activation, PassedFds};
use crate::host::passed_fds;

static PASSED: Mutex<Option<Result<PassedFds, passed_fds::PassedFdsError>>> = Mutex::new(None);

/// Takes over what this process was given for its container:
/// `--preserve-fds N` (`preserve`; `None` for `start`, which has no such
/// flag), else a systemd socket unit's descriptors (`LISTEN_PID` this
/// process). The activation variables leave the environment either way:
/// they are not for the monitors and cleanups hutch starts.
///
/// Call it once, first thing, while the process is single-threaded.
pub fn claim(preserve: Option<u32>) {
    let env = |k: &str| std::env::var(k).ok();
    let taken = passed_fds::activation(std::process::id(), env).and_then(|activation| {
        let preserve = preserve.unwrap_or(0);
        if preserve > 0 && activation.is_some() {
            eprintln!("Warning: Ignoring LISTEN_FDS to preserve custom user-specified FDs");
        }
        let count = if preserve > 0 {
            preserve
        } else {
            activation.as_ref().map_or(0, |a| a.count)
        };
        Ok(PassedFds {
            fds: passed_fds::claim(count)?,
            activation: activation.map(|a| Activation {
                count: a.count,
                names: a.names,
            }),
        })
    });
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::remove_var(k) };
    }
    if let Ok(mut p) = PASSED.lock() {
        *p = Some(taken);
    }
}

/// What [`claim`] took, for the command's one start (nothing when it was
/// not called or found nothing).
pub fn take() -> anyhow::Result<Option<PassedFds>> {
    let taken = PASSED.lock().ok().and_then(|mut p| p.take());
    match taken {
        None => Ok(None),
        Some(Ok(p)) if p.fds.is_empty() && p.activation.is_none() => Ok(None),
        Some(Ok(p)) => Ok(Some(p)),
        Some(Err(e)) => Err(e.into()),
    }
}
