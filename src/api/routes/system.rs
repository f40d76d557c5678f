//! `_ping`, `version`, `info`: what every client asks first.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::api::{DOCKER_API_VERSION, DOCKER_MIN_API_VERSION};
use crate::engine;

/// `GET|HEAD /_ping`: "OK", no caching (Docker's headers).
pub async fn ping() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (header::PRAGMA, "no-cache"),
        ],
        "OK",
    )
        .into_response()
}

fn dotted(v: (u32, u32)) -> String {
    format!("{}.{}", v.0, v.1)
}

/// `GET /version`: Docker's shape, which libpod's clients read too.
pub async fn version() -> Json<Value> {
    let uts = rustix::system::uname();
    let kernel = uts.release().to_string_lossy().into_owned();
    let (api, min) = (dotted(DOCKER_API_VERSION), dotted(DOCKER_MIN_API_VERSION));
    let arch = engine::info::go_arch();
    let version = env!("CARGO_PKG_VERSION");
    Json(json!({
        "Platform": {"Name": "hutch"},
        "Components": [{
            "Name": "Engine",
            "Version": version,
            "Details": {
                "APIVersion": api,
                "MinAPIVersion": min,
                "Os": "linux",
                "Arch": arch,
                "KernelVersion": kernel,
                "Experimental": "false",
                "GitCommit": "",
                "GoVersion": "",
                "BuildTime": "",
            },
        }],
        "Version": version,
        "ApiVersion": api,
        "MinAPIVersion": min,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": kernel,
        "BuildTime": "",
    }))
}

/// `GET /info`: Docker's fields from what `hutch info` gathers.
pub async fn info(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
) -> Result<Json<Value>, ApiError> {
    let ctx = shared.ctx.clone();
    let (data, counts) = tokio::task::spawn_blocking(move || {
        let counts = engine::system::counts(&ctx);
        (engine::info::gather(&ctx), counts)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
            flavor,
        )
    })?;
    let counts = counts.map_err(|e| ApiError::from_engine(&e, flavor))?;
    let host = &data["host"];
    let store = &data["store"];
    let runtimes: serde_json::Map<String, Value> = ["crun", "runc"]
        .iter()
        .filter(|r| host["runtimes"][**r]["available"].as_bool() == Some(true))
        .map(|r| {
            (
                (*r).to_owned(),
                json!({"path": host["runtimes"][*r]["executable"]}),
            )
        })
        .collect();
    let rootless = host["security"]["rootless"].as_bool().unwrap_or(true);
    let mut security = vec!["name=seccomp,profile=default".to_owned()];
    if rootless {
        security.push("name=rootless".to_owned());
    }
    Ok(Json(json!({
        "ID": "",
        "Containers": counts.containers,
        "ContainersRunning": counts.running,
        "ContainersPaused": counts.paused,
        "ContainersStopped": counts.stopped,
        "Images": counts.images,
        "Driver": store["graphDriverName"],
        "DriverStatus": [["Backing Filesystem", store["graphDriverReason"]]],
        "DockerRootDir": store["graphRoot"],
        "Name": host["hostname"],
        "KernelVersion": host["kernel"],
        "OperatingSystem": crate::host::system::os_name(),
        "OSType": "linux",
        "Architecture": host["arch"],
        "NCPU": crate::host::system::cpus(),
        "MemTotal": crate::host::system::mem_total(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "CgroupDriver": host["cgroupManager"],
        "CgroupVersion": if host["cgroupVersion"] == "v2" { "2" } else { "1" },
        "DefaultRuntime": host["ociRuntime"]["name"],
        "Runtimes": runtimes,
        "SecurityOptions": security,
        "Swarm": {"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": ""},
        "Labels": [],
        "ExperimentalBuild": false,
        "LiveRestoreEnabled": false,
        "Warnings": [],
    })))
}

/// `GET /libpod/info`: the same document as `hutch info --format json`.
pub async fn libpod_info(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
) -> Result<Json<Value>, ApiError> {
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || engine::info::gather(&ctx))
        .await
        .map(Json)
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
                flavor,
            )
        })
}
