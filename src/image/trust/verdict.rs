//! The judgement of one image against its scope's requirements: every
//! requirement must accept it (containers/image's `IsRunningImageAllowed`).
//! Refusals carry containers/image's words, so a user sees what Podman
//! would print.

use std::io::Read;
use std::path::Path;

use crate::config::policy::Requirement;

use crate::config::policy::SignedIdentity;

use super::identity;
use super::keys::{self, MAX_KEY_BYTES};
use super::openpgp::{self, Keyring};
use super::sigstore::{self, Attachment, PAYLOAD_MEDIA_TYPE};
use super::simple;

/// The image being pulled, as the policy sees it.
pub struct ImageUnderReview<'a> {
    /// `docker://registry/repo:tag`, for messages.
    pub transport_name: &'a str,
    /// `registry/repo:tag` (or `@digest`): what signatures must name.
    pub reference: &'a str,
    /// The digest of the manifest the reference resolves to (the list's,
    /// for a manifest list): what signatures must claim.
    pub manifest_digest: &'a str,
}

/// Why the policy refused an image: Podman's "Source image rejected: ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Source image rejected: {0}")]
pub struct Refusal(pub String);

/// Whether any requirement needs the image's signatures (so that a pull
/// under an accept-anything policy fetches none).
pub fn needs_signatures(reqs: &[Requirement]) -> bool {
    reqs.iter().any(|r| {
        matches!(
            r,
            Requirement::SigstoreSigned { .. } | Requirement::SignedBy { .. }
        )
    })
}

/// Whether any requirement reads the lookaside store (`signedBy`).
pub fn needs_lookaside(reqs: &[Requirement]) -> bool {
    reqs.iter()
        .any(|r| matches!(r, Requirement::SignedBy { .. }))
}

/// Whether a scope refuses before anything is fetched (`reject`).
pub fn rejects_outright(reqs: &[Requirement]) -> bool {
    reqs.iter().any(|r| matches!(r, Requirement::Reject))
}

/// Judges `image` with the `signatures` found beside it. Key files named
/// by the policy are read here (bounded by [`MAX_KEY_BYTES`]).
///
/// `simple` are the GPG simple signing signatures found in the lookaside
/// store (each a signature file's bytes).
pub fn judge(
    reqs: &[Requirement],
    image: &ImageUnderReview<'_>,
    signatures: &[Attachment],
    simple: &[Vec<u8>],
) -> Result<(), Refusal> {
    for req in reqs {
        match req {
            Requirement::InsecureAcceptAnything => {}
            Requirement::Reject => {
                return Err(Refusal(format!(
                    "Running image {} is rejected by policy.",
                    image.transport_name
                )));
            }
            Requirement::SignedBaseLayer => {
                return Err(Refusal(
                    "signedBaseLayer requirements are not supported".into(),
                ));
            }
            Requirement::SignedBy {
                key_type,
                key_paths,
                key_data,
                signed_identity,
            } => {
                if key_type != "GPGKeys" {
                    return Err(Refusal(format!(
                        "Unimplemented \"keyType\" value \"{key_type}\""
                    )));
                }
                let keyring = keyring(key_paths, key_data.as_deref())?;
                signed_by(&keyring, image, simple, signed_identity)?;
            }
            Requirement::SigstoreSigned {
                key_path,
                key_data,
                fulcio,
                signed_identity,
            } => {
                if *fulcio {
                    return Err(Refusal(
                        "sigstoreSigned with fulcio is not supported by hutch; use keyPath or keyData"
                            .into(),
                    ));
                }
                let pem = match (key_path, key_data) {
                    (_, Some(data)) => data.clone(),
                    (Some(path), None) => read_key(path)?,
                    (None, None) => {
                        return Err(Refusal("sigstoreSigned has no public key".into()));
                    }
                };
                let key = keys::public_key(&pem)
                    .map_err(|e| Refusal(format!("parsing public key: {e}")))?;
                let mut rejections = Vec::new();
                let mut other_kinds = 0;
                let mut accepted = false;
                for att in signatures {
                    if att.media_type != PAYLOAD_MEDIA_TYPE {
                        other_kinds += 1;
                        continue;
                    }
                    match accept_one(&key, att, image, signed_identity) {
                        Ok(()) => {
                            accepted = true;
                            break;
                        }
                        Err(why) => rejections.push(why),
                    }
                }
                if accepted {
                    continue;
                }
                return Err(Refusal(match rejections.len() {
                    0 if other_kinds == 0 => {
                        "A signature was required, but no signature exists".to_owned()
                    }
                    0 => format!(
                        "A signature was required, but no signature exists (0 non-sigstore signatures, {other_kinds} sigstore non-signature attachments)"
                    ),
                    1 => rejections.remove(0),
                    _ => format!(
                        "None of the signatures were accepted, reasons: {}",
                        rejections.join("; ")
                    ),
                }));
            }
        }
    }
    Ok(())
}

