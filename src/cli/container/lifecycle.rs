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
use crate::cli::EXIT_HUTCH_ERROR;
use crate::config::Context;
use crate::engine::container::attach::AttachOptions;
use crate::engine::container::create::{self, CreateReport};
use crate::engine::container::kill::{self, KillOptions};
use crate::engine::container::lifecycle;
use crate::engine::container::prune::{self, PruneOptions};
use crate::engine::container::rename::{self, RenameOptions};
use crate::engine::container::restart::{self, RestartOptions};
use crate::engine::container::select::{Report, Selection};
use crate::engine::container::start::{self, StartOptions, Started};
use crate::engine::container::stop::{self, StopOptions};
use crate::engine::container::wait::{self, WaitOptions};
use crate::engine::container::{self as engine, exists};
use crate::engine::image;
use crate::engine::state::State;
use crate::spec::ContainerSpec;

/// Opens the store and the state, and finishes what dead monitors left
/// (so a killed monitor's container reads exited).
fn open(ctx: &Context) -> anyhow::Result<(Store, State)> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    lifecycle::recover(ctx, &store, &state)?;
    Ok((store, state))
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
    flags.check_platform()?;
    // `--pod new:NAME`: the pod first; it goes again if the container
    // cannot be made.
    let mut spec = spec.clone();
    let new_pod = crate::cli::pod::pod_new(ctx, store, state, &mut spec)?;
    let created = match create::create(ctx, store, state, &spec, &flags.options()) {
        Ok(c) => c,
        Err(e) => {
            if let Some(id) = new_pod {
                crate::cli::pod::forget_new(ctx, store, state, &id);
            }
            return Err(e.into());
        }
    };
    if let Some(path) = &flags.cidfile {
        std::fs::write(path, &created.id)
            .with_context(|| format!("writing the container id to {path}"))?;
    }
    Ok(created)
}

#[derive(Debug, clap::Args)]
// `-h` is --hostname, as Podman's (cobra keeps --help).
#[command(trailing_var_arg = true, disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Attach to STDIN, STDOUT or STDERR (accepted and not kept, as in
    /// Podman 4.3: `start -a` attaches the container's streams)
    #[arg(short = 'a', long = "attach", value_name = "STREAM")]
    attach_streams: Vec<String>,
    /// Make this a pod init container ("always" or "once")
    #[arg(long, value_name = "TYPE")]
    pub(crate) init_ctr: Option<String>,
    #[command(flatten)]
    pub(crate) flags: CreateFlags,
    /// IMAGE [COMMAND [ARG...]]: options end at the image, as in Podman
    /// (cobra's interspersed=false): what follows is the command's, `-c`
    /// and `--rm` included.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, value_name = "IMAGE [COMMAND [ARG...]]")]
    pub(crate) argv: Vec<String>,
}

/// A warning of `create`, worded and prefixed as Podman prints it.
pub fn print_create_warning(w: &str) {
    if w == crate::engine::container::create::PORTS_DISCARDED {
        eprintln!("{w}");
    } else {
        eprintln!("Warning: {w}");
    }
}

pub fn create(ctx: &Context, args: &CreateArgs) -> anyhow::Result<ExitCode> {
    // Podman 4.3's create takes any `-a` value and keeps none of them.
    let _ = &args.attach_streams;
    let mut spec = args.flags.with_conf(ctx.containers_conf()).spec(
        args.argv.first().map_or("", String::as_str),
        args.argv.get(1..).unwrap_or_default(),
        &Caller::current(),
    )?;
    spec.create_command = std::env::args().collect();
    if let Some(kind) = &args.init_ctr {
        // Podman's checks and words, the pod first.
        if spec.pod.is_none() {
            anyhow::bail!("must specify pod value with init-ctr");
        }
        if !matches!(kind.as_str(), "always" | "once") {
            anyhow::bail!("init-ctr value must be 'always' or 'once'");
        }
        spec.init_ctr = Some(kind.clone());
    }
    for w in args.flags.warnings() {
        eprintln!("Warning: {w}");
    }
    let (store, state) = open(ctx)?;
    let created = create_container(ctx, &store, &state, &args.flags, &spec)?;
    for w in &created.warnings {
        print_create_warning(w);
    }
    println!("{}", created.id);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach container's STDOUT and STDERR
    #[arg(short, long)]
    pub(crate) attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub(crate) interactive: bool,
    #[command(flatten)]
    pub(crate) attach_flags: super::attach::AttachFlags,
    /// Start all containers regardless of their state or configuration
    #[arg(long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Filter output based on conditions given
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub(crate) filter: Vec<String>,
    pub(crate) containers: Vec<String>,
}

