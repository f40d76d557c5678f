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

/// `container restore [-a] [-l] [--keep] [--tcp-established]
/// [--file-locks] NAME...`, `container restore --import FILE [--name N]
/// [-p ...] [--pod POD] [--import-previous FILE] [--ignore-rootfs]
/// [--ignore-volumes]`, or `container restore IMAGE` of a checkpoint
/// image (`checkpoint --create-image`) with the flags of an import.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub select: Selection,
    /// Keep the CRIU images, logs and statistics after a restore.
    pub keep: bool,
    pub tcp_established: bool,
    /// `--file-locks`: restore the file locks the dump holds.
    pub file_locks: bool,
    /// A checkpoint archive to make the container from.
    pub import: Option<PathBuf>,
    /// `--import-previous`: the pre-checkpoint archive the import's dump
    /// builds on (`checkpoint --pre-checkpoint --export`).
    pub import_previous: Option<PathBuf>,
    /// `--name`: the imported container's name (else the archive's).
    pub name: Option<String>,
    /// `--publish`: the imported container's ports instead of the
    /// archive's.
    pub publish: Vec<PortMapping>,
    /// `--pod`: the existing pod the imported container joins.
    pub pod: Option<String>,
    /// `--ignore-rootfs`, `--ignore-volumes`: leave the archive's file
    /// system changes or volume contents unapplied.
    pub ignore_rootfs: bool,
    pub ignore_volumes: bool,
    /// `--ignore-static-ip`/`--ignore-static-mac`: accepted as Podman
    /// does; hutch containers have no static address to keep.
    pub ignore_static_ip: bool,
    pub ignore_static_mac: bool,
}

impl RestoreOptions {
    /// Podman's checks, in its order and words; `image` tells whether the
    /// names are checkpoint images (which take the import's flags).
    pub fn validate(&self, image: bool) -> Result<()> {
        let sel = &self.select;
        // cobra's argument check comes first in Podman.
        if sel.all && sel.latest {
            crate::fail!(BadInput, "--all and --latest cannot be used together");
        }
        if sel.all && !sel.names.is_empty() {
            crate::fail!(BadInput, "no arguments are needed with --all");
        }
        let not_import = !image && self.import.is_none();
        for (given, flag) in [
            (self.import_previous.is_some(), "--import-previous"),
            (self.ignore_rootfs, "--ignore-rootfs"),
            (self.ignore_volumes, "--ignore-volumes"),
            (self.name.is_some(), "--name"),
            (self.pod.is_some(), "--pod"),
        ] {
            if not_import && given {
                crate::fail!(BadInput, "{flag} can only be used with image or --import");
            }
        }
        if self.name.is_some() && self.tcp_established {
            crate::fail!(BadInput, "--tcp-established cannot be used with --name");
        }
        if self.import.is_some() {
            if sel.all || sel.latest {
                crate::fail!(BadInput, "cannot use --import with --all or --latest");
            }
            if !sel.names.is_empty() {
                crate::fail!(BadInput, "cannot use --import with positional arguments");
            }
        }
        if (sel.all || sel.latest) && !sel.names.is_empty() {
            crate::fail!(
                BadInput,
                "--all or --latest and containers cannot be used together"
            );
        }
        if sel.names.is_empty() && !sel.all && !sel.latest && self.import.is_none() {
            crate::fail!(BadInput, "you must provide at least one name or id");
        }
        if sel.names.len() > 1 && self.name.is_some() {
            crate::fail!(
                BadInput,
                "--name can only be used with one checkpoint image"
            );
        }
        // `-p` on a plain restore: taken and unused, as Podman does (the
        // container keeps the ports it was created with).
        Ok(())
    }
}

/// Go's text for an OS error ("no such file or directory"), as Podman's
/// messages quote it.
fn go_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let s = std::io::Error::from_raw_os_error(code).to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_owned();
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_lowercase().chain(c).collect())
                .unwrap_or_default()
        }
        None => e.to_string(),
    }
}

/// Podman's first look at an archive to import (it reads the runtime
/// from it before any other check).
fn check_archive(file: &Path) -> Result<()> {
    if let Err(e) = std::fs::File::open(file) {
        crate::fail!(
            BadInput,
            "failed extracting runtime information from {f}: failed to open checkpoint archive {f} for import: open {f}: {}",
            go_errno(&e),
            f = file.display()
        );
    }
    Ok(())
}

