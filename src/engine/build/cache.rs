//! The layer cache: a step's key (parent image, instruction and its
//! arguments, build-arg values, content digest of what COPY/ADD read) →
//! the image the step made. One small file per key under the graph root,
//! written by rename, so a killed build leaves either the entry or
//! nothing; an entry whose image was removed is a miss.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::engine::image;
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;

pub struct Cache {
    dir: PathBuf,
}

/// The key of a step: every part, length-prefixed so that no two lists
/// of parts hash alike.
pub fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    super::sources::hex(&h.finalize())
}

impl Cache {
    pub fn new(root: &Path) -> Cache {
        Cache {
            dir: root.join("build-cache"),
        }
    }

    /// The image of `key`, and the config the build goes on with when the
    /// record holds one (a second line).
    pub fn get(&self, store: &Store, key: &str) -> Option<(ImageRecord, Option<Value>)> {
        let text = std::fs::read_to_string(self.dir.join(key)).ok()?;
        let (id, running) = text.split_once('\n').unwrap_or((&text, ""));
        let id = id.trim();
        // An id of 64 hex digits only: the file is ours, but a corrupt one
        // must not become a name lookup.
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let running = match running.trim() {
            "" => None,
            r => Some(serde_json::from_str(r).ok()?),
        };
        Some((image::lookup(store, id).ok()?, running))
    }

    /// Best effort: a cache that cannot be written only costs time later.
    pub fn put(&self, key: &str, id: &str, running: Option<&Value>) {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let tmp = self.dir.join(format!(".{key}.{}", std::process::id()));
            let mut text = id.to_owned();
            if let Some(r) = running {
                text.push('\n');
                text.push_str(&r.to_string());
            }
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, self.dir.join(key))
        };
        if let Err(e) = write() {
            tracing::warn!(key, "writing the build cache: {e}");
        }
    }
}
