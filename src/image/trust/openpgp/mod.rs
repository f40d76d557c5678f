//! A small, bounded OpenPGP reader: enough to verify the "simple signing"
//! signatures containers/image makes with `gpg --sign` (a signed message
//! holding the JSON payload) against the public keys of a policy's
//! `signedBy` requirement. It verifies; it never signs, decrypts or
//! judges trust (the keyring given is the trust: a key in it is trusted).
//!
//! What it reads:
//! - armored (`-----BEGIN PGP ...`) or binary input;
//! - packets in the old and the new format, partial body lengths too;
//! - compressed data (uncompressed, ZIP, ZLIB; not BZip2), one level deep
//!   as gpg writes it (two levels at most);
//! - a message of one literal data packet and exactly one version 4
//!   signature (one-pass or not), as containers/image requires one;
//! - signature types binary (0x00) and canonical text (0x01);
//! - public keys version 4: RSA (PKCS#1 v1.5) and EdDSA Ed25519 (the
//!   legacy algorithm 22 gpg 2.2 makes, and algorithm 27); others skipped;
//! - hashes SHA-224/256/384/512. SHA-1 and MD5 signatures are refused.
//!
//! Key expiry and revocation are checked: a key whose newest valid
//! self-signature (or subkey binding) says it has expired, or that a valid
//! revocation signature in the keyring revokes (with its primary key, for
//! a subkey), refuses the signature with a message saying so. Self-
//! signatures are verified before they count. Not checked: key flags (a
//! subkey in the keyring verifies as its primary does); a subkey without
//! a binding signature still verifies.
//!
//! Bounds (outside input): a signature file at most [`MAX_SIGNATURE_BYTES`],
//! its decompressed content at most [`MAX_PAYLOAD_BYTES`], a keyring file
//! at most [`MAX_KEYRING_BYTES`] and [`MAX_KEYRING_KEYS`] usable keys.

mod key;
mod packet;

use std::io::Read;

use key::KeyMaterial;
pub use key::Keyring;
use packet::{Packet, Packets, Reader};

/// The most hutch reads of one signature file (gpg's are ~400 bytes).
pub const MAX_SIGNATURE_BYTES: u64 = 1 << 20;
/// The most a signature's compressed content may expand to.
pub const MAX_PAYLOAD_BYTES: u64 = 4 << 20;
/// The most hutch reads of one keyring file (`keyPath`, `keyPaths`).
pub const MAX_KEYRING_BYTES: u64 = 4 << 20;
/// The most usable keys one requirement's keyrings may hold.
pub const MAX_KEYRING_KEYS: usize = 1000;
/// Compressed packets inside compressed packets, at most.
const MAX_NESTING: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgpError {
    #[error("invalid ASCII armor: {0}")]
    Armor(String),
    #[error("malformed OpenPGP data: {0}")]
    Malformed(String),
    #[error("unsupported OpenPGP data: {0}")]
    Unsupported(String),
    #[error("signature by key {0} does not verify with any key of the requirement")]
    NoKey(String),
    #[error("the signature of key {0} expired")]
    Expired(String),
    #[error("the key {0} that made the signature expired at {1}")]
    KeyExpired(String, String),
    #[error("the key {0} that made the signature is revoked{1}")]
    KeyRevoked(String, String),
}

/// A verified signed message: its content and who signed it (the issuer
/// fingerprint, or key id, the signature names; upper-case hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub content: Vec<u8>,
    pub signer: String,
}

/// A version 4 signature packet, parsed.
struct Signature {
    sig_type: u8,
    pk_algo: u8,
    hash_algo: u8,
    /// Version through the hashed subpackets: what the hash covers.
    hashed_part: Vec<u8>,
    left16: [u8; 2],
    issuer: String,
    created: Option<u32>,
    expires_after: Option<u32>,
    /// Key expiration time (self-signatures): seconds after key creation.
    key_expires_after: Option<u32>,
    /// Reason for revocation (revocation signatures): its text.
    reason: Option<String>,
    /// The algorithm's values: RSA `s`; EdDSA `r`, `s` (or one 64-byte
    /// value for algorithm 27).
    values: Vec<Vec<u8>>,
}

