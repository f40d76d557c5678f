//! `container checkpoint`: the runtime's CRIU support (`runc checkpoint
//! --image-path userdata/checkpoint --work-path userdata`, as Podman runs
//! it) saves a running container's processes; without `--leave-running`
//! they are gone afterwards and the container reads as exited and
//! checkpointed until it is restored (`restore.rs`) or started afresh.
//!
//! The exit a dump causes is seen by the container's monitor like any
//! other and recorded by its cleanup; what tells that cleanup it was a
//! checkpoint is `checkpoint.pending`, written before the dump, together
//! with a complete dump newer than it (CRIU writes `inventory.img` last).
//! So a `checkpoint` killed at any point leaves either a running
//! container (no complete dump yet; the mark is stale and ignored) or a
//! checkpointed one: the next command accepts both.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hutch_storage::Store;

use super::lifecycle::{mark_stopped_by_user, settled, stop_mark, wait_until};
use super::select::Selection;
use super::{Paths, events};
use crate::config::Context;
use crate::engine::state::{Container, ContainerState, State};
use crate::engine::{Error, Result, ResultExt};
use crate::runtime::oci::{self, CheckpointArgs, OciRuntime};

/// `container checkpoint [-a] [-l] [--keep] [--leave-running]
/// [--tcp-established] [--file-locks] [--pre-checkpoint|--with-previous]
/// [--export FILE [--compress ALG] [--ignore-rootfs] [--ignore-volumes]]
/// [--create-image IMAGE] [--print-stats] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    pub select: Selection,
    /// Keep CRIU's log and statistics files (`dump.log`, `stats-dump`).
    pub keep: bool,
    /// The container goes on running after the dump.
    pub leave_running: bool,
    pub tcp_established: bool,
    /// `--file-locks`: dump the file locks the container holds.
    pub file_locks: bool,
    /// `--pre-checkpoint`: memory only, into `userdata/pre-checkpoint`; the
    /// container runs on.
    pub pre_checkpoint: bool,
    /// `--with-previous`: a dump that builds on the last pre-checkpoint.
    pub with_previous: bool,
    /// Write the checkpoint, the container's config and its file system
    /// changes to this archive (`restore --import` reads it).
    pub export: Option<PathBuf>,
    pub compress: super::checkpoint_archive::Compression,
    /// `--ignore-rootfs`, `--ignore-volumes`: leave the file system changes
    /// or the named volumes' contents out of the archive.
    pub ignore_rootfs: bool,
    pub ignore_volumes: bool,
    /// `--create-image NAME`: an image holding the archive's contents (a
    /// "checkpoint image", which `restore NAME` restores from). Podman
    /// makes none when `--export` is given too.
    pub create_image: Option<String>,
}

impl CheckpointOptions {
    /// Podman's checks, in its order, with its words; the last one asks
    /// CRIU (as Podman does, before any container is looked at).
    pub fn validate(&self) -> Result<()> {
        self.select.validate()?;
        if self.export.is_none() && self.ignore_rootfs {
            crate::fail!(BadInput, "--ignore-rootfs can only be used with --export");
        }
        if self.export.is_none() && self.ignore_volumes {
            crate::fail!(BadInput, "--ignore-volumes can only be used with --export");
        }
        if self.with_previous && self.pre_checkpoint {
            crate::fail!(
                BadInput,
                "--with-previous can not be used with --pre-checkpoint"
            );
        }
        if (self.with_previous || self.pre_checkpoint) && !crate::host::criu::mem_track() {
            crate::fail!(
                BadInput,
                "system (architecture/kernel/CRIU) does not support memory tracking"
            );
        }
        if self.export.is_some() && (self.select.all || self.select.names.len() > 1) {
            crate::fail!(
                BadInput,
                "--export can only be used with a single container"
            );
        }
        Ok(())
    }
}

/// One container's outcome; `stats` with `--print-stats`.
#[derive(Debug)]
pub struct CheckpointReport {
    pub input: String,
    pub id: String,
    pub error: Option<Error>,
    pub stats: Option<RunStats>,
}

impl CheckpointReport {
    /// One container's line: its stats, or the error that stopped it.
    pub(super) fn of(input: String, id: String, result: Result<RunStats>) -> Self {
        let (error, stats) = match result {
            Ok(s) => (None, Some(s)),
            Err(e) => (Some(e), None),
        };
        CheckpointReport {
            input,
            id,
            error,
            stats,
        }
    }
}

