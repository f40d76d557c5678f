//! `POST /libpod/containers/{id}/checkpoint` and `.../restore`: the
//! engine's checkpoint and restore (the CLI's), for `podman --remote` and
//! hutch's remote client. `export=true` sends the checkpoint archive back
//! as the body; `import=true` takes one as the body (the `{id}` is then
//! ignored, as Podman's route does). The archive passes through a file of
//! the service's own beside the store, removed when the call ends.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::archive::MAX_ARCHIVE_BYTES;
use super::containers::{blocking, flag, open};
use super::libpod_containers::bad;
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Shared, held_stream};
use crate::engine::container::checkpoint::{self, CheckpointOptions, CheckpointReport};
use crate::engine::container::checkpoint_archive::Compression;
use crate::engine::container::restore::{self, RestoreOptions};
use crate::engine::container::select::Selection;
use crate::engine::image;

type Q = Query<HashMap<String, String>>;

const LP: ApiVersion = ApiVersion::Libpod;

/// Bytes read from the exported archive at once.
const CHUNK: usize = 64 * 1024;

/// A file of this call's beside the store; removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(ctx: &crate::config::Context) -> Result<Scratch, ApiError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let store = image::open_store(ctx).map_err(|e| ApiError::from_engine(&e, LP))?;
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Scratch(store.root().join(format!(
            "api-checkpoint-{}-{n}.tar",
            std::process::id()
        ))))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Podman's report for one container (`entities.CheckpointReport` or
/// `RestoreReport`): `{"Id", "runtime_checkpoint_duration" |
/// "runtime_restore_duration", "criu_statistics"}`; the error as the
/// API's when the engine gave one.
fn report(mut reports: Vec<CheckpointReport>, restore: bool) -> Result<Value, ApiError> {
    let Some(r) = reports.pop() else {
        return Err(bad("no container selected"));
    };
    if let Some(e) = r.error {
        return Err(ApiError::from_engine(&e, LP));
    }
    let stats = r.stats.unwrap_or_default();
    let (key, took) = match restore {
        false => ("runtime_checkpoint_duration", stats.checkpoint_us),
        true => ("runtime_restore_duration", stats.restore_us),
    };
    Ok(json!({
        "Id": r.id,
        key: took.unwrap_or(0),
        "criu_statistics": stats.criu_statistics,
    }))
}

/// A string parameter, empty as absent.
fn text(q: &HashMap<String, String>, key: &str) -> Option<String> {
    q.get(key).filter(|v| !v.is_empty()).cloned()
}

/// `POST /libpod/containers/{id}/checkpoint?keep=&leaveRunning=&
/// tcpEstablished=&export=&compression=&fileLocks=&ignoreRootfs=&
/// ignoreVolumes=&preCheckpoint=&withPrevious=&createImage=&printStats=`
/// (the statistics are always in the report; `printStats` is accepted).
pub async fn checkpoint(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let export = flag(&q, "export", LP)?;
    let compress = match q.get("compression").filter(|c| !c.is_empty()) {
        Some(c) => Compression::parse(c).map_err(|e| bad(e.to_string()))?,
        // Podman's default.
        None => Compression::parse("zstd").map_err(|e| bad(e.to_string()))?,
    };
    let scratch = match export {
        true => Some(Scratch::new(&shared.ctx)?),
        false => None,
    };
    let opts = CheckpointOptions {
        select: Selection {
            names: vec![id],
            all: false,
            latest: false,
        },
        keep: flag(&q, "keep", LP)?,
        leave_running: flag(&q, "leaveRunning", LP)?,
        tcp_established: flag(&q, "tcpEstablished", LP)?,
        file_locks: flag(&q, "fileLocks", LP)?,
        pre_checkpoint: flag(&q, "preCheckpoint", LP)?,
        with_previous: flag(&q, "withPrevious", LP)?,
        export: scratch.as_ref().map(|s| s.0.clone()),
        compress,
        ignore_rootfs: flag(&q, "ignoreRootfs", LP)?,
        ignore_volumes: flag(&q, "ignoreVolumes", LP)?,
        create_image: text(&q, "createImage"),
    };
    let _ = flag(&q, "printStats", LP)?;
    let ctx = shared.ctx.clone();
    let reports = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        checkpoint::checkpoint(&ctx, &store, &state, &opts)
    })
    .await?;
    let v = report(reports, false)?;
    let Some(scratch) = scratch else {
        return Ok(axum::Json(v).into_response());
    };
    // The archive, streamed from the file; the file goes with the stream.
    let file = std::fs::File::open(&scratch.0).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("opening the exported checkpoint: {e}"),
            LP,
        )
    })?;
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let _scratch = scratch;
        let mut file = file;
        let mut buf = vec![0u8; CHUNK];
        loop {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(held_stream(&shared, rx)));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(resp)
}

