//! `rm`: stopped containers, or running ones with `-f`.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::Context;
use crate::engine::container::{self as engine, Paths};
use crate::engine::image;
use crate::engine::state::ContainerState;

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    all: bool,
    /// Force removal of a running container (it is killed)
    #[arg(short, long)]
    force: bool,
    containers: Vec<String>,
}

pub fn rm(ctx: &Context, args: &RmArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    // Only a container whose monitor still lives has a pid worth signalling:
    // after a killed monitor the recorded pid may belong to anyone by now.
    state.recover()?;
    let targets: Vec<String> = if args.all {
        state
            .list_containers(true)?
            .into_iter()
            .map(|c| c.id)
            .collect()
    } else {
        if args.containers.is_empty() {
            anyhow::bail!("must specify at least one container to remove");
        }
        args.containers.clone()
    };
    let mut code = 0u8;
    for t in &targets {
        let c = match state.container(t) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("Error: {e}");
                code = code.max(1);
                continue;
            }
        };
        if matches!(c.state, ContainerState::Running | ContainerState::Paused) {
            if !args.force {
                eprintln!(
                    "Error: cannot remove container {} as it is running - running or paused containers cannot be removed without force: container state improper",
                    c.id
                );
                code = 2;
                continue;
            }
            // Marked as stopped by the user, so a restart policy does not
            // bring it back while it is being removed.
            engine::lifecycle::stop(ctx, &store, &state, &c, Some(0))
                .with_context(|| format!("stopping container {}", c.name))?;
        } else if engine::lifecycle::monitor_alive(&c) {
            // Between two runs of a restart policy: its monitor would start
            // it again under the removal.
            engine::lifecycle::stop(ctx, &store, &state, &c, Some(0))
                .with_context(|| format!("stopping container {}", c.name))?;
        }
        let paths = Paths::new(ctx, store.root(), &c.id);
        engine::network::teardown(ctx, &c.id);
        engine::remove::remove_stopped(&store, &state, &paths, &c.id)
            .with_context(|| format!("removing container {}", c.name))?;
        println!("{}", c.id);
    }
    Ok(ExitCode::from(code))
}
