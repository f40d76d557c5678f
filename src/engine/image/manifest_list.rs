//! `manifest create|add|annotate|inspect|exists|rm|remove|push`: manifest
//! lists kept as buildah keeps them, as an image record whose manifest is
//! the list (so `images` shows it and `rmi` removes it). The record's id is
//! made up once (a list has no config), and each change stores the list's
//! new body as a blob and points the record at it, in one index rename.
//!
//! The instances are local images (`containers-storage:NAME` or a local
//! name); a `docker://` reference (or a name not stored here) is pulled
//! into the store first, every entry of a registry's list by digest with
//! `--all`, so that `push` finds every platform manifest and its blobs
//! locally.

use serde::{Deserialize, Serialize};

use crate::engine::{Error, Result, ResultExt};
use crate::image::reference;
use crate::image::registry::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST, Platform,
    ProgressEvent,
};
use hutch_storage::Store;
use hutch_storage::digest::Digest;
use hutch_storage::images::ImageRecord;

use super::pull::RegistryOptions;

/// A list body is small; anything larger read back from the store or a
/// registry is refused rather than parsed.
pub const MAX_LIST_BYTES: usize = 4 << 20;

/// A Docker manifest list / OCI index as Podman 4.3 prints it (field order
/// and the `null` of an empty list included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestList {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub manifests: Option<Vec<Instance>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Instance {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: u64,
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<InstancePlatform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstancePlatform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}

impl ManifestList {
    fn empty() -> ManifestList {
        ManifestList {
            schema_version: 2,
            media_type: DOCKER_MANIFEST_LIST.to_owned(),
            manifests: None,
            annotations: None,
        }
    }

    fn instances(&self) -> &[Instance] {
        self.manifests.as_deref().unwrap_or_default()
    }

    fn instances_mut(&mut self) -> &mut Vec<Instance> {
        self.manifests.get_or_insert_with(Vec::new)
    }

    fn find_mut(&mut self, digest: &str) -> Option<&mut Instance> {
        self.instances_mut().iter_mut().find(|i| i.digest == digest)
    }

    /// Pretty, four spaces, as Podman prints `manifest inspect`.
    pub fn to_pretty(&self) -> String {
        pretty(self)
    }
}

