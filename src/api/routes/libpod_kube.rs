//! The libpod routes of `kube play|down` and `generate kube|systemd`, as
//! Podman 4.3.1's remote client calls them: the YAML is the request's
//! body (play, down) or the answer's (generate kube); systemd units come
//! back as a map of unit name to content.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::containers::{blocking, flag};
use super::libpod_containers::{Pairs, bad};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::container::{self as containers, systemd_unit};
use crate::engine::image;
use crate::engine::kube::{self, MAX_YAML_BYTES, generate, play};

const LP: ApiVersion = ApiVersion::Libpod;

/// The request body as text, at most [`MAX_YAML_BYTES`].
async fn yaml_body(body: Body) -> Result<String, ApiError> {
    let mut data = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("reading the YAML: {e}")))?;
        if data.len() + chunk.len() > MAX_YAML_BYTES {
            return Err(bad(format!(
                "the YAML is larger than {MAX_YAML_BYTES} bytes"
            )));
        }
        data.extend_from_slice(&chunk);
    }
    String::from_utf8(data).map_err(|_| bad("the YAML is not UTF-8"))
}

/// `POST /libpod/play/kube?start=&replace=&serviceContainer=`: the YAML
/// as the body; Podman's `PlayKubeReport` (`Pods`: `ID`, `Containers`),
/// with the translation's warnings under `Warnings` (hutch's own).
pub async fn play_kube(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, ApiError> {
    let start = match q.get("start").map(String::as_str) {
        None | Some("") => true,
        Some(_) => flag(&q, "start", LP)?,
    };
    let replace = flag(&q, "replace", LP)?;
    let service = flag(&q, "serviceContainer", LP)?;
    let text = yaml_body(body).await?;
    let ctx = shared.ctx.clone();
    let (warnings, played) = blocking(LP, move || {
        let docs = kube::parse(&text)?;
        let plan = play::translate(&docs, replace)?;
        let store = image::open_store(&ctx)?;
        let state = containers::open_state(&ctx)?;
        let played = play::play(
            &ctx,
            &store,
            &state,
            &plan,
            &play::PlayOptions {
                start,
                replace,
                service_container: service.then(|| play::ServiceContainer {
                    name: play::service_container_name(&text),
                    notify_socket: None,
                }),
                registry: Default::default(),
            },
        )?;
        Ok((plan.warnings.clone(), played))
    })
    .await?;
    let pods: Vec<Value> = played
        .iter()
        .map(|p| {
            json!({
                "ID": p.id, "Containers": p.containers, "InitContainers": [],
                "Logs": [], "ContainerErrors": [],
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "Pods": pods, "Volumes": [], "StopReport": null, "RmReport": null,
        "Warnings": warnings,
    }))
    .into_response())
}

/// `DELETE /libpod/play/kube`: the YAML as the body; the pods it named
/// stopped and removed, Podman's `StopReport` and `RmReport`.
pub async fn down_kube(State(shared): State<Shared>, body: Body) -> Result<Response, ApiError> {
    let text = yaml_body(body).await?;
    let ctx = shared.ctx.clone();
    let removed = blocking(LP, move || {
        let docs = kube::parse(&text)?;
        let plan = play::translate(&docs, false)?;
        let store = image::open_store(&ctx)?;
        let state = containers::open_state(&ctx)?;
        let service = play::service_container_name(&text);
        play::down(&ctx, &store, &state, &plan, Some(&service))
    })
    .await?;
    let stopped: Vec<Value> = removed
        .iter()
        .map(|id| json!({"Id": id, "Errs": []}))
        .collect();
    let rm: Vec<Value> = removed
        .iter()
        .map(|id| json!({"Id": id, "Err": null}))
        .collect();
    Ok(axum::Json(json!({
        "Pods": [], "Volumes": [], "StopReport": stopped, "RmReport": rm,
    }))
    .into_response())
}

/// `GET /libpod/generate/kube?names=A&names=B&service=&type=&replicas=`:
/// the YAML as the body (`text/plain`).
pub async fn generate_kube(
    State(shared): State<Shared>,
    Query(q): Pairs,
) -> Result<Response, ApiError> {
    let names: Vec<String> = q
        .iter()
        .filter(|(k, v)| k == "names" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    if names.is_empty() {
        return Err(bad("names is required"));
    }
    let map: HashMap<String, String> = q.iter().filter(|(k, _)| k != "names").cloned().collect();
    let kind = match map.get("type").filter(|t| !t.is_empty()) {
        Some(t) => generate::KubeKind::parse(t).map_err(|e| ApiError::from_engine(&e, LP))?,
        None => generate::KubeKind::Pod,
    };
    let replicas = match map.get("replicas").filter(|r| !r.is_empty()) {
        Some(r) => r
            .parse::<u32>()
            .map_err(|_| bad(format!("replicas: not a number: {r:?}")))?,
        None => 1,
    };
    let now_ns = crate::host::time::now_ns();
    let opts = generate::GenerateOptions {
        kind,
        replicas,
        service: flag(&map, "service", LP)?,
        now: now_ns / 1_000_000_000,
        // Only spreads Service node ports, as Podman's time-seeded RNG.
        seed: now_ns as u64 ^ u64::from(std::process::id()),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let ctx = shared.ctx.clone();
    let out = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let state = containers::open_state(&ctx)?;
        let inputs = kube::facts::collect(&ctx, &store, &state, &names)?;
        generate::generate(&inputs, &opts)
    })
    .await?;
    for w in &out.warnings {
        tracing::warn!("{w}");
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        out.text,
    )
        .into_response())
}

