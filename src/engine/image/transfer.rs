//! Moving images between the store and the archive and directory
//! transports: `save`, `load`, and `pull`/`push` of `oci:`, `dir:`,
//! `oci-archive:` and `docker-archive:` references.

use std::io::{Read, Write};
use std::path::Path;

use crate::engine::{Result, ResultExt};
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use hutch_storage::store::LayerBlob as StoreLayer;

use crate::image::archive::{self, ImageBlobs, LayerBlob};
use crate::image::reference::{self, Reference};

/// The largest image archive hutch reads from another process (a
/// client's `load`, an `image scp` from a connection): an image someone
/// moves by hand; archives are streamed, not held.
pub const MAX_ARCHIVE_BYTES: u64 = 16 << 30;

/// The transports `save --format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    DockerArchive,
    OciArchive,
    OciDir,
    DockerDir,
}

impl SaveFormat {
    pub fn parse(s: &str) -> Result<SaveFormat> {
        Ok(match s {
            "docker-archive" => SaveFormat::DockerArchive,
            "oci-archive" => SaveFormat::OciArchive,
            "oci-dir" => SaveFormat::OciDir,
            "docker-dir" => SaveFormat::DockerDir,
            other => crate::fail!(
                BadInput,
                "unknown save format {other:?}: expected docker-archive, oci-archive, oci-dir or docker-dir"
            ),
        })
    }
}

