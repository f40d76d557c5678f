//! docker-archive: what `docker save` and `podman save` (its default
//! format) write. `manifest.json` lists, per image, the config file, the
//! `RepoTags` and the layer files in order; layers are tars, normally
//! uncompressed. Docker before 25 names them `<v1 id>/layer.tar` beside
//! `<id>/json` and `<id>/VERSION`; Podman (c/image) writes them flat as
//! `<diff_id>.tar` with those legacy directories holding only a symlink;
//! Docker 25+ points into an OCI `blobs/sha256/` tree, sometimes at
//! compressed layers. Reading goes by `manifest.json` alone and accepts all
//! three; writing follows c/image byte for byte in names and layout.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use hutch_storage::blobs::BlobStore;
use hutch_storage::digest::Digest;
use oci_spec::image::{Descriptor, ImageManifestBuilder, MediaType};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::error::{ArchiveError, blob_err, json_err};
use super::layer::{self, Compression};
use super::members::{self, Source, Stash};
use super::tarout::TarOut;
use super::{ImageBlobs, LayerBlob, OCI_LAYER_TAR, OCI_MANIFEST, oci_digest};

/// One entry of `manifest.json`. `Parent` and `LayerSources` (foreign
/// layers of Windows images) are neither read nor written, as c/image.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    /// Docker writes `null` for an untagged image.
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// A path from `manifest.json`, held to the same rules as member names.
fn member_ref(path: &str) -> Result<String, ArchiveError> {
    members::normalize(path).map_err(|reason| ArchiveError::HostileName {
        member: path.to_owned(),
        reason,
    })
}

pub(crate) fn read(src: &dyn Source, stash: &mut Stash) -> Result<Vec<ImageBlobs>, ArchiveError> {
    let manifest = src.read_small("manifest.json", "the archive")?;
    let items: Vec<ManifestItem> =
        serde_json::from_slice(&manifest).map_err(json_err(src.describe("manifest.json")))?;
    if items.is_empty() {
        return Err(ArchiveError::Invalid {
            what: src.describe("manifest.json"),
            reason: "lists no image".into(),
        });
    }
    items
        .iter()
        .map(|item| read_item(src, item, stash))
        .collect()
}

