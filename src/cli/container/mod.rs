//! Container commands, one file each; `flags` holds what `create` and `run`
//! share. The hidden `__monitor` is the process the runtime side re-executes.

mod attach;
mod commit;
mod cp;
mod diff;
mod events;
mod exec;
mod export;
mod flags;
mod group;
mod inspect;
mod lifecycle;
mod logs;
mod mount;
mod net_flags;
mod pause;
mod pick;
mod port;
mod ps;
mod resource_flags;
mod rm;
mod run;
mod stats;
mod top;
mod update;

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::monitor;

pub use attach::{AttachArgs, attach};
pub use commit::{CommitArgs, commit};
pub use cp::{CpArgs, cp};
pub use diff::{DiffArgs, diff};
pub use events::{EventsArgs, events};
pub use exec::{ExecArgs, exec};
pub use export::{ExportArgs, export};
pub use group::{ContainerCommand, container};
pub use inspect::{InspectArgs, inspect};
pub use lifecycle::{
    CreateArgs, KillArgs, RenameArgs, RestartArgs, StartArgs, StopArgs, WaitArgs, create, kill,
    rename, restart, start, stop, wait,
};
pub use logs::{LogsArgs, logs};
pub use mount::{MountArgs, UnmountArgs, mount, unmount};
pub use pause::{PauseArgs, pause, unpause};
pub use port::{PortArgs, port};
pub use ps::{PsArgs, ps};
pub use rm::{RmArgs, rm};
pub use run::{RunArgs, run};
pub use stats::{StatsArgs, stats};
pub use top::{TopArgs, top};
pub use update::{UpdateArgs, update};

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