fn selection(names: &[String], all: bool, latest: bool) -> Selection {
    Selection {
        names: names.to_vec(),
        all,
        latest,
    }
}

pub fn start(ctx: &Context, args: &StartArgs) -> anyhow::Result<ExitCode> {
    let (store, state) = open(ctx)?;
    let mut names = args.containers.clone();
    if let Some(ids) = super::pick::filtered(ctx, &store, &state, &args.filter, &names)? {
        if ids.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        names = ids;
    }
    let opts = StartOptions {
        passed: super::passed::take()?.map(std::sync::Arc::new),
        select: selection(&names, args.all, args.latest),
        attach: args.attach.then(|| AttachOptions {
            stdin: args.interactive,
            detach_keys: args.attach_flags.detach_keys.clone(),
            sig_proxy: args.attach_flags.sig_proxy,
            ..Default::default()
        }),
    };
    let started = match start::start(ctx, &store, &state, &opts) {
        Ok(s) => s,
        // Podman's `start` exits 125 for every failure, a runtime's
        // 126/127 included (only `run` passes those on).
        Err(e) if args.attach => {
            let id = opts
                .select
                .resolve(&state)
                .ok()
                .and_then(|mut r| r.pop())
                .and_then(|(_, c)| c.ok())
                .map(|c| c.id);
            match id {
                Some(id) => eprintln!("Error: unable to start container {id}: {e:#}"),
                None => eprintln!("Error: {e:#}"),
            }
            return Ok(ExitCode::from(EXIT_HUTCH_ERROR));
        }
        Err(e) => return Err(e.into()),
    };
    match started {
        Started::Detached(reports) => Ok(print_reports(&reports)),
        Started::Attached(None) => Ok(ExitCode::SUCCESS),
        Started::Attached(Some(session)) => super::attach::console(session),
    }
}

/// Prints each report as Podman does: the input on stdout when done, the
/// error on stderr when not; 125 once one failed.
pub(super) fn print_reports(reports: &[Report]) -> ExitCode {
    let mut code = 0;
    for r in reports {
        match &r.error {
            None => println!("{}", r.input),
            Some(e) => {
                eprintln!("Error: {}", e.text());
                code = EXIT_HUTCH_ERROR;
            }
        }
    }
    ExitCode::from(code)
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Stop all running containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    pub(crate) ignore: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Seconds to wait for stop before killing the container
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    pub(crate) time: Option<u32>,
    /// Read the container ID from the file
    #[arg(long, value_name = "FILE")]
    pub(crate) cidfile: Vec<std::path::PathBuf>,
    /// Filter output based on conditions given
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub(crate) filter: Vec<String>,
    pub(crate) containers: Vec<String>,
}

pub fn stop(ctx: &Context, args: &StopArgs) -> anyhow::Result<ExitCode> {
    let mut names = with_cidfiles(&args.containers, &args.cidfile)?;
    let (store, state) = open(ctx)?;
    if let Some(ids) = super::pick::filtered(ctx, &store, &state, &args.filter, &names)? {
        if ids.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        names = ids;
    }
    let opts = StopOptions {
        select: selection(&names, args.all, args.latest),
        ignore: args.ignore,
        timeout: args.time,
    };
    opts.select.validate()?;
    Ok(print_reports(&stop::stop(ctx, &store, &state, &opts)?))
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal all running containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub(crate) signal: String,
    /// Read the container ID from the file
    #[arg(long, value_name = "FILE")]
    pub(crate) cidfile: Vec<std::path::PathBuf>,
    pub(crate) containers: Vec<String>,
}

/// `containers` and the ids the `--cidfile`s hold, in that order (as
/// `rm` and `stop` read them).
pub(super) fn with_cidfiles(
    containers: &[String],
    cidfiles: &[std::path::PathBuf],
) -> anyhow::Result<Vec<String>> {
    let mut names = containers.to_vec();
    for file in cidfiles {
        names.push(super::rm::read_cidfile(file)?);
    }
    Ok(names)
}

