//! Sigstore attachments (registries.d `use-sigstore-attachments`): the
//! signatures of manifest `sha256:<hex>` live in the same repository as an
//! OCI manifest tagged `sha256-<hex>.sig`, one layer per signature (its
//! payload as the blob, the signature in an annotation), as cosign and
//! containers/image keep them. Reading is bounded: the manifest as any
//! manifest, at most [`MAX_ATTACHMENTS`] layers, each payload at most
//! [`MAX_PAYLOAD_BYTES`] and verified against its digest.

use futures_util::StreamExt;
use hutch_storage::digest::Digest;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use super::RegistryError;
use super::manifest::OCI_IMAGE_MANIFEST;
use super::pull::MAX_MANIFEST_BYTES;
use super::session::Session;
use crate::image::trust::sigstore::{Attachment, MAX_PAYLOAD_BYTES};

/// The most signatures hutch reads for one image.
pub const MAX_ATTACHMENTS: usize = 256;
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

fn tag_for(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

fn too_large(s: &Session, what: String, limit: u64) -> RegistryError {
    RegistryError::TooLarge {
        registry: s.registry.clone(),
        repository: s.repository.clone(),
        what,
        limit,
    }
}

/// The attachments manifest of `digest`, `None` when there is none.
async fn read_manifest(s: &Session, digest: &Digest) -> Result<Option<Value>, RegistryError> {
    let tag = tag_for(digest);
    let target = s.reference_by_tag(&tag)?;
    let what = format!("reading signatures {tag}");
    match s
        .get_manifest(&target, &[OCI_IMAGE_MANIFEST], MAX_MANIFEST_BYTES, &what)
        .await
    {
        Ok((body, _)) => {
            let v: Value =
                serde_json::from_slice(&body).map_err(|e| RegistryError::Signatures {
                    registry: s.registry.clone(),
                    repository: s.repository.clone(),
                    reason: format!("{tag}: invalid manifest: {e}"),
                })?;
            Ok(Some(v))
        }
        Err(RegistryError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every signature attached to `digest` (none when nothing is attached).
pub(super) async fn fetch(s: &Session, digest: &Digest) -> Result<Vec<Attachment>, RegistryError> {
    let Some(manifest) = read_manifest(s, digest).await? else {
        return Ok(Vec::new());
    };
    let bad = |reason: String| RegistryError::Signatures {
        registry: s.registry.clone(),
        repository: s.repository.clone(),
        reason,
    };
    let layers = manifest
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("the signature manifest has no layers".into()))?;
    if layers.len() > MAX_ATTACHMENTS {
        return Err(bad(format!(
            "{} signatures attached, more than the {MAX_ATTACHMENTS} hutch reads",
            layers.len()
        )));
    }
    let mut out = Vec::new();
    for layer in layers {
        let media_type = layer
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let blob: Digest = layer
            .get("digest")
            .and_then(Value::as_str)
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| bad("a signature layer has no valid digest".into()))?;
        let size = layer.get("size").and_then(Value::as_u64).unwrap_or(0);
        if size > MAX_PAYLOAD_BYTES {
            return Err(too_large(
                s,
                format!("signature payload {blob}"),
                MAX_PAYLOAD_BYTES,
            ));
        }
        let annotations = layer
            .get("annotations")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let payload = read_blob(s, &blob).await?;
        out.push(Attachment {
            media_type,
            payload,
            annotations,
        });
    }
    Ok(out)
}

/// A small blob into memory, bounded and verified.
async fn read_blob(s: &Session, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
    let what = format!("fetching signature {digest}");
    let target = s.reference_by_digest(digest);
    let name = digest.to_string();
    let mut stream = s
        .client
        .pull_blob_stream(&target, name.as_str())
        .await
        .map_err(s.fail(what.clone()))?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| (s.fail(what.clone()))(e.into()))?;
        if (body.len() + chunk.len()) as u64 > MAX_PAYLOAD_BYTES {
            return Err(too_large(s, what, MAX_PAYLOAD_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    let actual = Digest::of(&body);
    if actual != *digest {
        return Err(RegistryError::DigestMismatch {
            registry: s.registry.clone(),
            repository: s.repository.clone(),
            what,
            expected: name,
            actual: actual.to_string(),
        });
    }
    Ok(body)
}

/// Adds `att` to the signatures of `digest`, keeping those already there
/// (containers/image appends, and skips a signature already present).
pub(super) async fn add(
    s: &Session,
    digest: &Digest,
    att: &Attachment,
) -> Result<(), RegistryError> {
    let tag = tag_for(digest);
    let target = s.reference_by_tag(&tag)?;
    s.bounded_token(
        &target,
        oci_client::RegistryOperation::Push,
        "authenticating to push signatures",
    )
    .await?;
    let existing = read_manifest(s, digest).await?;
    let mut layers: Vec<Value> = existing
        .as_ref()
        .and_then(|m| m.get("layers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let payload_digest = Digest::of(&att.payload);
    let layer = json!({
        "mediaType": att.media_type,
        "size": att.payload.len(),
        "digest": payload_digest.to_string(),
        "annotations": att.annotations,
    });
    if layers.contains(&layer) {
        return Ok(());
    }
    layers.push(layer);
    upload(s, &target, &att.payload).await?;
    // cosign's verifier wants the layers listed as the config's diff_ids.
    let diff_ids: Vec<Value> = layers
        .iter()
        .filter_map(|l| l.get("digest").cloned())
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap_or_default();
    upload(s, &target, &config).await?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "size": config.len(),
            "digest": Digest::of(&config).to_string(),
        },
        "layers": layers,
    }))
    .unwrap_or_default();
    s.client
        .push_manifest_raw(
            &target,
            manifest,
            HeaderValue::from_static(OCI_IMAGE_MANIFEST),
        )
        .await
        .map_err(s.fail(format!("writing signatures {tag}")))?;
    Ok(())
}

async fn upload(
    s: &Session,
    target: &oci_client::Reference,
    data: &[u8],
) -> Result<(), RegistryError> {
    let digest = Digest::of(data).to_string();
    let present = s
        .client
        .blob_exists(target, &digest)
        .await
        .map_err(s.fail(format!("checking for blob {digest}")))?;
    if !present {
        s.client
            .push_blob(target, data.to_vec(), &digest)
            .await
            .map_err(s.fail(format!("uploading signature blob {digest}")))?;
    }
    Ok(())
}
