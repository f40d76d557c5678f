//! Image records: id (the config digest, as Podman), names, manifest and
//! layer chain ids.
//!
//! The whole index is one JSON file replaced by write-then-rename under an
//! exclusive lock, as containers/storage keeps images.json: readers never
//! lock and always see a complete index, and an image becomes visible in one
//! rename, after all of its blobs and layers are stored and verified.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::layers::{LayerError, lock_file};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("image index {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Lock(#[from] LayerError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ImageError + 'a {
    move |source| ImageError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The config digest.
    pub id: Digest,
    /// Fully qualified names with tags, most recent first.
    pub names: Vec<String>,
    /// Digest of the manifest as stored (what `--digests` shows).
    pub digest: Digest,
    pub manifest_media_type: String,
    /// Chain ids, base layer first.
    pub layers: Vec<Digest>,
    /// Sum of uncompressed layer sizes.
    pub size: u64,
    /// Seconds since the epoch when the image was stored here.
    pub stored_at: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    images: Vec<ImageRecord>,
}

/// `<root>/images.json`, locked through `<root>/images.lock`.
#[derive(Debug, Clone)]
pub struct ImageStore {
    path: PathBuf,
    lock: PathBuf,
}

impl ImageStore {
    pub fn open(root: &Path) -> Result<ImageStore, ImageError> {
        fs::create_dir_all(root).map_err(io_err("creating", root))?;
        Ok(ImageStore {
            path: root.join("images.json"),
            lock: root.join("images.lock"),
        })
    }

    /// A store only read from (an additional image store).
    pub fn read_only(root: &Path) -> ImageStore {
        ImageStore {
            path: root.join("images.json"),
            lock: root.join("images.lock"),
        }
    }

    pub fn list(&self) -> Result<Vec<ImageRecord>, ImageError> {
        Ok(self.read()?.images)
    }

    pub fn get(&self, id: &Digest) -> Result<Option<ImageRecord>, ImageError> {
        Ok(self.read()?.images.into_iter().find(|i| i.id == *id))
    }

    fn read(&self) -> Result<Index, ImageError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| ImageError::Corrupt {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(io_err("reading", &self.path)(e)),
        }
    }

    fn write(&self, index: &Index) -> Result<(), ImageError> {
        let tmp = self
            .path
            .with_extension(format!("json.tmp{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(index).map_err(|source| ImageError::Corrupt {
            path: self.path.clone(),
            source,
        })?;
        let written = (|| {
            use std::io::Write;
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("writing", &self.path)(e)
        })
    }

    /// Runs `f` on the index under the lock and saves what it leaves.
    pub fn update<T>(&self, f: impl FnOnce(&mut Vec<ImageRecord>) -> T) -> Result<T, ImageError> {
        let _lock = lock_file(&self.lock)?;
        let mut index = self.read()?;
        let out = f(&mut index.images);
        self.write(&index)?;
        Ok(out)
    }

    /// Adds an image or merges names into an existing one; a name moves
    /// from whichever image held it (as `podman tag` and `pull` do).
    pub fn add(&self, record: ImageRecord) -> Result<ImageRecord, ImageError> {
        self.update(|images| {
            for other in images.iter_mut().filter(|i| i.id != record.id) {
                other.names.retain(|n| !record.names.contains(n));
            }
            if let Some(existing) = images.iter_mut().find(|i| i.id == record.id) {
                let mut names = record.names.clone();
                names.extend(
                    existing
                        .names
                        .iter()
                        .filter(|n| !record.names.contains(n))
                        .cloned(),
                );
                existing.names = names;
                existing.digest = record.digest.clone();
                existing.manifest_media_type = record.manifest_media_type.clone();
                // A manifest list keeps its id as its body changes.
                existing.size = record.size;
                existing.clone()
            } else {
                images.push(record.clone());
                record
            }
        })
    }

    /// Adds `name` to image `id`, taking it from any other image.
    pub fn tag(&self, id: &Digest, name: &str) -> Result<bool, ImageError> {
        self.update(|images| {
            if !images.iter().any(|i| i.id == *id) {
                return false;
            }
            for image in images.iter_mut() {
                if image.id == *id {
                    if !image.names.iter().any(|n| n == name) {
                        image.names.insert(0, name.to_owned());
                    }
                } else {
                    image.names.retain(|n| n != name);
                }
            }
            true
        })
    }

    pub fn untag(&self, id: &Digest, name: Option<&str>) -> Result<Vec<String>, ImageError> {
        self.update(|images| {
            let Some(image) = images.iter_mut().find(|i| i.id == *id) else {
                return Vec::new();
            };
            match name {
                Some(name) => {
                    let before = image.names.len();
                    image.names.retain(|n| n != name);
                    if image.names.len() < before {
                        vec![name.to_owned()]
                    } else {
                        Vec::new()
                    }
                }
                None => std::mem::take(&mut image.names),
            }
        })
    }

    pub fn remove(&self, id: &Digest) -> Result<Option<ImageRecord>, ImageError> {
        self.update(|images| {
            let pos = images.iter().position(|i| i.id == *id)?;
            Some(images.remove(pos))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seed: &[u8], names: &[&str]) -> ImageRecord {
        ImageRecord {
            id: Digest::of(seed),
            names: names.iter().map(|s| s.to_string()).collect(),
            digest: Digest::of(b"manifest"),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            layers: vec![Digest::of(b"layer")],
            size: 10,
            stored_at: 0,
        }
    }

    #[test]
    fn names_move_between_images() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        store.add(record(b"a", &["localhost/x:latest"])).unwrap();
        store.add(record(b"b", &["localhost/x:latest"])).unwrap();
        let a = store.get(&Digest::of(b"a")).unwrap().unwrap();
        let b = store.get(&Digest::of(b"b")).unwrap().unwrap();
        assert!(a.names.is_empty(), "the tag moved away: {:?}", a.names);
        assert_eq!(b.names, vec!["localhost/x:latest"]);
        assert!(store.tag(&a.id, "localhost/x:latest").unwrap());
        assert!(store.get(&b.id).unwrap().unwrap().names.is_empty());
        assert_eq!(
            store.untag(&a.id, Some("localhost/x:latest")).unwrap(),
            vec!["localhost/x:latest"]
        );
        assert!(store.remove(&a.id).unwrap().is_some());
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn a_record_added_again_takes_the_new_manifest_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        store.add(record(b"l", &["localhost/l:latest"])).unwrap();
        let changed = ImageRecord {
            digest: Digest::of(b"longer list"),
            size: 500,
            ..record(b"l", &[])
        };
        let got = store.add(changed).unwrap();
        assert_eq!(got.size, 500);
        assert_eq!(got.digest, Digest::of(b"longer list"));
        assert_eq!(got.names, vec!["localhost/l:latest"]);
    }

    #[test]
    fn corrupt_index_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        fs::write(dir.path().join("images.json"), b"{not json").unwrap();
        let err = store.list().unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert!(store.add(record(b"a", &[])).is_err());
        assert_eq!(
            fs::read(dir.path().join("images.json")).unwrap(),
            b"{not json"
        );
    }
}
