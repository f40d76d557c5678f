//! `network create/ls/inspect/rm/prune/exists`: user network records.
//! Containers cannot join them yet (see docs/networking.md).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use hutch_rootless_net::NetworkMode;
use hutch_rootless_net::networks::{Network, NetworkStore};

use crate::config::Context;
use crate::engine::container::{self as engine, Paths, network};
use crate::engine::{image, state::names, time};

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display the network configuration for one or more networks
    Inspect(NamesArgs),
    /// Remove one or more networks
    Rm(RmArgs),
    /// Remove all networks no container uses
    Prune(PruneArgs),
    /// Check if a network exists
    Exists(ExistsArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Subnet in CIDR format
    #[arg(long)]
    subnet: Option<String>,
    /// IPv4 gateway for the subnet
    #[arg(long)]
    gateway: Option<String>,
    /// Restrict external access from this network
    #[arg(long)]
    internal: bool,
    /// Set metadata for a network (key=value)
    #[arg(long)]
    label: Vec<String>,
    name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Display only the network IDs
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove the containers using the network too (refused: not supported)
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

/// `__netns-holder DIR`: the process holding the rootless netns.
#[derive(Debug, clap::Args)]
pub struct HolderArgs {
    dir: std::path::PathBuf,
}

pub fn holder(args: &HolderArgs) -> anyhow::Result<ExitCode> {
    hutch_rootless_net::usernet::holder_main(&args.dir)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ExistsArgs {
    name: String,
}

fn store(ctx: &Context) -> anyhow::Result<NetworkStore> {
    let conf = image::storage_conf(ctx)?;
    Ok(NetworkStore::new(
        image::graph_root(ctx, &conf).join("networks"),
    ))
}

/// Names of the containers whose plan names `net`.
fn users_of(ctx: &Context, net: &Network) -> anyhow::Result<Vec<String>> {
    let state = engine::open_state(ctx)?;
    let conf = image::storage_conf(ctx)?;
    let root = image::graph_root(ctx, &conf);
    Ok(state
        .list_containers(true)?
        .into_iter()
        .filter(|c| {
            network::read_plan(&Paths::new(ctx, &root, &c.id)).is_some_and(|p| {
                matches!(&p.mode, NetworkMode::Network { name } if *name == net.name || *name == net.id)
            })
        })
        .map(|c| c.name)
        .collect())
}

pub fn run(ctx: &Context, cmd: &NetworkCommand) -> anyhow::Result<ExitCode> {
    let nets = store(ctx)?;
    match cmd {
        NetworkCommand::Create(a) => {
            let existing = nets.list()?;
            let name = match &a.name {
                Some(n) => {
                    names::validate("network", n)?;
                    n.clone()
                }
                None => (1..)
                    .map(|i| format!("podman{i}"))
                    .find(|n| !existing.iter().any(|e| &e.name == n))
                    .unwrap_or_default(),
            };
            let mut labels = BTreeMap::new();
            for l in &a.label {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                labels.insert(k.to_owned(), v.to_owned());
            }
            let id = names::generate_id().context("generating a network id")?;
            let n = nets.create(
                &name,
                id,
                time::rfc3339(time::now()),
                a.subnet.as_deref(),
                a.gateway.as_deref(),
                a.internal,
                labels,
            )?;
            println!("{}", n.name);
        }
        NetworkCommand::Ls(a) => {
            let all = nets.list()?;
            if a.quiet {
                for n in &all {
                    println!("{}", &n.id[..12.min(n.id.len())]);
                }
            } else {
                println!("{:<14}{:<20}DRIVER", "NETWORK ID", "NAME");
                for n in &all {
                    println!(
                        "{:<14}{:<20}{}",
                        &n.id[..12.min(n.id.len())],
                        n.name,
                        n.driver
                    );
                }
            }
        }
        NetworkCommand::Inspect(a) => {
            let mut out = Vec::new();
            for q in &a.names {
                out.push(serde_json::to_value(nets.get(q)?)?);
            }
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(out))
            );
        }
        NetworkCommand::Rm(a) => {
            for q in &a.names {
                let n = nets.get(q)?;
                let users = users_of(ctx, &n)?;
                if !users.is_empty() {
                    bail!(
                        "network {} is being used by container(s) {}: network is being used",
                        n.name,
                        users.join(", ")
                    );
                }
                nets.remove(&n.name)?;
                println!("{}", n.name);
            }
            let _ = a.force;
        }
        NetworkCommand::Prune(_) => {
            for n in nets.list()? {
                if users_of(ctx, &n)?.is_empty() {
                    nets.remove(&n.name)?;
                    println!("{}", n.name);
                }
            }
        }
        NetworkCommand::Exists(a) => {
            return Ok(if nets.get(&a.name).is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
