//! Starting a container under its monitor, and the monitor's own life:
//! runtime `create`, report to the spawner, `start` (after the first client
//! attached, for `run` in the foreground), relay output, record the exit,
//! clean up (runtime delete, unmount, `--rm`).

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use super::Paths;
use super::events;
use super::lifecycle;
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{Monitor, Transition};
use crate::host::time;
use crate::runtime::logfile::LogWriter;
use crate::runtime::monitor::{self as relay, Relay};
use crate::runtime::oci::{self, OciRuntime};

/// What the spawner learns once the container exists in the runtime.
pub enum Spawned {
    Created {
        pid: i32,
        /// With `wait_for_attach`: the client connection the monitor
        /// accepted before it started the container, so none of the
        /// output is missed.
        attach: Option<UnixStream>,
    },
    /// The runtime refused (command not found, bad spec): its message and
    /// Podman's exit code for it.
    Failed { code: u8, message: String },
}

/// Spawns `hutch __monitor` for a created container and waits until the
/// runtime has created it (or refused).
pub fn spawn(
    ctx: &Context,
    id: &str,
    wait_for_attach: bool,
    remove: bool,
) -> anyhow::Result<Spawned> {
    let (sync_r, sync_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).context("creating a pipe")?;
    let exe = std::fs::read_link("/proc/self/exe").context("finding the hutch binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("__monitor").arg(id);
    if wait_for_attach {
        cmd.arg("--wait-attach");
    }
    if remove {
        cmd.arg("--rm");
    }
    if let Some(root) = &ctx.root_override {
        cmd.arg("--root").arg(root);
    }
    let raw = sync_w.as_raw_fd();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().context("starting the container monitor")?;
    drop(sync_w);
    let mut reader = BufReader::new(std::fs::File::from(sync_r));
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .context("waiting for the container monitor")?;
    // `attach`: the monitor listens and waits for this client before it
    // starts the container.
    let mut attach = None;
    if line.trim_end() == "attach" {
        let path = Paths::new(ctx, std::path::Path::new(""), id).attach;
        attach = Some(
            UnixStream::connect(&path)
                .with_context(|| format!("attaching to container {}", &id[..12.min(id.len())]))?,
        );
        line.clear();
        reader
            .read_line(&mut line)
            .context("waiting for the container monitor")?;
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("ok"), Some(pid), _) => Ok(Spawned::Created {
            pid: pid.parse().context("monitor reported a bad pid")?,
            attach,
        }),
        (Some("err"), Some(code), Some(message)) => Ok(Spawned::Failed {
            code: code.parse().unwrap_or(125),
            message: message.to_owned(),
        }),
        _ => bail!(
            "the container monitor for {} exited without reporting",
            &id[..12.min(id.len())]
        ),
    }
}

/// The monitor process. Returns the container's exit code. Under a
/// restart policy it stays for the restarts too: after each exit the
/// container is deleted from the runtime, then created and started again,
/// unless the user stopped it (see `lifecycle::stopped_by_user`).
pub fn run(ctx: &Context, id: &str, wait_for_attach: bool, remove: bool) -> anyhow::Result<i32> {
    // SAFETY: fd 3 was placed by the spawner for this process alone.
    let mut sync = Some(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(3) }));
    // SAFETY: prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let store = image::open_store(ctx)?;
    let state = super::open_state(ctx)?;
    let row = state.container(id)?;
    let paths = Paths::new(ctx, store.root(), id);
    let (mut runtime, _) = oci::select(
        Some(&row.runtime),
        &oci::host_facts(),
        &ctx.run_dir.join("runtime"),
        true,
    )?;
    // The container's cgroup (a systemd scope holding this monitor, or a
    // cgroupfs directory), made before the runtime creates the container
    // and kept across restarts.
    let cgroup = match crate::cgroups::container::enter(id, &paths.userdata) {
        Ok(c) => c,
        Err(e) => {
            finish(
                ctx, &store, &state, &runtime, &paths, id, 125, remove, false,
            );
            report(
                &mut sync,
                format!("err 125 {}", format!("{e:#}").replace('\n', " ")),
            );
            return Ok(125);
        }
    };
    runtime.cgroups_disabled = cgroup.is_none();
    let config = row.spec.clone();
    let policy = config.restart;
    let mut once = Once {
        ctx,
        store: &store,
        state: &state,
        runtime: &runtime,
        paths: &paths,
        id,
        remove,
        cgroup: cgroup.as_ref(),
        config,
    };
    let mut restarting = false;
    loop {
        let (code, ran) = once.run(&mut sync, wait_for_attach && !restarting, restarting)?;
        let restarts = state.container(id).map(|c| c.restart_count).unwrap_or(0);
        if !ran
            || remove
            || lifecycle::stopped_by_user(&paths)
            || !policy.should_restart(code, restarts)
        {
            return Ok(code);
        }
        restarting = true;
    }
}

