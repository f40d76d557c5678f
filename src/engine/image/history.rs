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

/// The CLI's rows ([`row`]'s), from the top entry down.
pub fn history(store: &Store, image: &ImageRecord, now: i64) -> Result<Vec<Value>> {
    Ok(entries(store, image)?
        .into_iter()
        .map(|e| {
            // The top entry (the one with the names) is the image.
            let id = if e.tags.is_some() {
                image.id.hex().to_owned()
            } else {
                e.id
            };
            row(&id, e.created, &e.created_by, e.size, &e.comment, now)
        })
        .collect())
}

/// One row of `history` as Podman's template sees it (`ID` short,
/// `Created` and `CreatedSince` for people, `CreatedAt` as Go prints a
/// time, `Tags` empty as podman 4.3.1 shows them), with the raw values
/// (`RawID`: full id or `<missing>`, `RawCreated`: Unix seconds,
/// `RawSize`: bytes) the front end needs for `--no-trunc`, `-H=false` and
/// the JSON.
pub fn row(id: &str, created: i64, created_by: &str, size: u64, comment: &str, now: i64) -> Value {
    json!({
        "ID": id.get(..12).filter(|_| id != "<missing>").unwrap_or(id),
        "Created": time::ago(created, now),
        "CreatedAt": go_time(created),
        "CreatedSince": time::ago(created, now),
        "CreatedBy": created_by,
        "Size": time::human_size(size),
        "Comment": comment,
        "Tags": [],
        "RawID": id,
        "RawCreated": created,
        "RawSize": size,
    })
}

/// Go's `time.Time.String()` of a UTC time: `2026-12-07 11:37:43 +0000 UTC`.
fn go_time(secs: i64) -> String {
    let t = time::rfc3339(secs);
    format!("{} {} +0000 UTC", &t[..10], &t[11..19])
}
