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

/// Run in the child between fork and exec, `parent` being the monitor's
/// pid read before the fork.
fn set_pdeathsig(parent: libc::pid_t) -> std::io::Result<()> {
    // SAFETY: prctl and getppid on the child between fork and exec.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // The monitor died between the fork and the prctl (found by the
    // kill-anywhere harness): the signal would never come, and the helper
    // would outlive everything that could end it.
    // SAFETY: as above.
    if unsafe { libc::getppid() } != parent {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(125) };
    }
    Ok(())
}

fn monitor_pid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
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

/// The file to execute for `bin` (pasta): where the CPU has AVX2, pasta's
/// first act is to re-execute itself as `<real path>.avx2`; running that
/// directly saves an exec and a dynamic load on every container start.
fn pasta_executable(bin: &Path) -> PathBuf {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && let Ok(real) = std::fs::canonicalize(bin)
    {
        let mut avx2 = real.into_os_string();
        avx2.push(".avx2");
        let avx2 = PathBuf::from(avx2);
        if avx2.is_file() {
            return avx2;
        }
    }
    bin.to_path_buf()
}

pub(crate) fn spawn(plan: &NetworkPlan, paths: &NetPaths) -> Result<Helper, NetError> {
    let log = File::create(&paths.log)
        .map_err(|e| NetError::io(format!("creating {}", paths.log.display()), e))?;
    match &plan.mode {
        NetworkMode::Pasta { options } => {
            let bin = plan
                .helper_path
                .clone()
                .or_else(|| find_binary("pasta"))
                .ok_or_else(|| NetError::Helper("pasta is not installed (package passt)".into()))?;
            let _ = std::fs::remove_file(&paths.pid);
            let mut cmd = Command::new(pasta_executable(&bin));
            // pasta picks its mode from argv[0]; `is_ours` looks for it too.
            cmd.arg0(&bin);
            cmd.args(pasta::args(&paths.netns, &plan.ports, options, &paths.pid))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            // SAFETY: prctl only, between fork and exec.
            let parent = monitor_pid();
            unsafe { cmd.pre_exec(move || set_pdeathsig(parent)) };
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
            let bin = plan
                .helper_path
                .clone()
                .or_else(|| find_binary("slirp4netns"))
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
            let parent = monitor_pid();
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
                    set_pdeathsig(parent)
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
    /// Sends the helper SIGKILL without waiting: its exit is slow (the
    /// kernel unregisters its tap device), so the monitor kills it as soon
    /// as the container exited and reaps it later with [`Helper::reap`].
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Kills the helper (if [`Helper::kill`] did not) and waits for its
    /// exit: its published ports are free once this returns.
    pub fn reap(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

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
        let waiter = ReadyWaiter::new(&self.pid_file, self.child.id());
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
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(NetError::Helper(
                    "pasta did not get ready within 10s".into(),
                ));
            }
            waiter.wait(left);
        }
    }
}

/// Sleeps until pasta's pid file may have been written or pasta exited:
/// inotify on the file's directory (close after write, rename into it) and
/// a pidfd for the exit, so that readiness is seen as it happens rather
/// than at the next tick of a polling loop. Where either is unavailable it
/// degrades to short sleeps; the caller re-checks after every wake-up.
struct ReadyWaiter {
    inotify: Option<OwnedFd>,
    pidfd: Option<OwnedFd>,
}

