//! One container's life under its monitor: network helper, runtime
//! `create`, report to the spawner, `start` (after the first client
//! attached, for `run` in the foreground), relay, exit record, cleanup.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hutch_rootless_net::{Helper, NetPaths, helper};

use crate::forward::Forwarder;
use crate::frame::{self, FRAME_STDERR, exit_code, start_failure_code, write_frame};
use crate::launch::{Launch, Notify};
use crate::logfile::{LogWriter, Stream};
use crate::relay::Relay;

/// The socket to the spawner (fd 3): reports go out, `go` comes in, and
/// its end of file says the spawner has recorded what it was told.
struct Sync(Option<UnixStream>, SpawnerGone);

/// What the spawner said before the runtime is run.
enum Spawner {
    Go,
    Abort,
    /// The spawner died before `go`: what it made (the layer mount) is
    /// nobody's to undo but this process's cleanup.
    Gone,
}

/// Whether the spawner went away (its end closed, or a write to it
/// failed) as opposed to there never having been one.
#[derive(Default, Clone, Copy)]
struct SpawnerGone(bool);

impl Sync {
    fn from_fd3() -> Sync {
        // SAFETY: fcntl on a descriptor number; F_GETFD fails on a closed one.
        if unsafe { libc::fcntl(3, libc::F_GETFD) } < 0 {
            return Sync(None, SpawnerGone(false));
        }
        // SAFETY: fd 3 was placed by the spawner for this process alone.
        let fd = unsafe { OwnedFd::from_raw_fd(3) };
        // Not passed on to the runtime, the helper or the cleanup: the
        // spawner waits for its end of file.
        // SAFETY: fcntl on the fd we own.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        Sync(Some(UnixStream::from(fd)), SpawnerGone(false))
    }

    fn report(&mut self, msg: &str) {
        if let Some(s) = &mut self.0
            && writeln!(s, "{}", msg.replace('\n', " ")).is_err()
        {
            self.0 = None;
            self.1 = SpawnerGone(true);
        }
    }

    /// hutch's `go` (it moved this process into the container's cgroup),
    /// its `abort` (it gave up and cleans up itself), or its death.
    fn wait_go(&mut self) -> Spawner {
        let Some(s) = &self.0 else { return Spawner::Go };
        let mut line = String::new();
        let said = match BufReader::new(s).read_line(&mut line) {
            Ok(_) if line.trim_end() == "go" => return Spawner::Go,
            Ok(_) if line.trim_end() == "abort" => Spawner::Abort,
            _ => Spawner::Gone,
        };
        self.0 = None;
        self.1 = SpawnerGone(true);
        said
    }

    /// Waits for the spawner's `recorded` after `ok PID`: it has written
    /// the start to the database. False when it died first (end of file):
    /// then nobody knows the container runs, and it must not go on.
    fn wait_recorded(&mut self) -> bool {
        let Some(s) = &self.0 else {
            return !self.1.0;
        };
        let mut line = String::new();
        let ok = BufReader::new(s).read_line(&mut line).is_ok() && line.trim_end() == "recorded";
        if !ok {
            self.0 = None;
        }
        ok
    }

    /// Waits until the spawner closed its end: it has recorded the start,
    /// so the cleanup's record of the exit cannot come before it.
    fn wait_closed(&mut self) {
        if let Some(mut s) = self.0.take() {
            let mut sink = [0u8; 64];
            while matches!(std::io::Read::read(&mut s, &mut sink), Ok(n) if n > 0) {}
        }
    }
}

fn warn(l: &Launch, msg: &str) {
    eprintln!(
        "{} hutch-monitor {}: {msg}",
        crate::logfile::timestamp(now_ns()),
        short(&l.id)
    );
}

