//! The libpod pod routes (`/libpod/pods/...`), as `podman --remote` 4.3.1
//! calls them: create from a PodSpecGenerator body, list in Podman's
//! `ListPodsReport` shape, inspect (what `hutch pod inspect` prints),
//! exists, start, stop, restart, kill, pause, unpause, remove, top, stats
//! and prune. Each calls the engine operation the CLI calls.
//!
//! Podman's client resolves a name with `pods/json` and `pods/{name}/json`
//! first, then acts on the id.

use super::libpod_create::{PortMapping, Statics};
use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hutch_rootless_net::DnsConfig;
use serde::Deserialize;
use serde_json::{Value, json};

use super::containers::{blocking, filters, flag, open};
use super::libpod_containers::{Pairs, bad};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::container::top::TopOptions;
use crate::engine::pod::create::PodCreateOptions;
use crate::engine::pod::lifecycle::{PodAction, PodReport, PodSelection};
use crate::engine::pod::remove::PodRemoveOptions;
use crate::engine::pod::stats::{PodStats, PodStatsOptions};
use crate::engine::pod::{self as pods, list};
use crate::engine::{self, ErrorKind};
use crate::spec::pod::{DEFAULT_SHARE, ExitPolicy, PodConfig, SHAREABLE};
use crate::spec::{ResourceRequest, parse};

type Q = Query<HashMap<String, String>>;

const LP: ApiVersion = ApiVersion::Libpod;