impl ReadyWaiter {
    /// Set up before the caller's first look at the file, so that a write
    /// between that look and the wait still wakes it.
    fn new(file: &Path, pid: u32) -> ReadyWaiter {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        let dir = file.parent().unwrap_or(Path::new("."));
        let inotify = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .ok()
            .and_then(|dir| {
                // SAFETY: plain syscalls; the fd is owned from here on.
                unsafe {
                    let fd = libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK);
                    if fd < 0 {
                        return None;
                    }
                    let fd = OwnedFd::from_raw_fd(fd);
                    let mask = libc::IN_CLOSE_WRITE | libc::IN_MOVED_TO;
                    (libc::inotify_add_watch(fd.as_raw_fd(), dir.as_ptr(), mask) >= 0).then_some(fd)
                }
            });
        // SAFETY: pidfd_open on our own unreaped child; the fd is owned.
        let pidfd = unsafe {
            let fd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0);
            (fd >= 0).then(|| OwnedFd::from_raw_fd(fd as i32))
        };
        ReadyWaiter { inotify, pidfd }
    }

    fn wait(&self, left: Duration) {
        let Some(ino) = &self.inotify else {
            std::thread::sleep(left.min(Duration::from_millis(1)));
            return;
        };
        let mut fds = vec![libc::pollfd {
            fd: ino.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(p) = &self.pidfd {
            fds.push(libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // Without a pidfd an exit is only seen on a timeout: keep it short.
        let cap = if self.pidfd.is_some() { 1000 } else { 10 };
        let ms = left.as_millis().clamp(1, cap) as i32;
        // SAFETY: pollfds we own, their count.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n > 0 && fds[0].revents & libc::POLLIN != 0 {
            // Drain the events: the caller looks at the file itself.
            let mut buf = [0u8; 4096];
            while rustix_read(ino, &mut buf) > 0 {}
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

fn read_record(paths: &NetPaths) -> Option<HelperRecord> {
    std::fs::read(&paths.record)
        .ok()
        .and_then(|b| serde_json::from_slice::<HelperRecord>(&b).ok())
        .filter(|r| r.pid > 0)
}

/// Whether `pid` is a process on its way out: a zombie, or exiting (its
/// memory, and with it its command line, already released). A helper
/// killed by its monitor looks like this until the monitor reaps it; the
/// pid cannot be reused before that.
fn is_dying(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let zombie = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_ascii_whitespace().next())
        .is_some_and(|s| s == "Z");
    zombie || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.is_empty())
}

/// Waits (at most 2 s) until process `pid` no longer exists.
fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether `pid` is an unreaped child of this process (the monitor that
/// started the helper). Such a pid cannot have been reused, so it may be
/// signalled and waited for without looking at its command line, which is
/// empty once a killed process has begun to exit.
fn is_child(pid: i32) -> bool {
    // SAFETY: a siginfo we own; WNOWAIT leaves the child to be reaped.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        ) == 0
    }
}

/// Sends the recorded helper SIGKILL without waiting for it to exit. Its
/// exit is slow (the kernel unregisters its tap device: tens of ms), so the
/// monitor calls this as soon as the container has exited and lets that
/// overlap the runtime's `delete`; [`teardown`] then reaps it.
pub fn stop(paths: &NetPaths) {
    if let Some(rec) = read_record(paths)
        && (is_child(rec.pid) || is_ours(&rec))
    {
        // SAFETY: signalling our unreaped child or a pid just verified to
        // be our helper.
        unsafe { libc::kill(rec.pid, libc::SIGKILL) };
    }
}

/// Ends the helper recorded at `paths` (if it still runs and is ours),
/// unmounts and removes the namespace and the files. Idempotent: the
/// monitor calls it after the container's exit, `rm` after a killed monitor.
pub fn teardown(paths: &NetPaths) {
    if let Some(rec) = read_record(paths) {
        if is_child(rec.pid) {
            let mut status = 0;
            // SAFETY: killing and reaping our own child (perhaps already
            // killed by `stop`): its published ports are free once it is.
            unsafe {
                libc::kill(rec.pid, libc::SIGKILL);
                libc::waitpid(rec.pid, &mut status, 0);
            }
        } else if is_ours(&rec) {
            // Started by a monitor that died: its parent or init reaps it.
            // SAFETY: signalling a pid just verified to be our helper.
            unsafe { libc::kill(rec.pid, libc::SIGKILL) };
            wait_gone(rec.pid);
        } else if is_dying(rec.pid) {
            // Killed by its monitor, which reaps it while the cleanup runs:
            // its ports are free once it is gone.
            wait_gone(rec.pid);
        }
    }
    if let Err(e) = netns::remove(&paths.netns) {
        tracing::warn!("{e}");
    }
    for f in [&paths.record, &paths.pid, &paths.log, &paths.socket] {
        let _ = std::fs::remove_file(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hutch-net-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// The wait ends when the file is written or the process exits, well
    /// before the 1 s poll cap a missed event would show as.
    #[test]
    fn ready_waiter_wakes_on_write_and_on_exit() {
        let dir = scratch("ready");
        let file = dir.join("x.pid");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 0.1; echo $$ > {}", file.display()))
            .spawn()
            .expect("sh");
        let waiter = ReadyWaiter::new(&file, child.id());
        let t = Instant::now();
        while !std::fs::read_to_string(&file).is_ok_and(|p| !p.trim().is_empty()) {
            assert!(t.elapsed() < Duration::from_secs(5), "never written");
            waiter.wait(Duration::from_secs(5));
        }
        assert!(
            t.elapsed() < Duration::from_millis(700),
            "{:?}",
            t.elapsed()
        );
        let _ = child.wait();

        let mut child = Command::new("sh")
            .arg("-c")
            .arg("sleep 0.1")
            .spawn()
            .expect("sh");
        let waiter = ReadyWaiter::new(&dir.join("never.pid"), child.id());
        let t = Instant::now();
        while child.try_wait().expect("try_wait").is_none() {
            assert!(t.elapsed() < Duration::from_secs(5), "never exited");
            waiter.wait(Duration::from_secs(5));
        }
        assert!(
            t.elapsed() < Duration::from_millis(700),
            "{:?}",
            t.elapsed()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `stop` kills a helper the caller started without reaping it;
    /// `teardown` reaps it and removes the files.
    #[test]
    fn stop_then_teardown_reaps_our_child() {
        let dir = scratch("stop");
        let paths = NetPaths::new(&dir, "0123456789abcdef");
        // Reaped by pid in `teardown`, which is what this test checks.
        #[allow(clippy::zombie_processes)]
        let child = Command::new("sleep").arg("30").spawn().expect("sleep");
        let pid = child.id() as i32;
        let rec = HelperRecord {
            kind: "pasta".into(),
            pid,
            netns: paths.netns.clone(),
        };
        std::fs::write(&paths.record, serde_json::to_vec(&rec).expect("json")).expect("record");
        assert!(is_child(pid));
        stop(&paths);
        // Killed but not reaped: still our child until teardown.
        let t = Instant::now();
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.split_whitespace().nth(2) == Some("Z") {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(5), "not killed: {stat}");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(is_child(pid));
        teardown(&paths);
        assert!(!is_child(pid));
        assert!(!paths.record.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pasta_executable_is_an_existing_file() {
        assert_eq!(
            pasta_executable(Path::new("/nonexistent/pasta")),
            Path::new("/nonexistent/pasta")
        );
        if let Some(bin) = find_binary("pasta") {
            let exe = pasta_executable(&bin);
            assert!(exe.is_file(), "{}", exe.display());
        }
    }
}
