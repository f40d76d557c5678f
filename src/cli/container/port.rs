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
    /// CONTAINER [PRIVATE_PORT[/PROTO]]
    pub(crate) args: Vec<String>,
}

pub fn port(ctx: &Context, args: &PortArgs) -> anyhow::Result<ExitCode> {
    let opts = if args.all {
        if args.args.len() > 1 {
            bail!("no arguments are needed with --all, or only a port");
        }
        PortOptions {
            container: None,
            all: true,
            port: args.args.first().cloned(),
        }
    } else {
        if args.args.len() > 2 {
            bail!("`port` accepts at most two arguments");
        }
        PortOptions {
            container: args.args.first().cloned(),
            all: false,
            port: args.args.get(1).cloned(),
        }
    };
    opts.validate()?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
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
