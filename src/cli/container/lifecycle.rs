//! Lifecycle commands on existing containers: create, start, stop, kill,
//! wait, restart, rename, `container exists`, `container prune`. Each
//! works container by container: an error on one is printed and the
//! others still go ahead; the exit code is 125 if any failed (Podman's).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use hutch_storage::Store;

use super::flags::{Caller, CreateFlags};
use crate::cli::{EXIT_HUTCH_ERROR, error_text};
use crate::config::Context;
use crate::engine::container::create::{self, CreateReport};
use crate::engine::container::lifecycle::{self, Condition};
use crate::engine::container::{self as engine, Paths, events};
use crate::engine::image;
use crate::engine::state::{Container, ContainerState, State};
use crate::spec::ContainerSpec;

/// Opens the store and the state, and finishes what dead monitors left
/// (so a killed monitor's container reads exited).
fn open(ctx: &Context) -> anyhow::Result<(Store, State)> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    lifecycle::recover(ctx, &store, &state)?;
    Ok((store, state))
}

/// The most recently created container (`--latest`).
fn latest(state: &State) -> anyhow::Result<Container> {
    state
        .list_containers(true)?
        .into_iter()
        .max_by_key(|c| c.created)
        .context("no containers to act on: no such container")
}

/// What a command acts on: (the input as the user gave it, to print back
/// as Podman does; the container).
fn targets(
    state: &State,
    names: &[String],
    all: bool,
    latest_: bool,
    verb: &str,
) -> anyhow::Result<Vec<(String, anyhow::Result<Container>)>> {
    if all {
        return Ok(state
            .list_containers(true)?
            .into_iter()
            .map(|c| (c.id.clone(), Ok(c)))
            .collect());
    }
    if latest_ {
        let c = latest(state)?;
        return Ok(vec![(c.id.clone(), Ok(c))]);
    }
    if names.is_empty() {
        bail!("you must provide at least one container name or id to {verb}");
    }
    Ok(names
        .iter()
        .map(|n| (n.clone(), state.container(n).map_err(Into::into)))
        .collect())
}

/// Prints an error for one container and remembers the failure.
fn failed(code: &mut u8, e: &anyhow::Error) {
    eprintln!("Error: {}", error_text(e));
    *code = EXIT_HUTCH_ERROR;
}

/// `create` and `run`: the engine's create (which does `--replace`), then
/// `--cidfile`, which is the front end's: the file is the caller's.
pub fn create_container(
    ctx: &Context,
    store: &Store,
    state: &State,
    flags: &CreateFlags,
    spec: &ContainerSpec,
) -> anyhow::Result<CreateReport> {
    if let Some(path) = &flags.cidfile
        && std::path::Path::new(path).exists()
    {
        bail!(
            "container id file exists. Ensure another container is not using it or delete {path}"
        );
    }
    let created = create::create(ctx, store, state, spec, &flags.options())?;
    if let Some(path) = &flags.cidfile {
        std::fs::write(path, &created.id)
            .with_context(|| format!("writing the container id to {path}"))?;
    }
    Ok(created)
}

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: CreateFlags,
    image: String,
    #[arg(allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn create(ctx: &Context, args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let spec = args
        .flags
        .spec(&args.image, &args.command, &Caller::current())?;
    let (store, state) = open(ctx)?;
    let created = create_container(ctx, &store, &state, &args.flags, &spec)?;
    println!("{}", created.id);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach container's STDOUT and STDERR
    #[arg(short, long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    interactive: bool,
    #[command(flatten)]
    attach_flags: super::attach::AttachFlags,
    /// Start all containers regardless of their state or configuration
    #[arg(long)]
    all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    containers: Vec<String>,
}

pub fn start(ctx: &Context, args: &StartArgs) -> anyhow::Result<ExitCode> {
    if args.attach {
        return super::start::start_attached(
            ctx,
            &args.containers,
            args.interactive,
            &args.attach_flags,
        );
    }
    let (store, state) = open(ctx)?;
    let mut code = 0;
    for (input, c) in targets(&state, &args.containers, args.all, args.latest, "start")? {
        // Detached only; `start --attach` joins the container after this.
        match c.and_then(|c| lifecycle::start_detached(ctx, &store, &state, &c.id)) {
            Ok(()) => println!("{input}"),
            Err(e) => failed(&mut code, &e),
        }
    }
    Ok(ExitCode::from(code))
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Stop all running containers
    #[arg(short, long)]
    all: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    ignore: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Seconds to wait for stop before killing the container
    #[arg(short = 't', long = "time")]
    time: Option<u32>,
    containers: Vec<String>,
}

pub fn stop(ctx: &Context, args: &StopArgs) -> anyhow::Result<ExitCode> {
    let (store, state) = open(ctx)?;
    let mut code = 0;
    for (input, c) in targets(&state, &args.containers, args.all, args.latest, "stop")? {
        let c = match c {
            Ok(c) => c,
            Err(_) if args.ignore => continue,
            Err(e) => {
                failed(&mut code, &e);
                continue;
            }
        };
        if args.all && !matches!(c.state, ContainerState::Running | ContainerState::Paused) {
            continue;
        }
        match lifecycle::stop(ctx, &store, &state, &c, args.time) {
            Ok(()) => println!("{input}"),
            Err(e) => failed(&mut code, &e),
        }
    }
    Ok(ExitCode::from(code))
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal all running containers
    #[arg(short, long)]
    all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    containers: Vec<String>,
}