/// A stored image as the transports see it.
pub fn image_blobs(store: &Store, image: &ImageRecord, names: Vec<String>) -> Result<ImageBlobs> {
    let what = || format!("reading image {}", image.id.short());
    let manifest = store.read_blob(&image.digest).with_context(what)?;
    let parsed: serde_json::Value = serde_json::from_slice(&manifest).with_context(what)?;
    let diff_ids = store.diff_ids(&image.id).with_context(what)?;
    let descriptors = parsed["layers"].as_array().cloned().unwrap_or_default();
    if descriptors.len() != diff_ids.len() {
        crate::fail!(
            Internal,
            "image {}: manifest lists {} layers, config {}",
            image.id.short(),
            descriptors.len(),
            diff_ids.len()
        );
    }
    let layers = descriptors
        .iter()
        .zip(diff_ids)
        .map(|(d, diff_id)| {
            Ok(LayerBlob {
                digest: d["digest"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .with_context(what)?,
                size: d["size"].as_u64().unwrap_or(0),
                media_type: d["mediaType"]
                    .as_str()
                    .unwrap_or(archive::OCI_LAYER_TAR)
                    .to_owned(),
                diff_id,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ImageBlobs {
        manifest,
        manifest_media_type: image.manifest_media_type.clone(),
        config: image.id.clone(),
        layers,
        names,
    })
}

/// Makes images that a transport put into the blob store visible.
pub fn commit(store: &Store, image: &ImageBlobs, names: &[String]) -> Result<ImageRecord> {
    let manifest = store.blobs.put_bytes(&image.manifest, None)?;
    let layers: Vec<StoreLayer> = image
        .layers
        .iter()
        .map(|l| StoreLayer {
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
        })
        .collect();
    let (record, skipped) = store.commit_image_counted(
        &manifest,
        &image.manifest_media_type,
        &image.config,
        &layers,
        names,
    )?;
    let shown = names
        .first()
        .cloned()
        .unwrap_or_else(|| record.id.to_string());
    super::warn_skipped_devices(&shown, skipped);
    Ok(record)
}

/// A name from an archive, as Docker and Podman store it: `busybox:latest`
/// is Docker Hub's.
pub fn normalize_archive_name(name: &str) -> Option<String> {
    let mut r = Reference::parse(name).ok()?;
    if r.registry.is_none() {
        r.registry = Some("docker.io".to_owned());
    }
    Some(r.normalized_docker_hub().with_default_tag().to_string())
}

/// `load`: every image of a docker-archive or oci-archive stream.
pub fn load(store: &Store, input: impl Read, source: &str) -> Result<Vec<ImageRecord>> {
    let result = load_adding(store, input, source);
    super::sweep_after_refusal(store, &result);
    result
}

fn load_adding(store: &Store, input: impl Read, source: &str) -> Result<Vec<ImageRecord>> {
    let _adding = store.adding()?;
    let images = archive::load(input, &store.blobs).with_context(|| format!("loading {source}"))?;
    let mut out = Vec::new();
    for image in &images {
        let names: Vec<String> = image
            .names
            .iter()
            .filter_map(|n| normalize_archive_name(n))
            .collect();
        out.push(commit(store, image, &names).with_context(|| format!("loading {source}"))?);
    }
    Ok(out)
}

/// The image `asked` names, with the names its archive carries, as
/// Podman's `save` keeps them: the stored form of the name asked for; none
/// for an id (full, short or `sha256:`), so that `load` gives
/// `<none>:<none>` as Podman's does; else every name the image has.
pub fn lookup_for_save(store: &Store, asked: &str) -> Result<(ImageRecord, Vec<String>)> {
    let record = crate::engine::image::lookup(store, asked)?;
    let by_id = {
        let hex = asked.strip_prefix("sha256:").unwrap_or(asked);
        !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && record.id.hex().starts_with(hex)
    };
    let names: Vec<String> = match record
        .names
        .iter()
        .find(|stored| reference::matches_stored_name(asked, stored))
    {
        Some(s) => vec![s.clone()],
        None if by_id => Vec::new(),
        None => record.names.clone(),
    };
    Ok((record, names))
}

/// `save`: images (each with the name the user gave, when it was a name)
/// into `out` or a directory.
pub fn save(
    store: &Store,
    images: &[(ImageRecord, Vec<String>)],
    format: SaveFormat,
    out: Option<&mut dyn Write>,
    dir: Option<&Path>,
) -> Result<()> {
    save_layers(store, images, format, out, dir, false)
}

/// [`save`], with `uncompressed`: a docker-dir's layers decompressed, as
/// Podman's `save --format docker-dir` writes them.
pub fn save_layers(
    store: &Store,
    images: &[(ImageRecord, Vec<String>)],
    format: SaveFormat,
    out: Option<&mut dyn Write>,
    dir: Option<&Path>,
    uncompressed: bool,
) -> Result<()> {
    let blobs: Vec<ImageBlobs> = images
        .iter()
        .map(|(record, names)| image_blobs(store, record, names.clone()))
        .collect::<Result<_>>()?;
    match (format, out, dir) {
        (SaveFormat::DockerArchive, Some(w), _) => {
            archive::save_docker_archive(&blobs, &store.blobs, w)?
        }
        (SaveFormat::OciArchive, Some(w), _) => archive::save_oci_archive(&blobs, &store.blobs, w)?,
        (SaveFormat::OciDir, _, Some(d)) => {
            let [one] = blobs.as_slice() else {
                crate::fail!(BadInput, "oci-dir holds one image per save");
            };
            let name = one.names.first().map(String::as_str);
            archive::write_oci_dir(one, name, &store.blobs, d)?
        }
        (SaveFormat::DockerDir, _, Some(d)) => {
            let [one] = blobs.as_slice() else {
                crate::fail!(BadInput, "docker-dir holds one image per save");
            };
            archive::write_dir_transport(one, &store.blobs, d, uncompressed)?
        }
        _ => crate::fail!(BadInput, "this save format needs an output path (-o)"),
    }
    Ok(())
}

/// `pull` from a non-registry transport (`oci:DIR[:REF]`, `dir:DIR`,
/// `oci-archive:FILE`, `docker-archive:FILE`).
pub fn pull_local(store: &Store, transport: &str, rest: &str) -> Result<Vec<ImageRecord>> {
    let _adding = store.adding()?;
    match transport {
        "oci-archive" | "docker-archive" => {
            let path = rest.split_once(':').map_or(rest, |(p, _)| p);
            let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
            load(store, std::io::BufReader::new(file), path)
        }
        "oci" => {
            let (dir, name) = match rest.split_once(':') {
                Some((d, n)) => (d, Some(n)),
                None => (rest, None),
            };
            let image = archive::read_oci_dir(Path::new(dir), name, &store.blobs)
                .with_context(|| format!("reading OCI layout {dir}"))?;
            let names: Vec<String> = image
                .names
                .iter()
                .filter_map(|n| reference::local_name(n).ok())
                .collect();
            Ok(vec![commit(store, &image, &names)?])
        }
        "dir" => {
            let image = archive::read_dir_transport(Path::new(rest), &store.blobs)
                .with_context(|| format!("reading directory {rest}"))?;
            Ok(vec![commit(store, &image, &[])?])
        }
        other => crate::fail!(BadInput, "unsupported transport {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_are_docker_hub_names() {
        assert_eq!(
            normalize_archive_name("busybox:latest").as_deref(),
            Some("docker.io/library/busybox:latest")
        );
        assert_eq!(
            normalize_archive_name("localhost/foo:v1").as_deref(),
            Some("localhost/foo:v1")
        );
        assert_eq!(
            normalize_archive_name("quay.io/a/b").as_deref(),
            Some("quay.io/a/b:latest")
        );
        assert_eq!(normalize_archive_name("Not Valid"), None);
    }
}
