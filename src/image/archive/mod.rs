//! The archive and directory transports behind `hutch save`, `hutch load`
//! and `pull`/`push` of `docker-archive:`, `oci-archive:`, `oci:` and
//! `dir:`, laid out exactly as Podman (c/image) and skopeo lay them out, so
//! that archives move freely between hutch, Podman and Docker.
//!
//! Every transport produces or consumes [`ImageBlobs`]: an image whose
//! config and layers are blobs in the [`BlobStore`]. Reading verifies every
//! blob against the digest that names it (BlobStore `put` with the expected
//! digest) and every layer's uncompressed content against the config's
//! `rootfs.diff_ids`; a load that fails removes the blobs it added, and
//! stores the manifests only once everything else is in, so a corrupt
//! archive never leaves a visible image. Member names are checked before
//! use (no absolute paths, no `..`) and nothing is written under them.
//!
//! This module does not record images (names, the image list): that is the
//! image store's job, which takes [`ImageBlobs`] from here. It does not
//! extract layers either.

mod dir;
mod docker;
mod error;
mod files;
mod layer;
mod members;
mod oci;
mod tarout;
#[cfg(test)]
mod testutil;

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use hutch_storage::blobs::BlobStore;
use hutch_storage::digest::Digest;
use oci_spec::image::{Descriptor, ImageManifest};

pub use dir::{read_dir_transport, write_dir_transport};
pub use docker::save_docker_archive;
pub use error::ArchiveError;
pub use oci::{read_oci_dir, save_oci_archive, write_oci_dir};

use error::{blob_err, json_err};
use members::{METADATA_LIMIT, Source, Stash};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// An image as blobs in the BlobStore, what every transport produces or
/// consumes. The image id is `config`, as in Podman.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBlobs {
    /// The manifest's exact bytes (its digest is the image's digest).
    pub manifest: Vec<u8>,
    pub manifest_media_type: String,
    pub config: Digest,
    pub layers: Vec<LayerBlob>,
    /// Names as the source gave them: a docker-archive's `RepoTags`; for an
    /// OCI layout the `org.opencontainers.image.ref.name` annotation
    /// (Podman writes the full name there, Docker only the tag) and then
    /// `io.containerd.image.name` if present. Not normalised.
    pub names: Vec<String>,
}

/// One layer: the blob as stored (compressed or not) and what its
/// uncompressed content hashes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    pub diff_id: Digest,
}

