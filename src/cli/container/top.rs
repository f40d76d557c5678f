//! `top`: the processes of a running container.

use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::top::{self, TopOptions};
use crate::engine::container::{self as engine, select};
use crate::engine::image;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct TopArgs {
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// CONTAINER [FORMAT-DESCRIPTORS|ARGS...]
    #[arg(allow_hyphen_values = true)]
    pub(crate) args: Vec<String>,
}

pub fn top(ctx: &Context, args: &TopArgs) -> anyhow::Result<ExitCode> {
    let (name, descriptors) = match (args.latest, args.args.split_first()) {
        (true, _) => (None, &args.args[..]),
        (false, Some((c, rest))) => (Some(c), rest),
        (false, None) => bail!("you must provide the name or id of a running container"),
    };
    let opts = TopOptions {
        descriptors: descriptors.to_vec(),
    };
    opts.validate()?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let name = match name {
        Some(n) => n.clone(),
        None => select::latest(&state)?.id,
    };
    let report = top::top(&store, &state, &name, &opts)?;
    let mut text = report.headers.join("\t");
    text.push('\n');
    for r in report.rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    print!("{}", crate::format::align_columns(&text));
    Ok(ExitCode::SUCCESS)
}
