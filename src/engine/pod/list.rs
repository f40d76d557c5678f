//! `pod ps`: pods as typed summaries, filtered; the front end sorts and
//! formats them.

use hutch_storage::Store;

use super::{Pod, all, status};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::container::lifecycle::{self, state_name};
use crate::engine::state::{Container, State};

/// Podman's `pod ps --filter` keys.
const FILTER_KEYS: [&str; 8] = [
    "id",
    "name",
    "status",
    "label",
    "ctr-names",
    "ctr-ids",
    "ctr-status",
    "ctr-number",
];

/// One `--filter KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFilter {
    pub key: String,
    pub value: String,
}

impl PodFilter {
    pub fn parse(f: &str) -> Result<PodFilter> {
        let Some((k, v)) = f.split_once('=') else {
            crate::fail!(BadInput, "invalid filter {f:?}: use KEY=VALUE");
        };
        if !FILTER_KEYS.contains(&k) {
            crate::fail!(BadInput, "{k} is an invalid filter");
        }
        if k == "status"
            && !matches!(
                v,
                "stopped" | "running" | "paused" | "exited" | "dead" | "created" | "degraded"
            )
        {
            crate::fail!(BadInput, "{v} is not a valid status");
        }
        Ok(PodFilter {
            key: k.to_owned(),
            value: v.to_owned(),
        })
    }
}

/// One container of a pod, as `pod ps` shows it.
#[derive(Debug, Clone)]
pub struct PodMember {
    pub id: String,
    pub name: String,
    /// Podman's state name (`running`, `exited`...).
    pub status: &'static str,
}

/// A pod as `pod ps` shows it.
#[derive(Debug, Clone)]
pub struct PodSummary {
    pub id: String,
    pub name: String,
    /// Podman's pod status: Created, Running, Degraded, Paused, Stopped,
    /// Exited, Error.
    pub status: &'static str,
    /// Unix nanoseconds.
    pub created: i64,
    pub infra_id: Option<String>,
    pub labels: Vec<(String, String)>,
    pub containers: Vec<PodMember>,
    /// User networks the pod is on (by name).
    pub networks: Vec<String>,
}

/// Every pod that passes `filters` (values of one key are alternatives,
/// different keys must all match), oldest first.
pub fn list(
    ctx: &Context,
    store: &Store,
    state: &State,
    filters: &[PodFilter],
) -> Result<Vec<PodSummary>> {
    lifecycle::recover(ctx, store, state)?;
    let mut out = Vec::new();
    for pod in all(state)? {
        let ctrs = pod.containers(state)?;
        let s = summary(&pod, &ctrs);
        if passes(&s, filters) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Podman's `ListPodsReport` for `p`: `pod ps --format json` and the
/// libpod API's `GET /pods/json` entry.
pub fn report_view(p: &PodSummary) -> serde_json::Value {
    serde_json::json!({
        "Cgroup": "",
        "Containers": p.containers.iter().map(|c| serde_json::json!({
            "Id": c.id,
            "Names": c.name,
            "Status": c.status,
        })).collect::<Vec<_>>(),
        "Created": crate::engine::container::inspect::rfc3339_nano(Some(p.created)),
        "Id": p.id,
        "InfraId": p.infra_id.clone().unwrap_or_default(),
        "Name": p.name,
        "Namespace": "",
        "Networks": p.networks,
        "Status": p.status,
        "Labels": p.labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
    })
}

pub fn summary(pod: &Pod, ctrs: &[Container]) -> PodSummary {
    let networks = match &pod.config.network.mode {
        Some(hutch_rootless_net::NetworkMode::Network { name }) => vec![name.clone()],
        _ => Vec::new(),
    };
    PodSummary {
        id: pod.id.clone(),
        name: pod.name.clone(),
        status: status(ctrs),
        created: pod.created,
        infra_id: pod.infra_id.clone(),
        labels: pod
            .config
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        containers: ctrs
            .iter()
            .map(|c| PodMember {
                id: c.id.clone(),
                name: c.name.clone(),
                status: state_name(c.state),
            })
            .collect(),
        networks,
    }
}

fn passes(p: &PodSummary, filters: &[PodFilter]) -> bool {
    let mut keys: Vec<&str> = filters.iter().map(|f| f.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().all(|key| {
        let one = |f: &PodFilter| {
            let v = f.value.as_str();
            match key {
                "id" => p.id.starts_with(v),
                "name" => p.name.contains(v),
                "status" => p.status.eq_ignore_ascii_case(v),
                "label" => {
                    let (lk, lv) = match v.split_once('=') {
                        Some((k, val)) => (k, Some(val)),
                        None => (v, None),
                    };
                    p.labels
                        .iter()
                        .any(|(k, val)| k == lk && lv.is_none_or(|lv| lv == val))
                }
                "ctr-names" => p.containers.iter().any(|c| c.name.contains(v)),
                "ctr-ids" => p.containers.iter().any(|c| c.id.starts_with(v)),
                "ctr-status" => p.containers.iter().any(|c| c.status == v),
                "ctr-number" => v.parse::<usize>().is_ok_and(|n| p.containers.len() == n),
                _ => false,
            }
        };
        let mut same = filters.iter().filter(|f| f.key == key);
        if key == "label" {
            same.all(one)
        } else {
            same.any(one)
        }
    })
}

/// The pod filters of a command line.
pub fn parse_filters(raw: &[String]) -> Result<Vec<PodFilter>> {
    raw.iter().map(|f| PodFilter::parse(f)).collect()
}
