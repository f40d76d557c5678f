//! `exec`: another process in a running container. Its OCI process is the
//! container's own (user, capabilities, limits, environment) with the
//! request's changes; the runtime's `exec --detach` starts it while the
//! caller is the child subreaper, so that the process becomes the caller's
//! child and its exit status is exact (conmon does the same).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::engine::{Error, Result, ResultExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Paths;
use crate::config::Context;
use crate::engine::state::{
    Container, ContainerState, ExecSession, ExecTransition, NewExecSession, State, names,
};
use crate::runtime::monitor as relay;
use crate::runtime::oci::{self, OciRuntime};
use crate::runtime::spec::user;

/// What `exec` asks for; stored with the session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecRequest {
    pub command: Vec<String>,
    /// KEY=VALUE pairs, added to (and overriding) the container's.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    pub privileged: bool,
}

impl ExecRequest {
    /// Podman's checks, before the container is looked at.
    pub fn validate(&self) -> Result<()> {
        if self.command.is_empty() {
            crate::fail!(
                BadInput,
                "must provide a non-empty command to start an exec session"
            );
        }
        if let Some(bad) = self
            .env
            .iter()
            .find(|e| !e.contains('=') || e.starts_with('='))
        {
            crate::fail!(
                BadInput,
                "invalid environment variable {bad:?}: use KEY=VALUE"
            );
        }
        Ok(())
    }
}

/// How a foreground exec process's input and output are wired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecStdio {
    /// The caller's own stdin and stdout (the CLI in a terminal or a pipe).
    #[default]
    Inherit,
    /// Pipes the caller relays (the REST API's hijacked connection): see
    /// [`Running::stdin`] and [`Running::stdout`].
    Pipes,
}

/// A started exec process.
pub struct Running {
    pub session: String,
    pub pid: i32,
    /// `-t`: the process's terminal.
    pub master: Option<OwnedFd>,
    /// Without `-t` in the foreground: the process's stderr (shared with the
    /// runtime, whose messages it carried until the start).
    pub stderr: Option<OwnedFd>,
    /// [`ExecStdio::Pipes`] without `-t`: the write end of the process's
    /// stdin (with `interactive`) and the read end of its stdout.
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
}

pub enum Started {
    Running(Running),
    /// The runtime refused (command not found...): Podman's code for it.
    Failed {
        code: u8,
        message: String,
    },
}

/// The process spec for `req` from the container's spec `config`; `passwd`
/// and `group` are the container's files (for `--user`).
pub fn process_spec(
    config: &Value,
    req: &ExecRequest,
    passwd: Option<&str>,
    group: Option<&str>,
    console_size: Option<(u16, u16)>,
) -> Result<Value> {
    let mut p = config
        .get("process")
        .cloned()
        .ok_or_else(|| Error::internal("the container's spec has no process"))?;
    if req.command.is_empty() {
        crate::fail!(
            BadInput,
            "must provide a non-empty command to start an exec session"
        );
    }
    p["args"] = json!(req.command);
    p["terminal"] = json!(req.tty);
    match console_size {
        Some((rows, cols)) if req.tty => p["consoleSize"] = json!({"height": rows, "width": cols}),
        _ => {
            if let Some(o) = p.as_object_mut() {
                o.remove("consoleSize");
            }
        }
    }
    let mut env: Vec<String> = p["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut set = |kv: &str, only_if_missing: bool| {
        let key = kv.split('=').next().unwrap_or(kv);
        let present = env.iter().any(|e| e.split('=').next() == Some(key));
        if present && only_if_missing {
            return;
        }
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.to_owned());
    };
    for e in &req.env {
        set(e, false);
    }
    if req.tty {
        set("TERM=xterm", true);
    }
    p["env"] = json!(env);
    if let Some(w) = req.workdir.as_deref().filter(|w| !w.is_empty()) {
        if !w.starts_with('/') {
            crate::fail!(BadInput, "workdir {w:?} must be an absolute path");
        }
        p["cwd"] = json!(w);
    }
    if let Some(u) = req.user.as_deref().filter(|u| !u.is_empty()) {
        let r = user::resolve(u, passwd, group, &[])?;
        p["user"]["uid"] = json!(r.uid);
        p["user"]["gid"] = json!(r.gid);
        p["user"]["additionalGids"] = json!(r.additional_gids);
        if let Some(o) = p["user"].as_object_mut() {
            o.remove("username");
        }
        if r.uid != 0 {
            // As for the container's own process: a non-root user holds
            // only the bounding set.
            for set in ["effective", "permitted", "inheritable", "ambient"] {
                if let Some(c) = p["capabilities"].as_object_mut() {
                    c.remove(set);
                }
            }
        }
        set_env_home(&mut p, &r.home);
    }
    if req.privileged {
        let bounding = p["capabilities"]["bounding"].clone();
        for set in ["effective", "permitted", "bounding"] {
            p["capabilities"][set] = bounding.clone();
        }
        p["noNewPrivileges"] = json!(false);
    }
    Ok(p)
}

