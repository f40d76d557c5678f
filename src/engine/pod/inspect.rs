//! `pod inspect`: Podman's `InspectPodData`, field for field where hutch
//! has the value (a pod without a cgroup, where the host delegates none:
//! `CreateCgroup` is false and the cgroup fields are left out, as Podman
//! leaves out empty ones).

use std::collections::BTreeMap;

use hutch_storage::Store;
use serde::Serialize;

use super::{PodConfig, lookup, status};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::container::lifecycle::{self, state_name};
use crate::engine::state::State;
use crate::host::time;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodInspect {
    pub id: String,
    pub name: String,
    pub created: String,
    pub create_command: Vec<String>,
    pub exit_policy: &'static str,
    pub state: &'static str,
    pub hostname: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub create_cgroup: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_path: Option<String>,
    pub create_infra: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infra_container_i_d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infra_config: Option<InfraConfig>,
    pub shared_namespaces: Vec<String>,
    pub num_containers: usize,
    pub containers: Vec<PodInspectContainer>,
    #[serde(flatten)]
    pub limits: PodLimits,
}

/// The pod's limits, in Podman's (snake case) names; left out when unset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PodLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<i64>,
    /// Podman's default: twice the memory limit (memory plus as much swap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InfraConfig {
    #[serde(rename = "PortBindings")]
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    #[serde(rename = "HostNetwork")]
    pub host_network: bool,
    #[serde(rename = "StaticIP")]
    pub static_ip: String,
    #[serde(rename = "StaticMAC")]
    pub static_mac: String,
    #[serde(rename = "NoManageResolvConf")]
    pub no_manage_resolv_conf: bool,
    #[serde(rename = "DNSServer")]
    pub dns_server: Option<Vec<String>>,
    #[serde(rename = "DNSSearch")]
    pub dns_search: Option<Vec<String>>,
    #[serde(rename = "DNSOption")]
    pub dns_option: Option<Vec<String>>,
    #[serde(rename = "NoManageHosts")]
    pub no_manage_hosts: bool,
    #[serde(rename = "HostAdd")]
    pub host_add: Option<Vec<String>>,
    #[serde(rename = "Networks")]
    pub networks: Option<Vec<String>>,
    #[serde(rename = "NetworkOptions")]
    pub network_options: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    pub pid_ns: &'static str,
    pub userns: &'static str,
    pub uts_ns: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortBinding {
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodInspectContainer {
    pub id: String,
    pub name: String,
    pub state: &'static str,
}

/// Nanosecond RFC 3339, as Go prints a `time.Time`.
fn rfc3339_nano(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let base = time::rfc3339(secs);
    let base = base.trim_end_matches('Z');
    if frac == 0 {
        format!("{base}Z")
    } else {
        let digits = format!("{frac:09}");
        format!("{base}.{}Z", digits.trim_end_matches('0'))
    }
}

pub fn inspect(ctx: &Context, store: &Store, state: &State, query: &str) -> Result<PodInspect> {
    lifecycle::recover(ctx, store, state)?;
    let pod = lookup(state, query)?;
    let ctrs = pod.containers(state)?;
    let cfg = &pod.config;
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let res = &cfg.resources;
    let limits = PodLimits {
        cpu_period: res.nano_cpus.map(|_| crate::cgroups::pod::CPU_PERIOD),
        cpu_quota: res.nano_cpus.map(crate::cgroups::pod::cpu_quota),
        memory_limit: res.memory,
        memory_swap: res.memory.map(|m| m.saturating_mul(2)),
    };
    let infra_config = cfg.infra.then(|| {
        let mut port_bindings: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
        for p in &cfg.network.ports {
            for i in 0..p.range.max(1) {
                port_bindings
                    .entry(format!("{}/{}", p.container_port + i, p.protocol))
                    .or_default()
                    .push(PortBinding {
                        host_ip: p.host_ip.clone(),
                        host_port: if p.host_port == 0 {
                            String::new()
                        } else {
                            (p.host_port + i).to_string()
                        },
                    });
            }
        }
        let dns = &cfg.network.dns;
        InfraConfig {
            port_bindings,
            host_network: matches!(
                cfg.network.mode,
                Some(hutch_rootless_net::NetworkMode::Host)
            ),
            static_ip: String::new(),
            static_mac: String::new(),
            no_manage_resolv_conf: false,
            dns_server: non_empty(&dns.servers),
            dns_search: non_empty(&dns.search),
            dns_option: non_empty(&dns.options),
            no_manage_hosts: false,
            host_add: non_empty(
                &cfg.add_hosts
                    .iter()
                    .flat_map(|h| h.names.iter().map(move |n| format!("{n}:{}", h.ip)))
                    .collect(),
            ),
            networks: match &cfg.network.mode {
                Some(hutch_rootless_net::NetworkMode::Network { name }) => Some(vec![name.clone()]),
                _ => None,
            },
            network_options: None,
            cpu_period: limits.cpu_period,
            cpu_quota: limits.cpu_quota,
            pid_ns: ns_word(cfg, "pid", &cfg.namespaces.pid),
            userns: "host",
            uts_ns: ns_word(cfg, "uts", &cfg.namespaces.uts),
        }
    });
    let mut shared: Vec<String> = if cfg.infra {
        cfg.share
            .iter()
            // No pod cgroup in hutch: nothing to share there.
            .filter(|s| s.as_str() != "cgroup")
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    shared.sort();
    Ok(PodInspect {
        id: pod.id.clone(),
        name: pod.name.clone(),
        created: rfc3339_nano(pod.created),
        create_command: cfg.create_command.clone(),
        exit_policy: cfg.exit_policy.name(),
        state: status(&ctrs),
        hostname: cfg.hostname.clone().unwrap_or_default(),
        labels: cfg.labels.clone(),
        create_cgroup: cfg.cgroup.is_some(),
        cgroup_parent: cfg.cgroup.as_ref().map(|c| c.parent.clone()),
        cgroup_path: cfg.cgroup.as_ref().map(|c| match c.manager.as_str() {
            "systemd" => format!("{}/{}", c.parent, c.path),
            _ => c.path.clone(),
        }),
        create_infra: cfg.infra,
        infra_container_i_d: pod.infra_id.clone(),
        infra_config,
        shared_namespaces: shared,
        num_containers: ctrs.len(),
        containers: ctrs
            .iter()
            .map(|c| PodInspectContainer {
                id: c.id.clone(),
                name: c.name.clone(),
                state: state_name(c.state),
            })
            .collect(),
        limits,
    })
}

/// The word Podman's pod inspect shows for the infra container's PID or
/// UTS namespace: `host` for `--pid/--uts host`, else whether the pod's
/// containers share it.
fn ns_word(cfg: &PodConfig, name: &str, ns: &crate::spec::Namespace) -> &'static str {
    match ns {
        crate::spec::Namespace::Host => "host",
        _ if cfg.shares(name) => "pod",
        _ => "private",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_prints_them() {
        assert_eq!(rfc3339_nano(1_500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(rfc3339_nano(2_000_000_000), "1970-01-01T00:00:02Z");
    }
}
