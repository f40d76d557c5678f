//! `container cleanup`: what a container's monitor has its exit command do
//! (unmount, network teardown, `--rm`), asked for by hand, as Podman's
//! `container cleanup`.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::EXIT_HUTCH_ERROR;
use crate::config::Context;
use crate::engine::container::cleanup::{self as engine_cleanup, CleanupOptions};
use crate::engine::container::{self as engine, lifecycle};
use crate::engine::image;
use crate::engine::state::ContainerState;

#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    /// Cleans up all containers
    #[arg(short, long)]
    all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Clean up the given exec session instead of the container
    #[arg(long, value_name = "SESSION")]
    exec: Option<String>,
    /// After cleanup, remove the container entirely
    #[arg(long)]
    rm: bool,
    /// After cleanup, remove the image entirely
    #[arg(long)]
    rmi: bool,
    containers: Vec<String>,
}

/// Podman's words for a container whose process still runs.
fn refusal(id: &str) -> String {
    format!(
        "failed to clean up container {id}: container {id} is running or paused, refusing to clean up: container state improper"
    )
}

/// Whether the container's process (or the runtime's held one) is there:
/// the cleanup would pull its mounts and network from under it.
fn busy(state: ContainerState) -> bool {
    matches!(
        state,
        ContainerState::Running | ContainerState::Paused | ContainerState::Created
    )
}

pub fn cleanup(ctx: &Context, args: &CleanupArgs) -> anyhow::Result<ExitCode> {
    // Podman's argument checks, in its order and words.
    if args.all && args.latest {
        bail!("--all and --latest cannot be used together");
    }
    if args.all && !args.containers.is_empty() {
        bail!("no arguments are needed with --all");
    }
    if args.latest && !args.containers.is_empty() {
        bail!("--latest and containers cannot be used together");
    }
    if !args.all && !args.latest && args.containers.is_empty() {
        bail!("you must provide at least one name or id");
    }
    if args.exec.is_some() {
        if args.all {
            bail!("exec and all options conflict");
        }
        if args.containers.len() > 1 {
            bail!("cannot use exec option when more than one container is given");
        }
        if args.rmi {
            bail!("exec and rmi options conflict");
        }
    }
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    lifecycle::recover(ctx, &store, &state)?;
    if let Some(session) = &args.exec {
        // Podman prints nothing for a session, and logs its failure as
        // the cleanup's (it runs as an exit command, seen in syslog).
        let done =
            super::pick::containers(&state, &args.containers, args.latest).and_then(|cs| match cs
                .first()
            {
                Some(c) => Ok(engine::exec::cleanup_session(&state, c, session, args.rm)?),
                None => bail!("you must provide at least one name or id"),
            });
        if let Err(e) = done {
            let text = crate::cli::error_text(&e);
            tracing::error!("Running container cleanup: {text}");
            bail!(text);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // (what is printed when done, the container)
    let mut targets = Vec::new();
    if args.all {
        for c in state.list_containers(true)? {
            if !busy(c.state) {
                targets.push((c.id.clone(), c));
            }
        }
    } else {
        for c in super::pick::containers(&state, &args.containers, args.latest)? {
            targets.push((c.id.clone(), c));
        }
        // Podman prints a container as it was named.
        for (shown, name) in targets.iter_mut().zip(&args.containers) {
            shown.0 = name.clone();
        }
    }
    let mut code = 0;
    for (shown, c) in targets {
        if busy(c.state) {
            eprintln!("Error: {}", refusal(&c.id));
            code = EXIT_HUTCH_ERROR;
            continue;
        }
        let opts = CleanupOptions {
            remove: args.rm,
            ..CleanupOptions::default()
        };
        if let Err(e) = engine_cleanup::cleanup(ctx, &store, &state, &c.id, opts) {
            eprintln!("Error: failed to clean up container {}: {e:#}", c.id);
            code = EXIT_HUTCH_ERROR;
            continue;
        }
        // `--rmi`: the container's image goes too, by its id (Podman's
        // `RemoveImages` with no force: an image others use stays).
        if args.rmi && !c.image_id.is_empty() {
            let failed = match image::remove::remove(
                &store,
                std::slice::from_ref(&c.image_id),
                false,
                false,
            ) {
                Ok(r) => r.errors,
                Err(e) => vec![e.text()],
            };
            if !failed.is_empty() {
                for e in &failed {
                    tracing::error!("Removing image: {e}");
                    eprintln!("Error: {e}");
                }
                code = EXIT_HUTCH_ERROR;
                continue;
            }
        }
        println!("{shown}");
    }
    Ok(ExitCode::from(code))
}