pub fn kill(ctx: &Context, args: &KillArgs) -> anyhow::Result<ExitCode> {
    let names = with_cidfiles(&args.containers, &args.cidfile)?;
    let opts = KillOptions {
        select: selection(&names, args.all, args.latest),
        signal: args.signal.clone(),
    };
    opts.validate()?;
    opts.select.validate()?;
    let (store, state) = open(ctx)?;
    Ok(print_reports(&kill::kill(ctx, &store, &state, &opts)?))
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
    pub(crate) condition: Vec<String>,
    /// Time interval to wait before polling for completion
    #[arg(short, long, default_value = "250ms")]
    pub(crate) interval: String,
    /// Ignore errors when a specified container is missing
    #[arg(long)]
    pub(crate) ignore: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    pub(crate) containers: Vec<String>,
}

pub fn wait(ctx: &Context, args: &WaitArgs) -> anyhow::Result<ExitCode> {
    let opts = WaitOptions {
        select: selection(&args.containers, false, args.latest),
        conditions: WaitOptions::conditions(&args.condition)?,
        interval: parse_interval(&args.interval)?,
        ignore: args.ignore,
    };
    opts.select.validate()?;
    let (store, state) = open(ctx)?;
    let mut code = 0;
    let mut out = std::io::stdout().lock();
    // Printed as each wait ends: a script reading the codes sees the first
    // exit before the second container ends.
    wait::wait(ctx, &store, &state, &opts, &mut |r| match &r.result {
        Ok(exit) => {
            let _ = writeln!(out, "{exit}");
            let _ = out.flush();
        }
        Err(e) => {
            eprintln!("Error: {}", e.text());
            code = EXIT_HUTCH_ERROR;
        }
    })?;
    Ok(ExitCode::from(code))
}

#[derive(Debug, clap::Args)]
pub struct RestartArgs {
    /// Restart all non-running containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Restart only running containers
    #[arg(long)]
    pub(crate) running: bool,
    /// Seconds to wait for stop before killing the container
    #[arg(short = 't', long = "time")]
    pub(crate) time: Option<u32>,
    /// Read the container ID from the file
    #[arg(long, value_name = "FILE")]
    pub(crate) cidfile: Vec<std::path::PathBuf>,
    /// Filter output based on conditions given
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub(crate) filter: Vec<String>,
    pub(crate) containers: Vec<String>,
}

pub fn restart(ctx: &Context, args: &RestartArgs) -> anyhow::Result<ExitCode> {
    let mut names = with_cidfiles(&args.containers, &args.cidfile)?;
    let (store, state) = open(ctx)?;
    if let Some(ids) = super::pick::filtered(ctx, &store, &state, &args.filter, &names)? {
        if ids.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        names = ids;
    }
    let opts = RestartOptions {
        select: selection(&names, args.all, args.latest),
        running: args.running,
        timeout: args.time,
    };
    opts.select.validate()?;
    let mut reports = restart::restart(ctx, &store, &state, &opts)?;
    // Podman prints the full id of a restarted container.
    for r in &mut reports {
        r.input = r.id.clone();
    }
    Ok(print_reports(&reports))
}

#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    pub(crate) container: String,
    pub(crate) name: String,
}

pub fn rename(ctx: &Context, args: &RenameArgs) -> anyhow::Result<ExitCode> {
    let (_store, state) = open(ctx)?;
    let opts = RenameOptions {
        container: args.container.clone(),
        name: args.name.clone(),
    };
    rename::rename(ctx, &state, &opts)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ExistsArgs {
    /// Consider containers created by other tools than hutch too (hutch's
    /// store holds none: the same answer)
    #[arg(long)]
    pub(crate) external: bool,
    pub(crate) container: String,
}

/// Exit 0 if the container exists, 1 if not, 125 on an error.
pub fn exists(ctx: &Context, args: &ExistsArgs) -> anyhow::Result<ExitCode> {
    let state = engine::open_state(ctx)?;
    Ok(match exists::exists(&state, &args.container)? {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
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

pub fn prune(ctx: &Context, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    use crate::engine::prune_filter::{PruneFilters, PruneKind};
    if !args.force && !crate::cli::confirm("WARNING! This will remove all non running containers.")?
    {
        return Ok(ExitCode::SUCCESS);
    }
    let filters = PruneFilters::parse(
        &args.filter,
        PruneKind::Container,
        crate::host::time::now_ns(),
    )?;
    let (store, state) = open(ctx)?;
    let reports = prune::prune(ctx, &store, &state, &PruneOptions { filters })?;
    Ok(print_reports(&reports))
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
