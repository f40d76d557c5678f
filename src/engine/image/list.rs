//! `images`: one row per name (or one `<none>` row), as Podman lists them,
//! with its filters.

use crate::engine::{Error, Result};
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use serde_json::{Value, json};

use super::config;
use crate::host::time;
use crate::image::reference;

#[derive(Debug, Default, Clone)]
pub struct ListRequest {
    /// `--filter` values, `key=value`.
    pub filters: Vec<String>,
    /// A positional name filter (`hutch images busybox`).
    pub name: Option<String>,
}

/// One image as listings need it.
pub struct Listed {
    pub record: ImageRecord,
    pub created: i64,
    pub labels: Value,
    /// From an additional (read-only) image store.
    pub read_only: bool,
}

enum Filter {
    Reference(String),
    Dangling(bool),
    Label(String, Option<String>),
    Before(i64),
    Since(i64),
    Id(String),
}

pub fn list(store: &Store, req: &ListRequest) -> Result<Vec<Listed>> {
    let records = store.all_images()?;
    let created_of = |r: &ImageRecord| -> (i64, Value) {
        let cfg = config(store, r).unwrap_or(Value::Null);
        let created = cfg["created"]
            .as_str()
            .and_then(time::parse_rfc3339)
            .unwrap_or(r.stored_at);
        (created, cfg["config"]["Labels"].clone())
    };
    let mut filters = Vec::new();
    for f in &req.filters {
        filters.push(parse_filter(f, |name| {
            let img = super::lookup(store, name).ok()?;
            Some(created_of(&img).0)
        })?);
    }
    if let Some(n) = &req.name {
        filters.push(Filter::Reference(n.clone()));
    }
    let mut out: Vec<Listed> = records
        .into_iter()
        .map(|(record, read_only)| {
            let (created, labels) = created_of(&record);
            Listed {
                record,
                created,
                labels,
                read_only,
            }
        })
        .filter(|l| filters.iter().all(|f| matches(f, l)))
        .collect();
    out.sort_by_key(|l| std::cmp::Reverse(l.created));
    Ok(out)
}

fn parse_filter(f: &str, created_of: impl Fn(&str) -> Option<i64>) -> Result<Filter> {
    let Some((key, value)) = f.split_once('=') else {
        crate::fail!(BadInput, "invalid filter {f:?}: expected key=value");
    };
    Ok(match key {
        "reference" => Filter::Reference(value.to_owned()),
        "dangling" => match value {
            "true" | "1" => Filter::Dangling(true),
            "false" | "0" => Filter::Dangling(false),
            _ => crate::fail!(
                BadInput,
                "invalid filter {f:?}: dangling takes true or false"
            ),
        },
        "label" => match value.split_once('=') {
            Some((k, v)) => Filter::Label(k.to_owned(), Some(v.to_owned())),
            None => Filter::Label(value.to_owned(), None),
        },
        "before" => Filter::Before(
            created_of(value)
                .ok_or_else(|| Error::not_found(format!("{value}: image not known")))?,
        ),
        "since" => Filter::Since(
            created_of(value)
                .ok_or_else(|| Error::not_found(format!("{value}: image not known")))?,
        ),
        "id" => Filter::Id(value.trim_start_matches("sha256:").to_owned()),
        other => crate::fail!(
            BadInput,
            "invalid filter {f:?}: {other} is not one of reference, dangling, label, before, since, id"
        ),
    })
}

fn matches(f: &Filter, l: &Listed) -> bool {
    match f {
        Filter::Reference(r) => l.record.names.iter().any(|n| reference_matches(r, n)),
        Filter::Dangling(d) => l.record.names.is_empty() == *d,
        Filter::Label(k, v) => match (&l.labels[k.as_str()], v) {
            (Value::String(have), Some(want)) => have == want,
            (Value::String(_), None) => true,
            _ => false,
        },
        Filter::Before(t) => l.created < *t,
        Filter::Since(t) => l.created > *t,
        Filter::Id(prefix) => l.record.id.hex().starts_with(prefix.as_str()),
    }
}

/// `reference=` accepts a name as `matches_stored_name` does, or a glob on
/// the repository (`localhost/*`).
/// Whether a stored name passes `reference=pattern` (exact, or a `*`
/// prefix).
pub fn reference_matches(pattern: &str, stored: &str) -> bool {
    if reference::matches_stored_name(pattern, stored) {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        // `other/*` matches `docker.io/other/name` too: the name without
        // its registry, as people write it.
        let path = stored
            .split_once('/')
            .filter(|(host, _)| host.contains(['.', ':']) || *host == "localhost")
            .map_or(stored, |(_, rest)| rest);
        return stored.starts_with(prefix)
            || path.starts_with(prefix)
            || stored
                .split('/')
                .next_back()
                .is_some_and(|s| s.starts_with(prefix));
    }
    false
}

/// Splits a stored name into repository and tag.
pub fn repo_tag(name: &str) -> (String, String) {
    let name = name.split('@').next().unwrap_or(name);
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (name[..i].to_owned(), name[i + 1..].to_owned()),
        _ => (name.to_owned(), "latest".to_owned()),
    }
}

/// The view `--format` templates read for one row (Podman's field names).
pub fn row_view(l: &Listed, name: Option<&str>, now: i64) -> Value {
    let (repo, tag) = name
        .map(repo_tag)
        .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
    json!({
        "ID": l.record.id.short(),
        "Id": l.record.id.hex(),
        "Repository": repo,
        "Tag": tag,
        "Digest": l.record.digest.to_string(),
        "Created": l.created,
        "CreatedAt": time::rfc3339(l.created),
        "CreatedSince": time::ago(l.created, now),
        "Size": time::human_size(l.record.size),
        "VirtualSize": l.record.size,
        "Names": l.record.names,
        "Labels": l.labels,
        "Dangling": l.record.names.is_empty(),
        "Containers": 0,
        "ReadOnly": l.read_only,
    })
}

/// One image as `images --format json` prints it (Podman's keys and types:
/// sizes are numbers, one object per image with all its names).
pub fn json_view(l: &Listed) -> Value {
    let repo_digests: Vec<String> = l
        .record
        .names
        .iter()
        .map(|n| format!("{}@{}", repo_tag(n).0, l.record.digest))
        .collect();
    json!({
        "Id": l.record.id.hex(),
        "ParentId": "",
        "RepoTags": if l.record.names.is_empty() { Value::Null } else { json!(l.record.names) },
        "RepoDigests": repo_digests,
        "Size": l.record.size,
        "SharedSize": 0,
        "VirtualSize": l.record.size,
        "Labels": l.labels,
        "Containers": 0,
        "ReadOnly": l.read_only,
        "Names": l.record.names,
        "Digest": l.record.digest.to_string(),
        "Created": l.created,
        "CreatedAt": time::rfc3339(l.created),
        // The names the image has had; hutch keeps the current ones.
        "History": l.record.names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_repository_and_tag() {
        assert_eq!(
            repo_tag("localhost/busybox:latest"),
            ("localhost/busybox".into(), "latest".into())
        );
        assert_eq!(
            repo_tag("localhost:5000/a/b:v1"),
            ("localhost:5000/a/b".into(), "v1".into())
        );
        assert_eq!(
            repo_tag("localhost:5000/a/b"),
            ("localhost:5000/a/b".into(), "latest".into())
        );
    }
}