/// The timer thread's warnings (it has no [`Launch`] to name the
/// container by; monitor.log is the container's own).
fn health_warn(msg: &str) {
    eprintln!(
        "{} hutch-monitor: {msg}",
        crate::logfile::timestamp(now_ns())
    );
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

/// The network pieces that live as long as this process.
#[derive(Default)]
struct Network {
    helper: Option<Helper>,
    forwarder: Option<Forwarder>,
}

impl Network {
    /// Ends both and waits for the helper: the published ports are free
    /// before the cleanup (or a restart) runs.
    fn end(&mut self) {
        if let Some(f) = self.forwarder.take() {
            f.stop();
        }
        if let Some(h) = &mut self.helper {
            h.reap();
        }
        self.helper = None;
    }
}

/// Runs the container once; returns its exit code (or the code of the
/// failure that kept it from running).
pub fn run(l: &Launch) -> i32 {
    let mut sync = Sync::from_fd3();
    // First, before any program is started: the descriptors for the
    // container reach the runtime's `create` and nothing else.
    let passed = take_passed(l.pass_fds);
    // The container's init becomes this process's child once the runtime's
    // `create` exits, so it can be waited for and its pidfd signalled.
    // SAFETY: prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut net = Network::default();
    // The helper is this process's child: PR_SET_PDEATHSIG ends it with
    // the monitor, and the monitor reaps it before the cleanup runs.
    // Started first: its start-up (tens of ms) overlaps hutch's layer
    // mount and the runtime's `create`. With a cgroup it starts once this
    // process is in it (after `go`), so that it is accounted there too.
    let start_helper = |net: &mut Network| -> Result<(), String> {
        let Some(h) = &l.helper else { return Ok(()) };
        match helper::start(&h.plan, &NetPaths::new(&h.netns_dir, &l.id)) {
            Ok(started) => {
                net.helper = Some(started);
                Ok(())
            }
            Err(e) => Err(format!(
                "setting up the {} network of {}: {e}",
                h.plan.mode.name(),
                short(&l.id)
            )),
        }
    };
    let early = if l.helper_after_go {
        Ok(())
    } else {
        start_helper(&mut net)
    };
    // hutch mounts the layer (and moves this process into the container's
    // cgroup) meanwhile; without `go` it gave up and cleans up itself.
    if l.wait_go {
        match sync.wait_go() {
            Spawner::Go => {}
            Spawner::Abort => {
                net.end();
                return 125;
            }
            Spawner::Gone => {
                cleanup(l, &mut net, &[]);
                return 125;
            }
        }
    }
    let started = early.and_then(|()| {
        if l.helper_after_go {
            start_helper(&mut net)
        } else {
            Ok(())
        }
    });
    if let Err(msg) = started {
        return fail(l, &mut sync, &mut net, 125, &msg, &[]);
    }
    if let Some(f) = &l.forward {
        match Forwarder::start(&f.rootless_netns, &f.ports, f.ip) {
            Ok(started) => net.forwarder = Some(started),
            Err(e) => {
                let msg = format!("publishing the ports of {}: {e}", short(&l.id));
                return fail(l, &mut sync, &mut net, 125, &msg, &[]);
            }
        }
    }
    let passed = match passed {
        Ok(p) => p,
        Err(msg) => return fail(l, &mut sync, &mut net, 125, &msg, &[]),
    };
    let listener = match bind_attach(&l.attach_socket) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("binding {}: {e}", l.attach_socket.display());
            return fail(l, &mut sync, &mut net, 125, &msg, &[]);
        }
    };
    match run_container(l, &mut sync, &mut net, listener, passed) {
        Ok(code) => code,
        Err(msg) => fail(l, &mut sync, &mut net, 125, &msg, &["--created"]),
    }
}

/// The spawner's descriptors 4..4+`n` for the container, made
/// close-on-exec here (the runtime's `create` gets them at 3.. through
/// dup2, which clears the flag).
fn take_passed(n: u32) -> Result<Vec<OwnedFd>, String> {
    let mut out = Vec::new();
    for i in 0..n as i32 {
        let fd = 4 + i;
        // SAFETY: fcntl on a descriptor number; F_GETFD fails on a closed one.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            return Err(format!(
                "file descriptor {} for the container was not passed to the monitor",
                fd - 1
            ));
        }
        // SAFETY: the open descriptor the spawner placed for this process.
        unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        // SAFETY: placed by the spawner for this process alone.
        out.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(out)
}

fn bind_attach(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path)
}

/// The container did not run: the exit code recorded, the cleanup run,
/// and only then the spawner told (its next command must see the exit).
fn fail(
    l: &Launch,
    sync: &mut Sync,
    net: &mut Network,
    code: i32,
    msg: &str,
    flags: &[&str],
) -> i32 {
    if let Err(e) = frame::write_atomic(&l.exit_file, format!("{code}\n").as_bytes()) {
        warn(l, &format!("writing {}: {e}", l.exit_file.display()));
    }
    cleanup(l, net, flags);
    sync.report(&format!("err {code} {msg}"));
    code
}

