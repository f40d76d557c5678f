//! Images a build commits: the parent's layers (none for `scratch`), an
//! optional new layer, and the config the steps so far made.

use serde_json::{Value, json};

use crate::engine::{Error, Result, ResultExt};
use hutch_storage::images::ImageRecord;
use hutch_storage::store::LayerBlob;
use hutch_storage::{Digest, Store};

const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// The config a `FROM scratch` stage starts with.
pub fn scratch_config() -> Value {
    json!({
        "architecture": crate::image::registry::Platform::host().architecture,
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    })
}

/// The parent's manifest layer entries and blobs.
fn parent_layers(
    store: &Store,
    parent: Option<&ImageRecord>,
) -> Result<(Vec<Value>, Vec<LayerBlob>)> {
    let Some(parent) = parent else {
        return Ok((Vec::new(), Vec::new()));
    };
    let manifest: Value = serde_json::from_slice(
        &store
            .read_blob(&parent.digest)
            .with_context(|| format!("reading the manifest of image {}", parent.id.short()))?,
    )
    .context("parsing the image manifest")?;
    let entries = manifest["layers"].as_array().cloned().unwrap_or_default();
    let blobs = entries
        .iter()
        .filter_map(|l| {
            Some(LayerBlob {
                digest: l["digest"].as_str()?.parse().ok()?,
                media_type: l["mediaType"].as_str().unwrap_or(LAYER_TAR).to_owned(),
            })
        })
        .collect();
    Ok((entries, blobs))
}

/// Appends a history entry to `config`.
pub fn add_history(config: &mut Value, created_by: &str, empty_layer: bool) {
    let mut entry = json!({
        "created": config["created"].clone(),
        "created_by": created_by,
    });
    if empty_layer {
        entry["empty_layer"] = json!(true);
    }
    match config["history"].as_array_mut() {
        Some(h) => h.push(entry),
        None => config["history"] = json!([entry]),
    }
}

/// Stores an image: `parent`'s layers plus `layer` (an uncompressed tar
/// blob already in the store), with `config` (its diff_ids are extended
/// here). The caller holds the store's adding lock while the layer blob
/// has no image yet.
pub fn commit(
    store: &Store,
    parent: Option<&ImageRecord>,
    config: &mut Value,
    layer: Option<(Digest, u64)>,
    names: &[String],
) -> Result<ImageRecord> {
    commit_layers(store, parent, None, config, layer, names, &[])
}

/// [`commit`] with `keep` of the parent's layers only (all when `None`),
/// and manifest annotations.
pub fn commit_layers(
    store: &Store,
    parent: Option<&ImageRecord>,
    keep: Option<usize>,
    config: &mut Value,
    layer: Option<(Digest, u64)>,
    names: &[String],
    annotations: &[(String, String)],
) -> Result<ImageRecord> {
    let (mut entries, mut blobs) = parent_layers(store, parent)?;
    if let Some(n) = keep {
        entries.truncate(n);
        blobs.truncate(n);
        if let Some(ids) = config["rootfs"]["diff_ids"].as_array_mut() {
            ids.truncate(n);
        }
    }
    if let Some((digest, size)) = layer {
        let diff_ids = config["rootfs"]["diff_ids"]
            .as_array_mut()
            .ok_or_else(|| Error::internal("the image config has no rootfs.diff_ids"))?;
        diff_ids.push(json!(digest.to_string()));
        entries.push(json!({"mediaType": LAYER_TAR, "digest": digest.to_string(), "size": size}));
        blobs.push(LayerBlob {
            digest,
            media_type: LAYER_TAR.to_owned(),
        });
    }
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = store.blobs.put_bytes(&config_bytes, None)?;
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config_bytes.len()},
        "layers": entries,
    });
    if !annotations.is_empty() {
        manifest["annotations"] = annotations
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    let manifest_digest = store
        .blobs
        .put_bytes(&serde_json::to_vec(&manifest)?, None)?;
    store
        .commit_image(
            &manifest_digest,
            "application/vnd.oci.image.manifest.v1+json",
            &config_digest,
            &blobs,
            names,
        )
        .context("committing a build step")
}

/// Stores a tar stream written by `write` as a layer blob.
pub fn put_layer(
    store: &Store,
    write: impl FnOnce(std::io::PipeWriter) -> Result<()> + Send,
) -> Result<(Digest, u64)> {
    let (reader, writer) = std::io::pipe().context("creating a pipe")?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || write(writer));
        let stored = store.blobs.put(reader, None);
        let produced = producer
            .join()
            .map_err(|_| Error::internal("the layer writer panicked"))?;
        let stored = stored.context("storing the new layer")?;
        produced?;
        Ok(stored)
    })
}
