//! Container commands, one file each; `flags` holds what `create` and `run`
//! share. The hidden `__cleanup` is what a container's monitor runs after the exit.

mod attach;
pub(crate) mod checkpoint;
mod cleanup;
mod clone;
mod commit;
mod cp;
mod diff;
pub(crate) mod events;
mod exec;
mod export;
pub(crate) mod flags;
mod group;
mod health_flags;
mod healthcheck;
pub(crate) mod inspect;
mod lifecycle;
pub(crate) mod logs;
pub(crate) mod mount;
mod net_flags;
pub mod passed;
mod pause;
pub(crate) mod pick;
mod port;
pub(crate) mod ps;
pub(crate) mod resource_flags;
pub(crate) mod rm;
mod run;
mod runlabel;
pub(crate) mod stats;
mod top;
mod update;

use std::process::ExitCode;

use crate::config::Context;

pub use attach::{AttachArgs, AttachFlags, attach};
pub use commit::{CommitArgs, commit};
pub use cp::{CpArgs, cp};
pub use diff::{DiffArgs, Object as DiffObject, diff, diff_of};
pub use events::{EventsArgs, events};
pub use exec::{ExecArgs, exec};
pub use export::{ExportArgs, export};
pub use group::{ContainerCommand, container};
pub use healthcheck::{HealthcheckCommand, healthcheck};
pub use inspect::{InspectArgs, inspect};
pub use lifecycle::{
    CreateArgs, KillArgs, PruneArgs, RenameArgs, RestartArgs, StartArgs, StopArgs, WaitArgs,
    create, kill, rename, restart, start, stop, wait,
};
pub use logs::{LogsArgs, logs};
pub use mount::{MountArgs, UnmountArgs, mount, unmount};
pub use net_flags::NetworkFlags;
pub use pause::{PauseArgs, pause, unpause};
pub use port::{PortArgs, port};
pub use ps::{PsArgs, ps};
pub use rm::{RmArgs, rm};
pub use run::{RunArgs, run};
pub use stats::{StatsArgs, stats};
pub use top::{TopArgs, top};
pub use update::{UpdateArgs, update};

/// `__cleanup`: run by a container's monitor after the exit (conmon's exit
/// command).
#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    id: String,
    /// The runtime's `create` ran.
    #[arg(long)]
    created: bool,
    /// The container ran.
    #[arg(long)]
    started: bool,
    #[arg(long)]
    rm: bool,
}

pub fn cleanup_main(ctx: &Context, args: &CleanupArgs) -> anyhow::Result<ExitCode> {
    let store = crate::engine::image::open_store(ctx)?;
    let state = crate::engine::container::open_state(ctx)?;
    let opts = crate::engine::container::cleanup::CleanupOptions {
        created: args.created,
        started: args.started,
        remove: args.rm,
    };
    crate::engine::container::cleanup::cleanup(ctx, &store, &state, &args.id, opts)?;
    Ok(ExitCode::SUCCESS)
}

/// A container's exit code as the process's own; an unknown exit (-1) is
/// hutch's error, never success.
pub(crate) fn exit_status(code: i32) -> ExitCode {
    match u8::try_from(code) {
        Ok(c) => ExitCode::from(c),
        Err(_) => ExitCode::from(crate::cli::EXIT_HUTCH_ERROR),
    }
}
