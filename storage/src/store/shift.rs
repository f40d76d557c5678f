//! The store's side of [`crate::idshift`]: a container's recorded map,
//! the method chosen at its first mount, its mounts and the shared copies.

use std::fs;
use std::path::{Path, PathBuf};

use super::{StoreError, flatten, io_err, lock_file};
use crate::digest::Digest;
use crate::driver::{self, Driver, DriverError};
use crate::idshift::{self, IdShift, ShiftMethod};
use crate::layers;
use crate::store::{Store, VOLATILE_MARK};

/// In a container's directory: its map ([`IdShift`], JSON).
const SHIFT_FILE: &str = "idshift.json";
/// In a container's directory: the method, then the reason, one line each.
const METHOD_FILE: &str = "idshift-method";
/// In a container's directory: the idmapped lower layers' mount points.
pub(super) const IDMAPPED_DIR: &str = "idmapped";
/// Below the graph root: the chowned copies, one per (top layer, map).
const COPIES_DIR: &str = "idshift-copies";
/// Below the graph root: the cached verdict on idmapped mounts.
const IDMAPPED_VERDICT: &str = "idmapped-mounts";

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, data).map_err(io_err("writing", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("renaming", path))
}

impl Store {
    /// Records the map of container `id`'s own user namespace, before its
    /// first start. Returns whether its root will be shifted (the map is
    /// not the store's own, and the root is an image's): a root mounted
    /// already must then be mounted again. The default mapping writes
    /// nothing and costs nothing at mount time.
    pub fn set_container_id_shift(&self, id: &str, shift: &IdShift) -> Result<bool, StoreError> {
        // Single-id mode: every file is the user's already; `--rootfs`: the
        // user's own directory, never chowned.
        if shift.is_identity() || self.opts.single_id || self.container_rootfs(id).is_some() {
            return Ok(false);
        }
        let dir = self.container_dir(id);
        if self.driver()?.driver == Driver::Vfs {
            // The container's full copy is its own: shifted once, here
            // (create is not resumed after a crash, it is undone).
            let upper = dir.join("upper");
            idshift::chown_tree(&upper, shift).map_err(io_err("shifting owners below", &upper))?;
            write_atomic(
                &dir.join(METHOD_FILE),
                format!(
                    "{}\nvfs: the container's own copy, chowned at create\n",
                    ShiftMethod::InPlace.record()
                )
                .as_bytes(),
            )?;
        }
        let json = serde_json::to_vec(shift).map_err(|e| StoreError::Io {
            op: "encoding the id map of",
            path: dir.clone(),
            source: e.into(),
        })?;
        write_atomic(&dir.join(SHIFT_FILE), &json)?;
        Ok(true)
    }