/// HOME follows the exec user unless the request set it.
fn set_env_home(p: &mut Value, home: &str) {
    if let Some(env) = p["env"].as_array_mut() {
        for e in env.iter_mut() {
            if e.as_str().is_some_and(|s| s.starts_with("HOME=")) {
                *e = json!(format!("HOME={home}"));
            }
        }
    }
}

/// The running container `c` or Podman's refusal.
pub fn require_running(c: &Container) -> Result<()> {
    if c.state != ContainerState::Running {
        crate::fail!(
            InvalidState,
            "can only create exec sessions on running containers: container {} is {}: container state improper",
            c.name,
            c.state
        );
    }
    Ok(())
}

/// Records a session and starts its process (the CLI's `exec`).
pub fn start(
    ctx: &Context,
    graphroot: &Path,
    state: &State,
    c: &Container,
    req: &ExecRequest,
    console_size: Option<(u16, u16)>,
    passed: &[OwnedFd],
) -> Result<Started> {
    let session = create_session(state, c, req)?;
    start_session_passing(
        ctx,
        graphroot,
        state,
        c,
        &session,
        req,
        console_size,
        ExecStdio::Inherit,
        passed,
    )
}

/// Records a session for running container `c` without starting it (the
/// REST API's `exec` create; its start comes with another request).
pub fn create_session(state: &State, c: &Container, req: &ExecRequest) -> Result<String> {
    req.validate()?;
    require_running(c)?;
    let session = names::generate_id().context("generating an exec session id")?;
    state.create_exec_session(&NewExecSession {
        id: session.clone(),
        container_id: c.id.clone(),
        config: serde_json::to_string(req)?,
    })?;
    Ok(session)
}

/// The request a session was created with.
pub fn session_request(s: &ExecSession) -> Result<ExecRequest> {
    serde_json::from_str(&s.config)
        .with_context(|| format!("reading the request of exec session {}", s.id))
}

/// Starts the process of recorded session `session` (in state created).
#[allow(clippy::too_many_arguments)]
pub fn start_session(
    ctx: &Context,
    graphroot: &Path,
    state: &State,
    c: &Container,
    session: &str,
    req: &ExecRequest,
    console_size: Option<(u16, u16)>,
    stdio: ExecStdio,
) -> Result<Started> {
    start_session_passing(
        ctx,
        graphroot,
        state,
        c,
        session,
        req,
        console_size,
        stdio,
        &[],
    )
}

/// [`start_session`], handing `passed` to the process as its descriptors
/// 3, 4, ... (`exec --preserve-fds N`).
#[allow(clippy::too_many_arguments)]
fn start_session_passing(
    ctx: &Context,
    graphroot: &Path,
    state: &State,
    c: &Container,
    session: &str,
    req: &ExecRequest,
    console_size: Option<(u16, u16)>,
    stdio: ExecStdio,
    passed: &[OwnedFd],
) -> Result<Started> {
    require_running(c)?;
    let paths = Paths::new(ctx, graphroot, &c.id);
    let config: Value = serde_json::from_slice(
        &std::fs::read(paths.userdata.join("config.json"))
            .with_context(|| format!("reading the spec of {}", c.name))?,
    )?;
    let rootfs = config["root"]["path"]
        .as_str()
        .map(|r| paths.userdata.join(r))
        .unwrap_or_default();
    let read = |f: &str| std::fs::read_to_string(rootfs.join(f)).ok();
    let process = process_spec(
        &config,
        req,
        read("etc/passwd").as_deref(),
        read("etc/group").as_deref(),
        console_size,
    )?;
    let (runtime, _) = super::oci_runtime(ctx, Some(&c.runtime), true)?;
    let session = session.to_owned();
    let short = &session[..12.min(session.len())];
    let files = SessionFiles {
        process: paths.userdata.join(format!("exec-{short}.json")),
        pid: paths.userdata.join(format!("exec-{short}.pid")),
        log: paths.userdata.join(format!("exec-{short}.log")),
        console: ctx.run_dir.join("s").join(format!("e{short}")),
    };
    crate::cgroups::container::reach_for_exec(&paths.userdata);
    let result = launch(&runtime, c, req, &process, &files, stdio, passed);
    let _ = std::fs::remove_file(&files.process);
    let _ = std::fs::remove_file(&files.pid);
    let _ = std::fs::remove_file(&files.console);
    match result {
        Ok(Launched::Running {
            pid,
            master,
            stderr,
            stdin,
            stdout,
        }) => {
            claim(pid, true);
            state.update_exec_session(&session, ExecTransition::Started { pid })?;
            Ok(Started::Running(Running {
                session,
                pid,
                master,
                stderr,
                stdin,
                stdout,
            }))
        }
        Ok(Launched::Refused(message)) => {
            let code = relay::start_failure_code(&message);
            let _ = state.update_exec_session(
                &session,
                ExecTransition::Exited {
                    code: i32::from(code),
                },
            );
            Ok(Started::Failed {
                code,
                message: format!("{}: {message}", runtime.name),
            })
        }
        Err(e) => {
            let _ = state.update_exec_session(&session, ExecTransition::Exited { code: 125 });
            Err(e)
        }
    }
}

