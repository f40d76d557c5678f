//! `POST /libpod/build`, as Podman 4.3.1's remote client calls it: the
//! build context as a tar body (the Containerfile inside it, named by
//! `dockerfile=`), the flags as query parameters; the build's output
//! streamed back as JSON lines (`{"stream": text}`), the image id last
//! (`{"stream": "ID\n"}`), or `{"error": text, "exitCode": code}`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::containers::flag;
use super::images_local::with_body;
use super::libpod_containers::{Pairs, bad};
use super::libpod_image_io::ScratchDir;
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Shared, held_stream};
use crate::engine::build::{self, BuildOptions};
use crate::engine::container::create::PullPolicy;
use crate::engine::{self, Error};

const LP: ApiVersion = ApiVersion::Libpod;

/// Lines of output in flight to a slow client.
const QUEUE: usize = 64;

/// The build's output as JSON lines; `fd` 2 (its stderr) is marked with
/// hutch's own `"fd": 2`, which other clients ignore (they print it with
/// the rest, as Podman's server sends everything as `stream`).
struct Lines {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    fd: u8,
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let text = String::from_utf8_lossy(buf);
        let v = if self.fd == 2 {
            json!({"stream": text, "fd": 2})
        } else {
            json!({ "stream": text })
        };
        self.tx
            .blocking_send(Bytes::from(format!("{v}\n")))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A JSON object of strings (`buildargs`, `labels`), as Podman's client
/// encodes a map in a query.
fn string_map(
    q: &HashMap<String, String>,
    key: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    match q.get(key).filter(|v| !v.is_empty()) {
        Some(v) => serde_json::from_str(v)
            .map_err(|e| bad(format!("{key}: a JSON object of strings: {e}"))),
        None => Ok(BTreeMap::new()),
    }
}

/// The Containerfile named by `dockerfile=` (a JSON list or one name),
/// read from the unpacked context; `Containerfile` or `Dockerfile` there
/// when none is named.
fn containerfile(context: &std::path::Path, named: Option<&String>) -> engine::Result<String> {
    let names: Vec<String> = match named.filter(|n| !n.is_empty()) {
        Some(n) if n.trim_start().starts_with('[') => serde_json::from_str(n)
            .map_err(|e| Error::bad_input(format!("dockerfile: a JSON list of names: {e}")))?,
        Some(n) => vec![n.clone()],
        None => Vec::new(),
    };
    let path = match names.first() {
        Some(n) => {
            // Inside the context only: the body is all the service has.
            let rel = std::path::Path::new(n);
            if rel.is_absolute()
                || rel
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(Error::bad_input(format!(
                    "dockerfile {n:?}: a path inside the build context"
                )));
            }
            context.join(rel)
        }
        None => ["Containerfile", "Dockerfile"]
            .iter()
            .map(|n| context.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::bad_input(
                    "no Containerfile or Dockerfile specified or found in the build context",
                )
            })?,
    };
    let limit = crate::image::build::containerfile::MAX_CONTAINERFILE as u64;
    let mut text = String::new();
    use std::io::Read as _;
    std::fs::File::open(&path)
        .and_then(|f| f.take(limit + 1).read_to_string(&mut text))
        .map_err(|e| Error::bad_input(format!("reading the Containerfile: {e}")))?;
    if text.len() as u64 > limit {
        return Err(Error::bad_input(format!(
            "the Containerfile is larger than {limit} bytes"
        )));
    }
    Ok(text)
}

