//! `start`: run created or exited containers again under a new monitor;
//! with `-a` in the foreground, attached as `run` is.

use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::attach::{self, AttachFlags, AttachOptions};
use crate::config::Context;
use crate::engine::container::{self as engine, Paths, monitor};
use crate::engine::image;
use crate::engine::state::ContainerState;

/// `start -a [-i]`: the lifecycle `start` hands attached starts here.
pub fn start_attached(
    ctx: &Context,
    containers: &[String],
    interactive: bool,
    flags: &AttachFlags,
) -> anyhow::Result<ExitCode> {
    if containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    state.recover()?;
    for name in containers {
        let c = state.container(name)?;
        if c.state.is_active() {
            // Podman starts a running container as a no-op.
            continue;
        }
        if !matches!(
            c.state,
            ContainerState::Configured | ContainerState::Created | ContainerState::Exited
        ) {
            bail!("container {} is {}: it cannot be started", c.name, c.state);
        }
        let opts = AttachOptions::new(&c.spec, interactive, &flags.detach_keys, flags.sig_proxy)?;
        // An exited container's root was unmounted by its last monitor.
        store
            .mount_container(&c.id)
            .with_context(|| format!("mounting the root file system of {}", c.name))?;
        let client = match monitor::spawn(ctx, &c.id, true, c.spec.remove)? {
            monitor::Spawned::Failed { code, message } => {
                eprintln!("Error: {message}");
                return Ok(ExitCode::from(code));
            }
            monitor::Spawned::Created { attach, .. } => attach,
        };
        let sock = match client {
            Some(s) => s,
            None => {
                let paths = Paths::new(ctx, store.root(), &c.id);
                UnixStream::connect(&paths.attach)
                    .with_context(|| format!("attaching to container {}", c.name))?
            }
        };
        return attach::session(sock, &c.id, &opts);
    }
    Ok(ExitCode::SUCCESS)
}
