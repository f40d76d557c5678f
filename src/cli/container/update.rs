//! `update`: change the resource limits of a container.

use std::process::ExitCode;

use super::resource_flags::LimitFlags;
use crate::config::Context;
use crate::engine::container::{self as engine, update};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub(crate) limits: LimitFlags,
    /// The container to update (name or id)
    pub(crate) container: String,
}

pub fn update(ctx: &Context, args: &UpdateArgs) -> anyhow::Result<ExitCode> {
    let opts = update::UpdateOptions {
        container: args.container.clone(),
        resources: args.limits.request()?,
        given: args.limits.any_given(),
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let report = update::update(ctx, &store, &state, &opts)?;
    println!("{}", report.id);
    Ok(ExitCode::SUCCESS)
}
