//! Docker's image routes on the local store: inspect, history, tag,
//! delete, save (`get`), load and prune. Image names hold slashes
//! (`127.0.0.1:5000/team/app`), which a path parameter cannot match, so
//! `/images/{name...}/{action}` is one catch-all route split here.

use std::collections::HashMap;
use std::io::{Read, Write};

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::containers::{blocking, filters, flag};
use super::images_registry;
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Shared, held_stream};
use crate::engine::image::{self, history, prune, remove, transfer};
use crate::engine::{self, Error};
use hutch_storage::images::ImageRecord;

/// The largest archive `POST /images/load` reads (a docker-archive of an
/// image a user would load by hand; the archive is streamed, not held).
pub const MAX_LOAD_BYTES: u64 = transfer::MAX_ARCHIVE_BYTES;

/// Chunks in flight between the request body and the archive reader, and
/// between the archive writer and a slow client of `get`.
const ARCHIVE_QUEUE: usize = 8;

fn bad(flavor: ApiVersion, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message, flavor)
}

fn not_found(flavor: ApiVersion) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "page not found", flavor)
}

/// `/images/{name}/json|history|get|push|tag` and `DELETE /images/{name}`.
pub async fn by_name(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    method: Method,
    headers: HeaderMap,
    Path(rest): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if method == Method::DELETE {
        return delete(shared, flavor, rest, &q).await;
    }
    let Some((name, action)) = rest.rsplit_once('/') else {
        return Err(not_found(flavor));
    };
    let name = name.to_owned();
    match (method, action) {
        (Method::GET, "json") => inspect(shared, flavor, name).await,
        (Method::GET, "history") => history_of(shared, flavor, name).await,
        (Method::GET, "get") => save(shared, flavor, vec![name]).await,
        (Method::POST, "tag") => tag(shared, flavor, name, &q).await,
        (Method::POST, "push") => images_registry::push(shared, flavor, &headers, name, &q).await,
        _ => Err(not_found(flavor)),
    }
}

/// Looks an image up. An unknown one is a 404 saying "No such image",
/// dockerd's words, which the Docker SDKs read to tell a missing image
/// (`ImageNotFound`) from other missing things.
pub(super) fn find(store: &hutch_storage::Store, name: &str) -> engine::Result<ImageRecord> {
    match image::lookup(store, name) {
        Err(image::LookupError::NotKnown(_)) => {
            crate::fail!(NotFound, "No such image: {name}")
        }
        other => Ok(other?),
    }
}

