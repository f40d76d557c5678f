//! `pod stats`: Podman's columns (POD, CID, NAME, CPU %, MEM USAGE/ LIMIT,
//! MEM %, NET IO, BLOCK IO, PIDS) for the running containers of pods,
//! streamed or once (`--no-stream`), as a table, JSON or a Go template.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Context;
use crate::engine::container as containers;
use crate::engine::pod::stats::{PodStats, PodStatsOptions, PodStatsReport};
use crate::format::{OutputFormat, Template};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Provide stats for all pods
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest pod hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub(crate) no_stream: bool,
    /// Disable resetting the screen when streaming
    #[arg(long)]
    pub(crate) no_reset: bool,
    /// Pretty-print container statistics to JSON or using a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    pub(crate) pods: Vec<String>,
}

const DEFAULT_TABLE: &str = "table {{.Pod}}\t{{.CID}}\t{{.Name}}\t{{.CPU}}\t{{.MemUsage}}\t{{.Mem}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}";

fn row(r: &PodStatsReport) -> serde_json::Value {
    r.podman_view()
}

pub fn stats(ctx: &Context, args: &StatsArgs) -> anyhow::Result<ExitCode> {
    // A bad --format fails before anything is opened.
    OutputFormat::parse(args.format.as_deref())?;
    let state = containers::open_state(ctx)?;
    let opts = PodStatsOptions {
        pods: args.pods.clone(),
        all: args.all,
        latest: args.latest,
    };
    let mut stats = PodStats::open(ctx, &state, &opts)?;
    let mut first = true;
    show(args, || {
        if !first {
            // Podman's pod stats samples every second.
            std::thread::sleep(Duration::from_secs(1));
            if !stats.retain_live() {
                return Ok(None);
            }
        }
        first = false;
        Ok(Some(stats.sample().iter().map(row).collect()))
    })
}

/// Prints the rows `next` gives (Podman's `PodStatsReport` views), once
/// with `--no-stream`, else until it gives none; the screen cleared
/// between samples on a terminal. The remote client's printer too.
pub(crate) fn show(
    args: &StatsArgs,
    mut next: impl FnMut() -> anyhow::Result<Option<Vec<serde_json::Value>>>,
) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let headers: HashMap<String, String> = [
        ("Pod", "POD"),
        ("CID", "CID"),
        ("Name", "NAME"),
        ("CPU", "CPU %"),
        ("MemUsage", "MEM USAGE/ LIMIT"),
        ("MemUsageBytes", "MEM USAGE/ LIMIT"),
        ("Mem", "MEM %"),
        ("NetIO", "NET IO"),
        ("BlockIO", "BLOCK IO"),
        ("PIDS", "PIDS"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let default = Template::parse(DEFAULT_TABLE)?;
    while let Some(rows) = next()? {
        let text = match &format {
            OutputFormat::Json => format!(
                "{}\n",
                crate::format::to_json_pretty(&serde_json::Value::Array(rows))
            ),
            OutputFormat::Template(t) => t.render_list(&rows, &headers)?,
            OutputFormat::Default => default.render_list(&rows, &headers)?,
        };
        let mut out = std::io::stdout().lock();
        if !args.no_stream && !args.no_reset && out.is_terminal() {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        write!(out, "{text}")?;
        out.flush()?;
        if args.no_stream {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::container::stats::StatsReport;

    #[test]
    fn podman_pod_stats_fields() {
        let r = PodStatsReport {
            pod_id: "fedcba9876543210".into(),
            container: StatsReport {
                id: "0123456789abcdef".into(),
                name: "c".into(),
                cpu_percent: 12.5,
                avg_cpu_percent: 10.0,
                cpu_usec: 1,
                mem_usage: 32 << 20,
                mem_limit: 64 << 20,
                mem_percent: 50.0,
                net_rx: 1000,
                net_tx: 0,
                block_read: 0,
                block_write: 4096,
                pids: 3,
                uptime_ns: 1,
            },
        };
        let v = row(&r);
        assert_eq!(v["Pod"], "fedcba987654");
        assert_eq!(v["CID"], "0123456789ab");
        assert_eq!(v["CPU"], "12.50%");
        assert_eq!(v["Mem"], "50.00%");
        assert_eq!(v["MemUsage"], "33.55MB / 67.11MB");
        assert_eq!(v["MemUsageBytes"], "33554432 / 67108864");
        assert_eq!(v["NetIO"], "1kB / 0B");
        assert_eq!(v["BlockIO"], "0B / 4.096kB");
        assert_eq!(v["PIDS"], "3");
    }
}