/// Whether the names are checkpoint images: Podman asks only when none of
/// them is a container, and then refuses an image that is not one or
/// was made with another runtime than the one it would restore with.
fn names_are_images(ctx: &Context, store: &Store, state: &State, names: &[String]) -> Result<bool> {
    if names.is_empty() || names.iter().any(|n| state.container(n).is_ok()) {
        return Ok(false);
    }
    let mut any = false;
    for n in names {
        // A name that is no image either is reported later, by the
        // restore ("no such container or image").
        let Ok(img) = crate::engine::image::lookup(store, n) else {
            continue;
        };
        any = true;
        let notes = super::checkpoint_image::image_annotations(store, &img);
        let Some(runtime) = notes
            .get(super::checkpoint_image::RUNTIME_NAME)
            .and_then(|v| v.as_str())
        else {
            crate::fail!(BadInput, "image is not a checkpoint: {}", img.id.hex());
        };
        let here = default_runtime_name(ctx);
        if here.as_deref() != Some(runtime) {
            crate::fail!(
                BadInput,
                "container image \"{}\" requires runtime: \"{runtime}\"",
                img.id.hex()
            );
        }
    }
    Ok(any)
}

/// The runtime new containers get (Podman compares a checkpoint image's
/// with its host's).
fn default_runtime_name(ctx: &Context) -> Option<String> {
    let requested = ctx
        .runtime
        .clone()
        .or(ctx.containers_conf().runtime.clone());
    super::oci_runtime(ctx, requested.as_deref(), true)
        .ok()
        .map(|(r, _)| r.name)
}

