//! The libpod image routes Podman's remote client calls for `history`,
//! `save` (`get`, `export`), `load`, `import` and `untag`: the same engine
//! operations as the local commands, in the shapes Podman 4.3.1's
//! bindings decode.

use std::collections::HashMap;
use std::io::Write as _;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::containers::{blocking, flag};
use super::images_local::{BodyWriter, history_rows, with_body};
use super::libpod_containers::{Pairs, bad};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Shared, held_stream};
use crate::engine::image::{self, import, transfer};
use crate::engine::{self, Error};

const LP: ApiVersion = ApiVersion::Libpod;

/// Chunks in flight between a request body and the engine's reader, and
/// between an archive writer and a slow client.
const QUEUE: usize = 8;

/// `GET /libpod/images/{name}/history`: Podman serves libpod's history
/// with its compat handler, Docker's `HistoryResponseItem`s, newest first
/// (`Id` the image's full id on the top entry, `<missing>` below).
pub async fn history(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let rows = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let record = image::lookup(&store, &name)?;
        history_rows(&store, &record, record.id.hex().to_owned())
    })
    .await?;
    Ok(axum::Json(rows).into_response())
}

/// `GET /libpod/images/{name}/tree?whatrequires=`: `{"Tree": text}`,
/// the text `image tree` prints.
pub async fn tree(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let whatrequires = flag(&q, "whatrequires", LP)?;
    let ctx = shared.ctx.clone();
    let text = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let record = image::lookup(&store, &name)?;
        image::tree::text(&store, &record, whatrequires)
    })
    .await?;
    Ok(axum::Json(json!({ "Tree": text })).into_response())
}

/// `POST /libpod/images/{name}/untag?repo=&tag=`: 201. Without `repo`
/// every name goes, as `podman untag IMAGE` does.
pub async fn untag(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let names = match q.get("repo").filter(|r| !r.is_empty()) {
        None => Vec::new(),
        Some(repo) => match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => vec![format!("{repo}:{t}")],
            None => vec![repo.clone()],
        },
    };
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        image::untag(&store, &name, &names)
    })
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `GET /libpod/images/{name}/get?format=&compress=`: one image.
pub async fn get_one(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Pairs,
) -> Result<Response, ApiError> {
    save(shared, vec![name], &q).await
}

/// `GET /libpod/images/export?references=A&references=B&format=&compress=`:
/// several images in one archive (`podman --remote save A B`).
pub async fn export(State(shared): State<Shared>, Query(q): Pairs) -> Result<Response, ApiError> {
    let names: Vec<String> = q
        .iter()
        .filter(|(k, v)| k == "references" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    if names.is_empty() {
        return Err(bad("references is required"));
    }
    save(shared, names, &q).await
}

/// The archive of `names` in `format` (`docker-archive` by default). The
/// directory formats are written to a [`ScratchDir`] and sent as a
/// tar of it, which Podman's client unpacks into its `-o` directory.
/// Unknown images are a 404 before anything is sent; a failure after
/// that ends the body early.
async fn save(
    shared: Shared,
    names: Vec<String>,
    q: &[(String, String)],
) -> Result<Response, ApiError> {
    let get = |k: &str| {
        q.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let format_name = match get("format").as_str() {
        "" => "docker-archive".to_owned(),
        f => f.to_owned(),
    };
    let format =
        transfer::SaveFormat::parse(&format_name).map_err(|e| ApiError::from_engine(&e, LP))?;
    let ctx = shared.ctx.clone();
    let images = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        names
            .iter()
            .map(|n| transfer::lookup_for_save(&store, n))
            .collect::<engine::Result<Vec<_>>>()
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(256 << 10, BodyWriter(tx));
        let result = image::open_store(&ctx).and_then(|store| match format {
            transfer::SaveFormat::OciDir | transfer::SaveFormat::DockerDir => {
                let dir = ScratchDir::new(&ctx.data_dir.join("tmp"))?;
                let target = dir.0.join("out");
                transfer::save(&store, &images, format, None, Some(&target))?;
                let mut tar = tar::Builder::new(&mut out);
                tar.follow_symlinks(false);
                tar.append_dir_all(".", &target).map_err(Error::from)?;
                tar.finish().map_err(Error::from)
            }
            _ => transfer::save(&store, &images, format, Some(&mut out), None),
        });
        if let Err(e) = result.and_then(|()| out.flush().map_err(Error::from)) {
            tracing::warn!("saving images: {}", e.text());
        }
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(held_stream(&shared, rx)),
    )
        .into_response())
}

/// A private directory under the service user's data dir (on disk: the
/// runtime dir is often a small tmpfs), removed with its content when
/// dropped: a saved oci-dir before it is sent, a build's context.
pub(super) struct ScratchDir(pub(super) std::path::PathBuf);

impl ScratchDir {
    pub(super) fn new(run_dir: &std::path::Path) -> engine::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = run_dir.join(format!("save-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&dir)
            .map_err(Error::from)?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `POST /libpod/images/load`: a docker-archive or oci-archive body; 200
/// and Podman's `ImageLoadReport`, `{"Names": [...]}` (an unnamed image
/// by its `sha256:` id).
pub async fn load(State(shared): State<Shared>, body: Body) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let loaded = with_body(LP, body, move |reader| {
        let store = image::open_store(&ctx)?;
        transfer::load(&store, std::io::BufReader::new(reader), "the request body")
    })
    .await?;
    let mut names = Vec::new();
    for r in &loaded {
        if r.names.is_empty() {
            names.push(r.id.to_string());
        }
        names.extend(r.names.iter().cloned());
    }
    Ok(axum::Json(json!({ "Names": names })).into_response())
}

/// `POST /libpod/images/import?reference=&message=&changes=…`: a root
/// file system tarball as the body; 200 and `{"Id": id}`. (`url=` names
/// a file or address on the client's side: Podman's client sends the
/// file's content instead.)
pub async fn import_image(
    State(shared): State<Shared>,
    Query(q): Pairs,
    body: Body,
) -> Result<Response, ApiError> {
    let map: HashMap<String, String> = q.iter().filter(|(k, _)| k != "changes").cloned().collect();
    if map.get("url").is_some_and(|u| !u.is_empty()) {
        return Err(bad(
            "import from a URL is not supported by hutch's API service: send the tarball as the body",
        ));
    }
    let changes: Vec<String> = q
        .iter()
        .filter(|(k, v)| k == "changes" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let reference = map.get("reference").filter(|r| !r.is_empty()).cloned();
    let message = map.get("message").filter(|m| !m.is_empty()).cloned();
    let _ = flag(&map, "quiet", LP)?;
    let ctx = shared.ctx.clone();
    let record = with_body(LP, body, move |reader| {
        let store = image::open_store(&ctx)?;
        import::import(
            &store,
            import::ImportRequest {
                source: Box::new(reader),
                source_name: "the request body".into(),
                reference,
                changes,
                message,
                arch: None,
                os: None,
                variant: None,
                annotations: Default::default(),
            },
        )
    })
    .await?;
    Ok(axum::Json(json!({ "Id": record.id.hex() })).into_response())
}
