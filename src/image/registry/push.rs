//! Pushing: read the manifest to learn what it needs, upload the blobs the
//! registry lacks (a HEAD each; up to [`PARALLEL_BLOBS`] uploads at once,
//! each one streamed PUT straight from the store), then write the manifest.
//! For a manifest list, each platform's manifest comes from the store and is
//! pushed (with its blobs) by digest before the list itself.

use futures_util::{StreamExt, TryStreamExt};
use hutch_storage::blobs::BlobStore;
use hutch_storage::digest::Digest;
use oci_client::Reference;
use reqwest::header::HeaderValue;

use super::manifest::{self, Manifest, ManifestError};
use super::pull::{PARALLEL_BLOBS, bad_manifest, store_error};
use super::session::Session;
use super::transfer::{self, Events, emit};
use super::{ProgressEvent, RegistryError};

pub(super) async fn push(
    s: &Session,
    tag: &str,
    body: &[u8],
    media_type: &str,
    blobs: &BlobStore,
    events: Events,
) -> Result<Digest, RegistryError> {
    let target = s.reference_by_tag(tag)?;
    s.bounded_token(
        &target,
        oci_client::RegistryOperation::Push,
        "authenticating to push",
    )
    .await?;
    let digest = Digest::of(body);
    match parse(s, body, &digest, media_type)? {
        Manifest::Image { config, layers, .. } => {
            push_image_blobs(s, &target, &config.digest, &layers, blobs, &events).await?;
        }
        Manifest::List { entries, .. } => {
            for entry in entries {
                let child = &entry.descriptor.digest;
                let child_body = blobs
                    .read(child)
                    .map_err(|source| store_error(s, child, source))?;
                // The store verified it on the way in; a file changed since
                // would only be refused by the registry, less clearly.
                if Digest::of(&child_body) != *child {
                    return Err(RegistryError::DigestMismatch {
                        registry: s.registry.clone(),
                        repository: s.repository.clone(),
                        what: format!("reading manifest {child} from local storage"),
                        expected: child.to_string(),
                        actual: Digest::of(&child_body).to_string(),
                    });
                }
                let Manifest::Image { config, layers, .. } =
                    parse(s, &child_body, child, &entry.descriptor.media_type)?
                else {
                    return Err(bad_manifest(
                        s,
                        &digest,
                        ManifestError::NestedList(child.clone()),
                    ));
                };
                push_image_blobs(s, &target, &config.digest, &layers, blobs, &events).await?;
                let child_ref = s.reference_by_digest(child);
                put_manifest(
                    s,
                    &child_ref,
                    child,
                    child_body,
                    &entry.descriptor.media_type,
                )
                .await?;
                emit(
                    &events,
                    ProgressEvent::ManifestDone {
                        digest: child.clone(),
                    },
                );
            }
        }
    }
    put_manifest(s, &target, &digest, body.to_vec(), media_type).await?;
    emit(
        &events,
        ProgressEvent::ManifestDone {
            digest: digest.clone(),
        },
    );
    Ok(digest)
}

/// Parses a manifest about to be pushed and checks that it is what its
/// media type says: registries refuse a mismatch with a vaguer message.
fn parse(
    s: &Session,
    body: &[u8],
    digest: &Digest,
    given: &str,
) -> Result<Manifest, RegistryError> {
    let parsed = manifest::parse(body).map_err(|e| bad_manifest(s, digest, e))?;
    let declared = parsed.media_type();
    if declared != given {
        return Err(bad_manifest(
            s,
            digest,
            ManifestError::MediaTypeMismatch {
                declared: declared.to_owned(),
                given: given.to_owned(),
            },
        ));
    }
    Ok(parsed)
}

async fn push_image_blobs(
    s: &Session,
    target: &Reference,
    config: &Digest,
    layers: &[manifest::Descriptor],
    blobs: &BlobStore,
    events: &Events,
) -> Result<(), RegistryError> {
    let mut unique: Vec<&Digest> = Vec::new();
    for layer in layers {
        if !unique.contains(&&layer.digest) {
            unique.push(&layer.digest);
        }
    }
    futures_util::stream::iter(unique)
        .map(|digest| upload(s, target, digest, blobs, events, true))
        .buffer_unordered(PARALLEL_BLOBS)
        .try_collect::<()>()
        .await?;
    upload(s, target, config, blobs, events, false).await
}

/// Uploads one blob unless the registry has it already.
async fn upload(
    s: &Session,
    target: &Reference,
    digest: &Digest,
    blobs: &BlobStore,
    events: &Events,
    is_layer: bool,
) -> Result<(), RegistryError> {
    let name = digest.to_string();
    let present = s
        .client
        .blob_exists(target, &name)
        .await
        .map_err(s.fail(format!("checking for blob {digest}")))?;
    if present {
        emit(
            events,
            match is_layer {
                true => ProgressEvent::LayerSkipped {
                    digest: digest.clone(),
                },
                false => ProgressEvent::ConfigSkipped {
                    digest: digest.clone(),
                },
            },
        );
        return Ok(());
    }
    let file = blobs
        .open_blob(digest)
        .map_err(|source| store_error(s, digest, source))?;
    let size = file
        .metadata()
        .map_err(|source| {
            store_error(
                s,
                digest,
                hutch_storage::blobs::BlobError::Io {
                    op: "inspecting",
                    path: blobs.path(digest),
                    source,
                },
            )
        })?
        .len();
    if is_layer {
        emit(
            events,
            ProgressEvent::LayerStart {
                digest: digest.clone(),
                size,
            },
        );
    }
    let on_bytes = {
        let events = events.clone();
        let digest = digest.clone();
        move |done| {
            if is_layer {
                emit(
                    &events,
                    ProgressEvent::LayerBytes {
                        digest: digest.clone(),
                        done,
                    },
                );
            }
        }
    };
    s.client
        .push_blob_stream(
            target,
            transfer::file_stream(file, on_bytes),
            &name,
            Some(size),
        )
        .await
        .map_err(s.fail(format!("uploading blob {digest}")))?;
    emit(
        events,
        match is_layer {
            true => ProgressEvent::LayerDone {
                digest: digest.clone(),
            },
            false => ProgressEvent::ConfigCopied {
                digest: digest.clone(),
            },
        },
    );
    Ok(())
}

async fn put_manifest(
    s: &Session,
    target: &Reference,
    digest: &Digest,
    body: Vec<u8>,
    media_type: &str,
) -> Result<(), RegistryError> {
    let content_type = HeaderValue::from_str(media_type)
        .map_err(|_| bad_manifest(s, digest, ManifestError::MediaType(media_type.to_owned())))?;
    s.client
        .push_manifest_raw(target, body, content_type)
        .await
        .map_err(s.fail(format!("writing manifest {digest}")))?;
    Ok(())
}