/// JSON as Podman prints it: four-space indent.
pub fn pretty<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    // Serialising plain data to memory cannot fail.
    let _ = value.serialize(&mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// What `add` and `annotate` may set on an instance (Podman's flags).
#[derive(Debug, Clone, Default)]
pub struct InstanceOptions {
    pub arch: Option<String>,
    pub os: Option<String>,
    pub variant: Option<String>,
    pub os_version: Option<String>,
    pub features: Vec<String>,
    pub os_features: Vec<String>,
    /// `KEY=VALUE`, validated by [`InstanceOptions::apply`].
    pub annotations: Vec<String>,
}

impl InstanceOptions {
    fn apply(&self, inst: &mut Instance) -> Result<()> {
        let p = inst.platform.get_or_insert_with(InstancePlatform::default);
        if let Some(a) = &self.arch {
            p.architecture = a.clone();
        }
        if let Some(o) = &self.os {
            p.os = o.clone();
        }
        if let Some(v) = &self.variant {
            p.variant = Some(v.clone());
        }
        if let Some(v) = &self.os_version {
            p.os_version = Some(v.clone());
        }
        if !self.features.is_empty() {
            p.features = Some(self.features.clone());
        }
        if !self.os_features.is_empty() {
            p.os_features = Some(self.os_features.clone());
        }
        for a in &self.annotations {
            let Some((k, v)) = a.split_once('=') else {
                crate::fail!(
                    BadInput,
                    "no value given for annotation {a:?}: expected KEY=VALUE"
                );
            };
            inst.annotations
                .get_or_insert_with(Default::default)
                .insert(k.to_owned(), v.into());
        }
        Ok(())
    }
}

/// Whether a stored record holds a list rather than an image.
pub fn is_list(record: &ImageRecord) -> bool {
    record.manifest_media_type == DOCKER_MANIFEST_LIST
        || record.manifest_media_type == OCI_IMAGE_INDEX
}

/// The list stored as `name`; Podman's texts when there is none or the
/// image is not a list.
pub fn lookup_list(store: &Store, name: &str) -> Result<(ImageRecord, ManifestList)> {
    let record = super::lookup(store, name)?;
    if !is_list(&record) {
        crate::fail!(
            BadInput,
            "{}: image is not a manifest list",
            record.names.first().map_or(name, String::as_str)
        );
    }
    let body = store.read_blob(&record.digest)?;
    let list = parse_list(&body).with_context(|| format!("reading manifest list {name}"))?;
    Ok((record, list))
}

fn parse_list(body: &[u8]) -> Result<ManifestList> {
    if body.len() > MAX_LIST_BYTES {
        crate::fail!(
            BadInput,
            "manifest list is {} bytes, more than the {MAX_LIST_BYTES} hutch reads",
            body.len()
        );
    }
    serde_json::from_slice(body).map_err(|e| Error::bad_input(format!("not a manifest list: {e}")))
}

/// Stores `list`'s body and points the record (new or `existing`) at it.
fn save(
    store: &Store,
    existing: Option<&ImageRecord>,
    name: &str,
    list: &ManifestList,
) -> Result<ImageRecord> {
    let body = serde_json::to_vec(list)
        .map_err(|e| Error::internal(format!("serialising the manifest list: {e}")))?;
    let _adding = store.adding()?;
    let digest = store.blobs.put_bytes(&body, None)?;
    let record = match existing {
        Some(r) => ImageRecord {
            digest,
            manifest_media_type: list.media_type.clone(),
            size: body.len() as u64,
            ..r.clone()
        },
        None => ImageRecord {
            id: new_list_id(name),
            names: vec![name.to_owned()],
            digest,
            manifest_media_type: list.media_type.clone(),
            layers: Vec::new(),
            size: body.len() as u64,
            stored_at: crate::host::time::now(),
        },
    };
    Ok(store.images.add(record)?)
}

/// A list has no config to take its id from: like buildah, a fresh random
/// one, kept across changes of the list.
fn new_list_id(name: &str) -> Digest {
    let mut seed = [0u8; 32];
    // The clock and pid keep ids apart should /dev/urandom be unreadable.
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut bytes = seed.to_vec();
    bytes.extend(format!("{name}{nanos}{}", std::process::id()).bytes());
    Digest::of(&bytes)
}

/// `manifest create`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: String,
    pub images: Vec<String>,
    pub all: bool,
    pub amend: bool,
    pub registry: RegistryOptions,
}

/// Returns the list's id.
pub fn create(ctx: &crate::config::Context, store: &Store, opts: &CreateOptions) -> Result<String> {
    let name = reference::local_name(&opts.name)
        .with_context(|| format!("invalid manifest list name {:?}", opts.name))?;
    let held = store
        .all_images()?
        .into_iter()
        .map(|(r, _)| r)
        .find(|r| r.names.contains(&name));
    let (existing, mut list) = match held {
        Some(r) if opts.amend && is_list(&r) => {
            let (r, l) = lookup_list(store, &name)?;
            (Some(r), l)
        }
        Some(r) => crate::fail!(
            Conflict,
            "creating image to hold manifest list: image name {name:?} is already associated with image {:?}: that name is already in use",
            r.id.hex()
        ),
        None => (None, ManifestList::empty()),
    };
    for image in &opts.images {
        add_instances(ctx, store, &mut list, image, opts.all, None, &opts.registry)?;
    }
    let saved = save(store, existing.as_ref(), &name, &list)?;
    Ok(saved.id.hex().to_owned())
}

/// `manifest add`.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    pub list: String,
    pub image: String,
    pub all: bool,
    pub instance: InstanceOptions,
    pub registry: RegistryOptions,
}

