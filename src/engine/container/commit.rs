//! `commit`: a new image whose layers are the container's image's plus one
//! holding what the container changed (OCI whiteouts for what it deleted),
//! with the container's command, environment and working directory as the
//! config (as Podman and Docker do), `--change` instructions on top, and a
//! history entry.

use std::io::{self, Write};
use std::os::fd::AsFd;

use crate::engine::{Error, Result, ResultExt};
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use hutch_storage::store::LayerBlob;
use serde_json::{Map, Value, json};

use super::changes::{self, Kind};
use super::inroot;
use super::tree::TreeWriter;
use crate::engine::image::{self, import};
use crate::engine::state::Container;
use crate::host::time;
use crate::image::reference;

#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub reference: Option<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    pub changes: Vec<String>,
    /// `--squash`: the image's layers and the container's changes become
    /// one layer (the container's whole root file system).
    pub squash: bool,
    /// `--include-volumes`: the container's volume and bind mount
    /// destinations become the image's `Volumes`.
    pub include_volumes: bool,
}

const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

pub fn commit(
    store: &Store,
    state: &crate::engine::state::State,
    c: &Container,
    req: &CommitRequest,
) -> Result<ImageRecord> {
    let names = match &req.reference {
        Some(r) => vec![
            reference::local_name(r)
                .with_context(|| format!("commit: invalid image name {r:?}"))?,
        ],
        None => Vec::new(),
    };
    let base = image::lookup(store, &c.image_id)
        .with_context(|| format!("finding the image of container {}", c.name))?;
    let mut config = image::config(store, &base)?;
    let manifest: Value = serde_json::from_slice(
        &store
            .read_blob(&base.digest)
            .with_context(|| format!("reading the manifest of image {}", base.id.short()))?,
    )
    .context("parsing the image manifest")?;
    let mut layers: Vec<LayerBlob> = manifest["layers"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| {
                    Some(LayerBlob {
                        digest: l["digest"].as_str()?.parse().ok()?,
                        media_type: l["mediaType"].as_str().unwrap_or(LAYER_TAR).to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut manifest_layers = manifest["layers"].as_array().cloned().unwrap_or_default();

    let _adding = store.adding()?;
    let (blob, size) = if req.squash {
        // One layer holds everything: the base's layers are not kept.
        layers.clear();
        manifest_layers.clear();
        config["rootfs"]["diff_ids"] = json!([]);
        config["history"] = json!([]);
        squashed_layer(store, state, c)?
    } else {
        diff_layer(store, c)?
    };

    // The container's process, as it was configured, becomes the image's.
    let spec = &c.spec;
    let cc = config["config"].as_object().cloned().unwrap_or_default();
    let mut cc: Map<String, Value> = cc;
    if !spec.command.is_empty() {
        cc.insert("Cmd".into(), json!(spec.command));
    }
    if let Some(ep) = &spec.entrypoint {
        cc.insert("Entrypoint".into(), json!(ep));
    }
    if !spec.env.is_empty() {
        let env = &spec.env;
        let mut list: Vec<Value> = cc
            .get("Env")
            .and_then(|e| e.as_array().cloned())
            .unwrap_or_default();
        for e in env.iter().map(String::as_str) {
            let key = e.split('=').next().unwrap_or(e);
            list.retain(|x| x.as_str().and_then(|s| s.split('=').next()) != Some(key));
            list.push(json!(e));
        }
        cc.insert("Env".into(), Value::Array(list));
    }
    if let Some(w) = &spec.workdir {
        cc.insert("WorkingDir".into(), json!(w));
    }
    if let Some(u) = &spec.user {
        cc.insert("User".into(), json!(u));
    }
    if req.include_volumes {
        let mut volumes = cc
            .get("Volumes")
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        for m in &spec.mounts {
            if !matches!(m.source, crate::spec::MountSource::Tmpfs) {
                volumes.insert(m.destination.clone(), json!({}));
            }
        }
        if !volumes.is_empty() {
            cc.insert("Volumes".into(), Value::Object(volumes));
        }
    }
    for change in &req.changes {
        import::apply_change(&mut cc, change)?;
    }
    config["config"] = Value::Object(cc);
    let created = time::rfc3339(time::now());
    config["created"] = json!(created);
    if let Some(a) = &req.author {
        config["author"] = json!(a);
    }
    let diff_ids = config["rootfs"]["diff_ids"].as_array_mut().ok_or_else(|| {
        Error::internal(format!("image {} has no rootfs.diff_ids", base.id.short()))
    })?;
    diff_ids.push(json!(blob.to_string()));
    let command: Vec<String> = spec.command.clone();
    let mut entry = json!({
        "created": created,
        "created_by": if command.is_empty() { "/bin/sh".to_owned() } else { command.join(" ") },
        "comment": req.message.clone().unwrap_or_else(|| format!("FROM {}", c.image_name)),
    });
    if let Some(a) = &req.author {
        entry["author"] = json!(a);
    }
    match config["history"].as_array_mut() {
        Some(h) => h.push(entry),
        None => config["history"] = json!([entry]),
    }
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = store.blobs.put_bytes(&config_bytes, None)?;
    manifest_layers.push(json!({"mediaType": LAYER_TAR, "digest": blob.to_string(), "size": size}));
    layers.push(LayerBlob {
        digest: blob,
        media_type: LAYER_TAR.to_owned(),
    });
    let new_manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config_bytes.len()},
        "layers": manifest_layers,
    });
    let manifest_digest = store
        .blobs
        .put_bytes(&serde_json::to_vec(&new_manifest)?, None)?;
    let record = store
        .commit_image(
            &manifest_digest,
            "application/vnd.oci.image.manifest.v1+json",
            &config_digest,
            &layers,
            &names,
        )
        .with_context(|| format!("committing container {}", c.name))?;
    Ok(record)
}

/// The container's whole root file system as one uncompressed layer
/// blob (`commit --squash`), owners unshifted as `export` writes them.
fn squashed_layer(
    store: &Store,
    state: &crate::engine::state::State,
    c: &Container,
) -> Result<(hutch_storage::Digest, u64)> {
    let (reader, writer) = io::pipe().context("creating a pipe")?;
    // The export runs here (the state is not Sync), the store reads the
    // pipe on its own thread.
    std::thread::scope(|s| {
        let consumer = s.spawn(move || store.blobs.put(reader, None));
        let produced = {
            let mut w = io::BufWriter::new(writer);
            super::export::export(store, state, &c.id, &mut w)
        };
        let stored = consumer
            .join()
            .map_err(|_| Error::internal("the layer reader panicked"))?;
        produced?;
        let stored = stored.context("storing the squashed layer")?;
        Ok::<_, Error>(stored)
    })
}

/// The container's changes as an uncompressed layer blob in the store
/// (also what `build` commits after each step): its digest and size. The
/// caller holds the store's adding lock.
pub fn diff_layer(store: &Store, c: &Container) -> Result<(hutch_storage::Digest, u64)> {
    let (reader, writer) = io::pipe().context("creating a pipe")?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || write_diff(store, c, io::BufWriter::new(writer)));
        let stored = store.blobs.put(reader, None);
        let produced = producer
            .join()
            .map_err(|_| Error::internal("the layer writer panicked"))?;
        let stored = stored.context("storing the new layer")?;
        produced?;
        Ok::<_, Error>(stored)
    })
}

