//! The store: blobs, layers and images of one graph root, plus the
//! read-write layers of containers and the mounts that stack them.
//!
//! Every operation here runs inside the user namespace when rootless (the
//! CLI joins it first), so extracted files land on the subordinate id range
//! and mounts live in the namespace's mount table, outliving one command.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::additional::AdditionalStore;
use crate::blobs::{BlobError, BlobStore};
use crate::digest::Digest;
use crate::driver::{self, Choice, Driver, DriverConfig, DriverError};
use crate::extract::{ApplyOptions, Ownership, WhiteoutFormat};
use crate::images::{ImageError, ImageRecord, ImageStore};
use crate::layers::{self, LayerError, LayerStore};
use crate::podman::PodmanStoreError;

mod shift;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "storage root {path} is on {fs}, where overlay layers and user-namespace ownership do not work; \
         set graphroot in ~/.config/containers/storage.conf to a directory on a local disk \
         (for example /var/tmp/$USER/hutch-storage)"
    )]
    NetworkFs { path: PathBuf, fs: &'static str },
    #[error("image config {digest} is not valid: {reason}")]
    BadConfig { digest: Digest, reason: String },
    #[error("image has {layers} layers but its config lists {diff_ids} diff ids")]
    LayerCount { layers: usize, diff_ids: usize },
    #[error("no container layer {0}")]
    NoContainer(String),
    #[error(transparent)]
    Podman(#[from] PodmanStoreError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// graphroot: blobs, layers, images, container layers.
    pub root: PathBuf,
    pub driver: DriverConfig,
    pub rootless: bool,
    /// Single-id mapping: ownership in images collapses to the user.
    pub single_id: bool,
    /// Read-only stores (storage.conf `additionalimagestores`), in
    /// hutch's layout or a Podman store's: their images are listed and
    /// usable, never changed.
    pub additional: Vec<PathBuf>,
    /// A Podman graph root read in place like an additional store when it
    /// holds containers/storage's overlay layout (found, not configured:
    /// Podman itself breaks on its own root listed as an additional
    /// store, and both read one storage.conf). Unreadable, it is skipped.
    pub podman_store: Option<PathBuf>,
}

/// A layer blob as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    pub digest: Digest,
    pub media_type: String,
}

pub struct Store {
    opts: StoreOptions,
    pub blobs: BlobStore,
    pub layers: LayerStore,
    pub images: ImageStore,
    extra: Vec<AdditionalStore>,
    driver: OnceLock<Choice>,
}

const NETWORK_FILESYSTEMS: [(i64, &str); 5] = [
    (0x6969, "NFS"),
    (0x0BD0_0BD0, "Lustre"),
    (0x4750_4653, "GPFS"),
    (0x00C3_6400, "CephFS"),
    (0xFF53_4D42, "CIFS/SMB"),
];

