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
    uncompressed: bool,
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
    if !uncompressed {
        for d in &list {
            files::copy_blob(blobs, d, &dir.join(d.hex()))?;
        }
        return files::write_bytes(&dir.join("manifest.json"), &image.manifest);
    }
    // Podman's docker-dir holds uncompressed layers: each compressed one
    // is written decompressed under its new digest, and the manifest
    // names those (the config's diff ids already do).
    let what = format!("manifest {}", image.manifest_digest());
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&image.manifest).map_err(json_err(&what))?;
    files::copy_blob(blobs, &list[0], &dir.join(list[0].hex()))?;
    let layers = manifest["layers"]
        .as_array_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut out = Vec::new();
    for (mut l, d) in layers.into_iter().zip(&list[1..]) {
        let media = l["mediaType"].as_str().unwrap_or_default().to_owned();
        let plain = media
            .strip_suffix("+gzip")
            .or_else(|| media.strip_suffix("+zstd"))
            .or_else(|| media.strip_suffix(".gzip"))
            .or_else(|| media.strip_suffix(".zstd"));
        match plain {
            Some(plain) => {
                let (digest, size) = write_decompressed(blobs, d, dir)?;
                l["mediaType"] = plain.into();
                l["digest"] = digest.to_string().into();
                l["size"] = size.into();
            }
            None => files::copy_blob(blobs, d, &dir.join(d.hex()))?,
        }
        out.push(l);
    }
    manifest["layers"] = out.into();
    let bytes = serde_json::to_vec(&manifest).map_err(json_err(&what))?;
    files::write_bytes(&dir.join("manifest.json"), &bytes)
}

/// Layer `digest` decompressed into `dir` under its uncompressed digest;
/// that digest and the size.
fn write_decompressed(
    blobs: &BlobStore,
    digest: &Digest,
    dir: &Path,
) -> Result<(Digest, u64), ArchiveError> {
    let file = blobs
        .open_blob(digest)
        .map_err(super::error::blob_err(format!("blob {digest}")))?;
    let tmp = dir.join(".hutch-layer-partial");
    let written = (|| -> std::io::Result<(Digest, u64)> {
        let plain = hutch_storage::extract::decompress(std::io::BufReader::new(file))?;
        let mut reader = hutch_storage::digest::DigestReader::new(plain);
        let mut out = std::io::BufWriter::new(fs::File::create(&tmp)?);
        std::io::copy(&mut reader, &mut out)?;
        std::io::Write::flush(&mut out)?;
        Ok(reader.finish())
    })();
    let (d, size) = written.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("writing", &tmp)(e)
    })?;
    let dest = dir.join(d.hex());
    fs::rename(&tmp, &dest).map_err(io_err("renaming", &dest))?;
    Ok((d, size))
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
        write_dir_transport(&image, &src, &path, false).unwrap();
        assert_eq!(fs::read(path.join("version")).unwrap(), VERSION);
        assert!(path.join(image.config.hex()).is_file());
        let (_d2, dst) = store();
        let back = read_dir_transport(&path, &dst).unwrap();
        assert_eq!(back.manifest, image.manifest);
        assert_eq!(back.config, image.config);
        assert_eq!(back.layers, image.layers);
        assert!(dst.contains(&image.manifest_digest()));
        // Writing again over it is allowed; into a stranger's files is not.
        write_dir_transport(&image, &src, &path, false).unwrap();
        fs::write(out.path().join("notes.txt"), b"mine").unwrap();
        let err = write_dir_transport(&image, &src, out.path(), false).unwrap_err();
        assert!(matches!(err, ArchiveError::NotDirTransport { .. }), "{err}");
    }

    #[test]
    fn missing_blob_is_named() {
        let (_d, src, image) = sample_image();
        let out = tempfile::tempdir().unwrap();
        write_dir_transport(&image, &src, out.path(), false).unwrap();
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
