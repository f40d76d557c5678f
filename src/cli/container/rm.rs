//! `rm`: stopped containers, or running ones with `-f`.
//!
//! As Podman: every name is looked up before anything is removed (a
//! missing one fails the command with exit 1 unless `-i` or `-f`); a
//! removed container is printed as it was given (full ids for `-a` and for
//! what `--depend` adds); a container others depend on is refused (125)
//! unless `--depend` removes those first; a running one without `-f` is
//! refused (2) and the others are still removed.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::Context;
use crate::engine::container::{self as engine, Paths, depend};
use crate::engine::image;
use crate::engine::state::{Container, ContainerState, State, StateError};

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    all: bool,
    /// Force removal of a running container (it is killed)
    #[arg(short, long)]
    force: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    ignore: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    volumes: bool,
    /// Remove container and all containers that depend on it
    #[arg(long)]
    depend: bool,
    /// Seconds to wait for stop before killing the container (with -f;
    /// without it a running container is killed at once)
    #[arg(short, long, value_name = "SECONDS")]
    time: Option<u32>,
    containers: Vec<String>,
}

/// Podman's exit codes for `rm`: 1 once a container was missing, else 2
/// once one was in the wrong state, else 125 for any other failure.
#[derive(Default)]
struct Outcome {
    missing: bool,
    improper: bool,
    failed: bool,
}

impl Outcome {
    fn code(&self) -> u8 {
        if self.missing {
            1
        } else if self.improper {
            2
        } else if self.failed {
            125
        } else {
            0
        }
    }
}

pub fn rm(ctx: &Context, args: &RmArgs) -> anyhow::Result<ExitCode> {
    if args.time.is_some() && !args.force {
        anyhow::bail!("--force option must be specified to use the --time option");
    }
    if args.all && !args.containers.is_empty() {
        anyhow::bail!("--all and containers cannot be given together");
    }
    if !args.all && args.containers.is_empty() {
        anyhow::bail!("must specify at least one container to remove");
    }
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    // Only a container whose monitor still lives has a pid worth signalling:
    // after a killed monitor the recorded pid may belong to anyone by now.
    state.recover()?;

    let graph = depend::Graph::new(state.list_containers(true)?);
    // (what to print, the container), all looked up first.
    let mut targets: Vec<(String, Container)> = Vec::new();
    if args.all {
        // Every container goes: those that depend on others first.
        let roots: Vec<&str> = graph.containers().map(|c| c.id.as_str()).collect();
        for c in graph.removal_order(&roots) {
            targets.push((c.id.clone(), c));
        }
    } else {
        for q in &args.containers {
            match state.container(q) {
                Ok(c) => {
                    if !targets.iter().any(|(_, t)| t.id == c.id) {
                        targets.push((q.clone(), c));
                    }
                }
                Err(StateError::NoSuchContainer { .. }) if args.ignore || args.force => {}
                Err(e @ StateError::NoSuchContainer { .. }) => {
                    eprintln!("Error: {e}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    let mut out = Outcome::default();
    let mut removed: Vec<String> = Vec::new();
    for (label, c) in &targets {
        if removed.contains(&c.id) {
            continue;
        }
        let batch: Vec<(String, Container)> = if args.depend && !args.all {
            graph
                .removal_order(&[c.id.as_str()])
                .into_iter()
                .filter(|d| !removed.contains(&d.id))
                .map(|d| (d.id.clone(), d))
                .collect()
        } else {
            let dependents: Vec<&Container> = graph
                .dependents(&c.id)
                .into_iter()
                .filter(|d| !removed.contains(&d.id))
                .collect();
            if !dependents.is_empty() {
                eprintln!("Error: {}", depend::refusal(&c.id, &dependents));
                out.failed = true;
                continue;
            }
            vec![(label.clone(), c.clone())]
        };
        for (label, c) in batch {
            match remove_one(ctx, &store, &state, &c, args) {
                Ok(()) => {
                    println!("{label}");
                    removed.push(c.id.clone());
                }
                Err(Refused::Improper(msg)) => {
                    eprintln!("Error: {msg}");
                    out.improper = true;
                    // What depends on it was removed, it was not: the
                    // rest of this chain stays.
                    break;
                }
                Err(Refused::Other(e)) => {
                    eprintln!("Error: {e:#}");
                    out.failed = true;
                    break;
                }
            }
        }
    }
    Ok(ExitCode::from(out.code()))
}

enum Refused {
    /// Running without `-f`: Podman's "container state improper" (exit 2).
    Improper(String),
    Other(anyhow::Error),
}

fn remove_one(
    ctx: &Context,
    store: &hutch_storage::Store,
    state: &State,
    c: &Container,
    args: &RmArgs,
) -> Result<(), Refused> {
    // The row may have changed since the lookup (a dependent was stopped,
    // the container exited).
    let c = state
        .container(&c.id)
        .map_err(|e| Refused::Other(e.into()))?;
    let timeout = Some(args.time.unwrap_or(0));
    if matches!(c.state, ContainerState::Running | ContainerState::Paused) {
        if !args.force {
            return Err(Refused::Improper(format!(
                "cannot remove container {} as it is {} - running or paused containers cannot be removed without force: container state improper",
                c.id,
                c.state.as_str()
            )));
        }
        // Marked as stopped by the user, so a restart policy does not
        // bring it back while it is being removed.
        engine::lifecycle::stop(ctx, store, state, &c, timeout)
            .with_context(|| format!("stopping container {}", c.name))
            .map_err(Refused::Other)?;
    } else if engine::lifecycle::monitor_alive(&c) {
        // Between two runs of a restart policy: its monitor would start
        // it again under the removal.
        engine::lifecycle::stop(ctx, store, state, &c, timeout)
            .with_context(|| format!("stopping container {}", c.name))
            .map_err(Refused::Other)?;
    }
    let paths = Paths::new(ctx, store.root(), &c.id);
    engine::network::teardown(ctx, &c.id);
    engine::remove::remove_stopped_with(store, state, &paths, &c.id, args.volumes)
        .with_context(|| format!("removing container {}", c.name))
        .map_err(Refused::Other)
}
