//! `logs`: a container's k8s-file log.

use std::io::Write;
use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::events::parse_time;
use crate::engine::container::logs::{LogStream, LogsOptions};
use crate::engine::container::{self as engine};
use crate::engine::image;
use crate::runtime::logfile::{self, Stream};

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Output the specified number of LINES at the end of the logs
    #[arg(short = 'n', long)]
    pub(crate) tail: Option<usize>,
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
    pub(crate) container: String,
}

pub fn logs(ctx: &Context, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let now = crate::host::time::now_ns();
    let at = |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now)).transpose();
    let opts = LogsOptions {
        since: at(&args.since)?,
        until: at(&args.until)?,
        tail: args.tail,
        follow: args.follow,
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let mut stream = LogStream::open(ctx, &store, &state, &args.container, &opts)?;
    while let Some(lines) = stream.next_batch()? {
        print_lines(lines.into_iter(), args.timestamps)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_lines(
    lines: impl Iterator<Item = logfile::LogLine>,
    timestamps: bool,
) -> anyhow::Result<()> {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for l in lines {
        let text = if timestamps {
            format!("{} {}", logfile::timestamp(l.time_ns), l.text)
        } else {
            l.text
        };
        match l.stream {
            Stream::Stdout => writeln!(out, "{text}")?,
            Stream::Stderr => writeln!(err, "{text}")?,
        }
        out.flush()?;
    }
    Ok(())
}