/// `{"nsmode": "host", "value": ""}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Namespace {
    nsmode: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemoryLimits {
    limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CpuLimits {
    quota: Option<i64>,
    period: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Limits {
    memory: Option<MemoryLimits>,
    cpu: Option<CpuLimits>,
}

/// The part of Podman's PodSpecGenerator hutch reads; what the client
/// sends besides (its defaults, id mappings) is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PodSpec {
    name: String,
    labels: Option<BTreeMap<String, String>>,
    no_infra: bool,
    infra_image: String,
    infra_command: Option<Vec<String>>,
    infra_name: String,
    shared_namespaces: Option<Vec<String>>,
    exit_policy: String,
    hostname: String,
    hostadd: Option<Vec<String>>,
    netns: Option<Namespace>,
    #[serde(rename = "Networks", alias = "networks")]
    networks: Option<BTreeMap<String, Value>>,
    /// The infra container's addresses (`pod create --ip`), also given
    /// per network.
    static_ip: Option<String>,
    static_ipv6: Option<String>,
    static_mac: Option<String>,
    portmappings: Option<Vec<PortMapping>>,
    dns_server: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    dns_option: Option<Vec<String>>,
    network_alias: Option<Vec<String>>,
    pod_create_command: Option<Vec<String>>,
    resource_limits: Option<Limits>,
    cpu_period: Option<u64>,
    cpu_quota: Option<i64>,
    cgroup_parent: String,
    userns: Option<Namespace>,
}

fn opt(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

/// The pod create request for a PodSpecGenerator body, through the CLI's
/// own parsers (ports, networks, hosts, user namespace).
fn create_options(body: &[u8]) -> anyhow::Result<PodCreateOptions> {
    let g: PodSpec = serde_json::from_slice(body)
        .map_err(|e| anyhow::anyhow!("invalid pod create body: {e}"))?;
    let mut ports = Vec::new();
    for p in g.portmappings.iter().flatten() {
        ports.extend(p.publish_flags().map_err(anyhow::Error::msg)?);
    }
    let networks = g.networks.unwrap_or_default();
    let statics = Statics::of_networks(
        &networks,
        Statics {
            ip: g.static_ip.clone(),
            ip6: g.static_ipv6.clone(),
            mac: g.static_mac.clone(),
        },
    )
    .map_err(|e| anyhow::anyhow!(e.0))?;
    let mut names: Vec<String> = networks.into_keys().collect();
    let nsmode = g.netns.as_ref().map(|n| n.nsmode.as_str()).unwrap_or("");
    let mode: Option<String> = match nsmode {
        "" | "default" | "private" | "bridge" if names.is_empty() => None,
        "" | "default" | "private" | "bridge" => Some(names.remove(0)),
        m => Some(match g.netns.as_ref().map(|n| n.value.as_str()) {
            Some(v) if !v.is_empty() => format!("{m}:{v}"),
            _ => m.to_owned(),
        }),
    };
    let aliases = g.network_alias.unwrap_or_default();
    let mut network = parse::network(&parse::NetworkFlags {
        mode: mode.as_deref(),
        publish: &ports,
        publish_all: false,
        dns: DnsConfig {
            servers: g.dns_server.unwrap_or_default(),
            search: g.dns_search.unwrap_or_default(),
            options: g.dns_option.unwrap_or_default(),
        },
        aliases: &aliases,
    })?;
    network.connected.extend(names);
    statics
        .apply(&mut network)
        .map_err(|e| anyhow::anyhow!(e.0))?;
    let share = match g.shared_namespaces {
        Some(list) => {
            for ns in &list {
                if !SHAREABLE.contains(&ns.as_str()) {
                    anyhow::bail!(
                        "invalid kernel namespace to share: {ns}. Options are: cgroup, ipc, net, pid, uts or none"
                    );
                }
            }
            list
        }
        None => DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(),
    };
    let limits = g.resource_limits.unwrap_or_default();
    let quota = limits
        .cpu
        .as_ref()
        .and_then(|c| c.quota)
        .or(g.cpu_quota)
        .filter(|q| *q > 0);
    let period = limits
        .cpu
        .as_ref()
        .and_then(|c| c.period)
        .or(g.cpu_period)
        .filter(|p| *p > 0)
        .unwrap_or(crate::cgroups::pod::CPU_PERIOD);
    let userns = match g
        .userns
        .as_ref()
        .map(|u| (u.nsmode.as_str(), u.value.as_str()))
    {
        None | Some(("" | "default", _)) => None,
        Some((m, "")) => Some(m.to_owned()),
        Some((m, v)) => Some(format!("{m}:{v}")),
    };
    let config = PodConfig {
        labels: g.labels.unwrap_or_default(),
        infra: !g.no_infra,
        infra_image: opt(g.infra_image),
        infra_command: g.infra_command.filter(|c| !c.is_empty()),
        infra_name: opt(g.infra_name),
        share,
        exit_policy: match g.exit_policy.as_str() {
            "" => ExitPolicy::Continue,
            p => ExitPolicy::parse(p)?,
        },
        hostname: opt(g.hostname),
        network,
        add_hosts: g
            .hostadd
            .unwrap_or_default()
            .iter()
            .map(|h| parse::hosts::add_host(h))
            .collect::<anyhow::Result<_>>()?,
        userns: parse::userns::userns(userns.as_deref(), &[], &[])?,
        create_command: g.pod_create_command.unwrap_or_default(),
        infra_monitor_pidfile: None,
        resources: ResourceRequest {
            memory: limits.memory.and_then(|m| m.limit).filter(|m| *m > 0),
            nano_cpus: quota.map(|q| (q as u128 * 1_000_000_000 / period as u128) as u64),
            cgroup_parent: opt(g.cgroup_parent),
            ..ResourceRequest::default()
        },
        cgroup: None,
        ..PodConfig::default()
    };
    Ok(PodCreateOptions {
        name: opt(g.name),
        config,
        replace: false,
    })
}

/// `POST /libpod/pods/create`: 201 `{"Id"}`.
pub async fn create(State(shared): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let opts = create_options(&body).map_err(|e| bad(format!("{e:#}")))?;
    opts.validate().map_err(|e| ApiError::from_engine(&e, LP))?;
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        pods::create::create(&ctx, &store, &state, &opts)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"Id": report.id}))).into_response())
}

/// Go's `time.Time` in JSON.
fn rfc3339_nano(ns: i64) -> String {
    let base = crate::host::time::rfc3339(ns.div_euclid(1_000_000_000));
    let frac = ns.rem_euclid(1_000_000_000);
    if frac == 0 {
        return base;
    }
    let digits = format!("{frac:09}");
    format!(
        "{}.{}Z",
        base.trim_end_matches('Z'),
        digits.trim_end_matches('0')
    )
}

/// Podman's `ListPodsReport`.
fn list_entry(s: &list::PodSummary, cgroup: Option<&str>) -> Value {
    json!({
        "Cgroup": cgroup.unwrap_or(""),
        "Containers": s.containers.iter().map(|c| json!({
            "Id": c.id, "Names": c.name, "Status": c.status,
        })).collect::<Vec<_>>(),
        "Created": rfc3339_nano(s.created),
        "Id": s.id,
        "InfraId": s.infra_id.clone().unwrap_or_default(),
        "Name": s.name,
        "Namespace": "",
        "Networks": s.networks,
        "Status": s.status,
        "Labels": s.labels.iter().cloned().collect::<BTreeMap<String, String>>(),
    })
}