/// Returns the list's id.
pub fn add(ctx: &crate::config::Context, store: &Store, opts: &AddOptions) -> Result<String> {
    let (record, mut list) = lookup_list(store, &opts.list)?;
    add_instances(
        ctx,
        store,
        &mut list,
        &opts.image,
        opts.all,
        Some(&opts.instance),
        &opts.registry,
    )?;
    let name = record.names.first().cloned().unwrap_or_default();
    let saved = save(store, Some(&record), &name, &list)?;
    Ok(saved.id.hex().to_owned())
}

/// Adds `image` (or, when it is a list, the host's platform from it or all
/// of it with `all`) to `list`; an instance already there is replaced, as
/// Podman does.
fn add_instances(
    ctx: &crate::config::Context,
    store: &Store,
    list: &mut ManifestList,
    image: &str,
    all: bool,
    overrides: Option<&InstanceOptions>,
    registry: &RegistryOptions,
) -> Result<()> {
    let mut new = Vec::new();
    if all && let Some((repo, remote)) = remote_list(ctx, store, image, registry)? {
        // `--all` of a registry's list: every entry pulled by digest, so
        // that a push finds each one here (Podman instead reads them from
        // the registry at push time). The entries keep the list's
        // platforms; their annotations are dropped, as Podman 4.3 drops
        // them.
        for inst in remote.instances() {
            let name = format!("{repo}@{}", inst.digest);
            let req = super::pull::PullRequest {
                name: name.clone(),
                platform: Platform::host(),
                options: registry.clone(),
            };
            super::pull::pull(ctx, store, &req, &mut |_, _| {}).with_context(|| {
                format!("setting up to read manifest and configuration from \"docker://{name}\"")
            })?;
            new.push(Instance {
                annotations: None,
                ..inst.clone()
            });
        }
    } else {
        let record = local_instance(ctx, store, image, registry)?;
        local_entries(store, &record, image, all, &mut new)?;
    }
    for mut inst in new {
        if let Some(o) = overrides {
            o.apply(&mut inst)?;
        }
        match list.find_mut(&inst.digest) {
            Some(old) => *old = inst,
            None => list.instances_mut().push(inst),
        }
    }
    Ok(())
}

/// A registry's list that `image` names (`docker://`, or a name not
/// stored here, short names resolved as a pull resolves them), with the
/// repository it came from; `None` when it is local or names a single
/// image.
fn remote_list(
    ctx: &crate::config::Context,
    store: &Store,
    image: &str,
    registry: &RegistryOptions,
) -> Result<Option<(String, ManifestList)>> {
    let (transport, rest) = reference::strip_transport(image);
    match transport {
        Some("docker") => {}
        None if super::lookup(store, rest).is_err() => {}
        _ => return Ok(None),
    }
    let regs = crate::config::registries::load().context("reading registries.conf")?;
    let candidates = regs.resolve_short_name(rest)?.into_pull_candidates()?;
    let mut errors = Vec::new();
    for candidate in candidates {
        let full = reference::Reference::parse(&candidate)?
            .normalized_docker_hub()
            .with_default_tag();
        match super::pull::remote_manifest(ctx, &candidate, registry) {
            Ok(body) => {
                let value: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| Error::internal(format!("{full}: not a manifest: {e}")))?;
                if value.get("manifests").is_none() {
                    return Ok(None);
                }
                return Ok(Some((full.name(), parse_list(&body)?)));
            }
            Err(e) => errors.push(format!(
                "setting up to read manifest and configuration from \"docker://{full}\": {}",
                e.text()
            )),
        }
    }
    crate::fail!(Internal, "{}", errors.join("; "))
}

/// The entries a stored `record` gives: itself, or from a stored list the
/// host's platform (all of them with `all`).
fn local_entries(
    store: &Store,
    record: &ImageRecord,
    image: &str,
    all: bool,
    new: &mut Vec<Instance>,
) -> Result<()> {
    if is_list(record) {
        let (_, inner) = lookup_list(store, record.id.hex())?;
        let host = Platform::host();
        for inst in inner.instances() {
            let matches = inst
                .platform
                .as_ref()
                .is_some_and(|p| p.os == host.os && p.architecture == host.architecture);
            if all || matches {
                new.push(inst.clone());
            }
        }
        if new.is_empty() {
            crate::fail!(
                NotFound,
                "{image}: no image in the list matches {}/{}",
                host.os,
                host.architecture
            );
        }
    } else {
        new.push(instance_of(store, record)?);
    }
    Ok(())
}

