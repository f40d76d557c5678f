//! Rekor signed entry timestamps (SETs) as cosign attaches them to a
//! signature (the `dev.sigstore.cosign/bundle` annotation): proof, signed
//! by the Rekor log's key, that the log holds a `hashedrekord` entry for
//! this payload, signature and key or certificate, and since when
//! (`integratedTime`). Verified offline with the log's public key from the
//! policy, as containers/image does (`rekor_set.go`): the SET's signature
//! is ECDSA over the SHA-256 of the canonical JSON (RFC 8785) of its
//! `Payload`.
//!
//! Bounds (outside input): a SET at most [`MAX_SET_BYTES`]; its entry body
//! at most the same.

use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{Map, Value, json};
use sha2::Digest;

/// The annotation holding the SET.
pub const SET_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// The most hutch reads of one SET (real ones are ~3 KiB; the entry body
/// holds the certificate, base64 twice).
pub const MAX_SET_BYTES: usize = 256 << 10;
/// The `hashedrekord` version containers/image accepts.
const HASHEDREKORD_VERSION: &str = "0.0.1";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What a verified SET says: when the log integrated the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Seconds since the epoch.
    pub integrated_time: i64,
}

/// The fields of a SET's `Payload`, which the log signed.
struct Payload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    log_id: String,
}

impl Payload {
    /// RFC 8785 canonical JSON of the four fields: keys sorted by UTF-16
    /// code units (all ASCII here), integers as plain decimals, strings
    /// escaped as JSON.stringify escapes them, which serde_json's
    /// serialiser does too.
    fn canonical(&self) -> Vec<u8> {
        let s = |v: &str| serde_json::to_string(v).unwrap_or_default();
        format!(
            "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
            s(&self.body),
            self.integrated_time,
            s(&self.log_id),
            self.log_index
        )
        .into_bytes()
    }
}

fn invalid(why: impl std::fmt::Display) -> String {
    why.to_string()
}

/// Exactly `keys` in `m`, else containers/image's strictness error.
fn exact_fields(m: &Map<String, Value>, keys: &[&str], what: &str) -> Result<(), String> {
    if let Some(k) = m.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(format!(
            "JSON object contains unknown field {k:?} in {what}"
        ));
    }
    if let Some(k) = keys.iter().find(|k| !m.contains_key(**k)) {
        return Err(format!("JSON object is missing field {k:?} in {what}"));
    }
    Ok(())
}

/// Integers beyond 2^53 have no exact canonical (ES6 number) form.
fn safe_int(v: &Value, what: &str) -> Result<i64, String> {
    v.as_i64()
        .filter(|n| n.unsigned_abs() <= 1 << 53)
        .ok_or_else(|| format!("{what} is not an integer"))
}

fn parse_set(set: &[u8]) -> Result<(Vec<u8>, Payload), String> {
    if set.len() > MAX_SET_BYTES {
        return Err(format!("Rekor SET is larger than {MAX_SET_BYTES} bytes"));
    }
    let v: Value = serde_json::from_slice(set).map_err(invalid)?;
    let top = v.as_object().ok_or("Rekor SET is not a JSON object")?;
    exact_fields(top, &["SignedEntryTimestamp", "Payload"], "Rekor SET")?;
    let set_sig = top["SignedEntryTimestamp"]
        .as_str()
        .ok_or("SignedEntryTimestamp is not a string")
        .and_then(|s| {
            B64.decode(s)
                .map_err(|_| "SignedEntryTimestamp is not base64")
        })?;
    let p = top["Payload"]
        .as_object()
        .ok_or("Rekor SET Payload is not an object")?;
    exact_fields(
        p,
        &["body", "integratedTime", "logIndex", "logID"],
        "Rekor SET Payload",
    )?;
    let payload = Payload {
        body: p["body"].as_str().ok_or("body is not a string")?.to_owned(),
        integrated_time: safe_int(&p["integratedTime"], "integratedTime")?,
        log_index: safe_int(&p["logIndex"], "logIndex")?,
        log_id: p["logID"]
            .as_str()
            .ok_or("logID is not a string")?
            .to_owned(),
    };
    Ok((set_sig, payload))
}

/// The DER inside one PEM block, whatever its type.
fn pem_der(text: &[u8], what: &str) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(text).map_err(|_| format!("{what} is not in PEM format"))?;
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| format!("{what} is not in PEM format"))?;
    let after = &text[start + "-----BEGIN ".len()..];
    let (label, body) = after
        .split_once("-----")
        .ok_or_else(|| format!("{what} is not in PEM format"))?;
    let (b64, tail) = body
        .split_once(&format!("-----END {label}-----"))
        .ok_or_else(|| format!("{what} is not in PEM format"))?;
    if !tail.trim().is_empty() {
        return Err(format!("{what} has trailing data"));
    }
    let b64: String = b64
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.split_whitespace())
        .collect();
    B64.decode(b64)
        .map_err(|_| format!("{what} is not in PEM format"))
}

