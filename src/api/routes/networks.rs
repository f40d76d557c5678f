//! Docker's network routes: create, list, inspect, connect, disconnect,
//! delete and prune, on the engine's user networks (the ones `hutch
//! network` manages; containers on them resolve each other by name).

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hutch_rootless_net::networks::Network;
use serde_json::{Value, json};

use super::containers::{blocking, filters, flag, open};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::container::usernet;
use crate::engine::network::{self as netops, NetworkCreateOptions, NetworkFilters};
use crate::engine::network::{NetworkRemoveOptions, error as net_error};

type Q = Query<HashMap<String, String>>;

fn bad(flavor: ApiVersion, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message, flavor)
}

/// Docker's network object; `containers` for inspect (list leaves it
/// empty, as dockerd does).
fn docker_view(n: &Network, containers: Value) -> Value {
    let config: Vec<Value> = n
        .subnets
        .iter()
        .map(|s| json!({"Subnet": s.subnet, "Gateway": s.gateway}))
        .collect();
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": n.ipv6_enabled,
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": {},
        "Labels": n.labels,
    })
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default, rename = "IPRange")]
    ip_range: Option<String>,
    #[serde(default, rename = "AuxiliaryAddresses")]
    aux_address: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    config: Option<Vec<IpamConfig>>,
    #[serde(default)]
    options: Option<BTreeMap<String, String>>,
}

/// `POST /networks/create`'s body (Docker's `NetworkCreateRequest`).
/// Fields hutch cannot honour with a value are refused by name.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct CreateBody {
    name: String,
    // docker-py sends null for what the caller did not choose.
    #[serde(default)]
    check_duplicate: Option<bool>,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    internal: Option<bool>,
    #[serde(default)]
    attachable: Option<bool>,
    #[serde(default)]
    ingress: Option<bool>,
    #[serde(default, rename = "IPAM")]
    ipam: Option<Ipam>,
    #[serde(default, rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    /// API 1.48's; IPv4 is always on here.
    #[serde(default, rename = "EnableIPv4")]
    enable_ipv4: Option<bool>,
    #[serde(default)]
    options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    config_only: Option<bool>,
    #[serde(default)]
    config_from: Option<Value>,
}

/// The engine's options from Docker's body, or what cannot be served.
fn create_options(b: CreateBody) -> Result<NetworkCreateOptions, String> {
    let _ = (b.check_duplicate, b.attachable, &b.scope);
    if !matches!(b.driver.as_deref(), None | Some("" | "bridge")) {
        return Err(format!(
            "network driver {:?} is not supported: hutch has bridge networks only",
            b.driver
        ));
    }
    if b.ingress == Some(true)
        || b.config_only == Some(true)
        || b.config_from.is_some_and(|c| !c.is_null())
    {
        return Err("swarm networks (Ingress, ConfigOnly, ConfigFrom) are not supported".into());
    }
    if b.enable_ipv4 == Some(false) {
        return Err("networks without IPv4 are not supported".into());
    }
    if b.enable_ipv6 == Some(true) {
        return Err("IPv6 networks are not supported by hutch yet".into());
    }
    if let Some(o) = b.options.as_ref().filter(|o| !o.is_empty()) {
        let keys: Vec<&String> = o.keys().collect();
        return Err(format!("network options {keys:?} are not supported"));
    }
    let (mut subnet, mut gateway) = (None, None);
    if let Some(ipam) = b.ipam {
        if !matches!(ipam.driver.as_deref(), None | Some("" | "default")) {
            return Err(format!("IPAM driver {:?} is not supported", ipam.driver));
        }
        if ipam.options.is_some_and(|o| !o.is_empty()) {
            return Err("IPAM options are not supported".into());
        }
        let configs = ipam.config.unwrap_or_default();
        if configs.len() > 1 {
            return Err("one IPAM subnet per network is supported".into());
        }
        if let Some(c) = configs.into_iter().next() {
            if c.ip_range.is_some_and(|r| !r.is_empty())
                || c.aux_address.is_some_and(|a| !a.is_empty())
            {
                return Err("IPAM IPRange and AuxiliaryAddresses are not supported".into());
            }
            subnet = c.subnet.filter(|s| !s.is_empty());
            gateway = c.gateway.filter(|g| !g.is_empty());
            if gateway.is_some() && subnet.is_none() {
                return Err("an IPAM gateway needs a subnet".into());
            }
        }
    }
    Ok(NetworkCreateOptions {
        name: Some(b.name),
        subnet,
        gateway,
        internal: b.internal == Some(true),
        labels: b.labels.unwrap_or_default(),
    })
}

/// `POST /networks/create`: 201 `{"Id", "Warning"}`; 409 when the name is
/// taken.
pub async fn create(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| bad(flavor, format!("invalid network create body: {e}")))?;
    if b.name.is_empty() {
        return Err(bad(flavor, "a network name is required"));
    }
    let opts = create_options(b).map_err(|m| bad(flavor, m))?;
    let ctx = shared.ctx.clone();
    let n = blocking(flavor, move || netops::create(&ctx, &opts)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"Id": n.id, "Warning": ""})),
    )
        .into_response())
}

/// `GET /networks?filters=` (name, id, label, driver, type).
pub async fn list(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let raw = filters(&q, flavor)?;
    let ctx = shared.ctx.clone();
    let nets = blocking(flavor, move || {
        netops::list(&ctx, &NetworkFilters::parse(&raw)?)
    })
    .await?;
    let out: Vec<Value> = nets.iter().map(|n| docker_view(n, json!({}))).collect();
    Ok(axum::Json(out).into_response())
}

