//! Image operations on the local store: one file per operation, each taking
//! plain request data (what the CLI and, later, the REST API build).

pub mod graphroot;
pub mod history;
pub mod import;
pub mod inspect;
mod kinds;
pub mod list;
pub mod manifest_list;
pub mod prune;
pub mod publish;
pub mod pull;
pub mod remove;
pub mod runlabel;
pub mod search;
pub mod sign;
pub mod transfer;
pub mod tree;
pub mod trust;

use crate::engine::{Result, ResultExt};
use hutch_storage::images::ImageRecord;
use hutch_storage::{Digest, Store, StoreOptions};

use crate::config::Context;
use crate::image::reference;

/// Opens the user's store, as storage.conf and `--root`/`--storage-driver`
/// describe it. Rootless, this runs inside the user namespace.
/// Tells the user, once per image, that its layers held device nodes the
/// rootless store left out (Podman warns too): a container that expected
/// one finds the runtime's standard /dev instead.
pub(crate) fn warn_skipped_devices(image: &str, count: u64) {
    if count > 0 {
        tracing::warn!(
            "{image}: {count} device node(s) in its layers were not created: an unprivileged user cannot make device nodes; containers get the runtime's standard /dev"
        );
    }
}

/// `--root` naming a store that another user owns: checked before the
/// namespace is joined, where owners still show as host uids (inside, the
/// other user is the unmapped "nobody" and every later step fails with a
/// bare "Permission denied" on some file under it). One `stat`, and only
/// when `--root` was given.
pub fn check_root_owner(ctx: &Context) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Some(root) = &ctx.root_override else {
        return Ok(());
    };
    if !ctx.rootless() || ctx.inside_namespace {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(root) else {
        return Ok(()); // made on first use, as the user's own
    };
    let uid = ctx.identity.uid;
    // A directory the user may write (a group's shared store) is left to
    // work as before; only the one that would fail is refused.
    if meta.uid() != uid && !writable(root) {
        crate::fail!(
            BadInput,
            "storage root {} is owned by uid {}, not by you (uid {}): a rootless store is used by the user who owns it only; pass a --root you own, or run the command as its owner",
            root.display(),
            meta.uid(),
            uid
        );
    }
    Ok(())
}

/// Whether the calling user may create entries in `dir`.
fn writable(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) on a NUL-terminated path that outlives the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// After a refused pull, load or import: removes the blobs and layers it
/// stored on its way, which no image records (the refused manifest or
/// layer, the config), unless another command adds to the store right now
/// (then `rmi` or `image prune` collects them later). Must run after the
/// operation dropped its `adding` lock.
pub(crate) fn sweep_after_refusal<T>(store: &Store, result: &Result<T>) {
    if result.is_err() {
        match store.try_collect_garbage() {
            Ok(Some((layers, blobs))) => {
                tracing::debug!(layers, blobs, "removed what a refused image left")
            }
            Ok(None) => tracing::debug!("store busy: leaving the sweep to rmi or image prune"),
            Err(e) => tracing::debug!("removing what a refused image left: {e}"),
        }
    }
}

pub fn open_store(ctx: &Context) -> Result<Store> {
    let conf = storage_conf(ctx)?;
    let root = graph_root(ctx, &conf);
    let podman_store = podman_graph_root(ctx, &conf);
    Store::open(StoreOptions {
        root: root.clone(),
        driver: hutch_storage::driver::DriverConfig {
            driver: ctx.storage_driver.clone().or(conf.driver),
            mount_program: conf.mount_program,
        },
        rootless: ctx.rootless(),
        single_id: ctx.rootless() && single_id_namespace(),
        podman_store: Some(podman_store),
        additional: conf.additional_image_stores,
    })
    .with_context(|| format!("opening image storage at {}", root.display()))
}

/// Where Podman keeps this user's images: storage.conf's graphroot (the
/// two tools then share the root, each with its own files), else Podman's
/// default beside hutch's data directory (`~/.local/share/containers/storage`,
/// root's `/var/lib/containers/storage`).
pub(crate) fn podman_graph_root(
    ctx: &Context,
    conf: &crate::config::storage::StorageConf,
) -> std::path::PathBuf {
    conf.graphroot.clone().unwrap_or_else(|| {
        ctx.data_dir
            .parent()
            .unwrap_or(std::path::Path::new("/"))
            .join("containers/storage")
    })
}

/// storage.conf as it applies, with `--storage-opt`'s options over the file's.
pub fn storage_conf(ctx: &Context) -> Result<crate::config::storage::StorageConf> {
    let mut conf = crate::config::storage::load(ctx.rootless(), ctx.identity.uid, &ctx.home)?;
    crate::config::storage::apply_opts(&mut conf, &ctx.storage_opts);
    Ok(conf)
}

/// `--root`, else storage.conf's graphroot, else `<data dir>/storage`
/// (node-local instead when that is on a network file system, see
/// [`graphroot`]).
pub fn graph_root(ctx: &Context, conf: &crate::config::storage::StorageConf) -> std::path::PathBuf {
    graphroot::locate(ctx, conf).path
}

/// A namespace whose uid map holds one id: chown to other ids fails there.
pub(crate) fn single_id_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            let rows: Vec<&str> = m.lines().collect();
            rows.len() == 1 && rows[0].split_whitespace().nth(2) == Some("1")
        })
        .unwrap_or(false)
}

