//! `export`: a container's root file system as a tar archive.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to a specified file (default: stdout, which must be redirected)
    #[arg(short, long)]
    pub(crate) output: Option<std::path::PathBuf>,
    pub(crate) container: String,
}

pub fn export(ctx: &Context, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let out: Box<dyn Write> = match &args.output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => {
            if std::io::stdout().is_terminal() {
                bail!("refusing to export to terminal. Use -o flag or redirect");
            }
            Box::new(std::io::stdout().lock())
        }
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let mut out = out;
    engine::export::export(&store, &state, &args.container, &mut out)?;
    Ok(ExitCode::SUCCESS)
}
