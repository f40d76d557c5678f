//! The process that connects a container's namespace to the host: pasta or
//! slirp4netns, started by the container monitor before the runtime creates
//! the container, and ended after it exits.
//!
//! Neither outlives the monitor: both get PR_SET_PDEATHSIG=SIGKILL (pasta
//! runs in the foreground for that, rather than daemonising as Podman lets
//! it), and slirp4netns also exits when its exit fd, held by the monitor,
//! closes. A record beside the namespace file lets a later command finish a
//! teardown that a killed monitor could not do.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::mode::{NetworkMode, find_binary};
use crate::{NetError, NetworkPlan, netns, pasta, slirp};

/// What a later command needs to end a helper: written once it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperRecord {
    pub kind: String,
    pub pid: i32,
    pub netns: PathBuf,
}

/// A started helper. Dropping it closes slirp4netns's exit fd (which ends
/// it); [`teardown`] ends either kind and removes the namespace.
pub struct Helper {
    pub record: HelperRecord,
    child: Child,
    _exit_fd: Option<OwnedFd>,
    /// slirp4netns writes one byte here once configured.
    ready_fd: Option<OwnedFd>,
    plan: NetworkPlan,
    pid_file: PathBuf,
    log: PathBuf,
    socket: PathBuf,
}

/// Where a container's network files live: `DIR/ID` (the namespace),
/// `DIR/ID.json` (the record), `DIR/ID.pid`, `DIR/ID.log`, and the slirp4netns
/// API socket `DIR/ID[..12].sock` (socket paths are short).
pub struct NetPaths {
    pub netns: PathBuf,
    pub record: PathBuf,
    pub pid: PathBuf,
    pub log: PathBuf,
    pub socket: PathBuf,
}

impl NetPaths {
    pub fn new(dir: &Path, id: &str) -> NetPaths {
        NetPaths {
            netns: dir.join(id),
            record: dir.join(format!("{id}.json")),
            pid: dir.join(format!("{id}.pid")),
            log: dir.join(format!("{id}.log")),
            socket: dir.join(format!("{}.sock", &id[..12.min(id.len())])),
        }
    }
}

fn set_pdeathsig() -> std::io::Result<()> {
    // SAFETY: prctl on the child between fork and exec.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("to syslog"))
        .collect();
    lines[lines.len().saturating_sub(3)..].join("; ")
}

/// Creates the namespace at `paths.netns` and starts the plan's helper on
/// it, without waiting: the caller overlaps the helper's start-up (pasta
/// takes a few hundred ms on a busy host) with the runtime's `create`, then
/// calls [`Helper::wait_ready`] before the container's process starts. On
/// error nothing is left behind.
pub fn start(plan: &NetworkPlan, paths: &NetPaths) -> Result<Helper, NetError> {
    netns::create(&paths.netns)?;
    let started = spawn(plan, paths);
    match started {
        Ok(h) => {
            let rec = serde_json::to_vec(&h.record).unwrap_or_default();
            if let Err(e) = std::fs::write(&paths.record, rec) {
                let mut h = h;
                let _ = h.child.kill();
                let _ = h.child.wait();
                teardown(paths);
                return Err(NetError::io(
                    format!("writing {}", paths.record.display()),
                    e,
                ));
            }
            Ok(h)
        }
        Err(e) => {
            teardown(paths);
            Err(e)
        }
    }
}

