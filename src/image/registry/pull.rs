//! Pulling: resolve the reference (and a manifest list, by platform) to one
//! image manifest, verify it, then fetch the config and the layers the store
//! lacks, at most [`PARALLEL_BLOBS`] at a time, each streamed into the store
//! and verified there. The manifest is stored last, once everything it names
//! is present.

use futures_util::{StreamExt, TryStreamExt};
use hutch_storage::blobs::{BlobError, BlobStore};
use hutch_storage::digest::Digest;
use oci_client::Reference;
use oci_client::errors::DigestError;

use super::manifest::{self, ACCEPTED, Descriptor, Manifest, ManifestError};
use super::platform::{self, Platform};
use super::session::Session;
use super::transfer::{self, Events, StoreFailure, emit};
use super::{ProgressEvent, Pulled, RegistryError};

/// Layers downloaded at once, as Podman does by default.
pub(super) const PARALLEL_BLOBS: usize = 3;

/// The most hutch reads of one manifest or index from a registry: 4 MiB,
/// containers/image's `MaxManifestBodySize` and hutch's archive loader's
/// limit. The read stops there, whatever the registry declares.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// The most an image's config blob may weigh: 4 MiB, containers/image's
/// `MaxConfigBodySize` (real ones are a few KiB). Checked against the size
/// its manifest declares, which the download does not go past.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

pub(super) async fn pull(
    s: &Session,
    reference: &str,
    platform: &Platform,
    blobs: &BlobStore,
    events: Events,
) -> Result<Pulled, RegistryError> {
    let (target, by_digest) = s.reference(reference)?;
    let (body, digest) = fetch_manifest(s, &target, by_digest.as_ref(), reference).await?;
    let (body, digest, list_digest) = match parse(s, &body, &digest)? {
        Manifest::Image { .. } => (body, digest, None),
        Manifest::List { entries, .. } => {
            let entry = platform::choose(&entries, platform).ok_or_else(|| {
                RegistryError::NoMatchingPlatform {
                    registry: s.registry.clone(),
                    repository: s.repository.clone(),
                    reference: reference.to_owned(),
                    wanted: platform.to_string(),
                    available: platform::available(&entries),
                }
            })?;
            let child = &entry.descriptor.digest;
            let child_ref = s.reference_by_digest(child);
            let (child_body, _) =
                fetch_manifest(s, &child_ref, Some(child), &child.to_string()).await?;
            (child_body, child.clone(), Some(digest))
        }
    };
    let (media_type, config, layers) = match parse(s, &body, &digest)? {
        Manifest::Image {
            media_type,
            config,
            layers,
        } => (media_type, config, layers),
        Manifest::List { .. } => {
            let list = list_digest.as_ref().unwrap_or(&digest);
            return Err(bad_manifest(
                s,
                list,
                ManifestError::NestedList(digest.clone()),
            ));
        }
    };

    if config.size > MAX_CONFIG_BYTES {
        return Err(RegistryError::TooLarge {
            registry: s.registry.clone(),
            repository: s.repository.clone(),
            what: format!("config {} ({} bytes)", config.digest, config.size),
            limit: MAX_CONFIG_BYTES,
        });
    }
    if blobs.contains(&config.digest) {
        emit(
            &events,
            ProgressEvent::ConfigSkipped {
                digest: config.digest.clone(),
            },
        );
    } else {
        fetch_blob(s, &target, &config, blobs, |_| {}).await?;
        emit(
            &events,
            ProgressEvent::ConfigCopied {
                digest: config.digest.clone(),
            },
        );
    }

    // A layer listed twice is fetched once.
    let mut unique: Vec<&Descriptor> = Vec::new();
    for layer in &layers {
        if !unique.iter().any(|u| u.digest == layer.digest) {
            unique.push(layer);
        }
    }
    futures_util::stream::iter(unique)
        .map(|layer| fetch_layer(s, &target, layer, blobs, &events))
        .buffer_unordered(PARALLEL_BLOBS)
        .try_collect::<()>()
        .await?;

    blobs
        .put_bytes(&body, Some(&digest))
        .map_err(|source| store_error(s, &digest, source))?;
    emit(
        &events,
        ProgressEvent::ManifestDone {
            digest: digest.clone(),
        },
    );
    Ok(Pulled {
        manifest: body,
        manifest_digest: digest,
        manifest_media_type: media_type,
        list_digest,
        config: config.digest,
        layers: layers
            .into_iter()
            .map(|l| (l.digest, l.size, l.media_type))
            .collect(),
    })
}

/// Fetches a manifest (at most [`MAX_MANIFEST_BYTES`]) and checks it
/// against `expected` when it was asked for by digest, else against the
/// registry's `Docker-Content-Digest` header.
async fn fetch_manifest(
    s: &Session,
    target: &Reference,
    expected: Option<&Digest>,
    label: &str,
) -> Result<(Vec<u8>, Digest), RegistryError> {
    let what = format!("reading manifest {label}");
    let (body, header) = s
        .get_manifest(target, ACCEPTED, MAX_MANIFEST_BYTES, &what)
        .await?;
    let digest = Digest::of(&body);
    // By tag, the registry's header is what the body is checked against
    // (as oci-client does).
    let expected = expected
        .cloned()
        .or_else(|| header.and_then(|h| h.parse::<Digest>().ok()));
    if let Some(expected) = &expected
        && *expected != digest
    {
        return Err(RegistryError::DigestMismatch {
            registry: s.registry.clone(),
            repository: s.repository.clone(),
            what,
            expected: expected.to_string(),
            actual: digest.to_string(),
        });
    }
    Ok((body, digest))
}