impl Store {
    pub fn open(opts: StoreOptions) -> Result<Store, StoreError> {
        create_private_dir(&opts.root)?;
        refuse_network_fs(&opts.root)?;
        // A missing additional store is skipped, as containers/storage does:
        // a shared mount that is not there yet must not break the tool.
        let extra = opts
            .additional
            .iter()
            .filter_map(|p| AdditionalStore::open(p, opts.rootless))
            .chain(
                opts.podman_store
                    .as_deref()
                    .filter(|p| !opts.additional.iter().any(|a| a == p))
                    .and_then(|p| AdditionalStore::podman(p, opts.rootless)),
            )
            .collect();
        Ok(Store {
            blobs: BlobStore::open(&opts.root)?,
            layers: LayerStore::open(&opts.root)?,
            images: ImageStore::open(&opts.root)?,
            extra,
            opts,
            driver: OnceLock::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.opts.root
    }

    /// Images of this store, then those of the additional stores that this
    /// store does not also hold and that this user did not hide; `true`
    /// marks a read-only one.
    pub fn all_images(&self) -> Result<Vec<(ImageRecord, bool)>, StoreError> {
        let mut out: Vec<(ImageRecord, bool)> = self
            .images
            .list()?
            .into_iter()
            .map(|i| (i, false))
            .collect();
        let hidden = self.hidden_images();
        for extra in &self.extra {
            let images = match extra.list() {
                Ok(images) => images,
                // A Podman store found, not configured, must not break
                // hutch when Podman left it in a state hutch cannot read.
                Err(_) if extra.found() => continue,
                Err(e) => return Err(e),
            };
            for image in images {
                if !hidden.contains(&image.id) && !out.iter().any(|(i, _)| i.id == image.id) {
                    out.push((image, true));
                }
            }
        }
        Ok(out)
    }

    /// The additional stores that were there when the store was opened.
    pub fn additional_stores(&self) -> &[AdditionalStore] {
        &self.extra
    }

    fn hidden_path(&self) -> PathBuf {
        self.opts.root.join("hidden-images")
    }

    /// Images of additional stores this user removed from their own view
    /// (`rmi --force` of a read-only image): one id a line in the user's
    /// graph root, so other users of the store keep seeing it.
    fn hidden_images(&self) -> std::collections::HashSet<Digest> {
        fs::read_to_string(self.hidden_path())
            .map(|t| t.lines().filter_map(|l| l.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Hides an additional store's image from this user's view; the store
    /// itself is not touched.
    pub fn hide_image(&self, id: &Digest) -> Result<(), StoreError> {
        let _lock = lock_file(
            &self.opts.root.join("hidden-images.lock"),
            rustix::fs::FlockOperation::LockExclusive,
        )?;
        let mut hidden: Vec<Digest> = self.hidden_images().into_iter().collect();
        if hidden.contains(id) {
            return Ok(());
        }
        hidden.push(id.clone());
        let text: String = hidden.iter().map(|d| format!("{d}\n")).collect();
        let path = self.hidden_path();
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, text).map_err(io_err("writing", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("renaming", &path))
    }

    /// Where a layer's tree is: this store, else the first additional store
    /// that has it.
    pub fn diff_dir(&self, chain_id: &Digest) -> PathBuf {
        self.lower_dir(chain_id).0
    }

    /// [`Store::diff_dir`], and whether it is in an additional store whose
    /// owner the user namespace does not map.
    fn lower_dir(&self, chain_id: &Digest) -> (PathBuf, bool) {
        let own = self.layers.diff_dir(chain_id);
        if own.is_dir() {
            return (own, false);
        }
        self.extra
            .iter()
            .find_map(|s| Some((s.diff_dir(chain_id)?, s.unmapped_owner())))
            .unwrap_or((own, false))
    }

    /// An image's config, from this store or the additional store holding it.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        match self.blobs.read(digest) {
            Ok(b) => Ok(b),
            Err(BlobError::Missing { .. }) => {
                if let Some(data) = self.extra.iter().find_map(|s| s.read_blob(digest)) {
                    return Ok(data);
                }
                Err(BlobError::Missing {
                    digest: digest.clone(),
                }
                .into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The driver, chosen on first use (a test mount at most once per kernel).
    pub fn driver(&self) -> Result<&Choice, StoreError> {
        if let Some(c) = self.driver.get() {
            return Ok(c);
        }
        let choice = driver::choose(&self.opts.driver, &self.opts.root, self.opts.rootless)?;
        Ok(self.driver.get_or_init(|| choice))
    }

    pub fn apply_options(&self) -> ApplyOptions {
        ApplyOptions {
            whiteouts: WhiteoutFormat::Overlay {
                opaque_xattr: driver::opaque_xattr(self.opts.rootless),
            },
            ownership: if self.opts.single_id {
                Ownership::Collapse
            } else {
                Ownership::Preserve
            },
            skip_devices: self.opts.rootless,
        }
    }

    /// Makes an image visible: extracts its layers (verifying each diff id)
    /// and records it. The manifest, config and layer blobs must already be
    /// in the blob store, verified; the image appears in one rename at the
    /// end, so an interrupted commit leaves no visible image.
    pub fn commit_image(
        &self,
        manifest: &Digest,
        manifest_media_type: &str,
        config: &Digest,
        layer_blobs: &[LayerBlob],
        names: &[String],
    ) -> Result<ImageRecord, StoreError> {
        self.commit_image_counted(manifest, manifest_media_type, config, layer_blobs, names)
            .map(|(record, _)| record)
    }

    /// [`Store::commit_image`], with the number of device nodes left out of
    /// the layers it extracted (a rootless store cannot make them): pulls
    /// and loads warn once per image, as Podman does, instead of dropping
    /// them without a word.
    pub fn commit_image_counted(
        &self,
        manifest: &Digest,
        manifest_media_type: &str,
        config: &Digest,
        layer_blobs: &[LayerBlob],
        names: &[String],
    ) -> Result<(ImageRecord, u64), StoreError> {
        let _shared = self.adding()?;
        let diff_ids = self.diff_ids(config)?;
        if diff_ids.len() != layer_blobs.len() {
            return Err(StoreError::LayerCount {
                layers: layer_blobs.len(),
                diff_ids: diff_ids.len(),
            });
        }
        let opts = self.apply_options();
        let mut parent: Option<Digest> = None;
        let mut chain = Vec::new();
        let mut size = 0;
        let mut skipped_devices = 0;
        for (blob, diff_id) in layer_blobs.iter().zip(&diff_ids) {
            let file = self.blobs.open_blob(&blob.digest)?;
            let (rec, skipped) = self.layers.create_counted(
                parent.as_ref(),
                diff_id,
                io::BufReader::with_capacity(1 << 20, file),
                &opts,
            )?;
            size += rec.size;
            skipped_devices += skipped;
            parent = Some(rec.chain_id.clone());
            chain.push(rec.chain_id);
        }
        let record = ImageRecord {
            id: config.clone(),
            names: names.to_vec(),
            digest: manifest.clone(),
            manifest_media_type: manifest_media_type.to_owned(),
            layers: chain,
            size,
            stored_at: now(),
        };
        Ok((self.images.add(record)?, skipped_devices))
    }

    /// The `rootfs.diff_ids` of an image config.
    pub fn diff_ids(&self, config: &Digest) -> Result<Vec<Digest>, StoreError> {
        let bytes = self.read_blob(config)?;
        let bad = |reason: String| StoreError::BadConfig {
            digest: config.clone(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        let ids = value
            .pointer("/rootfs/diff_ids")
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad("no rootfs.diff_ids".into()))?;
        ids.iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| bad("a diff id is not a string".into()))?
                    .parse::<Digest>()
                    .map_err(|e| bad(e.to_string()))
            })
            .collect()
    }

    /// Held (shared) by everything that adds blobs, layers or images, from
    /// its first blob to its image record; removal and garbage collection
    /// hold it exclusively, so they never delete a layer or blob that a
    /// concurrent pull has found or fetched but not yet recorded.
    pub fn adding(&self) -> Result<std::os::fd::OwnedFd, StoreError> {
        self.store_lock(rustix::fs::FlockOperation::LockShared)
    }

    pub(crate) fn store_lock(
        &self,
        op: rustix::fs::FlockOperation,
    ) -> Result<std::os::fd::OwnedFd, StoreError> {
        lock_file(&self.opts.root.join("storage.lock"), op)
    }

    /// Removes an image record, then the layers no other image or
    /// container uses. Blobs go too unless another image lists them.
    pub fn remove_image(&self, id: &Digest) -> Result<Option<ImageRecord>, StoreError> {
        let _exclusive = self.store_lock(rustix::fs::FlockOperation::LockExclusive)?;
        // Unmounted first: a layer under a live mount must not be deleted.
        self.unmount_image(id)?;
        let Some(removed) = self.images.remove(id)? else {
            return Ok(None);
        };
        let remaining = self.images.list()?;
        let in_use: std::collections::HashSet<Digest> = remaining
            .iter()
            .flat_map(|i| i.layers.iter().cloned())
            .chain(self.container_layer_parents())
            .collect();
        for layer in removed.layers.iter().rev() {
            if !in_use.contains(layer) {
                self.layers.remove(layer)?;
            }
        }
        // Blobs: a later pull must fetch (and verify) again what no image
        // still needs, rather than trust a blob nothing accounts for.
        let kept: std::collections::HashSet<Digest> =
            remaining.iter().flat_map(|i| self.blobs_of(i)).collect();
        for blob in self.blobs_of(&removed) {
            if !kept.contains(&blob) {
                self.blobs.remove(&blob)?;
            }
        }
        Ok(Some(removed))
    }

    /// Removes layers and blobs that no image or container references:
    /// what a removal killed half-way, or a failed pull, left behind.
    /// Returns how many layers and blobs went.
    pub fn collect_garbage(&self) -> Result<(usize, usize), StoreError> {
        let exclusive = self.store_lock(rustix::fs::FlockOperation::LockExclusive)?;
        self.collect_garbage_locked(exclusive)
    }

    /// [`Store::collect_garbage`] when nothing else adds to the store right
    /// now (`None` otherwise, without waiting): what a refused pull, load
    /// or import stored on its way (blobs, layers) goes at once, and a
    /// concurrent one's work in progress is never touched; what stays is
    /// collected by the next `rmi` or `image prune`.
    pub fn try_collect_garbage(&self) -> Result<Option<(usize, usize)>, StoreError> {
        let path = self.opts.root.join("storage.lock");
        match crate::layers::open_locked(
            &path,
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        ) {
            Ok(exclusive) => self.collect_garbage_locked(exclusive).map(Some),
            Err((_, e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err((what, e)) => Err(io_err(what, &path)(e)),
        }
    }

    fn collect_garbage_locked(
        &self,
        _exclusive: std::os::fd::OwnedFd,
    ) -> Result<(usize, usize), StoreError> {
        let images = self.images.list()?;
        let layers_in_use: std::collections::HashSet<Digest> = images
            .iter()
            .flat_map(|i| i.layers.iter().cloned())
            .chain(self.container_layer_parents())
            .collect();
        let mut layers = 0;
        for layer in self.layers.list()? {
            if !layers_in_use.contains(&layer.chain_id) {
                self.layers.remove(&layer.chain_id)?;
                layers += 1;
            }
        }
        let blobs_in_use: std::collections::HashSet<Digest> =
            images.iter().flat_map(|i| self.blobs_of(i)).collect();
        let mut blobs = 0;
        let dir = self.opts.root.join("blobs/sha256");
        for entry in fs::read_dir(&dir)
            .map_err(io_err("listing", &dir))?
            .flatten()
        {
            if let Some(d) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
                && !blobs_in_use.contains(&d)
            {
                self.blobs.remove(&d)?;
                blobs += 1;
            }
        }
        self.layers.clean_trash();
        Ok((layers, blobs))
    }

    /// The manifest, config and layer blobs an image stands on.
    fn blobs_of(&self, image: &ImageRecord) -> Vec<Digest> {
        let mut out = vec![image.digest.clone(), image.id.clone()];
        if let Ok(bytes) = self.blobs.read(&image.digest)
            && let Ok(m) = serde_json::from_slice::<serde_json::Value>(&bytes)
            && let Some(layers) = m["layers"].as_array()
        {
            out.extend(
                layers
                    .iter()
                    .filter_map(|l| l["digest"].as_str()?.parse().ok()),
            );
        }
        out
    }

    fn mounts_dir(&self) -> PathBuf {
        self.opts.root.join("mounts")
    }

    /// Mounts an image read-only and returns the mount point.
    pub fn mount_image(&self, image: &ImageRecord) -> Result<PathBuf, StoreError> {
        let target = self.mounts_dir().join(image.id.hex()).join("merged");
        if driver::is_mounted(&target) {
            return Ok(target);
        }
        fs::create_dir_all(&target).map_err(io_err("creating", &target))?;
        let lowers: Vec<PathBuf> = image
            .layers
            .iter()
            .rev()
            .map(|l| self.diff_dir(l))
            .collect();
        match &self.driver()?.driver {
            Driver::Overlay => driver::mount_overlay(&lowers, None, &target, self.opts.rootless)?,
            Driver::FuseOverlayfs { program } => {
                driver::mount_fuse_overlay(program, &lowers, None, &target)?
            }
            Driver::Vfs => {
                let flat = self.mounts_dir().join(image.id.hex()).join("flat");
                if !flat.exists() {
                    flatten(&lowers, &flat, self.opts.rootless)?;
                }
                driver::mount_overlay(&[flat], None, &target, self.opts.rootless)?;
            }
        }
        Ok(target)
    }

    /// Whether an image is mounted (`image mount`, or a command using it).
    pub fn mounts_image(&self, id: &Digest) -> bool {
        driver::is_mounted(&self.mounts_dir().join(id.hex()).join("merged"))
    }

    /// Where image `id` is mounted now, if it is.
    pub fn image_mount_point(&self, id: &Digest) -> Option<PathBuf> {
        let target = self.mounts_dir().join(id.hex()).join("merged");
        driver::is_mounted(&target).then_some(target)
    }

    pub fn unmount_image(&self, id: &Digest) -> Result<bool, StoreError> {
        let target = self.mounts_dir().join(id.hex()).join("merged");
        let mounted = driver::is_mounted(&target);
        if mounted {
            driver::unmount(&target)?;
        }
        let _ = layers::remove_tree(&self.mounts_dir().join(id.hex()));
        Ok(mounted)
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.opts.root.join("containers").join(id)
    }

    /// Creates the read-write layer of container `id` on `image`.
    pub fn create_container_layer(
        &self,
        id: &str,
        image: &ImageRecord,
    ) -> Result<PathBuf, StoreError> {
        let dir = self.container_dir(id);
        for sub in ["upper", "work", "merged"] {
            fs::create_dir_all(dir.join(sub)).map_err(io_err("creating", &dir))?;
        }
        let lowers: Vec<String> = image.layers.iter().map(|l| l.to_string()).collect();
        let list = dir.join("lowers");
        fs::write(&list, lowers.join("\n")).map_err(io_err("writing", &list))?;
        if self.driver()?.driver == Driver::Vfs {
            let all: Vec<PathBuf> = image
                .layers
                .iter()
                .rev()
                .map(|l| self.diff_dir(l))
                .collect();
            let upper = dir.join("upper");
            fs::remove_dir(&upper).map_err(io_err("preparing", &upper))?;
            flatten(&all, &upper, self.opts.rootless)?;
        }
        Ok(dir.join("merged"))
    }

    /// Creates container `id`'s layer on an outside directory (`run
    /// --rootfs DIR`): in place, the directory is bind-mounted as the root;
    /// with `overlay` (`DIR:O`), it is the read-only lower of an overlay
    /// whose upper and work directories are the container's. The
    /// directory is never written by the store in overlay mode and never
    /// removed in either (see [`Store::remove_container_layer`]).
    pub fn create_container_rootfs_layer(
        &self,
        id: &str,
        rootfs: &Path,
        overlay: bool,
    ) -> Result<PathBuf, StoreError> {
        let dir = self.container_dir(id);
        for sub in ["upper", "work", "merged"] {
            fs::create_dir_all(dir.join(sub)).map_err(io_err("creating", &dir))?;
        }
        if overlay && self.driver()?.driver == Driver::Vfs {
            let upper = dir.join("upper");
            fs::remove_dir(&upper).map_err(io_err("preparing", &upper))?;
            flatten(&[rootfs.to_owned()], &upper, self.opts.rootless)?;
        }
        if overlay {
            let mark = dir.join(ROOTFS_OVERLAY_MARK);
            fs::write(&mark, b"").map_err(io_err("writing", &mark))?;
        }
        let link = dir.join(ROOTFS_LINK);
        fs::write(&link, rootfs.as_os_str().as_encoded_bytes())
            .map_err(io_err("writing", &link))?;
        // Written last: `lowers` makes the layer known (pins, mounts).
        let list = dir.join("lowers");
        fs::write(&list, b"").map_err(io_err("writing", &list))?;
        Ok(dir.join("merged"))
    }

    /// The outside directory a `--rootfs` container's layer is on, and
    /// whether an overlay covers it.
    pub fn container_rootfs(&self, id: &str) -> Option<(PathBuf, bool)> {
        let dir = self.container_dir(id);
        let bytes = fs::read(dir.join(ROOTFS_LINK)).ok()?;
        let path =
            PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(bytes));
        Some((path, dir.join(ROOTFS_OVERLAY_MARK).exists()))
    }

    fn mount_rootfs(
        &self,
        dir: &Path,
        rootfs: &Path,
        overlay: bool,
        target: &Path,
    ) -> Result<(), StoreError> {
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        let bind = |src: &Path| {
            rustix::mount::mount_bind(src, target).map_err(|e| DriverError::Mount {
                driver: "bind",
                target: target.to_owned(),
                detail: format!("{}: {e}", src.display()),
            })
        };
        if !overlay {
            return Ok(bind(rootfs)?);
        }
        match &self.driver()?.driver {
            Driver::Overlay => driver::mount_overlay_with(
                &[rootfs.to_owned()],
                Some((&upper, &work)),
                target,
                self.opts.rootless,
                dir.join(VOLATILE_MARK).exists(),
            )?,
            Driver::FuseOverlayfs { program } => driver::mount_fuse_overlay(
                program,
                &[rootfs.to_owned()],
                Some((&upper, &work)),
                target,
            )?,
            Driver::Vfs => bind(&upper)?,
        }
        Ok(())
    }

    pub(crate) fn container_lowers(&self, id: &str) -> Result<Vec<Digest>, StoreError> {
        let list = self.container_dir(id).join("lowers");
        let text = fs::read_to_string(&list).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StoreError::NoContainer(id.to_owned())
            } else {
                io_err("reading", &list)(e)
            }
        })?;
        Ok(text.lines().filter_map(|l| l.parse().ok()).collect())
    }

    fn container_layer_parents(&self) -> Vec<Digest> {
        let Ok(entries) = fs::read_dir(self.opts.root.join("containers")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter_map(|id| self.container_lowers(&id).ok())
            .flatten()
            .collect()
    }

    /// Mounts a container's root file system (idempotent).
    pub fn mount_container(&self, id: &str) -> Result<PathBuf, StoreError> {
        self.mount_container_noting(id, &mut |_| {})
    }

    /// [`Store::mount_container`]; `note` hears one line when the mount has
    /// a cost worth telling the user (a copy of the image's layers made for
    /// the container's id mapping).
    pub fn mount_container_noting(
        &self,
        id: &str,
        note: &mut dyn FnMut(String),
    ) -> Result<PathBuf, StoreError> {
        let dir = self.container_dir(id);
        let target = dir.join("merged");
        let lowers_ids = self.container_lowers(id)?;
        if driver::is_mounted(&target) {
            return Ok(target);
        }
        if let Some((rootfs, overlay)) = self.container_rootfs(id) {
            self.mount_rootfs(&dir, &rootfs, overlay, &target)?;
            return Ok(target);
        }
        let found: Vec<(PathBuf, bool)> =
            lowers_ids.iter().rev().map(|l| self.lower_dir(l)).collect();
        let unmapped = found.iter().any(|(_, u)| *u);
        let lowers: Vec<PathBuf> = found.into_iter().map(|(p, _)| p).collect();
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        // Lowers owned outside the user namespace (a shared store of
        // root's): the kernel's overlay refuses to copy up their
        // directories (the copy's owner cannot be set to an unmapped id),
        // so a container could create no file in /etc or /tmp. fuse-overlayfs
        // copies up as the namespace's root and, with squash_to_root, shows
        // every file as root's, the owner a shared image's files have.
        if unmapped
            && self.opts.rootless
            && let Some(program) = self.squash_program()?
        {
            driver::mount_fuse_overlay_with(
                &program,
                &lowers,
                Some((&upper, &work)),
                &target,
                "squash_to_root,allow_other",
            )?;
            return Ok(target);
        }
        // A map other than the store's own (--userns=auto, nomap, keep-id,
        // --uidmap): the image's owners are shifted (see idshift).
        if let Some(shift) = self.container_id_shift(id) {
            self.mount_shifted(id, &shift, &lowers_ids, &lowers, &target, note)?;
            return Ok(target);
        }
        match &self.driver()?.driver {
            Driver::Overlay => driver::mount_overlay_with(
                &lowers,
                Some((&upper, &work)),
                &target,
                self.opts.rootless,
                dir.join(VOLATILE_MARK).exists(),
            )?,
            Driver::FuseOverlayfs { program } => {
                driver::mount_fuse_overlay(program, &lowers, Some((&upper, &work)), &target)?
            }
            Driver::Vfs => {
                rustix::mount::mount_bind(&upper, &target).map_err(|e| DriverError::Mount {
                    driver: "bind",
                    target: target.clone(),
                    detail: e.to_string(),
                })?
            }
        }
        Ok(target)
    }

    /// fuse-overlayfs for containers on an unmapped store's layers: the
    /// configured one, else one on PATH when /dev/fuse is there.
    fn squash_program(&self) -> Result<Option<PathBuf>, StoreError> {
        if let Driver::FuseOverlayfs { program } = &self.driver()?.driver {
            return Ok(Some(program.clone()));
        }
        Ok(driver::find_program("fuse-overlayfs").filter(|_| Path::new("/dev/fuse").exists()))
    }

    /// Marks container `id`'s layer volatile: its overlay mounts skip
    /// syncing (see [`driver::mount_overlay_with`]). For containers removed
    /// at exit, whose changes nobody keeps.
    pub fn set_container_volatile(&self, id: &str) -> Result<(), StoreError> {
        let mark = self.container_dir(id).join(VOLATILE_MARK);
        fs::write(&mark, b"").map_err(io_err("writing", &mark))
    }

    /// Mounts the image's files under container `id` at its mount point
    /// for reading only (`create` reads `/etc/passwd` and the contents of
    /// volume mount points there), without the container's own layer.
    /// Returns the mount point and whether the view is a temporary one
    /// for the caller to unmount: read-only, it has nothing to sync, where
    /// unmounting the read-write overlay syncs the whole file system under
    /// it (milliseconds per container, paid again by every `rm` of a
    /// container that never ran). Drivers without such a view mount the
    /// container itself, which stays mounted.
    pub fn mount_container_view(&self, id: &str) -> Result<(PathBuf, bool), StoreError> {
        let dir = self.container_dir(id);
        let target = dir.join("merged");
        if driver::is_mounted(&target) {
            return Ok((target, false));
        }
        match &self.driver()?.driver {
            Driver::Overlay => {
                let lowers: Vec<PathBuf> = self
                    .container_lowers(id)?
                    .iter()
                    .rev()
                    .map(|l| self.diff_dir(l))
                    .collect();
                if lowers.is_empty() {
                    return Ok((self.mount_container(id)?, false));
                }
                driver::mount_overlay(&lowers, None, &target, self.opts.rootless)?;
                Ok((target, true))
            }
            _ => Ok((self.mount_container(id)?, false)),
        }
    }

    /// Unmounts a container's root file system unless a user mount
    /// (`hutch mount`, a `cp` under way) pins it; `Ok(false)` when it stays.
    pub fn unmount_container(&self, id: &str) -> Result<bool, StoreError> {
        if self.container_mount_pins(id) > 0 {
            return Ok(false);
        }
        self.force_unmount_container(id)
    }

    fn force_unmount_container(&self, id: &str) -> Result<bool, StoreError> {
        let target = self.container_dir(id).join("merged");
        let mounted = driver::is_mounted(&target);
        if mounted {
            driver::unmount(&target)?;
        }
        // Idmapped lower layers under the overlay (or left by a command
        // killed between the two mounts).
        crate::idshift::unmount_idmapped_lowers(&self.container_dir(id).join(shift::IDMAPPED_DIR));
        Ok(mounted)
    }

    /// Where a container's root file system is mounted, if it is.
    pub fn container_mount_point(&self, id: &str) -> Option<PathBuf> {
        let target = self.container_dir(id).join("merged");
        driver::is_mounted(&target).then_some(target)
    }

    /// The read-write layer of a container: the overlay upper directory
    /// (for vfs, the full copy).
    pub fn container_upper(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("upper")
    }

    /// The chain ids of the image layers under a container, bottom first.
    pub fn container_layers(&self, id: &str) -> Result<Vec<Digest>, StoreError> {
        self.container_lowers(id)
    }

    /// How many user mounts hold a container's root file system.
    pub fn container_mount_pins(&self, id: &str) -> u32 {
        fs::read_to_string(self.container_dir(id).join("mount-pins"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Mounts a container's root file system and counts one more user of
    /// the mount, so that the monitor's cleanup leaves it in place (as
    /// containers/storage's mount count does for `podman mount`).
    pub fn pin_container_mount(&self, id: &str) -> Result<PathBuf, StoreError> {
        let _lock = self.pins_lock(id)?;
        let n = self.container_mount_pins(id);
        let target = self.mount_container(id)?;
        self.write_pins(id, n + 1)?;
        Ok(target)
    }

    /// Drops one user of the mount (all with `force`) and returns how many
    /// remain. Unmounting is left to the caller, which knows whether the
    /// container runs.
    pub fn unpin_container_mount(&self, id: &str, force: bool) -> Result<u32, StoreError> {
        let _lock = self.pins_lock(id)?;
        let n = match force {
            true => 0,
            false => self.container_mount_pins(id).saturating_sub(1),
        };
        self.write_pins(id, n)?;
        Ok(n)
    }

    fn write_pins(&self, id: &str, n: u32) -> Result<(), StoreError> {
        let path = self.container_dir(id).join("mount-pins");
        if n == 0 {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("removing", &path)(e)),
                _ => Ok(()),
            };
        }
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, format!("{n}\n")).map_err(io_err("writing", &tmp))?;
        fs::rename(&tmp, &path).map_err(io_err("renaming", &path))
    }

    fn pins_lock(&self, id: &str) -> Result<std::os::fd::OwnedFd, StoreError> {
        let dir = self.container_dir(id);
        if !dir.join("lowers").is_file() {
            return Err(StoreError::NoContainer(id.to_owned()));
        }
        lock_file(
            &dir.join("mount-pins.lock"),
            rustix::fs::FlockOperation::LockExclusive,
        )
    }

    pub fn remove_container_layer(&self, id: &str) -> Result<(), StoreError> {
        // A removed container's mount goes whatever pins it.
        self.force_unmount_container(id)?;
        let shift_method = self.container_id_shift_method(id).map(|(m, _)| m);
        let idmapped = self.container_dir(id).join(shift::IDMAPPED_DIR);
        if idmapped.exists() {
            // Still mounted: removing the tree would reach into the layers.
            return Err(io_err("unmounting the idmapped layers in", &idmapped)(
                io::Error::from(io::ErrorKind::ResourceBusy),
            ));
        }
        let dir = self.container_dir(id);
        if dir.join(ROOTFS_LINK).exists() {
            // An in-place root is the user's directory bound at `merged`:
            // the tree is removed only once `merged` is gone, empty and
            // unmounted (rmdir refuses a mount point and a non-empty
            // directory), so that nothing under the user's directory is
            // ever deleted, whatever state a killed command left.
            let merged = dir.join("merged");
            match fs::remove_dir(&merged) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err("removing the mount point", &merged)(e));
                }
                _ => {}
            }
        }
        layers::remove_tree(&dir)?;
        self.release_shift_copy(shift_method);
        Ok(())
    }
}

/// In a `--rootfs` container's directory: the outside directory's path.
const ROOTFS_LINK: &str = "rootfs-dir";
/// In a `--rootfs` container's directory: an overlay covers the directory.
const ROOTFS_OVERLAY_MARK: &str = "rootfs-overlay";

/// In a container's directory: its overlay mounts are volatile.
const VOLATILE_MARK: &str = "volatile";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn create_private_dir(path: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_err("creating", path))?;
    let meta = fs::metadata(path).map_err(io_err("inspecting", path))?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(io_err("securing", path))?;
    }
    Ok(())
}

