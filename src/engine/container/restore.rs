//! `container restore`: a checkpointed container runs on from its CRIU
//! images. A new monitor runs the runtime's `restore --detach` where it
//! would run `create` (conmon's `--restore`), so the restored process is
//! its child to relay and reap, with the log continuing where it stopped.
//! With `--import` the container is first made from a checkpoint archive
//! (`checkpoint_archive.rs`); if it then cannot be restored it is removed
//! again, so a failed import leaves nothing behind.
//!
//! Kill-anywhere: the dump and the markers are only touched once the
//! monitor's start is on record; a restore killed before that leaves the
//! container exited with its checkpoint, to be restored again (the
//! monitor stops a restored process whose spawner died unrecorded, as it
//! does for a start). An import killed half way leaves at most a
//! container that was never started (removed by `rm`) and its unpacked
//! archive directory, which the next import removes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hutch_rootless_net::PortMapping;
use hutch_storage::Store;

use super::checkpoint::{self, CheckpointReport, RunStats, ensure_possible};
use super::lifecycle::stop_mark;
use super::monitor::{self, RestoreFlags, Spawned, Start};
use super::select::Selection;
use super::{Paths, events};
use crate::config::Context;
use crate::engine::state::{Container, ContainerState, State};
use crate::engine::{Error, Result, ResultExt};

/// `container restore [-a] [-l] [--keep] [--tcp-established] NAME...` or
/// `container restore --import FILE [--name N] [-p ...]`.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub select: Selection,
    /// Keep the CRIU images, logs and statistics after a restore.
    pub keep: bool,
    pub tcp_established: bool,
    /// A checkpoint archive to make the container from.
    pub import: Option<PathBuf>,
    /// `--name`: the imported container's name (else the archive's).
    pub name: Option<String>,
    /// `--publish`: the imported container's ports instead of the
    /// archive's.
    pub publish: Vec<PortMapping>,
    /// `--ignore-static-ip`/`--ignore-static-mac`: accepted as Podman
    /// does; hutch containers have no static address to keep.
    pub ignore_static_ip: bool,
    pub ignore_static_mac: bool,
}

impl RestoreOptions {
    pub fn validate(&self) -> Result<()> {
        if self.import.is_some() {
            if !self.select.names.is_empty() || self.select.all || self.select.latest {
                crate::fail!(
                    BadInput,
                    "--import can only be used without naming containers"
                );
            }
            return Ok(());
        }
        if self.name.is_some() {
            crate::fail!(BadInput, "--name can only be used with --import");
        }
        if !self.publish.is_empty() {
            crate::fail!(BadInput, "--publish can only be used with --import");
        }
        self.select.validate()
    }
}

pub fn restore(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &RestoreOptions,
) -> Result<Vec<CheckpointReport>> {
    opts.validate()?;
    if let Some(file) = &opts.import {
        let (id, result) = import(ctx, store, state, opts, file);
        let input = file.display().to_string();
        return Ok(vec![CheckpointReport::of(input, id, result)]);
    }
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        let c = match c {
            Ok(c) => c,
            Err(e) => {
                reports.push(CheckpointReport::of(input, String::new(), Err(e)));
                continue;
            }
        };
        let paths = Paths::new(ctx, store.root(), &c.id);
        // `-a`: the stopped ones with a checkpoint to restore (a dump
        // made with --leave-running is there while the container runs).
        if opts.select.all
            && (c.state.is_active() || !checkpoint::is_complete(&checkpoint::image_dir(&paths)))
        {
            continue;
        }
        let id = c.id.clone();
        let result = restore_one(ctx, store, state, &c, opts);
        reports.push(CheckpointReport::of(input, id, result));
    }
    Ok(reports)
}

