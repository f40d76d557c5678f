//! `commit`: a new image from a container's changes.

use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::container::commit::{self, CommitRequest};
use crate::engine::container::{self as engine, pause};
use crate::engine::image;
use crate::engine::state::ContainerState;

#[derive(Debug, clap::Args)]
pub struct CommitArgs {
    /// Set the author for the image committed
    #[arg(short, long)]
    pub(crate) author: Option<String>,
    /// Apply the following possible instructions to the created image (default []): CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | ONBUILD | STOPSIGNAL | USER | VOLUME | WORKDIR
    #[arg(short, long)]
    pub(crate) change: Vec<String>,
    /// Format of the image manifest and metadata (oci or docker; stored as OCI)
    #[arg(short, long, default_value = "oci")]
    pub(crate) format: String,
    /// Write the image ID to the file
    #[arg(long)]
    pub(crate) iidfile: Option<std::path::PathBuf>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub(crate) message: Option<String>,
    /// Pause container during commit
    #[arg(short, long)]
    pub(crate) pause: bool,
    /// Suppress output
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Include container volumes as image volumes
    #[arg(long)]
    pub(crate) include_volumes: bool,
    /// Squash newly built layers into a single new layer
    #[arg(short, long)]
    pub(crate) squash: bool,
    pub(crate) container: String,
    pub(crate) image: Option<String>,
}

pub fn commit(ctx: &Context, args: &CommitArgs) -> anyhow::Result<ExitCode> {
    if !matches!(args.format.as_str(), "oci" | "docker") {
        bail!(
            "unrecognized image type {:?}: use oci or docker",
            args.format
        );
    }
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let c = state.container(&args.container)?;
    let paused = args.pause && c.state == ContainerState::Running;
    if paused {
        pause::pause(ctx, &store, &state, &c)
            .with_context(|| format!("pausing {} for the commit", c.name))?;
    }
    let result = commit::commit(
        &store,
        &state,
        &c,
        &CommitRequest {
            reference: args.image.clone(),
            author: args.author.clone(),
            message: args.message.clone(),
            changes: args.change.clone(),
            squash: args.squash,
            include_volumes: args.include_volumes,
        },
    );
    if paused {
        let now = state.container(&c.id)?;
        pause::unpause(ctx, &store, &state, &now)?;
    }
    let record = result?;
    if let Some(f) = &args.iidfile {
        std::fs::write(f, record.id.to_string())
            .with_context(|| format!("writing {}", f.display()))?;
    }
    println!("{}", record.id.hex());
    Ok(ExitCode::SUCCESS)
}
