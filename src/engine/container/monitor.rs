//! Starting a container under its monitor: hutch prepares what needs the
//! engine (the user network attachment, the runtime's command lines),
//! writes the launch description and starts `hutch-monitor` (the small
//! binary beside hutch, conmon's role); while the monitor starts (and
//! starts the network helper), hutch mounts the layer and moves the
//! monitor into the container's cgroup, then writes `go`. The monitor
//! reports on a socket pair (its fd 3): `attach` (it waits for the first
//! client), then `ok PID` or `err CODE MESSAGE`; this side records the
//! state transitions it learns, then closes the socket, which tells the
//! monitor that its container's start is on record. The exit is recorded
//! by the cleanup the monitor runs (`hutch __cleanup`, see `cleanup.rs`).

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use hutch_storage::Store;

use super::launch::{self, Prepared};
use super::{Paths, cleanup, events, network};
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{Monitor, State, Transition};
use crate::host::time;

/// The monitor's pid, in the container's userdata, written at each start.
pub const MONITOR_PID_FILE: &str = "monitor.pid";

/// What the spawner learns once the container exists in the runtime.
pub enum Spawned {
    Created {
        pid: i32,
        /// With `wait_for_attach`: the client connection the monitor
        /// accepted before it started the container, so none of the
        /// output is missed.
        attach: Option<UnixStream>,
    },
    /// The container did not start (the runtime refused: command not
    /// found, bad spec; or its network or cgroup could not be made): the
    /// message and Podman's exit code for it. The exit is on record.
    Failed { code: u8, message: String },
}

/// How one start goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Start<'a> {
    /// The monitor waits for the first attach client before it starts the
    /// container (`run` and `start -a` in the foreground).
    pub wait_for_attach: bool,
    /// `--rm`: the cleanup removes the container.
    pub remove: bool,
    /// A restart-policy restart, from the previous run's cleanup: counted,
    /// and the monitor stays in the cgroup it inherits from that run.
    pub restarting: bool,
    /// Descriptors (and socket activation) the caller hands to the
    /// container for this start.
    pub passed: Option<&'a super::activation::PassedFds>,
    /// `container restore`: the monitor runs the runtime's `restore
    /// --detach` from the checkpoint in the userdata instead of creating
    /// the container afresh (conmon's `--restore`), then relays and reaps
    /// the restored process as it would a new one.
    pub restore: Option<RestoreFlags>,
    /// `init`: the monitor creates the container in the runtime and holds
    /// it there until `start` ([`go_initialized`]).
    pub init: bool,
}

/// How a restore goes, beside what to restore (always the container's
/// `userdata/checkpoint`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreFlags {
    /// `--tcp-established`: restore established TCP connections.
    pub tcp_established: bool,
    /// `--file-locks`: restore the file locks the dump held.
    pub file_locks: bool,
}

/// Starts the monitor for a created container and waits until the runtime
/// has started it (or refused).
pub fn spawn(
    ctx: &Context,
    id: &str,
    wait_for_attach: bool,
    remove: bool,
) -> anyhow::Result<Spawned> {
    let store = image::open_store(ctx)?;
    let state = super::open_state(ctx)?;
    spawn_with(
        ctx,
        &store,
        &state,
        id,
        Start {
            wait_for_attach,
            remove,
            restarting: false,
            passed: None,
            restore: None,
            init: false,
        },
    )
}

/// `hutch-monitor`, installed beside the hutch binary.
pub fn monitor_binary() -> anyhow::Result<PathBuf> {
    let exe = std::fs::read_link("/proc/self/exe").context("finding the hutch binary")?;
    let path = exe
        .parent()
        .map(|d| d.join("hutch-monitor"))
        .unwrap_or_else(|| PathBuf::from("hutch-monitor"));
    if !path.is_file() {
        bail!(
            "the container monitor {} is missing: hutch-monitor must be installed beside hutch ({})",
            path.display(),
            exe.display()
        );
    }
    Ok(path)
}