fn restore_one(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    opts: &RestoreOptions,
) -> Result<RunStats> {
    if !matches!(
        c.state,
        ContainerState::Configured | ContainerState::Created | ContainerState::Exited
    ) {
        crate::fail!(
            InvalidState,
            "container {} is {}, cannot restore: container state improper",
            c.id,
            c.state
        );
    }
    let paths = Paths::new(ctx, store.root(), &c.id);
    let dir = checkpoint::image_dir(&paths);
    if !checkpoint::is_complete(&dir) {
        // Podman's words.
        crate::fail!(
            InvalidState,
            "a complete checkpoint for container {} cannot be found, cannot restore",
            c.id
        );
    }
    let no_cgroup = crate::cgroups::container::Plan::read(&paths.userdata).is_none();
    let (runtime, _) = super::oci_runtime(ctx, Some(&c.runtime), no_cgroup)?;
    ensure_possible(ctx, &runtime, "restoring")?;
    let lock = state.lock_container(&c.id)?;
    for f in checkpoint::RESTORE_FILES {
        let _ = std::fs::remove_file(paths.userdata.join(f));
    }
    let _ = std::fs::remove_file(stop_mark(&paths));
    let start = Start {
        remove: c.spec.remove,
        restore: Some(RestoreFlags {
            tcp_established: opts.tcp_established,
        }),
        ..Start::default()
    };
    let began = Instant::now();
    let spawned = monitor::spawn_with(ctx, store, state, &c.id, start)?;
    let took = began.elapsed();
    drop(lock);
    match spawned {
        Spawned::Created { .. } => {}
        Spawned::Failed { code, message } => {
            let log = paths.userdata.join("restore.log");
            return Err(Error::runtime(
                code,
                format!(
                    "{message}{}",
                    if log.is_file() {
                        format!(" (CRIU's log: {})", log.display())
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
    // On record as running: it is the restored run now.
    super::checkpoint::forget_marks(&paths);
    checkpoint::write_time(&checkpoint::restored_mark(&paths));
    let criu_statistics = super::criu_stats::read(&paths.userdata.join("stats-restore"));
    if !opts.keep {
        let _ = std::fs::remove_dir_all(&dir);
        for f in checkpoint::DUMP_FILES
            .iter()
            .chain(&checkpoint::RESTORE_FILES)
        {
            let _ = std::fs::remove_file(paths.userdata.join(f));
        }
    }
    if let Ok(row) = state.container(&c.id) {
        events::record(state, &row, "restore", &[]);
    }
    Ok(RunStats {
        id: c.id.clone(),
        checkpoint_us: None,
        restore_us: Some(took.as_micros() as u64),
        criu_statistics,
    })
}

/// Where archives are unpacked: beside the containers' directories, so
/// that the images move into the new container's userdata by a rename.
fn import_dir(store: &Store) -> PathBuf {
    store.root().join("containers")
}

const IMPORT_PREFIX: &str = ".checkpoint-import-";

/// Unpacked archives of imports that were killed: their pid is gone.
fn remove_stale_imports(store: &Store) {
    let Ok(entries) = std::fs::read_dir(import_dir(store)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(IMPORT_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill(pid, 0) only probes.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Removes the unpacked archive when the import ends, however it ends.
struct Unpacked(PathBuf);

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn import(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &RestoreOptions,
    file: &Path,
) -> (String, Result<RunStats>) {
    let made = (|| -> Result<(String, Unpacked)> {
        std::fs::create_dir_all(import_dir(store)).context("creating the containers directory")?;
        remove_stale_imports(store);
        let dir = Unpacked(import_dir(store).join(format!(
            "{IMPORT_PREFIX}{}-{}",
            std::process::id(),
            crate::host::time::now_ns()
        )));
        super::checkpoint_archive::unpack(file, &dir.0)?;
        if !checkpoint::is_complete(&dir.0.join("checkpoint")) {
            crate::fail!(
                BadInput,
                "{} holds no complete checkpoint (checkpoint/inventory.img)",
                file.display()
            );
        }
        let config = super::checkpoint_archive::read_config(&dir.0)?;
        // Before anything is made: a host that cannot restore says so.
        let (runtime, _) = super::oci_runtime(ctx, Some(&config.runtime), true)?;
        ensure_possible(ctx, &runtime, "restoring")?;
        let mut spec = config.spec;
        spec.name = Some(opts.name.clone().unwrap_or(config.name));
        if !opts.publish.is_empty() {
            spec.network.ports = opts.publish.clone();
        }
        let report = super::create::create(
            ctx,
            store,
            state,
            &spec,
            &super::create::CreateOptions::default(),
        )?;
        Ok((report.id, dir))
    })();
    let (id, dir) = match made {
        Ok(m) => m,
        Err(e) => return (String::new(), Err(e)),
    };
    let restored = (|| -> Result<RunStats> {
        let paths = Paths::new(ctx, store.root(), &id);
        let images = checkpoint::image_dir(&paths);
        std::fs::rename(dir.0.join("checkpoint"), &images)
            .with_context(|| format!("moving the checkpoint to {}", images.display()))?;
        let diff = dir.0.join(super::checkpoint_archive::ROOTFS_DIFF);
        if diff.is_file() {
            let upper = store.container_upper(&id);
            let f = std::fs::File::open(&diff).context("opening rootfs-diff.tar")?;
            hutch_storage::extract::apply_layer(f, &upper, &store.apply_options())
                .map_err(|e| Error::bad_input(format!("applying rootfs-diff.tar: {e}")))?;
        }
        let c = state.container(&id)?;
        restore_one(ctx, store, state, &c, opts)
    })();
    drop(dir);
    if restored.is_err() {
        // Nothing of a failed import stays.
        let paths = Paths::new(ctx, store.root(), &id);
        if let Err(e) = super::remove::remove_stopped(store, state, &paths, &id) {
            tracing::warn!(container = id, "removing the imported container: {e:#}");
        }
    }
    (id, restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_flags_go_with_import_only() {
        let names =
            |n: &[&str]| Selection::names(&n.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let named = RestoreOptions {
            select: names(&["a"]),
            name: Some("b".into()),
            ..RestoreOptions::default()
        };
        assert!(named.validate().is_err());
        let import = RestoreOptions {
            import: Some("/tmp/a.tar".into()),
            name: Some("b".into()),
            ..RestoreOptions::default()
        };
        assert!(import.validate().is_ok());
        let both = RestoreOptions {
            select: names(&["a"]),
            import: Some("/tmp/a.tar".into()),
            ..RestoreOptions::default()
        };
        assert!(both.validate().is_err());
        let plain = RestoreOptions {
            select: names(&["a"]),
            ..RestoreOptions::default()
        };
        assert!(plain.validate().is_ok());
    }
}
