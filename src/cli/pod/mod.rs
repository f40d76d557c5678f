//! `pod create|start|stop|restart|kill|pause|unpause|rm|prune|ps|inspect|
//! top|logs|exists|stats|clone`: Podman's flags and output, turned into the engine's
//! pod requests.

mod clone;
mod create;
mod flags;
pub(crate) mod ps;
pub(crate) mod stats;

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::{self as containers, top::TopOptions};
use crate::engine::image;
use crate::engine::pod::lifecycle::{PodAction, PodSelection};
use crate::engine::pod::{self as engine, remove::PodRemoveOptions};
use crate::engine::state::State;
use crate::engine::{ErrorKind, Result};
use crate::format::OutputFormat;

pub use create::{CreateArgs, pod_new};

// Parsed once per process: the size of the create flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum PodCommand {
    /// Create a new empty pod
    Create(CreateArgs),
    /// Start one or more pods
    Start(SelectArgs),
    /// Stop one or more pods
    Stop(StopArgs),
    /// Restart one or more pods
    Restart(SelectArgs),
    /// Send the specified signal or SIGKILL to containers in pod
    Kill(KillArgs),
    /// Pause one or more pods
    Pause(SelectArgs),
    /// Unpause one or more pods
    Unpause(SelectArgs),
    /// Remove one or more pods
    Rm(RmArgs),
    /// Remove all stopped pods and their containers
    Prune(PruneArgs),
    /// List pods
    #[command(visible_aliases = ["ls", "list"])]
    Ps(ps::PsArgs),
    /// Display a pod configuration
    Inspect(InspectArgs),
    /// Display the running processes of containers in a pod
    Top(TopArgs),
    /// Fetch logs for pod with one or more containers
    Logs(LogsArgs),
    /// Check if a pod exists in local storage
    Exists(ExistsArgs),
    /// Display a live stream of resource usage statistics for the containers in one or more pods
    Stats(stats::StatsArgs),
    /// Clone an existing pod
    Clone(clone::CloneArgs),
}

#[derive(Debug, clap::Args)]
pub struct SelectArgs {
    /// Act on all pods
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Read the pod ID from the file (as `pod create --pod-id-file` wrote it)
    #[arg(long, value_name = "FILE")]
    pub(crate) pod_id_file: Vec<std::path::PathBuf>,
    /// Act on the latest pod hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    pub(crate) pods: Vec<String>,
}

impl SelectArgs {
    fn selection(&self, state: &State) -> anyhow::Result<PodSelection> {
        let mut names = with_latest(state, &self.pods, self.latest)?;
        names.extend(ids_from_files(&self.pod_id_file, false)?);
        Ok(PodSelection {
            names,
            all: self.all,
        })
    }
}

/// `names`, or with `--latest` the id of the pod made last (Podman's
/// `-l`), refused beside names.
fn with_latest(state: &State, names: &[String], latest: bool) -> anyhow::Result<Vec<String>> {
    if !latest {
        return Ok(names.to_vec());
    }
    if !names.is_empty() {
        // Podman's words, "containers" and all.
        anyhow::bail!("--latest and containers cannot be used together");
    }
    match state.list_pods()?.into_iter().max_by_key(|p| p.created) {
        Some(p) => Ok(vec![p.id]),
        None => anyhow::bail!("no such pod"),
    }
}