/// `GET /libpod/pods/json?filters=`.
pub async fn list(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    let raw = filters(&q, LP)?;
    let ctx = shared.ctx.clone();
    let rows = blocking(LP, move || {
        let filters = list::parse_filters(&raw)?;
        let (store, state) = open(&ctx)?;
        let mut out = Vec::new();
        for s in list::list(&ctx, &store, &state, &filters)? {
            let cgroup = pods::lookup(&state, &s.id)
                .ok()
                .and_then(|p| p.config.cgroup.map(|c| c.parent));
            out.push(list_entry(&s, cgroup.as_deref()));
        }
        Ok(out)
    })
    .await?;
    Ok(axum::Json(rows).into_response())
}

/// `GET /libpod/pods/{name}/json`: what `pod inspect` prints.
pub async fn inspect(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        pods::inspect::inspect(&ctx, &store, &state, &name)
    })
    .await?;
    Ok(axum::Json(report).into_response())
}

/// `GET /libpod/pods/{name}/exists`: 204 or 404.
pub async fn exists(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let state = engine::container::open_state(&ctx)?;
        pods::lookup(&state, &name).map(|_| ())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A pod action's answer: 200 `{"Errs", "Id"}`; else the first error,
/// with Podman's statuses: 409 for a kill with nothing running, 500 for
/// the others (a pause without a freezer).
fn action_reply(r: PodReport, kill: bool) -> Response {
    if let Some(e) = r.errors.first() {
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::BadInput => StatusCode::BAD_REQUEST,
            ErrorKind::InvalidState if kill => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        return ApiError::new(status, e.text(), LP).into_response();
    }
    axum::Json(json!({"Errs": null, "Id": r.id})).into_response()
}

async fn act(shared: Shared, name: String, action: PodAction) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let kill = matches!(action, PodAction::Kill { .. });
    let mut reports = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let select = PodSelection {
            names: vec![name],
            all: false,
        };
        pods::lifecycle::act(&ctx, &store, &state, &select, &action)
    })
    .await?;
    match reports.pop() {
        Some(r) => Ok(action_reply(r, kill)),
        None => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the pod operation gave no report",
            LP,
        )),
    }
}

/// `POST /libpod/pods/{name}/start`.
pub async fn start(State(s): State<Shared>, Path(n): Path<String>) -> Result<Response, ApiError> {
    act(s, n, PodAction::Start).await
}

/// Podman's `timeout` query: absent, empty or negative is the containers'
/// own stop timeout.
fn timeout(q: &HashMap<String, String>) -> Result<Option<u32>, ApiError> {
    match q.get("timeout").or(q.get("t")).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n < 0 => Ok(None),
            Ok(n) => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
            Err(_) => Err(bad(format!(
                "invalid value {v:?} for timeout: expected a number"
            ))),
        },
    }
}

/// `POST /libpod/pods/{name}/stop?timeout=`.
pub async fn stop(
    State(s): State<Shared>,
    Path(n): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let timeout = timeout(&q)?;
    act(s, n, PodAction::Stop { timeout }).await
}

/// `POST /libpod/pods/{name}/restart`.
pub async fn restart(State(s): State<Shared>, Path(n): Path<String>) -> Result<Response, ApiError> {
    act(s, n, PodAction::Restart { timeout: None }).await
}

/// `POST /libpod/pods/{name}/kill?signal=`.
pub async fn kill(
    State(s): State<Shared>,
    Path(n): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let signal = q
        .get("signal")
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(|| "KILL".to_owned());
    act(s, n, PodAction::Kill { signal }).await
}

/// `POST /libpod/pods/{name}/pause`.
pub async fn pause(State(s): State<Shared>, Path(n): Path<String>) -> Result<Response, ApiError> {
    act(s, n, PodAction::Pause).await
}

/// `POST /libpod/pods/{name}/unpause`.
pub async fn unpause(State(s): State<Shared>, Path(n): Path<String>) -> Result<Response, ApiError> {
    act(s, n, PodAction::Unpause).await
}

