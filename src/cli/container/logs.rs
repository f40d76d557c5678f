//! `logs`: a container's k8s-file log.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::Context;
use crate::engine::container::{self as engine, Paths};
use crate::engine::image;
use crate::runtime::logfile::{self, LogFilter, Stream};

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Output the specified number of LINES at the end of the logs
    #[arg(short = 'n', long)]
    tail: Option<usize>,
    /// Output the timestamps in the log
    #[arg(short, long)]
    timestamps: bool,
    /// Follow log output until the container stops
    #[arg(short, long)]
    follow: bool,
    /// Show logs since TIMESTAMP (RFC 3339, Unix seconds, or a duration such as 10m)
    #[arg(long, value_name = "TIMESTAMP")]
    since: Option<String>,
    /// Show logs until TIMESTAMP
    #[arg(long, value_name = "TIMESTAMP")]
    until: Option<String>,
    container: String,
}

pub fn logs(ctx: &Context, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let c = state.container(&args.container)?;
    let paths = Paths::new(ctx, store.root(), &c.id);
    let Some(log) = engine::create::log_path(&paths, &c.spec.log) else {
        anyhow::bail!(
            "this container is using the 'none' log driver, cannot read logs: this container is not logging output"
        );
    };
    let now = crate::host::time::now_ns();
    let at = |t: &Option<String>| -> anyhow::Result<Option<i128>> {
        t.as_deref()
            .map(|t| super::events::parse_time(t, now).map(i128::from))
            .transpose()
    };
    let filter = LogFilter {
        since_ns: at(&args.since)?,
        until_ns: at(&args.until)?,
        tail: None,
    };
    let read =
        || logfile::read(&log, &filter).with_context(|| format!("reading the log of {}", c.name));
    let lines = read()?;
    let skip = args.tail.map_or(0, |n| lines.len().saturating_sub(n));
    let mut seen = lines.len();
    print_lines(lines.into_iter().skip(skip), args.timestamps)?;
    // `-f`: new lines as the monitor writes them, until the container is no
    // longer running; a last read then takes what it wrote before the end.
    if args.follow {
        loop {
            // A killed monitor must not keep `-f` waiting forever.
            let _ = state.recover();
            let running = state.container(&c.id).is_ok_and(|c| c.state.is_active());
            let lines = read()?;
            // A rotation drops the older half: start again from what is left.
            seen = seen.min(lines.len());
            let total = lines.len();
            print_lines(lines.into_iter().skip(seen), args.timestamps)?;
            seen = total;
            if !running {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
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
