//! The network side of a container: at create, the mode, published ports
//! and resolv.conf are resolved into a [`NetworkPlan`] stored beside the
//! spec; hutch hands it to the monitor, which starts the helper (pasta or
//! slirp4netns) before the runtime creates the container and reaps it after
//! the exit; the cleanup then removes the namespace.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use hutch_monitor::launch::{ForwardLaunch, HelperLaunch};
use hutch_rootless_net::{
    DnsConfig, NetPaths, NetworkMode, NetworkPlan, PortMapping, helper, mode, pasta, ports, resolv,
    slirp,
};

use super::Paths;
use crate::config::Context;
use crate::engine::state::State;
use crate::runtime::spec::{ContainerConfig, NamespaceMode};

const PLAN_FILE: &str = "network.json";

/// Where the namespace files and helper records of all containers live.
pub fn netns_dir(ctx: &Context) -> PathBuf {
    ctx.run_dir.join("netns")
}

pub(super) fn net_paths(ctx: &Context, id: &str) -> NetPaths {
    NetPaths::new(&netns_dir(ctx), id)
}

/// The rootless default mode: containers.conf, else pasta where installed.
pub fn default_mode(ctx: &Context) -> NetworkMode {
    mode::default_mode(
        ctx.containers_conf()
            .default_rootless_network_cmd
            .as_deref(),
    )
}

/// Resolves the spec's network against the image (`-P`) and the host
/// (the default mode, free ports). Runs before anything is created: a
/// port in use fails here.
pub fn plan(
    ctx: &Context,
    net: &crate::spec::NetworkSpec,
    expose: &[String],
    image_config: &serde_json::Value,
) -> anyhow::Result<NetworkPlan> {
    let mode = match &net.mode {
        Some(m) => m.clone(),
        None => default_mode(ctx),
    };
    // Static addresses are for one user network only, refused as Podman
    // refuses them: a mode named on the command line in its CLI's words,
    // the default mode in its spec generator's.
    for (flag, given) in [
        ("--ip", net.ip.is_some()),
        ("--ip6", net.ip6.is_some()),
        ("--mac-address", net.mac_address.is_some()),
    ] {
        if !given {
            continue;
        }
        if !matches!(mode, NetworkMode::Network { .. }) {
            if net.mode.is_some() {
                bail!("{flag} can only be set when the network mode is bridge: invalid argument");
            }
            bail!(
                "invalid config provided: networks and static ip/mac address can only be used with Bridge mode networking"
            );
        }
        if !net.connected.is_empty() {
            bail!("{flag} can only be set for a single network: invalid argument");
        }
    }
    let connected = net
        .connected
        .iter()
        .map(|n| hutch_rootless_net::Attachment {
            name: n.clone(),
            aliases: net.aliases.clone(),
            ..Default::default()
        })
        .collect();
    if !net.aliases.is_empty() && !matches!(mode, NetworkMode::Network { .. }) {
        bail!("--network-alias can only be used with user networks");
    }
    let mut ports: Vec<PortMapping> = net.ports.clone();
    if net.publish_all {
        let image = image_config["ExposedPorts"].as_object();
        // `--expose` ports too, as Podman publishes them with `-P`.
        let keys = image.into_iter().flat_map(|m| m.keys()).chain(expose);
        for key in keys {
            let m = PortMapping::exposed(key)
                .with_context(|| format!("the image's exposed port {key:?}"))?;
            // An explicit -p for the same container port wins.
            if !ports
                .iter()
                .any(|p| p.protocol == m.protocol && p.container_port == m.container_port)
            {
                ports.push(m);
            }
        }
    }
    if !ports.is_empty() && !mode.can_publish() {
        bail!(
            "cannot publish ports with network mode {}: only pasta, slirp4netns and user networks forward ports",
            mode.name()
        );
    }
    // Through the engine's kind: a port in use exits 126 as Podman's start
    // does (hutch refuses before the container is made).
    ports::assign_and_check(&mut ports).map_err(crate::engine::network::error)?;
    Ok(NetworkPlan {
        mode,
        ports,
        netns: None,
        aliases: net.aliases.clone(),
        connected,
        helper_path: ctx.network_cmd_path.clone(),
        static_ip: net.ip,
        static_ip6: net.ip6,
        static_mac: net.mac_address.clone(),
    })
}

