//! Fixtures for the archive tests: a small image built in memory (two
//! layers, the second stored gzip-compressed), a second one sharing a
//! layer, and helpers to take tars apart and put them together.

use std::io::{Read, Write};
use std::path::Path;

use hutch_storage::blobs::BlobStore;
use hutch_storage::digest::Digest;
use serde_json::json;

use super::{ImageBlobs, LayerBlob, OCI_MANIFEST};

pub(crate) fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(dir.path()).unwrap();
    (dir, blobs)
}

pub(crate) fn blob_count(root: &Path) -> usize {
    std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .count()
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A layer: a tar holding one file.
pub(crate) fn layer_tar(file: &str, content: &[u8]) -> Vec<u8> {
    tar_of(&[(file, content)])
}

pub(crate) fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

pub(crate) fn diff_ids_of(image: &ImageBlobs) -> Vec<Digest> {
    image.layers.iter().map(|l| l.diff_id.clone()).collect()
}

pub(crate) fn image_manifest_json(
    blobs: &BlobStore,
    image: &ImageBlobs,
    media_type: &str,
    config_type: &str,
    layer_types: &[&str],
) -> Vec<u8> {
    let config_size = blobs.read(&image.config).unwrap().len();
    let layers: Vec<_> = image
        .layers
        .iter()
        .zip(layer_types)
        .map(|(l, t)| json!({"mediaType": t, "digest": l.digest.to_string(), "size": l.size}))
        .collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": image.config.to_string(), "size": config_size},
        "layers": layers,
    }))
    .unwrap()
}

/// Stores `layers` (stored form, uncompressed form, media type) and a
/// config listing their diff_ids.
fn build(blobs: &BlobStore, layers: &[(Vec<u8>, Vec<u8>, &str)], name: &str) -> ImageBlobs {
    let mut out = Vec::new();
    for (stored, plain, mt) in layers {
        let (digest, size) = blobs.put(&stored[..], None).unwrap();
        out.push(LayerBlob {
            digest,
            size,
            media_type: (*mt).to_owned(),
            diff_id: Digest::of(plain),
        });
    }
    let diff_ids: Vec<String> = out.iter().map(|l| l.diff_id.to_string()).collect();
    let config = serde_json::to_vec(&json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "test"}],
    }))
    .unwrap();
    let config = blobs.put_bytes(&config, None).unwrap();
    let mut image = ImageBlobs {
        manifest: Vec::new(),
        manifest_media_type: OCI_MANIFEST.into(),
        config,
        layers: out,
        names: vec![name.to_owned()],
    };
    let types: Vec<&str> = layers.iter().map(|l| l.2).collect();
    image.manifest = image_manifest_json(
        blobs,
        &image,
        OCI_MANIFEST,
        "application/vnd.oci.image.config.v1+json",
        &types,
    );
    image
}

/// Two layers, the first stored uncompressed, the second gzip-compressed.
pub(crate) fn sample_image() -> (tempfile::TempDir, BlobStore, ImageBlobs) {
    let (dir, blobs) = store();
    let l0 = layer_tar("a.txt", b"first layer\n");
    let l1 = layer_tar("b.txt", &b"second layer\n".repeat(50));
    let image = build(
        &blobs,
        &[
            (l0.clone(), l0, "application/vnd.oci.image.layer.v1.tar"),
            (gzip(&l1), l1, "application/vnd.oci.image.layer.v1.tar+gzip"),
        ],
        "localhost/sample:latest",
    );
    (dir, blobs, image)
}

/// Shares the sample's first layer, adds a zstd-compressed one.
pub(crate) fn second_image(blobs: &BlobStore, sample: &ImageBlobs) -> ImageBlobs {
    let l0 = blobs.read(&sample.layers[0].digest).unwrap();
    let l2 = layer_tar("c.txt", b"third\n");
    let zst = zstd::encode_all(&l2[..], 3).unwrap();
    build(
        blobs,
        &[
            (l0.clone(), l0, "application/vnd.oci.image.layer.v1.tar"),
            (zst, l2, "application/vnd.oci.image.layer.v1.tar+zstd"),
        ],
        "localhost/other:v1",
    )
}

/// Every member: name, entry type, link target, content.
pub(crate) type RawMember = (String, tar::EntryType, Option<String>, Vec<u8>);

pub(crate) fn all_members(archive: &[u8]) -> Vec<RawMember> {
    let mut ar = tar::Archive::new(archive);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = String::from_utf8(e.path_bytes().to_vec()).unwrap();
            let kind = e.header().entry_type();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8(l.to_vec()).unwrap());
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name.trim_end_matches('/').to_owned(), kind, link, data)
        })
        .collect()
}

pub(crate) fn member_names(archive: &[u8]) -> Vec<String> {
    all_members(archive).into_iter().map(|m| m.0).collect()
}

pub(crate) fn member(archive: &[u8], name: &str) -> Vec<u8> {
    all_members(archive)
        .into_iter()
        .find(|m| m.0 == name)
        .unwrap_or_else(|| panic!("no member {name}"))
        .3
}

/// A tar of `members` followed by the regular files `extra`.
pub(crate) fn rebuild(members: &[RawMember], extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in members {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        match link {
            Some(l) => tar.append_link(&mut h, name, l).unwrap(),
            None => tar.append_data(&mut h, name, &data[..]).unwrap(),
        }
    }
    for (name, data) in extra {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        tar.append_data(&mut h, name, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

/// A tar with one member whose name (or link target) is written raw, past
/// the checks the tar crate's builder makes.
pub(crate) fn raw_member_tar(name: &[u8], kind: tar::EntryType, link: Option<&[u8]>) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(if kind == tar::EntryType::Regular {
        3
    } else {
        0
    });
    h.set_mode(0o644);
    let bytes = h.as_mut_bytes();
    bytes[..name.len()].copy_from_slice(name);
    if let Some(link) = link {
        bytes[157..157 + link.len()].copy_from_slice(link);
    }
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    if kind == tar::EntryType::Regular {
        let mut block = [0u8; 512];
        block[..3].copy_from_slice(b"bad");
        out.extend_from_slice(&block);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub(crate) fn detect_bytes(archive: &[u8]) -> super::ArchiveFormat {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.tar");
    std::fs::write(&path, archive).unwrap();
    super::detect(&path).unwrap()
}
