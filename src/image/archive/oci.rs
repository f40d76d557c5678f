//! OCI image layouts: `oci-archive:` (a tar of one) and `oci:` (one as a
//! directory, `oci:/path[:reference]`). A layout is `oci-layout`
//! (`{"imageLayoutVersion":"1.0.0"}`), `index.json` listing manifests with
//! the name in the `org.opencontainers.image.ref.name` annotation (Podman
//! writes the full name there), and `blobs/sha256/<hex>`. Blobs are copied
//! as they are; a Docker v2s2 manifest is rewritten with OCI media types on
//! the way out, as c/image does, since a layout may hold only OCI ones
//! (the config, hence the image id, is unchanged).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::Path;

use hutch_storage::blobs::BlobStore;
use hutch_storage::digest::Digest;
use oci_spec::image::{
    ANNOTATION_REF_NAME, Arch, Descriptor, ImageIndex, ImageIndexBuilder, ImageManifest, MediaType,
    OciLayout, Os,
};

use super::error::{ArchiveError, io_err, json_err};
use super::files;
use super::members::{DirSource, Source, Stash};
use super::tarout::TarOut;
use super::{
    DOCKER_MANIFEST, ImageBlobs, descriptor_digest, manifest_blobs, oci_digest, read_image,
    read_small_blob,
};

/// Byte for byte what c/image writes (with the space).
const LAYOUT_JSON: &[u8] = br#"{"imageLayoutVersion": "1.0.0"}"#;
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

fn blob_name(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// Which of a layout's images to read.
pub(crate) enum Select<'a> {
    /// Every entry of `index.json` (loading an archive).
    All,
    /// The one whose ref.name annotation is this (`oci:/path:ref`).
    Named(&'a str),
    /// The only one there is (`oci:/path`, as c/image).
    Single,
}

fn ref_name(desc: &Descriptor) -> Option<&str> {
    desc.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_REF_NAME))
        .map(String::as_str)
}

fn names_of(desc: &Descriptor) -> Vec<String> {
    let mut names: Vec<String> = ref_name(desc).map(str::to_owned).into_iter().collect();
    if let Some(n) = desc
        .annotations()
        .as_ref()
        .and_then(|a| a.get(CONTAINERD_NAME))
        && !names.contains(n)
    {
        names.push(n.clone());
    }
    names
}

pub(crate) fn read_layout(
    src: &dyn Source,
    select: Select,
    stash: &mut Stash,
    layout: &str,
) -> Result<Vec<ImageBlobs>, ArchiveError> {
    if src.exists("oci-layout") {
        let bytes = src.read_small("oci-layout", layout)?;
        let parsed: OciLayout =
            serde_json::from_slice(&bytes).map_err(json_err(src.describe("oci-layout")))?;
        // 1.0.x only: a new major version may move things.
        if !parsed.image_layout_version().starts_with("1.") {
            return Err(ArchiveError::Invalid {
                what: src.describe("oci-layout"),
                reason: format!(
                    "image layout version {} is not supported",
                    parsed.image_layout_version()
                ),
            });
        }
    }
    let bytes = src.read_small("index.json", layout)?;
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(json_err(src.describe("index.json")))?;
    let entries = index.manifests();
    let available = || {
        let names: Vec<&str> = entries.iter().filter_map(ref_name).collect();
        if names.is_empty() {
            "no named images".to_owned()
        } else {
            names.join(", ")
        }
    };
    let chosen: Vec<&Descriptor> = match select {
        Select::All => entries.iter().collect(),
        Select::Named(reference) => {
            // The last entry wins, as c/image moves a name to the newest one.
            let found = entries
                .iter()
                .rev()
                .find(|d| ref_name(d) == Some(reference));
            vec![found.ok_or_else(|| ArchiveError::NoSuchReference {
                layout: layout.to_owned(),
                reference: reference.to_owned(),
                available: available(),
            })?]
        }
        Select::Single if entries.len() == 1 => vec![&entries[0]],
        Select::Single => {
            return Err(ArchiveError::AmbiguousReference {
                layout: layout.to_owned(),
                count: entries.len(),
                available: available(),
            });
        }
    };
    if chosen.is_empty() {
        return Err(ArchiveError::Invalid {
            what: src.describe("index.json"),
            reason: "lists no image".into(),
        });
    }
    chosen
        .into_iter()
        .map(|entry| {
            let manifest_desc = for_this_platform(src, entry, layout, 0)?;
            let digest = descriptor_digest(&manifest_desc, &src.describe("index.json"))?;
            let manifest = read_small_blob(
                src,
                &blob_name(&digest),
                &digest,
                manifest_desc.size(),
                "index.json",
            )?;
            read_image(
                src,
                manifest,
                manifest_desc.media_type().to_string(),
                names_of(entry),
                &blob_name,
                stash,
            )
        })
        .collect()
}

