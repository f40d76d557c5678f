//! `healthcheck run CTR`: run the container's health check once. Exit 0
//! when it passed; "unhealthy" and 1 when it failed (whatever the status
//! it left, as Podman 4.3.1 reports it); 125 when it could not run.

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::{self as engine, health};
use crate::engine::image;

#[derive(Debug, clap::Subcommand)]
pub enum HealthcheckCommand {
    /// Run the health check of a container
    Run(HealthcheckRunArgs),
}

#[derive(Debug, clap::Args)]
pub struct HealthcheckRunArgs {
    /// The container (name or id)
    pub(crate) container: String,
}

pub fn healthcheck(ctx: &Context, cmd: &HealthcheckCommand) -> anyhow::Result<ExitCode> {
    let HealthcheckCommand::Run(args) = cmd;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let c = state.container(&args.container).map_err(|e| {
        anyhow::Error::from(crate::engine::Error::from(e)).context(format!(
            "unable to look up {} to perform a health check",
            args.container
        ))
    })?;
    let report = health::run(ctx, &store, &state, &c)?;
    if let Some(message) = report.timed_out {
        anyhow::bail!(message);
    }
    if report.passed {
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", health::UNHEALTHY);
    Ok(ExitCode::from(1))
}
