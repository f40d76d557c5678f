//! libpod routes Podman 4.3.1's remote client calls for `healthcheck run`
//! and `commit`, over the engine operations the CLI's commands use.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::containers::{blocking, open};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::container::commit::{self, CommitRequest};
use crate::engine::container::update::{self, UpdateOptions};
use crate::engine::container::{health, pause};
use crate::engine::state::ContainerState;
use crate::runtime::spec::resources::{DeviceLimit, ResourceRequest};

const LP: ApiVersion = ApiVersion::Libpod;

/// `GET /libpod/containers/{id}/healthcheck`: runs the check once.
/// `Status` is "unhealthy" when this run failed (what the local command
/// reports, whatever status the container was left in), else the
/// container's status; 409 for a stopped container or one without a
/// check, as Podman.
pub async fn healthcheck(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let c = state.container(&id)?;
        health::run(&ctx, &store, &state, &c)
    })
    .await?;
    if let Some(message) = report.timed_out {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            message,
            LP,
        ));
    }
    let status = if report.passed {
        report.status
    } else {
        health::UNHEALTHY.to_owned()
    };
    Ok(axum::Json(json!({"Status": status, "FailingStreak": 0, "Log": null})).into_response())
}

/// Longest list of `changes` taken from one commit query.
const MAX_CHANGES: usize = 256;

/// `POST /libpod/commit?container=&repo=&tag=&author=&comment=&changes=&pause=&format=`:
/// a new image from the container's changes; `{"Id": HEX}`. A running
/// container is paused for it with `pause=true`, as `commit -p`.
pub async fn commit(
    State(shared): State<Shared>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let get = |k: &str| {
        q.iter()
            .find(|(key, v)| key == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m, LP);
    let container = get("container").ok_or_else(|| bad("container is required".into()))?;
    let format = get("format").unwrap_or_else(|| "oci".into());
    if !matches!(format.as_str(), "oci" | "docker") {
        return Err(bad(format!(
            "unrecognized image type {format:?}: use oci or docker"
        )));
    }
    let changes: Vec<String> = q
        .iter()
        .filter(|(k, v)| k == "changes" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    if changes.len() > MAX_CHANGES {
        return Err(bad(format!("more than {MAX_CHANGES} changes")));
    }
    let reference = get("repo").map(|r| match get("tag") {
        Some(t) => format!("{r}:{t}"),
        None => r,
    });
    let pause_it = matches!(get("pause").as_deref(), Some("true" | "1"));
    let req = CommitRequest {
        reference,
        author: get("author"),
        message: get("comment"),
        changes,
        ..CommitRequest::default()
    };
    let ctx = shared.ctx.clone();
    let id = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let c = state.container(&container)?;
        let paused = pause_it && c.state == ContainerState::Running;
        if paused {
            pause::pause(&ctx, &store, &state, &c)?;
        }
        let result = commit::commit(&store, &state, &c, &req);
        if paused {
            let now = state.container(&c.id)?;
            pause::unpause(&ctx, &store, &state, &now)?;
        }
        Ok(result?.id.hex().to_owned())
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"Id": id}))).into_response())
}