pub fn spawn_with(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
    start: Start<'_>,
) -> anyhow::Result<Spawned> {
    let exe = monitor_binary()?;
    let row = state.container(id)?;
    if row.state == crate::engine::state::ContainerState::Removing {
        bail!("container {} is being removed", short(id));
    }
    // A pod's container joins the infra's namespaces: the infra runs first.
    super::pod_join::before_start(ctx, store, state, &row)?;
    let paths = Paths::new(ctx, store.root(), id);
    let fields = launch::fields_of(ctx, &row, &paths);
    let cgroup = crate::cgroups::container::Plan::read(&paths.userdata).is_some();
    let (runtime, _) = super::oci_runtime(ctx, Some(&row.runtime), !cgroup)?;
    // A stale exit file would read as this run's exit (lifecycle::recover).
    let _ = std::fs::remove_file(paths.exit());
    // A fresh start is no longer the checkpointed run (Podman resets
    // Checkpointed and Restored at init); a restore says so once it ran.
    if start.restore.is_none() {
        super::checkpoint::forget_marks(&paths);
    }
    // The runtime's record of an earlier run whose monitor was killed with
    // its spawner (during `create`): it would refuse this create ("already
    // exists"). The caller holds the container's lock, and a container
    // with a live monitor is not started again, so the record is nobody's.
    if runtime.has_state(id) {
        super::lifecycle::forget_in_runtime(ctx, &paths, &row);
    }
    let (helper, forward) = match network::prepare(ctx, &paths, id, &row.name) {
        Ok(n) => n,
        Err(e) => return Ok(not_started(ctx, store, state, id, start, e)),
    };
    let passed = start.passed;
    if let Err(e) = super::activation::apply_env(&paths, passed.and_then(|p| p.activation.as_ref()))
    {
        return Ok(not_started(ctx, store, state, id, start, e));
    }
    let pass_fds = passed.map_or(0, |p| p.fds.len() as u32);
    let prep = Prepared {
        wait_for_attach: start.wait_for_attach,
        remove: start.remove,
        helper,
        forward,
        cgroup,
        start_before_network: super::pod_join::is_default_infra(state, &row),
        cgroup_return: crate::cgroups::container::return_dir(&paths.userdata),
        pass_fds,
        restore: start.restore,
        hold: start.init,
    };
    // A restart's monitor inherits the cgroup of the run before.
    let enter_cgroup = cgroup && !start.restarting;
    let launched = launch::build(ctx, id, &paths, &fields, &runtime, prep).and_then(|l| {
        let file = paths.userdata.join(hutch_monitor::launch::FILE);
        l.write(&file)
            .with_context(|| format!("writing {}", file.display()))?;
        Ok(file)
    });
    let file = match launched {
        Ok(f) => f,
        Err(e) => return Ok(not_started(ctx, store, state, id, start, e)),
    };
    let log = paths.userdata.join(hutch_monitor::launch::LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    let (mut sync, theirs) = UnixStream::pair().context("creating the monitor's socket")?;
    // The monitor's descriptors are placed at 3 (the socket) and 4.. (the
    // container's): copies above every target first, so that no dup2
    // overwrites a source not yet placed (the caller's own are at 3..).
    let above = 4 + pass_fds as i32;
    let dup_above = |fd: std::os::fd::BorrowedFd<'_>| {
        rustix::io::fcntl_dupfd_cloexec(fd, above).context("placing a descriptor for the monitor")
    };
    let placed = dup_above(theirs.as_fd())?;
    // Only the copy stays: the spawner must not hold the monitor's end
    // (its reads would never see the monitor's death as end of file).
    drop(theirs);
    let theirs = placed;
    let extra = passed
        .map(|p| p.fds.iter().map(|f| dup_above(f.as_fd())).collect())
        .transpose()?
        .unwrap_or_else(Vec::new);
    let extra_raw: Vec<i32> = extra.iter().map(|f| f.as_raw_fd()).collect();
    let raw = theirs.as_raw_fd();
    let mut cmd = Command::new(&exe);
    // A unit's NOTIFY_SOCKET is the monitor's to use (`--sdnotify=conmon`,
    // from the launch file), never the runtime's: crun would bind its own
    // socket for the container at that path and fail.
    cmd.env_remove("NOTIFY_SOCKET");
    cmd.arg(id)
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for (i, fd) in extra_raw.iter().enumerate() {
                if libc::dup2(*fd, 4 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let e = anyhow::Error::from(e).context(format!("starting {}", exe.display()));
            return Ok(not_started(ctx, store, state, id, start, e));
        }
    };
    drop(theirs);
    drop(extra);
    let pid = child.id() as i32;
    let monitor = Monitor::of(pid);
    // Always, as conmon's `conmon.pid`: the PIDFile= of a unit from
    // `generate systemd` (Type=forking) names it.
    if let Err(e) = std::fs::write(paths.userdata.join(MONITOR_PID_FILE), pid.to_string()) {
        tracing::warn!(container = id, "writing the monitor's pid file: {e}");
    }
    if let Some(pidfile) = &row.spec.monitor_pidfile
        && let Err(e) = std::fs::write(pidfile, pid.to_string())
    {
        // Podman's conmon goes on without its pid file too.
        tracing::warn!(container = id, "writing {}: {e}", pidfile.display());
    }
    // While the monitor starts (and with it the network helper): the
    // layer mount (a second start of an exited container: it was
    // unmounted after the first run) and the cgroup, which the monitor
    // (and so the container) must be in before the runtime creates it.
    let ready = store
        .mount_container_noting(id, &mut |line| eprintln!("{line}"))
        .with_context(|| format!("mounting the root file system of {}", short(id)))
        .inspect(|_| {
            if let Some((method, reason)) = store.container_id_shift_method(id) {
                tracing::debug!(
                    container = id,
                    method = method.name(),
                    reason,
                    "image owners shifted for the container's id mapping"
                );
            }
        })
        .and_then(|root| {
            super::userns_view::attach(ctx, id, &paths)?;
            Ok(root)
        })
        .and_then(|root| Ok(super::workdir::check(store, &row, &root)?))
        .and_then(|()| super::host::chown_at_start(&row, &paths.userdata))
        .and_then(|()| {
            if enter_cgroup {
                crate::cgroups::container::enter(id, &paths.userdata, pid)?;
            }
            Ok(())
        });
    if let Err(e) = ready.and_then(|()| writeln!(sync, "go").context("starting the monitor")) {
        // `abort` ends the monitor without its cleanup, which is done
        // here; its end of file alone would read as this process's death.
        let _ = writeln!(sync, "abort");
        drop(sync);
        let mut child = child;
        let _ = child.wait();
        return Ok(not_started(ctx, store, state, id, start, e));
    }
    // A monitor killed before it reported reads as an empty report (end of
    // file): its leftovers are cleaned up below.
    let (line, attach) = read_report(&sync, &paths, id).unwrap_or_else(|e| {
        tracing::warn!(container = id, "waiting for the container monitor: {e:#}");
        (String::new(), None)
    });
    let mut parts = line.trim_end().splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("ok"), Some(ctr), _) => {
            let ctr: i32 = ctr.parse().context("the monitor reported a bad pid")?;
            let monitor = monitor.unwrap_or(Monitor { pid, start_time: 0 });
            let t = if start.restarting {
                Transition::Restarting { monitor }
            } else {
                Transition::Created { monitor }
            };
            state.update_state(id, t)?;
            record_started(state, &paths, id, sync, ctr)?;
            adopt(child);
            Ok(Spawned::Created { pid: ctr, attach })
        }
        (Some("initialized"), Some(ctr), _) => {
            let ctr: i32 = ctr.parse().context("the monitor reported a bad pid")?;
            let monitor = monitor.unwrap_or(Monitor { pid, start_time: 0 });
            let row = state.update_state(id, Transition::Created { monitor })?;
            events::record(state, &row, "init", &[]);
            // On record: the monitor now waits for a `start`.
            let _ = writeln!(sync, "recorded");
            drop(sync);
            adopt(child);
            Ok(Spawned::Created {
                pid: ctr,
                attach: None,
            })
        }
        (Some("err"), Some(code), Some(message)) => {
            adopt(child);
            Ok(Spawned::Failed {
                code: code.parse().unwrap_or(125),
                message: message.to_owned(),
            })
        }
        _ => {
            // Killed before it reported (or it broke the protocol): nothing
            // else will clean up after it. The runtime may hold a created
            // container (its init waits for `start` for good, holding the
            // mount), and the layer is mounted: both go, and the container
            // stays created, so that the next `start` runs it.
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            super::lifecycle::forget_in_runtime(ctx, &paths, &row);
            let e = anyhow::anyhow!(
                "the container monitor for {} exited without reporting (see {})",
                short(id),
                paths
                    .userdata
                    .join(hutch_monitor::launch::LOG_FILE)
                    .display()
            );
            Ok(not_started(ctx, store, state, id, start, e))
        }
    }
}