/// How long the runtime took and what CRIU counted (Podman's
/// `--print-stats` JSON keys).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunStats {
    #[serde(rename = "Id")]
    pub id: String,
    /// Microseconds.
    #[serde(
        rename = "runtime_checkpoint_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub checkpoint_us: Option<u64>,
    #[serde(
        rename = "runtime_restore_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub restore_us: Option<u64>,
    pub criu_statistics: Option<super::criu_stats::CriuStats>,
}

/// The CRIU images of the container's last checkpoint.
pub fn image_dir(paths: &Paths) -> PathBuf {
    paths.userdata.join("checkpoint")
}

/// The memory pre-dump (`--pre-checkpoint`) a later `--with-previous`
/// dump builds on: Podman's `pre-checkpoint` beside `checkpoint`.
pub fn pre_image_dir(paths: &Paths) -> PathBuf {
    paths.userdata.join(PRE_CHECKPOINT)
}

pub const PRE_CHECKPOINT: &str = "pre-checkpoint";

/// Written before a dump that ends the container's processes.
fn pending_mark(paths: &Paths) -> PathBuf {
    paths.userdata.join("checkpoint.pending")
}

/// Present (with the time, Unix ns) while the container is checkpointed.
fn checkpointed_mark(paths: &Paths) -> PathBuf {
    paths.userdata.join("checkpointed")
}

/// Present (with the time) once the container was restored, until it is
/// started afresh.
pub(crate) fn restored_mark(paths: &Paths) -> PathBuf {
    paths.userdata.join("restored")
}

/// CRIU's files in the work path (the userdata), removed without `--keep`.
pub(crate) const DUMP_FILES: [&str; 2] = ["dump.log", "stats-dump"];
pub(crate) const RESTORE_FILES: [&str; 2] = ["restore.log", "stats-restore"];

/// Whether `dir` holds a complete dump: CRIU writes the inventory last.
pub fn is_complete(dir: &Path) -> bool {
    dir.join("inventory.img").is_file()
}

/// What inspect shows (`.State.Checkpointed`, `CheckpointedAt`, ...).
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub checkpointed_at: Option<i64>,
    pub restored_at: Option<i64>,
    /// The dump's directory, when a complete one is there.
    pub path: Option<PathBuf>,
    pub dump_log: Option<PathBuf>,
    pub restore_log: Option<PathBuf>,
}

fn read_time(path: &Path) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn status(paths: &Paths) -> Status {
    let dir = image_dir(paths);
    let log = |name: &str| {
        let p = paths.userdata.join(name);
        p.is_file().then_some(p)
    };
    Status {
        checkpointed_at: read_time(&checkpointed_mark(paths)),
        restored_at: read_time(&restored_mark(paths)),
        path: is_complete(&dir).then_some(dir),
        dump_log: log("dump.log"),
        restore_log: log("restore.log"),
    }
}

/// A fresh start: the container is no longer checkpointed or restored.
pub(crate) fn forget_marks(paths: &Paths) {
    let _ = std::fs::remove_file(checkpointed_mark(paths));
    let _ = std::fs::remove_file(restored_mark(paths));
    let _ = std::fs::remove_file(pending_mark(paths));
}

/// Called by the cleanup of an exit: true when the exit was a dump's
/// (the pending mark and a complete dump written after it), which is then
/// recorded as checkpointed. The mark goes either way: it spoke for this
/// exit only.
pub(crate) fn settle_exit(paths: &Paths) -> bool {
    let mark = pending_mark(paths);
    let Ok(marked) = std::fs::metadata(&mark).and_then(|m| m.modified()) else {
        return false;
    };
    let dumped = std::fs::metadata(image_dir(paths).join("inventory.img"))
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= marked);
    if dumped {
        write_time(&checkpointed_mark(paths));
    }
    let _ = std::fs::remove_file(&mark);
    dumped
}

pub(crate) fn write_time(path: &Path) {
    let now = crate::host::time::now_ns().to_string();
    if let Err(e) = hutch_monitor::frame::write_atomic(path, now.as_bytes()) {
        tracing::warn!("writing {}: {e}", path.display());
    }
}

