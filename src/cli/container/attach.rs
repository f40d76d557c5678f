//! `attach`, and the flags `run`, `start -a` and `attach` share; the
//! session itself is the engine's, joined to our terminal by the runtime's
//! console.

use std::process::ExitCode;

use super::exit_status;
use crate::config::Context;
use crate::engine::container as engine;
use crate::engine::container::attach::{self as engine_attach, AttachSession, Ended};
use crate::engine::image;
use crate::runtime::terminal;

/// The flags `attach`, `run` and `start` share for attaching.
#[derive(Debug, Clone, clap::Args)]
pub struct AttachFlags {
    /// Override the key sequence for detaching a container ("" disables)
    #[arg(long, value_name = "KEYS", default_value = terminal::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
}

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub(crate) flags: AttachFlags,
    /// Do not attach STDIN
    #[arg(long)]
    pub(crate) no_stdin: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    #[arg(required_unless_present = "latest", conflicts_with = "latest")]
    pub(crate) container: Option<String>,
}

pub fn attach(ctx: &Context, args: &AttachArgs) -> anyhow::Result<ExitCode> {
    let opts = engine_attach::AttachOptions {
        stdin: !args.no_stdin,
        detach_keys: args.flags.detach_keys.clone(),
        sig_proxy: args.flags.sig_proxy,
        ..Default::default()
    };
    opts.validate()?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let name = match &args.container {
        Some(n) => n.clone(),
        None => engine::select::latest(&state)?.id,
    };
    let session = engine_attach::attach(ctx, &store, &state, &name, &opts)?;
    console(session)
}

/// Our terminal joined to `session` until the container exits (its code)
/// or the user detaches (success).
pub fn console(session: AttachSession) -> anyhow::Result<ExitCode> {
    Ok(match session.run_console()? {
        Ended::Exited(code) => exit_status(code),
        Ended::Detached | Ended::MonitorGone => ExitCode::SUCCESS,
    })
}