#[allow(
    clippy::unnecessary_cast,
    reason = "f_type's width differs between architectures"
)]
fn refuse_network_fs(path: &Path) -> Result<(), StoreError> {
    let Ok(st) = rustix::fs::statfs(path) else {
        return Ok(());
    };
    match network_fs_name(st.f_type as i64) {
        Some(fs) => Err(StoreError::NetworkFs {
            path: path.to_owned(),
            fs,
        }),
        None => Ok(()),
    }
}

fn network_fs_name(magic: i64) -> Option<&'static str> {
    NETWORK_FILESYSTEMS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, n)| *n)
}

/// vfs: copies `lowers` (top first) into one tree at `dest`, applying the
/// overlay whiteouts and opaque markers the layers carry.
fn flatten(lowers: &[PathBuf], dest: &Path, rootless: bool) -> Result<(), StoreError> {
    let tmp = dest.with_extension("tmp");
    layers::remove_tree(&tmp)?;
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg("--")
        .arg(lowers.last().map(|p| p.join(".")).unwrap_or_default())
        .arg(&tmp)
        .output()
        .map_err(io_err("copying a layer into", &tmp))?;
    if !out.status.success() {
        return Err(StoreError::Io {
            op: "copying the base layer into",
            path: tmp,
            source: io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        });
    }
    for layer in lowers.iter().rev().skip(1) {
        overlay_copy(layer, &tmp, driver::opaque_xattr(rootless))?;
    }
    fs::rename(&tmp, dest).map_err(io_err("renaming into", dest))
}

