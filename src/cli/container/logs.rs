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
    container: String,
}

pub fn logs(ctx: &Context, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let c = state.container(&args.container)?;
    let paths = Paths::new(ctx, store.root(), &c.id);
    let req: engine::create::CreateRequest = serde_json::from_str(&c.config).unwrap_or_default();
    let Some(log) = engine::create::log_path(&paths, &req) else {
        anyhow::bail!(
            "this container is using the 'none' log driver, cannot read logs: this container is not logging output"
        );
    };
    let lines = logfile::read(
        &log,
        &LogFilter {
            tail: args.tail,
            ..LogFilter::default()
        },
    )
    .with_context(|| format!("reading the log of {}", c.name))?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for l in lines {
        let text = if args.timestamps {
            format!("{} {}", logfile::timestamp(l.time_ns), l.text)
        } else {
            l.text
        };
        match l.stream {
            Stream::Stdout => writeln!(out, "{text}")?,
            Stream::Stderr => writeln!(err, "{text}")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