/// `--pod-id-file`: the ids the files hold (at most 1 KiB each: an id is
/// 64 digits); with `ignore`, a missing file is skipped (a unit's
/// `ExecStopPost` after a start that never made the pod).
pub(crate) fn ids_from_files(
    files: &[std::path::PathBuf],
    ignore: bool,
) -> anyhow::Result<Vec<String>> {
    use std::io::Read as _;
    let mut ids = Vec::new();
    for f in files {
        let mut text = String::new();
        match std::fs::File::open(f).and_then(|h| h.take(1024).read_to_string(&mut text)) {
            Ok(_) => ids.push(text.trim().to_owned()),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("reading the pod id file {}: {e}", f.display()),
        }
    }
    Ok(ids)
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Seconds to wait for pod stop before killing the container
    #[arg(short = 't', long = "time")]
    pub(crate) time: Option<u32>,
    /// Ignore errors when a specified pod is missing
    #[arg(short, long)]
    pub(crate) ignore: bool,
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Signal to send to the containers in the pod
    #[arg(short, long, default_value = "KILL")]
    pub(crate) signal: String,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove all running pods
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Force removal of a running pod by first stopping all containers, then removing all containers in the pod
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Ignore errors when a specified pod is missing
    #[arg(short, long)]
    pub(crate) ignore: bool,
    /// Seconds to wait for pod stop before killing the container
    #[arg(short = 't', long = "time")]
    pub(crate) time: Option<u32>,
    /// Read the pod ID from the file (as `pod create --pod-id-file` wrote it)
    #[arg(long, value_name = "FILE")]
    pub(crate) pod_id_file: Vec<std::path::PathBuf>,
    /// Act on the latest pod hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    pub(crate) pods: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub(crate) force: bool,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format the output to a Go template or json
    #[arg(short, long)]
    pub(crate) format: Option<String>,
    /// Act on the latest pod hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    #[arg(required_unless_present = "latest", conflicts_with = "latest")]
    pub(crate) pod: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// Act on the latest pod hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// POD [DESCRIPTORS...] (DESCRIPTORS... with --latest)
    #[arg(required_unless_present = "latest")]
    pub(crate) args: Vec<String>,
}

