//! `logs`: a container's k8s-file log.

use std::io::Write;
use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::events::{parse_time, parse_until};
use crate::engine::container::logs::{LogStream, LogsOptions};
use crate::engine::container::{self as engine};
use crate::engine::image;
use crate::runtime::logfile::{self, Stream};

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Output the specified number of LINES at the end of the logs (-1: all)
    // Podman's: `--tail` has no short form; `-n` is `--names`.
    #[arg(long, allow_negative_numbers = true, value_name = "LINES")]
    pub(crate) tail: Option<i64>,
    /// Output the timestamps in the log
    #[arg(short, long)]
    pub(crate) timestamps: bool,
    /// Follow log output until the container stops
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Show logs since TIMESTAMP (RFC 3339, Unix seconds, or a duration such as 10m)
    #[arg(long, value_name = "TIMESTAMP")]
    pub(crate) since: Option<String>,
    /// Show logs until TIMESTAMP
    #[arg(long, value_name = "TIMESTAMP")]
    pub(crate) until: Option<String>,
    /// Output the container name in the log (with several containers)
    #[arg(short, long)]
    pub(crate) names: bool,
    /// Output the containers with different colors in the log
    #[arg(long)]
    pub(crate) color: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    // Not `required`: Podman's own messages for no name and for a name
    // beside `--latest` (checked in `logs`).
    #[arg(value_name = "CONTAINER")]
    pub(crate) containers: Vec<String>,
}

impl LogsArgs {
    /// `--tail`: None (or a negative count) for every line.
    pub(crate) fn tail_lines(&self) -> Option<usize> {
        self.tail.and_then(|n| usize::try_from(n).ok())
    }
}

/// Podman's colors for `--color`, one per container in turn.
const COLORS: [&str; 7] = [
    "\x1b[37m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m",
];

/// How each line of one container is dressed: Podman prefixes lines with
/// the container's short id (or name with `-n`) when several containers
/// are asked for, and wraps them in the container's color with `--color`.
struct Dress {
    prefix: Option<String>,
    color: Option<&'static str>,
}

pub fn logs(ctx: &Context, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    if args.latest && !args.containers.is_empty() {
        return Err(crate::engine::Error::bad_input(
            "--latest and containers cannot be used together",
        )
        .into());
    }
    if !args.latest && args.containers.is_empty() {
        return Err(crate::engine::Error::bad_input(
            "specify at least one container name or ID to log",
        )
        .into());
    }
    if args.follow && args.containers.len() > 1 {
        anyhow::bail!("hutch logs --follow takes one container at a time");
    }
    let now = crate::host::time::now_ns();
    let at = |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now)).transpose();
    let opts = LogsOptions {
        since: at(&args.since)?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_until(t, now))
            .transpose()?,
        tail: args.tail_lines(),
        follow: args.follow,
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let latest;
    let containers = if args.latest {
        // Podman's bare "no such container" when there is none.
        latest = vec![
            engine::select::latest(&state)
                .map_err(|_| crate::engine::Error::not_found("no such container"))?
                .id,
        ];
        &latest
    } else {
        &args.containers
    };
    let several = containers.len() > 1;
    for (i, query) in containers.iter().enumerate() {
        let dress = Dress {
            prefix: several
                .then(|| state.container(query))
                .transpose()?
                .map(|c| {
                    if args.names {
                        c.name
                    } else {
                        c.id.chars().take(12).collect()
                    }
                }),
            color: args.color.then_some(COLORS[i % COLORS.len()]),
        };
        let mut stream = LogStream::open(ctx, &store, &state, query, &opts)?;
        while let Some(lines) = stream.next_batch()? {
            print_lines(lines.into_iter(), args.timestamps, &dress)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_lines(
    lines: impl Iterator<Item = logfile::LogLine>,
    timestamps: bool,
    dress: &Dress,
) -> anyhow::Result<()> {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for l in lines {
        let mut text = if timestamps {
            format!("{} {}", logfile::timestamp(l.time_ns), l.text)
        } else {
            l.text
        };
        if let Some(p) = &dress.prefix {
            text = format!("{p} {text}");
        }
        if let Some(c) = dress.color {
            text = format!("{c}{text}\x1b[0m");
        }
        match l.stream {
            Stream::Stdout => writeln!(out, "{text}")?,
            Stream::Stderr => writeln!(err, "{text}")?,
        }
        out.flush()?;
    }
    Ok(())
}
