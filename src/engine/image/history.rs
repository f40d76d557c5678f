//! `history`: the image config's history entries, newest first, each with
//! the size of the layer it made (empty layers have none).

use crate::engine::Result;
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use serde_json::{Value, json};

use super::config;
use crate::host::time;

pub fn history(store: &Store, image: &ImageRecord, now: i64) -> Result<Vec<Value>> {
    let cfg = config(store, image)?;
    let entries = cfg["history"].as_array().cloned().unwrap_or_default();
    let mut sizes = image.layers.iter().map(|l| {
        store
            .layers
            .get(l)
            .ok()
            .flatten()
            .map(|r| r.size)
            .unwrap_or(0)
    });
    let mut rows = Vec::new();
    let last = entries.len().saturating_sub(1);
    for (i, h) in entries.iter().enumerate() {
        let empty = h["empty_layer"].as_bool().unwrap_or(false);
        let size = if empty { 0 } else { sizes.next().unwrap_or(0) };
        let created = h["created"]
            .as_str()
            .and_then(time::parse_rfc3339)
            .unwrap_or(0);
        // Only the top entry carries the image id, as Podman shows it.
        let id = if i == last {
            image.id.short().to_owned()
        } else {
            "<missing>".to_owned()
        };
        rows.push(json!({
            "ID": id,
            "Created": time::rfc3339(created),
            "CreatedSince": time::ago(created, now),
            "CreatedBy": h["created_by"].as_str().unwrap_or(""),
            "Size": time::human_size(size),
            "Comment": h["comment"].as_str().unwrap_or(""),
            "Tags": if i == last { json!(image.names) } else { json!(null) },
        }));
    }
    rows.reverse();
    Ok(rows)
}
