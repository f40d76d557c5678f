//! `port`: a container's published ports, as `podman port`.

use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::{self as engine, Paths, network};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct PortArgs {
    /// Display the port information of all containers
    #[arg(short, long)]
    all: bool,
    /// CONTAINER [PRIVATE_PORT[/PROTO]]
    args: Vec<String>,
}

pub fn port(ctx: &Context, args: &PortArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let (containers, filter) = if args.all {
        if args.args.len() > 1 {
            bail!("no arguments are needed with --all, or only a port");
        }
        let all: Vec<_> = state.list_containers(true)?;
        (all, args.args.first().cloned())
    } else {
        let Some(name) = args.args.first() else {
            bail!("you must supply a running container name or ID");
        };
        if args.args.len() > 2 {
            bail!("`port` accepts at most two arguments");
        }
        (vec![state.container(name)?], args.args.get(1).cloned())
    };
    // "80" means 80/tcp, as in Podman.
    let filter = filter.map(|f| {
        if f.contains('/') {
            f
        } else {
            format!("{f}/tcp")
        }
    });
    let mut found = false;
    for c in &containers {
        let plan = network::read_plan(&Paths::new(ctx, store.root(), &c.id)).unwrap_or_default();
        let lines: Vec<String> = plan.ports.iter().flat_map(|p| p.lines()).collect();
        for line in lines {
            let (private, public) = line.split_once(" -> ").unwrap_or((&line, ""));
            match &filter {
                Some(f) if f == private => {
                    found = true;
                    println!("{public}");
                }
                Some(_) => {}
                None => {
                    found = true;
                    if args.all {
                        println!("{}\t{line}", &c.id[..12]);
                    } else {
                        println!("{line}");
                    }
                }
            }
        }
    }
    if let Some(f) = filter
        && !found
    {
        bail!("failed to find published port {f:?}");
    }
    Ok(ExitCode::SUCCESS)
}