/// `POST /libpod/build?dockerfile=&t=&buildargs=&target=&nocache=&layers=&q=&pull=&labels=`.
pub async fn build(
    State(shared): State<Shared>,
    Query(pairs): Pairs,
    body: Body,
) -> Result<Response, ApiError> {
    let tags: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "t" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let q: HashMap<String, String> = pairs.iter().cloned().collect();
    let build_args = string_map(&q, "buildargs")?;
    let labels = string_map(&q, "labels")?;
    let quiet = flag(&q, "q", LP)?;
    let no_cache = flag(&q, "nocache", LP)?;
    let layers = match q.get("layers").map(String::as_str) {
        None | Some("") => true,
        Some(_) => flag(&q, "layers", LP)?,
    };
    // Podman's client sends `pull=true` for --pull=always, and the policy
    // by name as `pullpolicy` too.
    let pull = match q.get("pullpolicy").filter(|p| !p.is_empty()) {
        Some(p) => {
            let lower = p.to_ascii_lowercase();
            PullPolicy::parse(lower.trim_start_matches("pull").trim_start_matches("if"))
                .ok_or_else(|| bad(format!("invalid pull policy {p:?}")))?
        }
        None if flag(&q, "pull", LP)? => PullPolicy::Always,
        None => PullPolicy::Missing,
    };
    let target = q.get("target").filter(|t| !t.is_empty()).cloned();
    let dockerfile = q.get("dockerfile").cloned();
    let ctx = shared.ctx.clone();
    let scratch_root = ctx.data_dir.join("tmp");
    // The context is unpacked before the answer starts: a bad tar is a 400.
    let (scratch, options) = with_body(LP, body, move |reader| {
        let scratch = ScratchDir::new(&scratch_root)?;
        let context = scratch.0.join("context");
        std::fs::create_dir(&context).map_err(Error::from)?;
        // Podman's client may send the context gzipped.
        let mut reader = std::io::BufReader::new(reader);
        let gzipped = std::io::BufRead::fill_buf(&mut reader)
            .map(|head| head.starts_with(&[0x1f, 0x8b]))
            .map_err(|e| Error::bad_input(format!("reading the build context: {e}")))?;
        let reader: Box<dyn std::io::Read> = if gzipped {
            Box::new(flate2::read::GzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        let mut tar = tar::Archive::new(reader);
        tar.set_preserve_permissions(true);
        tar.set_overwrite(true);
        tar.unpack(&context)
            .map_err(|e| Error::bad_input(format!("unpacking the build context: {e}")))?;
        let containerfile = containerfile(&context, dockerfile.as_ref())?;
        let ignore = [".containerignore", ".dockerignore"]
            .iter()
            .find_map(|n| std::fs::read_to_string(context.join(n)).ok())
            .unwrap_or_default();
        Ok((
            scratch,
            BuildOptions {
                containerfile,
                context,
                ignore,
                tags,
                build_args,
                target,
                no_cache,
                layers,
                labels: labels.into_iter().collect(),
                pull,
                quiet,
                rootless: ctx.rootless(),
                jobs: 1,
                ..BuildOptions::default()
            },
        ))
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let _scratch = scratch;
        let mut out = Lines {
            tx: tx.clone(),
            fd: 1,
        };
        let mut err = Lines {
            tx: tx.clone(),
            fd: 2,
        };
        let result = crate::engine::image::open_store(&ctx).and_then(|store| {
            let state = crate::engine::container::open_state(&ctx)?;
            build::build(&ctx, &store, &state, &options, &mut out, &mut err)
        });
        let last: Vec<Value> = match result {
            Ok(report) => {
                let id = report.image.id.hex().to_owned();
                // Podman's client takes the id from the last stream line
                // of 64 hex digits, and fails on any line with neither
                // `stream` nor `error` (no `aux` for libpod).
                vec![json!({"stream": format!("{id}\n")})]
            }
            // `exitCode` is hutch's own: a failed RUN's code, which the
            // local build exits with too.
            Err(e) => vec![json!({
                "error": e.text(), "errorDetail": {"message": e.text()},
                "exitCode": e.kind().exit_code(),
            })],
        };
        for v in last {
            if tx.blocking_send(Bytes::from(format!("{v}\n"))).is_err() {
                break;
            }
        }
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(held_stream(&shared, rx)),
    )
        .into_response())
}
