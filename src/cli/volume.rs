//! `volume create|ls|inspect|rm|prune|exists`, Podman's flags and output.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container as containers;
use crate::engine::state::Volume;
use crate::engine::volume::{self as engine, VolumeCreate, VolumeFilters};
use crate::engine::volume_archive;
use crate::engine::{ErrorKind, image};
use crate::format::{OutputFormat, Template};

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// Create a new volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused volumes
    Prune(PruneArgs),
    /// Check if the given volume exists
    Exists(ExistsArgs),
    /// Export volumes
    Export(ExportArgs),
    /// Import a tarball contents into a volume
    Import(ImportArgs),
    /// Mount volume
    Mount(OneVolume),
    /// Unmount volume
    #[command(visible_alias = "umount")]
    Unmount(OneVolume),
    /// Reload all volumes from volume plugins
    Reload,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Set metadata for a volume (e.g., --label mykey=value)
    #[arg(short, long)]
    pub(crate) label: Vec<String>,
    /// Set driver specific options
    #[arg(short, long)]
    pub(crate) opt: Vec<String>,
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    pub(crate) driver: String,
    /// Do not fail if the volume already exists
    #[arg(long)]
    pub(crate) ignore: bool,
    pub(crate) name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Filter volume output
    #[arg(short, long)]
    pub(crate) filter: Vec<String>,
    /// Format volume output using Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Print volume output in quiet mode
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Do not print headers
    #[arg(long)]
    pub(crate) noheading: bool,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Inspect all volumes
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Format volume output using Go template
    #[arg(short, long)]
    pub(crate) format: Option<String>,
    pub(crate) names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove all volumes
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Remove a volume by force, even if it is being used by a container
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Seconds to wait for running containers to stop before killing the container
    #[arg(short, long, value_name = "SECONDS")]
    pub(crate) time: Option<u32>,
    pub(crate) names: Vec<String>,
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

#[derive(Debug, clap::Args)]
pub struct ExistsArgs {
    pub(crate) name: String,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a specified file (default: stdout, which must be redirected)
    #[arg(short, long)]
    pub(crate) output: Option<String>,
    pub(crate) name: String,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    pub(crate) name: String,
    /// A tar file, or `-` for stdin
    pub(crate) source: String,
}

#[derive(Debug, clap::Args)]
pub struct OneVolume {
    pub(crate) name: String,
}

/// Podman's words for export and import of a volume that is not there.
fn no_such_volume(e: anyhow::Error, name: &str) -> anyhow::Error {
    let missing = e.chain().any(|c| {
        matches!(
            c.downcast_ref(),
            Some(crate::engine::state::StateError::NoSuchVolume { .. })
        )
    });
    if missing {
        anyhow::anyhow!("no such volume {name}")
    } else {
        e
    }
}

