//! `stats`: live resource usage of running containers from their cgroup v2
//! files; refused, as by Podman, where containers have no cgroup of their own.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use crate::cgroups::{self, stats as cgstats};
use crate::config::Context;
use crate::engine::container as engine;
use crate::format::{OutputFormat, Template};
use crate::host::time;

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Show all containers. Only running containers are shown by default
    #[arg(short, long)]
    all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Pretty-print container statistics to JSON or using a Go template
    #[arg(long)]
    format: Option<String>,
    /// Time in seconds between stats reports
    #[arg(short, long, default_value_t = 5)]
    interval: u64,
    /// Containers to show (names or ids); all running ones when none
    containers: Vec<String>,
}

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}\t{{.CPU}}\t{{.AvgCPU}}";

pub fn stats(ctx: &Context, args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    cgstats::check(&cgroups::detect_for(ctx), ctx.rootless())?;
    let state = engine::open_state(ctx)?;
    state.recover()?;
    let listed = if args.containers.is_empty() {
        state.list_containers(args.all)?
    } else {
        args.containers
            .iter()
            .map(|q| state.container(q))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut watches = cgstats::watches(listed);
    let host_mem = cgstats::host_memory();
    let headers: HashMap<String, String> = [
        ("ID", "ID"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET IO"),
        ("BlockIO", "BLOCK IO"),
        ("PIDs", "PIDS"),
        ("CPU", "CPU TIME"),
        ("AvgCPU", "AVG CPU %"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let template = match &format {
        OutputFormat::Template(t) => Some(t),
        _ => None,
    };
    let default = Template::parse(DEFAULT_TABLE)?;
    loop {
        let now = time::now_ns();
        let rows: Vec<serde_json::Value> = watches
            .iter_mut()
            .filter_map(|w| {
                let s = cgroups::v2::sample(&w.dir, w.pid).ok()?;
                Some(cgstats::row(w, s, now, host_mem, args.no_trunc))
            })
            .collect();
        let text = match &format {
            OutputFormat::Json => {
                format!(
                    "{}\n",
                    crate::format::to_json_pretty(&serde_json::Value::Array(rows))
                )
            }
            _ => template.unwrap_or(&default).render_list(&rows, &headers)?,
        };
        let mut out = std::io::stdout().lock();
        if !args.no_stream && out.is_terminal() {
            // Redraw in place, as Podman does on a terminal.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        write!(out, "{text}")?;
        out.flush()?;
        if args.no_stream {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
        watches.retain(|w| w.dir.exists());
        if watches.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
    }
}
