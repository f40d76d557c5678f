//! `pause` and `unpause`.

use std::process::ExitCode;

use super::lifecycle::print_reports;
use crate::config::Context;
use crate::engine::container::pause::{self, PauseOptions};
use crate::engine::container::select::Selection;
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// Pause (or unpause) all running (paused) containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Filter output based on conditions given
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub(crate) filter: Vec<String>,
    /// Read the container ID from the file
    #[arg(long, value_name = "FILE")]
    pub(crate) cidfile: Vec<std::path::PathBuf>,
    pub(crate) containers: Vec<String>,
}

pub fn pause(ctx: &Context, args: &PauseArgs) -> anyhow::Result<ExitCode> {
    each(ctx, args, true)
}

pub fn unpause(ctx: &Context, args: &PauseArgs) -> anyhow::Result<ExitCode> {
    each(ctx, args, false)
}

fn each(ctx: &Context, args: &PauseArgs, freeze: bool) -> anyhow::Result<ExitCode> {
    let mut names = super::lifecycle::with_cidfiles(&args.containers, &args.cidfile)?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    if let Some(ids) = super::pick::filtered(ctx, &store, &state, &args.filter, &names)? {
        if ids.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        names = ids;
    }
    let opts = PauseOptions {
        select: Selection {
            names,
            all: args.all,
            latest: args.latest,
        },
    };
    opts.select.validate()?;
    let mut reports = pause::pause_each(ctx, &store, &state, &opts, freeze)?;
    // Podman prints the full id of each.
    for r in &mut reports {
        r.input = r.id.clone();
    }
    Ok(print_reports(&reports))
}
