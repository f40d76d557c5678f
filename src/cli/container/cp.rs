//! `cp`: files between containers and the host, or a tar stream.

use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::copy::{self, CopyRequest, Location};
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct CpArgs {
    /// Chown copied files to the primary uid/gid of the destination
    /// container (false: keep the archive's owners)
    #[arg(short, long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) archive: bool,
    /// Allow to overwrite directories with non-directories and vice versa
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// [CONTAINER:]SRC_PATH
    pub(crate) source: String,
    /// [CONTAINER:]DEST_PATH
    pub(crate) dest: String,
}

pub fn cp(ctx: &Context, args: &CpArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let req = CopyRequest {
        source: absolute(Location::parse(&args.source))?,
        dest: absolute(Location::parse(&args.dest))?,
        archive: args.archive,
        overwrite: args.overwrite,
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    copy::copy(
        &store,
        &state,
        ctx.rootless(),
        &req,
        &mut stdin.lock(),
        &mut stdout.lock(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A relative host path made absolute against our working directory: the
/// engine resolves no paths against the caller's.
fn absolute(loc: Location) -> anyhow::Result<Location> {
    Ok(match loc {
        Location::Host(p) if !p.starts_with('/') => {
            let cwd = std::env::current_dir()
                .map_err(|e| anyhow::anyhow!("finding the current directory: {e}"))?;
            Location::Host(format!("{}/{p}", cwd.display()))
        }
        other => other,
    })
}
