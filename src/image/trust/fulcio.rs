//! Fulcio certificates as containers/image checks them
//! (`fulcio_cert.go`), offline: the signature's leaf certificate must
//! chain to one of the policy's CA certificates (through the intermediates
//! of the signature's chain annotation) at the time the Rekor log
//! integrated the entry, carry the code-signing usage (where it names
//! usages), Fulcio's OIDC issuer extension with the policy's issuer and an
//! e-mail alternative name equal to the policy's subject. Its public key
//! (ECDSA P-256, what cosign makes) then verifies the payload.
//!
//! Path validation is rustls-webpki's (signatures, validity of the leaf
//! and intermediates, CA constraints, key usage, critical extensions);
//! the CA certificates' own validity is checked here, as Go's verifier
//! does. Bounds are [`super::cert`]'s.

use std::time::Duration;

use p256::ecdsa::VerifyingKey;
use p256::pkcs8::DecodePublicKey;
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage, VerifiedPath};

use super::cert;
use crate::host::time::rfc3339;

/// The annotation holding the leaf certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The annotation holding the intermediate chain (PEM, root last).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER value bytes.
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// A `fulcio` requirement's trust: CA certificates (PEM, one or more) and
/// the identity the certificate must name.
pub struct FulcioRoot<'a> {
    pub ca_pem: &'a [u8],
    pub oidc_issuer: &'a str,
    pub subject_email: &'a str,
}

fn unix(secs: i64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs.max(0) as u64))
}

/// Go's x509 words for webpki's refusals.
fn x509_words(e: &webpki::Error) -> String {
    use webpki::Error as E;
    let t = |u: &UnixTime| rfc3339(u.as_secs() as i64);
    match e {
        E::UnknownIssuer | E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch => {
            "x509: certificate signed by unknown authority".into()
        }
        E::CertExpired { time, not_after } => format!(
            "x509: certificate has expired or is not yet valid: current time {} is after {}",
            t(time),
            t(not_after)
        ),
        E::CertNotValidYet { time, not_before } => format!(
            "x509: certificate has expired or is not yet valid: current time {} is before {}",
            t(time),
            t(not_before)
        ),
        #[allow(deprecated)]
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) => {
            "x509: certificate specifies an incompatible key usage".into()
        }
        other => format!("x509: {other:?}"),
    }
}

