//! Read-only image stores beside the graph root (storage.conf
//! `additionalimagestores`): hutch's own layout (what `image publish`
//! writes) or a Podman store (containers/storage's overlay layout).
//!
//! Never written to: no lock file, no record, no mount point is made
//! there, so a store on a read-only mount, or owned by root with mode
//! 0755, serves every user at once. A store whose owner is not mapped in
//! the user namespace (root's, another user's) is flagged: the kernel's
//! overlay cannot copy up its directories for a container that writes
//! there, so containers on it are mounted differently (see
//! [`crate::store::Store::mount_container`]).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::images::{ImageRecord, ImageStore};
use crate::layers::LayerStore;
use crate::podman::PodmanStore;
use crate::store::StoreError;

#[derive(Debug)]
enum Layout {
    Hutch {
        images: ImageStore,
        layers: LayerStore,
    },
    Podman(PodmanStore),
}

#[derive(Debug)]
pub struct AdditionalStore {
    root: PathBuf,
    layout: Layout,
    unmapped_owner: bool,
    found: bool,
}

impl AdditionalStore {
    /// The store at `root` in either layout; `None` when neither index is
    /// there (a shared mount that is not up yet must not break the tool,
    /// as containers/storage skips it too). `rootless`: the caller runs in
    /// the user namespace, where unmapped owners read as the overflow uid.
    pub fn open(root: &Path, rootless: bool) -> Option<AdditionalStore> {
        let layout = if root.join("images.json").is_file() {
            Layout::Hutch {
                images: ImageStore::read_only(root),
                layers: LayerStore::read_only(root),
            }
        } else {
            Layout::Podman(PodmanStore::at(root)?)
        };
        let unmapped_owner = rootless && owner_unmapped(root);
        Some(AdditionalStore {
            root: root.to_owned(),
            layout,
            unmapped_owner,
            found: false,
        })
    }

    /// A Podman graph root found rather than configured (see
    /// [`crate::store::StoreOptions::podman_store`]): only its
    /// containers/storage layout is read, even where hutch's own files
    /// stand beside it (a graph root the two share).
    pub fn podman(root: &Path, rootless: bool) -> Option<AdditionalStore> {
        let podman = PodmanStore::at(root)?;
        Some(AdditionalStore {
            root: root.to_owned(),
            layout: Layout::Podman(podman),
            unmapped_owner: rootless && owner_unmapped(root),
            found: true,
        })
    }

    /// Whether the store was found (a Podman root) rather than configured.
    pub fn found(&self) -> bool {
        self.found
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `hutch` or `containers-storage` (what `info` reports).
    pub fn layout(&self) -> &'static str {
        match self.layout {
            Layout::Hutch { .. } => "hutch",
            Layout::Podman(_) => "containers-storage",
        }
    }

    /// Whether the store's owner is outside the user namespace.
    pub fn unmapped_owner(&self) -> bool {
        self.unmapped_owner
    }

    pub fn list(&self) -> Result<Vec<ImageRecord>, StoreError> {
        Ok(match &self.layout {
            Layout::Hutch { images, .. } => images.list()?,
            Layout::Podman(p) => p.list()?,
        })
    }

    /// The layer's tree, when this store has it.
    pub fn diff_dir(&self, chain_id: &Digest) -> Option<PathBuf> {
        match &self.layout {
            Layout::Hutch { layers, .. } => Some(layers.diff_dir(chain_id)).filter(|p| p.is_dir()),
            Layout::Podman(p) => p.diff_dir(chain_id),
        }
    }

    /// A manifest or config blob, when this store has it.
    pub fn read_blob(&self, digest: &Digest) -> Option<Vec<u8>> {
        match &self.layout {
            Layout::Hutch { .. } => {
                fs::read(self.root.join("blobs/sha256").join(digest.hex())).ok()
            }
            Layout::Podman(p) => p.read_blob(digest),
        }
    }
}

fn owner_unmapped(root: &Path) -> bool {
    let overflow = overflow_uid();
    overflow != 0 && fs::metadata(root).is_ok_and(|m| m.uid() == overflow)
}

/// The uid that ids without a mapping read as (`kernel.overflowuid`).
fn overflow_uid() -> u32 {
    fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65534)
}
