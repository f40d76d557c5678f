//! `port`: a container's published ports, as Podman prints them.

use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::{self as engine};
use crate::engine::state::{Container, ContainerState};

#[derive(Debug, clap::Args)]
pub struct PortArgs {
    /// Display port information for all containers
    #[arg(short, long)]
    all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// CONTAINER [PRIVATE_PORT[/PROTO]]
    args: Vec<String>,
}

/// One published range: container ports `container_port..+range` on
/// `host_ip:host_port..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
    pub range: u16,
}

/// The ports a container publishes, from its create request's `ports`
/// (`[{host_ip, host_port, container_port, protocol, range}]`); a container
/// created without any has none.
pub fn published(c: &Container) -> Vec<PortMapping> {
    let req: serde_json::Value = serde_json::from_str(&c.config).unwrap_or_default();
    req["ports"]
        .as_array()
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    Some(PortMapping {
                        host_ip: p["host_ip"].as_str().unwrap_or("").to_owned(),
                        host_port: u16::try_from(p["host_port"].as_u64()?).ok()?,
                        container_port: u16::try_from(p["container_port"].as_u64()?).ok()?,
                        protocol: p["protocol"].as_str().unwrap_or("tcp").to_owned(),
                        range: u16::try_from(p["range"].as_u64().unwrap_or(1))
                            .unwrap_or(1)
                            .max(1),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn port(ctx: &Context, args: &PortArgs) -> anyhow::Result<ExitCode> {
    let state = engine::open_state(ctx)?;
    let (containers, filter) = if args.all {
        if !args.args.is_empty() {
            bail!("the -a and -l options cannot be used with container names or a port");
        }
        let running = state
            .list_containers(true)?
            .into_iter()
            .filter(|c| c.state == ContainerState::Running)
            .collect();
        (running, None)
    } else if args.latest {
        if args.args.len() > 1 {
            bail!("with --latest, give at most a port");
        }
        (
            super::pick::containers(&state, &[], true)?,
            args.args.first().cloned(),
        )
    } else {
        let Some((name, rest)) = args.args.split_first() else {
            bail!("you must supply a running container name or id");
        };
        if rest.len() > 1 {
            bail!("too many arguments: give a container and at most a port");
        }
        (vec![state.container(name)?], rest.first().cloned())
    };
    let (want_port, want_proto) = match &filter {
        Some(f) => {
            let (p, proto) = f.split_once('/').unwrap_or((f, "tcp"));
            let p: u16 = p
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid port {p:?}"))?;
            (Some(p), proto.to_owned())
        }
        None => (None, String::new()),
    };
    for c in &containers {
        let prefix = if args.all {
            format!("{}\t", &c.id[..12])
        } else {
            String::new()
        };
        for m in published(c) {
            let ip = if m.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &m.host_ip
            };
            for proto in m.protocol.split(',') {
                for i in 0..m.range {
                    let (cp, hp) = (m.container_port + i, m.host_port + i);
                    match want_port {
                        None => println!("{prefix}{cp}/{proto} -> {ip}:{hp}"),
                        Some(p) if p == cp && proto == want_proto => {
                            println!("{ip}:{hp}");
                            return Ok(ExitCode::SUCCESS);
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
