//! `inspect` (containers first, then images, as Podman looks them up) and
//! `container inspect`.

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::{self as engine, inspect, lifecycle};
use crate::engine::image;
use crate::format::{OutputFormat, to_json_pretty};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format the output using a Go template or json
    #[arg(short, long)]
    format: Option<String>,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Display total file size (accepted; sizes are not reported yet)
    #[arg(short, long)]
    size: bool,
    /// Only look for this type of object: container, image or all
    #[arg(short, long, default_value = "all", value_parser = ["all", "container", "image"])]
    r#type: String,
    names: Vec<String>,
}

/// `container inspect`: containers only.
pub fn container_inspect(ctx: &Context, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    run(ctx, args, "container")
}

pub fn inspect(ctx: &Context, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    run(ctx, args, &args.r#type)
}

fn run(ctx: &Context, args: &InspectArgs, kind: &str) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    lifecycle::recover(ctx, &store, &state)?;
    let mut views = Vec::new();
    let mut missing = Vec::new();
    let mut names = args.names.clone();
    if args.latest {
        if let Some(c) = state
            .list_containers(true)?
            .into_iter()
            .max_by_key(|c| c.created)
        {
            names.push(c.id);
        } else {
            anyhow::bail!("no containers to inspect: no such container");
        }
    }
    if names.is_empty() {
        anyhow::bail!("no names or ids specified");
    }
    for name in &names {
        if kind != "image"
            && let Ok(c) = state.container(name)
        {
            views.push(inspect::inspect(ctx, &store, &c));
            continue;
        }
        if kind != "container" {
            match image::lookup(&store, name) {
                Ok(img) => {
                    views.push(image::inspect::inspect(&store, &img)?);
                    continue;
                }
                Err(image::LookupError::NotKnown(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        missing.push(match kind {
            "container" => format!("no such container {name}"),
            "image" => format!("{name}: image not known"),
            _ => format!("inspecting object: no such object: {name:?}"),
        });
    }
    match format {
        OutputFormat::Template(t) => {
            for v in &views {
                print!("{}", t.render_one(v)?);
            }
        }
        _ => println!("{}", to_json_pretty(&serde_json::Value::Array(views))),
    }
    if !missing.is_empty() {
        // Podman prints what it found, then fails naming what it did not.
        anyhow::bail!("{}", missing.join("\n"));
    }
    Ok(ExitCode::SUCCESS)
}