    /// Container `id`'s recorded map, if its root is shifted.
    pub fn container_id_shift(&self, id: &str) -> Option<IdShift> {
        let bytes = fs::read(self.container_dir(id).join(SHIFT_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The method chosen for container `id` and why (after its first mount).
    pub fn container_id_shift_method(&self, id: &str) -> Option<(ShiftMethod, String)> {
        let text = fs::read_to_string(self.container_dir(id).join(METHOD_FILE)).ok()?;
        let method = ShiftMethod::parse(&text)?;
        let reason = text.lines().nth(1).unwrap_or("").to_owned();
        Some((method, reason))
    }

    /// Mounts a shifted container's root at `target` (see
    /// [`crate::idshift`]); `note` hears a one-line cost note when a copy
    /// is made.
    pub(super) fn mount_shifted(
        &self,
        id: &str,
        shift: &IdShift,
        lower_ids: &[Digest],
        lowers: &[PathBuf],
        target: &Path,
        note: &mut dyn FnMut(String),
    ) -> Result<(), StoreError> {
        let dir = self.container_dir(id);
        let method = match self.container_id_shift_method(id) {
            Some((m, _)) => m,
            None => {
                let (m, reason) = self.choose_shift(shift, lower_ids, lowers)?;
                // Recorded before mounting: the upper directory's owners
                // depend on the method, so a retry after a crash and every
                // later start use the same one.
                write_atomic(
                    &dir.join(METHOD_FILE),
                    format!("{}\n{reason}\n", m.record()).as_bytes(),
                )?;
                m
            }
        };
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        let volatile = dir.join(VOLATILE_MARK).exists();
        let mount_err = |driver: &'static str| {
            move |e: std::io::Error| DriverError::Mount {
                driver,
                target: target.to_owned(),
                detail: e.to_string(),
            }
        };
        match method {
            ShiftMethod::Idmapped => {
                let idm = dir.join(IDMAPPED_DIR);
                // Whatever a killed command left there first.
                idshift::unmount_idmapped_lowers(&idm);
                let mapped = idshift::mount_idmapped_lowers(shift, lowers, &idm)
                    .map_err(mount_err("idmapped layers"))?;
                self.chown_upper_root(&upper, shift)?;
                let mounted = driver::mount_overlay_with(
                    &mapped,
                    Some((&upper, &work)),
                    target,
                    self.opts.rootless,
                    volatile,
                );
                if mounted.is_err() {
                    idshift::unmount_idmapped_lowers(&idm);
                }
                mounted?;
            }
            ShiftMethod::FuseOverlayfs { program } => {
                // allow_other: the container's namespace is a child of the
                // one fuse-overlayfs runs in, and its ids are not the
                // mounter's.
                driver::mount_fuse_overlay_with(
                    &program,
                    lowers,
                    Some((&upper, &work)),
                    target,
                    &format!("{},allow_other", shift.fuse_options()),
                )?;
            }
            ShiftMethod::Copy { name } => {
                let copy = self.ensure_shift_copy(&name, shift, lowers, note)?;
                self.chown_upper_root(&upper, shift)?;
                driver::mount_overlay_with(
                    &[copy],
                    Some((&upper, &work)),
                    target,
                    self.opts.rootless,
                    volatile,
                )?;
            }
            ShiftMethod::InPlace => {
                rustix::mount::mount_bind(&upper, target).map_err(|e| DriverError::Mount {
                    driver: "bind",
                    target: target.to_owned(),
                    detail: e.to_string(),
                })?;
            }
        }
        Ok(())
    }

    fn choose_shift(
        &self,
        shift: &IdShift,
        lower_ids: &[Digest],
        lowers: &[PathBuf],
    ) -> Result<(ShiftMethod, String), StoreError> {
        let fuse = match &self.driver()?.driver {
            Driver::FuseOverlayfs { program } => Some(program.clone()),
            _ => driver::find_program("fuse-overlayfs").filter(|_| Path::new("/dev/fuse").exists()),
        };
        let copy = || ShiftMethod::Copy {
            name: format!(
                "{}-{}",
                lower_ids.last().map(Digest::hex).unwrap_or("empty"),
                shift.key()
            ),
        };
        match idshift::forced().as_deref() {
            Some("idmapped") => {
                return Ok((ShiftMethod::Idmapped, "forced by the test hook".into()));
            }
            Some("fuse-overlayfs") if let Some(program) = fuse => {
                return Ok((
                    ShiftMethod::FuseOverlayfs { program },
                    "forced by the test hook".into(),
                ));
            }
            Some("copy") => return Ok((copy(), "forced by the test hook".into())),
            _ => {}
        }
        let native = self.driver()?.driver == Driver::Overlay;
        let refused = match lowers.first() {
            None => "the image has no layers".to_owned(),
            Some(_) if !native => "the kernel's overlay is not usable here".to_owned(),
            Some(probe) => {
                match idshift::idmapped_usable(&self.opts.root.join(IDMAPPED_VERDICT), probe, shift)
                {
                    Ok(()) => {
                        return Ok((
                            ShiftMethod::Idmapped,
                            "kernel idmapped mounts of the layers".into(),
                        ));
                    }
                    Err(why) => why,
                }
            }
        };
        if let Some(program) = fuse {
            return Ok((
                ShiftMethod::FuseOverlayfs { program },
                format!("idmapped mounts refused ({refused}); fuse-overlayfs uidmapping"),
            ));
        }
        Ok((
            copy(),
            format!("idmapped mounts refused ({refused}) and no fuse-overlayfs with /dev/fuse"),
        ))
    }

    /// The overlay's root directory is the upper's: it must belong to the
    /// container's root for that root to create files in `/`.
    fn chown_upper_root(&self, upper: &Path, shift: &IdShift) -> Result<(), StoreError> {
        let (Some(uid), Some(gid)) = (shift.map_uid(0), shift.map_gid(0)) else {
            return Ok(());
        };
        std::os::unix::fs::chown(upper, Some(uid), Some(gid)).map_err(io_err("chown", upper))
    }

    /// The chowned copy `name`, made when missing: flattened and shifted
    /// in `<name>.partial`, renamed into place only when complete, so a
    /// copy cut short (a kill -9) is redone, never used.
    fn ensure_shift_copy(
        &self,
        name: &str,
        shift: &IdShift,
        lowers: &[PathBuf],
        note: &mut dyn FnMut(String),
    ) -> Result<PathBuf, StoreError> {
        let copies = self.opts.root.join(COPIES_DIR);
        fs::create_dir_all(&copies).map_err(io_err("creating", &copies))?;
        let _lock = lock_file(
            &copies.join(".lock"),
            rustix::fs::FlockOperation::LockExclusive,
        )?;
        let dest = copies.join(name);
        if dest.is_dir() {
            return Ok(dest);
        }
        let partial = copies.join(format!("{name}.partial"));
        layers::remove_tree(&partial)?;
        let started = std::time::Instant::now();
        flatten(lowers, &partial, self.opts.rootless)?;
        idshift::chown_tree(&partial, shift).map_err(io_err("shifting owners below", &partial))?;
        fs::rename(&partial, &dest).map_err(io_err("renaming into", &dest))?;
        note(format!(
            "copied the image's layers with owners shifted for this container's id mapping \
             ({:.1} MB, {:.1} s; once per image and mapping, shared by containers using both; \
             fuse-overlayfs or idmapped mounts avoid the copy)",
            idshift::tree_size(&dest) as f64 / 1e6,
            started.elapsed().as_secs_f64()
        ));
        Ok(dest)
    }

    /// After container `id` is gone: removes its copy when no other
    /// container uses it.
    pub(super) fn release_shift_copy(&self, method: Option<ShiftMethod>) {
        let Some(ShiftMethod::Copy { name }) = method else {
            return;
        };
        let copies = self.opts.root.join(COPIES_DIR);
        let Ok(_lock) = lock_file(
            &copies.join(".lock"),
            rustix::fs::FlockOperation::LockExclusive,
        ) else {
            return;
        };
        let in_use = fs::read_dir(self.opts.root.join("containers"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                fs::read_to_string(e.path().join(METHOD_FILE))
                    .ok()
                    .and_then(|t| ShiftMethod::parse(&t))
                    == Some(ShiftMethod::Copy { name: name.clone() })
            });
        if !in_use {
            let _ = layers::remove_tree(&copies.join(&name));
        }
    }
}
