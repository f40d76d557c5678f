//! The judgement of one image against its scope's requirements: every
//! requirement must accept it (containers/image's `IsRunningImageAllowed`).
//! Refusals carry containers/image's words, so a user sees what Podman
//! would print.

use std::io::Read;
use std::path::Path;

use crate::config::policy::{Fulcio, Requirement, SignedIdentity};

use super::keys::{self, MAX_KEY_BYTES};
use super::openpgp::{self, Keyring};
use super::sigstore::{self, Attachment, Claims, PAYLOAD_MEDIA_TYPE};
use super::{cert, fulcio, identity, rekor, simple};

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
                rekor_key_path,
                rekor_key_data,
                signed_identity,
            } => {
                let root = SigstoreRoot::load(
                    key_path.as_deref(),
                    key_data.as_deref(),
                    fulcio.as_ref(),
                    rekor_key_path.as_deref(),
                    rekor_key_data.as_deref(),
                )?;
                sigstore_signed(&root, image, signatures, signed_identity)?;
            }
        }
    }
    Ok(())
}

/// A `sigstoreSigned` requirement's keys and certificates, read bounded.
struct SigstoreRoot {
    /// The signer's public key, or Fulcio's CA certificates and identity.
    signer: Signer,
    rekor_key: Option<p256::ecdsa::VerifyingKey>,
}

enum Signer {
    Key(p256::ecdsa::VerifyingKey),
    Fulcio {
        ca_pem: Vec<u8>,
        oidc_issuer: String,
        subject_email: String,
    },
}

impl SigstoreRoot {
    fn load(
        key_path: Option<&Path>,
        key_data: Option<&[u8]>,
        fulcio: Option<&Fulcio>,
        rekor_key_path: Option<&Path>,
        rekor_key_data: Option<&[u8]>,
    ) -> Result<SigstoreRoot, Refusal> {
        let signer = match (key_path, key_data, fulcio) {
            (_, _, Some(f)) => {
                let ca_pem = match (&f.ca_data, &f.ca_path) {
                    (Some(data), _) => data.clone(),
                    (None, Some(path)) => {
                        read_bounded(path, cert::MAX_PEM_BYTES as u64, "Fulcio CA certificates")?
                    }
                    (None, None) => {
                        return Err(Refusal(
                            "Internal inconsistency: Fulcio specified with neither \"caPath\" nor \"caData\"".into(),
                        ));
                    }
                };
                Signer::Fulcio {
                    ca_pem,
                    oidc_issuer: f.oidc_issuer.clone(),
                    subject_email: f.subject_email.clone(),
                }
            }
            (_, Some(data), None) => Signer::Key(public_key(data, "parsing public key")?),
            (Some(path), None, None) => {
                Signer::Key(public_key(&read_key(path)?, "parsing public key")?)
            }
            (None, None, None) => {
                return Err(Refusal("sigstoreSigned has no public key".into()));
            }
        };
        let rekor_key = match (rekor_key_data, rekor_key_path) {
            (Some(data), _) => Some(public_key(data, "parsing Rekor public key")?),
            (None, Some(path)) => Some(public_key(&read_key(path)?, "parsing Rekor public key")?),
            (None, None) => None,
        };
        if matches!(signer, Signer::Fulcio { .. }) && rekor_key.is_none() {
            return Err(Refusal(
                "Internal inconsistency: Fulcio CA specified without a Rekor public key".into(),
            ));
        }
        Ok(SigstoreRoot { signer, rekor_key })
    }
}

fn public_key(pem: &[u8], what: &str) -> Result<p256::ecdsa::VerifyingKey, Refusal> {
    keys::public_key(pem).map_err(|e| Refusal(format!("{what}: {e}")))
}

