//! `export`: a container's root file system (running or not) as one tar
//! archive, written as it is read. The CLI writes it to a file or stdout,
//! the REST API to a response body.

use std::io::Write;
use std::os::fd::AsFd;

use hutch_storage::Store;

use super::rootfs::MountedRoot;
use super::tree::TreeWriter;
use crate::engine::state::State;
use crate::engine::{Result, ResultExt};

pub fn export(store: &Store, state: &State, name: &str, out: &mut dyn Write) -> Result<()> {
    let c = state.container(name)?;
    let root = MountedRoot::mount(store, state, &c)?;
    let mut w = TreeWriter::new(std::io::BufWriter::new(out));
    // A shifted root shows the container's ids (every method): the archive
    // gets the image's, as Podman's export does.
    if let Some(shift) = store.container_id_shift(&c.id) {
        w = w.with_owners(move |u, g| {
            (
                shift.unmap_uid(u).unwrap_or(u),
                shift.unmap_gid(g).unwrap_or(g),
            )
        });
    }
    w.add_children(root.fd.as_fd(), b"")
        .and_then(|()| w.finish())
        .and_then(|mut o| o.flush())
        .with_context(|| format!("exporting container {}", c.name))
}
