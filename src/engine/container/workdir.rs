//! Podman's check of `--workdir` at start: a working directory given on
//! the command line must exist in the container's root file system (or be
//! provided by one of its mounts). The image's own WORKDIR is exempt: the
//! runtime creates it, as Docker and Podman do for images whose WORKDIR
//! was never made. Checked at every start, against the mounted root, so a
//! directory made by an earlier run counts.

use std::os::fd::AsFd;
use std::path::Path;

use hutch_storage::Store;

use super::inroot;
use crate::engine::Error;
use crate::engine::state::Container;

/// Podman's `run` exits 126 for it (`start` 125, as for every failure).
const EXIT_CODE: u8 = 126;

pub(super) fn check(store: &Store, row: &Container, root: &Path) -> Result<(), Error> {
    let Some(dir) = row.spec.workdir.as_deref() else {
        return Ok(());
    };
    let clean = dir.trim_end_matches('/');
    let under = |dest: &str| {
        let dest = dest.trim_end_matches('/');
        clean == dest || clean.starts_with(&format!("{dest}/")) || dest.is_empty()
    };
    if row.spec.mounts.iter().any(|m| under(&m.destination))
        || row.spec.tmpfs.iter().any(|t| under(&t.destination))
    {
        return Ok(());
    }
    let exists = inroot::open_root(root)
        .and_then(|fd| inroot::resolve(fd.as_fd(), dir.as_bytes()))
        .is_ok_and(|r| r.exists);
    if exists || image_workdir(store, row).as_deref() == Some(clean) {
        return Ok(());
    }
    Err(Error::runtime(
        EXIT_CODE,
        format!("workdir {dir:?} does not exist on container {}", row.id),
    ))
}

pub(super) fn image_workdir(store: &Store, row: &Container) -> Option<String> {
    let digest = format!("sha256:{}", row.image_id).parse().ok()?;
    let config: serde_json::Value = serde_json::from_slice(&store.read_blob(&digest).ok()?).ok()?;
    let w = config["config"]["WorkingDir"].as_str()?;
    Some(w.trim_end_matches('/').to_owned())
}
