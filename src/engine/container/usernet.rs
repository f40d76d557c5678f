//! The engine's side of user networks (see `hutch_rootless_net::usernet`
//! for the rootless netns itself): at create, the network's record and the
//! container's resolv.conf; before the monitor starts, joining every
//! network of the plan (the monitor forwards the published ports, see
//! `hutch_monitor::forward`); `network connect/disconnect`;
//! the `NetworkSettings` of `inspect`.

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::Context as _;
use hutch_rootless_net::networks::NetworkStore;
use hutch_rootless_net::usernet::{self, Endpoint, UserNetPaths};
use hutch_rootless_net::{Attachment, DnsConfig, NetworkMode, NetworkPlan, netns, resolv};
use serde_json::{Value, json};

use super::Paths;
use crate::config::Context;
use crate::engine::state::{Container, ContainerState};

/// The user network records (`GRAPHROOT/networks`).
pub fn network_store(ctx: &Context) -> anyhow::Result<NetworkStore> {
    let conf = crate::engine::image::storage_conf(ctx)?;
    Ok(
        NetworkStore::new(crate::engine::image::graph_root(ctx, &conf).join("networks"))
            .with_default(crate::host::time::rfc3339(crate::host::time::now())),
    )
}

pub fn paths(ctx: &Context) -> UserNetPaths {
    UserNetPaths::new(&ctx.run_dir)
}

/// A network's name (from a name or id) and its gateway.
pub fn resolve(ctx: &Context, query: &str) -> anyhow::Result<(String, Option<String>)> {
    let net = network_store(ctx)?.get(query)?;
    let gw = net.subnets.first().map(|s| s.gateway.clone());
    Ok((net.name, gw))
}

/// resolv.conf on a user network, as Podman writes it with aardvark-dns:
/// the network's gateway (hutch's resolver) as the only server, unless
/// `--dns` says otherwise, and the `dns.podman` search domain first.
pub fn resolv_conf(host: &str, dns: &DnsConfig, gateway: &str) -> String {
    let mut cfg = dns.clone();
    if cfg.servers.is_empty() {
        cfg.servers = vec![gateway.to_owned()];
    }
    if cfg.search.is_empty() {
        let host_search = host
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                matches!(w.next(), Some("search" | "domain")).then(|| w.map(String::from))
            })
            .next_back()
            .map(|w| w.collect::<Vec<_>>())
            .unwrap_or_default();
        cfg.search = std::iter::once(hutch_rootless_net::dns::SEARCH_DOMAIN.to_owned())
            .chain(host_search)
            .collect();
    }
    resolv::generate(host, &cfg, None, false)
}

/// Joins the container's namespace (created at `ns`) to one network.
fn join_one(
    ctx: &Context,
    id: &str,
    name: &str,
    att: &Attachment,
    ns: &Path,
) -> anyhow::Result<Endpoint> {
    let network = network_store(ctx)?.get(&att.name)?;
    // The holder is the small monitor binary, not hutch: it lives as long
    // as any container is on a user network.
    let exe = super::monitor::monitor_binary()?;
    // The pause process's cgroup (v2) for the holder.
    let holder_cgroup = std::fs::read_to_string(ctx.run_dir.join("pause.pid"))
        .ok()
        .and_then(|p| p.lines().next().and_then(|l| l.trim().parse::<i32>().ok()))
        .and_then(|pid| crate::cgroups::v2::cgroup_of(Some(pid)))
        .map(|c| crate::cgroups::v2::dir_of(&c))
        .filter(|d| d.join("cgroup.procs").exists());
    let joined = usernet::join(
        &paths(ctx),
        &usernet::JoinRequest {
            id,
            name,
            network: &network,
            aliases: &att.aliases,
            static_ip: att.ip,
            static_ip6: att.ip6,
            static_mac: att.mac.as_deref(),
            container_netns: ns,
            exe: &exe,
            holder_cgroup: holder_cgroup.as_deref(),
        },
    );
    match joined {
        // Podman's words alone, with its exit code (126 for `run`).
        Err(e @ hutch_rootless_net::NetError::Address(_)) => {
            Err(crate::engine::network::error(e).into())
        }
        r => r.with_context(|| {
            format!(
                "connecting {} to network {}",
                &id[..12.min(id.len())],
                att.name
            )
        }),
    }
}

/// Before the monitor starts: the container's namespace, joined to each of
/// its user networks; returns its address on the first, where the monitor
/// forwards the published ports. On error nothing is left.
pub fn setup(
    ctx: &Context,
    plan: &NetworkPlan,
    id: &str,
    name: &str,
) -> anyhow::Result<Option<Ipv4Addr>> {
    let short = &id[..12.min(id.len())];
    let ns = super::network::net_paths(ctx, id).netns;
    netns::create(&ns).with_context(|| format!("creating the network namespace of {short}"))?;
    let mut first = None;
    for att in plan.user_networks() {
        match join_one(ctx, id, name, &att, &ns) {
            Ok(ep) => {
                first.get_or_insert(ep);
            }
            Err(e) => {
                teardown(ctx, id);
                let _ = netns::remove(&ns);
                return Err(e);
            }
        }
    }
    match first {
        Some(ep) => match ep.ip.parse::<Ipv4Addr>() {
            Ok(ip) => Ok(Some(ip)),
            Err(e) => {
                teardown(ctx, id);
                let _ = netns::remove(&ns);
                Err(e).context("the container's address")
            }
        },
        None => Ok(None),
    }
}