pub fn run(ctx: &Context, cmd: VolumeCommand) -> anyhow::Result<ExitCode> {
    // Podman's reload syncs the records with volume plugins, printing
    // what it added or removed; hutch has no volume plugins, so there is
    // never anything to sync, as with Podman when none is configured.
    if matches!(cmd, VolumeCommand::Reload) {
        return Ok(ExitCode::SUCCESS);
    }
    let store = image::open_store(ctx)?;
    let state = containers::open_state(ctx)?;
    match cmd {
        VolumeCommand::Create(a) => {
            if a.driver != "local" {
                bail!(
                    "volume driver {:?} is not supported: hutch has the local driver only",
                    a.driver
                );
            }
            let options = a
                .opt
                .iter()
                .map(|o| {
                    let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
                    (k.to_string(), v.to_string())
                })
                .collect();
            let labels = crate::spec::parse::hosts::key_values("--label", &a.label)?;
            if a.ignore
                && let Some(n) = &a.name
                && state.volume(n).is_ok()
            {
                println!("{n}");
                return Ok(ExitCode::SUCCESS);
            }
            let v = engine::create(
                &state,
                &engine::volumes_root(ctx, store.root()),
                &VolumeCreate {
                    name: a.name.clone(),
                    labels,
                    options,
                    anonymous: false,
                },
            )?;
            println!("{}", v.name);
        }
        VolumeCommand::Ls(a) => {
            let filters = VolumeFilters::parse(&a.filter)?;
            let rows: Vec<serde_json::Value> = engine::list(&state, &filters)?
                .iter()
                .map(|v| engine::inspect_view(&state, v))
                .collect();
            print_ls(&a, rows)?;
        }
        VolumeCommand::Inspect(a) => {
            let list: Vec<Volume> = if a.all {
                state.list_volumes()?
            } else {
                if a.names.is_empty() {
                    bail!("provide one or more volume names or use --all");
                }
                let mut out = Vec::new();
                let mut missing = Vec::new();
                for n in &a.names {
                    match state.volume(n) {
                        Ok(v) => out.push(v),
                        Err(crate::engine::state::StateError::NoSuchVolume { .. }) => {
                            missing.push(format!("no such volume {n}"))
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                if !missing.is_empty() {
                    // Podman prints what it found, then fails for the rest.
                    print_inspect(&state, &out, a.format.as_deref())?;
                    return Err(crate::cli::container::inspect::not_found(&missing));
                }
                out
            };
            print_inspect(&state, &list, a.format.as_deref())?;
        }
        VolumeCommand::Rm(a) => {
            if a.time.is_some() && !a.force {
                anyhow::bail!("--force option must be specified to use the --time option");
            }
            let names: Vec<String> = if a.all {
                state.list_volumes()?.into_iter().map(|v| v.name).collect()
            } else {
                if a.names.is_empty() {
                    bail!("choose either one or more volumes or all");
                }
                a.names.clone()
            };
            let mut code = ExitCode::SUCCESS;
            let mut errors = Vec::new();
            for n in &names {
                match engine::remove_volume(ctx, &store, &state, n, a.force, a.time) {
                    Ok(()) => println!("{n}"),
                    // Podman's --force skips a missing volume silently.
                    Err(e) if a.force && e.kind() == ErrorKind::NotFound => {}
                    Err(e) => {
                        // Podman's exit codes: 1 no such volume, 2 in use.
                        code = ExitCode::from(match e.kind() {
                            ErrorKind::NotFound => 1,
                            ErrorKind::Conflict => 2,
                            _ => crate::cli::EXIT_HUTCH_ERROR,
                        });
                        errors.push(e.text());
                    }
                }
            }
            for e in &errors {
                eprintln!("Error: {e}");
            }
            return Ok(code);
        }
        VolumeCommand::Prune(a) => {
            let filters = VolumeFilters::parse(&a.filter)?;
            if !a.force {
                eprintln!(
                    "WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:"
                );
                for name in engine::prune_candidates(&state, &filters)? {
                    eprintln!("{name}");
                }
                eprint!("Are you sure you want to continue? [y/N] ");
                let _ = std::io::stderr().flush();
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if !answer.trim().eq_ignore_ascii_case("y") {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            for n in engine::prune(&state, &|v| !filters.matches(v, false))? {
                println!("{n}");
            }
        }
        VolumeCommand::Reload => {}
        VolumeCommand::Exists(a) => {
            return Ok(match engine::exists(&state, &a.name)? {
                true => ExitCode::SUCCESS,
                false => ExitCode::from(1),
            });
        }
        VolumeCommand::Export(a) => {
            // Checked before the file is made, as Podman does.
            state
                .volume(&a.name)
                .map_err(|e| no_such_volume(e.into(), &a.name))?;
            match &a.output {
                Some(path) => {
                    let mut f = std::fs::File::create(path).map_err(|e| {
                        anyhow::anyhow!(
                            "could not create tarball file '{path}': open {path}: {}",
                            io_words(&e)
                        )
                    })?;
                    volume_archive::export(&state, &a.name, &mut f)?;
                }
                None => volume_archive::export(&state, &a.name, &mut std::io::stdout().lock())?,
            }
        }
        VolumeCommand::Import(a) => {
            state
                .volume(&a.name)
                .map_err(|e| no_such_volume(e.into(), &a.name))?;
            if a.source == "-" {
                volume_archive::import(&state, &a.name, &mut std::io::stdin().lock())?;
            } else {
                let mut f = std::fs::File::open(&a.source)
                    .map_err(|e| anyhow::anyhow!("open {}: {}", a.source, io_words(&e)))?;
                volume_archive::import(&state, &a.name, &mut f)?;
            }
        }
        VolumeCommand::Mount(a) => {
            // The path is only of use inside hutch's mount namespace.
            crate::cli::container::mount::require_unshare(ctx, "volume mount")?;
            println!("{}", state.volume(&a.name)?.mountpoint);
        }
        VolumeCommand::Unmount(a) => {
            // A local volume has nothing mounted to undo (Podman's local
            // driver without options likewise): the name says it is done.
            state.volume(&a.name)?;
            println!("{}", a.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `volume ls`'s output of `rows` (the volumes' inspect views, as the
/// libpod API serves them too).
pub(crate) fn print_ls(a: &LsArgs, rows: Vec<serde_json::Value>) -> anyhow::Result<()> {
    if a.quiet {
        for r in &rows {
            println!("{}", r["Name"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let template = match OutputFormat::parse(a.format.as_deref())? {
        OutputFormat::Json => {
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(rows))
            );
            return Ok(());
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => Template::parse("table {{.Driver}}\t{{.Name}}")?,
    };
    let template = if a.noheading {
        template.without_heading()
    } else {
        template
    };
    let headers = [("Name", "VOLUME NAME")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(())
}

fn print_inspect(
    state: &crate::engine::state::State,
    list: &[Volume],
    format: Option<&str>,
) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|v| engine::inspect_view(state, v))
        .collect();
    print_inspect_rows(rows, format)
}

/// `volume inspect`'s output of `rows`.
pub(crate) fn print_inspect_rows(
    rows: Vec<serde_json::Value>,
    format: Option<&str>,
) -> anyhow::Result<()> {
    match OutputFormat::parse(format)? {
        OutputFormat::Template(t) => print!("{}", t.render_list(&rows, &Default::default())?),
        _ => println!(
            "{}",
            crate::format::to_json_pretty(&serde_json::Value::Array(rows))
        ),
    }
    Ok(())
}

/// Go's words for the common open errors ("no such file or directory").
fn io_words(e: &std::io::Error) -> String {
    let text = e.to_string();
    // Rust appends " (os error N)" and capitalises the first letter.
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => text,
    }
}