impl TopArgs {
    /// The pod and the descriptors: with `--latest` every word is a
    /// descriptor.
    fn split(&self, state: &State) -> anyhow::Result<(String, Vec<String>)> {
        if self.latest {
            let pod = with_latest(state, &[], true)?.remove(0);
            return Ok((pod, self.args.clone()));
        }
        match self.args.split_first() {
            Some((pod, rest)) => Ok((pod.clone(), rest.to_vec())),
            None => anyhow::bail!("you must provide the name or id of a running pod"),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Filter logs by container name or id which belongs to pod
    #[arg(short, long)]
    pub(crate) container: Option<String>,
    /// Output the specified number of LINES at the end of the logs (-1: all)
    // Podman's: `--tail` has no short form; `-n` is `--names`.
    #[arg(long, allow_negative_numbers = true, value_name = "LINES")]
    pub(crate) tail: Option<i64>,
    /// Output the timestamps in the log
    #[arg(short, long)]
    pub(crate) timestamps: bool,
    /// Output the containers within a pod with different colors in the log
    #[arg(long)]
    pub(crate) color: bool,
    /// Follow log output
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Act on the latest pod hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Output container names instead of container IDs in the log
    #[arg(short, long)]
    pub(crate) names: bool,
    /// Show logs since TIMESTAMP
    #[arg(long, value_name = "TIMESTAMP")]
    pub(crate) since: Option<String>,
    /// Show logs until TIMESTAMP
    #[arg(long, value_name = "TIMESTAMP")]
    pub(crate) until: Option<String>,
    // Not `required`: Podman's messages for no pod and for a pod beside
    // `--latest`.
    #[arg(value_name = "POD")]
    pub(crate) pod: Option<String>,
}

impl LogsArgs {
    /// The container `logs` of the pod's `containers` (local or remote):
    /// `--follow` follows one container only.
    pub(crate) fn for_containers(
        &self,
        containers: Vec<String>,
    ) -> anyhow::Result<crate::cli::container::logs::LogsArgs> {
        if self.follow && containers.len() > 1 {
            anyhow::bail!(
                "hutch pod logs --follow follows one container at a time: name it with -c CONTAINER"
            );
        }
        Ok(crate::cli::container::logs::LogsArgs {
            tail: self.tail,
            timestamps: self.timestamps,
            follow: self.follow,
            since: self.since.clone(),
            until: self.until.clone(),
            names: self.names,
            color: self.color,
            latest: false,
            containers,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct ExistsArgs {
    pub(crate) pod: String,
}

/// Prints each pod's id, or its errors; the exit code Podman gives.
fn print_reports(reports: Vec<engine::lifecycle::PodReport>) -> ExitCode {
    let mut failed = false;
    for r in reports {
        if r.errors.is_empty() {
            println!("{}", r.id);
        } else {
            failed = true;
            for e in r.errors {
                eprintln!("Error: {}", e.text());
            }
        }
    }
    if failed {
        ExitCode::from(crate::cli::EXIT_HUTCH_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn run(ctx: &Context, cmd: PodCommand) -> anyhow::Result<ExitCode> {
    if let PodCommand::Create(a) = &cmd {
        return create::create(ctx, a);
    }
    if let PodCommand::Stats(a) = &cmd {
        return stats::stats(ctx, a);
    }
    if let PodCommand::Clone(a) = &cmd {
        return clone::run(ctx, a);
    }
    let store = image::open_store(ctx)?;
    let state = containers::open_state(ctx)?;
    let act = |select: &SelectArgs, action: PodAction| -> Result<ExitCode> {
        Ok(print_reports(engine::lifecycle::act(
            ctx,
            &store,
            &state,
            &select.selection(&state)?,
            &action,
        )?))
    };
    Ok(match cmd {
        PodCommand::Create(_) => unreachable!("handled above"),
        PodCommand::Start(a) => act(&a, PodAction::Start)?,
        PodCommand::Restart(a) => act(&a, PodAction::Restart { timeout: None })?,
        PodCommand::Pause(a) => act(&a, PodAction::Pause)?,
        PodCommand::Unpause(a) => act(&a, PodAction::Unpause)?,
        PodCommand::Kill(a) => act(&a.select, PodAction::Kill { signal: a.signal })?,
        PodCommand::Stop(a) => {
            let mut sel = PodSelection {
                names: with_latest(&state, &a.select.pods, a.select.latest)?,
                all: a.select.all,
            };
            sel.names
                .extend(ids_from_files(&a.select.pod_id_file, a.ignore)?);
            if a.ignore {
                sel.names.retain(|n| engine::lookup(&state, n).is_ok());
                if sel.names.is_empty() && !sel.all {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            print_reports(engine::lifecycle::act(
                ctx,
                &store,
                &state,
                &sel,
                &PodAction::Stop { timeout: a.time },
            )?)
        }
        PodCommand::Rm(a) => {
            let opts = PodRemoveOptions {
                select: PodSelection {
                    names: with_latest(&state, &a.pods, a.latest)?
                        .into_iter()
                        .chain(ids_from_files(&a.pod_id_file, a.ignore || a.force)?)
                        .collect(),
                    all: a.all,
                },
                force: a.force,
                // Podman's --force skips a missing pod too.
                ignore: a.ignore || a.force,
                timeout: a.time,
            };
            let mut code = ExitCode::SUCCESS;
            for r in engine::remove::remove(ctx, &store, &state, &opts)? {
                match r.error {
                    None => println!("{}", r.id),
                    Some(e) => {
                        // Podman: 1 for a missing pod, else 125.
                        code = ExitCode::from(match e.kind() {
                            ErrorKind::NotFound => 1,
                            _ => crate::cli::EXIT_HUTCH_ERROR,
                        });
                        eprintln!("Error: {}", e.text());
                    }
                }
            }
            code
        }
        PodCommand::Prune(a) => {
            if !a.force && !confirm_prune()? {
                return Ok(ExitCode::SUCCESS);
            }
            let mut code = ExitCode::SUCCESS;
            for r in engine::remove::prune(ctx, &store, &state)? {
                match r.error {
                    None => println!("{}", r.id),
                    Some(e) => {
                        code = ExitCode::from(crate::cli::EXIT_HUTCH_ERROR);
                        eprintln!("Error: {}", e.text());
                    }
                }
            }
            code
        }
        PodCommand::Ps(a) => ps::ps(ctx, &store, &state, &a)?,
        PodCommand::Inspect(a) => {
            let pod = match &a.pod {
                Some(p) => p.clone(),
                None => with_latest(&state, &[], true)?.remove(0),
            };
            let report = match engine::inspect::inspect(ctx, &store, &state, &pod) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    // Podman 4.3 prints the empty list it found first.
                    if !matches!(
                        OutputFormat::parse(a.format.as_deref())?,
                        OutputFormat::Template(_)
                    ) {
                        println!("[]");
                    }
                    anyhow::bail!("inspecting object: no such pod {pod}")
                }
                Err(e) => return Err(e.into()),
            };
            let value = serde_json::to_value(&report)?;
            match OutputFormat::parse(a.format.as_deref())? {
                OutputFormat::Template(t) => print!("{}", t.render_one(&value)?),
                _ => println!("{}", crate::format::to_json_pretty(&value)),
            }
            ExitCode::SUCCESS
        }
        PodCommand::Top(a) => {
            let (pod, descriptors) = a.split(&state)?;
            let opts = TopOptions { descriptors };
            let report = engine::top::top(&store, &state, &pod, &opts)?;
            if report.headers.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            let mut text = report.headers.join("\t");
            text.push('\n');
            for r in report.rows {
                text.push_str(&r.join("\t"));
                text.push('\n');
            }
            print!("{}", crate::format::align_columns(&text));
            ExitCode::SUCCESS
        }
        PodCommand::Logs(a) => logs(ctx, &store, &state, &a)?,
        PodCommand::Exists(a) => match engine::lookup(&state, &a.pod) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) if e.kind() == ErrorKind::NotFound => ExitCode::from(1),
            Err(e) => return Err(e.into()),
        },
        PodCommand::Stats(_) => unreachable!("handled above"),
        PodCommand::Clone(_) => unreachable!("handled above"),
    })
}

fn confirm_prune() -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    eprint!(
        "WARNING! This will remove all stopped/exited pods..\nAre you sure you want to continue? [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

/// `pod logs`: the logs of the pod's containers (the infra container has
/// none worth showing), as `logs` prints several containers': each line
/// prefixed with the container's short id (or name with `-n`) unless one
/// container is asked for.
fn logs(
    ctx: &Context,
    _store: &hutch_storage::Store,
    state: &crate::engine::state::State,
    a: &LogsArgs,
) -> anyhow::Result<ExitCode> {
    let pod = match (&a.pod, a.latest) {
        (Some(_), true) => {
            return Err(crate::engine::Error::bad_input(
                "--latest and pods cannot be used together",
            )
            .into());
        }
        (Some(name), false) => engine::lookup(state, name)?,
        (None, true) => engine::all(state)?
            .into_iter()
            .max_by_key(|p| p.created)
            .ok_or_else(|| crate::engine::Error::not_found("no pods to log: no such pod"))?,
        (None, false) => {
            return Err(crate::engine::Error::bad_input(
                "specify at least one pod name or ID to log",
            )
            .into());
        }
    };
    let mut ctrs: Vec<_> = pod
        .containers(state)?
        .into_iter()
        .filter(|c| !pod.is_infra(c))
        .collect();
    if let Some(want) = &a.container {
        ctrs.retain(|c| c.name == *want || c.id.starts_with(want.as_str()));
        if ctrs.is_empty() {
            anyhow::bail!(
                "container {want} is not in pod {}: no such container",
                pod.name
            );
        }
    }
    if ctrs.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let args = a.for_containers(ctrs.into_iter().map(|c| c.id).collect())?;
    crate::cli::container::logs::logs(ctx, &args)
}

/// Removes a pod `--pod new:` made for a container that could not be.
pub fn forget_new(
    ctx: &Context,
    store: &hutch_storage::Store,
    state: &crate::engine::state::State,
    id: &str,
) {
    if let Ok(pod) = engine::lookup(state, id) {
        let _ = engine::remove::remove_one(ctx, store, state, &pod, true, Some(0));
    }
}
