//! Public keys from a keyring (`gpg --export`, binary or `--armor`): the
//! version 4 primary keys and subkeys whose algorithm hutch verifies
//! (RSA, EdDSA Ed25519). Packets around them (user ids, self-signatures,
//! trust packets) and keys of other algorithms (encryption subkeys,
//! DSA, ECDSA) are skipped, not refused: a keyring holds them routinely.

use rsa::BoxedUint;

use super::packet::{self, Packets, Reader, TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY};
use super::{MAX_KEYRING_KEYS, PgpError};

/// Public-key algorithm ids (RFC 9580 §9.1).
pub const ALGO_RSA: u8 = 1;
pub const ALGO_RSA_SIGN: u8 = 3;
pub const ALGO_EDDSA_LEGACY: u8 = 22;
pub const ALGO_ED25519: u8 = 27;

/// The OID of Ed25519 in legacy EdDSA keys (1.3.6.1.4.1.11591.15.1).
const OID_ED25519: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01];

/// The largest RSA modulus accepted (gpg makes at most 4096 bits; 8192
/// leaves room without letting a key file ask for unbounded work).
const MAX_RSA_BITS: usize = 8192;
/// The smallest (gpg has refused to make smaller keys for years).
const MIN_RSA_BITS: usize = 1024;

/// A key material hutch can verify with.
#[derive(Clone)]
pub enum KeyMaterial {
    Rsa(rsa::PublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

#[derive(Clone)]
pub struct PublicKey {
    pub material: KeyMaterial,
    /// Whether it is a subkey (tag 14) rather than a primary key.
    pub subkey: bool,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.material {
            KeyMaterial::Rsa(_) => "RSA",
            KeyMaterial::Ed25519(_) => "Ed25519",
        };
        write!(f, "PublicKey({kind}, subkey: {})", self.subkey)
    }
}

/// The verifying keys of one or more keyrings.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pub keys: Vec<PublicKey>,
}

impl Keyring {
    /// Adds the usable keys of `input` (binary or armored). A framing
    /// error is an error; a key of an unsupported kind is skipped.
    pub fn add(&mut self, input: &[u8]) -> Result<(), PgpError> {
        let binary = packet::dearmor(input)?;
        for p in Packets::new(&binary) {
            let p = p?;
            if p.tag != TAG_PUBLIC_KEY && p.tag != TAG_PUBLIC_SUBKEY {
                continue;
            }
            if let Some(material) = parse_key(&p.body)? {
                if self.keys.len() >= MAX_KEYRING_KEYS {
                    return Err(PgpError::Malformed(format!(
                        "more than {MAX_KEYRING_KEYS} keys"
                    )));
                }
                self.keys.push(PublicKey {
                    material,
                    subkey: p.tag == TAG_PUBLIC_SUBKEY,
                });
            }
        }
        Ok(())
    }
}

/// The key material of a public-key packet body, `None` for a kind hutch
/// does not verify with.
fn parse_key(body: &[u8]) -> Result<Option<KeyMaterial>, PgpError> {
    let mut r = Reader::new(body);
    let version = r.u8("key version")?;
    if version != 4 {
        return Ok(None);
    }
    let _created = r.u32("key creation time")?;
    let algo = r.u8("key algorithm")?;
    match algo {
        ALGO_RSA | ALGO_RSA_SIGN => {
            let n = r.mpi("RSA modulus")?;
            let e = r.mpi("RSA exponent")?;
            if n.len() * 8 > MAX_RSA_BITS || e.len() > 8 || n.is_empty() || e.is_empty() {
                return Err(PgpError::Malformed(format!(
                    "RSA key of unsupported size ({} bits)",
                    n.len() * 8
                )));
            }
            let n = BoxedUint::from_be_slice_vartime(n);
            let e = BoxedUint::from_be_slice_vartime(e);
            let key = rsa::PublicKey::new_with_size_limits(n, e, MIN_RSA_BITS..=MAX_RSA_BITS)
                .map_err(|err| PgpError::Malformed(format!("RSA key: {err}")))?;
            Ok(Some(KeyMaterial::Rsa(key)))
        }
        ALGO_EDDSA_LEGACY => {
            let oid_len = usize::from(r.u8("curve OID length")?);
            let oid = r.take(oid_len, "curve OID")?;
            if oid != OID_ED25519 {
                return Ok(None);
            }
            let point = r.mpi("EdDSA point")?;
            // A native point: 0x40 then the 32-byte public key.
            let raw = match point {
                [0x40, rest @ ..] if rest.len() == 32 => rest,
                _ => {
                    return Err(PgpError::Malformed(
                        "EdDSA point is not 0x40||32 bytes".into(),
                    ));
                }
            };
            ed25519(raw).map(Some)
        }
        ALGO_ED25519 => ed25519(r.take(32, "Ed25519 key")?).map(Some),
        _ => Ok(None),
    }
}

fn ed25519(raw: &[u8]) -> Result<KeyMaterial, PgpError> {
    let bytes: [u8; 32] = raw
        .try_into()
        .map_err(|_| PgpError::Malformed("Ed25519 key is not 32 bytes".into()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map(KeyMaterial::Ed25519)
        .map_err(|e| PgpError::Malformed(format!("Ed25519 key: {e}")))
}
