//! `port`: a container's published ports, as `podman port`.

use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::port::{self, PortOptions};
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct PortArgs {
    /// Display the port information of all containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// CONTAINER [PRIVATE_PORT[/PROTO]]
    pub(crate) args: Vec<String>,
}

pub fn port(ctx: &Context, args: &PortArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    if args.latest && args.all {
        bail!("--all and --latest cannot be used together");
    }
    // `-l [PRIVATE_PORT]`: the latest container stands first.
    let mut words = args.args.clone();
    if args.latest {
        if words.len() > 1 {
            bail!("no arguments are needed with --latest, or only a port");
        }
        words.insert(0, engine::select::latest(&state)?.id);
    }
    let opts = if args.all {
        if words.len() > 1 {
            bail!("no arguments are needed with --all, or only a port");
        }
        PortOptions {
            container: None,
            all: true,
            port: words.first().cloned(),
        }
    } else {
        if words.len() > 2 {
            bail!("`port` accepts at most two arguments");
        }
        PortOptions {
            container: words.first().cloned(),
            all: false,
            port: words.get(1).cloned(),
        }
    };
    opts.validate()?;
    for m in port::port(ctx, &store, &state, &opts)? {
        match (&opts.port, args.all) {
            (Some(_), _) => println!("{}", m.public),
            (None, true) => println!(
                "{}\t{} -> {}",
                &m.id[..12.min(m.id.len())],
                m.private,
                m.public
            ),
            (None, false) => println!("{} -> {}", m.private, m.public),
        }
    }
    Ok(ExitCode::SUCCESS)
}
