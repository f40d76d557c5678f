//! The libpod pod routes `podman --remote pod` and hutch's remote client
//! use: create, list, inspect, exists, start, stop, restart, kill, pause,
//! unpause, remove and prune. Each calls what the CLI's `pod` commands
//! call; the reports are Podman's (`{"Id", "Errs"}`, `{"Id", "Err"}`).

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::containers::{blocking, filters, flag, open};
use super::libpod_containers::bad;
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::ErrorKind;
use crate::engine::pod::create::{PodCreateOptions, create as create_pod};
use crate::engine::pod::lifecycle::{PodAction, PodSelection, act};
use crate::engine::pod::remove::{PodRemoveOptions, prune, remove};
use crate::engine::pod::{inspect, list, lookup};
use crate::spec::pod::{DEFAULT_SHARE, ExitPolicy, PodConfig, parse_share};

type Q = Query<HashMap<String, String>>;

const LP: ApiVersion = ApiVersion::Libpod;

/// `POST /libpod/pods/create`'s body: the fields of Podman's
/// PodSpecGenerator hutch carries. Others asking for something are
/// refused rather than dropped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PodBody {
    name: String,
    labels: Option<BTreeMap<String, String>>,
    no_infra: bool,
    infra_image: String,
    infra_command: Option<Vec<String>>,
    infra_name: String,
    shared_namespaces: Option<Vec<String>>,
    hostname: String,
    exit_policy: String,
    pod_create_command: Option<Vec<String>>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// What Podman's client fills in on its own (defaults, empty lists):
/// taken and ignored.
fn ignored(key: &str, v: &Value) -> bool {
    let empty = match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty() || key == "netns",
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(true) => false,
    };
    // Podman's client sends its defaults for these (private namespaces,
    // no limits, the caller's id mappings); hutch's pods have the same.
    empty
        || matches!(
            key,
            "netns"
                | "cni_networks"
                | "Networks"
                | "userns"
                | "utsns"
                | "pidns"
                | "share_parent"
                | "resource_limits"
                | "idmappings"
        )
}

/// `POST /libpod/pods/create`: 201 `{"Id"}`.
pub async fn create(State(shared): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let b: PodBody =
        serde_json::from_slice(&body).map_err(|e| bad(format!("invalid pod create body: {e}")))?;
    if let Some((k, _)) = b.rest.iter().find(|(k, v)| !ignored(k, v)) {
        return Err(bad(format!(
            "{k} is not supported by hutch's pod create API: create the pod on the service's host"
        )));
    }
    let share = match &b.shared_namespaces {
        Some(l) if !l.is_empty() => parse_share(&l.join(",")).map_err(|e| bad(e.to_string()))?,
        _ => DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(),
    };
    let exit_policy = match b.exit_policy.as_str() {
        "" => ExitPolicy::Continue,
        p => ExitPolicy::parse(p).map_err(|e| bad(e.to_string()))?,
    };
    let opts = PodCreateOptions {
        name: Some(b.name).filter(|n| !n.is_empty()),
        config: PodConfig {
            labels: b.labels.unwrap_or_default(),
            infra: !b.no_infra,
            infra_image: Some(b.infra_image).filter(|i| !i.is_empty()),
            infra_command: b.infra_command.filter(|c| !c.is_empty()),
            infra_name: Some(b.infra_name).filter(|n| !n.is_empty()),
            share,
            exit_policy,
            hostname: Some(b.hostname).filter(|h| !h.is_empty()),
            create_command: b.pod_create_command.unwrap_or_default(),
            ..PodConfig::default()
        },
        replace: false,
    };
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        create_pod(&ctx, &store, &state, &opts)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"Id": report.id}))).into_response())
}