/// Verifies the leaf certificate `cert_pem` (with intermediates from
/// `chain_pem`) against `root` at `time` (seconds since the epoch: the
/// Rekor entry's integration time) and returns its public key. Errors are
/// the refusal's words (containers/image's where it has them).
pub fn verify_certificate(
    root: &FulcioRoot<'_>,
    time: i64,
    cert_pem: &[u8],
    chain_pem: Option<&[u8]>,
) -> Result<VerifyingKey, String> {
    let ca_ders = cert::pem_certificates(root.ca_pem)
        .map_err(|e| format!("error loading Fulcio CA certificates: {e}"))?;
    if ca_ders.is_empty() {
        return Err("error loading Fulcio CA certificates".into());
    }
    let ca_ders: Vec<CertificateDer<'_>> = ca_ders.into_iter().map(CertificateDer::from).collect();
    let mut anchors: Vec<TrustAnchor<'_>> = Vec::with_capacity(ca_ders.len());
    let mut ca_validity = Vec::with_capacity(ca_ders.len());
    for der in &ca_ders {
        let anchor = webpki::anchor_from_trusted_cert(der)
            .map_err(|e| format!("error loading Fulcio CA certificates: {e:?}"))?;
        let fields =
            cert::parse(der).map_err(|e| format!("error loading Fulcio CA certificates: {e}"))?;
        anchors.push(anchor);
        ca_validity.push((fields.not_before, fields.not_after));
    }

    let intermediates: Vec<CertificateDer<'_>> = match chain_pem {
        Some(pem) if !pem.is_empty() => {
            let mut chain = cert::pem_certificates(pem)
                .map_err(|e| format!("loading certificate chain: {e}"))?;
            // The last one is the root, which only the policy may name.
            chain.pop();
            chain.into_iter().map(CertificateDer::from).collect()
        }
        _ => Vec::new(),
    };

    let leaf_der = CertificateDer::from(
        cert::single_pem_certificate(cert_pem)
            .map_err(|e| format!("parsing leaf certificate: {e}"))?,
    );
    let leaf_fields =
        cert::parse(&leaf_der).map_err(|e| format!("parsing leaf certificate: {e}"))?;
    let leaf = EndEntityCert::try_from(&leaf_der)
        .map_err(|e| format!("parsing leaf certificate: {e:?}"))?;
    let at = unix(time);
    // webpki does not check a trust anchor's validity; Go's verifier
    // does, at the same time as the rest of the chain.
    let anchor_valid = |path: &VerifiedPath<'_>| -> Result<(), webpki::Error> {
        let Some(i) = anchors.iter().position(|a| std::ptr::eq(a, path.anchor())) else {
            return Ok(());
        };
        let (not_before, not_after) = ca_validity[i];
        if time < not_before {
            return Err(webpki::Error::CertNotValidYet {
                time: at,
                not_before: unix(not_before),
            });
        }
        if time > not_after {
            return Err(webpki::Error::CertExpired {
                time: at,
                not_after: unix(not_after),
            });
        }
        Ok(())
    };
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        at,
        // Go accepts a leaf that names no usages at all.
        KeyUsage::required_if_present(EKU_CODE_SIGNING),
        None,
        Some(&anchor_valid),
    )
    .map_err(|e| format!("veryfing leaf certificate failed: {}", x509_words(&e)))?;

    let issuer = match leaf_fields.oidc_issuer {
        None => return Err("Fulcio certificate is missing the issuer extension".into()),
        Some(issuer) => issuer?,
    };
    if issuer != root.oidc_issuer {
        return Err(format!("Unexpected Fulcio OIDC issuer {issuer:?}"));
    }
    if !leaf_fields.emails.iter().any(|e| e == root.subject_email) {
        let got: Vec<String> = leaf_fields
            .emails
            .iter()
            .map(|e| format!("{e:?}"))
            .collect();
        return Err(format!(
            "Required email {} not found (got []string{{{}}})",
            root.subject_email,
            got.join(", ")
        ));
    }
    VerifyingKey::from_public_key_der(&leaf_fields.spki)
        .map_err(|e| format!("Fulcio certificate key is not ECDSA P-256: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &[u8] = include_bytes!("testdata/ca.pem");
    const OTHER_CA: &[u8] = include_bytes!("testdata/other-ca.pem");
    const INTER: &[u8] = include_bytes!("testdata/inter.pem");
    const LEAF: &[u8] = include_bytes!("testdata/leaf.pem");
    const LEAF_VIA_INTER: &[u8] = include_bytes!("testdata/leaf-via-inter.pem");

    fn root<'a>(ca: &'a [u8], issuer: &'a str, email: &'a str) -> FulcioRoot<'a> {
        FulcioRoot {
            ca_pem: ca,
            oidc_issuer: issuer,
            subject_email: email,
        }
    }

    /// A time inside the leaf's validity.
    fn during(leaf: &[u8]) -> (i64, i64, i64) {
        let f = cert::parse(&cert::single_pem_certificate(leaf).unwrap()).unwrap();
        (f.not_before + 60, f.not_before, f.not_after)
    }

    #[test]
    fn leaf_of_the_ca_verifies_and_each_check_refuses() {
        let good = root(CA, "https://issuer.example.com", "signer@example.com");
        let (t, not_before, not_after) = during(LEAF);
        let key = verify_certificate(&good, t, LEAF, None).unwrap();
        let expected = {
            use p256::pkcs8::DecodePrivateKey;
            p256::SecretKey::from_pkcs8_pem(
                std::str::from_utf8(include_bytes!("testdata/leaf.key")).unwrap(),
            )
            .unwrap()
        };
        assert_eq!(key, VerifyingKey::from(expected.public_key()));

        let e = verify_certificate(
            &root(CA, "https://other", "signer@example.com"),
            t,
            LEAF,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "Unexpected Fulcio OIDC issuer \"https://issuer.example.com\""
        );
        let e = verify_certificate(
            &root(CA, "https://issuer.example.com", "x@example.com"),
            t,
            LEAF,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "Required email x@example.com not found (got []string{\"signer@example.com\"})"
        );
        let e = verify_certificate(
            &root(OTHER_CA, "https://issuer.example.com", "signer@example.com"),
            t,
            LEAF,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "veryfing leaf certificate failed: x509: certificate signed by unknown authority"
        );
        let e = verify_certificate(&good, not_after + 1, LEAF, None).unwrap_err();
        assert!(
            e.contains("x509: certificate has expired or is not yet valid: current time"),
            "{e}"
        );
        assert!(e.contains(" is after "), "{e}");
        let e = verify_certificate(&good, not_before - 1, LEAF, None).unwrap_err();
        assert!(e.contains(" is before "), "{e}");
        // The CA itself is no leaf.
        assert!(verify_certificate(&good, t, CA, None).is_err());
    }

    #[test]
    fn intermediates_come_from_the_chain_annotation() {
        let good = root(CA, "https://issuer.example.com", "signer@example.com");
        let (t, _, _) = during(LEAF_VIA_INTER);
        assert!(verify_certificate(&good, t, LEAF_VIA_INTER, None).is_err());
        let chain = [INTER, CA].concat();
        verify_certificate(&good, t, LEAF_VIA_INTER, Some(&chain)).unwrap();
        // The chain's last certificate (a root) is never trusted by itself.
        let chain = [INTER, OTHER_CA].concat();
        verify_certificate(&good, t, LEAF_VIA_INTER, Some(&chain)).unwrap();
        let untrusted = root(OTHER_CA, "https://issuer.example.com", "signer@example.com");
        let chain = [CA, INTER].concat();
        assert!(verify_certificate(&untrusted, t, LEAF_VIA_INTER, Some(&chain)).is_err());
        // An intermediate trusted by the policy is a trust anchor too.
        let both = [CA, INTER].concat();
        let inter_root = root(&both, "https://issuer.example.com", "signer@example.com");
        verify_certificate(&inter_root, t, LEAF_VIA_INTER, None).unwrap();
    }
}