fn read_item(
    src: &dyn Source,
    item: &ManifestItem,
    stash: &mut Stash,
) -> Result<ImageBlobs, ArchiveError> {
    let config_name = member_ref(&item.config)?;
    let config_bytes = src.read_small(&config_name, "manifest.json")?;
    let config = Digest::of(&config_bytes);
    let what = src.describe(&config_name);
    // `<hex>.json` (Docker, Podman) or `blobs/sha256/<hex>` (Docker 25+):
    // the name is a promise about the content.
    let file = config_name.rsplit('/').next().unwrap_or(&config_name);
    if let Ok(named) = Digest::from_hex(file.strip_suffix(".json").unwrap_or(file))
        && named != config
    {
        return Err(blob_err(&what)(hutch_storage::blobs::BlobError::Mismatch {
            expected: named,
            actual: config,
            size: config_bytes.len() as u64,
        }));
    }
    let config_size = stash.put_verified(&config_bytes[..], &config, &what)?;
    let diff_ids = layer::diff_ids(&config_bytes, &what)?;
    if diff_ids.len() != item.layers.len() {
        return Err(ArchiveError::LayerCount {
            config,
            layers: item.layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut layers = Vec::new();
    for (path, diff_id) in item.layers.iter().zip(diff_ids) {
        let name = member_ref(path)?;
        let size = read_layer(src, &name, &diff_id, stash)?;
        layers.push(LayerBlob {
            digest: diff_id.clone(),
            size,
            media_type: OCI_LAYER_TAR.to_owned(),
            diff_id,
        });
    }
    Ok(ImageBlobs {
        manifest: oci_manifest(&config, config_size, &layers)?,
        manifest_media_type: OCI_MANIFEST.to_owned(),
        config,
        layers,
        names: item.repo_tags.clone().unwrap_or_default(),
    })
}

/// Stores a layer uncompressed under its diff_id, whatever compression it
/// has in the archive; returns the uncompressed size.
fn read_layer(
    src: &dyn Source,
    name: &str,
    diff_id: &Digest,
    stash: &mut Stash,
) -> Result<u64, ArchiveError> {
    let what = src.describe(name);
    let (kind, stream) =
        layer::sniff(src.open(name, "manifest.json")?).map_err(|source| ArchiveError::Read {
            what: what.clone(),
            source,
        })?;
    let result = if kind == Compression::None {
        drop(stream);
        src.store(name, diff_id, stash, "manifest.json")
    } else {
        let plain = layer::decompressed(stream, &what)?;
        stash.put_verified(plain, diff_id, &what)
    };
    result.map_err(|e| layer::as_diff_id_error(e, &what))
}

/// The OCI manifest hutch keeps for an image that came without one.
fn oci_manifest(
    config: &Digest,
    config_size: u64,
    layers: &[LayerBlob],
) -> Result<Vec<u8>, ArchiveError> {
    let config_desc = Descriptor::new(MediaType::ImageConfig, config_size, oci_digest(config)?);
    let layer_descs = layers
        .iter()
        .map(|l| {
            Ok(Descriptor::new(
                MediaType::ImageLayer,
                l.size,
                oci_digest(&l.digest)?,
            ))
        })
        .collect::<Result<Vec<_>, ArchiveError>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(layer_descs)
        .build()
        .map_err(|e| ArchiveError::Invalid {
            what: format!("manifest for config {config}"),
            reason: e.to_string(),
        })?;
    serde_json::to_vec(&manifest).map_err(json_err(format!("manifest for config {config}")))
}

/// Writes `images` as one docker-archive, the way `podman save` does:
/// `<diff_id>.tar` per layer (uncompressed), `<config hex>.json`, the
/// legacy `<chain id>/{layer.tar -> ../<diff_id>.tar, VERSION, json}`
/// directories, then `manifest.json` and `repositories`. Layers shared by
/// several images are written once.
///
/// A tar header states the size before the content, and a stored layer may
/// be compressed: such a layer is decompressed twice, once to learn its size
/// (and check it against the diff_id before anything is written), once into
/// the archive. That costs CPU where Podman's temporary file costs disk.
pub fn save_docker_archive(
    images: &[ImageBlobs],
    blobs: &BlobStore,
    out: impl Write,
) -> Result<(), ArchiveError> {
    let mut tar = TarOut::new(out, 0o444);
    let mut written = HashSet::new();
    let mut items = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for image in images {
        let what = format!("config {}", image.config);
        let config = blobs.read(&image.config).map_err(blob_err(&what))?;
        if Digest::of(&config) != image.config {
            return Err(blob_err(&what)(hutch_storage::blobs::BlobError::Mismatch {
                expected: image.config.clone(),
                actual: Digest::of(&config),
                size: config.len() as u64,
            }));
        }
        let diff_ids = layer::diff_ids(&config, &what)?;
        let listed: Vec<_> = image.layers.iter().map(|l| l.diff_id.clone()).collect();
        if diff_ids != listed {
            return Err(ArchiveError::Invalid {
                what: format!("image {}", image.config),
                reason: "its layers' diff_ids differ from the config's rootfs.diff_ids".into(),
            });
        }
        let mut layer_paths = Vec::new();
        for l in &image.layers {
            let name = format!("{}.tar", l.diff_id.hex());
            if written.insert(name.clone()) {
                write_layer(&mut tar, &name, blobs, l)?;
            }
            layer_paths.push(name);
        }
        let config_name = format!("{}.json", image.config.hex());
        if written.insert(config_name.clone()) {
            tar.bytes(&config_name, &config)?;
        }
        let top = write_legacy(&mut tar, &mut written, &config, &diff_ids, &what)?;
        let mut tags = Vec::new();
        for name in &image.names {
            let Some((repo, tag)) = split_tag(name) else {
                continue;
            };
            tags.push(format!("{repo}:{tag}"));
            if let Some(top) = &top {
                repositories
                    .entry(repo.to_owned())
                    .or_default()
                    .insert(tag.to_owned(), top.clone());
            }
        }
        items.push(ManifestItem {
            config: config_name,
            repo_tags: Some(tags),
            layers: layer_paths,
        });
    }
    let manifest = serde_json::to_vec(&items).map_err(json_err("manifest.json"))?;
    tar.bytes("manifest.json", &manifest)?;
    let repositories = serde_json::to_vec(&repositories).map_err(json_err("repositories"))?;
    tar.bytes("repositories", &repositories)?;
    tar.finish()?;
    Ok(())
}

/// `repo` and `tag` of a name usable as a RepoTag; names by digest are not,
/// and an untagged name means `latest`.
fn split_tag(name: &str) -> Option<(&str, &str)> {
    if name.contains('@') || name.is_empty() {
        return None;
    }
    let last = name.rfind('/').map_or(0, |i| i + 1);
    match name[last..].rfind(':') {
        Some(i) => Some((&name[..last + i], &name[last + i + 1..])),
        None => Some((name, "latest")),
    }
}

fn write_layer<W: Write>(
    tar: &mut TarOut<W>,
    name: &str,
    blobs: &BlobStore,
    l: &LayerBlob,
) -> Result<(), ArchiveError> {
    let what = format!("layer {}", l.digest);
    let open = || blobs.open_blob(&l.digest).map_err(blob_err(&what));
    let file = open()?;
    let stored_size = file
        .metadata()
        .map_err(super::error::io_err("inspecting", &blobs.path(&l.digest)))?
        .len();
    let (kind, stream) = layer::sniff(file).map_err(|source| ArchiveError::Read {
        what: what.clone(),
        source,
    })?;
    if kind == Compression::None {
        return tar.verified(name, stream, &l.diff_id, stored_size, &what);
    }
    let (actual, size) = layer::uncompressed_digest(stream, &what)?;
    if actual != l.diff_id {
        return Err(ArchiveError::DiffIdMismatch {
            layer: l.digest.to_string(),
            expected: l.diff_id.clone(),
            actual,
        });
    }
    let plain = layer::decompressed(open()?, &what)?;
    tar.verified(name, plain, &l.diff_id, size, &what)
}

/// The per-layer directories of Docker's pre-1.10 format, which `docker
/// load` still wants to see, with c/image's contents and ids: a layer's id
/// is the SHA-256 of its `json` written with a `layer_id` (the chain id) in
/// place of `id`. Podman's Go JSON encoding is reproduced (keys sorted,
/// values compacted, `<>&` escaped) so that both save identical archives.
/// Returns the top layer's id, which `repositories` points at.
fn write_legacy<W: Write>(
    tar: &mut TarOut<W>,
    written: &mut HashSet<String>,
    config: &[u8],
    diff_ids: &[Digest],
    what: &str,
) -> Result<Option<String>, ArchiveError> {
    let config: HashMap<String, Box<RawValue>> =
        serde_json::from_slice(config).map_err(json_err(what))?;
    let mut chain: Option<Digest> = None;
    let mut parent: Option<String> = None;
    for (i, diff_id) in diff_ids.iter().enumerate() {
        let next = match &chain {
            None => diff_id.clone(),
            Some(prev) => Digest::of(format!("{prev} {diff_id}").as_bytes()),
        };
        // Values as JSON text, keys sorted as Go writes a map.
        let mut json: BTreeMap<&str, String> = BTreeMap::new();
        if let Some(p) = &parent {
            json.insert("parent", go_string(p));
        }
        if i + 1 == diff_ids.len() {
            for attr in [
                "architecture",
                "config",
                "container",
                "container_config",
                "created",
                "docker_version",
                "os",
            ] {
                let value = config
                    .get(attr)
                    .map_or("null".to_owned(), |v| go_compact(v.get()));
                json.insert(attr, value);
            }
        }
        json.insert("layer_id", go_string(&next.to_string()));
        let id = Digest::of(go_object(&json).as_bytes()).hex().to_owned();
        json.remove("layer_id");
        json.insert("id", go_string(&id));
        chain = Some(next);
        if written.insert(format!("{id}/")) {
            tar.symlink(
                &format!("{id}/layer.tar"),
                &format!("../{}.tar", diff_id.hex()),
            )?;
            tar.bytes(&format!("{id}/VERSION"), b"1.0")?;
            tar.bytes(&format!("{id}/json"), go_object(&json).as_bytes())?;
        }
        parent = Some(id);
    }
    Ok(parent)
}

fn go_object(fields: &BTreeMap<&str, String>) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", go_string(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A string as Go's encoding/json writes it.
fn go_string(s: &str) -> String {
    // serde_json cannot fail on a &str; Go's extra escapes come after.
    go_compact(&serde_json::to_string(s).unwrap_or_default())
}

/// What Go's encoding/json does to a RawMessage: drops the whitespace
/// between tokens and escapes `<`, `>`, `&`, U+2028 and U+2029 (HTML
/// safety), leaving everything else exactly as written.
fn go_compact(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            ' ' | '\t' | '\n' | '\r' if !in_string => {}
            _ => out.push(c),
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{load, save_docker_archive};
    use super::*;

    #[test]
    fn writes_podman_layout() {
        let (_d, src, image) = sample_image();
        let mut archive = Vec::new();
        save_docker_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        let names = member_names(&archive);
        let d0 = image.layers[0].diff_id.hex();
        let d1 = image.layers[1].diff_id.hex();
        // The legacy ids `podman save` (4.3.1) gave this very image.
        let id0 = "eee5ede7f3b671090e74541ec29710656974de12a190764251423f0afa805b75";
        let id1 = "27fe179809be294698ac658deb1201c727bd6282a7572347887f585a79c35bb2";
        let expected = vec![
            format!("{d0}.tar"),
            format!("{d1}.tar"),
            format!("{}.json", image.config.hex()),
            format!("{id0}/layer.tar"),
            format!("{id0}/VERSION"),
            format!("{id0}/json"),
            format!("{id1}/layer.tar"),
            format!("{id1}/VERSION"),
            format!("{id1}/json"),
            "manifest.json".to_owned(),
            "repositories".to_owned(),
        ];
        assert_eq!(names, expected);
        assert_eq!(
            member(&archive, &format!("{id0}/json")),
            format!(r#"{{"id":"{id0}"}}"#).as_bytes()
        );
        let manifest = member(&archive, "manifest.json");
        assert_eq!(
            String::from_utf8(manifest).unwrap(),
            format!(
                r#"[{{"Config":"{}.json","RepoTags":["localhost/sample:latest"],"Layers":["{d0}.tar","{d1}.tar"]}}]"#,
                image.config.hex()
            )
        );
        assert_eq!(
            String::from_utf8(member(&archive, "repositories")).unwrap(),
            format!(r#"{{"localhost/sample":{{"latest":"{id1}"}}}}"#)
        );
        // The compressed stored layer went out decompressed.
        assert_eq!(
            Digest::of(&member(&archive, &format!("{d1}.tar"))),
            image.layers[1].diff_id
        );
    }

    #[test]
    fn saves_the_very_bytes_podman_saves() {
        // `podman save -o x.tar localhost/sample:latest` (Podman 4.3.1) of
        // this image, after loading it from a hutch archive, hashes to this.
        let podman = "f04d936199620e2c57c77d4fde53ad15f50a75827c05a20bdff0d7ff539f0a68";
        let (_d, src, image) = sample_image();
        let mut archive = Vec::new();
        save_docker_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        assert_eq!(Digest::of(&archive).hex(), podman);
    }

    #[test]
    fn reads_docker_save_layout_with_compressed_layers() {
        let (_d, src, image) = sample_image();
        // Docker's own layout: <id>/layer.tar as regular files, one of them
        // still gzip-compressed, manifest.json first, a `json` per layer.
        let config = src.read(&image.config).unwrap();
        let l0 = src.read(&image.layers[0].digest).unwrap();
        let l1 = src.read(&image.layers[1].digest).unwrap();
        assert_ne!(image.layers[1].digest, image.layers[1].diff_id);
        let manifest = format!(
            r#"[{{"Config":"{}.json","RepoTags":null,"Layers":["aaa/layer.tar","bbb/layer.tar"]}}]"#,
            image.config.hex()
        );
        let archive = tar_of(&[
            ("manifest.json", manifest.as_bytes()),
            ("aaa/VERSION", b"1.0"),
            ("aaa/json", b"{}"),
            ("aaa/layer.tar", &l0),
            ("bbb/layer.tar", &l1),
            (&format!("./{}.json", image.config.hex()), &config),
        ]);
        let (d2, dst) = store();
        let loaded = load(&archive[..], &dst).unwrap();
        assert_eq!(loaded[0].config, image.config);
        assert_eq!(diff_ids_of(&loaded[0]), diff_ids_of(&image));
        assert!(loaded[0].names.is_empty());
        for l in &loaded[0].layers {
            assert!(dst.contains(&l.diff_id));
        }
        // Only the config, two layers and the manifest remain: the gzip copy
        // and the metadata files were not kept.
        assert_eq!(blob_count(d2.path()), 4);
    }

    #[test]
    fn reads_docker_25_layout_pointing_into_blobs() {
        // Docker 25+: an OCI layout plus a manifest.json whose paths point
        // into blobs/sha256, where a layer may be compressed.
        let (_d, src, image) = sample_image();
        let mut oci = Vec::new();
        super::super::save_oci_archive(std::slice::from_ref(&image), &src, &mut oci).unwrap();
        let manifest = format!(
            r#"[{{"Config":"blobs/sha256/{}","RepoTags":["foo:1"],"Layers":["blobs/sha256/{}","blobs/sha256/{}"]}}]"#,
            image.config.hex(),
            image.layers[0].digest.hex(),
            image.layers[1].digest.hex()
        );
        let archive = rebuild(
            &all_members(&oci),
            &[("manifest.json", manifest.as_bytes())],
        );
        assert_eq!(
            detect_bytes(&archive),
            super::super::ArchiveFormat::DockerArchive
        );
        let (d2, dst) = store();
        let loaded = load(&archive[..], &dst).unwrap();
        assert_eq!(loaded[0].config, image.config);
        assert_eq!(loaded[0].names, ["foo:1"]);
        assert!(loaded[0].layers.iter().all(|l| l.digest == l.diff_id));
        // Config, two uncompressed layers, hutch's manifest: the gzip blob
        // and the layout's own manifest were dropped.
        assert_eq!(blob_count(d2.path()), 4);
    }

    #[test]
    fn follows_podman_legacy_symlinks() {
        let (_d, src, image) = sample_image();
        let mut archive = Vec::new();
        save_docker_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        // Point manifest.json at the legacy <id>/layer.tar symlinks.
        let mut members = all_members(&archive);
        let links: Vec<String> = members
            .iter()
            .filter(|m| m.1 == tar::EntryType::Symlink)
            .map(|m| format!("./{}", m.0))
            .collect();
        assert_eq!(links.len(), 2);
        let manifest = format!(
            r#"[{{"Config":"{}.json","RepoTags":[],"Layers":["{}","{}"]}}]"#,
            image.config.hex(),
            links[0],
            links[1]
        );
        members.retain(|m| m.0 != "manifest.json");
        let rebuilt = rebuild(&members, &[("manifest.json", manifest.as_bytes())]);
        let (_d2, dst) = store();
        let loaded = load(&rebuilt[..], &dst).unwrap();
        assert_eq!(diff_ids_of(&loaded[0]), diff_ids_of(&image));
    }

    #[test]
    fn altered_layer_fails_naming_it() {
        let (_d, src, image) = sample_image();
        let mut archive = Vec::new();
        save_docker_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        let d0 = image.layers[0].diff_id.hex().to_owned();
        let layer = member(&archive, &format!("{d0}.tar"));
        let at = find(&archive, &layer).unwrap();
        archive[at + 600] ^= 1;
        let (d2, dst) = store();
        let err = load(&archive[..], &dst).unwrap_err();
        assert!(
            matches!(err, ArchiveError::DiffIdMismatch { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&format!("{d0}.tar")), "{err}");
        assert_eq!(blob_count(d2.path()), 0);
    }

    #[test]
    fn config_named_by_another_digest_is_refused() {
        let (_d, src, image) = sample_image();
        let mut archive = Vec::new();
        save_docker_archive(std::slice::from_ref(&image), &src, &mut archive).unwrap();
        let wrong = Digest::of(b"not the config");
        let mut members = all_members(&archive);
        for m in &mut members {
            if m.0 == format!("{}.json", image.config.hex()) {
                m.0 = format!("{}.json", wrong.hex());
            }
        }
        let manifest = String::from_utf8(member(&archive, "manifest.json"))
            .unwrap()
            .replace(image.config.hex(), wrong.hex());
        members.retain(|m| m.0 != "manifest.json");
        let rebuilt = rebuild(&members, &[("manifest.json", manifest.as_bytes())]);
        let (d2, dst) = store();
        let err = load(&rebuilt[..], &dst).unwrap_err();
        assert!(err.to_string().contains(wrong.hex()), "{err}");
        assert_eq!(blob_count(d2.path()), 0);
    }

    #[test]
    fn go_json_encoding() {
        assert_eq!(
            go_compact("{ \"a\" : [1, 2],\n \"b\": \"x y<&>\\\" \" }"),
            r#"{"a":[1,2],"b":"x y\u003c\u0026\u003e\" "}"#
        );
        assert_eq!(go_string("a<b"), r#""a\u003cb""#);
    }

    #[test]
    fn tags() {
        assert_eq!(split_tag("localhost/foo:1"), Some(("localhost/foo", "1")));
        assert_eq!(
            split_tag("localhost:5000/foo"),
            Some(("localhost:5000/foo", "latest"))
        );
        assert_eq!(split_tag("foo@sha256:abc"), None);
    }
}
