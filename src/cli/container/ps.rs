//! `ps`: the containers, as a table, JSON or a Go template.

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::{self as engine, create};
use crate::engine::state::ContainerState;
use crate::engine::time;
use crate::format::{OutputFormat, Template};

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all the containers, default is only running containers
    #[arg(short, long)]
    all: bool,
    /// Print the numeric IDs of the containers only
    #[arg(short, long)]
    quiet: bool,
    /// Display extended information
    #[arg(long)]
    no_trunc: bool,
    /// Pretty-print containers to JSON or using a Go template
    #[arg(long)]
    format: Option<String>,
}

pub fn ps(ctx: &Context, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let state = engine::open_state(ctx)?;
    // A container whose monitor was killed shows as exited, not running.
    state.recover()?;
    let now = time::now_ns();
    let rows: Vec<serde_json::Value> = state
        .list_containers(args.all)?
        .into_iter()
        .map(|c| {
            let req: create::CreateRequest = serde_json::from_str(&c.config).unwrap_or_default();
            let status = match c.state {
                ContainerState::Running => format!(
                    "Up {}",
                    time::ago(
                        c.started_at.unwrap_or(c.created) / 1_000_000_000,
                        now / 1_000_000_000
                    )
                    .trim_end_matches(" ago")
                ),
                ContainerState::Exited | ContainerState::Stopped => format!(
                    "Exited ({}) {}",
                    c.exit_code.unwrap_or(-1),
                    time::ago(
                        c.exited_at.unwrap_or(c.created) / 1_000_000_000,
                        now / 1_000_000_000
                    )
                ),
                other => capitalize(other.as_str()),
            };
            serde_json::json!({
                "ID": if args.no_trunc { c.id.clone() } else { c.id[..12].to_owned() },
                "Image": c.image_name,
                "Command": req.command.join(" "),
                "CreatedAt": time::rfc3339(c.created / 1_000_000_000),
                "Created": time::ago(c.created / 1_000_000_000, now / 1_000_000_000),
                "Status": status,
                "State": c.state.as_str(),
                "Ports": "",
                "Names": c.name,
                "ExitCode": c.exit_code.unwrap_or(0),
                "Pid": c.pid.unwrap_or(0),
            })
        })
        .collect();
    if args.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let template = match format {
        OutputFormat::Json => {
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(rows))
            );
            return Ok(ExitCode::SUCCESS);
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => Template::parse(
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
        )?,
    };
    let headers = [("ID", "CONTAINER ID")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(ExitCode::SUCCESS)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
