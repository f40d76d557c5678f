//! Where the service listens: a unix socket path (the default, 0600 in the
//! user's 0700 runtime dir), a TCP address (only when asked for, with a
//! warning: there is no authentication), or the sockets systemd passes
//! (`LISTEN_FDS`/`LISTEN_PID`).

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

/// The first fd systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("invalid service URI {0:?}: expected unix:///path/to/socket or tcp://ADDRESS:PORT")]
    BadUri(String),
    #[error("{path} is in use by a running service")]
    InUse { path: PathBuf },
    #[error(
        "{path} exists and is not a socket of this user (owner uid {owner}): remove it or choose another path"
    )]
    NotOurs { path: PathBuf, owner: u32 },
    #[error("listening on {what}: {source}")]
    Bind {
        what: String,
        source: std::io::Error,
    },
    #[error("LISTEN_FDS={0}: expected one socket from systemd")]
    Activation(String),
}

impl Endpoint {
    /// `unix:///path`, `unix:path`, `tcp://host:port` (`tcp:` too).
    pub fn parse(uri: &str) -> Result<Endpoint, ListenError> {
        let bad = || ListenError::BadUri(uri.to_owned());
        if let Some(rest) = uri.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(bad());
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = uri.strip_prefix("tcp:") {
            let addr = rest.strip_prefix("//").unwrap_or(rest);
            let addr = addr.strip_suffix('/').unwrap_or(addr);
            return addr.parse().map(Endpoint::Tcp).map_err(|_| bad());
        }
        Err(bad())
    }

    pub fn uri(&self) -> String {
        match self {
            Endpoint::Unix(p) => format!("unix://{}", p.display()),
            Endpoint::Tcp(a) => format!("tcp://{a}"),
        }
    }
}

/// A listener ready for the async runtime (non-blocking).
pub enum Bound {
    Unix(std::os::unix::net::UnixListener, Option<PathBuf>),
    Tcp(std::net::TcpListener),
}

/// The socket systemd passed, when `LISTEN_PID` is this process. Values are
/// the caller's environment, read by the front end.
pub fn activated(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
) -> Result<Option<Bound>, ListenError> {
    let (Some(pid), Some(fds)) = (listen_pid, listen_fds) else {
        return Ok(None);
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(None);
    }
    if fds.trim() != "1" {
        return Err(ListenError::Activation(fds.to_owned()));
    }
    let fd = LISTEN_FDS_START;
    // SAFETY: systemd hands fd 3 to this process (LISTEN_PID checked);
    // nothing else in hutch uses it before this point.
    let sock = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // systemd passes it inheritable; the monitors and runtimes this
    // service starts must not hold the listening socket.
    rustix::io::fcntl_setfd(&sock, rustix::io::FdFlags::CLOEXEC)
        .map_err(|e| ListenError::Activation(format!("{fds} ({e})")))?;
    let family = rustix::net::getsockname(&sock)
        .map_err(|e| ListenError::Activation(format!("{fds} ({e})")))?;
    let bind_err = |source: std::io::Error| ListenError::Bind {
        what: "the socket from systemd".into(),
        source,
    };
    match family.address_family() {
        rustix::net::AddressFamily::UNIX => {
            let l = std::os::unix::net::UnixListener::from(sock);
            l.set_nonblocking(true).map_err(bind_err)?;
            Ok(Some(Bound::Unix(l, None)))
        }
        _ => {
            let l = std::net::TcpListener::from(sock);
            l.set_nonblocking(true).map_err(bind_err)?;
            Ok(Some(Bound::Tcp(l)))
        }
    }
}

/// Binds `endpoint`. A stale socket file of this user (nobody answers on
/// it) is replaced; a live one, or a file of someone else, is refused.
/// "This user" is the effective uid: inside the user namespace the user's
/// own files show as owned by 0.
pub fn bind(endpoint: &Endpoint) -> Result<Bound, ListenError> {
    let uid = rustix::process::geteuid().as_raw();
    match endpoint {
        Endpoint::Tcp(addr) => {
            let l = std::net::TcpListener::bind(addr).map_err(|source| ListenError::Bind {
                what: endpoint.uri(),
                source,
            })?;
            l.set_nonblocking(true)
                .map_err(|source| ListenError::Bind {
                    what: endpoint.uri(),
                    source,
                })?;
            Ok(Bound::Tcp(l))
        }
        Endpoint::Unix(path) => {
            let err = |source: std::io::Error| ListenError::Bind {
                what: path.display().to_string(),
                source,
            };
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if !meta.file_type().is_socket() || meta.uid() != uid {
                    return Err(ListenError::NotOurs {
                        path: path.clone(),
                        owner: meta.uid(),
                    });
                }
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(ListenError::InUse { path: path.clone() });
                }
                std::fs::remove_file(path).map_err(err)?;
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            let l = std::os::unix::net::UnixListener::bind(path).map_err(err)?;
            // The runtime dir is 0700 already; the socket itself is the
            // user's alone too, as Podman's is.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
            l.set_nonblocking(true).map_err(err)?;
            Ok(Bound::Unix(l, Some(path.clone())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            Endpoint::parse("unix:///run/user/1/hutch/hutch.sock").unwrap(),
            Endpoint::Unix("/run/user/1/hutch/hutch.sock".into())
        );
        assert_eq!(
            Endpoint::parse("unix:/tmp/x.sock").unwrap(),
            Endpoint::Unix("/tmp/x.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:8080").unwrap(),
            Endpoint::Tcp("127.0.0.1:8080".parse().unwrap())
        );
        for bad in [
            "unix://relative",
            "http://x",
            "tcp://nohost",
            "/tmp/x.sock",
            "",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn activation_needs_our_pid() {
        assert!(activated(None, Some("1")).unwrap().is_none());
        assert!(activated(Some("1"), Some("1")).unwrap().is_none());
        let me = std::process::id().to_string();
        assert!(activated(Some(&me), Some("2")).is_err());
    }

    #[test]
    fn stale_sockets_are_replaced_and_foreign_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let first = bind(&Endpoint::Unix(path.clone())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Live: refused.
        assert!(matches!(
            bind(&Endpoint::Unix(path.clone())),
            Err(ListenError::InUse { .. })
        ));
        drop(first);
        // Stale: replaced.
        bind(&Endpoint::Unix(path.clone())).unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(
            bind(&Endpoint::Unix(file)),
            Err(ListenError::NotOurs { .. })
        ));
    }
}