/// Copies one layer onto a flattened tree: whiteout devices delete, opaque
/// directories replace.
fn overlay_copy(layer: &Path, dest: &Path, opaque_xattr: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::FileTypeExt;
    let entries = fs::read_dir(layer).map_err(io_err("reading", layer))?;
    for entry in entries.flatten() {
        let src = entry.path();
        let target = dest.join(entry.file_name());
        let meta = fs::symlink_metadata(&src).map_err(io_err("inspecting", &src))?;
        let is_whiteout = meta.file_type().is_char_device() && {
            use std::os::unix::fs::MetadataExt;
            meta.rdev() == 0
        };
        if is_whiteout {
            layers::remove_tree(&target)?;
            continue;
        }
        if meta.is_dir() {
            let opaque = rustix::fs::lgetxattr(&src, opaque_xattr, &mut [0u8; 4]).is_ok();
            let target_is_dir = fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir());
            if opaque || !target_is_dir {
                layers::remove_tree(&target)?;
                fs::create_dir(&target).map_err(io_err("creating", &target))?;
                fs::set_permissions(&target, meta.permissions())
                    .map_err(io_err("chmod", &target))?;
            }
            overlay_copy(&src, &target, opaque_xattr)?;
            continue;
        }
        layers::remove_tree(&target)?;
        let out = std::process::Command::new("cp")
            .arg("-a")
            .arg("--")
            .arg(&src)
            .arg(&target)
            .output()
            .map_err(io_err("copying", &src))?;
        if !out.status.success() {
            return Err(StoreError::Io {
                op: "copying",
                path: src,
                source: io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
            });
        }
    }
    Ok(())
}