/// Runs `hutch __cleanup` and waits for it: the exit recorded, runtime
/// state, mount and network torn down, `--rm`, the restart policy. The
/// network helper (already killed) is reaped meanwhile: its exit is slow
/// (the kernel unregisters its tap device) and overlaps the cleanup's
/// start-up and runtime delete; the cleanup waits for it to be gone before
/// it records the container exited or restarts it.
fn cleanup(l: &Launch, net: &mut Network, flags: &[&str]) {
    let Some((exe, args)) = l.cleanup.split_first() else {
        net.end();
        return;
    };
    // The forwarder's ports close first: a restart binds them again.
    if let Some(f) = net.forwarder.take() {
        f.stop();
    }
    let child = Command::new(exe)
        .args(args)
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn();
    net.end();
    let status = child.and_then(|mut c| c.wait());
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => warn(l, &format!("the cleanup ({exe} __cleanup) failed: {s}")),
        Err(e) => warn(l, &format!("running the cleanup {exe}: {e}")),
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("creating a pipe: {e}"))
}

/// From the runtime's `create` to the container's exit. `Err`: a failure
/// after `create` ran, before anything was reported.
fn run_container(
    l: &Launch,
    sync: &mut Sync,
    net: &mut Network,
    listener: UnixListener,
    passed: Vec<OwnedFd>,
) -> Result<i32, String> {
    // The foreground `run` connects before the container exists, so it
    // sees all of its output; if that client died first, the container
    // starts anyway after a while, its output kept in the log, rather than
    // the monitor waiting forever.
    let mut first_client = None;
    if l.wait_for_attach {
        sync.report("attach");
        // The spawner died between its `go` and this report (the write
        // failed, so its end is no longer polled below): nobody will attach
        // or record a start, and waiting for a client would leave the
        // layer mounted for the whole attach timeout.
        if sync.1.0 {
            cleanup(l, net, &[]);
            return Ok(125);
        }
        let mut pfds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            // The spawner's end: closed when it died before attaching.
            libc::pollfd {
                fd: sync.0.as_ref().map_or(-1, |s| s.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds (a negative fd is ignored).
        if unsafe { libc::poll(pfds.as_mut_ptr(), 2, 30_000) } > 0 {
            if pfds[0].revents & libc::POLLIN != 0 {
                first_client = listener.accept().ok().map(|(c, _)| c);
            } else if pfds[1].revents != 0 {
                // Nobody will attach, or record a start: nothing runs.
                sync.0 = None;
                sync.1 = SpawnerGone(true);
                cleanup(l, net, &[]);
                return Ok(125);
            }
        }
    }
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    // `-t`: the runtime makes the pty and hands its master over on this
    // socket; `-i` alone: the container reads a pipe the monitor keeps.
    let console = match &l.console_socket {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            let sock =
                UnixListener::bind(path).map_err(|e| format!("binding {}: {e}", path.display()))?;
            Some((sock, path))
        }
        None => None,
    };
    let (stdin_r, stdin_w) = if l.interactive && console.is_none() {
        let (r, w) = pipe()?;
        (Stdio::from(r), Some(w))
    } else {
        (Stdio::null(), None)
    };
    // `--sdnotify=container`: bound before the runtime runs, so that the
    // container's first message finds it (and waits in its queue).
    let mut notify_proxy = match (&l.notify, &l.notify_socket) {
        (Notify::Container { socket }, Some(_)) => {
            Some(crate::notify::bind(socket).map_err(|e| {
                format!(
                    "binding the container's notify socket {}: {e}",
                    socket.display()
                )
            })?)
        }
        _ => None,
    };
    let mut create = Command::new(&l.runtime.path);
    create
        .args(&l.runtime.create)
        .stdin(stdin_r)
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w));
    die_with_monitor(&mut create);
    if !passed.is_empty() {
        let n = passed.len() as i32;
        // SAFETY: only dup2 between fork and exec. The descriptors sit at
        // 4..4+n; moved down one by one in ascending order, each source is
        // read before it is overwritten.
        unsafe {
            create.pre_exec(move || {
                for i in 0..n {
                    if libc::dup2(4 + i, 3 + i) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let created = create.output();
    // The container has its copies now (or never will).
    drop(passed);
    // The command keeps its copies of the pipes' write ends: dropped now,
    // so that the output pipes end (EOF) when the container's processes
    // do, instead of the relay waiting out its grace period every time.
    drop(create);
    let runtime_ok = matches!(&created, Ok(o) if o.status.success());
    let failure = match created {
        // The helper started before `create` and got ready meanwhile.
        Ok(o) if o.status.success() => match &mut net.helper {
            Some(h) => h.wait_ready().err().map(|e| {
                format!(
                    "setting up the {} network of {}: {e}",
                    h.record.kind,
                    short(&l.id)
                )
            }),
            None => None,
        },
        Ok(o) => Some(runtime_stderr(&err_r, o.status)),
        Err(e) => Some(format!("running {}: {e}", l.runtime.path.display())),
    };
    // The runtime connected during `create`: its message is queued.
    let master = match (&console, &failure) {
        (Some((sock, path)), None) => {
            let m = crate::terminal::receive_master(sock, Duration::from_secs(5));
            let _ = std::fs::remove_file(path);
            Some(m.map_err(|e| format!("receiving the container's terminal: {e}"))?)
        }
        (Some((_, path)), Some(_)) => {
            let _ = std::fs::remove_file(path);
            None
        }
        _ => None,
    };
    drop(console);
    if let Some(message) = failure {
        let code = if runtime_ok {
            125
        } else {
            start_failure_code(&message)
        };
        // `--created`: the refusal is recorded as an exit with its code
        // (ps: "Exited (127)") rather than left `created`.
        return Ok(fail(
            l,
            sync,
            net,
            i32::from(code),
            &message,
            &["--created"],
        ));
    }
    let pid: i32 = std::fs::read_to_string(&l.pid_file)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("reading the container's pid file {}", l.pid_file.display()))?;
    if let Some(orig) = &l.cgroup_return
        && let Err(e) = std::fs::write(orig.join("cgroup.procs"), std::process::id().to_string())
    {
        warn(
            l,
            &format!(
                "--cgroups=no-conmon: moving back to {}: {e}",
                orig.display()
            ),
        );
    }
    let log = match &l.log {
        Some(t) => LogWriter::open(&t.path, t.max_size)
            .map_err(|e| format!("opening the log {}: {e}", t.path.display()))?,
        // --log-driver none: the output still reaches attached clients.
        None => LogWriter::open(Path::new("/dev/null"), None)
            .map_err(|e| format!("opening /dev/null: {e}"))?,
    };
    let mut relay = Relay::new(listener, log);
    match master {
        Some(master) => {
            // The runtime's own pipes carried only its messages; the
            // container writes to the terminal, all of it as stdout.
            drop((out_r, err_r));
            relay.stdin = Some(
                master
                    .try_clone()
                    .map_err(|e| format!("duplicating the terminal: {e}"))?,
            );
            relay.stdout = Some(master);
            relay.tty = true;
        }
        None => {
            relay.stdout = Some(out_r);
            relay.stderr = Some(err_r);
            relay.stdin = stdin_w;
        }
    }
    relay.clients.extend(first_client);
    // `hutch init`: the container waits, created, for a `start`.
    if let Some(path) = &l.hold_socket {
        match hold(sync, path, pid)? {
            Held::Go(starter) => {
                // `start -a` connected before its `go`: the client is
                // taken before the container's first output.
                if relay.listener.set_nonblocking(true).is_ok() {
                    while let Ok((c, _)) = relay.listener.accept() {
                        let _ = c.set_nonblocking(false);
                        relay.clients.push(c);
                    }
                    let _ = relay.listener.set_nonblocking(false);
                }
                *sync = Sync(Some(starter), SpawnerGone(false));
            }
            Held::Ended(status) => {
                // Stopped or removed while initialized: it never ran.
                let code = exit_code(status);
                if let Some(h) = &mut net.helper {
                    h.kill();
                }
                if let Err(e) = frame::write_atomic(&l.exit_file, format!("{code}\n").as_bytes()) {
                    warn(l, &format!("writing {}: {e}", l.exit_file.display()));
                }
                cleanup(l, net, &["--created"]);
                relay.finish(code);
                return Ok(code);
            }
        }
    }
    // A detached `run` returns once the container is running, as `podman
    // run -d` does.
    if let Some(start) = &l.runtime.start
        && let Err(message) = run_start(l, start)
    {
        let code = i32::from(start_failure_code(&message));
        let _ = relay
            .log
            .write(Stream::Stderr, format!("{message}\n").as_bytes());
        for c in &mut relay.clients {
            let _ = write_frame(c, FRAME_STDERR, format!("Error: {message}\n").as_bytes());
        }
        let code = fail(l, sync, net, code, &message, &["--created"]);
        relay.finish(code);
        return Ok(code);
    }
    sync.report(&format!("ok {pid}"));
    // A spawner killed between this report and its record of the start
    // leaves a container that the database says is not running: it is
    // stopped here, and its exit recorded as a creation's outcome (no
    // restart policy: it never ran as far as anyone was told).
    let recorded = sync.wait_recorded();
    if !recorded {
        warn(
            l,
            "the spawner died before it recorded the start: stopping the container",
        );
        // SAFETY: kill(2) of our own child, not reaped yet.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let watched = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| format!("bad container pid {pid}"))
        .and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
                .map_err(|e| format!("watching the container process {pid}: {e}"))
        });
    // Checks run only for a start someone recorded (a health check of a
    // container the database does not know as running fails anyway).
    let notify_to = l.notify_socket.as_ref().filter(|_| recorded);
    if let Some(socket) = notify_to {
        let monitor = std::process::id();
        let (mode, sent) = match &l.notify {
            Notify::Conmon => ("conmon", crate::health::notify_ready(socket, monitor)),
            // The main process is told at once: `run -d` exits before the
            // container may say it is ready.
            Notify::Container { .. } => (
                "container",
                crate::health::notify(socket, &format!("MAINPID={pid}\n")),
            ),
            Notify::Healthy => (
                "healthy",
                crate::health::notify(socket, &format!("MAINPID={monitor}\n")),
            ),
        };
        if let Err(e) = sent {
            warn(l, &format!("--sdnotify={mode}: telling {socket}: {e}"));
        }
        // The spawner (a unit's `run -d`) waits for this before it exits:
        // systemd fails a Type=notify service whose main process exits
        // before it heard of another.
        sync.report("told");
        if let Some(proxy) = notify_proxy.take() {
            crate::notify::start_proxy(proxy, socket.clone(), pid, health_warn);
        }
    }
    let on_pass: Option<Box<dyn FnOnce() + Send>> = match (&l.notify, notify_to) {
        (Notify::Healthy, Some(socket)) => {
            let socket = socket.clone();
            Some(Box::new(move || {
                if let Err(e) = crate::health::notify(&socket, "READY=1\n") {
                    health_warn(&format!("--sdnotify=healthy: telling {socket}: {e}"));
                }
            }))
        }
        _ => None,
    };
    let mut health = match &l.health {
        Some(h) if recorded => Some(crate::health::HealthTimer::start(h, health_warn, on_pass)),
        _ => None,
    };
    match watched {
        Ok(pidfd) => {
            relay.deadline = l
                .timeout
                .filter(|t| *t > 0)
                .map(|t| std::time::Instant::now() + std::time::Duration::from_secs(t));
            if let Err(e) = relay.run(&pidfd) {
                warn(l, &format!("relaying the container's output: {e}"));
            }
        }
        Err(e) => warn(l, &e),
    }
    if let Some(t) = &mut health {
        t.stop();
    }
    let mut status = 0;
    // SAFETY: waitpid on our (re-parented) child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let code = exit_code(status);
    if let Some(socket) = notify_to
        && let Err(e) = crate::health::notify(socket, "STOPPING=1\n")
    {
        warn(l, &format!("--sdnotify: telling {socket}: {e}"));
    }
    drop(notify_proxy);
    if let Notify::Container { socket } = &l.notify {
        let _ = std::fs::remove_file(socket);
    }
    // The helper's exit is slow (its tap device goes): started now, it
    // overlaps the exit record.
    if let Some(h) = &mut net.helper {
        h.kill();
    }
    if let Err(e) = frame::write_atomic(&l.exit_file, format!("{code}\n").as_bytes()) {
        warn(l, &format!("writing {}: {e}", l.exit_file.display()));
    }
    sync.wait_closed();
    if recorded {
        cleanup(l, net, &["--created", "--started"]);
    } else {
        cleanup(l, net, &["--created"]);
    }
    relay.finish(code);
    Ok(code)
}

/// How an initialized container's wait ended.
enum Held {
    /// A `start` said `go` on this connection.
    Go(UnixStream),
    /// The container's init went (killed by `stop`, `rm`, `kill`): its
    /// wait status.
    Ended(i32),
}

/// Reports `initialized PID`, waits for the spawner's record of it, then
/// for a `start` on `path` or the container's end.
fn hold(sync: &mut Sync, path: &Path, pid: i32) -> Result<Held, String> {
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).map_err(|e| format!("binding {}: {e}", path.display()))?;
    let pidfd = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| format!("bad container pid {pid}"))
        .and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
                .map_err(|e| format!("watching the container process {pid}: {e}"))
        })?;
    let reap = || {
        let mut status = 0;
        // SAFETY: waitpid on our (re-parented) child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let _ = std::fs::remove_file(path);
        Held::Ended(status)
    };
    sync.report(&format!("initialized {pid}"));
    let recorded = sync.wait_recorded();
    sync.wait_closed();
    if !recorded {
        // Nobody knows it exists: it must not wait for good.
        // SAFETY: kill(2) of our own child, not reaped yet.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        return Ok(reap());
    }
    loop {
        let mut pfds = [
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds.
        if unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) } < 0 {
            continue;
        }
        if pfds[1].revents != 0 {
            return Ok(reap());
        }
        if pfds[0].revents & libc::POLLIN == 0 {
            continue;
        }
        let Ok((conn, _)) = listener.accept() else {
            continue;
        };
        // A client that never says anything must not hold the container.
        let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
        let mut line = String::new();
        let said = conn
            .try_clone()
            .and_then(|c| BufReader::new(c).read_line(&mut line));
        if said.is_ok() && line.trim_end() == "go" {
            let _ = conn.set_read_timeout(None);
            let _ = std::fs::remove_file(path);
            return Ok(Held::Go(conn));
        }
    }
}

