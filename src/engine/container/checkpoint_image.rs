//! Checkpoint images (`checkpoint --create-image NAME`, `restore NAME`):
//! an image of one layer holding what the checkpoint archive holds
//! (`config.dump`, `spec.dump`, `checkpoint/`, `rootfs-diff.tar`, ...)
//! at its root, with Podman's `io.podman.annotations.checkpoint.*`
//! manifest annotations saying where it was made. Podman builds it from
//! "scratch" with buildah and the archive added (extracted); hutch imports
//! the uncompressed archive as the layer, which is the same content.
//!
//! A restore reads the layer's blob with the archive's own bounded
//! unpacker: the image may come from a registry, so it is read as the
//! archive is, never trusted more.

use std::path::Path;

use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use serde_json::{Map, Value};

use super::Paths;
use super::checkpoint_archive::{self, Compression, Parts};
use crate::config::Context;
use crate::engine::state::{Container, State};
use crate::engine::{Error, Result, ResultExt};

const PREFIX: &str = "io.podman.annotations.checkpoint.";
/// The annotation that makes an image a checkpoint image (Podman's
/// `CheckpointAnnotationRuntimeName`).
pub const RUNTIME_NAME: &str = "io.podman.annotations.checkpoint.runtime.name";

/// The first line of `PROGRAM --version`, or "" when it says nothing.
fn version_of(program: &Path) -> String {
    std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// Podman's annotations: the container, the image it ran, and the host.
fn annotations(
    ctx: &Context,
    c: &Container,
    runtime: &crate::runtime::oci::OciRuntime,
) -> Map<String, Value> {
    let uts = rustix::system::uname();
    let distro = crate::engine::info::distribution();
    // CRIU's version as Podman writes it: major*10000+minor*100+sub.
    let criu = crate::host::criu::find()
        .map(|p| version_of(&p))
        .and_then(|v| {
            let n: Vec<u32> = v
                .split_whitespace()
                .find(|w| w.contains('.'))?
                .split('.')
                .filter_map(|x| x.parse().ok())
                .collect();
            Some(n.first()? * 10000 + n.get(1).unwrap_or(&0) * 100 + n.get(2).unwrap_or(&0))
        })
        .map(|n| n.to_string())
        .unwrap_or_default();
    let pairs = [
        ("name", c.name.clone()),
        ("rawImageName", c.image_name.clone()),
        ("rootfsImageID", c.image_id.clone()),
        ("rootfsImageName", c.image_name.clone()),
        ("podman.version", env!("CARGO_PKG_VERSION").to_owned()),
        ("criu.version", criu),
        ("runtime.name", runtime.name.clone()),
        ("runtime.version", version_of(&runtime.path)),
        (
            "conmon.version",
            format!("hutch-monitor version {}", env!("CARGO_PKG_VERSION")),
        ),
        ("host.arch", crate::engine::info::go_arch().to_owned()),
        ("host.kernel", uts.release().to_string_lossy().into_owned()),
        (
            "cgroups.version",
            crate::cgroups::detect_for(ctx)
                .version
                .podman_name()
                .to_owned(),
        ),
        (
            "distribution.version",
            distro["version"].as_str().unwrap_or("").to_owned(),
        ),
        (
            "distribution.name",
            distro["distribution"].as_str().unwrap_or("").to_owned(),
        ),
    ];
    pairs
        .into_iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), Value::String(v)))
        .collect()
}

/// Makes the checkpoint image `name` of `c`'s complete checkpoint.
#[allow(clippy::too_many_arguments)]
pub fn create(
    ctx: &Context,
    store: &Store,
    state: &State,
    c: &Container,
    paths: &Paths,
    runtime: &crate::runtime::oci::OciRuntime,
    name: &str,
    parts: Parts,
) -> Result<ImageRecord> {
    let file = paths.userdata.join("checkpoint-image.tar");
    checkpoint_archive::export(store, state, c, paths, &file, Compression::None, parts)?;
    let made = (|| {
        let source =
            std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
        crate::engine::image::import::import(
            store,
            crate::engine::image::import::ImportRequest {
                source: Box::new(source),
                source_name: format!("the checkpoint of {}", c.name),
                reference: Some(name.to_owned()),
                changes: Vec::new(),
                message: None,
                arch: None,
                os: None,
                variant: None,
                annotations: annotations(ctx, c, runtime),
            },
        )
    })();
    let _ = std::fs::remove_file(&file);
    made.map_err(|e| e.context(format!("creating the checkpoint image {name}")))
}

/// The manifest's annotations of `image` (empty when it has none).
pub fn image_annotations(store: &Store, image: &ImageRecord) -> Map<String, Value> {
    store
        .read_blob(&image.digest)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|m| m.get("annotations").and_then(|a| a.as_object()).cloned())
        .unwrap_or_default()
}

/// Unpacks checkpoint image `image` into the new directory `dest`, as an
/// archive: the layers' blobs in order, under the archive's rules.
pub fn unpack(store: &Store, image: &ImageRecord, dest: &Path) -> Result<()> {
    let manifest: Value = serde_json::from_slice(
        &store
            .read_blob(&image.digest)
            .with_context(|| format!("reading the manifest of {}", image.id))?,
    )
    .map_err(|e| Error::bad_input(format!("the manifest of {}: {e}", image.id)))?;
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let [layer] = layers.as_slice() else {
        crate::fail!(
            BadInput,
            "image {} is not a checkpoint image of one layer",
            image.id
        );
    };
    let digest: hutch_storage::digest::Digest = layer["digest"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| Error::bad_input(format!("the layer digest of {}: {e}", image.id)))?;
    checkpoint_archive::unpack(&store.blobs.path(&digest), dest)
}
