//! `hutch unshare`: a shell or a command inside the user's namespace.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use std::os::fd::AsRawFd;

use anyhow::{Context as _, bail};

use crate::config::Context;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct UnshareArgs {
    /// Join the rootless network namespace used for user networks
    #[arg(long)]
    rootless_netns: bool,
    /// The command to run (default: $SHELL)
    #[arg(allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(ctx: &Context, args: &UnshareArgs) -> anyhow::Result<ExitCode> {
    if ctx.rootful {
        // Podman's answer too: root has nothing to unshare into.
        bail!("please use unshare with rootless");
    }
    if args.rootless_netns {
        join_rootless_netns(ctx)?;
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

/// `--rootless-netns`: this process moves into the network namespace that
/// hutch's user networks share (their containers' interfaces, bridges and
/// the slirp4netns tap), then execs the command there. It exists while a
/// container on a user network runs; Podman makes one on demand instead,
/// hutch says there is none (docs/compat.md).
fn join_rootless_netns(ctx: &Context) -> anyhow::Result<()> {
    let paths = crate::engine::container::usernet::paths(ctx);
    if hutch_rootless_net::usernet::holder(&paths).is_none() {
        bail!(
            "the rootless network namespace does not exist: it is made for the first container on a user network (hutch network create NAME; hutch run --network NAME ...) and kept while one runs"
        );
    }
    let ns = std::fs::File::open(&paths.netns).with_context(|| {
        format!(
            "opening the rootless network namespace {}",
            paths.netns.display()
        )
    })?;
    // SAFETY: setns of this (single-threaded) process with an fd we own;
    // the exec that follows runs the command in that namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| {
            format!(
                "joining the rootless network namespace {}",
                paths.netns.display()
            )
        });
    }
    Ok(())
}