/// In the runtime's process, `passed` at 3, 4, ... and open across its
/// exec (ours stay close-on-exec): the runtime's `--preserve-fds N` hands
/// 3..3+N to the process.
fn place_passed(cmd: &mut Command, passed: &[OwnedFd]) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw: Vec<i32> = passed.iter().map(AsRawFd::as_raw_fd).collect();
    // SAFETY: between fork and exec only dup2 and fcntl run, both
    // async-signal-safe; `raw` was allocated before the fork. The
    // descriptors stay open in the parent for the whole spawn.
    unsafe {
        cmd.pre_exec(move || {
            for (i, &fd) in raw.iter().enumerate() {
                let target = crate::host::passed_fds::FIRST_FD + i as i32;
                if fd == target {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

struct SessionFiles {
    process: PathBuf,
    pid: PathBuf,
    log: PathBuf,
    console: PathBuf,
}

enum Launched {
    Running {
        pid: i32,
        master: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
        stdin: Option<OwnedFd>,
        stdout: Option<OwnedFd>,
    },
    Refused(String),
}

fn launch(
    runtime: &OciRuntime,
    c: &Container,
    req: &ExecRequest,
    process: &Value,
    files: &SessionFiles,
    stdio: ExecStdio,
    passed: &[OwnedFd],
) -> Result<Launched> {
    std::fs::write(&files.process, serde_json::to_vec(process)?)
        .with_context(|| format!("writing {}", files.process.display()))?;
    let console = if req.tty && !req.detach {
        if let Some(dir) = files.console.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _ = std::fs::remove_file(&files.console);
        Some(
            std::os::unix::net::UnixListener::bind(&files.console)
                .with_context(|| format!("binding {}", files.console.display()))?,
        )
    } else {
        None
    };
    // SAFETY: prctl on this process: orphans of the runtime (the exec'd
    // process once `exec --detach` returns) become its children.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut cmd = Command::new(&runtime.path);
    let mut args = runtime.exec_args(
        &c.id,
        &files.process,
        &files.pid,
        console.as_ref().map(|_| files.console.as_path()),
    );
    if !passed.is_empty() {
        // Before the container id, the last argument.
        let at = args.len().saturating_sub(1);
        args.insert(at, passed.len().to_string().into());
        args.insert(at, "--preserve-fds".into());
        place_passed(&mut cmd, passed);
    }
    cmd.args(args);
    // Without a terminal the process inherits the runtime's stdio. Its
    // stderr is a pipe the caller relays, so that the runtime's own
    // complaint (before the process ran) becomes hutch's error line.
    let mut stderr_r = None;
    let (mut stdin_w, mut stdout_r) = (None, None);
    let pipe = || {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(std::io::Error::from)
            .context("making the exec session's pipes")
    };
    if req.detach {
        let log = std::fs::File::create(&files.log)
            .with_context(|| format!("creating {}", files.log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
    } else {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(std::io::Error::from)
            .context("making the exec session's stderr pipe")?;
        stderr_r = Some(r);
        cmd.stderr(Stdio::from(w));
        if req.tty {
            cmd.stdin(Stdio::null()).stdout(Stdio::null());
        } else if stdio == ExecStdio::Pipes {
            // Our ends stay close-on-exec; the runtime and the process get
            // theirs as stdin and stdout.
            if req.interactive {
                let (r, w) = pipe()?;
                stdin_w = Some(w);
                cmd.stdin(Stdio::from(r));
            } else {
                cmd.stdin(Stdio::null());
            }
            let (r, w) = pipe()?;
            stdout_r = Some(r);
            cmd.stdout(Stdio::from(w));
        } else {
            cmd.stdin(if req.interactive {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::inherit());
        }
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {} exec in {}", runtime.name, c.name))?;
    drop(cmd);
    if !status.success() {
        let raw = if req.detach {
            std::fs::read_to_string(&files.log).unwrap_or_default()
        } else {
            stderr_r.as_ref().map(read_available).unwrap_or_default()
        };
        let _ = std::fs::remove_file(&files.log);
        return Ok(Launched::Refused(oci::runtime_message(&raw)));
    }
    let pid: i32 = std::fs::read_to_string(&files.pid)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| Error::internal("reading the exec process's pid file"))?;
    let master = match &console {
        Some(l) => Some(
            crate::runtime::terminal::receive_master(l, std::time::Duration::from_secs(5))
                .context("receiving the exec session's terminal")?,
        ),
        None => None,
    };
    Ok(Launched::Running {
        pid,
        master,
        stderr: if req.tty { None } else { stderr_r },
        stdin: stdin_w,
        stdout: stdout_r,
    })
}

/// What the pipe holds now, without waiting for writers that may live on.
fn read_available(fd: &OwnedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(fd),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 0) } <= 0 {
            break;
        }
        match rustix::io::read(fd, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Running {
    /// Joins the calling process's terminal to the process: its terminal
    /// (raw mode with `interactive`, window sizes) or its stderr pipe; then
    /// waits for it. `None`: the user detached and it runs on.
    pub fn run_console(
        &self,
        state: &State,
        interactive: bool,
        detach_keys: Vec<u8>,
    ) -> Result<Option<i32>> {
        let detached = match (&self.master, &self.stderr) {
            (Some(master), _) => {
                crate::runtime::console::relay_terminal(master, interactive, detach_keys)
                    .context("relaying the exec session's terminal")?
            }
            (None, Some(stderr)) => {
                crate::runtime::console::relay_stderr(stderr, self.pid);
                false
            }
            (None, None) => false,
        };
        if detached {
            return Ok(None);
        }
        Ok(Some(wait(state, self)))
    }
}

/// Sets the window size of an exec session's terminal (the REST API's
/// `exec/{id}/resize`; the CLI follows its own terminal instead).
pub fn resize_terminal(master: &OwnedFd, rows: u16, cols: u16) -> Result<()> {
    let size = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(master, size)
        .map_err(std::io::Error::from)
        .context("resizing the exec session's terminal")
}

/// Exec processes a caller waits for (see [`start_orphan_reaper`]).
static CLAIMED: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

fn claim(pid: i32, claimed: bool) {
    if let Ok(mut c) = CLAIMED.lock() {
        c.retain(|p| *p != pid);
        if claimed {
            c.push(pid);
        }
    }
}

/// How often the reaper looks, and so how long an orphan may stay a
/// zombie (at least one interval: the grace an exec process's caller has
/// to claim it after the runtime returned).
const REAP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// For a long-lived caller of [`start_session`] (the REST service): as the
/// child subreaper it inherits the runtime's short-lived processes inside
/// containers (a failed exec's child, the runtime's helpers), and a zombie
/// in a container's pid namespace keeps that container from ever stopping
/// (its init waits for every process of the namespace to be reaped). This
/// thread reaps zombie children that live in another pid namespace, that
/// nobody claimed (exec processes are waited for by their callers) and that
/// were zombies at its previous look already. Started once; the CLI, whose
/// process ends with its exec, does not need it.
pub fn start_orphan_reaper() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("hutch-reaper".into())
            .spawn(|| {
                let mut seen: Vec<i32> = Vec::new();
                loop {
                    std::thread::sleep(REAP_INTERVAL);
                    let zombies = foreign_zombie_children();
                    let claimed = CLAIMED.lock().map(|c| c.clone()).unwrap_or_default();
                    for pid in &zombies {
                        if seen.contains(pid) && !claimed.contains(pid) {
                            let mut status = 0;
                            // SAFETY: waitpid on a zombie child of this
                            // process that no caller waits for.
                            unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) };
                        }
                    }
                    seen = zombies;
                }
            });
    });
}

/// This process's zombie children whose pid namespace is not ours.
fn foreign_zombie_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        let zombie = field("State:").starts_with('Z');
        let ours = field("PPid:") == me;
        // NSpid lists the pid in each namespace from ours down: more than
        // one means a container's namespace.
        let nested = field("NSpid:").split_whitespace().count() > 1;
        if zombie && ours && nested {
            out.push(pid);
        }
    }
    out
}

/// Waits for the process (the caller's child by now) and records its code.
pub fn wait(state: &State, running: &Running) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid on a child of this process (see `launch`).
    let r = unsafe { libc::waitpid(running.pid, &mut status, 0) };
    claim(running.pid, false);
    let code = if r == running.pid {
        relay::exit_code(status)
    } else {
        -1
    };
    let _ = state.update_exec_session(&running.session, ExecTransition::Exited { code });
    code
}

