//! `image publish`: copies an image into a shared store that many users
//! read at once (storage.conf `additionalimagestores`), in hutch's own
//! layout: `images.json`, `layers/<chain>/{diff,layer}` and the image's
//! manifest and config under `blobs/sha256/`.
//!
//! A plain tree, not a squashfs file: it needs no mount helper on the
//! nodes (squashfuse), and layers are shared between the images of the
//! store as in any hutch store. Layer blobs are not copied (nobody pulls
//! from a shared store; it is run from), so a published image is about
//! the size of its extracted layers.
//!
//! Run by root (files keep the image's owners, as on a registry) or by
//! the store's owner. Each layer appears under its final name only when
//! complete, and the image in one rename of `images.json` after its
//! layers, so readers never see half an image; concurrent publishers
//! serialise on the store's lock.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::images::{ImageRecord, ImageStore};
use crate::layers::{LayerRecord, LayerStore, make_readable_by_all, set_mode};
use crate::store::{Store, StoreError};

/// What a publish did.
#[derive(Debug, Clone)]
pub struct Published {
    /// The image's record in the shared store.
    pub record: ImageRecord,
    /// Layers copied (the others were there already).
    pub layers_copied: usize,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Copies `image` (of `store`, or of one of its additional stores) into
/// the shared store at `dest`, made if missing (mode 0755).
pub fn publish(store: &Store, image: &ImageRecord, dest: &Path) -> Result<Published, StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dest)
        .map_err(io_err("creating", dest))?;
    let lock = dest.join("storage.lock");
    let _exclusive = crate::layers::open_locked(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|(op, e)| io_err(op, &lock)(e))?;
    let layers = LayerStore::open(dest)?;
    let blobs = dest.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(io_err("creating", &blobs))?;
    for dir in [dest.join("layers"), dest.join("blobs"), blobs.clone()] {
        set_mode(&dir, 0o755)?;
    }

    let diff_ids = store.diff_ids(&image.id)?;
    if diff_ids.len() != image.layers.len() {
        return Err(StoreError::LayerCount {
            layers: image.layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut copied = 0;
    let mut parent: Option<Digest> = None;
    for (chain, diff_id) in image.layers.iter().zip(&diff_ids) {
        let size = store.layers.get(chain)?.map_or(0, |r| r.size);
        let rec = LayerRecord {
            chain_id: chain.clone(),
            diff_id: diff_id.clone(),
            parent: parent.replace(chain.clone()),
            size,
        };
        if layers.adopt(&rec, &store.diff_dir(chain))? {
            copied += 1;
        }
    }

    // The config is required (runs read it); a manifest may be missing
    // from a Podman store's image, then `inspect` lacks what it adds.
    write_blob(&blobs, &image.id, &store.read_blob(&image.id)?)?;
    if let Ok(manifest) = store.read_blob(&image.digest) {
        write_blob(&blobs, &image.digest, &manifest)?;
    }

    let images = ImageStore::open(dest)?;
    let record = images.add(ImageRecord {
        stored_at: now(),
        ..image.clone()
    })?;
    // Written with the publisher's umask: made readable by all, as the
    // layers are.
    let index = dest.join("images.json");
    make_readable_by_all(&index)?;
    Ok(Published {
        record,
        layers_copied: copied,
    })
}

fn write_blob(dir: &Path, digest: &Digest, data: &[u8]) -> Result<(), StoreError> {
    let path: PathBuf = dir.join(digest.hex());
    if path.is_file() {
        return Ok(());
    }
    let tmp = dir.join(format!(".tmp-{}-{}", digest.hex(), std::process::id()));
    fs::write(&tmp, data).map_err(io_err("writing", &tmp))?;
    set_mode(&tmp, 0o644)?;
    fs::rename(&tmp, &path).map_err(io_err("renaming into", &path))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
