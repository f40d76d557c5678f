//! A Podman image store read in place: containers/storage's overlay layout
//! (`overlay-images/images.json`, `overlay-layers/layers.json`,
//! `overlay/<layer id>/diff`, and each image's manifest and config as
//! "big data" files in `overlay-images/<id>/`, named `=` + base64(key)).
//!
//! Only read: no lock is taken (containers/storage replaces its JSON files
//! by rename, so a reader sees a whole file), nothing is created, and
//! images whose layers are incomplete or missing are left out. Podman's vfs
//! layout (full copies per layer) is not read: stacking its layers would
//! bring back files that a later layer deleted.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::digest::Digest;
use crate::images::ImageRecord;
use crate::layers::chain_id;

/// Bound on `images.json` and `layers.json` of a Podman store (a store
/// with thousands of images stays well below it).
pub const MAX_INDEX_BYTES: u64 = 64 << 20;
/// Bound on an image's manifest or config read from a Podman store
/// (the registry pull's own limits).
pub const MAX_BIG_DATA_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PodmanStoreError {
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is larger than {limit} bytes: not read")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path} is not a containers/storage index: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

#[derive(Debug, Deserialize)]
struct PodmanImage {
    id: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    layer: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PodmanLayer {
    id: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default, rename = "diff-digest")]
    diff_digest: Option<String>,
    #[serde(default, rename = "diff-size")]
    diff_size: Option<u64>,
    #[serde(default)]
    flags: HashMap<String, serde_json::Value>,
}

/// A containers/storage graph root holding the overlay driver's files.
#[derive(Debug)]
pub struct PodmanStore {
    root: PathBuf,
    /// The layer index, read once per command.
    layers: OnceLock<HashMap<String, Vec<Layer>>>,
}

/// A layer of the store as hutch names it (by chain id).
#[derive(Debug, Clone)]
struct Layer {
    chain: Digest,
    dir: PathBuf,
    size: u64,
}

