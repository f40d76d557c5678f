//! The libpod volume and network routes (list, create, inspect, exists,
//! delete, connect, disconnect) and the prunes. Each calls what the CLI's
//! `volume` and `network` commands call.

use crate::engine::prune_filter::{PruneFilters, PruneKind};
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
use crate::engine::network::{self as netops, NetworkCreateOptions, NetworkRemoveOptions};
use crate::engine::volume::{self, VolumeCreate, VolumeFilters};
use crate::engine::{self, image};

type Q = Query<HashMap<String, String>>;

const LP: ApiVersion = ApiVersion::Libpod;

/// `POST /libpod/volumes/create`'s body (Podman sends `Label`; `Labels`
/// is the Docker spelling).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default, deny_unknown_fields)]
struct VolumeBody {
    name: String,
    driver: String,
    label: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    options: Option<BTreeMap<String, String>>,
    #[serde(rename = "IgnoreIfExists")]
    ignore_if_exists: bool,
}

/// `GET /libpod/volumes/json?filters=`.
pub async fn volume_list(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    let raw = filters(&q, LP)?;
    let ctx = shared.ctx.clone();
    let rows = blocking(LP, move || {
        let filters = VolumeFilters::parse(&raw)?;
        let state = engine::container::open_state(&ctx)?;
        Ok(volume::list(&state, &filters)?
            .iter()
            .map(|v| volume::inspect_view(&state, v))
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(axum::Json(rows).into_response())
}

/// `POST /libpod/volumes/create`: 201 with the volume's inspect object.
pub async fn volume_create(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: VolumeBody = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("invalid volume create body: {e}")))?;
    if !matches!(b.driver.as_str(), "" | "local") {
        return Err(bad(format!(
            "volume driver {:?} is not supported: hutch has the local driver only",
            b.driver
        )));
    }
    let req = VolumeCreate {
        name: Some(b.name).filter(|n| !n.is_empty()),
        labels: b.label.or(b.labels).unwrap_or_default(),
        options: b.options.unwrap_or_default(),
        anonymous: false,
    };
    let ignore = b.ignore_if_exists;
    let ctx = shared.ctx.clone();
    let v = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let state = engine::container::open_state(&ctx)?;
        if ignore
            && let Some(n) = &req.name
            && let Ok(v) = state.volume(n)
        {
            return Ok(volume::inspect_view(&state, &v));
        }
        let v = volume::create(&state, &volume::volumes_root(&ctx, store.root()), &req)?;
        Ok(volume::inspect_view(&state, &v))
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `GET /libpod/volumes/{name}/json`.
pub async fn volume_inspect(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(LP, move || {
        let state = engine::container::open_state(&ctx)?;
        let v = state.volume(&name)?;
        Ok(volume::inspect_view(&state, &v))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// `GET /libpod/volumes/{name}/exists`: 204 or 404.
pub async fn volume_exists(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let found = blocking(LP, move || {
        let state = engine::container::open_state(&ctx)?;
        volume::exists(&state, &name)
    })
    .await?;
    if found {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "no such volume", LP))
    }
}

/// `DELETE /libpod/volumes/{name}?force=`: 204; 404 unknown, 409 in use.
pub async fn volume_delete(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force", LP)?;
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        volume::remove_volume(&ctx, &store, &state, &name, force, None)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /libpod/networks/create`'s body, as Podman's client sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NetworkBody {
    name: String,
    driver: String,
    subnets: Option<Vec<Subnet>>,
    internal: bool,
    ipv6_enabled: bool,
    labels: Option<BTreeMap<String, String>>,
    options: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Subnet {
    subnet: String,
    gateway: String,
}

/// `GET /libpod/networks/json`: the records `network inspect` prints.
pub async fn network_list(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    let raw = filters(&q, LP)?;
    let ctx = shared.ctx.clone();
    let rows = blocking(LP, move || {
        let filters = netops::NetworkFilters::parse(&raw)?;
        let names: Vec<String> = netops::list(&ctx, &filters)?
            .into_iter()
            .map(|n| n.name)
            .collect();
        netops::inspect(&ctx, &names)
    })
    .await?;
    Ok(axum::Json(rows).into_response())
}

/// `POST /libpod/networks/create`: 200 with the network's record.
pub async fn network_create(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: NetworkBody = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("invalid network create body: {e}")))?;
    // What the client fills in itself (`id`, `created`, `dns_enabled`,
    // the IPAM driver) is ignored; anything else asking for something is
    // refused.
    for (k, v) in &b.rest {
        let ignored = matches!(
            k.as_str(),
            "id" | "created" | "dns_enabled" | "ipam_options" | "network_interface"
        );
        if !ignored && !matches!(v, Value::Null | Value::Bool(false)) && v != "" {
            return Err(bad(format!("{k} is not supported by hutch's API service")));
        }
    }
    if !matches!(b.driver.as_str(), "" | "bridge") {
        return Err(bad(format!(
            "network driver {:?} is not supported: hutch has bridge networks only",
            b.driver
        )));
    }
    if b.ipv6_enabled || b.options.is_some_and(|o| !o.is_empty()) {
        return Err(bad(
            "IPv6 and driver options are not supported by hutch's API service",
        ));
    }
    let subnets = b.subnets.unwrap_or_default();
    if subnets.len() > 1 {
        return Err(bad("one subnet per network is supported"));
    }
    let first = subnets.into_iter().next().unwrap_or_default();
    let opts = NetworkCreateOptions {
        name: Some(b.name).filter(|n| !n.is_empty()),
        subnet: Some(first.subnet).filter(|s| !s.is_empty()),
        gateway: Some(first.gateway).filter(|g| !g.is_empty()),
        internal: b.internal,
        labels: b.labels.unwrap_or_default(),
    };
    let ctx = shared.ctx.clone();
    let v = blocking(LP, move || {
        let n = netops::create(&ctx, &opts)?;
        netops::inspect(&ctx, &[n.name])
    })
    .await?;
    Ok(axum::Json(v.into_iter().next().unwrap_or(Value::Null)).into_response())
}

/// `GET /libpod/networks/{name}/json`.
pub async fn network_inspect(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(LP, move || netops::inspect(&ctx, &[name])).await?;
    Ok(axum::Json(v.into_iter().next().unwrap_or(Value::Null)).into_response())
}

/// `GET /libpod/networks/{name}/exists`: 204 or 404.
pub async fn network_exists(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        netops::store(&ctx)?.get(&name).map_err(netops::error)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /libpod/networks/{name}?force=`: 200 `[{"Name", "Err"}]`; 404
/// unknown, 409 in use (without `force`).
pub async fn network_delete(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let opts = NetworkRemoveOptions {
        names: vec![name],
        force: flag(&q, "force", LP)?,
        timeout: None,
    };
    let ctx = shared.ctx.clone();
    let reports = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let mut out = Vec::new();
        for r in netops::remove_networks(&ctx, &store, &state, &opts)? {
            if let Some(e) = r.error {
                return Err(e);
            }
            out.push(json!({"Name": r.name, "Err": null}));
        }
        Ok(out)
    })
    .await?;
    Ok(axum::Json(reports).into_response())
}

/// `POST /libpod/networks/{name}/connect`'s body (Podman's
/// NetworkConnectOptions: the container and its per-network options).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConnectBody {
    #[serde(alias = "Container")]
    container: String,
    aliases: Option<Vec<String>>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// `POST /libpod/networks/{name}/connect`: 200; 404 for either object,
/// 409 when the container is on the network already (as Podman).
pub async fn network_connect(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: ConnectBody = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("invalid network connect body: {e}")))?;
    if b.container.is_empty() {
        return Err(bad("a container is required"));
    }
    // Podman's per-network options: `static_ips` (one IPv4, one IPv6
    // address) and `static_mac`, as `network connect --ip/--mac-address`.
    let mut rest = b.rest;
    let opts = json!({
        "static_ips": rest.remove("static_ips").unwrap_or(Value::Null),
        "static_mac": rest.remove("static_mac").unwrap_or(Value::Null),
    });
    let statics = super::libpod_create::Statics::of_network(&opts)
        .and_then(super::libpod_create::Statics::addresses)
        .map_err(|e| bad(e.0))?;
    if let Some((k, _)) = rest.iter().find(|(_, v)| {
        !matches!(v, Value::Null) && *v != "" && *v != &json!([]) && *v != &json!({})
    }) {
        return Err(bad(format!("{k} is not supported by hutch's API service")));
    }
    let aliases = b.aliases.unwrap_or_default();
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let net = netops::store(&ctx)?.get(&name).map_err(netops::error)?;
        let (store, state) = open(&ctx)?;
        let c = state.container(&b.container)?;
        let wanted = hutch_rootless_net::Attachment {
            name: net.name,
            aliases,
            ip: statics.ip,
            ip6: statics.ip6,
            mac: statics.mac_address,
        };
        crate::engine::container::usernet::connect(&ctx, store.root(), &c, wanted)
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /libpod/networks/{name}/disconnect` `{"Container", "Force"}`.
pub async fn network_disconnect(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: ConnectBody = serde_json::from_slice(&body)
        .map_err(|e| bad(format!("invalid network disconnect body: {e}")))?;
    if b.container.is_empty() {
        return Err(bad("a container is required"));
    }
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let net = netops::store(&ctx)?.get(&name).map_err(netops::error)?;
        let (store, state) = open(&ctx)?;
        let c = state.container(&b.container)?;
        crate::engine::container::usernet::disconnect(&ctx, store.root(), &c, &net.name)
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// Any other path: a JSON 404 in the API's shape (clients decode error
/// bodies; an empty one makes Podman's fail with "unexpected end of JSON
/// input").
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let flavor = if uri.path().starts_with("/libpod/") {
        LP
    } else {
        ApiVersion::Docker(
            crate::api::DOCKER_API_VERSION.0,
            crate::api::DOCKER_API_VERSION.1,
        )
    };
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("page not found: {} is not served by hutch", uri.path()),
        flavor,
    )
    .into_response()
}

/// Podman's prune reports: `[{"Id", "Size", "Err"}]`.
fn prune_reports(ids: impl IntoIterator<Item = (String, Option<String>)>) -> Value {
    json!(
        ids.into_iter()
            .map(|(id, err)| json!({"Id": id, "Size": 0, "Err": err}))
            .collect::<Vec<_>>()
    )
}

/// `POST /libpod/containers/prune`: every container down for good.
pub async fn container_prune(
    State(shared): State<Shared>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let list = filters(&q, LP)?;
    let ctx = shared.ctx.clone();
    let reports = blocking(LP, move || {
        let filters =
            PruneFilters::parse(&list, PruneKind::Container, crate::host::time::now_ns())?;
        let (store, state) = open(&ctx)?;
        let reports = engine::container::prune::prune(
            &ctx,
            &store,
            &state,
            &engine::container::prune::PruneOptions { filters },
        )?;
        Ok(reports
            .into_iter()
            .filter(|r| !r.id.is_empty())
            .map(|r| (r.id, r.error.map(|e| e.text())))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(axum::Json(prune_reports(reports)).into_response())
}

/// `POST /libpod/images/prune?all=`: dangling images (all unused ones
/// with `all`).
pub async fn image_prune(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    let list = filters(&q, LP)?;
    let all = flag(&q, "all", LP)?;
    let ctx = shared.ctx.clone();
    let ids = blocking(LP, move || {
        let filters = PruneFilters::parse(&list, PruneKind::Image, crate::host::time::now_ns())?;
        let store = image::open_store(&ctx)?;
        image::prune::prune(&store, &image::prune::ImagePruneOptions { all, filters })
    })
    .await?;
    Ok(axum::Json(prune_reports(ids.into_iter().map(|i| (i, None)))).into_response())
}

/// `POST /libpod/volumes/prune`: volumes no container uses.
pub async fn volume_prune(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    // The CLI's `volume prune --filter` (label, until, ...).
    let list = filters(&q, LP)?;
    let ctx = shared.ctx.clone();
    let names = blocking(LP, move || {
        let f = VolumeFilters::parse(&list)?;
        let state = engine::container::open_state(&ctx)?;
        volume::prune(&state, &|v| !f.matches(v, false))
    })
    .await?;
    Ok(axum::Json(prune_reports(names.into_iter().map(|n| (n, None)))).into_response())
}

/// `POST /libpod/networks/prune`: networks no container uses;
/// `[{"Name", "Error"}]`.
pub async fn network_prune(
    State(shared): State<Shared>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    // `until`, `label`, `label!`: the CLI's `network prune --filter`.
    let list = filters(&q, LP)?;
    let ctx = shared.ctx.clone();
    let names = blocking(LP, move || {
        let filters = PruneFilters::parse(&list, PruneKind::Network, crate::host::time::now_ns())?;
        let (store, state) = open(&ctx)?;
        netops::prune(&ctx, &store, &state, &filters)
    })
    .await?;
    let out: Vec<Value> = names
        .into_iter()
        .map(|n| json!({"Name": n, "Error": null}))
        .collect();
    Ok(axum::Json(out).into_response())
}

/// A path served with another method: a JSON 405 clients can decode.
pub async fn wrong_method(uri: axum::http::Uri) -> Response {
    let flavor = if uri.path().starts_with("/libpod/") {
        LP
    } else {
        ApiVersion::Docker(
            crate::api::DOCKER_API_VERSION.0,
            crate::api::DOCKER_API_VERSION.1,
        )
    };
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take this method", uri.path()),
        flavor,
    )
    .into_response()
}