/// `DELETE /libpod/pods/{name}?force=&timeout=`: 200 `{"Err", "Id"}`.
pub async fn remove(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force", LP)?;
    let timeout = timeout(&q)?;
    let ctx = shared.ctx.clone();
    let mut reports = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let opts = PodRemoveOptions {
            select: PodSelection {
                names: vec![name],
                all: false,
            },
            force,
            ignore: false,
            timeout: timeout.filter(|_| force),
        };
        pods::remove::remove(&ctx, &store, &state, &opts)
    })
    .await?;
    let Some(r) = reports.pop() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "pod removal gave no report",
            LP,
        ));
    };
    match r.error {
        Some(e) => Err(ApiError::from_engine(&e, LP)),
        None => Ok(axum::Json(json!({"Err": null, "Id": r.id})).into_response()),
    }
}

/// `POST /libpod/pods/prune`: `[{"Err", "Id"}]`.
pub async fn prune(State(shared): State<Shared>) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let reports = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        pods::remove::prune(&ctx, &store, &state)
    })
    .await?;
    let out: Vec<Value> = reports
        .into_iter()
        .map(|r| json!({"Err": r.error.map(|e| e.text()), "Id": r.id}))
        .collect();
    Ok(axum::Json(out).into_response())
}

/// `GET /libpod/pods/{name}/top?ps_args=`: `{"Processes", "Titles"}`
/// (one answer; `stream` is not followed).
pub async fn top(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let descriptors: Vec<String> = q
        .get("ps_args")
        .map(|a| {
            a.split([',', ' '])
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        pods::top::top(&store, &state, &name, &TopOptions { descriptors })
    })
    .await?;
    Ok(axum::Json(json!({"Processes": report.rows, "Titles": report.headers})).into_response())
}

/// `GET /libpod/pods/stats?all=&namesOrIDs=`: one sample of Podman's
/// `PodStatsReport`s.
pub async fn stats(State(shared): State<Shared>, Query(q): Pairs) -> Result<Response, ApiError> {
    let mut opts = PodStatsOptions::default();
    for (k, v) in &q {
        match k.as_str() {
            "all" => opts.all = matches!(v.to_ascii_lowercase().as_str(), "1" | "true"),
            "namesOrIDs" => opts.pods.push(v.clone()),
            _ => {}
        }
    }
    let ctx = shared.ctx.clone();
    let rows = blocking(LP, move || {
        let state = engine::container::open_state(&ctx)?;
        let mut stats = PodStats::open(&ctx, &state, &opts)?;
        Ok(stats
            .sample()
            .iter()
            .map(|r| r.podman_view())
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(axum::Json(rows).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_remote_pod_create_body_reads() {
        // What `podman --remote pod create --name rp -p 8080:80 --label a=b
        // --cpus 1 --memory 64m` sends (4.3.1, trimmed).
        let body = br#"{"name":"rp","exit_policy":"continue","labels":{"a":"b"},
            "shared_namespaces":["ipc","net","uts"],"share_parent":true,
            "pod_create_command":["podman","pod","create"],"pidns":{"nsmode":"private"},
            "userns":{},"utsns":{},"netns":{},
            "portmappings":[{"host_ip":"","container_port":80,"host_port":8080,"range":1,"protocol":""}],
            "Networks":null,"resource_limits":{"memory":{"limit":67108864,"swap":134217728},
            "cpu":{"quota":100000,"period":100000}},"cpu_period":100000,"cpu_quota":100000,
            "idmappings":{"HostUIDMapping":true}}"#;
        let o = create_options(body).expect("parsed");
        assert_eq!(o.name.as_deref(), Some("rp"));
        let c = &o.config;
        assert!(c.infra);
        assert_eq!(c.labels.get("a").map(String::as_str), Some("b"));
        assert_eq!(c.share, ["ipc", "net", "uts"]);
        assert_eq!(c.network.ports.len(), 1);
        assert_eq!(c.network.ports[0].host_port, 8080);
        assert_eq!(c.network.ports[0].container_port, 80);
        assert_eq!(c.resources.memory, Some(64 << 20));
        assert_eq!(c.resources.nano_cpus, Some(1_000_000_000));
        assert!(create_options(br#"{"shared_namespaces":["mnt"]}"#).is_err());
        assert!(create_options(b"[").is_err());
    }
}
