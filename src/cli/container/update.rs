//! `update`: change the resource limits of a running container.

use std::process::ExitCode;

use super::resource_flags::LimitFlags;
use crate::config::Context;

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    limits: LimitFlags,
    /// The container to update (name or id)
    container: String,
}

pub fn update(ctx: &Context, args: &UpdateArgs) -> anyhow::Result<ExitCode> {
    let id = crate::cgroups::update::update(ctx, &args.container, &args.limits.request())?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}