/// Verifies `set` with the log's `rekor_key` and checks that its entry is
/// for `key_or_cert_pem` (the certificate annotation, or the requirement's
/// public key), the base64 signature annotation `b64_signature` and
/// `payload`. Errors are containers/image's words.
pub fn verify(
    rekor_key: &VerifyingKey,
    set: &[u8],
    key_or_cert_pem: &[u8],
    b64_signature: &str,
    payload: &[u8],
) -> Result<Entry, String> {
    let (set_sig, fields) = parse_set(set)?;
    let canonical = fields.canonical();
    let verified = Signature::from_der(&set_sig)
        .ok()
        .is_some_and(|sig| rekor_key.verify(&canonical, &sig).is_ok());
    if !verified {
        return Err("cryptographic signature verification of Rekor SET failed".into());
    }
    if fields.body.len() > MAX_SET_BYTES {
        return Err("the body of a Rekor SET payload is too large".into());
    }
    let body = B64
        .decode(&fields.body)
        .map_err(|e| format!("decoding the body of a Rekor SET payload: {e}"))?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| format!("decoding the body of a Rekor SET payload: {e}"))?;
    if body.get("kind").and_then(Value::as_str) != Some("hashedrekord") {
        return Err("decoding the body of a Rekor SET payload: not a hashedrekord entry".into());
    }
    match body.get("apiVersion").and_then(Value::as_str) {
        None => return Err("missing Rekor SET Payload API version".into()),
        Some(HASHEDREKORD_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "unsupported Rekor SET Payload hashedrekord version {v:?}"
            ));
        }
    }
    let spec = body.get("spec");
    let field = |path: &[&str]| -> Result<&Value, String> {
        let mut v = spec.ok_or("Missing \"spec\" field in hashedrekord")?;
        for (i, k) in path.iter().enumerate() {
            v = v.get(*k).ok_or_else(|| {
                format!("Missing {:?} field in hashedrekord", path[..=i].join("."))
            })?;
        }
        Ok(v)
    };
    let b64_field = |path: &[&str]| -> Result<Vec<u8>, String> {
        let s = field(path)?
            .as_str()
            .ok_or_else(|| format!("{:?} in hashedrekord is not a string", path.join(".")))?;
        B64.decode(s)
            .map_err(|e| format!("{:?} in hashedrekord: {e}", path.join(".")))
    };

    let logged_key = b64_field(&["signature", "publicKey", "content"])?;
    let logged_key = pem_der(&logged_key, "publicKey in Rekor SET")?;
    let ours = pem_der(
        key_or_cert_pem,
        "public key or cert to be matched against publicKey in Rekor SET",
    )?;
    if logged_key != ours {
        return Err("publicKey in Rekor SET does not match".into());
    }
    let logged_sig = b64_field(&["signature", "content"])?;
    let our_sig = B64
        .decode(b64_signature.trim())
        .map_err(|e| format!("decoding signature base64: {e}"))?;
    if logged_sig != our_sig {
        return Err("signature in Rekor SET does not match".into());
    }
    let algorithm = field(&["data", "hash", "algorithm"])?;
    if algorithm.as_str() != Some("sha256") {
        return Err(format!(
            "Unexpected \"data.hash.algorithm\" value {algorithm}"
        ));
    }
    let value = field(&["data", "hash", "value"])?
        .as_str()
        .ok_or("Invalid \"data.hash.value\" field in hashedrekord")?;
    let ours = format!("{:x}", sha2::Sha256::digest(payload));
    if !value.eq_ignore_ascii_case(&ours) {
        return Err("payload in Rekor SET does not match".into());
    }
    Ok(Entry {
        integrated_time: fields.integrated_time,
    })
}

