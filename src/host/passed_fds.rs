//! Descriptors a command was started with beyond stdio, for its container:
//! a systemd socket unit's (`LISTEN_FDS`, sd_listen_fds(3)) or the caller's
//! `--preserve-fds N`. Taken over once, before the command opens anything,
//! so that a descriptor number the caller did not pass is never mistaken
//! for one of hutch's own files.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The first descriptor passed (`SD_LISTEN_FDS_START`).
pub const FIRST_FD: RawFd = 3;

/// At most this many descriptors are taken over (a bound on outside input:
/// systemd's socket units hold far fewer; the runtime passes each one).
pub const MAX_FDS: u32 = 1024;

/// At most this many bytes of `LISTEN_FDNAMES` are passed on (each name is
/// at most 255 bytes, one per descriptor).
pub const MAX_NAMES_LEN: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PassedFdsError {
    /// Podman's words, so that scripts see the same error.
    #[error(
        "file descriptor {0} is not available - the preserve-fds option requires that file descriptors must be passed"
    )]
    NotAvailable(RawFd),
    #[error("{var}={value:?}: {why}")]
    BadActivation {
        var: &'static str,
        value: String,
        why: &'static str,
    },
}

/// Socket activation meant for this process: `LISTEN_PID` is its pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// `LISTEN_FDS`: descriptors from [`FIRST_FD`].
    pub count: u32,
    /// `LISTEN_FDNAMES`, as given (colon-separated).
    pub names: Option<String>,
}

/// Socket activation from the environment (`get` reads a variable) of the
/// process `pid`. `None` when there is none for this process: no
/// `LISTEN_FDS`, or a `LISTEN_PID` of another process (variables a parent
/// left behind, as sd_listen_fds(3) ignores them).
pub fn activation(
    pid: u32,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<Activation>, PassedFdsError> {
    let (Some(fds), Some(listen_pid)) = (get("LISTEN_FDS"), get("LISTEN_PID")) else {
        return Ok(None);
    };
    if listen_pid.trim().parse::<u32>().ok() != Some(pid) {
        return Ok(None);
    }
    let bad = |why| PassedFdsError::BadActivation {
        var: "LISTEN_FDS",
        value: fds.chars().take(64).collect(),
        why,
    };
    let count: u32 = fds
        .trim()
        .parse()
        .map_err(|_| bad("not a number of descriptors"))?;
    if count > MAX_FDS {
        return Err(bad("more descriptors than hutch passes on (1024)"));
    }
    if count == 0 {
        return Ok(None);
    }
    let names = get("LISTEN_FDNAMES");
    if let Some(n) = &names
        && n.len() > MAX_NAMES_LEN
    {
        return Err(PassedFdsError::BadActivation {
            var: "LISTEN_FDNAMES",
            value: n.chars().take(64).collect(),
            why: "longer than 64 KiB",
        });
    }
    Ok(Some(Activation { count, names }))
}

/// Takes over descriptors [`FIRST_FD`]..+`count`: each must be open; each
/// is made close-on-exec, so that it reaches only the container (through
/// the monitor, which places it) and no other program hutch runs.
///
/// Call it before this process opens any file (see the module comment).
pub fn claim(count: u32) -> Result<Vec<OwnedFd>, PassedFdsError> {
    let count = count.min(MAX_FDS);
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let fd = FIRST_FD + i as RawFd;
        // SAFETY: fcntl on a descriptor number; F_GETFD fails on a closed one.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            return Err(PassedFdsError::NotAvailable(fd));
        }
        // SAFETY: as above, on the open descriptor.
        unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        // SAFETY: the descriptor is open and was inherited, not opened by
        // this process (the caller claims before opening anything): nothing
        // else owns it.
        out.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn activation_is_read_for_this_process_only() {
        let vars = [
            ("LISTEN_PID", "42"),
            ("LISTEN_FDS", "2"),
            ("LISTEN_FDNAMES", "web:admin"),
        ];
        assert_eq!(
            activation(42, env(&vars)),
            Ok(Some(Activation {
                count: 2,
                names: Some("web:admin".into())
            }))
        );
        // A parent's variables.
        assert_eq!(activation(43, env(&vars)), Ok(None));
        assert_eq!(activation(42, env(&[("LISTEN_FDS", "1")])), Ok(None));
        assert_eq!(
            activation(42, env(&[("LISTEN_PID", "42"), ("LISTEN_FDS", "0")])),
            Ok(None)
        );
        for bad in ["x", "-1", "5000"] {
            assert!(
                activation(42, env(&[("LISTEN_PID", "42"), ("LISTEN_FDS", bad)])).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_missing_descriptor_is_named_in_podmans_words() {
        assert_eq!(
            PassedFdsError::NotAvailable(4).to_string(),
            "file descriptor 4 is not available - the preserve-fds option requires that file descriptors must be passed"
        );
        assert_eq!(claim(0).map(|v| v.len()), Ok(0));
    }
}
