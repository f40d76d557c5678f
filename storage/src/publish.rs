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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::additional::AdditionalStore;
    use crate::driver::DriverConfig;
    use crate::store::{LayerBlob, StoreOptions};
    use std::os::unix::fs::PermissionsExt;

    fn layer_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, mode) in [("secret", 0o600), ("tool", 0o700)] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(2);
            h.set_mode(mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            b.append_data(&mut h, name, &b"x\n"[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn publishes_a_readable_store_once_per_layer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreOptions {
            root: dir.path().join("own"),
            driver: DriverConfig::default(),
            rootless: true,
            single_id: true,
            additional: Vec::new(),
            podman_store: None,
        })
        .unwrap();
        let tar = layer_tar();
        let layer = store.blobs.put_bytes(&tar, None).unwrap();
        let config = format!(
            r#"{{"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            Digest::of(&tar)
        );
        let config = store.blobs.put_bytes(config.as_bytes(), None).unwrap();
        let manifest = store.blobs.put_bytes(b"{}", None).unwrap();
        let image = store
            .commit_image(
                &manifest,
                "application/vnd.oci.image.manifest.v1+json",
                &config,
                &[LayerBlob {
                    digest: layer,
                    media_type: "application/vnd.oci.image.layer.v1.tar".into(),
                }],
                &["localhost/x:latest".to_owned()],
            )
            .unwrap();

        let dest = dir.path().join("shared");
        let done = publish(&store, &image, &dest).unwrap();
        assert_eq!(done.layers_copied, 1);
        assert_eq!(publish(&store, &image, &dest).unwrap().layers_copied, 0);

        let diff = dest.join("layers").join(image.layers[0].hex()).join("diff");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&diff.join("secret")), 0o644, "readable by all");
        assert_eq!(mode(&diff.join("tool")), 0o755, "executable by all");
        assert_eq!(mode(&dest.join("images.json")) & 0o444, 0o444);
        let shared = AdditionalStore::open(&dest, false).expect("hutch layout");
        let listed = shared.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, image.id);
        assert_eq!(listed[0].names, image.names);
        assert_eq!(shared.diff_dir(&image.layers[0]), Some(diff));
        assert!(shared.read_blob(&image.id).is_some());
        assert!(shared.read_blob(&image.digest).is_some());
    }
}
