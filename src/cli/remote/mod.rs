//! The remote client: `--remote`, `--url`, `--connection`, `CONTAINER_HOST`
//! and `CONTAINER_CONNECTION` send a command to a `hutch system service`
//! (or any libpod API service) instead of running it here. Over `unix://`
//! it connects to the socket; over `ssh://` it runs the system `ssh` with
//! an OpenSSH streamlocal forward (`-L local.sock:remote.sock`), so keys,
//! the agent and known_hosts are ssh's own business. A remote command
//! never joins or creates the local user namespace.

mod attach;
mod build;
mod checkpoint;
pub mod commands;
pub mod connections;
mod containers;
mod cp;
mod disk;
pub mod http;
mod images;
mod kube;
mod manifests;
mod objects;
mod pods;
mod secrets;
mod spec_gen;
mod system;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The libpod API version the client speaks (Podman 4.3.1's).
pub const API_PREFIX: &str = "/v4.3.1/libpod";

/// Where the service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Unix(PathBuf),
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        socket: String,
    },
}

/// Longest destination URL taken.
const MAX_URL: usize = 4096;

impl Destination {
    pub fn parse(url: &str) -> anyhow::Result<Destination> {
        if url.len() > MAX_URL {
            bail!("service URL longer than {MAX_URL} bytes");
        }
        if let Some(path) = url.strip_prefix("unix://") {
            if !path.starts_with('/') {
                bail!("unix://{path}: the socket path must be absolute (unix:///run/...)");
            }
            return Ok(Destination::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = url.strip_prefix("ssh://") {
            let (authority, socket) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            if socket.len() < 2 {
                bail!(
                    "{url}: give the service's socket path on that host \
                     (ssh://user@host[:port]/run/user/UID/hutch/hutch.sock)"
                );
            }
            let (user, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_owned()).filter(|u| !u.is_empty()), h),
                None => (None, authority),
            };
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
                    h.trim_start_matches('[').trim_end_matches(']'),
                    Some(
                        p.parse::<u16>()
                            .with_context(|| format!("{url}: bad port {p:?}"))?,
                    ),
                ),
                _ => (hostport, None),
            };
            if host.is_empty() || host.starts_with('-') {
                bail!("{url}: no host name");
            }
            return Ok(Destination::Ssh {
                user,
                host: host.to_owned(),
                port,
                socket: socket.to_owned(),
            });
        }
        if url.starts_with("tcp://") {
            bail!(
                "{url}: hutch's remote client speaks unix:// and ssh:// only (tcp has no authentication)"
            );
        }
        bail!("{url}: not a service URL: unix:///path or ssh://user@host[:port]/path")
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Unix(p) => write!(f, "unix://{}", p.display()),
            Destination::Ssh {
                user,
                host,
                port,
                socket,
            } => {
                write!(f, "ssh://")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                write!(f, "{host}")?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                write!(f, "{socket}")
            }
        }
    }
}

/// What the global flags and the environment ask for.
pub struct Selection<'a> {
    pub remote: bool,
    pub url: Option<&'a str>,
    pub connection: Option<&'a str>,
    pub identity: Option<&'a Path>,
}

/// The destination and ssh key, if the command is remote; Podman's order:
/// `--url`, `--connection`, `CONTAINER_HOST`, `CONTAINER_CONNECTION`, then
/// with `--remote` the default connection, else the local service socket.
pub fn select(s: &Selection) -> Option<anyhow::Result<(Destination, Option<PathBuf>)>> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let by_name = |name: &str| -> anyhow::Result<(Destination, Option<PathBuf>)> {
        let all = connections::Connections::load()?;
        let c = all.get(name)?;
        let key = (!c.identity.is_empty()).then(|| PathBuf::from(&c.identity));
        Ok((Destination::parse(&c.uri)?, key))
    };
    let identity = s
        .identity
        .map(Path::to_owned)
        .or_else(|| env("CONTAINER_SSHKEY").map(PathBuf::from));
    let with_key = |d: Destination| Ok((d, identity.clone()));
    if let Some(u) = s.url {
        return Some(Destination::parse(u).and_then(with_key));
    }
    if let Some(c) = s.connection {
        return Some(by_name(c));
    }
    if let Some(u) = env("CONTAINER_HOST") {
        return Some(Destination::parse(&u).and_then(with_key));
    }
    if let Some(c) = env("CONTAINER_CONNECTION") {
        return Some(by_name(&c));
    }
    if !s.remote {
        return None;
    }
    Some((|| {
        let all = connections::Connections::load()?;
        if !all.default.is_empty() {
            return by_name(&all.default);
        }
        let run = match env("XDG_RUNTIME_DIR") {
            Some(x) => PathBuf::from(x),
            // SAFETY: getuid has no preconditions.
            None => PathBuf::from(format!("/run/user/{}", unsafe { libc::getuid() })),
        };
        with_key(Destination::Unix(run.join("hutch/hutch.sock")))
    })())
}

