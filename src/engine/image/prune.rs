//! `image prune`: images no container uses (only untagged ones, less the
//! entries of stored manifest lists, unless `all`), then whatever crashed
//! removals and failed pulls left behind.

use hutch_storage::Store;

use crate::engine::Result;
use crate::engine::prune_filter::PruneFilters;

#[derive(Debug, Clone, Default)]
pub struct ImagePruneOptions {
    /// Tagged images too, when no container uses them.
    pub all: bool,
    /// `--filter until=|label=|label!=`.
    pub filters: PruneFilters,
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
        if unused && (opts.all || untagged) && passes(store, &image, &opts.filters) {
            store.remove_image(&image.id)?;
            removed.push(image.id.hex().to_owned());
        }
    }
    let (layers, blobs) = store.collect_garbage()?;
    tracing::info!(layers, blobs, "removed unreferenced layers and blobs");
    Ok(removed)
}

/// Whether `image` passes `filters`: its config's creation time (the
/// time it was stored when the config has none) and labels.
fn passes(
    store: &Store,
    image: &hutch_storage::images::ImageRecord,
    filters: &PruneFilters,
) -> bool {
    if filters.is_empty() {
        return true;
    }
    let cfg = super::config(store, image).unwrap_or_default();
    let created = cfg["created"]
        .as_str()
        .and_then(crate::host::time::parse_rfc3339)
        .unwrap_or(image.stored_at)
        .saturating_mul(1_000_000_000);
    let labels: Vec<(&str, &str)> = cfg["config"]["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    filters.matches(created, labels.iter().copied())
}
