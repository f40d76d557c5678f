//! `container clone CTR [NAME [IMAGE]]`: a new created container from the
//! same create request, as Podman's clone without its resource flags.

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::create::{self, CreateOptions};
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct CloneArgs {
    /// Name of the new container (the second argument wins)
    #[arg(long)]
    name: Option<String>,
    /// CONTAINER [NAME [IMAGE]]
    #[arg(required = true, num_args = 1..=3, value_name = "CONTAINER [NAME [IMAGE]]")]
    args: Vec<String>,
}

pub fn clone(ctx: &Context, args: &CloneArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let name = args
        .args
        .first()
        .ok_or_else(|| anyhow::anyhow!("must specify a container to clone"))?;
    let source = state.container(name)?;
    let mut spec = source.spec.clone();
    // Podman names a clone after its source unless told otherwise.
    spec.name = Some(
        args.args
            .get(1)
            .or(args.name.as_ref())
            .cloned()
            .unwrap_or_else(|| format!("{}-clone", source.name)),
    );
    if let Some(img) = args.args.get(2) {
        spec.image = img.clone();
    }
    let created = create::create(ctx, &store, &state, &spec, &CreateOptions::default())?;
    for w in &created.warnings {
        super::lifecycle::print_create_warning(w);
    }
    println!("{}", created.id);
    Ok(ExitCode::SUCCESS)
}
