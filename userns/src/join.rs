//! Joining the pause process's user and mount namespaces.
//!
//! `setns` into a user namespace is refused to a multi-threaded process, so
//! this runs at the very top of `main`, before any thread or async runtime
//! exists. A pidfd pins the validated process, and one `setns(pidfd,
//! USER|MNT)` enters both namespaces at once (Linux 5.8); older kernels take
//! the /proc/PID/ns path.

use std::io;

use rustix::process::{Pid, PidfdFlags};
use rustix::thread::{LinkNameSpaceType, ThreadNameSpaceType};

use crate::pause::{self, PauseRecord};

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the pause process {pid} went away before it could be joined")]
    Gone { pid: i32 },
    #[error("joining the user namespace of pause process {pid}: {what}: {source}")]
    Setns {
        pid: i32,
        what: &'static str,
        source: io::Error,
    },
}

/// Enters the namespaces held by `record`'s process and returns to the
/// current working directory (entering a mount namespace resets it to that
/// namespace's root).
pub fn join(record: &PauseRecord, uid: u32) -> Result<(), JoinError> {
    let gone = || JoinError::Gone { pid: record.pid };
    let pid = Pid::from_raw(record.pid).ok_or_else(gone)?;
    let cwd = rustix::process::getcwd(Vec::new()).ok();
    match rustix::process::pidfd_open(pid, PidfdFlags::empty()) {
        Ok(pidfd) => {
            // Validated after the pidfd exists, so the fd is known to point
            // at our pause process and not at a reused pid.
            if !pause::is_alive(record, uid) {
                return Err(gone());
            }
            match rustix::thread::move_into_thread_name_spaces(
                std::os::fd::AsFd::as_fd(&pidfd),
                ThreadNameSpaceType::USER | ThreadNameSpaceType::MOUNT,
            ) {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::SRCH => return Err(gone()),
                Err(e) if e == rustix::io::Errno::INVAL => join_by_path(record, uid)?,
                Err(e) => {
                    return Err(JoinError::Setns {
                        pid: record.pid,
                        what: "setns(pidfd, CLONE_NEWUSER|CLONE_NEWNS)",
                        source: e.into(),
                    });
                }
            }
        }
        Err(e) if e == rustix::io::Errno::SRCH => return Err(gone()),
        Err(_) => join_by_path(record, uid)?,
    }
    if let Some(cwd) = cwd
        && rustix::process::chdir(cwd.as_c_str()).is_err()
    {
        let _ = rustix::process::chdir("/");
    }
    Ok(())
}

fn join_by_path(record: &PauseRecord, uid: u32) -> Result<(), JoinError> {
    let open = |ns: &'static str| {
        std::fs::File::open(format!("/proc/{}/ns/{ns}", record.pid)).map_err(|source| {
            JoinError::Setns {
                pid: record.pid,
                what: ns,
                source,
            }
        })
    };
    let user = open("user")?;
    let mnt = open("mnt")?;
    // Without a pidfd, the open descriptors pin the namespaces; checking the
    // process again proves they are the pause process's, not a reused pid's.
    if !pause::is_alive(record, uid) {
        return Err(JoinError::Gone { pid: record.pid });
    }
    let setns = |f: &std::fs::File, kind, what| {
        rustix::thread::move_into_link_name_space(std::os::fd::AsFd::as_fd(f), Some(kind)).map_err(
            |e| JoinError::Setns {
                pid: record.pid,
                what,
                source: e.into(),
            },
        )
    };
    setns(&user, LinkNameSpaceType::User, "setns(user)")?;
    setns(&mnt, LinkNameSpaceType::Mount, "setns(mnt)")
}