/// The container's changes as an uncompressed layer tar written to `out`
/// (OCI whiteouts for what it deleted): `commit`'s layer, and the
/// `rootfs-diff.tar` of a checkpoint archive.
pub fn write_diff(store: &Store, c: &Container, out: impl Write) -> Result<()> {
    let found = changes::of_container(store, c)?;
    let upper_path = store.container_upper(&c.id);
    let upper = inroot::open_root(&upper_path)
        .with_context(|| format!("opening {}", upper_path.display()))?;
    let upper = upper.as_fd();
    let written = (|| -> io::Result<()> {
        let mut w = TreeWriter::new(out);
        // A shifted root written natively (idmapped layers, a chowned
        // copy): the upper holds the container's ids; the layer gets the
        // image's, as containers/storage maps them back.
        if let (Some(shift), Some((method, _))) = (
            store.container_id_shift(&c.id),
            store.container_id_shift_method(&c.id),
        ) && method.upper_has_container_ids()
        {
            w = w.with_owners(move |u, g| {
                (
                    shift.unmap_uid(u).unwrap_or(u),
                    shift.unmap_gid(g).unwrap_or(g),
                )
            });
        }
        let mut written: std::collections::HashSet<Vec<u8>> = Default::default();
        for (path, kind) in &found {
            // Every ancestor goes first, with the container's metadata:
            // a directory the extractor made up would hide the image's
            // mode and owner in the merged view.
            let parts = inroot::split(path);
            for depth in 1..parts.len() {
                let anc = parts[..depth].join(&b'/');
                if written.insert(anc.clone()) {
                    let dir = inroot::open_dir(upper, &parts[..depth - 1])?;
                    w.add_entry(dir.as_fd(), &parts[depth - 1], &anc)?;
                }
            }
            let Some((leaf, parent)) = parts.split_last() else {
                continue;
            };
            match kind {
                Kind::Deleted => w.add_whiteout(path)?,
                Kind::Added | Kind::Changed => {
                    if written.insert(path.clone()) {
                        let dir = inroot::open_dir(upper, parent)?;
                        w.add_entry(dir.as_fd(), leaf, path)?;
                    }
                }
            }
        }
        w.finish()?.flush()
    })();
    written.context("writing the container's changes")
}