/// The runtime's `create`/`start` end with the monitor: killed half way,
/// nothing would wait for them or report their outcome, and a `create`
/// left alone keeps its init waiting for a `start` that never comes (the
/// spawner or `rm` then makes the runtime forget what it made).
fn die_with_monitor(cmd: &mut Command) {
    // SAFETY: getpid has no preconditions.
    let monitor = unsafe { libc::getpid() };
    // SAFETY: prctl and getppid are async-signal-safe; they concern the
    // child alone.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The monitor died between fork and prctl: the signal would
            // never come.
            if libc::getppid() != monitor {
                libc::_exit(125);
            }
            Ok(())
        });
    }
}

fn run_start(l: &Launch, args: &[String]) -> Result<(), String> {
    let mut cmd = Command::new(&l.runtime.path);
    cmd.args(args).stdin(Stdio::null());
    die_with_monitor(&mut cmd);
    let out = cmd.output().map_err(|e| {
        format!(
            "running {} start for container {}: {e}",
            l.runtime.name, l.id
        )
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{}: {}",
        l.runtime.name,
        frame::runtime_message(&String::from_utf8_lossy(&out.stderr))
    ))
}

/// What the failed runtime said. Read without blocking: a runtime killed
/// before it wrote anything leaves an empty pipe whose write end the
/// container's half-made init (and this process's `Command`) still hold,
/// so a blocking read would wait for good.
fn runtime_stderr(err_r: &OwnedFd, status: std::process::ExitStatus) -> String {
    let _ = rustix::fs::fcntl_setfl(err_r, rustix::fs::OFlags::NONBLOCK);
    let mut buf = vec![0u8; 16 * 1024];
    let n = rustix::io::read(err_r, &mut buf).unwrap_or(0);
    let said = frame::runtime_message(&String::from_utf8_lossy(&buf[..n]));
    if !said.trim().is_empty() {
        return said;
    }
    match std::os::unix::process::ExitStatusExt::signal(&status) {
        Some(sig) => format!("the OCI runtime was killed by signal {sig}"),
        None => format!("the OCI runtime failed ({status}) without a message"),
    }
}