/// What a checkpoint or restore needs of this host, all checked at once so
/// that one message names everything missing: the runtime's checkpoint
/// command, CRIU, and for a rootless user CRIU's file capability. Podman
/// refuses rootless checkpoints outright ("requires root"); hutch goes on
/// where CRIU was given `cap_checkpoint_restore`, which Podman never sets.
pub fn ensure_possible(ctx: &Context, runtime: &OciRuntime, verb: &str) -> Result<()> {
    let mut missing = Vec::new();
    let criu = crate::host::criu::find();
    if criu.is_none() {
        missing.push("CRIU is not installed (apt-get install criu)".to_owned());
    }
    if !runtime.supports_checkpoint() {
        missing.push(format!(
            "the OCI runtime {} ({}) has no checkpoint/restore support{}",
            runtime.name,
            runtime.path.display(),
            if runtime.kind == oci::Kind::Crun {
                " (crun built without libcriu; use --runtime runc)"
            } else {
                ""
            }
        ));
    }
    let mut may_run_criu = true;
    if ctx.rootless()
        && let Some(criu) = &criu
        && !crate::host::criu::has_checkpoint_cap(criu)
    {
        may_run_criu = false;
        missing.push(format!(
            "{} lacks the CAP_CHECKPOINT_RESTORE file capability that rootless CRIU needs (as root: setcap cap_checkpoint_restore+eip {})",
            criu.display(),
            criu.display()
        ));
    }
    // Installed but unable to work on this kernel: CRIU's own words (for
    // instance CRIU 3.17 on Linux >= 6.13).
    if may_run_criu
        && let Some(criu) = &criu
        && let Err(said) = crate::host::criu::check(criu)
    {
        missing.push(format!(
            "CRIU ({}) fails its own check (criu check), so it cannot work on this kernel or for this user: {said}",
            criu.display()
        ));
    }
    if !missing.is_empty() {
        crate::fail!(
            Internal,
            "{verb} a container {}: {}",
            if ctx.rootless() {
                "as a rootless user is not possible here"
            } else {
                "is not possible here"
            },
            missing.join("; ")
        );
    }
    Ok(())
}

pub fn checkpoint(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &CheckpointOptions,
) -> Result<Vec<CheckpointReport>> {
    opts.validate()?;
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        let c = match c {
            Ok(c) => c,
            Err(e) => {
                reports.push(CheckpointReport::of(input, String::new(), Err(e)));
                continue;
            }
        };
        // `-a`: the running ones.
        if opts.select.all && c.state != ContainerState::Running {
            continue;
        }
        let id = c.id.clone();
        let result = checkpoint_one(ctx, store, state, &c, opts);
        reports.push(CheckpointReport::of(input, id, result));
    }
    Ok(reports)
}

