//! Container commands, one file each; `flags` holds what `create` and `run`
//! share. The hidden `__monitor` is the process the runtime side re-executes.

mod attach;
mod exec;
mod flags;
mod logs;
mod ps;
mod rm;
mod run;
mod start;

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::monitor;

pub use attach::{AttachArgs, attach};
pub use exec::{ExecArgs, exec};
pub use logs::{LogsArgs, logs};
pub use ps::{PsArgs, ps};
pub use rm::{RmArgs, rm};
pub use run::{RunArgs, run};
pub use start::{StartArgs, start};

#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    id: String,
    #[arg(long)]
    wait_attach: bool,
    #[arg(long)]
    rm: bool,
}

pub fn monitor_main(ctx: &Context, args: &MonitorArgs) -> anyhow::Result<ExitCode> {
    let code = monitor::run(ctx, &args.id, args.wait_attach, args.rm)?;
    Ok(exit_status(code))
}

/// A container's exit code as the process's own; an unknown exit (-1) is
/// hutch's error, never success.
pub(crate) fn exit_status(code: i32) -> ExitCode {
    match u8::try_from(code) {
        Ok(c) => ExitCode::from(c),
        Err(_) => ExitCode::from(crate::cli::EXIT_HUTCH_ERROR),
    }
}