/// Opens and flocks a lock file of the store.
fn lock_file(
    path: &Path,
    op: rustix::fs::FlockOperation,
) -> Result<std::os::fd::OwnedFd, StoreError> {
    crate::layers::open_locked(path, op).map_err(|(what, e)| io_err(what, path)(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_filesystems_are_recognised() {
        assert_eq!(network_fs_name(0x6969), Some("NFS"));
        assert_eq!(network_fs_name(0x4750_4653), Some("GPFS"));
        assert_eq!(network_fs_name(0xEF53), None, "ext4 is local");
        let err = StoreError::NetworkFs {
            path: PathBuf::from("/home/a/.local/share/hutch/storage"),
            fs: "NFS",
        }
        .to_string();
        assert!(
            err.contains("graphroot") && err.contains("storage.conf"),
            "{err}"
        );
    }

    #[test]
    fn removing_an_in_place_rootfs_layer_never_reaches_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("rootfs");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("file"), b"kept").unwrap();
        let store = Store::open(StoreOptions {
            root: dir.path().join("store"),
            driver: DriverConfig::default(),
            rootless: true,
            single_id: false,
            additional: Vec::new(),
            podman_store: None,
        })
        .unwrap();
        let merged = store
            .create_container_rootfs_layer("c1", &outside, false)
            .unwrap();
        assert_eq!(store.container_rootfs("c1"), Some((outside.clone(), false)));
        // What a bind mount left behind by a killed command looks like to
        // rmdir: a `merged` that is not empty. Removal refuses, all stays.
        fs::write(merged.join("file"), b"seen through the mount").unwrap();
        assert!(store.remove_container_layer("c1").is_err());
        assert!(merged.join("file").exists());
        fs::remove_file(merged.join("file")).unwrap();
        store.remove_container_layer("c1").unwrap();
        assert!(!store.container_dir("c1").exists());
        assert_eq!(fs::read(outside.join("file")).unwrap(), b"kept");
    }

    #[test]
    fn local_root_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(refuse_network_fs(dir.path()).is_ok());
    }
}