/// The local image `image` names: `containers-storage:NAME`, a local name,
/// or (`docker://`, or a name not stored here) pulled from its registry.
fn local_instance(
    ctx: &crate::config::Context,
    store: &Store,
    image: &str,
    registry: &RegistryOptions,
) -> Result<ImageRecord> {
    let (transport, rest) = reference::strip_transport(image);
    match transport {
        Some("containers-storage") => {
            // Podman accepts a `[driver@root+runroot]` store prefix.
            let rest = match rest.strip_prefix('[') {
                Some(r) => r.split_once(']').map_or(r, |(_, n)| n),
                None => rest,
            };
            return Ok(super::lookup(store, rest)?);
        }
        Some("docker") | None => {}
        Some(other) => crate::fail!(
            BadInput,
            "{image}: transport {other:?} is not supported for manifest lists (use docker:// or containers-storage:)"
        ),
    }
    if transport.is_none()
        && let Ok(r) = super::lookup(store, rest)
    {
        return Ok(r);
    }
    let req = super::pull::PullRequest {
        name: rest.to_owned(),
        platform: Platform::host(),
        options: registry.clone(),
    };
    super::pull::pull(ctx, store, &req, &mut |_, _| {}).with_context(|| {
        match reference::Reference::parse(rest) {
            Ok(r) => format!(
                "setting up to read manifest and configuration from \"docker://{}\"",
                r.normalized_docker_hub().with_default_tag()
            ),
            Err(_) => format!("reading image {image:?}"),
        }
    })
}