/// containers/image's `prSigstoreSigned.isRunningImageAllowed`: one
/// accepted signature is enough; otherwise the one reason, or all.
fn sigstore_signed(
    root: &SigstoreRoot,
    image: &ImageUnderReview<'_>,
    signatures: &[Attachment],
    rule: &SignedIdentity,
) -> Result<(), Refusal> {
    let mut rejections = Vec::new();
    let mut other_kinds = 0;
    for att in signatures {
        if att.media_type != PAYLOAD_MEDIA_TYPE {
            other_kinds += 1;
            continue;
        }
        match accept_one(root, att).and_then(|claims| check_claims(&claims, image, rule)) {
            Ok(()) => return Ok(()),
            Err(why) => rejections.push(why),
        }
    }
    Err(Refusal(match rejections.len() {
        0 if other_kinds == 0 => "A signature was required, but no signature exists".to_owned(),
        0 => format!(
            "A signature was required, but no signature exists (0 non-sigstore signatures, {other_kinds} sigstore non-signature attachments)"
        ),
        1 => rejections.remove(0),
        _ => format!(
            "None of the signatures were accepted, reasons: {}",
            rejections.join("; ")
        ),
    }))
}

/// The claims of one sigstore signature whose key (or certificate, and
/// log entry) the requirement trusts.
fn accept_one(root: &SigstoreRoot, att: &Attachment) -> Result<Claims, String> {
    let annotation = |key: &str| -> Result<&str, String> {
        att.annotations
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("missing {key} annotation"))
    };
    let b64_signature = annotation(sigstore::SIGNATURE_ANNOTATION)?;
    let key = match &root.signer {
        Signer::Key(key) => {
            if let Some(rekor_key) = &root.rekor_key {
                let set = annotation(rekor::SET_ANNOTATION)?;
                // Only the log's presence matters with a fixed key, not its time.
                let pem = keys::public_key_pem(key);
                rekor::verify(
                    rekor_key,
                    set.as_bytes(),
                    pem.as_bytes(),
                    b64_signature,
                    &att.payload,
                )?;
            }
            *key
        }
        Signer::Fulcio {
            ca_pem,
            oidc_issuer,
            subject_email,
        } => {
            let rekor_key = root
                .rekor_key
                .as_ref()
                .ok_or("Internal inconsistency: Fulcio CA specified without a Rekor public key")?;
            let set = annotation(rekor::SET_ANNOTATION)?;
            let cert_pem = annotation(fulcio::CERTIFICATE_ANNOTATION)?;
            if cert_pem.len() > cert::MAX_PEM_BYTES || set.len() > rekor::MAX_SET_BYTES {
                return Err("signature annotations are too large".into());
            }
            let entry = rekor::verify(
                rekor_key,
                set.as_bytes(),
                cert_pem.as_bytes(),
                b64_signature,
                &att.payload,
            )?;
            let chain = att
                .annotations
                .get(fulcio::CHAIN_ANNOTATION)
                .map(String::as_bytes);
            let trust = fulcio::FulcioRoot {
                ca_pem,
                oidc_issuer,
                subject_email,
            };
            fulcio::verify_certificate(&trust, entry.integrated_time, cert_pem.as_bytes(), chain)?
        }
    };
    sigstore::verify(&key, att)
}

/// What every signature kind must say of the image it signs (the shared
/// half of containers/image's `VerifySigstorePayload` and
/// `VerifyImageManifestSignatureUsingKeyIdentityList`): the digest of the
/// manifest pulled, and an identity the requirement's rule accepts.
fn check_claims(
    claims: &Claims,
    image: &ImageUnderReview<'_>,
    rule: &SignedIdentity,
) -> Result<(), String> {
    if claims.manifest_digest != image.manifest_digest {
        return Err(format!(
            "Signature for digest {} does not match",
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
            .and_then(|claims| check_claims(&claims, image, rule));
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
            fulcio: None,
            rekor_key_path: None,
            rekor_key_data: None,
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
            other_digest.ends_with("Signature for digest sha256:bb does not match"),
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
            "Signature for digest sha256:aa does not match"
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