pub(crate) fn spawn(plan: &NetworkPlan, paths: &NetPaths) -> Result<Helper, NetError> {
    let log = File::create(&paths.log)
        .map_err(|e| NetError::io(format!("creating {}", paths.log.display()), e))?;
    match &plan.mode {
        NetworkMode::Pasta { options } => {
            let bin = find_binary("pasta")
                .ok_or_else(|| NetError::Helper("pasta is not installed (package passt)".into()))?;
            let _ = std::fs::remove_file(&paths.pid);
            let mut cmd = Command::new(&bin);
            cmd.args(pasta::args(&paths.netns, &plan.ports, options, &paths.pid))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            // SAFETY: prctl only, between fork and exec.
            unsafe { cmd.pre_exec(set_pdeathsig) };
            let child = cmd
                .spawn()
                .map_err(|e| NetError::io(format!("starting {}", bin.display()), e))?;
            Ok(Helper {
                record: HelperRecord {
                    kind: "pasta".into(),
                    pid: child.id() as i32,
                    netns: paths.netns.clone(),
                },
                child,
                _exit_fd: None,
                ready_fd: None,
                plan: plan.clone(),
                pid_file: paths.pid.clone(),
                log: paths.log.clone(),
                socket: paths.socket.clone(),
            })
        }
        NetworkMode::Slirp4netns { .. } => {
            let bin = find_binary("slirp4netns")
                .ok_or_else(|| NetError::Helper("slirp4netns is not installed".into()))?;
            let _ = std::fs::remove_file(&paths.socket);
            let pipe = || -> Result<(OwnedFd, OwnedFd), NetError> {
                let mut fds = [0; 2];
                // SAFETY: pipe2 fills two fds we then own.
                if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
                    return Err(NetError::io(
                        "creating a pipe",
                        std::io::Error::last_os_error(),
                    ));
                }
                // SAFETY: fresh fds from pipe2.
                Ok(unsafe {
                    use std::os::fd::FromRawFd;
                    (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
                })
            };
            let (exit_r, exit_w) = pipe()?;
            let (ready_r, ready_w) = pipe()?;
            let (er, rw) = (exit_r.as_raw_fd(), ready_w.as_raw_fd());
            let mut cmd = Command::new(&bin);
            cmd.args(slirp::args(&plan.mode, &paths.netns, &paths.socket)?)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            // SAFETY: dup2/fcntl/prctl only, between fork and exec. The
            // sources are moved above the targets first so that placing one
            // never closes the other.
            unsafe {
                cmd.pre_exec(move || {
                    let hi_e = libc::fcntl(er, libc::F_DUPFD, 10);
                    let hi_r = libc::fcntl(rw, libc::F_DUPFD, 10);
                    if hi_e < 0
                        || hi_r < 0
                        || libc::dup2(hi_e, slirp::EXIT_FD) < 0
                        || libc::dup2(hi_r, slirp::READY_FD) < 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(hi_e);
                    libc::close(hi_r);
                    set_pdeathsig()
                })
            };
            let child = cmd
                .spawn()
                .map_err(|e| NetError::io(format!("starting {}", bin.display()), e))?;
            drop(exit_r);
            drop(ready_w);
            Ok(Helper {
                record: HelperRecord {
                    kind: "slirp4netns".into(),
                    pid: child.id() as i32,
                    netns: paths.netns.clone(),
                },
                child,
                _exit_fd: Some(exit_w),
                ready_fd: Some(ready_r),
                plan: plan.clone(),
                pid_file: paths.pid.clone(),
                log: paths.log.clone(),
                socket: paths.socket.clone(),
            })
        }
        other => Err(NetError::Helper(format!(
            "network mode {} has no helper",
            other.name()
        ))),
    }
}

impl Helper {
    /// Waits until the helper has configured the namespace and bound the
    /// published ports (slirp4netns: publishes them now).
    pub fn wait_ready(&mut self) -> Result<(), NetError> {
        if let Some(ready) = self.ready_fd.take() {
            // One byte once configured; EOF if it died first.
            let mut b = [0u8; 1];
            if rustix_read(&ready, &mut b) != 1 {
                let _ = self.child.kill();
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(NetError::Helper(format!(
                    "slirp4netns failed ({status}): {}",
                    log_tail(&self.log)
                )));
            }
            for p in &self.plan.ports {
                slirp::add_hostfwd(&self.socket, &self.plan.mode, p)?;
            }
            return Ok(());
        }
        // In the foreground pasta writes its pid file once the namespace is
        // configured and the ports are bound.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::fs::read_to_string(&self.pid_file).is_ok_and(|p| !p.trim().is_empty()) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(NetError::Helper(format!(
                    "pasta failed ({status}): {}",
                    log_tail(&self.log)
                )));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(NetError::Helper(
                    "pasta did not get ready within 10s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn rustix_read(fd: &OwnedFd, buf: &mut [u8]) -> isize {
    loop {
        // SAFETY: reading into a buffer we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return n;
    }
}

/// Whether `pid` is still the helper the record names: same program kind
/// and the same namespace path on its command line (pids get reused).
fn is_ours(rec: &HelperRecord) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", rec.pid)) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let netns = rec.netns.as_os_str().as_encoded_bytes();
    args.contains(&netns)
        && args
            .first()
            .is_some_and(|a0| String::from_utf8_lossy(a0).contains(rec.kind.as_str()))
}

/// Ends the helper recorded at `paths` (if it still runs and is ours),
/// unmounts and removes the namespace and the files. Idempotent: the
/// monitor calls it after the container's exit, `rm` after a killed monitor.
pub fn teardown(paths: &NetPaths) {
    if let Some(rec) = std::fs::read(&paths.record)
        .ok()
        .and_then(|b| serde_json::from_slice::<HelperRecord>(&b).ok())
        && rec.pid > 0
        && is_ours(&rec)
    {
        // SAFETY: signalling a pid just verified to be our helper.
        unsafe { libc::kill(rec.pid, libc::SIGKILL) };
        let mut status = 0;
        // SAFETY: reaping our own child; ECHILD when another process
        // started it (then its parent or init reaps it).
        let reaped = unsafe { libc::waitpid(rec.pid, &mut status, 0) };
        if reaped != rec.pid {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Path::new(&format!("/proc/{}", rec.pid)).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    if let Err(e) = netns::remove(&paths.netns) {
        tracing::warn!("{e}");
    }
    for f in [&paths.record, &paths.pid, &paths.log, &paths.socket] {
        let _ = std::fs::remove_file(f);
    }
}