/// Follows an index entry to an image manifest: itself, or through nested
/// indexes (multi-platform images) the manifest for linux on this machine's
/// architecture.
fn for_this_platform(
    src: &dyn Source,
    desc: &Descriptor,
    layout: &str,
    depth: usize,
) -> Result<Descriptor, ArchiveError> {
    let what = src.describe("index.json");
    let media_type = desc.media_type().to_string();
    match desc.media_type() {
        MediaType::ImageManifest => return Ok(desc.clone()),
        MediaType::Other(m) if m == DOCKER_MANIFEST => return Ok(desc.clone()),
        MediaType::ImageIndex => {}
        MediaType::Other(m) if m == DOCKER_LIST => {}
        _ => return Err(ArchiveError::UnsupportedMediaType { what, media_type }),
    }
    if depth > 4 {
        return Err(ArchiveError::Invalid {
            what,
            reason: "indexes nest too deeply".into(),
        });
    }
    let digest = descriptor_digest(desc, &what)?;
    let bytes = read_small_blob(src, &blob_name(&digest), &digest, desc.size(), "index.json")?;
    let nested: ImageIndex =
        serde_json::from_slice(&bytes).map_err(json_err(format!("index {digest}")))?;
    let arch = Arch::default();
    let found = nested.manifests().iter().find(|m| {
        m.platform()
            .as_ref()
            .is_some_and(|p| *p.os() == Os::Linux && *p.architecture() == arch)
    });
    match found {
        Some(m) => for_this_platform(src, m, layout, depth + 1),
        None => Err(ArchiveError::NoMatchingPlatform {
            layout: layout.to_owned(),
            platform: format!("linux/{arch}"),
        }),
    }
}

/// The OCI media type for a Docker one, as c/image converts them.
fn oci_media_type(m: &MediaType, what: &str) -> Result<MediaType, ArchiveError> {
    let s = m.to_string();
    Ok(match s.as_str() {
        "application/vnd.docker.container.image.v1+json" => MediaType::ImageConfig,
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => MediaType::ImageLayerGzip,
        "application/vnd.docker.image.rootfs.diff.tar" => MediaType::ImageLayer,
        "application/vnd.docker.image.rootfs.diff.tar.zstd" => MediaType::ImageLayerZstd,
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
            MediaType::ImageLayerNonDistributableGzip
        }
        _ => match MediaType::from(s.as_str()) {
            MediaType::Other(_) => {
                return Err(ArchiveError::UnsupportedMediaType {
                    what: what.to_owned(),
                    media_type: s,
                });
            }
            oci => oci,
        },
    })
}

/// An image ready to go into a layout: its (OCI) manifest and the blobs.
struct Prepared {
    manifest: Vec<u8>,
    digest: Digest,
    blobs: Vec<Digest>,
}