pub fn kill(ctx: &Context, args: &KillArgs) -> anyhow::Result<ExitCode> {
    let sig = lifecycle::parse_signal(&args.signal)?;
    let (store, state) = open(ctx)?;
    let mut code = 0;
    for (input, c) in targets(&state, &args.containers, args.all, args.latest, "kill")? {
        if args.all
            && c.as_ref()
                .is_ok_and(|c| !matches!(c.state, ContainerState::Running))
        {
            continue;
        }
        match c.and_then(|c| lifecycle::kill(ctx, &store, &state, &c, sig)) {
            Ok(()) => println!("{input}"),
            Err(e) => failed(&mut code, &e),
        }
    }
    Ok(ExitCode::from(code))
}

/// `250ms`, `2s`, `1m`, or a plain number of milliseconds.
fn parse_interval(s: &str) -> anyhow::Result<Duration> {
    let bad = || anyhow::anyhow!("invalid interval {s:?}: use a duration such as 250ms or 1s");
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    /// Condition to wait on (running, stopped, exited, created, paused, removing, removed)
    #[arg(long, value_delimiter = ',')]
    condition: Vec<String>,
    /// Time interval to wait before polling for completion
    #[arg(short, long, default_value = "250ms")]
    interval: String,
    /// Ignore errors when a specified container is missing
    #[arg(long)]
    ignore: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    containers: Vec<String>,
}

pub fn wait(ctx: &Context, args: &WaitArgs) -> anyhow::Result<ExitCode> {
    let interval = parse_interval(&args.interval)?;
    let conds: Vec<Condition> = if args.condition.is_empty() {
        vec![Condition::Exited]
    } else {
        args.condition
            .iter()
            .map(|c| Condition::parse(c))
            .collect::<anyhow::Result<_>>()?
    };
    let (store, state) = open(ctx)?;
    let mut code = 0;
    let mut out = std::io::stdout().lock();
    for (_, c) in targets(&state, &args.containers, false, args.latest, "wait")? {
        let c = match c {
            Ok(c) => c,
            Err(_) if args.ignore => {
                writeln!(out, "-1")?;
                continue;
            }
            Err(e) => {
                failed(&mut code, &e);
                continue;
            }
        };
        match lifecycle::wait(ctx, &store, &state, &c.id, &conds, interval) {
            Ok(exit) => {
                writeln!(out, "{exit}")?;
                out.flush()?;
            }
            Err(e) => failed(&mut code, &e),
        }
    }
    Ok(ExitCode::from(code))
}

#[derive(Debug, clap::Args)]
pub struct RestartArgs {
    /// Restart all non-running containers
    #[arg(short, long)]
    all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Restart only running containers
    #[arg(long)]
    running: bool,
    /// Seconds to wait for stop before killing the container
    #[arg(short = 't', long = "time")]
    time: Option<u32>,
    containers: Vec<String>,
}

pub fn restart(ctx: &Context, args: &RestartArgs) -> anyhow::Result<ExitCode> {
    let (store, state) = open(ctx)?;
    let mut code = 0;
    for (_, c) in targets(&state, &args.containers, args.all, args.latest, "restart")? {
        if args.running && c.as_ref().is_ok_and(|c| c.state != ContainerState::Running) {
            continue;
        }
        let result = c.and_then(|c| {
            lifecycle::stop(ctx, &store, &state, &c, args.time)?;
            lifecycle::start_detached(ctx, &store, &state, &c.id)?;
            events::record(&state, &c, "restart", &[]);
            Ok(c.id)
        });
        match result {
            Ok(id) => println!("{id}"),
            Err(e) => failed(&mut code, &e),
        }
    }
    Ok(ExitCode::from(code))
}

#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    container: String,
    name: String,
}

pub fn rename(ctx: &Context, args: &RenameArgs) -> anyhow::Result<ExitCode> {
    let (_store, state) = open(ctx)?;
    let c = state.container(&args.container)?;
    state.rename(&c.id, &args.name)?;
    // The resolver of user networks answers the new name from now on.
    engine::usernet::rename(ctx, &c.id, &args.name);
    let renamed = state.container(&c.id)?;
    events::record(&state, &renamed, "rename", &[("oldName", c.name.clone())]);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ExistsArgs {
    container: String,
}

/// Exit 0 if the container exists, 1 if not, 125 on an error.
pub fn exists(ctx: &Context, args: &ExistsArgs) -> anyhow::Result<ExitCode> {
    let state = engine::open_state(ctx)?;
    match state.container(&args.container) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(crate::engine::state::StateError::NoSuchContainer { .. }) => Ok(ExitCode::from(1)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub fn prune(ctx: &Context, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    if !args.force {
        print!(
            "WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] "
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let (store, state) = open(ctx)?;
    let mut code = 0;
    for c in state.list_containers(true)? {
        let down = matches!(
            c.state,
            ContainerState::Exited | ContainerState::Configured | ContainerState::Stopped
        ) && !lifecycle::monitor_alive(&c);
        if !down {
            continue;
        }
        let paths = Paths::new(ctx, store.root(), &c.id);
        match engine::remove::remove_stopped(&store, &state, &paths, &c.id) {
            Ok(()) => println!("{}", c.id),
            Err(e) => failed(&mut code, &e),
        }
    }
    Ok(ExitCode::from(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_interval("100").unwrap(), Duration::from_millis(100));
        assert!(parse_interval("fast").is_err());
        assert!(parse_interval("3x").is_err());
    }
}