/// `GET /networks/{id}`: with the running containers on it.
pub async fn inspect(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(flavor, move || {
        let n = netops::store(&ctx)?.get(&id).map_err(net_error)?;
        let mut containers = serde_json::Map::new();
        for e in netops::endpoints_on(&ctx, &n) {
            containers.insert(
                e.id.clone(),
                json!({
                    "Name": e.name,
                    "EndpointID": "",
                    "MacAddress": e.mac,
                    "IPv4Address": format!("{}/{}", e.ip, e.prefix),
                    "IPv6Address": "",
                }),
            );
        }
        Ok(docker_view(&n, Value::Object(containers)))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointConfig {
    #[serde(default)]
    aliases: Option<Vec<String>>,
    /// `{"IPv4Address", "IPv6Address"}`: static addresses, as
    /// `network connect --ip/--ip6`.
    #[serde(default, rename = "IPAMConfig")]
    ipam_config: Option<Value>,
    #[serde(default)]
    mac_address: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectBody {
    container: String,
    #[serde(default)]
    endpoint_config: Option<EndpointConfig>,
    #[serde(default)]
    force: bool,
}

/// The container and the network, both looked up (404 for either).
fn parse_connect(body: &Bytes, flavor: ApiVersion) -> Result<ConnectBody, ApiError> {
    let b: ConnectBody = serde_json::from_slice(body)
        .map_err(|e| bad(flavor, format!("invalid network connect body: {e}")))?;
    if b.container.is_empty() {
        return Err(bad(flavor, "a container is required"));
    }
    Ok(b)
}

/// `POST /networks/{id}/connect` `{"Container", "EndpointConfig":
/// {"Aliases"}}`: 200.
pub async fn connect(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b = parse_connect(&body, flavor)?;
    let endpoint = b.endpoint_config.unwrap_or_default();
    let text = |key: &str| {
        endpoint
            .ipam_config
            .as_ref()
            .and_then(|i| i[key].as_str())
            .map(str::to_owned)
    };
    let statics = super::libpod_create::Statics {
        ip: text("IPv4Address"),
        ip6: text("IPv6Address"),
        mac: endpoint.mac_address.clone(),
    }
    .addresses()
    .map_err(|e| bad(flavor, e.0))?;
    let aliases = endpoint.aliases.unwrap_or_default();
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let net = netops::store(&ctx)?.get(&id).map_err(net_error)?;
        let (store, state) = open(&ctx)?;
        let c = state.container(&b.container)?;
        let wanted = hutch_rootless_net::Attachment {
            name: net.name,
            aliases,
            ip: statics.ip,
            ip6: statics.ip6,
            mac: statics.mac_address,
        };
        match usernet::connect(&ctx, store.root(), &c, wanted) {
            // docker-compose connects each container to the network it was
            // created on (with the same aliases, given at create): it is
            // there already, which is what was asked.
            Err(e) if e.kind() == crate::engine::ErrorKind::Conflict => Ok(()),
            other => other,
        }
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /networks/{id}/disconnect` `{"Container", "Force"}`: 200.
pub async fn disconnect(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b = parse_connect(&body, flavor)?;
    let _ = b.force;
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let net = netops::store(&ctx)?.get(&id).map_err(net_error)?;
        let (store, state) = open(&ctx)?;
        let c = state.container(&b.container)?;
        usernet::disconnect(&ctx, store.root(), &c, &net.name)
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// `DELETE /networks/{id}`: 204; 404 unknown, 409 in use. (`force` is
/// libpod's; Docker's API has none.)
pub async fn remove(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let opts = NetworkRemoveOptions {
        names: vec![id],
        force: flag(&q, "force", flavor)?,
        timeout: None,
    };
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let report = netops::remove_networks(&ctx, &store, &state, &opts)?;
        match report.into_iter().next().and_then(|r| r.error) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /networks/prune`: `{"NetworksDeleted": [names]}`. Filters are
/// refused rather than ignored.
pub async fn prune(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    // `until`, `label`, `label!`: the CLI's `network prune --filter`.
    let list = filters(&q, flavor)?;
    let ctx = shared.ctx.clone();
    let removed = blocking(flavor, move || {
        use crate::engine::prune_filter::{PruneFilters, PruneKind};
        let filters = PruneFilters::parse(&list, PruneKind::Network, crate::host::time::now_ns())?;
        let (store, state) = open(&ctx)?;
        netops::prune(&ctx, &store, &state, &filters)
    })
    .await?;
    Ok(axum::Json(json!({"NetworksDeleted": removed})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> CreateBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn create_bodies() {
        let o = create_options(body(json!({
            "Name": "n", "CheckDuplicate": true, "Driver": "bridge", "Internal": true,
            "Labels": {"a": "b"},
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0.1"}]},
        })))
        .unwrap();
        assert_eq!(o.subnet.as_deref(), Some("10.99.0.0/24"));
        assert_eq!(o.gateway.as_deref(), Some("10.99.0.1"));
        assert!(o.internal);
        assert_eq!(o.labels.get("a").map(String::as_str), Some("b"));
        assert!(create_options(body(json!({"Name": "n", "Driver": "overlay"}))).is_err());
        assert!(create_options(body(json!({"Name": "n", "EnableIPv6": true}))).is_err());
        assert!(serde_json::from_value::<CreateBody>(json!({"Name": "n", "Bogus": 1})).is_err());
    }
}
