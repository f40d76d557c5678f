//! The libpod secret routes (`podman --remote secret ...`): create, list,
//! inspect and remove on the service user's secret store, the engine
//! calls the local `secret` commands make.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::containers::blocking;
use super::libpod_containers::bad;
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::image;
use crate::engine::secret::{MAX_SECRET_BYTES, SecretStore};

const LP: ApiVersion = ApiVersion::Libpod;

type Q = Query<HashMap<String, String>>;

fn secrets(ctx: &crate::config::Context) -> crate::engine::Result<SecretStore> {
    let store = image::open_store(ctx)?;
    Ok(SecretStore::new(store.root()))
}

/// `POST /libpod/secrets/create?name=&driver=&labels=`: the body is the
/// secret's data (at most [`MAX_SECRET_BYTES`]); `labels` is a JSON
/// object, as Podman's bindings encode a map. 200 and `{"ID": id}`.
pub async fn create(
    State(shared): State<Shared>,
    Query(q): Q,
    body: Body,
) -> Result<Response, ApiError> {
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| bad("name is required"))?;
    let driver = q
        .get("driver")
        .filter(|d| !d.is_empty())
        .cloned()
        .unwrap_or_else(|| crate::engine::secret::FILE_DRIVER.to_owned());
    let labels: BTreeMap<String, String> = match q.get("labels").filter(|l| !l.is_empty()) {
        Some(l) => serde_json::from_str(l)
            .map_err(|e| bad(format!("labels: a JSON object of strings: {e}")))?,
        None => BTreeMap::new(),
    };
    // One byte more than allowed is read, so that the engine's size rule
    // (and its message) decides.
    let mut data = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("reading the secret's data: {e}")))?;
        let room = MAX_SECRET_BYTES + 1 - data.len();
        data.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if data.len() > MAX_SECRET_BYTES {
            break;
        }
    }
    let ctx = shared.ctx.clone();
    let id = blocking(LP, move || {
        Ok(secrets(&ctx)?
            .create(&name, &driver, &data, labels, BTreeMap::new())?
            .id)
    })
    .await?;
    Ok(axum::Json(json!({ "ID": id })).into_response())
}

/// `GET /libpod/secrets/json`: every secret's inspect document, oldest
/// first.
pub async fn list(State(shared): State<Shared>) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let rows = blocking(LP, move || {
        let s = secrets(&ctx)?;
        Ok(s.list()?
            .iter()
            .map(|x| s.inspect_view(x))
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(axum::Json(rows).into_response())
}

/// `GET /libpod/secrets/{name}/json`: the inspect document, 404 if none.
pub async fn inspect(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(LP, move || {
        let s = secrets(&ctx)?;
        let found = s.lookup(&name)?;
        Ok(s.inspect_view(&found))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// `DELETE /libpod/secrets/{name}`: 204, 404 if none.
pub async fn remove(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    blocking(LP, move || secrets(&ctx)?.remove(&name)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
