//! Per-container lifecycle locks: an exclusive `flock` on
//! `<state dir>/locks/<id>.lock`. Start, stop, remove and the like hold it
//! across their I/O (runtime calls, mounts), which a database transaction
//! must never span; other containers are not held up. The kernel drops a
//! `flock` when its holder dies, so a killed command never leaves a
//! container locked.
//!
//! The lock belongs to the open file, not the process: a child forked
//! while it is held shares it until the child execs (the descriptor is
//! close-on-exec) or exits. A monitor forked without an exec must close it,
//! or the container stays locked for as long as the monitor lives.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use super::names::check_id;
use super::{State, StateError};

/// Under the database's directory.
pub(super) const LOCKS_DIR: &str = "locks";

/// Held until dropped.
#[derive(Debug)]
pub struct ContainerLock {
    // Only held for its descriptor: closing it releases the lock.
    _file: File,
    id: String,
    path: PathBuf,
}

impl ContainerLock {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Deletes the lock file, then releases the lock: for the end of a
    /// container's removal. A process waiting on the old file then gets a
    /// lock on an unlinked file, which is harmless because it must look the
    /// container up again after locking and will find it gone (IDs are
    /// never reused).
    pub fn unlink(self) -> Result<(), StateError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Lock {
                id: self.id.clone(),
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// Opens (creating it and `locks` as needed) and locks `path`. Returns
/// `None` when `wait` is false and another open file holds the lock.
pub(super) fn lock_file(locks: &Path, path: &Path, wait: bool) -> io::Result<Option<File>> {
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
    };
    let file = match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // First lock ever taken here: make the directory on demand, so
            // commands that never lock pay nothing for it.
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(locks)?;
            open()?
        }
        other => other?,
    };
    let op = if wait {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    loop {
        match flock(&file, op) {
            Ok(()) => return Ok(Some(file)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) if !wait => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

impl State {
    fn lock_path(&self, id: &str) -> (PathBuf, PathBuf) {
        let locks = self.dir.join(LOCKS_DIR);
        let path = locks.join(format!("{id}.lock"));
        (locks, path)
    }

    fn lock_inner(&self, id: &str, wait: bool) -> Result<Option<ContainerLock>, StateError> {
        // The ID becomes a file name: only the strict form may.
        check_id("container", id)?;
        let (locks, path) = self.lock_path(id);
        let err = |source| StateError::Lock {
            id: id.to_string(),
            path: path.clone(),
            source,
        };
        let Some(file) = lock_file(&locks, &path, wait).map_err(err)? else {
            return Ok(None);
        };
        Ok(Some(ContainerLock {
            _file: file,
            id: id.to_string(),
            path,
        }))
    }

    /// Waits for and takes the lifecycle lock of container `id` (a full
    /// ID). Callers look the container up again once they hold it: whoever
    /// held it before may have changed or removed it.
    pub fn lock_container(&self, id: &str) -> Result<ContainerLock, StateError> {
        self.lock_inner(id, true)?.ok_or_else(|| StateError::Lock {
            id: id.to_string(),
            path: self.lock_path(id).1,
            source: io::Error::from(io::ErrorKind::WouldBlock),
        })
    }

    /// Takes the lock if it is free; `None` when someone holds it.
    pub fn try_lock_container(&self, id: &str) -> Result<Option<ContainerLock>, StateError> {
        self.lock_inner(id, false)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{id, temp_state};
    use super::*;

    #[test]
    fn exclusive_until_dropped() {
        let (_dir, state) = temp_state();
        let a = id("a", 1);
        let held = state.lock_container(&a).unwrap();
        assert_eq!(held.id(), a);
        // flock belongs to the open file, so a second open conflicts even
        // within one process: the same as another process would see.
        assert!(state.try_lock_container(&a).unwrap().is_none());
        // Other containers are not affected.
        assert!(state.try_lock_container(&id("b", 2)).unwrap().is_some());
        drop(held);
        // Other tests fork children meanwhile; a child holds copies of this
        // process's descriptors (the lock's too) until it execs, so the
        // release may take a moment to show.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let again = loop {
            if let Some(lock) = state.try_lock_container(&a).unwrap() {
                break lock;
            }
            assert!(std::time::Instant::now() < deadline, "lock never released");
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        again.unlink().unwrap();
        assert!(!state.lock_path(&a).1.exists());
    }

    #[test]
    fn waiter_gets_the_lock_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hutch.db");
        let state = State::open(&db).unwrap();
        let a = id("a", 1);
        let held = state.lock_container(&a).unwrap();
        let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiter = {
            let (db, a, released) = (db.clone(), a.clone(), released.clone());
            std::thread::spawn(move || {
                let state = State::open(&db).unwrap();
                let _lock = state.lock_container(&a).unwrap();
                released.load(std::sync::atomic::Ordering::SeqCst)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        released.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(held);
        assert!(
            waiter.join().unwrap(),
            "waiter got the lock while it was held"
        );
    }

    #[test]
    fn ids_are_checked_before_becoming_paths() {
        let (_dir, state) = temp_state();
        assert!(matches!(
            state.lock_container("../../etc/passwd"),
            Err(StateError::InvalidId { .. })
        ));
    }
}
