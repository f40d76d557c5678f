//! `history`: the image config's history entries, newest first, each with
//! the size of the layer it made (empty layers have none).

use crate::engine::Result;
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use serde_json::{Value, json};

use super::config;
use crate::host::time;

/// One history entry, typed (the REST API shapes these as Docker's).
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The image's short id for the top entry, `<missing>` below it.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    /// The image's names, on the top entry only.
    pub tags: Option<Vec<String>>,
}

/// The entries, newest first.
pub fn entries(store: &Store, image: &ImageRecord) -> Result<Vec<HistoryEntry>> {
    let cfg = config(store, image)?;
    let history = cfg["history"].as_array().cloned().unwrap_or_default();
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
    let last = history.len().saturating_sub(1);
    for (i, h) in history.iter().enumerate() {
        let empty = h["empty_layer"].as_bool().unwrap_or(false);
        let size = if empty { 0 } else { sizes.next().unwrap_or(0) };
        let created = h["created"]
            .as_str()
            .and_then(time::parse_rfc3339)
            .unwrap_or(0);
        // Only the top entry carries the image id, as Podman shows it.
        let top = i == last;
        rows.push(HistoryEntry {
            id: if top {
                image.id.short().to_owned()
            } else {
                "<missing>".to_owned()
            },
            created,
            created_by: h["created_by"].as_str().unwrap_or("").to_owned(),
            size,
            comment: h["comment"].as_str().unwrap_or("").to_owned(),
            tags: top.then(|| image.names.clone()),
        });
    }
    rows.reverse();
    Ok(rows)
}

/// The CLI's rows: sizes and times for people.
pub fn history(store: &Store, image: &ImageRecord, now: i64) -> Result<Vec<Value>> {
    Ok(entries(store, image)?
        .into_iter()
        .map(|e| {
            json!({
                "ID": e.id,
                "Created": time::rfc3339(e.created),
                "CreatedSince": time::ago(e.created, now),
                "CreatedBy": e.created_by,
                "Size": time::human_size(e.size),
                "Comment": e.comment,
                "Tags": e.tags,
            })
        })
        .collect())
}
