//! `rm`: flags to [`RemoveOptions`], reports to Podman's output and exit
//! codes: the removed containers as given (full ids for `-a` and for what
//! `--depend` adds); exit 1 once a container was missing, else 2 once one
//! was in the wrong state (running without `-f`), else 125 for any other
//! failure.

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::remove::{self, RemoveOptions, RemoveReport};
use crate::engine::container::{self as engine};
use crate::engine::{ErrorKind, image};

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Force removal of a running container (it is killed)
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Ignore errors when a specified container is missing
    #[arg(short, long)]
    pub(crate) ignore: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub(crate) volumes: bool,
    /// Remove container and all containers that depend on it
    #[arg(long)]
    pub(crate) depend: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Filter output based on conditions given
    #[arg(long = "filter", value_name = "FILTER")]
    pub(crate) filter: Vec<String>,
    /// Read the container ID from the file
    #[arg(long, value_name = "FILE")]
    pub(crate) cidfile: Vec<std::path::PathBuf>,
    /// Seconds to wait for stop before killing the container (with -f;
    /// without it a running container is killed at once)
    #[arg(short, long, value_name = "SECONDS")]
    pub(crate) time: Option<u32>,
    pub(crate) containers: Vec<String>,
}

/// Podman's exit code for `rm` from the kind of a failure.
fn code_of(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound => 1,
        ErrorKind::InvalidState => 2,
        _ => crate::cli::EXIT_HUTCH_ERROR,
    }
}

pub fn rm(ctx: &Context, args: &RmArgs) -> anyhow::Result<ExitCode> {
    let mut names = args.containers.clone();
    for file in &args.cidfile {
        names.push(read_cidfile(file)?);
    }
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    if let Some(ids) = super::pick::filtered(ctx, &store, &state, &args.filter, &names)? {
        if ids.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        names = ids;
    }
    let opts = RemoveOptions {
        names,
        all: args.all,
        latest: args.latest,
        force: args.force,
        ignore: args.ignore,
        depend: args.depend,
        volumes: args.volumes,
        timeout: args.time,
        ..RemoveOptions::default()
    };
    opts.validate()?;
    let reports = match remove::remove(ctx, &store, &state, &opts) {
        Ok(r) => r,
        // A missing name fails the command before anything is removed.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!("Error: {}", e.text());
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(ExitCode::from(print(&reports)))
}

/// The id a `--cidfile` holds (the caller's file, read here), with
/// Podman's message when it cannot be read. Bounded: an id is 64 bytes.
pub(crate) fn read_cidfile(file: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(4096).read_to_string(&mut text))
        .map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                _ => e.to_string(),
            };
            anyhow::anyhow!("reading CIDFile: open {}: {reason}", file.display())
        })?;
    Ok(text.trim().to_owned())
}

/// Prints the reports; the exit code of the worst failure.
fn print(reports: &[RemoveReport]) -> u8 {
    let mut codes = Vec::new();
    for r in reports {
        match &r.error {
            None => println!("{}", r.input),
            Some(e) => {
                eprintln!("Error: {}", e.text());
                codes.push(code_of(e.kind()));
            }
        }
    }
    worst(&codes)
}

/// Podman's precedence: 1 once a container was missing, else 2 once one
/// was in the wrong state, else 125; 0 without failures.
fn worst(codes: &[u8]) -> u8 {
    [1, 2, crate::cli::EXIT_HUTCH_ERROR]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_by_kind() {
        assert_eq!(code_of(ErrorKind::NotFound), 1);
        assert_eq!(code_of(ErrorKind::InvalidState), 2);
        assert_eq!(code_of(ErrorKind::Conflict), 125);
        assert_eq!(code_of(ErrorKind::Internal), 125);
    }

    #[test]
    fn missing_before_wrong_state_before_other() {
        assert_eq!(worst(&[]), 0);
        assert_eq!(worst(&[125, 2]), 2);
        assert_eq!(worst(&[2, 125, 1]), 1);
        assert_eq!(worst(&[125]), 125);
    }
}
