//! Docker's volume routes: create, list, inspect, delete and prune, each
//! calling the engine's volume operation `hutch volume` calls.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::containers::{blocking, filters, flag, open};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::ErrorKind;
use crate::engine::state::Volume;
use crate::engine::volume::{self, VolumeCreate, VolumeFilters};
use crate::host::time;

type Q = Query<HashMap<String, String>>;

fn bad(flavor: ApiVersion, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message, flavor)
}

/// Docker's volume object.
fn docker_view(v: &Volume) -> Value {
    json!({
        "Name": v.name,
        "Driver": v.driver,
        "Mountpoint": v.mountpoint,
        "CreatedAt": time::rfc3339(v.created / 1_000_000_000),
        "Labels": v.labels,
        "Scope": "local",
        "Options": v.options,
    })
}

/// `POST /volumes/create`'s body (Docker's `VolumeCreateOptions`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct CreateBody {
    #[serde(default)]
    name: Option<String>,
    /// null from docker-py when not chosen.
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    driver_opts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    /// Swarm's cluster volumes: not served.
    #[serde(default)]
    cluster_volume_spec: Option<Value>,
}

/// `POST /volumes/create`: 201 with the volume. An existing volume of that
/// name is answered as it is, as dockerd does (compose relies on it).
pub async fn create(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CreateBody = if body.is_empty() {
        CreateBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| bad(flavor, format!("invalid volume create body: {e}")))?
    };
    if !matches!(b.driver.as_deref(), None | Some("" | "local")) {
        return Err(bad(
            flavor,
            format!(
                "volume driver {:?} is not supported: hutch has the local driver only",
                b.driver
            ),
        ));
    }
    if b.cluster_volume_spec.is_some_and(|c| !c.is_null()) {
        return Err(bad(flavor, "cluster volumes are not supported"));
    }
    let req = VolumeCreate {
        name: b.name.filter(|n| !n.is_empty()),
        labels: b.labels.unwrap_or_default(),
        options: b.driver_opts.unwrap_or_default(),
        anonymous: false,
    };
    let ctx = shared.ctx.clone();
    let v = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        match volume::create(&state, &volume::volumes_root(&ctx, store.root()), &req) {
            Err(e) if e.kind() == ErrorKind::Conflict => {
                let name = req.name.clone().unwrap_or_default();
                Ok(state.volume(&name)?)
            }
            other => other,
        }
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(docker_view(&v))).into_response())
}

/// `GET /volumes?filters=` (name, label, driver, dangling).
pub async fn list(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let raw = filters(&q, flavor)?;
    let ctx = shared.ctx.clone();
    let vols = blocking(flavor, move || {
        let f = VolumeFilters::parse(&raw)?;
        let (_, state) = open(&ctx)?;
        volume::list(&state, &f)
    })
    .await?;
    let out: Vec<Value> = vols.iter().map(docker_view).collect();
    Ok(axum::Json(json!({"Volumes": out, "Warnings": []})).into_response())
}

/// `GET /volumes/{name}`.
pub async fn inspect(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(flavor, move || {
        let (_, state) = open(&ctx)?;
        Ok(state.volume(&name)?)
    })
    .await?;
    Ok(axum::Json(docker_view(&v)).into_response())
}

/// `DELETE /volumes/{name}?force=`: 204; 404 unknown, 409 in use (with
/// `force`, the containers using it are removed first, as Podman does).
pub async fn remove(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force", flavor)?;
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        volume::remove_volume(&ctx, &store, &state, &name, force, None)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /volumes/prune?filters=`: unused volumes. From API 1.42 on only
/// anonymous ones unless the `all` filter is true, as dockerd does.
pub async fn prune(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let mut all = !matches!(flavor, ApiVersion::Docker(1, m) if m >= 42);
    let mut rest = Vec::new();
    for f in filters(&q, flavor)? {
        match f.split_once('=') {
            Some(("all", v)) => all = matches!(v, "true" | "1"),
            _ => rest.push(f),
        }
    }
    let ctx = shared.ctx.clone();
    let removed = blocking(flavor, move || {
        let f = VolumeFilters::parse(&rest)?;
        let (_, state) = open(&ctx)?;
        volume::prune(&state, &|v| (!all && !v.anonymous) || !f.matches(v, false))
    })
    .await?;
    Ok(axum::Json(json!({"VolumesDeleted": removed, "SpaceReclaimed": 0})).into_response())
}
