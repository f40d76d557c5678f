//! `network create/ls/inspect/rm/prune/exists/connect/disconnect`: user
//! networks (see docs/networking.md, "User networks").

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Context;
use crate::engine::ErrorKind;
use crate::engine::container::{self as engine, usernet};
use crate::engine::image;
use crate::engine::network::{self as netops, NetworkCreateOptions, NetworkRemoveOptions};
use crate::engine::state as engine_state;
use crate::format::{OutputFormat, Template};

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
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Reload firewall rules for one or more containers
    Reload(ReloadArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// Reload network configuration of all containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// Network scoped alias for the container
    #[arg(long)]
    pub(crate) alias: Vec<String>,
    /// Set a static ipv4 address for this container network
    #[arg(long, value_name = "IP")]
    pub(crate) ip: Option<String>,
    /// Set a static ipv6 address for this container network
    #[arg(long, value_name = "IP")]
    pub(crate) ip6: Option<String>,
    /// Set a static mac address for this container network
    #[arg(long, value_name = "MAC")]
    pub(crate) mac_address: Option<String>,
    pub(crate) network: String,
    pub(crate) container: String,
}

/// `--ip`/`--ip6` of `network connect`, in the words of Podman's flag
/// parser (any IP: the network decides).
fn connect_ip(flag: &str, text: Option<&str>) -> anyhow::Result<Option<std::net::IpAddr>> {
    text.map(|t| {
        t.parse().map_err(|_| {
            anyhow::anyhow!(
                "invalid argument {t:?} for \"--{flag}\" flag: failed to parse IP: {t:?}"
            )
        })
    })
    .transpose()
}

#[derive(Debug, clap::Args)]
pub struct DisconnectArgs {
    /// Accepted for Podman compatibility
    #[arg(short, long)]
    pub(crate) force: bool,
    pub(crate) network: String,
    pub(crate) container: String,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Subnet in CIDR format
    #[arg(long)]
    pub(crate) subnet: Option<String>,
    /// IPv4 gateway for the subnet
    #[arg(long)]
    pub(crate) gateway: Option<String>,
    /// Restrict external access from this network
    #[arg(long)]
    pub(crate) internal: bool,
    /// Set metadata for a network (key=value)
    #[arg(long)]
    pub(crate) label: Vec<String>,
    /// Succeed without changing anything when the network exists (Quadlet's `.network` services)
    #[arg(long)]
    pub(crate) ignore: bool,
    pub(crate) name: Option<String>,
    /// Driver to manage the network (bridge)
    #[arg(short, long, default_value = "bridge")]
    pub(crate) driver: String,
    /// IP Address Management Driver (host-local)
    #[arg(long, value_name = "IPAM-DRIVER")]
    pub(crate) ipam_driver: Option<String>,
    /// Disable DNS plugin
    #[arg(long)]
    pub(crate) disable_dns: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    pub(crate) ipv6: bool,
    /// Allocate container IP from range
    #[arg(long, value_name = "RANGE")]
    pub(crate) ip_range: Vec<String>,
    /// Set driver specific options
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub(crate) opt: Vec<String>,
}

impl CreateArgs {
    /// Podman's flags that hutch's user networks cannot follow: refused by
    /// name, not dropped (docs/compat.md).
    fn refuse_unsupported(&self) -> anyhow::Result<()> {
        if self.driver != "bridge" {
            anyhow::bail!(
                "unsupported driver {}: hutch's user networks are bridges in the rootless network namespace",
                self.driver
            );
        }
        if let Some(d) = self.ipam_driver.as_deref().filter(|d| *d != "host-local") {
            anyhow::bail!(
                "unsupported ipam driver {d:?}: hutch allocates addresses itself (host-local)"
            );
        }
        let refused = [
            (
                self.disable_dns,
                "--disable-dns: hutch's user networks always resolve container names",
            ),
            (self.ipv6, "--ipv6: hutch's user networks are IPv4 only"),
            (
                !self.ip_range.is_empty(),
                "--ip-range: hutch hands out the whole subnet",
            ),
            (
                !self.opt.is_empty(),
                "--opt: hutch's bridge driver takes no options",
            ),
        ];
        if let Some((_, why)) = refused.iter().find(|(given, _)| *given) {
            anyhow::bail!("{why}");
        }
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Display only the network names
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Do not print headers
    #[arg(long)]
    pub(crate) noheading: bool,
    /// Pretty-print networks to JSON or using a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Provide filter values (e.g. 'name=podman')
    #[arg(short, long)]
    pub(crate) filter: Vec<String>,
    /// Do not truncate the network ID
    #[arg(long)]
    pub(crate) no_trunc: bool,
}

#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub(crate) names: Vec<String>,
    /// Pretty-print network to JSON or using a Go template
    #[arg(short, long)]
    pub(crate) format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove the containers using the network too
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Seconds to wait for running containers to stop before killing the container
    #[arg(short, long, value_name = "SECONDS")]
    pub(crate) time: Option<u32>,
    #[arg(required = true)]
    pub(crate) names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long)]
    pub(crate) filter: Vec<String>,
}

