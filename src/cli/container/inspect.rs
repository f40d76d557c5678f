//! `inspect` (containers first, then images, as Podman looks them up) and
//! `container inspect`.

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::inspect::{self, InspectKind, InspectOptions};
use crate::engine::container::{self as engine};
use crate::engine::image;
use crate::format::{OutputFormat, to_json_pretty};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format the output using a Go template or json
    #[arg(short, long)]
    pub(crate) format: Option<String>,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Display total file size (accepted; sizes are not reported yet)
    #[arg(short, long)]
    pub(crate) size: bool,
    /// Only look for this type of object: container, image or all
    #[arg(short, long, default_value = "all", value_parser = ["all", "container", "image"])]
    pub(crate) r#type: String,
    pub(crate) names: Vec<String>,
}

/// Podman's failure after printing what it found: every missing name but
/// the first as "error inspecting object: …" lines, the first as the
/// error ("inspecting object: …").
pub(crate) fn not_found(missing: &[String]) -> anyhow::Error {
    for m in missing.iter().skip(1) {
        eprintln!("error inspecting object: {m}");
    }
    anyhow::anyhow!(
        "inspecting object: {}",
        missing.first().map(String::as_str).unwrap_or_default()
    )
}

/// `container inspect`: containers only.
pub fn container_inspect(ctx: &Context, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    run(ctx, args, "container")
}

pub fn inspect(ctx: &Context, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    run(ctx, args, &args.r#type)
}

/// A container's view for a template: libpod leaves `State.Checkpointed`
/// and `State.Restored` out of its JSON while false (`omitempty`), yet its
/// templates read a struct, where they are `false`. The JSON printed stays
/// Podman's.
fn template_view(v: &serde_json::Value) -> std::borrow::Cow<'_, serde_json::Value> {
    let Some(state) = v.get("State").and_then(|s| s.as_object()) else {
        return std::borrow::Cow::Borrowed(v);
    };
    if !state.contains_key("CheckpointedAt")
        || (state.contains_key("Checkpointed") && state.contains_key("Restored"))
    {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut v = v.clone();
    if let Some(state) = v.get_mut("State").and_then(|s| s.as_object_mut()) {
        for key in ["Checkpointed", "Restored"] {
            state.entry(key).or_insert(serde_json::Value::Bool(false));
        }
    }
    std::borrow::Cow::Owned(v)
}

fn run(ctx: &Context, args: &InspectArgs, kind: &str) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let opts = InspectOptions {
        names: args.names.clone(),
        kind: InspectKind::parse(kind)?,
        latest: args.latest,
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let report = inspect::inspect_objects(ctx, &store, &state, &opts)?;
    match format {
        OutputFormat::Template(t) => {
            for v in &report.views {
                print!("{}", t.render_one(&template_view(v))?);
            }
        }
        _ => println!(
            "{}",
            to_json_pretty(&serde_json::Value::Array(report.views))
        ),
    }
    if !report.missing.is_empty() {
        return Err(not_found(&report.missing));
    }
    Ok(ExitCode::SUCCESS)
}