/// Why an image lookup failed, with Podman's wording.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{0}: image not known")]
    NotKnown(String),
    #[error("{input}: short id matches several images ({})", matches.join(", "))]
    Ambiguous { input: String, matches: Vec<String> },
    #[error(transparent)]
    Store(#[from] hutch_storage::StoreError),
}

/// Finds an image by full or short id (`sha256:` optional) or by name, the
/// way Podman resolves local images.
pub fn lookup(store: &Store, input: &str) -> Result<ImageRecord, LookupError> {
    let images: Vec<ImageRecord> = store.all_images()?.into_iter().map(|(i, _)| i).collect();
    let bare = input.strip_prefix("sha256:").unwrap_or(input);
    if let Ok(d) = Digest::from_hex(bare)
        && let Some(img) = images.iter().find(|i| i.id == d)
    {
        return Ok(img.clone());
    }
    // Names first: a repository called "abc" wins over an id prefix "abc".
    if let Some(img) = images.iter().find(|i| {
        i.names
            .iter()
            .any(|n| reference::matches_stored_name(input, n))
    }) {
        return Ok(img.clone());
    }
    // `REPO@sha256:…`: an image pulled by digest keeps no name (Podman
    // lists it as <none>); its manifest digest finds it.
    if let Some(d) = manifest_digest_of(input)
        && let Some(img) = images.iter().find(|i| i.digest == d)
    {
        return Ok(img.clone());
    }
    if bare.len() >= 3 && bare.bytes().all(|b| b.is_ascii_hexdigit()) {
        let hits: Vec<&ImageRecord> = images
            .iter()
            .filter(|i| i.id.hex().starts_with(bare))
            .collect();
        match hits.len() {
            0 => {}
            1 => return Ok(hits[0].clone()),
            _ => {
                return Err(LookupError::Ambiguous {
                    input: input.to_owned(),
                    matches: hits.iter().map(|i| i.id.short().to_owned()).collect(),
                });
            }
        }
    }
    Err(LookupError::NotKnown(input.to_owned()))
}

/// Containers whose root file system sits on `image` (they keep its layers
/// alive); until containers land this reads the store's container layers.
pub fn users_of(store: &Store, image: &ImageRecord) -> Vec<String> {
    let dir = store.root().join("containers");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let top = image
        .layers
        .last()
        .map(|d| d.to_string())
        .unwrap_or_default();
    entries
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("lowers"))
                .map(|l| l.lines().last() == Some(top.as_str()))
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Adds `target` (made local: `foo` → `localhost/foo:latest`) to an image.
pub fn tag(store: &Store, image: &ImageRecord, target: &str) -> Result<String> {
    let name =
        reference::local_name(target).with_context(|| format!("tagging {}", image.id.short()))?;
    if !store.images.tag(&image.id, &name)? {
        crate::fail!(NotFound, "{}: image not known", image.id);
    }
    Ok(name)
}

/// `untag`: the given names of `input` (all its names when none is given).
/// The digest of a `REPO@sha256:HEX` reference.
fn manifest_digest_of(input: &str) -> Option<Digest> {
    let (_, d) = input.rsplit_once('@')?;
    Digest::from_hex(d.strip_prefix("sha256:")?).ok()
}

pub fn untag(store: &Store, input: &str, names: &[String]) -> Result<()> {
    let image = lookup(store, input)?;
    if names.is_empty() {
        store.images.untag(&image.id, None)?;
    }
    for name in names {
        let Some(stored) = image
            .names
            .iter()
            .find(|n| reference::matches_stored_name(name, n))
        else {
            // A digest reference names the pull, not a tag: nothing stored
            // to remove (Podman succeeds too).
            if manifest_digest_of(name).is_some_and(|d| d == image.digest) {
                continue;
            }
            crate::fail!(NotFound, "{name}: tag not known");
        };
        store.images.untag(&image.id, Some(stored))?;
    }
    Ok(())
}

/// `image mount`: the image's files, mounted read-only; where.
pub fn mount(store: &Store, input: &str) -> Result<std::path::PathBuf> {
    let image = lookup(store, input)?;
    store
        .mount_image(&image)
        .with_context(|| format!("mounting image {}", image.id.short()))
}

/// `image unmount`; the image's full id when it was mounted (Podman
/// reports nothing for one that was not).
pub fn unmount(store: &Store, input: &str) -> Result<Option<String>> {
    let image = lookup(store, input)?;
    let was = store.unmount_image(&image.id)?;
    Ok(was.then(|| image.id.hex().to_owned()))
}

/// The images mounted now (`image mount` without names), with their
/// mount points, in the store's order.
pub fn mounted(store: &Store) -> Result<Vec<(ImageRecord, std::path::PathBuf)>> {
    Ok(store
        .all_images()?
        .into_iter()
        .filter_map(|(i, _)| store.image_mount_point(&i.id).map(|p| (i, p)))
        .collect())
}

/// The config blob of an image as JSON.
pub fn config(store: &Store, image: &ImageRecord) -> Result<serde_json::Value> {
    let bytes = store
        .read_blob(&image.id)
        .with_context(|| format!("reading the config of image {}", image.id.short()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing the config of image {}", image.id.short()))
}