/// The list entry for a stored image: its manifest's digest, size and type,
/// the platform from its config.
fn instance_of(store: &Store, record: &ImageRecord) -> Result<Instance> {
    let manifest = store.read_blob(&record.digest)?;
    let cfg = super::config(store, record).unwrap_or(serde_json::Value::Null);
    let text = |k: &str| cfg[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let host = Platform::host();
    Ok(Instance {
        media_type: record.manifest_media_type.clone(),
        size: manifest.len() as u64,
        digest: record.digest.to_string(),
        platform: Some(InstancePlatform {
            architecture: text("architecture").unwrap_or(host.architecture),
            os: text("os").unwrap_or(host.os),
            os_version: text("os.version"),
            os_features: None,
            variant: text("variant"),
            features: None,
        }),
        annotations: None,
    })
}

/// `manifest annotate LIST DIGEST`.
pub fn annotate(
    store: &Store,
    list_name: &str,
    digest: &str,
    opts: &InstanceOptions,
) -> Result<String> {
    let (record, mut list) = lookup_list(store, list_name)?;
    let digest = normalize_digest(digest)?;
    let Some(inst) = list.find_mut(&digest) else {
        crate::fail!(
            NotFound,
            "no Docker manifest matching digest {digest:?} was found in list: no image instance matching the specified digest was found in the list or index"
        );
    };
    opts.apply(inst)?;
    let name = record.names.first().cloned().unwrap_or_default();
    Ok(save(store, Some(&record), &name, &list)?
        .id
        .hex()
        .to_owned())
}

/// `manifest remove LIST DIGEST`.
pub fn remove_instance(store: &Store, list_name: &str, digest: &str) -> Result<String> {
    let (record, mut list) = lookup_list(store, list_name)?;
    let digest = normalize_digest(digest)?;
    let before = list.instances().len();
    list.instances_mut().retain(|i| i.digest != digest);
    if list.instances().len() == before {
        crate::fail!(
            NotFound,
            "removing from manifest list {list_name}: no instance matching digest {digest:?} found in manifest list: file does not exist"
        );
    }
    if list.instances().is_empty() {
        list.manifests = None;
    }
    let name = record.names.first().cloned().unwrap_or_default();
    Ok(save(store, Some(&record), &name, &list)?
        .id
        .hex()
        .to_owned())
}

fn normalize_digest(input: &str) -> Result<String> {
    let hex = input.strip_prefix("sha256:").unwrap_or(input);
    match Digest::from_hex(hex) {
        Ok(d) => Ok(d.to_string()),
        Err(e) => crate::fail!(BadInput, "invalid digest {input:?}: {e}"),
    }
}

/// What `manifest inspect NAME` prints: a local list, else the manifest the
/// registry serves for `NAME` (Podman's fallback), pretty-printed.
pub fn inspect(ctx: &crate::config::Context, store: &Store, name: &str) -> Result<String> {
    match super::lookup(store, name) {
        Ok(r) if is_list(&r) => return Ok(lookup_list(store, name)?.1.to_pretty()),
        Ok(_) | Err(super::LookupError::NotKnown(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let (_, rest) = reference::strip_transport(name);
    let regs = crate::config::registries::load().context("reading registries.conf")?;
    let candidates = regs.resolve_short_name(rest)?.into_pull_candidates()?;
    let mut errors = Vec::new();
    for candidate in candidates {
        match super::pull::remote_manifest(ctx, &candidate, &RegistryOptions::default()) {
            Ok(body) => return remote_list_text(&body),
            Err(e) => errors.push(format!(
                "reading image \"docker://{candidate}\": {}",
                e.text()
            )),
        }
    }
    crate::fail!(Internal, "{}", errors.join("; "))
}

/// A registry's list as Podman 4.3 prints it: in Docker list form
/// whatever was served (an OCI index too), annotations dropped; a single
/// image's manifest is refused in Podman's words.
fn remote_list_text(body: &[u8]) -> Result<String> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Error::internal(format!("not a manifest: {e}")))?;
    if value.get("manifests").is_none() {
        let media_type = value["mediaType"].as_str().unwrap_or(OCI_IMAGE_MANIFEST);
        // Podman 4.3 prints a Docker image manifest with a warning, and
        // refuses an OCI one.
        if media_type == DOCKER_MANIFEST {
            tracing::warn!(
                "The manifest type {media_type} is not a manifest list but a single image."
            );
            return Ok(pretty(&value));
        }
        crate::fail!(
            BadInput,
            "parsing manifest blob {:?} as a {media_type:?}: Treating single images as manifest lists is not implemented",
            String::from_utf8_lossy(body)
        );
    }
    let mut list = parse_list(body)?;
    list.media_type = DOCKER_MANIFEST_LIST.to_owned();
    list.annotations = None;
    for inst in list.instances_mut() {
        inst.annotations = None;
    }
    if list.instances().is_empty() {
        list.manifests = None;
    }
    Ok(list.to_pretty())
}

/// The manifest digests every stored list names: `image prune` keeps
/// the untagged images behind them (what `add --all` of a registry's list
/// pulled), which a push of the list reads.
pub fn listed_digests(store: &Store) -> Result<std::collections::HashSet<String>> {
    let mut out = std::collections::HashSet::new();
    for record in store.images.list()? {
        if !is_list(&record) {
            continue;
        }
        let body = store.read_blob(&record.digest)?;
        let list = parse_list(&body)
            .with_context(|| format!("reading manifest list {}", record.id.short()))?;
        out.extend(list.instances().iter().map(|i| i.digest.clone()));
    }
    Ok(out)
}

/// `manifest exists`: `Ok(false)` when nothing has that name; a stored
/// image that is not a list is an error, as in Podman.
pub fn exists(store: &Store, name: &str) -> Result<bool> {
    match super::lookup(store, name) {
        Ok(r) if is_list(&r) => Ok(true),
        Ok(r) => crate::fail!(
            BadInput,
            "{}: image is not a manifest list",
            r.names.first().map_or(name, String::as_str)
        ),
        Err(super::LookupError::NotKnown(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The manifest format `push --format` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    Oci,
    V2s2,
}

impl ManifestFormat {
    /// `oci` or `v2s2` (Podman's names); `None` for anything else, which
    /// each command refuses in Podman's words.
    pub fn parse(s: &str) -> Option<ManifestFormat> {
        match s {
            "oci" => Some(ManifestFormat::Oci),
            "v2s2" => Some(ManifestFormat::V2s2),
            _ => None,
        }
    }

    fn image_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => OCI_IMAGE_MANIFEST,
            ManifestFormat::V2s2 => DOCKER_MANIFEST,
        }
    }

    fn list_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => OCI_IMAGE_INDEX,
            ManifestFormat::V2s2 => DOCKER_MANIFEST_LIST,
        }
    }
}

/// An image manifest rewritten into `format` (the same blobs under the
/// other family's media types), stored as a blob so a push can read it.
/// Returns the (possibly unchanged) body's digest, size and media type.
pub fn convert_image_manifest(
    store: &Store,
    digest: &Digest,
    media_type: &str,
    format: ManifestFormat,
) -> Result<(Digest, u64, String)> {
    let body = store.read_blob(digest)?;
    if media_type == format.image_type() {
        return Ok((digest.clone(), body.len() as u64, media_type.to_owned()));
    }
    let mut m: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Error::internal(format!("manifest {digest}: {e}")))?;
    let config_type = match format {
        ManifestFormat::Oci => "application/vnd.oci.image.config.v1+json",
        ManifestFormat::V2s2 => "application/vnd.docker.container.image.v1+json",
    };
    let layer_type = |t: &str| -> Result<String> {
        Ok(match (format, t) {
            (ManifestFormat::V2s2, "application/vnd.oci.image.layer.v1.tar+gzip") => {
                "application/vnd.docker.image.rootfs.diff.tar.gzip".into()
            }
            (ManifestFormat::V2s2, "application/vnd.oci.image.layer.v1.tar") => {
                "application/vnd.docker.image.rootfs.diff.tar".into()
            }
            (ManifestFormat::Oci, "application/vnd.docker.image.rootfs.diff.tar.gzip") => {
                "application/vnd.oci.image.layer.v1.tar+gzip".into()
            }
            (ManifestFormat::Oci, "application/vnd.docker.image.rootfs.diff.tar") => {
                "application/vnd.oci.image.layer.v1.tar".into()
            }
            (ManifestFormat::V2s2, t) if t.contains("zstd") => crate::fail!(
                BadInput,
                "manifest {digest}: a zstd layer cannot be written as a Docker v2s2 manifest; push with --format oci"
            ),
            (_, t) => t.to_owned(),
        })
    };
    m["mediaType"] = format.image_type().into();
    m["config"]["mediaType"] = config_type.into();
    if let Some(layers) = m["layers"].as_array_mut() {
        for l in layers {
            let t = l["mediaType"].as_str().unwrap_or_default().to_owned();
            l["mediaType"] = layer_type(&t)?.into();
        }
    }
    let out = serde_json::to_vec(&m)
        .map_err(|e| Error::internal(format!("serialising manifest {digest}: {e}")))?;
    let new = store.blobs.put_bytes(&out, None)?;
    Ok((new, out.len() as u64, format.image_type().to_owned()))
}