/// After the exit (the monitor closed the published ports), from the
/// cleanup or `rm`: the veth pairs gone, the addresses free; the last
/// container ends the rootless netns. Idempotent.
pub fn teardown(ctx: &Context, id: &str) {
    if let Err(e) = usernet::leave(&paths(ctx), id, None) {
        tracing::warn!(container = id, "leaving user networks: {e}");
    }
}

fn plan_file(paths: &Paths) -> std::path::PathBuf {
    paths.userdata.join("network.json")
}

fn write_plan(paths: &Paths, plan: &NetworkPlan) -> crate::engine::Result<()> {
    let file = plan_file(paths);
    let bytes = serde_json::to_vec_pretty(plan)?;
    crate::engine::ResultExt::with_context(std::fs::write(&file, bytes), || {
        format!("writing {}", file.display())
    })
}

fn is_live(c: &Container) -> bool {
    matches!(c.state, ContainerState::Running | ContainerState::Paused)
}

/// `network connect`: records the network in the container's plan and,
/// when it runs, joins it now. `wanted.name` is the network's name or id;
/// its aliases and static address (`--ip`, `--ip6`, `--mac-address`) go
/// with it.
pub fn connect(
    ctx: &Context,
    store_root: &Path,
    c: &Container,
    wanted: Attachment,
) -> crate::engine::Result<()> {
    let net = wanted.name.as_str();
    let paths = Paths::new(ctx, store_root, &c.id);
    let mut plan = super::network::read_plan(&paths).unwrap_or_default();
    if plan.user_networks().is_empty() {
        crate::fail!(
            InvalidState,
            "container {} uses network mode {}: only containers on user networks can be connected to another",
            c.name,
            plan.mode.name()
        );
    }
    let (name, _) = resolve(ctx, net)?;
    if plan.user_networks().iter().any(|a| a.name == name) {
        crate::fail!(
            Conflict,
            "container {} is already connected to network {name}: network is already connected",
            c.name
        );
    }
    let att = Attachment { name, ..wanted };
    if is_live(c) {
        let ns = super::network::net_paths(ctx, &c.id).netns;
        // Podman's `network connect` exits 125 where a start's network
        // set-up exits 126.
        join_one(ctx, &c.id, &c.name, &att, &ns).map_err(|e| {
            let e = crate::engine::Error::from(e);
            if matches!(e.kind(), crate::engine::ErrorKind::Runtime { .. }) {
                e.with_kind(crate::engine::ErrorKind::BadInput)
            } else {
                e
            }
        })?;
    }
    plan.connected.push(att);
    write_plan(&paths, &plan)
}

/// `network disconnect`: the reverse. The last network stays: the
/// container's namespace is made for user networks.
pub fn disconnect(
    ctx: &Context,
    store_root: &Path,
    c: &Container,
    net: &str,
) -> crate::engine::Result<()> {
    let paths = Paths::new(ctx, store_root, &c.id);
    let mut plan = super::network::read_plan(&paths).unwrap_or_default();
    let name = network_store(ctx)?
        .get(net)
        .map(|n| n.name)
        .unwrap_or_else(|_| net.to_owned());
    let all = plan.user_networks();
    if !all.iter().any(|a| a.name == name) {
        crate::fail!(
            InvalidState,
            "container {} is not connected to network {name}: network is not connected",
            c.name
        );
    }
    if all.len() == 1 {
        crate::fail!(
            InvalidState,
            "container {} is only on network {name}: disconnecting its last network is not supported",
            c.name
        );
    }
    if matches!(&plan.mode, NetworkMode::Network { name: n } if *n == name) {
        let next = plan.connected.remove(0);
        // The resolver moves to the next network's gateway: a UDP answer
        // comes from the address of the interface it leaves by, which the
        // old gateway's no longer is. The file is bind-mounted: rewritten
        // in place.
        let old_gw = resolve(ctx, &name).ok().and_then(|r| r.1);
        let new_gw = resolve(ctx, &next.name).ok().and_then(|r| r.1);
        let rc = paths.userdata.join("resolv.conf");
        if let (Some(old), Some(new), Ok(text)) = (old_gw, new_gw, std::fs::read_to_string(&rc)) {
            let text = text.replace(
                &format!("nameserver {old}\n"),
                &format!("nameserver {new}\n"),
            );
            crate::engine::ResultExt::with_context(std::fs::write(&rc, text), || {
                format!("writing {}", rc.display())
            })?;
        }
        plan.mode = NetworkMode::Network { name: next.name };
        plan.aliases = next.aliases;
    } else {
        plan.connected.retain(|a| a.name != name);
    }
    if is_live(c) {
        let up = self::paths(ctx);
        usernet::leave(&up, &c.id, Some(&name)).map_err(crate::engine::network::error)?;
        // The default route went with the first network's interface.
        if let NetworkMode::Network { name: first } = &plan.mode
            && let Some(ep) = usernet::endpoints_of(&up, &c.id)
                .into_iter()
                .find(|e| e.network == *first)
        {
            let ns = super::network::net_paths(ctx, &c.id).netns;
            usernet::set_default_route(&ns, &ep.gateway)?;
        }
    }
    write_plan(&paths, &plan)
}