/// Sets the container's network namespace from the plan, writes its
/// resolv.conf (unless the caller already prepared one) and stores the plan.
pub fn apply(
    ctx: &Context,
    state: &State,
    store_root: &Path,
    mut plan: NetworkPlan,
    dns: &DnsConfig,
    pod_id: Option<&str>,
    container: &mut ContainerConfig,
) -> anyhow::Result<()> {
    // containers.conf's dns_servers/dns_searches/dns_options where the
    // command line gave none.
    let conf = ctx.containers_conf();
    let mut dns = dns.clone();
    for (given, default) in [
        (&mut dns.servers, &conf.dns_servers),
        (&mut dns.search, &conf.dns_searches),
        (&mut dns.options, &conf.dns_options),
    ] {
        if given.is_empty() {
            given.clone_from(default);
        }
    }
    let dns = &dns;
    let paths = Paths::new(ctx, store_root, &container.id);
    let mut forwarder = None;
    let mut gateway = None;
    container.net = match &plan.mode.clone() {
        NetworkMode::None => NamespaceMode::None,
        NetworkMode::Host => NamespaceMode::Host,
        NetworkMode::Pasta { .. } => {
            forwarder = Some(pasta::DNS_FORWARD.to_owned());
            let p = net_paths(ctx, &container.id).netns;
            plan.netns = Some(p.clone());
            NamespaceMode::Path(p)
        }
        NetworkMode::Slirp4netns { .. } => {
            forwarder = Some(slirp::dns_addr(&plan.mode)?.to_string());
            let p = net_paths(ctx, &container.id).netns;
            plan.netns = Some(p.clone());
            NamespaceMode::Path(p)
        }
        NetworkMode::Ns { path } => NamespaceMode::Path(path.clone()),
        NetworkMode::Container { id } => {
            let other = state.container(id)?;
            let other_paths = Paths::new(ctx, store_root, &other.id);
            let other_plan = read_plan(&other_paths).unwrap_or_default();
            match (&other_plan.mode, &other_plan.netns) {
                (NetworkMode::Host, _) => NamespaceMode::Host,
                (_, Some(ns)) => NamespaceMode::Path(ns.clone()),
                _ => match other.pid {
                    Some(pid) if pid > 0 => NamespaceMode::Container { pid: pid as u32 },
                    // A pod's infra container (`--network none`: a
                    // namespace of the runtime's) need not run yet: each
                    // start of the container points it at the infra's
                    // (`pod_join::before_start`), as Podman's does.
                    _ if pod_id.is_some() && other.pod_id.as_deref() == pod_id => {
                        NamespaceMode::Container { pid: 0 }
                    }
                    _ => bail!(
                        "container {} is not running: its network namespace cannot be joined",
                        other.name
                    ),
                },
            }
        }
        NetworkMode::Network { name } => {
            // By name from here on: `network rm` finds its users by it.
            let (net, gw) = super::usernet::resolve(ctx, name)?;
            gateway = gw;
            plan.mode = NetworkMode::Network { name: net };
            for a in &mut plan.connected {
                a.name = super::usernet::resolve(ctx, &a.name)?.0;
            }
            let p = net_paths(ctx, &container.id).netns;
            plan.netns = Some(p.clone());
            NamespaceMode::Path(p)
        }
    };
    std::fs::create_dir_all(&paths.userdata)
        .with_context(|| format!("creating {}", paths.userdata.display()))?;
    let host_net = plan.mode == NetworkMode::Host;
    // The /etc files prepared at create already hold the host's resolvers
    // (systemd-resolved's stub replaced by its upstreams); DNS flags and
    // pasta's forwarder are laid over them.
    let prepared = container.etc_files.resolv_conf.clone();
    if prepared.is_none()
        || *dns != resolv::DnsConfig::default()
        || forwarder.is_some()
        || gateway.is_some()
    {
        let host = prepared
            .as_deref()
            .or(Some(std::path::Path::new("/etc/resolv.conf")))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let text = match &gateway {
            Some(gw) => super::usernet::resolv_conf(&host, dns, gw),
            None => resolv::generate(&host, dns, forwarder.as_deref(), host_net),
        };
        let file = paths.userdata.join("resolv.conf");
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        container.etc_files.resolv_conf = Some(file);
    }
    let file = paths.userdata.join(PLAN_FILE);
    std::fs::write(&file, serde_json::to_vec_pretty(&plan)?)
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}

