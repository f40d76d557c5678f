//! `auto-update [--dry-run] [--rollback] [--format] [--authfile]`: the
//! engine checks and updates (src/engine/auto_update.rs); this prints
//! Podman's table (UNIT, CONTAINER, IMAGE, POLICY, UPDATED) or the
//! `--format` rendering, then the errors, and fails when there were any.

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::auto_update::{self as engine, AutoUpdateOptions, Report};
use crate::format::{OutputFormat, Template};

#[derive(Debug, clap::Args)]
pub struct AutoUpdateArgs {
    /// Path to the authentication file. Use REGISTRY_AUTH_FILE environment variable to override
    #[arg(long, value_name = "PATH")]
    authfile: Option<std::path::PathBuf>,
    /// Check for pending updates
    #[arg(long)]
    dry_run: bool,
    /// Change the output format to JSON or a Go template
    #[arg(long)]
    format: Option<String>,
    /// Rollback to previous image if update fails (needs systemd: see docs/systemd.md)
    #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    rollback: bool,
}

/// A report as Podman's `autoUpdateOutput` names its fields.
fn row(r: &Report) -> serde_json::Value {
    let short: String = r.container_id.chars().take(12).collect();
    serde_json::json!({
        "Unit": r.unit,
        "Container": format!("{short} ({})", r.container_name),
        "ContainerName": r.container_name,
        "ContainerID": r.container_id,
        "Image": r.image,
        "Policy": r.policy.as_str(),
        "Updated": r.updated,
    })
}

pub fn run(ctx: &Context, args: &AutoUpdateArgs) -> anyhow::Result<ExitCode> {
    // A bad --format is known before anything is pulled or restarted.
    let format = OutputFormat::parse(args.format.as_deref())?;
    let opts = AutoUpdateOptions {
        dry_run: args.dry_run,
        rollback: args.rollback,
        authfile: args.authfile.clone(),
    };
    let (reports, mut errors) = engine::auto_update(ctx, &opts);
    // Podman prints nothing, not even a header, when nothing was checked.
    if !reports.is_empty() {
        let rows: Vec<serde_json::Value> = reports.iter().map(row).collect();
        let template = match format {
            OutputFormat::Json => {
                let all = serde_json::Value::Array(rows.clone());
                println!("{}", crate::format::to_json_pretty(&all));
                None
            }
            OutputFormat::Template(t) => Some(t),
            OutputFormat::Default => Some(Template::parse(
                "table {{.Unit}}\t{{.Container}}\t{{.Image}}\t{{.Policy}}\t{{.Updated}}",
            )?),
        };
        if let Some(t) = template {
            print!("{}", t.render_list(&rows, &Default::default())?);
        }
    }
    // A rollback is no error (Podman's exit status is 0), but its reason
    // is worth a line.
    for r in &reports {
        if let Some(why) = &r.rollback_reason {
            eprintln!(
                "Warning: {} rolled back to its previous image: {why}",
                r.unit
            );
        }
    }
    if errors.len() == 1 {
        return Err(errors.remove(0).into());
    }
    if !errors.is_empty() {
        // Podman's JoinErrors.
        let list: Vec<String> = errors.iter().map(|e| format!("\t* {}", e.text())).collect();
        anyhow::bail!("{} errors occurred:\n{}", errors.len(), list.join("\n"));
    }
    Ok(ExitCode::SUCCESS)
}