/// The start on record, then the monitor told (`recorded`) on `sync`.
fn record_started(
    state: &State,
    paths: &Paths,
    id: &str,
    mut sync: UnixStream,
    ctr: i32,
) -> anyhow::Result<()> {
    let row = state.update_state(
        id,
        Transition::Started {
            pid: ctr,
            started_at: time::now_ns(),
        },
    )?;
    events::record(state, &row, "start", &[]);
    // `--pidfile`: the container's pid at each start, as Podman's
    // runtime writes it; left in place at exit, as Podman leaves it.
    if let Some(f) = &row.spec.setup.pidfile
        && let Err(e) = std::fs::write(f, ctr.to_string())
    {
        tracing::warn!(container = id, "writing {}: {e}", f.display());
    }
    if let Err(e) = super::health::started(state, &paths.userdata, &row) {
        tracing::warn!(container = id, "resetting the health status: {e}");
    }
    // On record: the monitor may now record the exit. Its end of
    // file without this line says the spawner died unrecorded.
    let _ = writeln!(sync, "recorded");
    if row.spec.notify_socket.is_some() && row.spec.sdnotify != crate::spec::SdNotify::Ignore {
        wait_told(&sync, id);
    }
    Ok(())
}

/// `start` of an initialized container: its monitor, which holds it
/// created, is told `go` and reports the start as to its spawner. The
/// caller holds the container's lock.
pub fn go_initialized(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
) -> anyhow::Result<Spawned> {
    let paths = Paths::new(ctx, store.root(), id);
    let socket = paths.hold_socket();
    let mut sync = UnixStream::connect(&socket)
        .with_context(|| format!("starting the initialized container {}", short(id)))?;
    writeln!(sync, "go").context("starting the initialized container")?;
    let (line, _) = read_report(&sync, &paths, id)?;
    let mut parts = line.trim_end().splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("ok"), Some(ctr), _) => {
            let ctr: i32 = ctr.parse().context("the monitor reported a bad pid")?;
            record_started(state, &paths, id, sync, ctr)?;
            Ok(Spawned::Created {
                pid: ctr,
                attach: None,
            })
        }
        (Some("err"), Some(code), Some(message)) => Ok(Spawned::Failed {
            code: code.parse().unwrap_or(125),
            message: message.to_owned(),
        }),
        _ => bail!(
            "the container monitor for {} exited without reporting (see {})",
            short(id),
            paths
                .userdata
                .join(hutch_monitor::launch::LOG_FILE)
                .display()
        ),
    }
}