/// Verifies the signed message `input` (a signature file) with `keyring`
/// at time `now` (seconds since the epoch), returning its content.
pub fn verify(keyring: &Keyring, input: &[u8], now: u64) -> Result<Verified, PgpError> {
    if input.len() as u64 > MAX_SIGNATURE_BYTES {
        return Err(PgpError::Malformed(format!(
            "larger than {MAX_SIGNATURE_BYTES} bytes"
        )));
    }
    let binary = packet::dearmor(input)?;
    let mut literal = None;
    let mut signatures = Vec::new();
    collect(&binary, 0, &mut literal, &mut signatures)?;
    let (_format, content) =
        literal.ok_or_else(|| PgpError::Malformed("no literal data".into()))?;
    if signatures.len() != 1 {
        return Err(PgpError::Malformed(format!(
            "Unexpected GPG signature count {}",
            signatures.len()
        )));
    }
    let sig = parse_signature(&signatures.remove(0).body)?;
    let signed: std::borrow::Cow<'_, [u8]> = match sig.sig_type {
        0x00 => content.as_slice().into(),
        0x01 => canonical_text(&content).into(),
        t => {
            return Err(PgpError::Unsupported(format!(
                "signature type {t:#04x} over a message"
            )));
        }
    };
    let mut trailer = Vec::with_capacity(6);
    trailer.extend_from_slice(&[4, 0xff]);
    trailer.extend_from_slice(&(sig.hashed_part.len() as u32).to_be_bytes());
    let digest = hash(sig.hash_algo, &[&signed, &sig.hashed_part, &trailer])?;
    if digest[..2] != sig.left16 {
        return Err(PgpError::NoKey(sig.issuer.clone()));
    }
    let mut verifying = keyring
        .keys
        .iter()
        .filter(|k| verifies(&k.material, &sig, &digest));
    let Some(key) = verifying.next() else {
        return Err(PgpError::NoKey(sig.issuer));
    };
    if let Some(reason) = &key.revoked {
        let reason = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        return Err(PgpError::KeyRevoked(sig.issuer, reason));
    }
    if let Some(expires) = key.expires
        && expires <= now
    {
        return Err(PgpError::KeyExpired(
            sig.issuer,
            crate::host::time::rfc3339(expires as i64),
        ));
    }
    if let (Some(created), Some(after)) = (sig.created, sig.expires_after)
        && after != 0
        && u64::from(created) + u64::from(after) <= now
    {
        return Err(PgpError::Expired(sig.issuer));
    }
    Ok(Verified {
        content,
        signer: sig.issuer,
    })
}

/// The literal data and signature packets of a message, through
/// compressed packets.
fn collect(
    data: &[u8],
    depth: usize,
    literal: &mut Option<(u8, Vec<u8>)>,
    signatures: &mut Vec<Packet>,
) -> Result<(), PgpError> {
    for p in Packets::new(data) {
        let p = p?;
        match p.tag {
            packet::TAG_COMPRESSED => {
                if depth >= MAX_NESTING {
                    return Err(PgpError::Malformed(
                        "compressed data nested too deep".into(),
                    ));
                }
                let inner = decompress(&p.body)?;
                collect(&inner, depth + 1, literal, signatures)?;
            }
            packet::TAG_LITERAL => {
                if literal.is_some() {
                    return Err(PgpError::Malformed(
                        "more than one literal data packet".into(),
                    ));
                }
                let mut r = Reader::new(&p.body);
                let format = r.u8("literal format")?;
                let name_len = usize::from(r.u8("literal file name length")?);
                r.take(name_len, "literal file name")?;
                r.u32("literal date")?;
                *literal = Some((format, r.rest().to_vec()));
            }
            packet::TAG_SIGNATURE => {
                if signatures.len() >= 16 {
                    return Err(PgpError::Malformed("too many signatures".into()));
                }
                signatures.push(p);
            }
            packet::TAG_ONE_PASS_SIGNATURE | packet::TAG_MARKER => {}
            other => {
                return Err(PgpError::Unsupported(format!(
                    "packet type {other} in a signed message"
                )));
            }
        }
    }
    Ok(())
}