fn prepare(image: &ImageBlobs) -> Result<Prepared, ArchiveError> {
    let (mut parsed, blobs) = manifest_blobs(image)?;
    let docker = image.manifest_media_type == DOCKER_MANIFEST
        || parsed
            .media_type()
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            == Some(DOCKER_MANIFEST);
    let manifest = if docker {
        let what = format!("manifest {}", image.manifest_digest());
        to_oci(&mut parsed, &what)?;
        serde_json::to_vec(&parsed).map_err(json_err(&what))?
    } else {
        image.manifest.clone()
    };
    Ok(Prepared {
        digest: Digest::of(&manifest),
        manifest,
        blobs,
    })
}

fn to_oci(m: &mut ImageManifest, what: &str) -> Result<(), ArchiveError> {
    m.set_media_type(Some(MediaType::ImageManifest));
    let mut config = m.config().clone();
    config.set_media_type(oci_media_type(config.media_type(), what)?);
    m.set_config(config);
    for l in m.layers_mut() {
        let mt = oci_media_type(l.media_type(), what)?;
        l.set_media_type(mt);
    }
    Ok(())
}

fn index_entry(p: &Prepared, name: Option<&str>) -> Result<Descriptor, ArchiveError> {
    let mut d = Descriptor::new(
        MediaType::ImageManifest,
        p.manifest.len() as u64,
        oci_digest(&p.digest)?,
    );
    if let Some(name) = name {
        d.set_annotations(Some(HashMap::from([(
            ANNOTATION_REF_NAME.to_owned(),
            name.to_owned(),
        )])));
    }
    Ok(d)
}

fn new_index(manifests: Vec<Descriptor>) -> Result<ImageIndex, ArchiveError> {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .map_err(|e| ArchiveError::Invalid {
            what: "index.json".into(),
            reason: e.to_string(),
        })
}

/// Writes `images` as an oci-archive: one `index.json` entry per name (or
/// one unnamed entry), each blob once. Members are in the order Podman's
/// tar of its layout directory has (`blobs/`, blobs by digest, `index.json`,
/// `oci-layout`). Layers go as stored: Podman gzips uncompressed layers
/// on the way out (a new manifest digest, same image id); hutch does not,
/// which is as valid a layout and loads in Podman all the same.
pub fn save_oci_archive(
    images: &[ImageBlobs],
    blobs: &BlobStore,
    out: impl Write,
) -> Result<(), ArchiveError> {
    // Some(bytes) for manifests, built here; None for blobs in the store.
    let mut all: BTreeMap<Digest, Option<Vec<u8>>> = BTreeMap::new();
    let mut entries = Vec::new();
    for image in images {
        let p = prepare(image)?;
        if image.names.is_empty() {
            entries.push(index_entry(&p, None)?);
        }
        for name in &image.names {
            entries.push(index_entry(&p, Some(name))?);
        }
        for b in &p.blobs {
            all.entry(b.clone()).or_insert(None);
        }
        all.insert(p.digest, Some(p.manifest));
    }
    let index = new_index(entries)?;
    let mut tar = TarOut::new(out, 0o644);
    tar.dir("blobs")?;
    tar.dir("blobs/sha256")?;
    for (digest, content) in &all {
        let name = blob_name(digest);
        match content {
            Some(bytes) => tar.bytes(&name, bytes)?,
            None => tar.blob(&name, blobs, digest)?,
        }
    }
    let index = serde_json::to_vec(&index).map_err(json_err("index.json"))?;
    tar.bytes("index.json", &index)?;
    tar.bytes("oci-layout", LAYOUT_JSON)?;
    tar.finish()?;
    Ok(())
}

/// Reads one image from an OCI layout directory: the one named
/// `reference`, or the only one.
pub fn read_oci_dir(
    dir: &Path,
    reference: Option<&str>,
    blobs: &BlobStore,
) -> Result<ImageBlobs, ArchiveError> {
    let src = DirSource::new(dir);
    let mut stash = Stash::new(blobs);
    let select = reference.map_or(Select::Single, Select::Named);
    let images = read_layout(&src, select, &mut stash, &dir.display().to_string())?;
    let mut images = super::finish(images, stash)?;
    images.pop().ok_or_else(|| ArchiveError::Invalid {
        what: dir.display().to_string(),
        reason: "no image read".into(),
    })
}