/// `manifest push LIST DEST`.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub list: String,
    pub destination: String,
    /// `--format`; default: an OCI index when any instance is OCI (what
    /// Podman 4.3 writes then), else a Docker list.
    pub format: Option<ManifestFormat>,
    /// `--rm`: remove the local list once pushed.
    pub remove: bool,
    pub registry: RegistryOptions,
}

/// Pushes every instance (converted to `format` where needed), then the
/// list; returns the pushed list's digest.
pub fn push(
    ctx: &crate::config::Context,
    store: &Store,
    opts: &PushOptions,
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> Result<Digest> {
    push_signed(ctx, store, opts, super::pull::Signers::default(), progress)
}

/// [`push`], signing each instance and the list as pushed (`manifest
/// push --sign-by`, `--sign-by-sigstore-private-key`), under the
/// destination's name.
pub fn push_signed(
    ctx: &crate::config::Context,
    store: &Store,
    opts: &PushOptions,
    signers: super::pull::Signers<'_>,
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> Result<Digest> {
    let (record, mut list) = lookup_list(store, &opts.list)?;
    let format = opts.format.unwrap_or_else(|| {
        if list
            .instances()
            .iter()
            .any(|i| i.media_type == OCI_IMAGE_MANIFEST)
        {
            ManifestFormat::Oci
        } else {
            ManifestFormat::V2s2
        }
    });
    // Converted manifests are blobs no record names until the push reads
    // them: held from garbage collection as an add in progress is.
    let _adding = store.adding()?;
    for inst in list.instances_mut() {
        let digest = Digest::from_hex(inst.digest.trim_start_matches("sha256:"))
            .map_err(|e| Error::bad_input(format!("list entry {}: {e}", inst.digest)))?;
        let (d, size, media_type) =
            convert_image_manifest(store, &digest, &inst.media_type, format)?;
        inst.digest = d.to_string();
        inst.size = size;
        inst.media_type = media_type;
    }
    list.media_type = format.list_type().to_owned();
    let body = serde_json::to_vec(&list)
        .map_err(|e| Error::internal(format!("serialising the manifest list: {e}")))?;
    let mut instances = Vec::new();
    for inst in list.instances() {
        instances.push(
            Digest::from_hex(inst.digest.trim_start_matches("sha256:"))
                .map_err(|e| Error::bad_input(format!("list entry {}: {e}", inst.digest)))?,
        );
    }
    let digest = super::pull::push_manifest_signed(
        ctx,
        store,
        &opts.destination,
        &body,
        format.list_type(),
        &opts.registry,
        signers,
        &instances,
        progress,
    )?;
    if opts.remove {
        drop(_adding);
        store.remove_image(&record.id)?;
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        Instance {
            media_type: OCI_IMAGE_MANIFEST.into(),
            size: 1,
            digest: Digest::of(b"m").to_string(),
            platform: Some(InstancePlatform {
                architecture: "amd64".into(),
                os: "linux".into(),
                ..Default::default()
            }),
            annotations: None,
        }
    }

    #[test]
    fn overrides_and_annotations_apply_as_podman_prints_them() {
        let mut inst = instance();
        let opts = InstanceOptions {
            arch: Some("arm64".into()),
            variant: Some("v8".into()),
            os_version: Some("1.2".into()),
            annotations: vec!["k=v".into()],
            ..Default::default()
        };
        opts.apply(&mut inst).unwrap();
        let text = pretty(&inst);
        let order: Vec<usize> = [
            "\"architecture\"",
            "\"os\"",
            "\"os.version\"",
            "\"variant\"",
            "\"k\"",
        ]
        .iter()
        .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} in {text}")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        let bad = InstanceOptions {
            annotations: vec!["novalue".into()],
            ..Default::default()
        };
        assert!(bad.apply(&mut inst).is_err());
    }

    #[test]
    fn an_empty_list_prints_null_manifests() {
        let text = ManifestList::empty().to_pretty();
        assert!(text.contains("\"manifests\": null"), "{text}");
        assert!(text.starts_with("{\n    \"schemaVersion\": 2,"), "{text}");
    }

    #[test]
    fn a_registry_index_prints_in_docker_form_without_annotations() {
        let mut inst = instance();
        inst.annotations = Some([("a".to_owned(), "b".into())].into_iter().collect());
        let index = ManifestList {
            schema_version: 2,
            media_type: OCI_IMAGE_INDEX.into(),
            manifests: Some(vec![inst]),
            annotations: None,
        };
        let text = remote_list_text(&serde_json::to_vec(&index).unwrap()).unwrap();
        assert!(
            text.contains(DOCKER_MANIFEST_LIST) && !text.contains("\"a\""),
            "{text}"
        );
        let single = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        let err = remote_list_text(single).unwrap_err();
        assert!(
            err.text().contains("Treating single images"),
            "{}",
            err.text()
        );
    }

    #[test]
    fn formats_are_podmans_names() {
        assert_eq!(ManifestFormat::parse("oci"), Some(ManifestFormat::Oci));
        assert_eq!(ManifestFormat::parse("v2s2"), Some(ManifestFormat::V2s2));
        assert_eq!(ManifestFormat::parse("v2s1"), None);
    }
}