/// The monitor's report: `ok PID` or `err CODE MESSAGE`, after `attach`
/// (the monitor listens and waits for this client before it starts the
/// container) for the foreground `run`.
/// The monitors this process started and has not reaped: a monitor is a
/// child of its spawner, which a CLI leaves to init by exiting, while the
/// long-lived API service would keep each exited one as a zombie.
static CHILDREN: std::sync::Mutex<Vec<std::process::Child>> = std::sync::Mutex::new(Vec::new());

fn adopt(child: std::process::Child) {
    if let Ok(mut v) = CHILDREN.lock() {
        v.push(child);
    }
}

/// Reaps the monitors started by this process that have exited (never
/// waits; the service calls it now and then). Only those pids: a
/// `waitpid(-1)` would take the exit of a runtime call another thread waits
/// for.
pub fn reap_exited() {
    if let Ok(mut v) = CHILDREN.lock() {
        v.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
    }
}

fn read_report(
    sync: &UnixStream,
    paths: &Paths,
    id: &str,
) -> anyhow::Result<(String, Option<UnixStream>)> {
    let mut reader = BufReader::new(sync.try_clone().context("the monitor's socket")?);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .context("waiting for the container monitor")?;
    let mut attach = None;
    if line.trim_end() == "attach" {
        attach = Some(
            UnixStream::connect(&paths.attach)
                .with_context(|| format!("attaching to container {}", short(id)))?,
        );
        line.clear();
        reader
            .read_line(&mut line)
            .context("waiting for the container monitor")?;
    }
    Ok((line, attach))
}

/// The start failed before a monitor ran: the cleanup it would have run
/// (network, mount, `--rm`), then the failure as the monitor reports it.
fn not_started(
    ctx: &Context,
    store: &Store,
    state: &State,
    id: &str,
    start: Start,
    e: anyhow::Error,
) -> Spawned {
    let opts = cleanup::CleanupOptions {
        remove: start.remove,
        ..Default::default()
    };
    if let Err(c) = cleanup::cleanup(ctx, store, state, id, opts) {
        tracing::warn!(container = id, "cleaning up: {c:#}");
    }
    // The kind of an engine error in the chain decides (a port in use is
    // 126); anything else is hutch's own failure.
    let code = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::engine::Error>())
        .map_or(125, |k| k.kind().exit_code());
    Spawned::Failed {
        code,
        message: format!("{e:#}").replace('\n', " "),
    }
}

fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

/// Waits (10 s at most) for the monitor's `told`: it has sent the main pid
/// (and `READY=1` for `--sdnotify=conmon`) to the unit's `NOTIFY_SOCKET`.
/// systemd fails a `Type=notify` service whose main process (this `run
/// -d`) exits before it heard of another (result `protocol`); Podman sends
/// them from its own process before it exits.
fn wait_told(sync: &UnixStream, id: &str) {
    let told = sync
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .and_then(|()| {
            let mut line = String::new();
            BufReader::new(sync).read_line(&mut line).map(|_| line)
        });
    match told {
        Ok(line) if line.trim_end() == "told" => {}
        Ok(line) => tracing::warn!(container = id, "the monitor said {line:?}, not told"),
        Err(e) => tracing::warn!(container = id, "waiting for the monitor's sd_notify: {e}"),
    }
}
