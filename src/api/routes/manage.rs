//! Docker's container management routes beyond the lifecycle: `pause`,
//! `unpause`, `rename`, `update` and `containers/prune`, each the engine
//! operation the CLI's command calls.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::containers::{blocking, filters, open};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::ErrorKind;
use crate::engine::container::pause::{self, PauseOptions};
use crate::engine::container::prune::{self, PruneOptions};
use crate::engine::container::rename::{self, RenameOptions};
use crate::engine::container::select::Selection;
use crate::engine::container::update::{self, UpdateOptions};
use crate::runtime::spec::resources::{DeviceLimit, ResourceRequest};

type Q = Query<HashMap<String, String>>;

fn bad(flavor: ApiVersion, m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, m, flavor)
}

async fn pause_or_unpause(
    shared: Shared,
    flavor: ApiVersion,
    id: String,
    freeze: bool,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let opts = PauseOptions {
            select: Selection::names(&[id]),
        };
        let reports = pause::pause_each(&ctx, &store, &state, &opts, freeze)?;
        match reports.into_iter().next().and_then(|r| r.error) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /containers/{id}/pause`: 204; 409 when it does not run.
pub async fn pause(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    pause_or_unpause(shared, flavor, id, true).await
}

/// `POST /containers/{id}/unpause`: 204; 409 when it is not paused.
pub async fn unpause(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    pause_or_unpause(shared, flavor, id, false).await
}

/// `POST /containers/{id}/rename?name=`: 204; 409 when the name is taken.
pub async fn rename(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| bad(flavor, "a new name is required (name=)"))?;
    // Docker's clients may send the name with its leading slash.
    let name = name.trim_start_matches('/').to_owned();
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (_store, state) = open(&ctx)?;
        rename::rename(
            &ctx,
            &state,
            &RenameOptions {
                container: id,
                name,
            },
        )
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Docker's `RestartPolicy` in an update body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RestartPolicy {
    #[serde(default)]
    name: String,
    #[serde(default)]
    maximum_retry_count: i64,
}

/// The update body: Docker's `Resources` (the docker CLI sends every
/// field, zero when not set) and `RestartPolicy`. Fields the engine cannot
/// change are refused when set.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateBody {
    #[serde(default)]
    memory: i64,
    #[serde(default)]
    memory_reservation: i64,
    #[serde(default)]
    memory_swap: i64,
    #[serde(default)]
    nano_cpus: i64,
    #[serde(default)]
    cpu_shares: i64,
    #[serde(default)]
    cpu_quota: i64,
    #[serde(default)]
    cpu_period: i64,
    #[serde(default)]
    cpuset_cpus: String,
    #[serde(default)]
    cpuset_mems: String,
    #[serde(default)]
    pids_limit: Option<i64>,
    #[serde(default)]
    blkio_weight: u16,
    #[serde(default)]
    blkio_weight_device: Option<Vec<WeightDevice>>,
    #[serde(default, rename = "BlkioDeviceReadBps")]
    device_read_bps: Option<Vec<ThrottleDevice>>,
    #[serde(default, rename = "BlkioDeviceWriteBps")]
    device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(default, rename = "BlkioDeviceReadIOps")]
    device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(default, rename = "BlkioDeviceWriteIOps")]
    device_write_iops: Option<Vec<ThrottleDevice>>,
    #[serde(default)]
    cpu_realtime_period: i64,
    #[serde(default)]
    cpu_realtime_runtime: i64,
    /// Null or -1: not given.
    #[serde(default)]
    memory_swappiness: Option<i64>,
    #[serde(default)]
    restart_policy: Option<RestartPolicy>,
    /// Every other `Resources` field the docker CLI sends: refused when
    /// set to something but its zero value.
    #[serde(flatten)]
    other: HashMap<String, serde_json::Value>,
}

/// Docker's `WeightDevice`: a device path and its block-I/O weight.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct WeightDevice {
    path: String,
    weight: u16,
}

/// Docker's `ThrottleDevice`: a device path and its rate.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ThrottleDevice {
    path: String,
    rate: u64,
}

/// Docker's per-device limits as `update --device-*` gives them: the
/// device by path, resolved by the engine.
fn by_path(list: Option<Vec<ThrottleDevice>>) -> Vec<DeviceLimit> {
    list.unwrap_or_default()
        .into_iter()
        .map(|d| DeviceLimit {
            path: d.path,
            value: d.rate,
            ..DeviceLimit::default()
        })
        .collect()
}

fn is_zero(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0),
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
    }
}

fn positive(v: i64) -> Option<i64> {
    (v > 0).then_some(v)
}

/// `POST /containers/{id}/update`: `{"Warnings": []}`.
pub async fn update(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: UpdateBody = serde_json::from_slice(&body)
        .map_err(|e| bad(flavor, format!("invalid update body: {e}")))?;
    if let Some((k, _)) = b.other.iter().find(|(_, v)| !is_zero(v)) {
        return Err(bad(flavor, format!("updating {k} is not supported")));
    }
    if let Some(p) = &b.restart_policy
        && (!p.name.is_empty() || p.maximum_retry_count != 0)
    {
        return Err(bad(flavor, "updating the restart policy is not supported"));
    }
    let resources = ResourceRequest {
        memory: positive(b.memory),
        memory_reservation: positive(b.memory_reservation),
        memory_swap: (b.memory_swap != 0).then_some(b.memory_swap),
        nano_cpus: u64::try_from(b.nano_cpus).ok().filter(|n| *n > 0),
        cpu_shares: u64::try_from(b.cpu_shares).ok().filter(|n| *n > 0),
        cpu_quota: positive(b.cpu_quota),
        cpu_period: u64::try_from(b.cpu_period).ok().filter(|n| *n > 0),
        cpuset_cpus: Some(b.cpuset_cpus).filter(|s| !s.is_empty()),
        cpuset_mems: Some(b.cpuset_mems).filter(|s| !s.is_empty()),
        pids_limit: b.pids_limit.filter(|n| *n != 0),
        blkio_weight: Some(b.blkio_weight).filter(|w| *w > 0),
        blkio_weight_device: b
            .blkio_weight_device
            .unwrap_or_default()
            .into_iter()
            .map(|d| DeviceLimit {
                path: d.path,
                value: u64::from(d.weight),
                ..DeviceLimit::default()
            })
            .collect(),
        device_read_bps: by_path(b.device_read_bps),
        device_write_bps: by_path(b.device_write_bps),
        device_read_iops: by_path(b.device_read_iops),
        device_write_iops: by_path(b.device_write_iops),
        cpu_rt_period: u64::try_from(b.cpu_realtime_period).ok().filter(|n| *n > 0),
        cpu_rt_runtime: (b.cpu_realtime_runtime != 0).then_some(b.cpu_realtime_runtime),
        // Negative is Docker's and Podman's "not given".
        memory_swappiness: b.memory_swappiness.and_then(|s| u64::try_from(s).ok()),
        ..ResourceRequest::default()
    };
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        update::update(
            &ctx,
            &store,
            &state,
            &UpdateOptions {
                container: id,
                resources,
                given: false,
            },
        )
    })
    .await?;
    Ok(axum::Json(json!({"Warnings": []})).into_response())
}

/// `POST /containers/prune`: `{"ContainersDeleted", "SpaceReclaimed"}`.
/// Filters are not supported yet (a 400 names them).
pub async fn prune(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let f = filters(&q, flavor)?;
    if !f.is_empty() {
        return Err(bad(
            flavor,
            format!(
                "container prune filters are not supported yet: {}",
                f.join(", ")
            ),
        ));
    }
    let ctx = shared.ctx.clone();
    let reports = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        prune::prune(&ctx, &store, &state, &PruneOptions::default())
    })
    .await?;
    let mut deleted = Vec::new();
    for r in reports {
        match r.error {
            None => deleted.push(r.id),
            // One that started meanwhile stays; anything else is an error.
            Some(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::InvalidState) => {}
            Some(e) => return Err(ApiError::from_engine(&e, flavor)),
        }
    }
    Ok(axum::Json(json!({"ContainersDeleted": deleted, "SpaceReclaimed": 0})).into_response())
}
