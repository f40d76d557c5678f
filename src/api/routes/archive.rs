//! `docker cp`: `HEAD|GET|PUT /containers/{id}/archive?path=`. HEAD and GET
//! carry the path's stat in `X-Docker-Container-Path-Stat` (base64 JSON);
//! GET streams a tar of the path, PUT extracts a tar into a directory of
//! the container. Both are the engine's `cp` (the CLI's): the source tree
//! written as a tar by one thread, the destination applied by the storage
//! crate's extractor, which never writes outside the resolved directory
//! (absolute names, `..`, symlinked parents, hard links out).
//!
//! Streams are never buffered whole: GET sends the tar as it is written,
//! PUT feeds the body to the extractor as it arrives, up to
//! [`MAX_ARCHIVE_BYTES`].

use std::collections::HashMap;
use std::io::{self, Read, Write};

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::StreamExt as _;
use serde_json::json;
use tokio::sync::mpsc;

use super::containers::{blocking, flag, open};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Shared, held_stream};
use crate::engine;
use crate::engine::container::copy::{self, CopyRequest, Location};
use crate::engine::container::inspect::rfc3339_nano;
use crate::engine::container::path_stat::{self, PathStat};

type Q = Query<HashMap<String, String>>;

/// The largest archive PUT accepts (a `docker cp` into a container); the
/// disk is the real limit, this one stops a runaway client.
pub const MAX_ARCHIVE_BYTES: u64 = 16 << 30;

/// Tar bytes gathered before a chunk goes to the client.
const CHUNK: usize = 64 * 1024;

/// Chunks queued between the tar writer (or the body) and the other side.
const QUEUE: usize = 8;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn path_of(q: &HashMap<String, String>, flavor: ApiVersion) -> Result<String, ApiError> {
    match q.get("path").filter(|p| !p.is_empty()) {
        Some(p) => Ok(p.clone()),
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad parameter: path cannot be empty",
            flavor,
        )),
    }
}

fn stat_header(s: &PathStat) -> Option<HeaderValue> {
    let v = json!({
        "name": s.name,
        "size": s.size,
        "mode": s.mode,
        "mtime": rfc3339_nano(Some(s.mtime_ns)),
        "linkTarget": s.link_target,
    });
    let b64 = base64::engine::general_purpose::STANDARD.encode(v.to_string());
    HeaderValue::from_str(&b64).ok()
}

async fn stat(
    shared: &Shared,
    flavor: ApiVersion,
    id: String,
    path: String,
) -> Result<PathStat, ApiError> {
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let c = state.container(&id)?;
        match path_stat::stat(&store, &state, &c, &path) {
            // libpod clients (hutch's remote `cp`) print Podman's words,
            // the local `cp`'s.
            Err(e) if flavor == ApiVersion::Libpod && e.kind() == engine::ErrorKind::NotFound => {
                Err(engine::Error::not_found(format!(
                    "{path:?} could not be found on container {}: no such file or directory",
                    c.name
                )))
            }
            other => other,
        }
    })
    .await
}

/// Podman's stat names the path's absolute target for every path, not
/// only symlinks, and its client copies from there: given for a libpod
/// request when the path is absolute.
fn libpod_target(mut s: PathStat, flavor: ApiVersion, path: &str) -> PathStat {
    if flavor == ApiVersion::Libpod && s.link_target.is_empty() && path.starts_with('/') {
        let t = path.trim_end_matches('/');
        s.link_target = if t.is_empty() {
            "/".to_owned()
        } else {
            t.to_owned()
        };
    }
    s
}

fn with_stat(mut resp: Response, s: &PathStat) -> Response {
    if let Some(v) = stat_header(s) {
        resp.headers_mut().insert(STAT_HEADER, v);
    }
    resp
}

/// `HEAD /containers/{id}/archive?path=`: the stat alone.
pub async fn head(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let path = path_of(&q, flavor)?;
    let s = libpod_target(
        stat(&shared, flavor, id, path.clone()).await?,
        flavor,
        &path,
    );
    Ok(with_stat(StatusCode::OK.into_response(), &s))
}

/// Tar bytes to the response body, in chunks.
struct ToBody {
    buf: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
}

impl Write for ToBody {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client hung up"))
    }
}

/// `GET /containers/{id}/archive?path=`: the tar, streamed.
pub async fn get(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let path = path_of(&q, flavor)?;
    // Errors (not found...) as a status, before the stream starts.
    let s = stat(&shared, flavor, id.clone(), path.clone()).await?;
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let Ok((store, state)) = open(&ctx) else {
            return;
        };
        let req = CopyRequest {
            source: Location::Container {
                container: id,
                path,
            },
            dest: Location::Stream,
            archive: true,
            overwrite: false,
        };
        let mut out = ToBody {
            buf: Vec::with_capacity(CHUNK),
            tx,
        };
        // A failure mid-stream ends the body short: the client's tar
        // reader sees a truncated archive.
        if let Err(e) = copy::copy(
            &store,
            &state,
            ctx.rootless(),
            &req,
            &mut io::empty(),
            &mut out,
        ) {
            tracing::warn!("archive of {}: {e}", req_name(&req));
        }
    });
    let body = held_stream(&shared, rx);
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(with_stat(resp, &s))
}

fn req_name(r: &CopyRequest) -> String {
    match &r.source {
        Location::Container { container, path } => format!("{container}:{path}"),
        _ => String::new(),
    }
}

/// The request body as a blocking reader, up to [`MAX_ARCHIVE_BYTES`].
struct FromBody {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    cur: Bytes,
}

impl Read for FromBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`:
/// the tar extracted into directory `path`.
pub async fn put(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
    req: Request,
) -> Result<Response, ApiError> {
    let path = path_of(&q, flavor)?;
    let no_overwrite = flag(&q, "noOverwriteDirNonDir", flavor)?;
    // Docker's copyUIDGID keeps the archive's owners; without it the
    // files belong to the container's user (Podman's --archive).
    let keep_owners = flag(&q, "copyUIDGID", flavor)?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, String>>(QUEUE);
    let mut body = req.into_body().into_data_stream();
    tokio::spawn(async move {
        let mut total: u64 = 0;
        while let Some(chunk) = body.next().await {
            let item = match chunk {
                Ok(b) => {
                    total += b.len() as u64;
                    if total > MAX_ARCHIVE_BYTES {
                        Err(format!(
                            "the archive is larger than {MAX_ARCHIVE_BYTES} bytes"
                        ))
                    } else {
                        Ok(b)
                    }
                }
                Err(e) => Err(format!("reading the archive: {e}")),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    let ctx = shared.ctx.clone();
    blocking(flavor, move || -> engine::Result<()> {
        let (store, state) = open(&ctx)?;
        let req = CopyRequest {
            source: Location::Stream,
            dest: Location::Container {
                container: id,
                path,
            },
            archive: !keep_owners,
            overwrite: !no_overwrite,
        };
        let mut input = FromBody {
            rx,
            cur: Bytes::new(),
        };
        copy::copy(
            &store,
            &state,
            ctx.rootless(),
            &req,
            &mut input,
            &mut io::sink(),
        )
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}