/// Writes `image` into an OCI layout directory, created if needed and
/// added to if it exists: the name moves from any older entry to this one,
/// and an unnamed entry with the same manifest is replaced (c/image's
/// rules), so other images in the layout stay.
pub fn write_oci_dir(
    image: &ImageBlobs,
    reference: Option<&str>,
    blobs: &BlobStore,
    dir: &Path,
) -> Result<(), ArchiveError> {
    let p = prepare(image)?;
    let blob_dir = dir.join("blobs/sha256");
    fs::create_dir_all(&blob_dir).map_err(io_err("creating", &blob_dir))?;
    for d in &p.blobs {
        files::copy_blob(blobs, d, &blob_dir.join(d.hex()))?;
    }
    files::write_bytes(&blob_dir.join(p.digest.hex()), &p.manifest)?;
    let index_path = dir.join("index.json");
    let mut index = match fs::read(&index_path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(json_err(index_path.display().to_string()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_index(Vec::new())?,
        Err(e) => return Err(io_err("reading", &index_path)(e)),
    };
    add_manifest(&mut index, index_entry(&p, reference)?);
    let bytes = serde_json::to_vec(&index).map_err(json_err("index.json"))?;
    files::write_bytes(&index_path, &bytes)?;
    files::write_bytes(&dir.join("oci-layout"), LAYOUT_JSON)
}

/// c/image's `addManifest`.
fn add_manifest(index: &mut ImageIndex, desc: Descriptor) {
    // ImageIndex has no mutable getter: edit a copy and put it back.
    let mut manifests = index.manifests().clone();
    if let Some(name) = ref_name(&desc) {
        for m in manifests.iter_mut() {
            if ref_name(m) == Some(name) {
                if let Some(a) = m.annotations().clone() {
                    let mut a = a;
                    a.remove(ANNOTATION_REF_NAME);
                    m.set_annotations(if a.is_empty() { None } else { Some(a) });
                }
                break;
            }
        }
    }
    if let Some(m) = manifests
        .iter_mut()
        .find(|m| m.digest() == desc.digest() && ref_name(m).is_none())
    {
        *m = desc;
    } else {
        manifests.push(desc);
    }
    index.set_manifests(manifests);
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{OCI_MANIFEST, load};
    use super::*;

    #[test]
    fn writes_a_layout_podman_reads() {
        let (_d, src, image) = sample_image();
        let mut archive = Vec::new();
        save_oci_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        let names = member_names(&archive);
        assert_eq!(names[..2], ["blobs", "blobs/sha256"]);
        assert_eq!(names[names.len() - 2..], ["index.json", "oci-layout"]);
        assert_eq!(
            member(&archive, "oci-layout"),
            br#"{"imageLayoutVersion": "1.0.0"}"#
        );
        let index: ImageIndex = serde_json::from_slice(&member(&archive, "index.json")).unwrap();
        let entry = &index.manifests()[0];
        assert_eq!(ref_name(entry), Some("localhost/sample:latest"));
        assert_eq!(
            entry.digest().to_string(),
            image.manifest_digest().to_string()
        );
    }

    #[test]
    fn docker_manifests_become_oci_on_the_way_out() {
        let (_d, src, mut image) = sample_image();
        let docker = image_manifest_json(
            &src,
            &image,
            DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
            &[
                "application/vnd.docker.image.rootfs.diff.tar",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            ],
        );
        image.manifest = docker;
        image.manifest_media_type = DOCKER_MANIFEST.into();
        let mut archive = Vec::new();
        save_oci_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        let (_d2, dst) = store();
        let back = load(&archive[..], &dst).unwrap().remove(0);
        assert_eq!(back.config, image.config);
        assert_eq!(back.manifest_media_type, OCI_MANIFEST);
        assert_eq!(
            back.layers[1].media_type,
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_ne!(back.manifest, image.manifest);
    }

    #[test]
    fn oci_dir_round_trip_and_references() {
        let (_d, src, image) = sample_image();
        let other = second_image(&src, &image);
        let out = tempfile::tempdir().unwrap();
        write_oci_dir(&image, Some("one"), &src, out.path()).unwrap();
        write_oci_dir(&other, Some("two"), &src, out.path()).unwrap();
        let (_d2, dst) = store();
        let one = read_oci_dir(out.path(), Some("one"), &dst).unwrap();
        assert_eq!(one.config, image.config);
        assert_eq!(one.layers, image.layers);
        assert_eq!(one.names, vec!["one".to_owned()]);
        let two = read_oci_dir(out.path(), Some("two"), &dst).unwrap();
        assert_eq!(two.config, other.config);
        let err = read_oci_dir(out.path(), None, &dst).unwrap_err();
        assert!(
            matches!(err, ArchiveError::AmbiguousReference { .. }),
            "{err}"
        );
        let err = read_oci_dir(out.path(), Some("three"), &dst).unwrap_err();
        assert!(err.to_string().contains("one, two"), "{err}");
        // The name moves to the newest image written under it.
        write_oci_dir(&other, Some("one"), &src, out.path()).unwrap();
        let moved = read_oci_dir(out.path(), Some("one"), &dst).unwrap();
        assert_eq!(moved.config, other.config);
    }

    #[test]
    fn picks_this_platform_from_a_nested_index() {
        let (_d, src, image) = sample_image();
        let out = tempfile::tempdir().unwrap();
        write_oci_dir(&image, None, &src, out.path()).unwrap();
        // Wrap the manifest in an index with two platforms.
        let entry = |arch: &str| {
            let mut d = Descriptor::new(
                MediaType::ImageManifest,
                image.manifest.len() as u64,
                oci_digest(&image.manifest_digest()).unwrap(),
            );
            d.set_platform(Some(
                oci_spec::image::PlatformBuilder::default()
                    .os(Os::Linux)
                    .architecture(Arch::from(arch))
                    .build()
                    .unwrap(),
            ));
            d
        };
        let host = Arch::default().to_string();
        let nested = new_index(vec![entry("s390x-not-this"), entry(&host)]).unwrap();
        let nested = serde_json::to_vec(&nested).unwrap();
        let nd = Digest::of(&nested);
        fs::write(out.path().join("blobs/sha256").join(nd.hex()), &nested).unwrap();
        let top = new_index(vec![Descriptor::new(
            MediaType::ImageIndex,
            nested.len() as u64,
            oci_digest(&nd).unwrap(),
        )])
        .unwrap();
        fs::write(
            out.path().join("index.json"),
            serde_json::to_vec(&top).unwrap(),
        )
        .unwrap();
        let (_d2, dst) = store();
        let back = read_oci_dir(out.path(), None, &dst).unwrap();
        assert_eq!(back.config, image.config);
    }

    #[test]
    fn a_corrupt_blob_in_a_directory_is_refused() {
        let (_d, src, image) = sample_image();
        let out = tempfile::tempdir().unwrap();
        write_oci_dir(&image, None, &src, out.path()).unwrap();
        let path = out
            .path()
            .join("blobs/sha256")
            .join(image.layers[0].digest.hex());
        let mut bytes = fs::read(&path).unwrap();
        bytes[600] ^= 1;
        fs::write(&path, bytes).unwrap();
        let (d2, dst) = store();
        let err = read_oci_dir(out.path(), None, &dst).unwrap_err();
        assert!(
            err.to_string().contains(image.layers[0].digest.hex()),
            "{err}"
        );
        assert_eq!(blob_count(d2.path()), 0);
    }
}
