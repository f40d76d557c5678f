//! `init` (and `container init`): created containers made ready in the
//! runtime without running their process; `start` runs them.

use std::process::ExitCode;

use crate::cli::EXIT_HUTCH_ERROR;
use crate::config::Context;
use crate::engine::container::init::{InitOptions, init};
use crate::engine::container::select::Selection;
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Initialize all containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    #[arg(value_name = "CONTAINER")]
    pub(crate) containers: Vec<String>,
}

pub fn run(ctx: &Context, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let opts = InitOptions {
        select: Selection {
            names: args.containers.clone(),
            all: args.all,
            latest: args.latest,
        },
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    // Podman prints the name as given (the full id for --all/--latest).
    let mut code = 0;
    for r in init(ctx, &store, &state, &opts)? {
        match &r.error {
            None => println!("{}", r.input),
            Some(e) => {
                eprintln!("Error: {}", e.text());
                code = EXIT_HUTCH_ERROR;
            }
        }
    }
    Ok(ExitCode::from(code))
}