/// `POST /libpod/containers/{id}/restore?keep=&tcpEstablished=&import=&
/// name=&ignoreStaticIP=&ignoreStaticMAC=&fileLocks=&ignoreRootfs=&
/// ignoreVolumes=&pod=&publishPorts=&printStats=`, the archive as the body
/// with `import`. `{id}` may name a checkpoint image.
pub async fn restore(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    req: Request,
) -> Result<Response, ApiError> {
    let q: HashMap<String, String> = pairs.iter().cloned().collect();
    let import = flag(&q, "import", LP)?;
    let name = q.get("name").filter(|n| !n.is_empty()).cloned();
    let scratch = match import {
        true => {
            let s = Scratch::new(&shared.ctx)?;
            let file = std::fs::File::create(&s.0).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("storing the checkpoint archive: {e}"),
                    LP,
                )
            })?;
            // The body to the file as it arrives, written by a blocking
            // thread.
            let (tx, mut rx) = mpsc::channel::<Bytes>(8);
            let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                use std::io::Write as _;
                let mut file = file;
                while let Some(b) = rx.blocking_recv() {
                    file.write_all(&b)?;
                }
                file.flush()
            });
            let mut body = req.into_body().into_data_stream();
            let mut total: u64 = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| bad(format!("reading the archive: {e}")))?;
                total += chunk.len() as u64;
                if total > MAX_ARCHIVE_BYTES {
                    return Err(bad(format!(
                        "the archive is larger than {MAX_ARCHIVE_BYTES} bytes"
                    )));
                }
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
            drop(tx);
            let stored = writer
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            if let Err(e) = stored {
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("storing the checkpoint archive: {e}"),
                    LP,
                ));
            }
            Some(s)
        }
        false => None,
    };
    // `publishPorts`, repeated or comma-separated (Podman's binding sends
    // one parameter per port).
    let publish = pairs
        .iter()
        .filter(|(k, _)| k == "publishPorts")
        .flat_map(|(_, p)| p.split(','))
        .filter(|p| !p.is_empty())
        .map(hutch_rootless_net::PortMapping::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let opts = RestoreOptions {
        select: Selection {
            names: if import { Vec::new() } else { vec![id] },
            all: false,
            latest: false,
        },
        keep: flag(&q, "keep", LP)?,
        tcp_established: flag(&q, "tcpEstablished", LP)?,
        file_locks: flag(&q, "fileLocks", LP)?,
        import: scratch.as_ref().map(|s| s.0.clone()),
        import_previous: None,
        name,
        publish,
        pod: text(&q, "pod"),
        ignore_rootfs: flag(&q, "ignoreRootfs", LP)?,
        ignore_volumes: flag(&q, "ignoreVolumes", LP)?,
        ignore_static_ip: flag(&q, "ignoreStaticIP", LP)?,
        ignore_static_mac: flag(&q, "ignoreStaticMAC", LP)?,
    };
    let ctx = shared.ctx.clone();
    let reports = blocking(LP, move || {
        let _scratch = scratch;
        let (store, state) = open(&ctx)?;
        restore::restore(&ctx, &store, &state, &opts)
    })
    .await?;
    let _ = flag(&q, "printStats", LP)?;
    Ok(axum::Json(report(reports, true)?).into_response())
}
