//! `hutch unshare`: a shell or a command inside the user's namespace.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use anyhow::bail;

use crate::config::Context;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct UnshareArgs {
    /// The command to run (default: $SHELL)
    #[arg(allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(ctx: &Context, args: &UnshareArgs) -> anyhow::Result<ExitCode> {
    if ctx.rootful {
        // Podman's answer too: root has nothing to unshare into.
        bail!("please use unshare with rootless");
    }
    let (program, rest) = match args.command.split_first() {
        Some((p, rest)) => (p.clone(), rest.to_vec()),
        None => (
            std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".to_owned()),
            Vec::new(),
        ),
    };
    // exec, not spawn: the exit code and signals are the command's own, and
    // no hutch process lingers beside it.
    // The graph root in force (--root, storage.conf, a node-local one when
    // the home is on NFS), as Podman exports it.
    let graph_root = crate::engine::image::storage_conf(ctx)
        .map(|conf| crate::engine::image::graph_root(ctx, &conf))
        .unwrap_or_else(|_| ctx.data_dir.join("storage"));
    let err = Command::new(&program)
        .args(&rest)
        .env("CONTAINERS_GRAPHROOT", graph_root)
        .env("CONTAINERS_RUNROOT", ctx.storage_run_root())
        .exec();
    let code = match err.kind() {
        std::io::ErrorKind::NotFound => 127,
        _ => 126,
    };
    eprintln!("Error: running {program:?} in the user namespace: {err}");
    Ok(ExitCode::from(code))
}
