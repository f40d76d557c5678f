//! `image prune`: images no container uses (only untagged ones unless
//! `all`), then whatever crashed removals and failed pulls left behind.

use hutch_storage::Store;

use crate::engine::Result;

#[derive(Debug, Clone, Default)]
pub struct ImagePruneOptions {
    /// Tagged images too, when no container uses them.
    pub all: bool,
}

/// The ids of the images removed.
pub fn prune(store: &Store, opts: &ImagePruneOptions) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for image in store.images.list()? {
        let unused = super::users_of(store, &image).is_empty();
        if unused && (opts.all || image.names.is_empty()) {
            store.remove_image(&image.id)?;
            removed.push(image.id.hex().to_owned());
        }
    }
    let (layers, blobs) = store.collect_garbage()?;
    tracing::info!(layers, blobs, "removed unreferenced layers and blobs");
    Ok(removed)
}
