//! The libpod system routes beyond `info` and `version`: `events` (a
//! stream of JSON lines) and `system/df`.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::containers::{blocking, filters, flag};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Shared, held_stream};
use crate::engine;
use crate::engine::container::events::{EventStream, EventsOptions, parse_time, parse_until};
use crate::engine::state::Event;
use crate::host::time;

type Q = Query<HashMap<String, String>>;

const LP: ApiVersion = ApiVersion::Libpod;

/// Event lines buffered between the reader and a slow client.
const EVENT_QUEUE: usize = 64;

/// `GET /libpod/version`: Docker's document (Podman's service answers
/// both routes with it) with the libpod API's version in the component's
/// details, which `podman --remote version` shows as the server's.
pub async fn version() -> Response {
    let axum::Json(mut v) = super::system::version().await;
    // Podman's client reads the component named "Podman Engine".
    v["Components"][0]["Name"] = json!("Podman Engine");
    let os_arch = format!("linux/{}", engine::info::go_arch());
    if let Some(d) = v["Components"][0]["Details"].as_object_mut() {
        d.insert("APIVersion".into(), json!(crate::api::LIBPOD_API_VERSION));
        d.insert("MinAPIVersion".into(), json!("4.0.0"));
        d.insert("OsArch".into(), json!(os_arch));
    }
    axum::Json(v).into_response()
}

/// The actions Podman 4.3.1's client knows (`events.StringToStatus`): it
/// crashes on any other, so other events are not sent.
const PODMAN_ACTIONS: &[&str] = &[
    "attach",
    "checkpoint",
    "cleanup",
    "commit",
    "connect",
    "copy",
    "create",
    "died",
    "disconnect",
    "exec",
    "exec_died",
    "exited",
    "export",
    "health_status",
    "import",
    "init",
    "kill",
    "loadfromarchive",
    "mount",
    "pause",
    "prune",
    "pull",
    "push",
    "refresh",
    "remove",
    "rename",
    "renumber",
    "restart",
    "restore",
    "rotate",
    "save",
    "start",
    "stop",
    "sync",
    "tag",
    "unmount",
    "unpause",
    "untag",
    "update",
];

/// One event as Podman's service sends it (Docker's message with
/// Podman's action names; the client reads `Actor.Attributes` for the
/// name, image and exit code, which it needs on every event).
fn event_json(e: &Event) -> Option<Value> {
    if !PODMAN_ACTIONS.contains(&e.action.as_str()) {
        return None;
    }
    let kind = serde_json::to_value(e.kind).unwrap_or(Value::Null);
    let mut attributes = e.attributes.clone();
    attributes
        .entry("containerExitCode".to_owned())
        .or_insert_with(|| "0".to_owned());
    if !e.actor_name.is_empty() {
        attributes
            .entry("name".to_owned())
            .or_insert_with(|| e.actor_name.clone());
    }
    Some(json!({
        "status": e.action,
        "id": e.actor_id,
        "from": attributes.get("image").cloned().unwrap_or_default(),
        "Type": kind,
        "Action": e.action,
        "Actor": {"ID": e.actor_id, "Attributes": attributes},
        "scope": "local",
        "time": e.time / 1_000_000_000,
        "timeNano": e.time,
    }))
}

/// `since` and `until` as Podman's server reads them: a duration counts
/// back for `since`, forward for `until`.
fn event_time(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    let parse = if key == "until" {
        parse_until
    } else {
        parse_time
    };
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse(v, time::now_ns())
            .map(Some)
            .map_err(|e| ApiError::from_engine(&e, LP)),
    }
}

/// `GET /libpod/events?stream=&filters=&since=&until=`: one JSON object a
/// line; with `stream` (the default) it goes on until `until` or until
/// the client hangs up.
pub async fn events(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    let stream = match q.get("stream").map(String::as_str) {
        None | Some("") => true,
        Some(_) => flag(&q, "stream", LP)?,
    };
    let opts = EventsOptions {
        filters: filters(&q, LP)?,
        since: event_time(&q, "since")?,
        until: event_time(&q, "until")?,
    };
    opts.validate().map_err(|e| ApiError::from_engine(&e, LP))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(EVENT_QUEUE);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<engine::Result<()>>();
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let state = match engine::container::open_state(&ctx) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        let mut events = match EventStream::open(&state, &opts) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        if ready_tx.send(Ok(())).is_err() {
            return;
        }
        let send = |batch: Vec<Event>| -> bool {
            let mut chunk = String::new();
            for v in batch.iter().filter_map(event_json) {
                chunk.push_str(&v.to_string());
                chunk.push('\n');
            }
            chunk.is_empty() || tx.blocking_send(Bytes::from(chunk)).is_ok()
        };
        let Ok(first) = events.next_batch() else {
            return;
        };
        if !send(first) || !stream {
            return;
        }
        loop {
            if tx.is_closed() {
                // The client hung up.
                return;
            }
            match events.wait_batch() {
                Ok(Some(batch)) => {
                    if !send(batch) {
                        return;
                    }
                }
                Ok(None) | Err(_) => return,
            }
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::from_engine(&e, LP)),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reading the events ended unexpectedly",
                LP,
            ));
        }
    }
    let body = held_stream(&shared, rx);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// `GET /libpod/system/df`: Podman's `SystemDfReport` (images, containers
/// with their sizes, volumes with theirs and how many containers use
/// them).
pub async fn df(State(shared): State<Shared>) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || crate::engine::system::df::report(&ctx)).await?;
    Ok(axum::Json(report).into_response())
}

/// `POST /libpod/system/prune?all=&volumes=&filters=`: every kind of
/// unused object, as `system prune` removes them; Podman's
/// `SystemPruneReport` (errors as their text).
pub async fn prune(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    use crate::engine::prune_filter::{PruneFilters, PruneKind};
    use crate::engine::system::prune::SystemPruneOptions;
    let list = filters(&q, LP)?;
    let all = flag(&q, "all", LP)?;
    let volumes = flag(&q, "volumes", LP)?;
    let ctx = shared.ctx.clone();
    let r = blocking(LP, move || {
        // The container prune's words for an unknown key, as locally.
        let filters = PruneFilters::parse(&list, PruneKind::Container, time::now_ns())?;
        crate::engine::system::prune::prune(
            &ctx,
            &SystemPruneOptions {
                all,
                volumes,
                filters,
            },
        )
    })
    .await?;
    let plain = |v: &[String]| -> Vec<Value> {
        v.iter()
            .map(|i| json!({"Id": i, "Err": null, "Size": 0}))
            .collect()
    };
    let body = json!({
        "PodPruneReport": r.pods.iter()
            .map(|p| json!({"Id": p.id, "Err": p.error.as_ref().map(|e| e.text())}))
            .collect::<Vec<_>>(),
        "ContainerPruneReports": r.containers.iter()
            .map(|c| json!({"Id": c.id, "Err": c.error.as_ref().map(|e| e.text()), "Size": 0}))
            .collect::<Vec<_>>(),
        "ImagePruneReports": plain(&r.images),
        "NetworkPruneReports": r.networks.iter()
            .map(|n| json!({"Name": n, "Error": null}))
            .collect::<Vec<_>>(),
        "VolumePruneReports": plain(&r.volumes),
        "ReclaimedSpace": r.reclaimed,
    });
    Ok(axum::Json(body).into_response())
}