/// `GET /libpod/pods/json?filters=`: Podman's ListPodsReport entries.
pub async fn list_pods(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    let raw = filters(&q, LP)?;
    let ctx = shared.ctx.clone();
    let rows = blocking(LP, move || {
        let filters = list::parse_filters(&raw)?;
        let (store, state) = open(&ctx)?;
        Ok(list::list(&ctx, &store, &state, &filters)?
            .iter()
            .map(list::report_view)
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(axum::Json(rows).into_response())
}

/// `GET /libpod/pods/{name}/json`: what `pod inspect` prints.
pub async fn inspect_pod(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let r = inspect::inspect(&ctx, &store, &state, &name)?;
        Ok(serde_json::to_value(&r)?)
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// `GET /libpod/pods/{name}/exists`: 204 or 404.
pub async fn exists(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let (_store, state) = open(&ctx)?;
        lookup(&state, &name).map(|_| ())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The action of `POST /libpod/pods/{name}/{action}`, from its path and
/// query (`t` for stop and restart, `signal` for kill).
fn action_of(verb: &str, q: &HashMap<String, String>) -> Result<PodAction, ApiError> {
    let timeout = match q.get("t").filter(|t| !t.is_empty()) {
        Some(t) => Some(
            t.parse::<u32>()
                .map_err(|_| bad(format!("invalid timeout {t:?}")))?,
        ),
        None => None,
    };
    Ok(match verb {
        "start" => PodAction::Start,
        "stop" => PodAction::Stop { timeout },
        "restart" => PodAction::Restart { timeout },
        "kill" => PodAction::Kill {
            signal: q
                .get("signal")
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| "KILL".to_owned()),
        },
        "pause" => PodAction::Pause,
        "unpause" => PodAction::Unpause,
        other => return Err(bad(format!("unknown pod action {other:?}"))),
    })
}

/// `POST /libpod/pods/{name}/start|stop|restart|kill|pause|unpause`:
/// `{"Id", "Errs"}`; 409 with the first error when a container failed.
pub async fn pod_action(
    State(shared): State<Shared>,
    Path((name, verb)): Path<(String, String)>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let action = action_of(&verb, &q)?;
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let sel = PodSelection {
            names: vec![name],
            all: false,
        };
        let mut reports = act(&ctx, &store, &state, &sel, &action)?;
        Ok(reports.pop())
    })
    .await?;
    let Some(r) = report else {
        return Err(bad("no pod selected"));
    };
    if let Some(e) = r.errors.first() {
        let mut err = ApiError::from_engine(e, LP);
        if err.status == StatusCode::INTERNAL_SERVER_ERROR {
            err.status = StatusCode::CONFLICT;
        }
        return Err(err);
    }
    Ok(axum::Json(json!({"Id": r.id, "Errs": []})).into_response())
}

/// `DELETE /libpod/pods/{name}?force=&t=`: `{"Id", "Err"}`; 404 unknown.
pub async fn delete(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force", LP)?;
    let timeout = match q.get("t").filter(|t| !t.is_empty()) {
        Some(t) => Some(
            t.parse::<u32>()
                .map_err(|_| bad(format!("invalid timeout {t:?}")))?,
        ),
        None => None,
    };
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let opts = PodRemoveOptions {
            select: PodSelection {
                names: vec![name],
                all: false,
            },
            force,
            ignore: false,
            timeout,
        };
        let mut r = remove(&ctx, &store, &state, &opts)?;
        match r.pop() {
            Some(r) => match r.error {
                Some(e) => Err(e),
                None => Ok(r.id),
            },
            None => Err(crate::engine::Error::new(
                ErrorKind::NotFound,
                "no such pod",
            )),
        }
    })
    .await?;
    Ok(axum::Json(json!({"Id": report, "Err": null})).into_response())
}

/// `POST /libpod/pods/prune`: `[{"Id", "Err"}]`.
pub async fn prune_pods(State(shared): State<Shared>) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let out = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        Ok(prune(&ctx, &store, &state)?
            .into_iter()
            .map(|r| json!({"Id": r.id, "Err": r.error.map(|e| e.text())}))
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(axum::Json(out).into_response())
}
