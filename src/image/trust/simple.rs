//! GPG "simple signing" as containers/image stores it: the JSON payload
//! naming the image (`critical.type` "atomic container signature"), signed
//! by `gpg --sign` into an OpenPGP message, kept beside the registry in a
//! lookaside store (containers-registries.d(5)) at
//! `<base>/<repository path>@<algorithm>=<hex>/signature-<N>`, N from 1.

use serde_json::json;

use super::sigstore::{self, Claims};

/// The `critical.type` of a simple signing payload.
pub const SIGNATURE_TYPE: &str = "atomic container signature";

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

/// A verified payload's claims (strict, as containers/image is).
pub fn parse_payload(payload: &[u8]) -> Result<Claims, String> {
    sigstore::parse_payload_of(payload, SIGNATURE_TYPE)
}

/// The directory (or URL prefix) of one manifest's signatures in the
/// lookaside store `base`: `repository_path` is the reference's path
/// without registry, tag or digest (`library/busybox`); `digest` is
/// `sha256:<hex>`. `None` for a path with `.`/`..` components, which no
/// valid reference has.
pub fn signature_dir(base: &str, repository_path: &str, digest: &str) -> Option<String> {
    if repository_path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return None;
    }
    let (algo, hex) = digest.split_once(':')?;
    Some(format!(
        "{}/{repository_path}@{algo}={hex}",
        base.trim_end_matches('/')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_payload() {
        assert_eq!(
            signature_dir("file:///var/lib/sigs/", "library/busybox", "sha256:ab").as_deref(),
            Some("file:///var/lib/sigs/library/busybox@sha256=ab")
        );
        assert_eq!(signature_dir("file:///s", "a/../b", "sha256:ab"), None);
        let claims = parse_payload(&payload("r.io/a:1", "sha256:ab", 5)).unwrap();
        assert_eq!(claims.docker_reference, "r.io/a:1");
        assert!(sigstore::parse_payload(&payload("r.io/a:1", "sha256:ab", 5)).is_err());
    }
}