/// The SET a Rekor log signed with `log_key` would return for an entry of
/// `payload`, signed as `b64_signature` by `key_or_cert_pem`, integrated
/// at `integrated_time`: what cosign attaches. hutch uses it for offline
/// test logs (it never talks to a Rekor server).
pub fn signed_entry(
    log_key: &SigningKey,
    key_or_cert_pem: &[u8],
    b64_signature: &str,
    payload: &[u8],
    integrated_time: i64,
) -> String {
    let body = json!({
        "apiVersion": HASHEDREKORD_VERSION,
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256",
                              "value": format!("{:x}", sha2::Sha256::digest(payload))}},
            "signature": {"content": b64_signature,
                          "publicKey": {"content": B64.encode(key_or_cert_pem)}},
        },
    });
    let log_id = format!(
        "{:x}",
        sha2::Sha256::digest(super::keys::public_key_pem(log_key.verifying_key()))
    );
    let fields = Payload {
        body: B64.encode(body.to_string()),
        integrated_time,
        log_index: 1,
        log_id,
    };
    let sig: Signature = log_key.sign(&fields.canonical());
    json!({
        "SignedEntryTimestamp": B64.encode(sig.to_der().as_bytes()),
        "Payload": {
            "body": fields.body,
            "integratedTime": fields.integrated_time,
            "logIndex": fields.log_index,
            "logID": fields.log_id,
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_entry_verifies_and_every_mismatch_is_named() {
        let log = super::super::keys::generate().unwrap();
        let signer = super::super::keys::generate().unwrap();
        let pem = super::super::keys::public_key_pem(signer.verifying_key());
        let payload = b"payload";
        let sig = super::super::sigstore::sign(&signer, payload);
        let set = signed_entry(&log, pem.as_bytes(), &sig, payload, 1_700_000_000);
        let ok = verify(
            log.verifying_key(),
            set.as_bytes(),
            pem.as_bytes(),
            &sig,
            payload,
        );
        assert_eq!(
            ok,
            Ok(Entry {
                integrated_time: 1_700_000_000
            })
        );

        let other_log = super::super::keys::generate().unwrap();
        let e = verify(
            other_log.verifying_key(),
            set.as_bytes(),
            pem.as_bytes(),
            &sig,
            payload,
        );
        assert_eq!(
            e.unwrap_err(),
            "cryptographic signature verification of Rekor SET failed"
        );
        let e = verify(
            log.verifying_key(),
            set.as_bytes(),
            pem.as_bytes(),
            &sig,
            b"other",
        );
        assert_eq!(e.unwrap_err(), "payload in Rekor SET does not match");
        let sig2 = super::super::sigstore::sign(&signer, b"other");
        let e = verify(
            log.verifying_key(),
            set.as_bytes(),
            pem.as_bytes(),
            &sig2,
            payload,
        );
        assert_eq!(e.unwrap_err(), "signature in Rekor SET does not match");
        let pem2 = super::super::keys::public_key_pem(log.verifying_key());
        let e = verify(
            log.verifying_key(),
            set.as_bytes(),
            pem2.as_bytes(),
            &sig,
            payload,
        );
        assert_eq!(e.unwrap_err(), "publicKey in Rekor SET does not match");

        // A changed integratedTime breaks the log's signature.
        let mut v: Value = serde_json::from_str(&set).unwrap();
        v["Payload"]["integratedTime"] = json!(1_800_000_000);
        let e = verify(
            log.verifying_key(),
            v.to_string().as_bytes(),
            pem.as_bytes(),
            &sig,
            payload,
        );
        assert_eq!(
            e.unwrap_err(),
            "cryptographic signature verification of Rekor SET failed"
        );
        // Key order and whitespace do not matter: the signature is over
        // the canonical form.
        let mut v: Value = serde_json::from_str(&set).unwrap();
        let p = v["Payload"].take();
        let reordered = format!(
            "{{ \"Payload\" : {{\"logID\":{},\"logIndex\":{},\"integratedTime\":{},\"body\":{}}},\n\"SignedEntryTimestamp\":{} }}",
            p["logID"], p["logIndex"], p["integratedTime"], p["body"], v["SignedEntryTimestamp"]
        );
        verify(
            log.verifying_key(),
            reordered.as_bytes(),
            pem.as_bytes(),
            &sig,
            payload,
        )
        .unwrap();
    }

    #[test]
    fn malformed_sets_are_errors() {
        let log = super::super::keys::generate().unwrap();
        for bad in [
            &b""[..],
            b"[]",
            b"{}",
            br#"{"SignedEntryTimestamp":"","Payload":{}}"#,
            br#"{"SignedEntryTimestamp":"AA==","Payload":{"body":"","integratedTime":1.5,"logIndex":1,"logID":""}}"#,
            br#"{"SignedEntryTimestamp":"AA==","Payload":{"body":"","integratedTime":1,"logIndex":1,"logID":"","x":1}}"#,
        ] {
            assert!(verify(log.verifying_key(), bad, b"", "", b"").is_err());
        }
        let big = vec![b' '; MAX_SET_BYTES + 1];
        assert!(
            verify(log.verifying_key(), &big, b"", "", b"")
                .unwrap_err()
                .contains("larger")
        );
    }
}