async fn inspect(shared: Shared, flavor: ApiVersion, name: String) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(flavor, move || {
        let store = image::open_store(&ctx)?;
        let record = find(&store, &name)?;
        let v = image::inspect::inspect(&store, &record)?;
        Ok(docker_inspect(v))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// The engine's (Podman's) inspect document with Docker's spellings.
fn docker_inspect(mut v: Value) -> Value {
    if let Some(id) = v["Id"].as_str() {
        v["Id"] = json!(format!("sha256:{id}"));
    }
    v["Container"] = json!("");
    v["ContainerConfig"] = json!({});
    v["DockerVersion"] = v["Version"].clone();
    v["Metadata"] = json!({"LastTagTime": "0001-01-01T00:00:00Z"});
    if let Some(o) = v.as_object_mut() {
        for k in [
            "Digest",
            "Version",
            "Labels",
            "Annotations",
            "ManifestType",
            "User",
            "History",
            "NamesHistory",
        ] {
            o.remove(k);
        }
    }
    v
}

async fn history_of(
    shared: Shared,
    flavor: ApiVersion,
    name: String,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let rows = blocking(flavor, move || {
        let store = image::open_store(&ctx)?;
        let record = find(&store, &name)?;
        history_rows(&store, &record, format!("sha256:{}", record.id.hex()))
    })
    .await?;
    Ok(axum::Json(rows).into_response())
}

/// Docker's `HistoryResponseItem`s, newest first: the tagged (top) entry
/// shows `top_id`, the others their layer's id or `<missing>`.
pub(super) fn history_rows(
    store: &hutch_storage::Store,
    record: &ImageRecord,
    top_id: String,
) -> engine::Result<Vec<Value>> {
    Ok(history::entries(store, record)?
        .into_iter()
        .map(|e| {
            json!({
                "Id": if e.tags.is_some() { top_id.clone() } else { e.id },
                "Created": e.created,
                "CreatedBy": e.created_by,
                "Tags": e.tags,
                "Size": e.size,
                "Comment": e.comment,
            })
        })
        .collect())
}

/// `POST /images/{name}/tag?repo=&tag=`: 201.
async fn tag(
    shared: Shared,
    flavor: ApiVersion,
    name: String,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let repo = q
        .get("repo")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| bad(flavor, "repo is required"))?;
    let target = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.clone(),
    };
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let store = image::open_store(&ctx)?;
        let record = find(&store, &name)?;
        image::tag(&store, &record, &target)
    })
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE /images/{name}?force=&noprune=`: Docker's list of what was
/// untagged and deleted. 404 for an unknown image, 409 for one in use or
/// named by an id with several names (without `force`).
async fn delete(
    shared: Shared,
    flavor: ApiVersion,
    name: String,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let force = flag(q, "force", flavor)?;
    // `noprune` keeps untagged parents; images here have none to prune.
    flag(q, "noprune", flavor)?;
    let ctx = shared.ctx.clone();
    let shown = name.clone();
    let report = blocking(flavor, move || {
        let store = image::open_store(&ctx)?;
        remove::remove(&store, &[name], force, false)
    })
    .await?;
    if let Some(message) = report.errors.first() {
        if report.exit_code == 1 && message.ends_with("image not known") {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("No such image: {shown}"),
                flavor,
            ));
        }
        let status = match report.exit_code {
            1 => StatusCode::NOT_FOUND,
            2 | 125 => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        return Err(ApiError::new(status, message.clone(), flavor));
    }
    let mut out: Vec<Value> = report
        .untagged
        .iter()
        .map(|n| json!({"Untagged": n}))
        .collect();
    out.extend(
        report
            .deleted
            .iter()
            .map(|d| json!({"Deleted": format!("sha256:{d}")})),
    );
    Ok(axum::Json(out).into_response())
}

/// `GET /images/get?names=A&names=B`: several images in one archive.
pub async fn save_many(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let names: Vec<String> = q
        .into_iter()
        .filter(|(k, v)| k == "names" && !v.is_empty())
        .map(|(_, v)| v)
        .collect();
    if names.is_empty() {
        return Err(bad(flavor, "names is required"));
    }
    save(shared, flavor, names).await
}

/// A `Write` that feeds a response body from a blocking task.
pub(super) struct BodyWriter(pub(super) tokio::sync::mpsc::Sender<Bytes>);

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the images as a docker-archive (what `docker save` reads), each
/// under the name it was asked by when that was a name. Unknown images
/// are a 404 before the archive starts; a failure after that ends it
/// early (the client sees a truncated tar).
async fn save(
    shared: Shared,
    flavor: ApiVersion,
    names: Vec<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let images = blocking(flavor, move || {
        let store = image::open_store(&ctx)?;
        names
            .iter()
            .map(|n| {
                let record = find(&store, n)?;
                let named: Vec<String> = record
                    .names
                    .iter()
                    .filter(|stored| crate::image::reference::matches_stored_name(n, stored))
                    .cloned()
                    .collect();
                Ok((record, named))
            })
            .collect::<engine::Result<Vec<_>>>()
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(ARCHIVE_QUEUE);
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(256 << 10, BodyWriter(tx));
        let result = image::open_store(&ctx).and_then(|store| {
            transfer::save(
                &store,
                &images,
                transfer::SaveFormat::DockerArchive,
                Some(&mut out),
                None,
            )
        });
        if let Err(e) = result.and_then(|()| out.flush().map_err(Error::from)) {
            tracing::warn!("saving images: {}", e.text());
        }
    });
    let body = held_stream(&shared, rx);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(body),
    )
        .into_response())
}

/// A `Read` over the request body, fed by the async side.
pub(super) struct BodyReader {
    pub(super) rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    pub(super) chunk: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// Runs `work` on a blocking thread with the request body as its reader,
/// at most [`MAX_LOAD_BYTES`] of it (load, import and build read their
/// archives through it); a truncated or malformed body is the client's
/// error (400).
pub(super) async fn with_body<T: Send + 'static>(
    flavor: ApiVersion,
    body: Body,
    work: impl FnOnce(BodyReader) -> engine::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(ARCHIVE_QUEUE);
    let working = blocking(flavor, move || {
        work(BodyReader {
            rx,
            chunk: Bytes::new(),
        })
    });
    let feeding = async move {
        let mut stream = body.into_data_stream();
        let mut total: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let item = match chunk {
                Ok(c) => {
                    total += c.len() as u64;
                    if total > MAX_LOAD_BYTES {
                        Err(format!("the archive is larger than {MAX_LOAD_BYTES} bytes"))
                    } else {
                        Ok(c)
                    }
                }
                Err(e) => Err(format!("reading the request body: {e}")),
            };
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    };
    let (done, ()) = tokio::join!(working, feeding);
    done.map_err(|mut e| {
        if e.status == StatusCode::INTERNAL_SERVER_ERROR {
            e.status = StatusCode::BAD_REQUEST;
        }
        e
    })
}

/// `POST /images/load?quiet=`: a docker-archive or oci-archive body of at
/// most [`MAX_LOAD_BYTES`], streamed into the store. Answers once every
/// image is stored, with Docker's `{"stream": "Loaded image: ..."}` lines.
pub async fn load(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let loaded = with_body(flavor, body, move |reader| {
        let store = image::open_store(&ctx)?;
        transfer::load(&store, std::io::BufReader::new(reader), "the request body")
    })
    .await?;
    let mut text = String::new();
    for record in &loaded {
        let line = if record.names.is_empty() {
            format!("Loaded image ID: sha256:{}\n", record.id.hex())
        } else {
            record
                .names
                .iter()
                .map(|n| format!("Loaded image: {n}\n"))
                .collect()
        };
        text.push_str(&json!({ "stream": line }).to_string());
        text.push('\n');
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

/// `POST /images/prune?filters=`: unused untagged images, or every unused
/// one with `dangling=false`.
pub async fn prune_images(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut all = false;
    for f in filters(&q, flavor)? {
        match f.split_once('=') {
            Some(("dangling", v)) => {
                all = matches!(v, "false" | "0");
            }
            _ => return Err(bad(flavor, format!("invalid filter {f:?} for image prune"))),
        }
    }
    let ctx = shared.ctx.clone();
    let (removed, sizes) = blocking(flavor, move || {
        let store = image::open_store(&ctx)?;
        let sizes: HashMap<String, u64> = store
            .images
            .list()?
            .into_iter()
            .map(|i| (i.id.hex().to_owned(), i.size))
            .collect();
        let removed = prune::prune(
            &store,
            &prune::ImagePruneOptions {
                all,
                ..Default::default()
            },
        )?;
        Ok((removed, sizes))
    })
    .await?;
    let reclaimed: u64 = removed.iter().filter_map(|id| sizes.get(id)).sum();
    let deleted: Vec<Value> = removed
        .iter()
        .map(|id| json!({"Deleted": format!("sha256:{id}")}))
        .collect();
    Ok(axum::Json(json!({
        "ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
        "SpaceReclaimed": reclaimed,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_in_dockers_shape() {
        let v = docker_inspect(json!({
            "Id": "ab12", "Digest": "sha256:x", "Version": "20.10", "History": [],
            "RepoTags": ["a:b"],
        }));
        assert_eq!(v["Id"], "sha256:ab12");
        assert_eq!(v["DockerVersion"], "20.10");
        assert_eq!(v["RepoTags"][0], "a:b");
        assert!(v.get("Digest").is_none() && v.get("History").is_none());
    }
}