/// `info`'s view of the rootless netns: whether it exists, its holder and
/// slirp4netns, whether outbound NAT is set up, how many endpoints.
pub fn info(ctx: &Context) -> Value {
    let p = paths(ctx);
    match usernet::holder(&p) {
        Some(h) => json!({
            "present": true,
            "path": p.netns,
            "holderPid": h.pid,
            "slirp4netnsPid": h.slirp_pid,
            "outboundNat": h.nat,
            "endpoints": usernet::read_records(&p).endpoints.len(),
        }),
        None => json!({"present": false, "path": p.netns}),
    }
}

/// After `rename`: a running container's endpoints take the new name.
pub fn rename(ctx: &Context, id: &str, name: &str) {
    if let Err(e) = usernet::rename(&paths(ctx), id, name) {
        tracing::warn!(container = id, "renaming on user networks: {e}");
    }
}

/// Whether the container's plan puts it on network `name`.
pub fn uses(plan: &NetworkPlan, name: &str) -> bool {
    plan.user_networks().iter().any(|a| a.name == name)
}

/// `inspect`'s NetworkSettings: the published ports and, per user network,
/// the address, gateway, MAC and aliases of a running container (empty
/// values for a stopped one).
pub fn settings(ctx: &Context, paths: &Paths, c: &Container) -> Value {
    let plan = super::network::read_plan(paths).unwrap_or_default();
    let eps = usernet::endpoints_of(&self::paths(ctx), &c.id);
    let short = &c.id[..12.min(c.id.len())];
    let mut ports = serde_json::Map::new();
    for p in &plan.ports {
        for k in 0..p.range {
            ports.insert(
                format!("{}/{}", p.container_port + k, p.protocol),
                json!([{"HostIp": p.host_ip, "HostPort": (p.host_port + k).to_string()}]),
            );
        }
    }
    let mut networks = serde_json::Map::new();
    for att in plan.user_networks() {
        let ep = eps.iter().find(|e| e.network == att.name);
        let mut aliases = vec![short.to_owned()];
        aliases.extend(att.aliases.iter().cloned());
        networks.insert(
            att.name.clone(),
            json!({
                "EndpointID": "",
                "Gateway": ep.map(|e| e.gateway.as_str()).unwrap_or(""),
                "IPAddress": ep.map(|e| e.ip.as_str()).unwrap_or(""),
                "IPPrefixLen": ep.map(|e| e.prefix).unwrap_or(0),
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "MacAddress": ep.map(|e| e.mac.as_str()).unwrap_or(""),
                "NetworkID": ep.map(|e| e.network_id.as_str()).unwrap_or(att.name.as_str()),
                "DriverOpts": null,
                "IPAMConfig": null,
                "Links": null,
                "Aliases": aliases,
            }),
        );
    }
    // One network: its values at the top too, as Podman shows them.
    let top = if networks.len() == 1 {
        eps.first()
    } else {
        None
    };
    json!({
        "EndpointID": "",
        "Gateway": top.map(|e| e.gateway.as_str()).unwrap_or(""),
        "IPAddress": top.map(|e| e.ip.as_str()).unwrap_or(""),
        "IPPrefixLen": top.map(|e| e.prefix).unwrap_or(0),
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": top.map(|e| e.mac.as_str()).unwrap_or(""),
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SandboxKey": plan.netns.map(|p| p.display().to_string()).unwrap_or_default(),
        "Networks": networks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_names_the_gateway_and_podmans_domain() {
        let host = "nameserver 192.0.2.53\nsearch example.com\noptions edns0\n";
        let r = resolv_conf(host, &DnsConfig::default(), "10.89.0.1");
        assert_eq!(
            r,
            "search dns.podman example.com\nnameserver 10.89.0.1\noptions edns0\n"
        );
        let dns = DnsConfig {
            servers: vec!["1.1.1.1".into()],
            ..DnsConfig::default()
        };
        assert!(resolv_conf(host, &dns, "10.89.0.1").contains("nameserver 1.1.1.1\n"));
    }
}