/// The values of a repeated query key (`wants=a&wants=b`).
fn all_of(q: &[(String, String)], key: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

/// `GET /libpod/generate/{name}/systemd?useName=&new=&noHeader=&...`:
/// `{unit name: content}`, a pod's unit first, as the local command
/// prints them.
pub async fn generate_systemd(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Pairs,
) -> Result<Response, ApiError> {
    let map: HashMap<String, String> = q.iter().cloned().collect();
    let text = |k: &str, default: &str| {
        map.get(k)
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    let number = |k: &str| -> Result<Option<u32>, ApiError> {
        match map.get(k).filter(|v| !v.is_empty()) {
            Some(v) => v
                .parse::<u32>()
                .map(Some)
                .map_err(|_| bad(format!("{k}: not a number: {v:?}"))),
            None => Ok(None),
        }
    };
    if flag(&map, "templateUnitFile", LP)? {
        return Err(bad(
            "--template: template units are not supported by hutch yet",
        ));
    }
    let opts = systemd_unit::SystemdOptions {
        new: flag(&map, "new", LP)?,
        use_name: flag(&map, "useName", LP)?,
        restart_policy: text("restartPolicy", "on-failure"),
        restart_sec: number("restartSec")?,
        start_timeout: number("startTimeout")?,
        stop_timeout: number("stopTimeout")?,
        container_prefix: text("containerPrefix", "container"),
        pod_prefix: text("podPrefix", "pod"),
        separator: text("separator", "-"),
        no_header: flag(&map, "noHeader", LP)?,
        env: all_of(&q, "additionalEnvVariables"),
        wants: all_of(&q, "wants"),
        after: all_of(&q, "after"),
        requires: all_of(&q, "requires"),
    };
    opts.validate().map_err(|e| ApiError::from_engine(&e, LP))?;
    let ctx = shared.ctx.clone();
    let units = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let state = containers::open_state(&ctx)?;
        // A container's name first, then a pod's (Podman's order).
        if state.container(&name).is_err() && crate::engine::pod::lookup(&state, &name).is_ok() {
            crate::engine::pod::systemd_unit::generate(&ctx, &store, &state, &name, &opts)
        } else {
            Ok(vec![systemd_unit::generate(
                &ctx, &store, &state, &name, &opts,
            )?])
        }
    })
    .await?;
    let mut out = serde_json::Map::new();
    for u in units {
        out.insert(u.name, Value::String(u.content));
    }
    Ok(axum::Json(Value::Object(out)).into_response())
}