impl PodmanStore {
    /// The store at `root`, when it has the overlay layout's image index.
    pub fn at(root: &Path) -> Option<PodmanStore> {
        root.join("overlay-images/images.json")
            .is_file()
            .then(|| PodmanStore {
                root: root.to_owned(),
                layers: OnceLock::new(),
            })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every complete image, with hutch's record: the id is the config
    /// digest (containers/storage's image id is too) and the layers are
    /// chain ids computed from each layer's diff digest and parent.
    pub fn list(&self) -> Result<Vec<ImageRecord>, PodmanStoreError> {
        let images: Vec<PodmanImage> = read_index(&self.root.join("overlay-images/images.json"))?;
        let layers = self.layers()?;
        let mut out = Vec::new();
        for image in images {
            let Ok(id) = Digest::from_hex(&image.id) else {
                continue;
            };
            let Some(chain) = image.layer.as_deref().and_then(|top| layers.get(top)) else {
                continue;
            };
            let digest = image
                .digest
                .as_deref()
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| id.clone());
            let dir = self.root.join("overlay-images").join(&image.id);
            let manifest_media_type = read_bounded(&dir.join(big_data_name("manifest")))
                .ok()
                .and_then(|m| serde_json::from_slice::<serde_json::Value>(&m).ok())
                .and_then(|m| m["mediaType"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_owned());
            let stored_at = fs::metadata(&dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            out.push(ImageRecord {
                id,
                names: image.names,
                digest,
                manifest_media_type,
                layers: chain.iter().map(|l| l.chain.clone()).collect(),
                size: chain.iter().map(|l| l.size).sum(),
                stored_at,
            });
        }
        Ok(out)
    }

    /// The `diff` directory of the layer with this chain id, if the store
    /// has it complete.
    pub fn diff_dir(&self, chain: &Digest) -> Option<PathBuf> {
        let layers = self.layers().ok()?;
        layers
            .values()
            .flat_map(|c| c.iter())
            .find(|l| l.chain == *chain)
            .map(|l| l.dir.clone())
            .filter(|d| d.is_dir())
    }

    /// A manifest (by its digest) or config (by the image id) of one of
    /// the store's images.
    pub fn read_blob(&self, digest: &Digest) -> Option<Vec<u8>> {
        let dirs = fs::read_dir(self.root.join("overlay-images")).ok()?;
        let names = [
            big_data_name(&digest.to_string()),
            big_data_name(&format!("manifest-{digest}")),
        ];
        for entry in dirs.flatten() {
            for name in &names {
                if let Ok(data) = read_bounded(&entry.path().join(name))
                    && Digest::of(&data) == *digest
                {
                    return Some(data);
                }
            }
        }
        None
    }

    /// Layer id → its chain, base first; layers that are incomplete, lack
    /// a diff digest or stand on such a layer are left out.
    fn layers(&self) -> Result<&HashMap<String, Vec<Layer>>, PodmanStoreError> {
        if let Some(done) = self.layers.get() {
            return Ok(done);
        }
        let list: Vec<PodmanLayer> = read_index(&self.root.join("overlay-layers/layers.json"))?;
        let by_id: HashMap<&str, &PodmanLayer> = list.iter().map(|l| (l.id.as_str(), l)).collect();
        let mut done: HashMap<String, Vec<Layer>> = HashMap::new();
        for layer in &list {
            // Parents first, walked iteratively: a hostile parent cycle
            // stops at the store's own size.
            let mut path = vec![layer];
            while let Some(parent) = path.last().and_then(|l| l.parent.as_deref()) {
                if done.contains_key(parent) || path.len() > list.len() {
                    break;
                }
                match by_id.get(parent) {
                    Some(p) => path.push(p),
                    None => break,
                }
            }
            for l in path.into_iter().rev() {
                if done.contains_key(&l.id) {
                    continue;
                }
                let below = match l.parent.as_deref() {
                    None => Some(Vec::new()),
                    Some(p) => done.get(p).cloned(),
                };
                let (Some(mut chain), Some(diff)) =
                    (below, l.diff_digest.as_deref().and_then(|d| d.parse().ok()))
                else {
                    continue;
                };
                if l.flags.get("incomplete").and_then(|v| v.as_bool()) == Some(true) {
                    continue;
                }
                let id = chain_id(chain.last().map(|c: &Layer| &c.chain), &diff);
                chain.push(Layer {
                    chain: id,
                    dir: self.root.join("overlay").join(&l.id).join("diff"),
                    size: l.diff_size.unwrap_or(0),
                });
                done.insert(l.id.clone(), chain);
            }
        }
        Ok(self.layers.get_or_init(|| done))
    }
}

fn read_index<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, PodmanStoreError> {
    let bytes = match read_limited(path, MAX_INDEX_BYTES) {
        Err(PodmanStoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        other => other?,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|source| PodmanStoreError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, PodmanStoreError> {
    read_limited(path, MAX_BIG_DATA_BYTES)
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, PodmanStoreError> {
    let io = |source| PodmanStoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut data = Vec::new();
    fs::File::open(path)
        .map_err(io)?
        .take(limit + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() as u64 > limit {
        return Err(PodmanStoreError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(data)
}

/// containers/storage's file name for a big-data key: `=` and the key in
/// standard base64 (with padding), so that any key makes a file name.
fn big_data_name(key: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = key.as_bytes();
    let mut out = String::from("=");
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_data_names_are_containers_storage_names() {
        // Names as Podman 4.3 wrote them for a config and a manifest.
        assert_eq!(
            big_data_name(
                "sha256:8296cf7f03b043157f531a433a6de62efd3c2faa9f1e1f5adea677795642c675"
            ),
            "=c2hhMjU2OjgyOTZjZjdmMDNiMDQzMTU3ZjUzMWE0MzNhNmRlNjJlZmQzYzJmYWE5ZjFlMWY1YWRlYTY3Nzc5NTY0MmM2NzU="
        );
        assert_eq!(big_data_name("manifest"), "=bWFuaWZlc3Q=");
        assert_eq!(big_data_name("ab"), "=YWI=");
        assert_eq!(big_data_name("abc"), "=YWJj");
    }

    #[test]
    fn reads_images_with_complete_layer_chains_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let base = Digest::of(b"base");
        let top = Digest::of(b"top");
        fs::create_dir_all(root.join("overlay-images/cfg")).unwrap();
        fs::create_dir_all(root.join("overlay-layers")).unwrap();
        for id in ["l1", "l2", "l3"] {
            fs::create_dir_all(root.join("overlay").join(id).join("diff")).unwrap();
        }
        let config = br#"{"rootfs":{"diff_ids":[]}}"#;
        let config_id = Digest::of(config);
        let layers = serde_json::json!([
            {"id": "l1", "diff-digest": base.to_string(), "diff-size": 3},
            {"id": "l2", "parent": "l1", "diff-digest": top.to_string(), "diff-size": 4},
            {"id": "l3", "parent": "l2", "diff-digest": top.to_string(), "flags": {"incomplete": true}},
        ]);
        fs::write(root.join("overlay-layers/layers.json"), layers.to_string()).unwrap();
        let images = serde_json::json!([
            {"id": config_id.hex(), "names": ["localhost/a:latest"], "layer": "l2"},
            {"id": Digest::of(b"other").hex(), "names": ["localhost/b:latest"], "layer": "l3"},
        ]);
        fs::write(root.join("overlay-images/images.json"), images.to_string()).unwrap();
        let image_dir = root.join("overlay-images").join(config_id.hex());
        fs::create_dir_all(&image_dir).unwrap();
        fs::write(
            image_dir.join(big_data_name(&config_id.to_string())),
            config,
        )
        .unwrap();

        let store = PodmanStore::at(root).expect("overlay layout");
        let list = store.list().unwrap();
        assert_eq!(list.len(), 1, "the incomplete one is left out: {list:?}");
        let chain_top = chain_id(Some(&base), &top);
        assert_eq!(list[0].layers, vec![base.clone(), chain_top.clone()]);
        assert_eq!(list[0].size, 7);
        assert_eq!(
            store.diff_dir(&chain_top),
            Some(root.join("overlay/l2/diff"))
        );
        assert_eq!(store.read_blob(&config_id).as_deref(), Some(&config[..]));
        assert_eq!(store.read_blob(&Digest::of(b"nothing")), None);
    }
}
