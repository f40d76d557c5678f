//! A container's root file system held mounted while a command reads or
//! writes it (`cp`, `export`, `mount`), whether the container runs or not.
//! The mount is pinned in the store, so a container that exits meanwhile
//! does not lose it under the command; the last user unmounts it if the
//! container has exited (a running one's monitor unmounts at exit).

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::engine::{Result, ResultExt};
use hutch_storage::Store;

use super::inroot;
use crate::engine::state::{Container, State};

pub struct MountedRoot<'a> {
    store: &'a Store,
    state: &'a State,
    id: String,
    pub path: PathBuf,
    /// `O_PATH` fd of the root: every lookup starts here, never at `path`.
    pub fd: OwnedFd,
}

impl<'a> MountedRoot<'a> {
    pub fn mount(store: &'a Store, state: &'a State, c: &Container) -> Result<Self> {
        let path = store
            .pin_container_mount(&c.id)
            .with_context(|| format!("mounting the root file system of {}", c.name))?;
        let root = MountedRoot {
            store,
            state,
            id: c.id.clone(),
            fd: inroot::open_root(&path).with_context(|| format!("opening {}", path.display()))?,
            path,
        };
        Ok(root)
    }
}

impl Drop for MountedRoot<'_> {
    fn drop(&mut self) {
        release(self.store, self.state, &self.id, false);
    }
}

/// Drops one pin (all with `force`) and unmounts when none is left and the
/// container does not run. Returns whether the root is still mounted.
pub fn release(store: &Store, state: &State, id: &str, force: bool) -> bool {
    let left = match store.unpin_container_mount(id, force) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(container = id, "releasing the mount: {e}");
            return true;
        }
    };
    // Only an exited container's mount is ours to drop: a starting one's
    // monitor has mounted the root for the runtime (the spec points at
    // it), a running one's monitor unmounts at exit, a stopped one's is
    // about to.
    let active = state
        .container(id)
        .is_ok_and(|c| c.state != crate::engine::state::ContainerState::Exited);
    if left > 0 || active {
        return store.container_mount_point(id).is_some();
    }
    if let Err(e) = store.unmount_container(id) {
        tracing::warn!(container = id, "unmounting: {e}");
    }
    store.container_mount_point(id).is_some()
}
