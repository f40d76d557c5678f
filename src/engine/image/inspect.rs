//! `image inspect`: Podman's JSON for one image.

use crate::engine::Result;
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use serde_json::{Value, json};

use super::config;
use crate::host::time;

pub fn inspect(store: &Store, image: &ImageRecord) -> Result<Value> {
    let cfg = config(store, image)?;
    let diff_ids = cfg["rootfs"]["diff_ids"].clone();
    let created = cfg["created"]
        .as_str()
        .and_then(time::parse_rfc3339)
        .unwrap_or(image.stored_at);
    // The manifest's annotations, as Podman shows them (`build --annotation`).
    let annotations = store
        .read_blob(&image.digest)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|m| m.get("annotations").filter(|a| a.is_object()).cloned())
        .unwrap_or_else(|| json!({}));
    let driver = store.driver().map(|c| c.driver.name()).unwrap_or("unknown");
    let repo_digests: Vec<String> = image
        .names
        .iter()
        .map(|n| format!("{}@{}", super::list::repo_tag(n).0, image.digest))
        .collect();
    let top = image
        .layers
        .last()
        .map(|l| store.layers.diff_dir(l).display().to_string());
    let lowers: Vec<String> = image
        .layers
        .iter()
        .rev()
        .skip(1)
        .map(|l| store.layers.diff_dir(l).display().to_string())
        .collect();
    Ok(json!({
        "Id": image.id.hex(),
        "Digest": image.digest.to_string(),
        "RepoTags": image.names,
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": cfg["history"].as_array().and_then(|h| h.last()).and_then(|h| h.get("comment")).cloned().unwrap_or(json!("")),
        "Created": time::rfc3339(created),
        "Config": cfg["config"],
        "Version": cfg["docker_version"].as_str().unwrap_or(""),
        "Author": cfg["author"].as_str().unwrap_or(""),
        "Architecture": cfg["architecture"],
        "Os": cfg["os"],
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Name": driver, "Data": {"UpperDir": top, "LowerDir": lowers.join(":")}},
        "RootFS": {"Type": "layers", "Layers": diff_ids},
        "Labels": cfg["config"]["Labels"],
        "Annotations": annotations,
        "ManifestType": image.manifest_media_type,
        "User": cfg["config"]["User"].as_str().unwrap_or(""),
        "History": cfg["history"],
        "NamesHistory": image.names,
    }))
}