/// Tells the spawner how the first start went (later ones have no one to
/// tell).
fn report(sync: &mut Option<std::fs::File>, msg: String) {
    if let Some(mut s) = sync.take() {
        let _ = writeln!(s, "{msg}");
    }
}

/// What one run of the container needs.
struct Once<'a> {
    ctx: &'a Context,
    store: &'a hutch_storage::Store,
    state: &'a crate::engine::state::State,
    runtime: &'a OciRuntime,
    paths: &'a Paths,
    id: &'a str,
    remove: bool,
    cgroup: Option<&'a crate::cgroups::container::Entered>,
    config: crate::spec::ContainerSpec,
}

impl Once<'_> {
    /// Creates, starts and watches the container once, then cleans up.
    /// Returns the exit code and whether the container ran at all.
    fn run(
        &mut self,
        sync: &mut Option<std::fs::File>,
        wait_for_attach: bool,
        restarting: bool,
    ) -> anyhow::Result<(i32, bool)> {
        let (ctx, store, state, runtime, paths, id, remove) = (
            self.ctx,
            self.store,
            self.state,
            self.runtime,
            self.paths,
            self.id,
            self.remove,
        );
        // The network helper lives as long as this process (it is killed
        // with it); teardown in `finish` ends it and the namespace. Started
        // first: its start-up (tens of ms) overlaps everything up to the
        // runtime's `create`.
        let name = state.container(id).map(|c| c.name).unwrap_or_default();
        let mut network = match super::network::setup(ctx, paths, id, &name) {
            Ok(h) => h,
            Err(e) => {
                finish(ctx, store, state, runtime, paths, id, 125, remove, false);
                report(
                    sync,
                    format!("err 125 {}", format!("{e:#}").replace('\n', " ")),
                );
                return Ok((125, false));
            }
        };
        let prepared = (|| -> anyhow::Result<UnixListener> {
            // A second start of an exited container: its layer was
            // unmounted after the first run.
            store
                .mount_container(id)
                .with_context(|| format!("mounting the root file system of {}", &id[..12]))?;
            let _ = std::fs::remove_file(paths.exit());
            if let Some(dir) = paths.attach.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let _ = std::fs::remove_file(&paths.attach);
            UnixListener::bind(&paths.attach)
                .with_context(|| format!("binding {}", paths.attach.display()))
        })();
        let listener = match prepared {
            Ok(l) => l,
            Err(e) => {
                super::network::teardown(ctx, id);
                return Err(e);
            }
        };
        // The foreground `run` connects before the container exists, so it
        // sees all of its output; if that client died first, the container
        // starts anyway after a while, its output kept in the log, rather
        // than the monitor waiting forever.
        let mut first_client = None;
        if wait_for_attach && let Some(s) = sync.as_mut() {
            let _ = writeln!(s, "attach");
            let mut pfd = libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, 30_000) };
            if ready > 0 {
                first_client = Some(listener.accept()?.0);
            }
        }
        let req = &self.config;
        let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        // `-t`: the runtime makes the pty and hands its master over on this
        // socket; `-i` alone: the container reads a pipe the monitor keeps.
        let console = if req.tty {
            let path = paths.console_socket();
            let _ = std::fs::remove_file(&path);
            Some((
                UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?,
                path,
            ))
        } else {
            None
        };
        let (stdin_r, stdin_w) = if req.interactive && !req.tty {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
            (Stdio::from(r), Some(w))
        } else {
            (Stdio::null(), None)
        };
        // Without a hook between the two (a network helper to wait for, a
        // cgroup to finish), `run --detach` creates and starts the container
        // in one runtime process instead of two.
        let single = network.is_none() && self.cgroup.is_none();
        let console_path = console.as_ref().map(|(_, p)| p.as_path());
        let args = if single {
            runtime.run_detached_args(id, &paths.userdata, &paths.pid_file(), console_path)
        } else {
            runtime.create_args(id, &paths.userdata, &paths.pid_file(), console_path)
        };
        let created = Command::new(&runtime.path)
            .args(args)
            .stdin(stdin_r)
            .stdout(Stdio::from(out_w))
            .stderr(Stdio::from(err_w))
            .output();
        let runtime_ok = matches!(&created, Ok(o) if o.status.success());
        let failure = match created {
            // The helper started before `create` and got ready meanwhile.
            Ok(o) if o.status.success() => super::network::wait_ready(&mut network, id)
                .err()
                .map(|e| format!("{e:#}")),
            Ok(_) => Some(runtime_stderr(&err_r)),
            Err(e) => Some(e.to_string()),
        };
        // The runtime connected during `create`: its message is queued.
        let master = match (&console, &failure) {
            (Some((listener, path)), None) => {
                let m = crate::runtime::terminal::receive_master(
                    listener,
                    std::time::Duration::from_secs(5),
                );
                let _ = std::fs::remove_file(path);
                Some(m.context("receiving the container's terminal")?)
            }
            (Some((_, path)), Some(_)) => {
                let _ = std::fs::remove_file(path);
                None
            }
            _ => None,
        };
        drop(console);
        let monitor = Monitor::current();
        if let Some(message) = failure {
            let code = if runtime_ok {
                125
            } else {
                relay::start_failure_code(&message)
            };
            // Through `created`, so the refusal is recorded as an exit with
            // its code (ps: "Exited (127)") rather than left `configured`.
            if let Some(m) = monitor
                && !restarting
            {
                let _ = state.update_state(id, Transition::Created { monitor: m });
            }
            finish(
                ctx,
                store,
                state,
                runtime,
                paths,
                id,
                i32::from(code),
                remove,
                runtime_ok,
            );
            // Only now: the spawner's next command must see the exit.
            report(sync, format!("err {code} {}", message.replace('\n', " ")));
            return Ok((i32::from(code), false));
        }
        let pid: i32 = std::fs::read_to_string(paths.pid_file())
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .context("reading the container's pid file")?;
        if let Some(c) = self.cgroup {
            c.after_create();
        }
        if let Some(m) = monitor {
            let t = if restarting {
                Transition::Restarting { monitor: m }
            } else {
                Transition::Created { monitor: m }
            };
            state.update_state(id, t)?;
        }
        let log = {
            // --log-driver none: the output still reaches attached clients.
            let path = super::create::log_path(paths, &self.config.log)
                .unwrap_or_else(|| std::path::PathBuf::from("/dev/null"));
            LogWriter::open(&path, self.config.log.max_size)
                .with_context(|| format!("opening the log {}", path.display()))?
        };
        let mut relay = Relay::new(listener, log);
        match master {
            Some(master) => {
                // The runtime's own pipes carried only its messages; the
                // container writes to the terminal, all of it as stdout.
                drop((out_r, err_r));
                relay.stdin = Some(master.try_clone().context("duplicating the terminal")?);
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
        // A detached `run` returns once the container is running, as
        // `podman run -d` does.
        let started = if single {
            Ok(())
        } else {
            runtime
                .run("start", id, &runtime.start_args(id))
                .map(|_| ())
        };
        if let Err(e) = started {
            let message = e.to_string();
            let code = i32::from(relay::start_failure_code(&message));
            relay.log.write(
                crate::runtime::logfile::Stream::Stderr,
                format!("{message}\n").as_bytes(),
            )?;
            for c in &mut relay.clients {
                let _ = relay::write_frame(
                    c,
                    relay::FRAME_STDERR,
                    format!("Error: {message}\n").as_bytes(),
                );
            }
            finish(ctx, store, state, runtime, paths, id, code, remove, true);
            report(sync, format!("err {code} {}", message.replace('\n', " ")));
            relay.finish(code);
            return Ok((code, false));
        }
        let row = state.update_state(
            id,
            Transition::Started {
                pid,
                started_at: time::now_ns(),
            },
        )?;
        events::record(state, &row, "start", &[]);
        report(sync, format!("ok {pid}"));
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid).context("bad container pid")?,
            rustix::process::PidfdFlags::empty(),
        )
        .context("watching the container process")?;
        relay.run(&pidfd)?;
        let mut status = 0;
        // SAFETY: waitpid on our (re-parented) child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let code = relay::exit_code(status);
        relay::write_atomic(&paths.exit(), format!("{code}\n").as_bytes())?;
        let row = state.update_state(
            id,
            Transition::Stopped {
                code,
                at: time::now_ns(),
                oom: self.cgroup.is_some_and(|c| c.oom_killed()),
            },
        )?;
        events::record(
            state,
            &row,
            "died",
            &[("containerExitCode", code.to_string())],
        );
        finish(ctx, store, state, runtime, paths, id, code, remove, true);
        relay.finish(code);
        Ok((code, true))
    }
}