fn checkpoint_one(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    opts: &CheckpointOptions,
) -> Result<RunStats> {
    if c.state != ContainerState::Running {
        crate::fail!(
            InvalidState,
            "{:?} is not running, cannot checkpoint: container state improper",
            c.name
        );
    }
    // Podman's rule: the exit a dump causes would remove the container.
    if c.spec.remove && opts.export.is_none() {
        crate::fail!(
            InvalidState,
            "cannot checkpoint containers that have been started with '--rm' unless '--export' is used"
        );
    }
    let paths = Paths::new(ctx, store.root(), &c.id);
    let no_cgroup = crate::cgroups::container::Plan::read(&paths.userdata).is_none();
    let (runtime, _) = super::oci_runtime(ctx, Some(&c.runtime), no_cgroup)?;
    ensure_possible(ctx, &runtime, "checkpointing")?;
    let pre = opts.pre_checkpoint;
    if opts.with_previous && !pre_image_dir(&paths).is_dir() {
        crate::fail!(
            InvalidState,
            "container {} has no pre-checkpoint for --with-previous to build on: run checkpoint --pre-checkpoint first",
            c.name
        );
    }
    // An `--rm` container is dumped running, exported, then stopped: the
    // exit would otherwise remove its userdata, and the dump with it. A
    // pre-dump leaves the container running by itself.
    let leave_running = opts.leave_running || c.spec.remove || pre;
    let lock = state.lock_container(&c.id)?;
    let dir = if pre {
        pre_image_dir(&paths)
    } else {
        image_dir(&paths)
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    for f in DUMP_FILES {
        let _ = std::fs::remove_file(paths.userdata.join(f));
    }
    if !leave_running {
        // The restart policy must not bring a dumped container back.
        mark_stopped_by_user(&paths)?;
        let mark = pending_mark(&paths);
        std::fs::write(&mark, b"").with_context(|| format!("writing {}", mark.display()))?;
    }
    // Relative to the image path, as Podman passes it.
    let parent = Path::new(super::checkpoint_archive::PARENT_LINK);
    let args = CheckpointArgs {
        image_path: &dir,
        work_path: &paths.userdata,
        leave_running,
        tcp_established: opts.tcp_established,
        file_locks: opts.file_locks,
        pre_dump: pre,
        parent_path: opts.with_previous.then_some(parent),
    };
    let began = Instant::now();
    let out = Command::new(&runtime.path)
        .args(runtime.checkpoint_args(&c.id, &args))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {} checkpoint", runtime.name));
    let took = began.elapsed();
    let failed = match &out {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(oci::runtime_message(&String::from_utf8_lossy(&o.stderr))),
        Err(e) => Some(e.text()),
    };
    if let Some(message) = failed {
        // The runtime left the container running (CRIU thaws it when the
        // dump fails).
        let _ = std::fs::remove_file(pending_mark(&paths));
        let _ = std::fs::remove_file(stop_mark(&paths));
        let log = paths.userdata.join("dump.log");
        return Err(Error::runtime(
            125,
            format!(
                "{}: {message}{}",
                runtime.name,
                if log.is_file() {
                    format!(" (CRIU's log: {})", log.display())
                } else {
                    String::new()
                }
            ),
        ));
    }
    drop(lock);
    if opts.with_previous {
        // CRIU links the dump to its parent by an absolute path (CRIU
        // issue 116); Podman makes it relative so that the two directories
        // move together (export, import).
        let link = dir.join("parent");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(parent, &link)
            .with_context(|| format!("linking {} to its pre-checkpoint", link.display()))?;
    }
    if !leave_running {
        // The monitor saw the dump's exit; its cleanup records it (and the
        // checkpoint) and unmounts the layer.
        if !wait_until(state, &c.id, Duration::from_secs(30), settled)? {
            crate::fail!(
                Internal,
                "timed out waiting for the monitor of {} to record the checkpoint",
                c.id
            );
        }
        // A cleanup that did not run (its monitor killed) is finished by
        // `recover`; the dump is complete either way.
        if !checkpointed_mark(&paths).exists() && is_complete(&dir) {
            write_time(&checkpointed_mark(&paths));
        }
    }
    let row = state.container(&c.id).unwrap_or_else(|_| c.clone());
    events::record(state, &row, "checkpoint", &[]);
    let parts = super::checkpoint_archive::Parts {
        pre_checkpoint: pre,
        ignore_rootfs: opts.ignore_rootfs,
        ignore_volumes: opts.ignore_volumes,
    };
    if let Some(file) = &opts.export {
        super::checkpoint_archive::export(store, state, &row, &paths, file, opts.compress, parts)?;
    } else if let Some(name) = &opts.create_image {
        super::checkpoint_image::create(ctx, store, state, &row, &paths, &runtime, name, parts)?;
    }
    if c.spec.remove && !opts.leave_running && !pre {
        super::stop::stop_one(ctx, store, state, &row, Some(0))?;
    }
    let criu_statistics = super::criu_stats::read(&paths.userdata.join("stats-dump"));
    if !opts.keep && !pre {
        for f in DUMP_FILES {
            let _ = std::fs::remove_file(paths.userdata.join(f));
        }
    }
    Ok(RunStats {
        id: c.id.clone(),
        checkpoint_us: Some(took.as_micros() as u64),
        restore_us: None,
        criu_statistics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_older_than_the_mark_is_not_this_exits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths {
            userdata: dir.path().to_owned(),
            attach: dir.path().join("a"),
        };
        // No mark: an ordinary exit.
        assert!(!settle_exit(&paths));
        // A dump from an earlier checkpoint (kept by `restore --keep`),
        // then a mark: this exit is not that dump's.
        std::fs::create_dir(image_dir(&paths)).expect("dir");
        let inventory = image_dir(&paths).join("inventory.img");
        std::fs::write(&inventory, b"x").expect("inventory");
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&inventory)
            .and_then(|f| f.set_modified(old))
            .expect("mtime");
        std::fs::write(pending_mark(&paths), b"").expect("mark");
        assert!(!settle_exit(&paths));
        assert!(!pending_mark(&paths).exists(), "the mark spoke once");
        assert!(status(&paths).checkpointed_at.is_none());
        // The dump written after the mark: checkpointed.
        std::fs::write(pending_mark(&paths), b"").expect("mark");
        std::fs::write(&inventory, b"y").expect("inventory");
        assert!(settle_exit(&paths));
        let st = status(&paths);
        assert!(st.checkpointed_at.is_some());
        assert_eq!(st.path, Some(image_dir(&paths)));
        forget_marks(&paths);
        assert!(status(&paths).checkpointed_at.is_none());
    }

    #[test]
    fn export_takes_one_container() {
        let opts = CheckpointOptions {
            select: Selection {
                all: true,
                ..Selection::default()
            },
            export: Some("/tmp/x.tar.gz".into()),
            ..CheckpointOptions::default()
        };
        assert!(opts.validate().is_err());
    }
}