fn decompress(body: &[u8]) -> Result<Vec<u8>, PgpError> {
    let (&algo, rest) = body
        .split_first()
        .ok_or_else(|| PgpError::Malformed("empty compressed packet".into()))?;
    let reader: Box<dyn Read + '_> = match algo {
        0 => Box::new(rest),
        1 => Box::new(flate2::read::DeflateDecoder::new(rest)),
        2 => Box::new(flate2::read::ZlibDecoder::new(rest)),
        other => {
            return Err(PgpError::Unsupported(format!(
                "compression algorithm {other}"
            )));
        }
    };
    let mut out = Vec::new();
    reader
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| PgpError::Malformed(format!("compressed data: {e}")))?;
    if out.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(PgpError::Malformed(format!(
            "compressed data expands beyond {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    Ok(out)
}

fn parse_signature(body: &[u8]) -> Result<Signature, PgpError> {
    let mut r = Reader::new(body);
    let version = r.u8("signature version")?;
    if version != 4 {
        return Err(PgpError::Unsupported(format!(
            "signature version {version}"
        )));
    }
    let sig_type = r.u8("signature type")?;
    let pk_algo = r.u8("signature algorithm")?;
    let hash_algo = r.u8("signature hash")?;
    let hashed_len = r.u16("hashed subpackets length")?;
    let hashed = r.take(hashed_len, "hashed subpackets")?;
    let hashed_part = body[..r.at].to_vec();
    let unhashed_len = r.u16("unhashed subpackets length")?;
    let unhashed = r.take(unhashed_len, "unhashed subpackets")?;
    let left = r.take(2, "hash prefix")?;
    let mut sig = Signature {
        sig_type,
        pk_algo,
        hash_algo,
        hashed_part,
        left16: [left[0], left[1]],
        issuer: String::new(),
        created: None,
        expires_after: None,
        key_expires_after: None,
        reason: None,
        values: Vec::new(),
    };
    subpackets(hashed, true, &mut sig)?;
    // Issuer subpackets may sit in the unhashed area (gpg puts the key id
    // there); they only pick the key, the verification decides.
    subpackets(unhashed, false, &mut sig)?;
    if sig.issuer.is_empty() {
        sig.issuer = "(unknown)".into();
    }
    match pk_algo {
        key::ALGO_RSA | key::ALGO_RSA_SIGN => sig.values.push(r.mpi("RSA signature")?.to_vec()),
        key::ALGO_EDDSA_LEGACY => {
            sig.values.push(r.mpi("EdDSA r")?.to_vec());
            sig.values.push(r.mpi("EdDSA s")?.to_vec());
        }
        key::ALGO_ED25519 => sig.values.push(r.take(64, "Ed25519 signature")?.to_vec()),
        other => {
            return Err(PgpError::Unsupported(format!(
                "public-key algorithm {other}"
            )));
        }
    }
    Ok(sig)
}

fn subpackets(mut data: &[u8], hashed: bool, sig: &mut Signature) -> Result<(), PgpError> {
    while !data.is_empty() {
        let mut r = Reader::new(data);
        let o1 = r.u8("subpacket length")?;
        let len = match o1 {
            0..=191 => usize::from(o1),
            192..=254 => {
                ((usize::from(o1) - 192) << 8) + usize::from(r.u8("subpacket length")?) + 192
            }
            255 => r.u32("subpacket length")? as usize,
        };
        let body = r.take(len, "subpacket")?;
        data = &data[r.at..];
        let (&kind, value) = body
            .split_first()
            .ok_or_else(|| PgpError::Malformed("empty subpacket".into()))?;
        let critical = kind & 0x80 != 0;
        match kind & 0x7f {
            2 if hashed => sig.created = value.try_into().ok().map(u32::from_be_bytes),
            3 if hashed => sig.expires_after = value.try_into().ok().map(u32::from_be_bytes),
            9 if hashed => {
                sig.key_expires_after = value.try_into().ok().map(u32::from_be_bytes);
            }
            // A revocation code, then the reason as UTF-8 text.
            29 if hashed && !value.is_empty() => {
                sig.reason = Some(String::from_utf8_lossy(&value[1..]).into_owned());
            }
            16 if sig.issuer.is_empty() => sig.issuer = hex_upper(value),
            // Issuer fingerprint: a version byte, then the fingerprint.
            33 if value.len() > 1 => sig.issuer = hex_upper(&value[1..]),
            // Unknown critical subpackets make a signature invalid (RFC
            // 9580 §5.2.3.7); those hutch does not act on but knows are
            // harmless (key flags, preferences, notations, policy URI,
            // signer's user id, features) are let through.
            2 | 3 | 4 | 5 | 7 | 9 | 11 | 16 | 20 | 21 | 22 | 23 | 25 | 26 | 27 | 28 | 29 | 30
            | 33 => {}
            _ if critical && hashed => {
                return Err(PgpError::Unsupported(format!(
                    "critical signature subpacket {}",
                    kind & 0x7f
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Text-mode signatures cover the text with CRLF line ends.
fn canonical_text(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    let mut prev = 0u8;
    for &b in text {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn hash(algo: u8, parts: &[&[u8]]) -> Result<Vec<u8>, PgpError> {
    fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut h = D::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().to_vec()
    }
    Ok(match algo {
        8 => run::<sha2::Sha256>(parts),
        9 => run::<sha2::Sha384>(parts),
        10 => run::<sha2::Sha512>(parts),
        11 => run::<sha2::Sha224>(parts),
        1 | 2 => {
            return Err(PgpError::Unsupported(
                "MD5 and SHA-1 signatures are refused".into(),
            ));
        }
        other => return Err(PgpError::Unsupported(format!("hash algorithm {other}"))),
    })
}

fn verifies(key: &KeyMaterial, sig: &Signature, digest: &[u8]) -> bool {
    match (key, sig.pk_algo) {
        (KeyMaterial::Rsa(k), key::ALGO_RSA | key::ALGO_RSA_SIGN) => {
            use rsa::traits::PublicKeyParts as _;
            use rsa::{Pkcs1v15Sign, sha2 as s};
            let scheme = match sig.hash_algo {
                8 => Pkcs1v15Sign::new::<s::Sha256>(),
                9 => Pkcs1v15Sign::new::<s::Sha384>(),
                10 => Pkcs1v15Sign::new::<s::Sha512>(),
                11 => Pkcs1v15Sign::new::<s::Sha224>(),
                _ => return false,
            };
            let Some(value) = left_pad(&sig.values[0], k.size()) else {
                return false;
            };
            k.verify(scheme, digest, &value).is_ok()
        }
        (KeyMaterial::Ed25519(k), key::ALGO_EDDSA_LEGACY | key::ALGO_ED25519) => {
            let raw: Vec<u8> = if sig.values.len() == 2 {
                match (left_pad(&sig.values[0], 32), left_pad(&sig.values[1], 32)) {
                    (Some(r), Some(s)) => [r, s].concat(),
                    _ => return false,
                }
            } else {
                sig.values[0].clone()
            };
            let Ok(bytes) = <[u8; 64]>::try_from(raw.as_slice()) else {
                return false;
            };
            // OpenPGP signs the digest with EdDSA, not the message itself.
            k.verify_strict(digest, &ed25519_dalek::Signature::from_bytes(&bytes))
                .is_ok()
        }
        _ => false,
    }
}

fn left_pad(v: &[u8], len: usize) -> Option<Vec<u8>> {
    if v.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - v.len()];
    out.extend_from_slice(v);
    Some(out)
}

#[cfg(test)]
mod tests;
