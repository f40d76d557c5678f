//! skopeo's `dir:` transport: a directory with `manifest.json` (the
//! manifest as it is, OCI or Docker v2s2), a `version` file, and every blob
//! under its bare hex digest. It carries no image name. Version 1.0
//! directories named layers `<hex>.tar`; those are read too.

use std::fs;
use std::path::Path;

use hutch_storage::blobs::BlobStore;
use hutch_storage::digest::Digest;
use oci_spec::image::ImageManifest;

use super::error::{ArchiveError, io_err, json_err};
use super::files;
use super::members::{DirSource, Source, Stash};
use super::{ImageBlobs, OCI_MANIFEST, manifest_blobs, read_image};

const VERSION: &[u8] = b"Directory Transport Version: 1.1\n";

pub fn read_dir_transport(dir: &Path, blobs: &BlobStore) -> Result<ImageBlobs, ArchiveError> {
    let src = DirSource::new(dir);
    let mut stash = Stash::new(blobs);
    let manifest = src.read_small("manifest.json", "the directory")?;
    let parsed: ImageManifest =
        serde_json::from_slice(&manifest).map_err(json_err(src.describe("manifest.json")))?;
    let media_type = parsed
        .media_type()
        .as_ref()
        .map_or_else(|| OCI_MANIFEST.to_owned(), ToString::to_string);
    let blob_name = |d: &Digest| {
        if src.exists(d.hex()) {
            d.hex().to_owned()
        } else {
            format!("{}.tar", d.hex())
        }
    };
    let image = read_image(
        &src,
        manifest,
        media_type,
        Vec::new(),
        &blob_name,
        &mut stash,
    )?;
    let mut images = super::finish(vec![image], stash)?;
    images.pop().ok_or_else(|| ArchiveError::Invalid {
        what: dir.display().to_string(),
        reason: "no image read".into(),
    })
}

/// Writes `image` as a `dir:` directory. An existing directory must be
/// empty or already a `dir:` one (it has a `version` file), as skopeo
/// insists, so that a mistyped path does not mix blobs into someone's
/// files; blobs of an image written there before are left in place.
pub fn write_dir_transport(
    image: &ImageBlobs,
    blobs: &BlobStore,
    dir: &Path,
) -> Result<(), ArchiveError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !dir.join("version").is_file() {
                return Err(ArchiveError::NotDirTransport {
                    dir: dir.to_owned(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        }
        Err(e) => return Err(io_err("reading", dir)(e)),
    }
    files::write_bytes(&dir.join("version"), VERSION)?;
    let (_, list) = manifest_blobs(image)?;
    for d in &list {
        files::copy_blob(blobs, d, &dir.join(d.hex()))?;
    }
    files::write_bytes(&dir.join("manifest.json"), &image.manifest)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn round_trip() {
        let (_d, src, image) = sample_image();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("img");
        write_dir_transport(&image, &src, &path).unwrap();
        assert_eq!(fs::read(path.join("version")).unwrap(), VERSION);
        assert!(path.join(image.config.hex()).is_file());
        let (_d2, dst) = store();
        let back = read_dir_transport(&path, &dst).unwrap();
        assert_eq!(back.manifest, image.manifest);
        assert_eq!(back.config, image.config);
        assert_eq!(back.layers, image.layers);
        assert!(dst.contains(&image.manifest_digest()));
        // Writing again over it is allowed; into a stranger's files is not.
        write_dir_transport(&image, &src, &path).unwrap();
        fs::write(out.path().join("notes.txt"), b"mine").unwrap();
        let err = write_dir_transport(&image, &src, out.path()).unwrap_err();
        assert!(matches!(err, ArchiveError::NotDirTransport { .. }), "{err}");
    }

    #[test]
    fn missing_blob_is_named() {
        let (_d, src, image) = sample_image();
        let out = tempfile::tempdir().unwrap();
        write_dir_transport(&image, &src, out.path()).unwrap();
        fs::remove_file(out.path().join(image.layers[1].digest.hex())).unwrap();
        let (d2, dst) = store();
        let err = read_dir_transport(out.path(), &dst).unwrap_err();
        assert!(
            err.to_string().contains(image.layers[1].digest.hex()),
            "{err}"
        );
        assert_eq!(blob_count(d2.path()), 0);
    }
}
