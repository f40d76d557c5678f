//! `start`: run created or exited containers again under a new monitor;
//! with `-a` in the foreground, attached as `run` is.

use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::attach::{self, AttachFlags, AttachOptions};
use crate::config::Context;
use crate::engine::container::{self as engine, Paths, create, monitor};
use crate::engine::image;
use crate::engine::state::ContainerState;

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach container's STDOUT and STDERR
    #[arg(short, long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    interactive: bool,
    #[command(flatten)]
    flags: AttachFlags,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(ctx: &Context, args: &StartArgs) -> anyhow::Result<ExitCode> {
    if args.attach && args.containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    state.recover()?;
    for name in &args.containers {
        let c = state.container(name)?;
        if c.state.is_active() {
            // Podman starts a running container as a no-op.
            if !args.attach {
                println!("{name}");
            }
            continue;
        }
        if !matches!(
            c.state,
            ContainerState::Configured | ContainerState::Created | ContainerState::Exited
        ) {
            bail!("container {} is {}: it cannot be started", c.name, c.state);
        }
        let req: create::CreateRequest = serde_json::from_str(&c.config).unwrap_or_default();
        let opts = AttachOptions::new(
            &req,
            args.interactive,
            &args.flags.detach_keys,
            args.flags.sig_proxy,
        )?;
        // An exited container's root was unmounted by its last monitor.
        store
            .mount_container(&c.id)
            .with_context(|| format!("mounting the root file system of {}", c.name))?;
        match monitor::spawn(ctx, &c.id, args.attach, req.remove)? {
            monitor::Spawned::Failed { code, message } => {
                eprintln!("Error: {message}");
                return Ok(ExitCode::from(code));
            }
            monitor::Spawned::Created { .. } => {}
        }
        if !args.attach {
            println!("{name}");
            continue;
        }
        let paths = Paths::new(ctx, store.root(), &c.id);
        let sock = UnixStream::connect(&paths.attach)
            .with_context(|| format!("attaching to container {}", c.name))?;
        return attach::session(sock, &c.id, &opts);
    }
    Ok(ExitCode::SUCCESS)
}