/// The stored plan of a container; `None` for one created without it.
pub fn read_plan(paths: &Paths) -> Option<NetworkPlan> {
    let bytes = std::fs::read(paths.userdata.join(PLAN_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// In hutch, before it starts the monitor: what the monitor needs to
/// connect the container. For pasta and slirp4netns, the plan the monitor
/// starts its helper from (the helper must be the monitor's child: it dies
/// with it through PR_SET_PDEATHSIG, and the monitor reaps it before the
/// cleanup, so a published port is free once the exit is recorded). For
/// user networks the container's namespace is joined to each network here
/// (it needs the network records) and the monitor only forwards the
/// published ports. On error nothing is left.
pub fn prepare(
    ctx: &Context,
    paths: &Paths,
    id: &str,
    name: &str,
) -> anyhow::Result<(Option<HelperLaunch>, Option<ForwardLaunch>)> {
    let Some(plan) = read_plan(paths) else {
        return Ok((None, None));
    };
    if !plan.user_networks().is_empty() {
        let ip = super::usernet::setup(ctx, &plan, id, name)?;
        if let Some(ip) = ip {
            super::etc::set_container_ip(&paths.userdata, ip.into())?;
        }
        let forward = match ip {
            Some(ip) if !plan.ports.is_empty() => Some(ForwardLaunch {
                rootless_netns: super::usernet::paths(ctx).netns,
                ports: plan.ports.clone(),
                ip,
            }),
            _ => None,
        };
        return Ok((None, forward));
    }
    if !plan.needs_helper() {
        return Ok((None, None));
    }
    // slirp4netns gives the container its network's .100.
    if let NetworkMode::Slirp4netns { .. } = &plan.mode
        && let Ok(ip) = slirp::guest_addr(&plan.mode)
    {
        super::etc::set_container_ip(&paths.userdata, ip.into())?;
    }
    // The ports were free at create; a later start must find them free too.
    // Through the engine's kind: a port in use exits 126, as Podman's.
    ports::check_free(&plan.ports).map_err(crate::engine::network::error)?;
    Ok((
        Some(HelperLaunch {
            plan,
            netns_dir: netns_dir(ctx),
        }),
        None,
    ))
}

/// After the container's exit (and from `rm` after a killed monitor): ends
/// the helper and removes the namespace. Idempotent.
pub fn teardown(ctx: &Context, id: &str) {
    // The veth pairs first (their container ends go with the namespace);
    // the last container to leave ends the rootless netns.
    super::usernet::teardown(ctx, id);
    helper::teardown(&net_paths(ctx, id));
}

/// `network reload`'s check of one container (Podman's words and order):
/// it must run, and be on user networks; other modes have nothing to
/// reload. Nothing is re-applied: a user network's forwarding and NAT live
/// in hutch's own network namespace, where no host firewall reload (the
/// reason the command exists) can flush them.
pub fn reload(
    ctx: &Context,
    paths: &Paths,
    c: &crate::engine::state::Container,
) -> crate::engine::Result<()> {
    if c.state != crate::engine::state::ContainerState::Running {
        crate::fail!(
            InvalidState,
            "cannot reload network unless container network has been configured: container state improper"
        );
    }
    let mode = read_plan(paths)
        .map(|p| p.mode)
        .or_else(|| c.spec.network.mode.clone())
        .unwrap_or_else(|| default_mode(ctx));
    match mode {
        NetworkMode::Network { .. } => Ok(()),
        NetworkMode::None => crate::fail!(
            InvalidState,
            "container {} network is not configured, refusing to reload: container state improper",
            c.id
        ),
        m => crate::fail!(
            BadInput,
            "{:?} is not supported: invalid network mode",
            m.name()
        ),
    }
}