fn runtime_stderr(err_r: &OwnedFd) -> String {
    let mut buf = vec![0u8; 16 * 1024];
    let n = rustix::io::read(err_r, &mut buf).unwrap_or(0);
    oci::runtime_message(&String::from_utf8_lossy(&buf[..n]))
}

/// After the container's end: runtime state, mount, and for `--rm` the
/// container itself. Errors are logged, not fatal: the exit is recorded.
#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &Context,
    store: &hutch_storage::Store,
    state: &crate::engine::state::State,
    runtime: &OciRuntime,
    paths: &Paths,
    id: &str,
    code: i32,
    remove: bool,
    was_created: bool,
) {
    // The network helper's exit (tens of ms: its tap device goes) runs
    // while the runtime deletes the container and the layer is unmounted;
    // teardown then reaps it, before the state says the container exited
    // (a `start` that follows must find the namespace and ports free).
    super::network::stop(ctx, id);
    // The runtime forgets the container while the rest is cleaned up: a
    // process start of its own (milliseconds) that nothing below waits
    // for; it is waited for before this returns, so the next start of the
    // same id (a restart policy, `start` after this monitor) finds it gone.
    let delete = was_created.then(|| {
        Command::new(&runtime.path)
            .args(runtime.delete_args(id, true))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
    });
    let _ = store.unmount_container(id);
    super::network::teardown(ctx, id);
    let _ = std::fs::remove_file(&paths.attach);
    let row = state.container(id).ok();
    match row.map(|r| r.state) {
        Some(crate::engine::state::ContainerState::Stopped) => {
            let _ = state.update_state(id, Transition::CleanedUp);
        }
        Some(_) => {
            let _ = state.update_state(
                id,
                Transition::Exited {
                    code,
                    at: time::now_ns(),
                    oom: false,
                },
            );
        }
        None => {}
    }
    // `--rm` takes the container's anonymous volumes too, as Podman does.
    if remove && let Err(e) = super::remove::remove_stopped_with(store, state, paths, id, true) {
        tracing::warn!(container = id, "removing: {e:#}");
    }
    match delete.map(|d| d.and_then(|c| c.wait_with_output())) {
        Some(Ok(out)) if !out.status.success() => tracing::warn!(
            container = id,
            "runtime delete: {}",
            oci::runtime_message(&String::from_utf8_lossy(&out.stderr))
        ),
        Some(Err(e)) => tracing::warn!(container = id, "runtime delete: {e}"),
        _ => {}
    }
}
