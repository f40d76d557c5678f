//! `--sdnotify=container`: the directory of the container's own notify
//! socket. The monitor binds `notify.sock` in it before the runtime runs
//! and passes what the container sends on to the caller's `NOTIFY_SOCKET`;
//! the directory is bound at `/run/notify` in the container.

use std::path::PathBuf;

use crate::config::Context;
use crate::spec::{ContainerSpec, SdNotify};

/// The socket's file name in [`dir`] (Podman's).
pub const SOCKET_NAME: &str = "notify.sock";

/// The container's notify directory: in the runtime dir (local, and short
/// enough for a socket path's 108 bytes), by the id's first 12 characters.
pub fn dir(ctx: &Context, id: &str) -> PathBuf {
    ctx.run_dir.join("n").join(&id[..12.min(id.len())])
}

/// The directory to bind into the container, when it gets a socket: mode
/// `container` with a caller's socket to pass the messages to (Podman's
/// `container` without a `NOTIFY_SOCKET` does nothing).
pub fn in_container(ctx: &Context, id: &str, spec: &ContainerSpec) -> Option<PathBuf> {
    (spec.sdnotify == SdNotify::Container && spec.notify_socket.is_some()).then(|| dir(ctx, id))
}