pub fn restore(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &RestoreOptions,
) -> Result<Vec<CheckpointReport>> {
    if let Some(file) = &opts.import {
        check_archive(file)?;
    }
    let images = names_are_images(ctx, store, state, &opts.select.names)?;
    opts.validate(images)?;
    if let Some(file) = &opts.import {
        let (id, result) = import(ctx, store, state, opts, Source::Archive(file));
        let input = file.display().to_string();
        return Ok(vec![CheckpointReport::of(input, id, result)]);
    }
    let mut reports = Vec::new();
    for (input, c) in opts.select.resolve(state)? {
        let c = match c {
            Ok(c) => c,
            Err(e) => {
                // Not a container: a checkpoint image of that name, else
                // Podman's word for neither.
                let named = !opts.select.all && !opts.select.latest;
                match crate::engine::image::lookup(store, &input) {
                    Ok(img) if named => {
                        let (id, result) = import(ctx, store, state, opts, Source::Image(&img));
                        reports.push(CheckpointReport::of(input, id, result));
                    }
                    Err(_) if named => {
                        let text = format!("no such container or image: {input}");
                        reports.push(CheckpointReport::of(
                            input,
                            String::new(),
                            Err(Error::not_found(text)),
                        ));
                    }
                    _ => reports.push(CheckpointReport::of(input, String::new(), Err(e))),
                }
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

/// What an import makes its container from.
enum Source<'a> {
    Archive(&'a Path),
    Image(&'a hutch_storage::images::ImageRecord),
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
            file_locks: opts.file_locks,
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
        let _ = std::fs::remove_dir_all(checkpoint::pre_image_dir(&paths));
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
    source: Source<'_>,
) -> (String, Result<RunStats>) {
    let what = match &source {
        Source::Archive(f) => f.display().to_string(),
        Source::Image(img) => format!("checkpoint image {}", img.id.hex()),
    };
    let made = (|| -> Result<(String, Unpacked)> {
        std::fs::create_dir_all(import_dir(store)).context("creating the containers directory")?;
        remove_stale_imports(store);
        let dir = Unpacked(import_dir(store).join(format!(
            "{IMPORT_PREFIX}{}-{}",
            std::process::id(),
            crate::host::time::now_ns()
        )));
        match source {
            Source::Archive(file) => super::checkpoint_archive::unpack(file, &dir.0)?,
            Source::Image(img) => super::checkpoint_image::unpack(store, img, &dir.0)?,
        }
        if !checkpoint::is_complete(&dir.0.join("checkpoint")) {
            crate::fail!(
                BadInput,
                "{what} holds no complete checkpoint (checkpoint/inventory.img)"
            );
        }
        let config = super::checkpoint_archive::read_config(&dir.0)?;
        // Podman's rules for pods: a pod's container goes back into a pod
        // (one that exists), any other into none.
        let pod = match (&config.spec.pod, &opts.pod) {
            (Some(_), None) => {
                crate::fail!(BadInput, "cannot restore pod container without --pod")
            }
            (None, Some(_)) => {
                crate::fail!(BadInput, "cannot restore non pod container into pod")
            }
            (_, Some(p)) => Some(
                state
                    .pod(p)
                    .map_err(|e| Error::from(e).context(format!("pod {p:?} cannot be retrieved")))?
                    .id,
            ),
            (None, None) => None,
        };
        // Before anything is made: a host that cannot restore says so.
        let (runtime, _) = super::oci_runtime(ctx, Some(&config.runtime), true)?;
        ensure_possible(ctx, &runtime, "restoring")?;
        let mut spec = config.spec;
        spec.name = Some(opts.name.clone().unwrap_or(config.name));
        spec.pod = pod;
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
        if let Some(previous) = &opts.import_previous {
            // The pre-dump the archive's dump builds on (its `parent`
            // link is `../pre-checkpoint`).
            let pre = dir.0.join(".previous");
            super::checkpoint_archive::unpack(previous, &pre)?;
            let from = pre.join(checkpoint::PRE_CHECKPOINT);
            let to = checkpoint::pre_image_dir(&paths);
            std::fs::rename(&from, &to).with_context(|| {
                format!(
                    "{} holds no {} directory to move to {}",
                    previous.display(),
                    checkpoint::PRE_CHECKPOINT,
                    to.display()
                )
            })?;
        }
        let images = checkpoint::image_dir(&paths);
        std::fs::rename(dir.0.join("checkpoint"), &images)
            .with_context(|| format!("moving the checkpoint to {}", images.display()))?;
        let diff = dir.0.join(super::checkpoint_archive::ROOTFS_DIFF);
        if !opts.ignore_rootfs && diff.is_file() {
            let upper = store.container_upper(&id);
            let f = std::fs::File::open(&diff).context("opening rootfs-diff.tar")?;
            hutch_storage::extract::apply_layer(f, &upper, &store.apply_options())
                .map_err(|e| Error::bad_input(format!("applying rootfs-diff.tar: {e}")))?;
        }
        if !opts.ignore_volumes {
            for name in state.container_volumes(&id)? {
                super::checkpoint_archive::import_volume(state, &dir.0, &name)?;
            }
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
        let err = |o: &RestoreOptions, image: bool| o.validate(image).unwrap_err().text();
        let named = RestoreOptions {
            select: names(&["a"]),
            name: Some("b".into()),
            ..RestoreOptions::default()
        };
        assert_eq!(
            err(&named, false),
            "--name can only be used with image or --import"
        );
        // A checkpoint image takes the import's flags.
        assert!(named.validate(true).is_ok());
        let import = RestoreOptions {
            import: Some("/tmp/a.tar".into()),
            name: Some("b".into()),
            pod: Some("p".into()),
            ..RestoreOptions::default()
        };
        assert!(import.validate(false).is_ok());
        let both = RestoreOptions {
            select: names(&["a"]),
            import: Some("/tmp/a.tar".into()),
            ..RestoreOptions::default()
        };
        assert_eq!(
            err(&both, false),
            "cannot use --import with positional arguments"
        );
        let pod = RestoreOptions {
            select: names(&["a"]),
            pod: Some("p".into()),
            ignore_rootfs: true,
            ..RestoreOptions::default()
        };
        // Podman's order: --ignore-rootfs is named before --pod.
        assert_eq!(
            err(&pod, false),
            "--ignore-rootfs can only be used with image or --import"
        );
        let plain = RestoreOptions {
            select: names(&["a"]),
            file_locks: true,
            ..RestoreOptions::default()
        };
        assert!(plain.validate(false).is_ok());
    }
}