/// `container cleanup --exec ID [--rm]`: Podman's `ExecCleanup` (the
/// session's leftovers; hutch's sessions leave none beside their record)
/// or, with `--rm`, `ExecRemove` (the record goes). A session whose
/// process still runs is refused in Podman's words either way.
pub fn cleanup_session(state: &State, c: &Container, session: &str, remove: bool) -> Result<()> {
    let s = match state.exec_session(session) {
        Ok(s) if s.container_id == c.id => s,
        _ => crate::fail!(
            NotFound,
            "container {} has no exec session with ID {session}: no such exec session",
            c.id
        ),
    };
    // SAFETY: kill(pid, 0) only probes.
    let alive = |pid: i32| unsafe { libc::kill(pid, 0) } == 0;
    if s.state == crate::engine::state::ExecState::Running && s.pid.is_some_and(alive) {
        if remove {
            crate::fail!(
                InvalidState,
                "container {} exec session {} is still running, cannot remove: exec session state improper",
                c.id,
                s.id
            );
        }
        crate::fail!(
            InvalidState,
            "cannot clean up container {} exec session {} as it is running: exec session state improper",
            c.id,
            s.id
        );
    }
    if remove {
        state.remove_exec_session(&s.id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_requests_are_checked() {
        let ok = ExecRequest {
            command: vec!["true".into()],
            env: vec!["A=1".into(), "B=".into()],
            ..ExecRequest::default()
        };
        assert!(ok.validate().is_ok());
        let empty = ExecRequest::default().validate().unwrap_err();
        assert_eq!(empty.kind(), crate::engine::ErrorKind::BadInput);
        let bare = ExecRequest {
            env: vec!["KEY".into()],
            ..ok.clone()
        };
        assert!(bare.validate().is_err());
    }

    fn base() -> Value {
        json!({"process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/bin", "HOME=/root", "A=1"],
            "cwd": "/",
            "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN"],
                             "permitted": ["CAP_CHOWN"]},
            "noNewPrivileges": true
        }})
    }

    #[test]
    fn exec_process_from_the_containers() {
        let req = ExecRequest {
            command: vec!["id".into()],
            env: vec!["A=2".into(), "B=3".into()],
            user: Some("1000".into()),
            workdir: Some("/tmp".into()),
            tty: true,
            ..ExecRequest::default()
        };
        let passwd = "root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n";
        let p = process_spec(&base(), &req, Some(passwd), Some(""), Some((24, 80))).unwrap();
        assert_eq!(p["args"], json!(["id"]));
        assert_eq!(p["terminal"], json!(true));
        assert_eq!(p["consoleSize"], json!({"height": 24, "width": 80}));
        assert_eq!(
            p["env"],
            json!(["PATH=/bin", "HOME=/home/u", "A=2", "B=3", "TERM=xterm"])
        );
        assert_eq!(p["cwd"], json!("/tmp"));
        assert_eq!(
            (p["user"]["uid"].clone(), p["user"]["gid"].clone()),
            (json!(1000), json!(1000))
        );
        assert!(p["capabilities"].get("effective").is_none());
        assert_eq!(
            p["capabilities"]["bounding"],
            json!(["CAP_CHOWN", "CAP_KILL"])
        );
    }

    #[test]
    fn privileged_exec_gets_the_bounding_set() {
        let req = ExecRequest {
            command: vec!["sh".into()],
            privileged: true,
            ..ExecRequest::default()
        };
        let p = process_spec(&base(), &req, None, None, None).unwrap();
        assert_eq!(
            p["capabilities"]["effective"],
            json!(["CAP_CHOWN", "CAP_KILL"])
        );
        assert_eq!(p["noNewPrivileges"], json!(false));
        let relative = ExecRequest {
            workdir: Some("tmp".into()),
            ..req
        };
        assert!(process_spec(&base(), &relative, None, None, None).is_err());
    }
}
