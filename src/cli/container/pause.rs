//! `pause` and `unpause`.

use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::{self as engine, pause};
use crate::engine::image;
use crate::engine::state::ContainerState;

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// Pause (or unpause) all running (paused) containers
    #[arg(short, long)]
    all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    containers: Vec<String>,
}

pub fn pause(ctx: &Context, args: &PauseArgs) -> anyhow::Result<ExitCode> {
    each(ctx, args, true)
}

pub fn unpause(ctx: &Context, args: &PauseArgs) -> anyhow::Result<ExitCode> {
    each(ctx, args, false)
}

fn each(ctx: &Context, args: &PauseArgs, freeze: bool) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    state.recover()?;
    let targets = if args.all {
        let want = if freeze {
            ContainerState::Running
        } else {
            ContainerState::Paused
        };
        state
            .list_containers(true)?
            .into_iter()
            .filter(|c| c.state == want)
            .collect()
    } else {
        if args.containers.is_empty() && !args.latest {
            bail!("you must provide at least one name or id");
        }
        super::pick::containers(&state, &args.containers, args.latest)?
    };
    let mut failed = false;
    for c in targets {
        let done = match freeze {
            true => pause::pause(ctx, &store, &state, &c),
            false => pause::unpause(ctx, &store, &state, &c),
        };
        match done {
            Ok(()) => println!("{}", c.id),
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                failed = true;
            }
        }
    }
    Ok(ExitCode::from(if failed {
        crate::cli::EXIT_HUTCH_ERROR
    } else {
        0
    }))
}
