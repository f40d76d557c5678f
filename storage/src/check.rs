//! The store's integrity check (Podman 5's `system check`): layers whose
//! record or content is gone, layers standing on a missing parent, images
//! that list a missing or damaged layer or blob, container layers on top
//! of a damaged layer. `repair` removes what is damaged, top down, under
//! the store's exclusive lock, and says what it removed.
//!
//! It only reads directory entries and small records, never layer
//! contents: a check costs a few stat calls per layer, not a rehash.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::digest::Digest;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Layer,
    Image,
    Container,
}

/// One damaged object and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    pub subject: Subject,
    pub id: String,
    pub reason: String,
}

impl Store {
    /// Finds what is damaged. Read-only; additional image stores are not
    /// examined (they belong to someone else and are read-only here).
    pub fn check_integrity(&self) -> Result<Vec<Damage>, StoreError> {
        let _shared = self.store_lock(rustix::fs::FlockOperation::LockShared)?;
        self.check_locked()
    }

    fn check_locked(&self) -> Result<Vec<Damage>, StoreError> {
        let broken = self.damaged_layers()?;
        let mut out: Vec<Damage> = broken
            .iter()
            .map(|(id, reason)| Damage {
                subject: Subject::Layer,
                id: id.to_string(),
                reason: reason.clone(),
            })
            .collect();
        let layer_problem = |l: &Digest| -> Option<String> {
            if broken.contains_key(l) {
                Some(format!("layer {} is damaged", l.short()))
            } else if !self.layers.layer_dir(l).exists() {
                Some(format!("layer {} is missing", l.short()))
            } else {
                None
            }
        };
        for image in self.images.list()? {
            let reason = image
                .layers
                .iter()
                .find_map(layer_problem)
                .or_else(|| {
                    (!self.blobs.contains(&image.id))
                        .then(|| format!("config blob {} is missing", image.id.short()))
                })
                .or_else(|| {
                    (!self.blobs.contains(&image.digest))
                        .then(|| format!("manifest blob {} is missing", image.digest.short()))
                });
            if let Some(reason) = reason {
                out.push(Damage {
                    subject: Subject::Image,
                    id: image.id.to_string(),
                    reason,
                });
            }
        }
        for id in self.container_layer_ids() {
            if let Ok(lowers) = self.container_lowers(&id)
                && let Some(reason) = lowers.iter().find_map(layer_problem)
            {
                out.push(Damage {
                    subject: Subject::Container,
                    id,
                    reason,
                });
            }
        }
        Ok(out)
    }

    /// Layers whose record is unreadable, whose content directory is gone,
    /// or whose parent is missing or damaged (the whole chain above a
    /// broken layer is unusable).
    fn damaged_layers(&self) -> Result<BTreeMap<Digest, String>, StoreError> {
        let dir = self.root().join("layers");
        let mut records = BTreeMap::new();
        let mut broken = BTreeMap::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(broken),
            Err(source) => {
                return Err(StoreError::Io {
                    op: "listing",
                    path: dir,
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            // `.tmp-`, `.trash-` and lock files are work in progress or
            // leftovers that the layer store cleans itself.
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            else {
                continue;
            };
            if !entry.path().is_dir() {
                continue;
            }
            match self.layers.get(&id) {
                Ok(None) => {
                    broken.insert(id, "layer record is missing".to_owned());
                }
                Err(e) => {
                    broken.insert(id, e.to_string());
                }
                Ok(Some(_)) if !is_dir(&self.layers.diff_dir(&id)) => {
                    broken.insert(id, "layer content (diff/) is missing".to_owned());
                }
                Ok(Some(rec)) => {
                    records.insert(id, rec.parent);
                }
            }
        }
        // Parents first would need a sort; a fixpoint is simpler and the
        // chains are short.
        loop {
            let newly: Vec<(Digest, String)> = records
                .iter()
                .filter(|(id, _)| !broken.contains_key(*id))
                .filter_map(|(id, parent)| {
                    let p = parent.as_ref()?;
                    if broken.contains_key(p) {
                        Some((id.clone(), format!("parent layer {} is damaged", p.short())))
                    } else if !records.contains_key(p) {
                        Some((id.clone(), format!("parent layer {} is missing", p.short())))
                    } else {
                        None
                    }
                })
                .collect();
            if newly.is_empty() {
                break;
            }
            broken.extend(newly);
        }
        Ok(broken)
    }

    fn container_layer_ids(&self) -> Vec<String> {
        fs::read_dir(self.root().join("containers"))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes what `check_integrity` finds now (not a stale list), as
    /// Podman's `--repair`: damaged images and layers, except those a
    /// container stands on; with `containers` (Podman's `--force`) those
    /// containers' layers too (their records belong to the caller, which
    /// removes them first). Returns what was removed.
    pub fn repair(&self, containers: bool) -> Result<Vec<Damage>, StoreError> {
        let _exclusive = self.store_lock(rustix::fs::FlockOperation::LockExclusive)?;
        let found = self.check_locked()?;
        let mut removed = Vec::new();
        let mut kept_lowers: Vec<Vec<Digest>> = Vec::new();
        for id in self.container_layer_ids() {
            let Ok(lowers) = self.container_lowers(&id) else {
                continue;
            };
            let damaged = found
                .iter()
                .any(|d| d.subject == Subject::Container && d.id == id);
            if damaged && containers {
                self.remove_container_layer(&id)?;
                if let Some(d) = found
                    .iter()
                    .find(|d| d.subject == Subject::Container && d.id == id)
                {
                    removed.push(d.clone());
                }
            } else {
                kept_lowers.push(lowers);
            }
        }
        let in_use = |layer: &Digest| kept_lowers.iter().any(|l| l.contains(layer));
        for d in found.iter().filter(|d| d.subject == Subject::Image) {
            let Ok(id) = d.id.parse::<Digest>() else {
                continue;
            };
            let used = self
                .images
                .get(&id)?
                .is_some_and(|img| kept_lowers.contains(&img.layers));
            if !used {
                let _ = self.unmount_image(&id);
                self.images.remove(&id)?;
                removed.push(d.clone());
            }
        }
        for d in found.iter().filter(|d| d.subject == Subject::Layer) {
            if let Ok(id) = d.id.parse::<Digest>()
                && !in_use(&id)
            {
                self.layers.remove(&id)?;
                removed.push(d.clone());
            }
        }
        Ok(removed)
    }
}

fn is_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}