/// The OCI `LinuxResources` fields `update` can change.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Resources {
    memory: Option<Memory>,
    cpu: Option<Cpu>,
    pids: Option<Pids>,
    #[serde(rename = "blockIO")]
    block_io: Option<BlockIo>,
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Memory {
    limit: Option<i64>,
    reservation: Option<i64>,
    swap: Option<i64>,
    swappiness: Option<i64>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Cpu {
    shares: Option<u64>,
    quota: Option<i64>,
    period: Option<u64>,
    cpus: Option<String>,
    mems: Option<String>,
    #[serde(rename = "realtimeRuntime")]
    realtime_runtime: Option<i64>,
    #[serde(rename = "realtimePeriod")]
    realtime_period: Option<u64>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Pids {
    limit: Option<i64>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct BlockIo {
    weight: Option<u16>,
    #[serde(rename = "weightDevice")]
    weight_device: Option<Vec<OciDevice>>,
    #[serde(rename = "throttleReadBpsDevice")]
    read_bps: Option<Vec<OciDevice>>,
    #[serde(rename = "throttleWriteBpsDevice")]
    write_bps: Option<Vec<OciDevice>>,
    #[serde(rename = "throttleReadIOPSDevice")]
    read_iops: Option<Vec<OciDevice>>,
    #[serde(rename = "throttleWriteIOPSDevice")]
    write_iops: Option<Vec<OciDevice>>,
}

/// An OCI `LinuxWeightDevice` or `LinuxThrottleDevice`: the device by
/// its numbers, with a weight or a rate.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct OciDevice {
    major: i64,
    minor: i64,
    weight: Option<u16>,
    rate: Option<u64>,
}

/// Per-device limits by number (no path: the engine has nothing to
/// resolve).
fn by_number(list: Option<Vec<OciDevice>>, weight: bool) -> Vec<DeviceLimit> {
    list.unwrap_or_default()
        .into_iter()
        .map(|d| DeviceLimit {
            path: String::new(),
            value: if weight {
                d.weight.map(u64::from).unwrap_or(0)
            } else {
                d.rate.unwrap_or(0)
            },
            major: d.major,
            minor: d.minor,
        })
        .collect()
}

/// `POST /libpod/containers/{id}/update`: the body is an OCI
/// `LinuxResources`, as Podman 4.3.1's client sends it; `--cpus` arrives
/// as quota and period and is kept as NanoCpus, as `create` does. 201
/// with the container's id.
pub async fn update_resources(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m, LP);
    let b: Resources =
        serde_json::from_slice(&body).map_err(|e| bad(format!("invalid update body: {e}")))?;
    if let Some((k, _)) = b.other.iter().find(|(_, v)| !v.is_null()) {
        return Err(bad(format!("updating {k} is not supported")));
    }
    let positive = |n: Option<i64>| n.filter(|n| *n > 0);
    let mut r = ResourceRequest::default();
    if let Some(m) = b.memory {
        r.memory = positive(m.limit);
        r.memory_reservation = positive(m.reservation);
        r.memory_swap = m.swap.filter(|n| *n != 0);
        // Negative is Podman's "not given".
        r.memory_swappiness = m.swappiness.and_then(|s| u64::try_from(s).ok());
    }
    if let Some(c) = b.cpu {
        match (positive(c.quota), c.period.filter(|p| *p > 0)) {
            (Some(q), Some(p)) => {
                r.nano_cpus = u64::try_from(q)
                    .ok()
                    .and_then(|q| q.checked_mul(1_000_000_000))
                    .map(|n| n / p);
            }
            (q, p) => {
                r.cpu_quota = q;
                r.cpu_period = p;
            }
        }
        r.cpu_shares = c.shares.filter(|n| *n > 0);
        r.cpuset_cpus = c.cpus.filter(|s| !s.is_empty());
        r.cpuset_mems = c.mems.filter(|s| !s.is_empty());
        r.cpu_rt_runtime = c.realtime_runtime.filter(|n| *n != 0);
        r.cpu_rt_period = c.realtime_period.filter(|n| *n > 0);
    }
    if let Some(p) = b.pids {
        r.pids_limit = p.limit.filter(|n| *n != 0);
    }
    if let Some(w) = b.block_io {
        r.blkio_weight = w.weight.filter(|w| *w > 0);
        r.blkio_weight_device = by_number(w.weight_device, true);
        r.device_read_bps = by_number(w.read_bps, false);
        r.device_write_bps = by_number(w.write_bps, false);
        r.device_read_iops = by_number(w.read_iops, false);
        r.device_write_iops = by_number(w.write_iops, false);
    }
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        update::update(
            &ctx,
            &store,
            &state,
            &UpdateOptions {
                container: id,
                resources: r,
                given: false,
            },
        )
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(json!(report.id))).into_response())
}