fn parse(s: &Session, body: &[u8], digest: &Digest) -> Result<Manifest, RegistryError> {
    manifest::parse(body).map_err(|e| bad_manifest(s, digest, e))
}

pub(super) fn bad_manifest(s: &Session, digest: &Digest, source: ManifestError) -> RegistryError {
    RegistryError::BadManifest {
        registry: s.registry.clone(),
        repository: s.repository.clone(),
        digest: digest.clone(),
        source: Box::new(source),
    }
}

async fn fetch_layer(
    s: &Session,
    target: &Reference,
    layer: &Descriptor,
    blobs: &BlobStore,
    events: &Events,
) -> Result<(), RegistryError> {
    let digest = &layer.digest;
    if blobs.contains(digest) {
        emit(
            events,
            ProgressEvent::LayerSkipped {
                digest: digest.clone(),
            },
        );
        return Ok(());
    }
    emit(
        events,
        ProgressEvent::LayerStart {
            digest: digest.clone(),
            size: layer.size,
        },
    );
    fetch_blob(s, target, layer, blobs, |done| {
        emit(
            events,
            ProgressEvent::LayerBytes {
                digest: digest.clone(),
                done,
            },
        )
    })
    .await?;
    emit(
        events,
        ProgressEvent::LayerDone {
            digest: digest.clone(),
        },
    );
    Ok(())
}

/// Streams one blob into the store, verified against its descriptor.
async fn fetch_blob(
    s: &Session,
    target: &Reference,
    blob: &Descriptor,
    blobs: &BlobStore,
    on_bytes: impl FnMut(u64),
) -> Result<(), RegistryError> {
    let what = format!("fetching blob {}", blob.digest);
    let name = blob.digest.to_string();
    // A bare digest, not the descriptor: its `urls` (foreign layers) would
    // send the request to hosts the user never named.
    let stream = s
        .client
        .pull_blob_stream(target, name.as_str())
        .await
        .map_err(s.fail(what.clone()))?;
    let mismatch = |actual: String| RegistryError::DigestMismatch {
        registry: s.registry.clone(),
        repository: s.repository.clone(),
        what: what.clone(),
        expected: name.clone(),
        actual,
    };
    match transfer::store_stream(stream, &blob.digest, blob.size, blobs, on_bytes).await {
        Ok(()) => Ok(()),
        Err(StoreFailure::Stream(e)) => {
            let verification = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<DigestError>());
            match verification {
                Some(DigestError::VerificationError { actual, .. }) => {
                    Err(mismatch(actual.clone()))
                }
                _ => Err(RegistryError::Request {
                    registry: s.registry.clone(),
                    repository: s.repository.clone(),
                    what,
                    source: Box::new(e.into()),
                }),
            }
        }
        Err(StoreFailure::TooLarge) => Err(RegistryError::BlobTooLarge {
            registry: s.registry.clone(),
            repository: s.repository.clone(),
            digest: blob.digest.clone(),
            size: blob.size,
        }),
        Err(StoreFailure::Store(BlobError::Mismatch { actual, .. })) => {
            Err(mismatch(actual.to_string()))
        }
        Err(StoreFailure::Store(source)) => Err(store_error(s, &blob.digest, source)),
    }
}

pub(super) fn store_error(s: &Session, digest: &Digest, source: BlobError) -> RegistryError {
    RegistryError::Store {
        registry: s.registry.clone(),
        repository: s.repository.clone(),
        digest: digest.clone(),
        source: Box::new(source),
    }
}

/// The digest of the image manifest `reference` resolves to for `platform`
/// (a list is narrowed to its platform's entry, as [`pull`] does), without
/// fetching anything else: what `auto-update` compares with the local
/// image's manifest digest. The manifest is read bounded and verified as
/// a pull's is.
pub(super) async fn resolve(
    s: &Session,
    reference: &str,
    platform: &Platform,
) -> Result<Digest, RegistryError> {
    let (target, by_digest) = s.reference(reference)?;
    let (body, digest) = fetch_manifest(s, &target, by_digest.as_ref(), reference).await?;
    match parse(s, &body, &digest)? {
        Manifest::Image { .. } => Ok(digest),
        Manifest::List { entries, .. } => platform::choose(&entries, platform)
            .map(|entry| entry.descriptor.digest.clone())
            .ok_or_else(|| RegistryError::NoMatchingPlatform {
                registry: s.registry.clone(),
                repository: s.repository.clone(),
                reference: reference.to_owned(),
                wanted: platform.to_string(),
                available: platform::available(&entries),
            }),
    }
}

/// The digest of whatever `reference` names (a list stays a list).
pub(super) async fn top_manifest(
    s: &Session,
    reference: &str,
) -> Result<(Vec<u8>, Digest), RegistryError> {
    let (target, by_digest) = s.reference(reference)?;
    fetch_manifest(s, &target, by_digest.as_ref(), reference).await
}

pub(super) async fn top_digest(s: &Session, reference: &str) -> Result<Digest, RegistryError> {
    let (target, by_digest) = s.reference(reference)?;
    let (_, digest) = fetch_manifest(s, &target, by_digest.as_ref(), reference).await?;
    Ok(digest)
}