/// The tunnels' directories, removed by [`forget_tunnels`] when the
/// process ends without running destructors.
static TUNNEL_DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes the ssh tunnels' directories (their ssh ends with this
/// process, by its parent-death signal).
pub fn forget_tunnels() {
    if let Ok(dirs) = TUNNEL_DIRS.lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A connected service: its socket here, and the ssh process forwarding
/// it (ended when this goes).
pub struct Service {
    pub socket: PathBuf,
    tunnel: Option<(Child, PathBuf)>,
}

/// How long ssh may take to log in and open the forward.
const SSH_DEADLINE: Duration = Duration::from_secs(30);

impl Service {
    pub fn connect(dest: &Destination, identity: Option<&Path>) -> anyhow::Result<Service> {
        let (user, host, port, remote) = match dest {
            Destination::Unix(p) => {
                return Ok(Service {
                    socket: p.clone(),
                    tunnel: None,
                });
            }
            Destination::Ssh {
                user,
                host,
                port,
                socket,
            } => (user, host, port, socket),
        };
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|x| !x.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!("hutch-ssh-{}-{nanos}", std::process::id()));
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        let local = dir.join("api.sock");
        let mut cmd = Command::new("ssh");
        cmd.args(["-N", "-T", "-o", "ExitOnForwardFailure=yes"])
            .arg("-L")
            .arg(format!("{}:{remote}", local.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(p) = port {
            cmd.arg("-p").arg(p.to_string());
        }
        if let Some(k) = identity {
            cmd.arg("-i").arg(k);
        }
        if let Some(u) = user {
            cmd.arg("-l").arg(u);
        }
        cmd.arg("--").arg(host);
        // The forward must not outlive this command, however it ends (a
        // SIGPIPE into `| head` runs no destructor).
        // SAFETY: prctl in the forked child before exec, async-signal-safe.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e).context("running ssh (install openssh-client)");
            }
        };
        let started = Instant::now();
        loop {
            if std::os::unix::net::UnixStream::connect(&local).is_ok() {
                if let Ok(mut dirs) = TUNNEL_DIRS.lock() {
                    dirs.push(dir.clone());
                }
                return Ok(Service {
                    socket: local,
                    tunnel: Some((child, dir)),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = (&mut e).take(64 * 1024).read_to_string(&mut err);
                }
                let _ = std::fs::remove_dir_all(&dir);
                bail!("ssh to {dest} failed ({status}): {}", err.trim());
            }
            if started.elapsed() > SSH_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&dir);
                bail!(
                    "ssh to {dest}: no forward after {}s",
                    SSH_DEADLINE.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One request to `path` under the libpod API.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<http::Response> {
        http::request(&self.socket, method, &format!("{API_PREFIX}{path}"), body)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some((child, dir)) = &mut self.tunnel {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&*dir);
        }
    }
}

/// Percent-encodes a query value or path segment.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_back() {
        for u in [
            "unix:///run/user/1000/hutch/hutch.sock",
            "ssh://core@host.example:2222/run/user/1000/hutch/hutch.sock",
            "ssh://host/run/hutch/hutch.sock",
        ] {
            assert_eq!(Destination::parse(u).unwrap().to_string(), u);
        }
        let d = Destination::parse("ssh://a@h:22/s.sock").unwrap();
        assert_eq!(
            d,
            Destination::Ssh {
                user: Some("a".into()),
                host: "h".into(),
                port: Some(22),
                socket: "/s.sock".into()
            }
        );
        assert!(
            Destination::parse("ssh://host").is_err(),
            "a socket path is required"
        );
        assert!(Destination::parse("ssh://-oProxyCommand=x/s").is_err());
        assert!(Destination::parse("unix://rel.sock").is_err());
        assert!(Destination::parse("tcp://h:1").is_err());
        assert!(Destination::parse("http://h").is_err());
    }
}
