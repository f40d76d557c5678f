//! `stats`: live resource usage of running containers from their cgroup v2
//! files; refused, as by Podman, where containers have no cgroup of their own.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use crate::cgroups::stats::human;
use crate::config::Context;
use crate::engine::container::stats::{Stats, StatsOptions, StatsReport};
use crate::engine::container::{self as engine};
use crate::format::{OutputFormat, Template};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Show all containers. Only running containers are shown by default
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub(crate) no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub(crate) no_trunc: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Disable resetting the screen between intervals
    #[arg(long)]
    pub(crate) no_reset: bool,
    /// Pretty-print container statistics to JSON or using a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Time in seconds between stats reports
    #[arg(short, long, default_value_t = 5)]
    pub(crate) interval: u64,
    /// Containers to show (names or ids); all running ones when none
    pub(crate) containers: Vec<String>,
}

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}\t{{.CPU}}\t{{.AvgCPU}}";

/// Podman's columns for one report.
pub(crate) fn row(r: &StatsReport, no_trunc: bool) -> serde_json::Value {
    serde_json::json!({
        "ID": if no_trunc { r.id.clone() } else { r.id[..12.min(r.id.len())].to_owned() },
        "ContainerID": r.id,
        "Name": r.name,
        "CPUPerc": format!("{:.2}%", r.cpu_percent),
        "CPU": format!("{:.6}s", r.cpu_usec as f64 / 1e6),
        "AvgCPU": format!("{:.2}%", r.avg_cpu_percent),
        "MemUsage": format!("{} / {}", human(r.mem_usage), human(r.mem_limit)),
        "MemUsageBytes": format!("{} / {}", r.mem_usage, r.mem_limit),
        "MemPerc": format!("{:.2}%", r.mem_percent),
        "NetIO": format!("{} / {}", human(r.net_rx), human(r.net_tx)),
        "BlockIO": format!("{} / {}", human(r.block_read), human(r.block_write)),
        "PIDs": r.pids,
        "UpTime": format!("{:.3}s", r.uptime_ns as f64 / 1e9),
    })
}

pub fn stats(ctx: &Context, args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let state = engine::open_state(ctx)?;
    if args.latest && !args.containers.is_empty() {
        anyhow::bail!("--latest and containers cannot be used together");
    }
    if args.latest && args.all {
        anyhow::bail!("--all and --latest cannot be used together");
    }
    let names = if args.latest {
        vec![engine::select::latest(&state)?.id]
    } else {
        args.containers.clone()
    };
    let opts = StatsOptions {
        names,
        all: args.all,
    };
    let mut stats = Stats::open(ctx, &state, &opts)?;
    loop {
        let rows: Vec<serde_json::Value> = stats
            .sample()
            .iter()
            .map(|r| row(r, args.no_trunc))
            .collect();
        print_sample(&format, rows, args.no_stream || args.no_reset)?;
        if args.no_stream {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
        if !stats.retain_live() {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// One sample's rows in `format` (Podman's table by default); with a
/// stream on a terminal, redrawn in place as Podman does (`no_stream`
/// also for `--no-reset`: one sample printed after another).
pub(crate) fn print_sample(
    format: &OutputFormat,
    rows: Vec<serde_json::Value>,
    no_stream: bool,
) -> anyhow::Result<()> {
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
    let template = match format {
        OutputFormat::Template(t) => Some(t),
        _ => None,
    };
    let default = Template::parse(DEFAULT_TABLE)?;
    let text = match format {
        OutputFormat::Json => {
            format!(
                "{}\n",
                crate::format::to_json_pretty(&serde_json::Value::Array(rows))
            )
        }
        _ => template.unwrap_or(&default).render_list(&rows, &headers)?,
    };
    let mut out = std::io::stdout().lock();
    if !no_stream && out.is_terminal() {
        write!(out, "\x1b[2J\x1b[H")?;
    }
    write!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_columns() {
        let r = StatsReport {
            id: "0123456789abcdef".into(),
            name: "c".into(),
            cpu_percent: 50.0,
            avg_cpu_percent: 75.0,
            cpu_usec: 1_500_000,
            mem_usage: 32 << 20,
            mem_limit: 64 << 20,
            mem_percent: 50.0,
            net_rx: 0,
            net_tx: 0,
            block_read: 0,
            block_write: 0,
            pids: 3,
            uptime_ns: 2_000_000_000,
        };
        let v = row(&r, false);
        assert_eq!(v["ID"], "0123456789ab");
        assert_eq!(v["CPUPerc"], "50.00%");
        assert_eq!(v["AvgCPU"], "75.00%");
        assert_eq!(v["MemUsage"], "33.55MB / 67.11MB");
        assert_eq!(v["CPU"], "1.500000s");
        assert_eq!(row(&r, true)["ID"], "0123456789abcdef");
    }
}
