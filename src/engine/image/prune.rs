//! `image prune`: images no container uses (only untagged ones, less the
//! entries of stored manifest lists, unless `all`), then whatever crashed
//! removals and failed pulls left behind.

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
    // An untagged entry of a stored list is what `manifest add --all` of a
    // registry's list pulled; a later push of the list needs it.
    let listed = super::manifest_list::listed_digests(store)?;
    for image in store.images.list()? {
        let unused = super::users_of(store, &image).is_empty();
        let untagged = image.names.is_empty() && !listed.contains(&image.digest.to_string());
        if unused && (opts.all || untagged) {
            store.remove_image(&image.id)?;
            removed.push(image.id.hex().to_owned());
        }
    }
    let (layers, blobs) = store.collect_garbage()?;
    tracing::info!(layers, blobs, "removed unreferenced layers and blobs");
    Ok(removed)
}