/// `__netns-holder DIR`: the process holding the rootless netns.
#[derive(Debug, clap::Args)]
pub struct HolderArgs {
    pub(crate) dir: std::path::PathBuf,
}

pub fn holder(args: &HolderArgs) -> anyhow::Result<ExitCode> {
    hutch_rootless_net::usernet::holder_main(&args.dir)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ExistsArgs {
    pub(crate) name: String,
}

fn one_container(
    ctx: &Context,
    query: &str,
) -> anyhow::Result<(std::path::PathBuf, engine_state::Container)> {
    let state = engine::open_state(ctx)?;
    let conf = image::storage_conf(ctx)?;
    let root = image::graph_root(ctx, &conf);
    let c = state.container(query)?;
    Ok((root, c))
}

/// `network reload`: each container's id once checked; with `--all` the
/// containers that cannot be reloaded are passed over, as Podman does.
fn reload(ctx: &Context, a: &ReloadArgs) -> anyhow::Result<ExitCode> {
    let state = engine::open_state(ctx)?;
    let conf = image::storage_conf(ctx)?;
    let root = image::graph_root(ctx, &conf);
    let targets = if a.all {
        state.list_containers(true)?
    } else {
        if a.containers.is_empty() && !a.latest {
            anyhow::bail!("you must provide at least one name or id");
        }
        crate::cli::container::pick::containers(&state, &a.containers, a.latest)?
    };
    for c in targets {
        let paths = crate::engine::container::Paths::new(ctx, &root, &c.id);
        match crate::engine::container::network::reload(ctx, &paths, &c) {
            Ok(()) => println!("{}", c.id),
            Err(_) if a.all => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(ctx: &Context, cmd: &NetworkCommand) -> anyhow::Result<ExitCode> {
    let nets = netops::store(ctx)?;
    match cmd {
        NetworkCommand::Create(a) => {
            a.refuse_unsupported()?;
            if a.ignore
                && let Some(name) = &a.name
                && let Ok(n) = nets.get(name)
            {
                println!("{}", n.name);
                return Ok(ExitCode::SUCCESS);
            }
            let mut labels = BTreeMap::new();
            for l in &a.label {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                labels.insert(k.to_owned(), v.to_owned());
            }
            let opts = NetworkCreateOptions {
                name: a.name.clone(),
                subnet: a.subnet.clone(),
                gateway: a.gateway.clone(),
                internal: a.internal,
                labels,
            };
            println!("{}", netops::create(ctx, &opts)?.name);
        }
        NetworkCommand::Ls(a) => {
            let filters = netops::NetworkFilters::parse(&a.filter)?;
            let all = netops::list(ctx, &filters)?
                .iter()
                .map(netops::view)
                .collect::<Result<Vec<_>, _>>()?;
            print_ls(a, all)?;
        }
        NetworkCommand::Inspect(a) => {
            // Podman prints what it found, then fails for the rest.
            let mut out = Vec::new();
            let mut missing = Vec::new();
            for n in &a.names {
                match netops::inspect(ctx, std::slice::from_ref(n)) {
                    Ok(v) => out.extend(v),
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        missing.push(format!("network {n}: {}", e.text()))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            match OutputFormat::parse(a.format.as_deref())? {
                OutputFormat::Template(t) => {
                    for n in &out {
                        print!("{}", t.render_one(&go_view(n, true))?);
                    }
                }
                _ => println!(
                    "{}",
                    crate::format::to_json_pretty(&serde_json::Value::Array(out))
                ),
            }
            if !missing.is_empty() {
                return Err(crate::cli::container::inspect::not_found(&missing));
            }
        }
        NetworkCommand::Rm(a) => {
            let store = image::open_store(ctx)?;
            let state = engine::open_state(ctx)?;
            if a.time.is_some() && !a.force {
                anyhow::bail!("--force option must be specified to use the --time option");
            }
            let opts = NetworkRemoveOptions {
                names: a.names.clone(),
                force: a.force,
                timeout: a.time,
            };
            let mut code = 0;
            for r in netops::remove_networks(ctx, &store, &state, &opts)? {
                match r.error {
                    None => println!("{}", r.name),
                    Some(e) => {
                        eprintln!("Error: {}", e.text());
                        // Podman's codes: 1 no such network, 2 in use.
                        code = match e.kind() {
                            ErrorKind::NotFound => 1,
                            ErrorKind::Conflict => 2,
                            _ => crate::cli::EXIT_HUTCH_ERROR,
                        };
                    }
                }
            }
            return Ok(ExitCode::from(code));
        }
        NetworkCommand::Prune(a) => {
            if !a.force
                && !crate::cli::confirm(
                    "WARNING! This will remove all networks not used by at least one container.",
                )?
            {
                return Ok(ExitCode::SUCCESS);
            }
            let filters = crate::engine::prune_filter::PruneFilters::parse(
                &a.filter,
                crate::engine::prune_filter::PruneKind::Network,
                crate::host::time::now_ns(),
            )?;
            let store = image::open_store(ctx)?;
            let state = engine::open_state(ctx)?;
            for name in netops::prune(ctx, &store, &state, &filters)? {
                println!("{name}");
            }
        }
        NetworkCommand::Connect(a) => {
            let wanted = hutch_rootless_net::Attachment {
                name: a.network.clone(),
                aliases: a.alias.clone(),
                ip: connect_ip("ip", a.ip.as_deref())?,
                ip6: connect_ip("ip6", a.ip6.as_deref())?,
                mac: a
                    .mac_address
                    .as_deref()
                    .map(crate::cli::container::flags::mac_flag)
                    .transpose()?,
            };
            let (root, c) = one_container(ctx, &a.container)?;
            usernet::connect(ctx, &root, &c, wanted)?;
        }
        NetworkCommand::Disconnect(a) => {
            let (root, c) = one_container(ctx, &a.container)?;
            let _ = a.force;
            usernet::disconnect(ctx, &root, &c, &a.network)?;
        }
        NetworkCommand::Exists(a) => {
            return Ok(if nets.get(&a.name).is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        NetworkCommand::Reload(a) => return reload(ctx, a),
    }
    Ok(ExitCode::SUCCESS)
}

/// `network ls`'s output of `all` (Podman's network records, as `network
/// inspect` and the libpod API show them).
/// A network under Podman's Go field names (its ListPrintReports and
/// inspect templates); `inspect` adds the containers on it.
fn go_view(n: &serde_json::Value, inspect: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "ID": n["id"],
        "Name": n["name"],
        "Driver": n["driver"],
        "NetworkInterface": n["network_interface"],
        "Created": n["created"],
        "Subnets": n["subnets"],
        "IPv6Enabled": n["ipv6_enabled"],
        "Internal": n["internal"],
        "DNSEnabled": n["dns_enabled"],
        "Labels": n["labels"],
        "IPAMOptions": n["ipam_options"],
    });
    if inspect {
        v["Containers"] = n["containers"].clone();
    }
    v
}

pub(crate) fn print_ls(a: &LsArgs, all: Vec<serde_json::Value>) -> anyhow::Result<()> {
    let text = |n: &serde_json::Value, k: &str| n[k].as_str().unwrap_or("").to_owned();
    let short = |id: &str| -> String {
        if a.no_trunc {
            id.to_owned()
        } else {
            id.chars().take(12).collect()
        }
    };
    // Podman prints names under `-q`, not ids (podman-network-ls(1)).
    if a.quiet {
        for n in &all {
            println!("{}", text(n, "name"));
        }
        return Ok(());
    }
    let template = match OutputFormat::parse(a.format.as_deref())? {
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> = all
                .into_iter()
                .map(|mut n| {
                    // `containers` is inspect's, not the list's.
                    if let Some(o) = n.as_object_mut() {
                        o.remove("containers");
                    }
                    n
                })
                .collect();
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(list))
            );
            return Ok(());
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => Template::parse("table {{.ID}}\t{{.Name}}\t{{.Driver}}")?,
    };
    let template = if a.noheading {
        template.without_heading()
    } else {
        template
    };
    let rows: Vec<serde_json::Value> = all
        .iter()
        .map(|n| {
            let mut v = go_view(n, false);
            v["ID"] = short(&text(n, "id")).into();
            v
        })
        .collect();
    let headers = [("ID", "NETWORK ID")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(())
}