fn accept_one(
    key: &p256::ecdsa::VerifyingKey,
    att: &Attachment,
    image: &ImageUnderReview<'_>,
    rule: &crate::config::policy::SignedIdentity,
) -> Result<(), String> {
    let claims = sigstore::verify(key, att)?;
    if claims.manifest_digest != image.manifest_digest {
        return Err(format!(
            "Signature for docker-manifest-digest {:?} does not match",
            claims.manifest_digest
        ));
    }
    if !identity::matches(rule, image.reference, &claims.docker_reference) {
        return Err(format!(
            "Signature for identity {} is not accepted",
            claims.docker_reference
        ));
    }
    Ok(())
}

/// The keys of a `signedBy` requirement, read bounded.
fn keyring(paths: &[std::path::PathBuf], data: Option<&[u8]>) -> Result<Keyring, Refusal> {
    let mut ring = Keyring::default();
    if let Some(data) = data {
        ring.add(data)
            .map_err(|e| Refusal(format!("signedBy keyData: {e}")))?;
    }
    for path in paths {
        let bytes = read_bounded(path, openpgp::MAX_KEYRING_BYTES, "GPG key file")?;
        ring.add(&bytes)
            .map_err(|e| Refusal(format!("signedBy keyPath {}: {e}", path.display())))?;
    }
    if ring.keys.is_empty() {
        return Err(Refusal("No public keys imported".into()));
    }
    Ok(ring)
}

/// containers/image's `prSignedBy.isRunningImageAllowed`: one accepted
/// signature is enough; otherwise the one reason, or all of them.
fn signed_by(
    keyring: &Keyring,
    image: &ImageUnderReview<'_>,
    simple: &[Vec<u8>],
    rule: &SignedIdentity,
) -> Result<(), Refusal> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut rejections = Vec::new();
    for sig in simple {
        let verdict = openpgp::verify(keyring, sig, now)
            .map_err(|e| format!("Invalid GPG signature: {e}"))
            .and_then(|v| simple::parse_payload(&v.content))
            .and_then(|claims| {
                if claims.manifest_digest != image.manifest_digest {
                    return Err(format!(
                        "Signature for docker-manifest-digest {} does not match",
                        claims.manifest_digest
                    ));
                }
                if !identity::matches(rule, image.reference, &claims.docker_reference) {
                    return Err(format!(
                        "Signature for identity {} is not accepted",
                        claims.docker_reference
                    ));
                }
                Ok(())
            });
        match verdict {
            Ok(()) => return Ok(()),
            Err(why) => rejections.push(why),
        }
    }
    Err(Refusal(match rejections.len() {
        0 => "A signature was required, but no signature exists".to_owned(),
        1 => rejections.remove(0),
        _ => format!(
            "None of the signatures were accepted, reasons: {}",
            rejections.join("; ")
        ),
    }))
}

fn read_key(path: &Path) -> Result<Vec<u8>, Refusal> {
    read_bounded(path, MAX_KEY_BYTES, "public key")
}

fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, Refusal> {
    let fail = |e: std::io::Error| Refusal(format!("reading {what} {path:?}: {e}"));
    let mut out = Vec::new();
    std::fs::File::open(path)
        .map_err(fail)?
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(fail)?;
    if out.len() as u64 > limit {
        return Err(Refusal(format!(
            "{what} {path:?} is larger than {limit} bytes"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &p256::ecdsa::SigningKey, reference: &str, digest: &str) -> Attachment {
        let payload = sigstore::payload(reference, digest, 1);
        Attachment {
            media_type: PAYLOAD_MEDIA_TYPE.into(),
            annotations: [(
                sigstore::SIGNATURE_ANNOTATION.to_owned(),
                sigstore::sign(key, &payload),
            )]
            .into(),
            payload,
        }
    }

    #[test]
    fn sigstore_requirement() {
        let key = keys::generate().unwrap();
        let req = [Requirement::SigstoreSigned {
            key_path: None,
            key_data: Some(keys::public_key_pem(key.verifying_key()).into_bytes()),
            fulcio: false,
            signed_identity: SignedIdentity::MatchRepoDigestOrExact,
        }];
        let image = ImageUnderReview {
            transport_name: "docker://r.io/a:1",
            reference: "r.io/a:1",
            manifest_digest: "sha256:aa",
        };
        judge(&req, &image, &[signed(&key, "r.io/a:1", "sha256:aa")], &[]).unwrap();
        let none = judge(&req, &image, &[], &[]).unwrap_err().to_string();
        assert_eq!(
            none,
            "Source image rejected: A signature was required, but no signature exists"
        );
        let retagged = judge(&req, &image, &[signed(&key, "r.io/a:2", "sha256:aa")], &[])
            .unwrap_err()
            .to_string();
        assert!(
            retagged.ends_with("Signature for identity r.io/a:2 is not accepted"),
            "{retagged}"
        );
        let other_digest = judge(&req, &image, &[signed(&key, "r.io/a:1", "sha256:bb")], &[])
            .unwrap_err()
            .to_string();
        assert!(
            other_digest.contains("docker-manifest-digest"),
            "{other_digest}"
        );
    }

    #[test]
    fn signed_by_gpg_requirement() {
        let sig = include_bytes!("openpgp/testdata/ed.sig").to_vec();
        let req = |key: &[u8], rule| {
            [Requirement::SignedBy {
                key_type: "GPGKeys".into(),
                key_paths: Vec::new(),
                key_data: Some(key.to_vec()),
                signed_identity: rule,
            }]
        };
        let ed = include_bytes!("openpgp/testdata/ed.asc");
        let image = |reference, digest| ImageUnderReview {
            transport_name: "docker://r.io/a:1",
            reference,
            manifest_digest: digest,
        };
        let exact = SignedIdentity::MatchRepoDigestOrExact;
        judge(
            &req(ed, exact.clone()),
            &image("r.io/a:1", "sha256:aa"),
            &[],
            std::slice::from_ref(&sig),
        )
        .unwrap();
        let why = |reqs: &[Requirement], img, sigs: &[Vec<u8>]| {
            judge(reqs, &img, &[], sigs).unwrap_err().0
        };
        assert_eq!(
            why(&req(ed, exact.clone()), image("r.io/a:1", "sha256:aa"), &[]),
            "A signature was required, but no signature exists"
        );
        assert_eq!(
            why(
                &req(ed, exact.clone()),
                image("r.io/a:2", "sha256:aa"),
                std::slice::from_ref(&sig)
            ),
            "Signature for identity r.io/a:1 is not accepted"
        );
        assert_eq!(
            why(
                &req(ed, exact.clone()),
                image("r.io/a:1", "sha256:bb"),
                std::slice::from_ref(&sig)
            ),
            "Signature for docker-manifest-digest sha256:aa does not match"
        );
        judge(
            &req(ed, SignedIdentity::MatchRepository),
            &image("r.io/a:2", "sha256:aa"),
            &[],
            std::slice::from_ref(&sig),
        )
        .unwrap();
        let rsa = include_bytes!("openpgp/testdata/rsa.gpg");
        let other = why(
            &req(rsa, exact.clone()),
            image("r.io/a:1", "sha256:aa"),
            &[sig.clone(), sig.clone()],
        );
        assert!(other.starts_with("None of the signatures were accepted, reasons: Invalid GPG signature: signature by key "), "{other}");
        assert_eq!(
            why(&req(b"", exact), image("r.io/a:1", "sha256:aa"), &[sig]),
            "No public keys imported"
        );
    }

    #[test]
    fn reject_names_the_image() {
        let image = ImageUnderReview {
            transport_name: "docker://r.io/a:1",
            reference: "r.io/a:1",
            manifest_digest: "",
        };
        assert_eq!(
            judge(&[Requirement::Reject], &image, &[], &[])
                .unwrap_err()
                .to_string(),
            "Source image rejected: Running image docker://r.io/a:1 is rejected by policy."
        );
    }
}
