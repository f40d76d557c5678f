//! Sigstore signatures as containers/image and cosign store them in a
//! registry: a "simple signing" JSON payload naming the image (its
//! `docker-reference` and `docker-manifest-digest`), signed with ECDSA
//! over SHA-256, the ASN.1 DER signature in base64 in the layer annotation
//! [`SIGNATURE_ANNOTATION`] of an OCI manifest tagged `sha256-<hex>.sig`.

use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};

/// The media type of a signature payload layer.
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` every cosign container signature carries.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
/// The most hutch reads of one payload (real ones are ~300 bytes).
pub const MAX_PAYLOAD_BYTES: u64 = 4 << 20;

/// One signature found beside an image: its payload and annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub media_type: String,
    pub payload: Vec<u8>,
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// What a verified payload claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub docker_reference: String,
    pub manifest_digest: String,
}

/// The payload containers/image writes for `reference` (the pushed name,
/// tag included) at `manifest_digest`.
pub fn payload(reference: &str, manifest_digest: &str, timestamp: i64) -> Vec<u8> {
    let v = json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": {
            "creator": concat!("hutch ", env!("CARGO_PKG_VERSION")),
            "timestamp": timestamp,
        },
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The base64 DER signature of `payload`, for [`SIGNATURE_ANNOTATION`].
pub fn sign(key: &SigningKey, payload: &[u8]) -> String {
    let sig: Signature = key.sign(payload);
    let der: DerSignature = sig.to_der();
    base64::engine::general_purpose::STANDARD.encode(der.as_bytes())
}

/// Checks the signature of `att` with `key`, then parses its payload:
/// the claims are returned only for a valid signature. Errors are the
/// refusal's words (containers/image's where it has them).
pub fn verify(key: &VerifyingKey, att: &Attachment) -> Result<Claims, String> {
    let b64 = att
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or("missing signature annotation")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("invalid signature annotation: {e}"))?;
    let sig = Signature::from_der(&raw)
        .or_else(|_| Signature::from_slice(&raw))
        .map_err(|_| "cryptographic signature verification failed: invalid signature encoding")?;
    key.verify(&att.payload, &sig)
        .map_err(|_| "cryptographic signature verification failed: invalid signature")?;
    parse_payload(&att.payload)
}

/// A signed payload's claims; strict about `critical`, as containers/image is.
pub fn parse_payload(payload: &[u8]) -> Result<Claims, String> {
    parse_payload_of(payload, SIGNATURE_TYPE)
}

/// [`parse_payload`] for a payload whose `critical.type` must be
/// `signature_type` (GPG simple signing's differs from cosign's).
pub fn parse_payload_of(payload: &[u8], signature_type: &str) -> Result<Claims, String> {
    let bad = |why: &str| format!("invalid signature payload: {why}");
    let v: Value = serde_json::from_slice(payload).map_err(|e| bad(&e.to_string()))?;
    let critical = v
        .get("critical")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no \"critical\" object"))?;
    if critical.len() != 3 {
        return Err(bad(
            "\"critical\" must hold exactly identity, image and type",
        ));
    }
    let ty = critical.get("type").and_then(Value::as_str);
    if ty != Some(signature_type) {
        return Err(bad(&format!("unrecognized signature type {ty:?}")));
    }
    let reference = critical
        .get("identity")
        .and_then(|i| i.get("docker-reference"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no identity.docker-reference"))?;
    let digest = critical
        .get("image")
        .and_then(|i| i.get("docker-manifest-digest"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no image.docker-manifest-digest"))?;
    Ok(Claims {
        docker_reference: reference.to_owned(),
        manifest_digest: digest.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(key: &SigningKey, payload: Vec<u8>) -> Attachment {
        let sig = sign(key, &payload);
        Attachment {
            media_type: PAYLOAD_MEDIA_TYPE.into(),
            payload,
            annotations: [(SIGNATURE_ANNOTATION.to_owned(), sig)].into(),
        }
    }

    #[test]
    fn signed_payload_verifies_and_tampering_fails() {
        let key = super::super::keys::generate().unwrap();
        let att = attachment(&key, payload("r.io/a:1", "sha256:ab", 1));
        let claims = verify(key.verifying_key(), &att).unwrap();
        assert_eq!(claims.docker_reference, "r.io/a:1");
        assert_eq!(claims.manifest_digest, "sha256:ab");

        let mut tampered = att.clone();
        tampered.payload = payload("r.io/a:2", "sha256:ab", 1);
        let e = verify(key.verifying_key(), &tampered).unwrap_err();
        assert!(e.contains("verification failed"), "{e}");

        let other = super::super::keys::generate().unwrap();
        assert!(verify(other.verifying_key(), &att).is_err());
    }

    #[test]
    fn payload_type_is_checked() {
        let e = parse_payload(br#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"b"},"type":"other"}}"#)
            .unwrap_err();
        assert!(e.contains("unrecognized"), "{e}");
    }
}
