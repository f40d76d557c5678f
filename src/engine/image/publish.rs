//! `image publish`: copies a local image into a shared read-only store
//! (storage.conf `additionalimagestores` of many users), in hutch's
//! layout; the storage crate's `publish` does the copying.

use std::path::PathBuf;

use crate::engine::{Result, ResultExt};
use hutch_storage::Store;

use super::lookup;

/// Plain request data: the CLI (and any other front end) fills it.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The image, by name or id, as `lookup` resolves it.
    pub image: String,
    /// The shared store's directory, absolute (the front end resolves a
    /// relative one against its working directory).
    pub store: PathBuf,
}

#[derive(Debug, Clone)]
pub struct PublishReport {
    pub id: String,
    pub names: Vec<String>,
    pub layers_copied: usize,
}

pub fn publish(store: &Store, opts: &PublishOptions) -> Result<PublishReport> {
    if !opts.store.is_absolute() {
        crate::fail!(
            BadInput,
            "--store {}: the shared store's path must be absolute",
            opts.store.display()
        );
    }
    if opts.store == store.root() {
        crate::fail!(
            BadInput,
            "--store {}: that is this user's own storage root; publish into a separate directory",
            opts.store.display()
        );
    }
    let image = lookup(store, &opts.image)?;
    let done = hutch_storage::publish::publish(store, &image, &opts.store).with_context(|| {
        format!(
            "publishing {} into {}",
            image.id.short(),
            opts.store.display()
        )
    })?;
    Ok(PublishReport {
        id: done.record.id.hex().to_owned(),
        names: done.record.names,
        layers_copied: done.layers_copied,
    })
}
