//! `rmi`: untag or delete images, refusing images that containers use
//! unless forced. Podman's exit codes: 1 when an image is not known, 2 when
//! one is in use, 125 for an id naming an image with several tags without
//! --force.

use crate::engine::Result;
use hutch_storage::Store;

use super::{LookupError, lookup, users_of};
use crate::image::reference;

#[derive(Debug, Default)]
pub struct RemoveReport {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
    pub errors: Vec<String>,
    /// Podman's exit code for the worst failure (0, 1, 2 or 125).
    pub exit_code: u8,
}

/// `ignore_missing`: a name that is not known is skipped silently
/// (Podman's `rmi --ignore`, and `rmi --force`, which implies it).
pub fn remove(
    store: &Store,
    inputs: &[String],
    force: bool,
    ignore_missing: bool,
) -> Result<RemoveReport> {
    let mut report = RemoveReport::default();
    for input in inputs {
        let image = match lookup(store, input) {
            Ok(i) => i,
            Err(LookupError::NotKnown(_)) if ignore_missing => continue,
            Err(e @ LookupError::NotKnown(_)) => {
                report.errors.push(e.to_string());
                report.exit_code = report.exit_code.max(1);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        // An additional store's image, read-only here: Podman refuses it
        // with or without --force (exit 125); hutch's --force removes it
        // from this user's view only, and the store and its other users
        // keep it (docs/storage.md).
        if store.images.get(&image.id)?.is_none() {
            if force {
                store.hide_image(&image.id)?;
                report.untagged.extend(image.names.iter().cloned());
            } else {
                report.errors.push(format!(
                    "cannot remove read-only image \"{}\"",
                    image.id.hex()
                ));
                report.exit_code = report.exit_code.max(125);
            }
            continue;
        }
        // A name that is one of several: only that name goes, even with
        // --force (Podman's libimage does the same).
        let by_name = image
            .names
            .iter()
            .find(|n| reference::matches_stored_name(input, n))
            .cloned();
        if let Some(name) = &by_name
            && image.names.len() > 1
        {
            report
                .untagged
                .extend(store.images.untag(&image.id, Some(name))?);
            continue;
        }
        if by_name.is_none() && image.names.len() > 1 && !force {
            report.errors.push(format!(
                "unable to delete image \"{}\" by ID with more than one tag ({}): please force removal",
                image.id.hex(),
                image.names.join(", ")
            ));
            report.exit_code = report.exit_code.max(125);
            continue;
        }
        let users = users_of(store, &image);
        if !users.is_empty() && !force {
            report.errors.push(format!(
                "image used by {}: image is in use by a container: consider listing external containers and force-removing image",
                users.join(", ")
            ));
            report.exit_code = 2;
            continue;
        }
        if let Some(removed) = store.remove_image(&image.id)? {
            report.untagged.extend(removed.names.iter().cloned());
            report.deleted.push(removed.id.hex().to_owned());
        }
    }
    // What killed pulls, commits and refused loads left (blobs and layers
    // no image records) goes with the removal, under the same exclusive
    // store lock that keeps it from touching a pull in progress.
    if !report.deleted.is_empty()
        && let Err(e) = store.collect_garbage()
    {
        tracing::warn!("removing unreferenced layers and blobs: {e}");
    }
    Ok(report)
}