impl ImageBlobs {
    pub fn manifest_digest(&self) -> Digest {
        Digest::of(&self.manifest)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
}

/// Tells an archive's format from its member names: `manifest.json` makes
/// it a docker-archive (Docker 25 and later write both that and an OCI
/// layout; `manifest.json` carries the `RepoTags` users expect), else
/// `index.json` or `oci-layout` an oci-archive. Compressed archives are
/// read through; uncompressed ones are skimmed by seeking.
pub fn detect(path: &Path) -> Result<ArchiveFormat, ArchiveError> {
    let io = |op| error::io_err(op, path);
    let mut file = File::open(path).map_err(io("opening"))?;
    let (kind, _) = layer::sniff(&mut file).map_err(io("reading"))?;
    file.seek(SeekFrom::Start(0)).map_err(io("reading"))?;
    let mut oci = false;
    let mut check = |raw: &[u8]| -> Result<Option<ArchiveFormat>, ArchiveError> {
        let raw = String::from_utf8_lossy(raw).into_owned();
        let name = members::normalize(&raw).map_err(|reason| ArchiveError::HostileName {
            member: raw,
            reason,
        })?;
        match name.as_str() {
            "manifest.json" => return Ok(Some(ArchiveFormat::DockerArchive)),
            "index.json" | "oci-layout" => oci = true,
            _ => {}
        }
        Ok(None)
    };
    let tar_err = |source| ArchiveError::Tar {
        member: None,
        source,
    };
    if kind == layer::Compression::None {
        let mut archive = tar::Archive::new(file);
        for entry in archive.entries_with_seek().map_err(tar_err)? {
            if let Some(f) = check(&entry.map_err(tar_err)?.path_bytes())? {
                return Ok(f);
            }
        }
    } else {
        let mut archive =
            tar::Archive::new(layer::decompressed(file, &path.display().to_string())?);
        for entry in archive.entries().map_err(tar_err)? {
            if let Some(f) = check(&entry.map_err(tar_err)?.path_bytes())? {
                return Ok(f);
            }
        }
    }
    if oci {
        Ok(ArchiveFormat::OciArchive)
    } else {
        Err(ArchiveError::UnknownFormat)
    }
}

/// Loads every image of a docker-archive or oci-archive (told apart as
/// [`detect`] does) read from `input`, a file or stdin, into `blobs`.
/// Docker-archive layers are stored uncompressed, each under its diff_id,
/// with a manifest hutch builds ([`OCI_MANIFEST`], layers [`OCI_LAYER_TAR`]);
/// OCI layers are stored as they are, with the layout's own manifest.
pub fn load(input: impl Read, blobs: &BlobStore) -> Result<Vec<ImageBlobs>, ArchiveError> {
    let mut stash = Stash::new(blobs);
    let spool = members::spool(input, &mut stash)?;
    let images = if spool.exists("manifest.json") {
        docker::read(&spool, &mut stash)?
    } else if spool.exists("index.json") {
        oci::read_layout(&spool, oci::Select::All, &mut stash, "the archive")?
    } else {
        return Err(ArchiveError::UnknownFormat);
    };
    finish(images, stash)
}

/// Stores the manifests, last, so that a manifest in the store means its
/// config and layers are there too; keeps what the images use and drops
/// what the load added only on the way (metadata, compressed copies).
fn finish(images: Vec<ImageBlobs>, mut stash: Stash) -> Result<Vec<ImageBlobs>, ArchiveError> {
    let mut keep = HashSet::new();
    for image in &images {
        let digest = image.manifest_digest();
        stash.put_verified(&image.manifest[..], &digest, &format!("manifest {digest}"))?;
        keep.insert(digest);
        keep.insert(image.config.clone());
        keep.extend(image.layers.iter().map(|l| l.digest.clone()));
    }
    stash.commit(&keep);
    Ok(images)
}

/// `hutch_storage`'s digest as oci-spec's.
fn oci_digest(d: &Digest) -> Result<oci_spec::image::Digest, ArchiveError> {
    d.to_string()
        .parse()
        .map_err(|e: oci_spec::OciSpecError| ArchiveError::Invalid {
            what: d.to_string(),
            reason: e.to_string(),
        })
}

/// A descriptor's digest, refused unless it is sha256 (the only kind the
/// store holds, and a safe file name).
fn descriptor_digest(desc: &Descriptor, what: &str) -> Result<Digest, ArchiveError> {
    let value = desc.digest().to_string();
    value.parse().map_err(|_| ArchiveError::BadDigest {
        what: what.to_owned(),
        value,
    })
}

/// Reads a small blob (manifest, config) by name, checking digest and size.
fn read_small_blob(
    src: &dyn Source,
    name: &str,
    digest: &Digest,
    size: u64,
    referenced_by: &str,
) -> Result<Vec<u8>, ArchiveError> {
    let what = src.describe(name);
    if size > METADATA_LIMIT {
        return Err(ArchiveError::TooLarge {
            what,
            size,
            limit: METADATA_LIMIT,
        });
    }
    let data = src.read_small(name, referenced_by)?;
    let actual = Digest::of(&data);
    if actual != *digest {
        return Err(blob_err(what)(hutch_storage::blobs::BlobError::Mismatch {
            expected: digest.clone(),
            actual,
            size: data.len() as u64,
        }));
    }
    if data.len() as u64 != size {
        return Err(ArchiveError::SizeMismatch {
            what,
            expected: size,
            actual: data.len() as u64,
        });
    }
    Ok(data)
}

/// Reads the image a manifest describes from a layout (OCI or `dir:`),
/// `blob_name` saying where a digest's blob lives in it.
fn read_image(
    src: &dyn Source,
    manifest: Vec<u8>,
    manifest_media_type: String,
    names: Vec<String>,
    blob_name: &dyn Fn(&Digest) -> String,
    stash: &mut Stash,
) -> Result<ImageBlobs, ArchiveError> {
    let what = format!("manifest {}", Digest::of(&manifest));
    let parsed: ImageManifest = serde_json::from_slice(&manifest).map_err(json_err(&what))?;
    let config_desc = parsed.config();
    let config = descriptor_digest(config_desc, &format!("{what} config"))?;
    let config_name = blob_name(&config);
    let config_bytes = read_small_blob(src, &config_name, &config, config_desc.size(), &what)?;
    let config_what = format!("config {config}");
    stash.put_verified(&config_bytes[..], &config, &config_what)?;
    let diff_ids = layer::diff_ids(&config_bytes, &config_what)?;
    if diff_ids.len() != parsed.layers().len() {
        return Err(ArchiveError::LayerCount {
            config,
            layers: parsed.layers().len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut layers = Vec::new();
    for (desc, diff_id) in parsed.layers().iter().zip(diff_ids) {
        let digest = descriptor_digest(desc, &format!("{what} layer"))?;
        let name = blob_name(&digest);
        let size = src.store(&name, &digest, stash, &what)?;
        if size != desc.size() {
            return Err(ArchiveError::SizeMismatch {
                what: src.describe(&name),
                expected: desc.size(),
                actual: size,
            });
        }
        layer::verify_diff_id(stash.blobs, &digest, &diff_id)?;
        layers.push(LayerBlob {
            digest,
            size,
            media_type: desc.media_type().to_string(),
            diff_id,
        });
    }
    Ok(ImageBlobs {
        manifest,
        manifest_media_type,
        config,
        layers,
        names,
    })
}

/// The config and layer digests a stored image's manifest lists, which
/// every writer copies.
fn manifest_blobs(image: &ImageBlobs) -> Result<(ImageManifest, Vec<Digest>), ArchiveError> {
    let what = format!("manifest {}", image.manifest_digest());
    let parsed: ImageManifest = serde_json::from_slice(&image.manifest).map_err(json_err(&what))?;
    let mut list = vec![descriptor_digest(parsed.config(), &what)?];
    for l in parsed.layers() {
        list.push(descriptor_digest(l, &what)?);
    }
    if list[0] != image.config {
        return Err(ArchiveError::Invalid {
            what,
            reason: format!("names config {}, the image says {}", list[0], image.config),
        });
    }
    Ok((parsed, list))
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn docker_archive_round_trip_keeps_id_and_diff_ids() {
        let (_d1, src, image) = sample_image();
        let mut archive = Vec::new();
        save_docker_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        let (_d2, dst) = store();
        let loaded = load(&archive[..], &dst).unwrap();
        assert_eq!(loaded.len(), 1);
        let back = &loaded[0];
        assert_eq!(back.config, image.config, "image id changed");
        assert_eq!(diff_ids_of(back), diff_ids_of(&image));
        assert_eq!(back.names, vec!["localhost/sample:latest".to_owned()]);
        assert_eq!(back.manifest_media_type, OCI_MANIFEST);
        for l in &back.layers {
            assert_eq!(
                l.digest, l.diff_id,
                "docker-archive layers are stored uncompressed"
            );
            assert_eq!(l.media_type, OCI_LAYER_TAR);
            assert!(dst.contains(&l.digest));
        }
        assert!(dst.contains(&back.manifest_digest()));
        assert!(dst.contains(&back.config));
        assert_eq!(detect_bytes(&archive), ArchiveFormat::DockerArchive);
        // Saving twice gives the same bytes: no timestamps, fixed order.
        let mut again = Vec::new();
        save_docker_archive(std::slice::from_ref(&image), &src, &mut again).unwrap();
        assert_eq!(archive, again);
    }

    #[test]
    fn oci_archive_round_trip_keeps_blobs_as_they_are() {
        let (_d1, src, image) = sample_image();
        let mut archive = Vec::new();
        save_oci_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        assert_eq!(detect_bytes(&archive), ArchiveFormat::OciArchive);
        let (_d2, dst) = store();
        let loaded = load(&archive[..], &dst).unwrap();
        assert_eq!(loaded, vec![image.clone()]);
        for l in &image.layers {
            assert_eq!(dst.read(&l.digest).unwrap(), src.read(&l.digest).unwrap());
        }
    }

    #[test]
    fn loads_several_images_and_a_compressed_archive() {
        let (_d1, src, image) = sample_image();
        let other = second_image(&src, &image);
        let mut archive = Vec::new();
        save_docker_archive(&[image.clone(), other.clone()], &src, &mut archive).unwrap();
        let gz = gzip(&archive);
        let (_d2, dst) = store();
        let loaded = load(&gz[..], &dst).unwrap();
        let ids: Vec<_> = loaded.iter().map(|i| i.config.clone()).collect();
        assert_eq!(ids, vec![image.config.clone(), other.config.clone()]);
        assert_eq!(loaded[1].names, other.names);
    }

    #[test]
    fn a_failed_load_stores_nothing() {
        let (_d1, src, image) = sample_image();
        let mut archive = Vec::new();
        save_oci_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        // Alter one byte of the second layer's content inside the tar.
        let layer = src.read(&image.layers[1].digest).unwrap();
        let at = find(&archive, &layer).expect("layer in archive");
        archive[at + layer.len() / 2] ^= 0x55;
        let (d2, dst) = store();
        let err = load(&archive[..], &dst).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(image.layers[1].digest.hex()),
            "error does not name the layer: {msg}"
        );
        assert_eq!(blob_count(d2.path()), 0, "blobs left after a failed load");
        assert!(!dst.contains(&image.manifest_digest()));
    }

    /// Archives Podman 4.3.1 saved (`podman save -m` of the sample image and
    /// an imported one; `podman save --format oci-archive`, which
    /// gzip-compresses layers), gzipped as fixtures.
    const PODMAN_MULTI: &[u8] = include_bytes!("testdata/podman-4.3.1-multi-docker-archive.tar.gz");
    const PODMAN_MULTI_SHA256: &str =
        "a2e0549941b1a0c0b8bafdd5985c70b9bc1a07617845cc1dcea535669eca9935";
    const PODMAN_OCI: &[u8] = include_bytes!("testdata/podman-4.3.1-oci-archive.tar.gz");
    const SAMPLE_ID: &str =
        "sha256:a9c0ea7a13990b74e872b3907573d6c1864f3fe43aa9cf12e4e46e9cff02c108";

    #[test]
    fn podman_archives_load_and_save_back_identically() {
        let (_d, dst) = store();
        let images = load(PODMAN_MULTI, &dst).unwrap();
        let names: Vec<_> = images.iter().map(|i| i.names.clone()).collect();
        assert_eq!(
            names,
            [
                vec!["localhost/sample:latest".to_owned()],
                vec!["localhost/imp:1".to_owned()]
            ]
        );
        assert_eq!(images[0].config.to_string(), SAMPLE_ID);
        let mut again = Vec::new();
        save_docker_archive(&images, &dst, &mut again).unwrap();
        assert_eq!(Digest::of(&again).hex(), PODMAN_MULTI_SHA256);

        let (_d, dst) = store();
        let oci = load(PODMAN_OCI, &dst).unwrap();
        assert_eq!(oci[0].config.to_string(), SAMPLE_ID);
        assert_eq!(oci[0].names, ["localhost/sample:latest"]);
        assert_eq!(diff_ids_of(&oci[0]), diff_ids_of(&images[0]));
        assert!(
            oci[0]
                .layers
                .iter()
                .all(|l| l.media_type.ends_with("+gzip"))
        );
    }

    #[test]
    fn unknown_archives_are_refused() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        tar.append_data(&mut h, "hello.txt", &b"hi"[..]).unwrap();
        let bytes = tar.into_inner().unwrap();
        let (_d, dst) = store();
        assert!(matches!(
            load(&bytes[..], &dst),
            Err(ArchiveError::UnknownFormat)
        ));
    }
}
