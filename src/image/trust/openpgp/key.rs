//! Public keys from a keyring (`gpg --export`, binary or `--armor`): the
//! version 4 primary keys and subkeys whose algorithm hutch verifies
//! (RSA, EdDSA Ed25519). Packets around them (user ids, self-signatures,
//! trust packets) and keys of other algorithms (encryption subkeys,
//! DSA, ECDSA) are skipped, not refused: a keyring holds them routinely.
//!
//! Self-signatures (user id certifications, direct-key signatures, subkey
//! bindings) and revocations that the primary key verifies give each key
//! its expiry (the newest self-signature's) and revoked state; those that
//! do not verify are ignored.

use rsa::BoxedUint;

use super::packet::{
    self, Packets, Reader, TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY, TAG_SIGNATURE, TAG_USER_ID,
};
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
    /// When it expires (seconds since the epoch), `None` for never.
    pub expires: Option<u64>,
    /// Revoked, with the reason given (possibly empty).
    pub revoked: Option<String>,
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

/// A key packet being read, with what its signatures need.
struct KeyBlock {
    /// Its index in the keyring, `None` for a kind hutch does not verify.
    index: Option<usize>,
    /// The packet body (what self-signatures hash).
    body: Vec<u8>,
    created: u32,
    /// The creation time of the self-signature that set its expiry.
    newest_self_sig: Option<u32>,
}

impl Keyring {
    /// Adds the usable keys of `input` (binary or armored). A framing
    /// error is an error; a key of an unsupported kind is skipped.
    pub fn add(&mut self, input: &[u8]) -> Result<(), PgpError> {
        let binary = packet::dearmor(input)?;
        let mut primary: Option<KeyBlock> = None;
        let mut subkey: Option<KeyBlock> = None;
        let mut user_id: Option<Vec<u8>> = None;
        // Keys of the current primary's block: revoking or expiring the
        // primary does the same to its subkeys.
        let mut block: Vec<usize> = Vec::new();
        for p in Packets::new(&binary) {
            let p = p?;
            match p.tag {
                TAG_PUBLIC_KEY | TAG_PUBLIC_SUBKEY => {
                    let is_sub = p.tag == TAG_PUBLIC_SUBKEY;
                    if !is_sub {
                        self.close_block(primary.as_ref(), &block);
                        block.clear();
                        user_id = None;
                    }
                    let parsed = parse_key(&p.body)?;
                    let mut index = None;
                    if let Some((material, _)) = parsed
                        .as_ref()
                        .and_then(|(m, c)| m.as_ref().map(|m| (m.clone(), *c)))
                    {
                        if self.keys.len() >= MAX_KEYRING_KEYS {
                            return Err(PgpError::Malformed(format!(
                                "more than {MAX_KEYRING_KEYS} keys"
                            )));
                        }
                        self.keys.push(PublicKey {
                            material,
                            subkey: is_sub,
                            expires: None,
                            revoked: None,
                        });
                        index = Some(self.keys.len() - 1);
                        block.push(self.keys.len() - 1);
                    }
                    let kb = parsed.map(|(_, created)| KeyBlock {
                        index,
                        body: p.body.clone(),
                        created,
                        newest_self_sig: None,
                    });
                    if is_sub {
                        subkey = kb;
                    } else {
                        primary = kb;
                        subkey = None;
                    }
                }
                TAG_USER_ID => {
                    user_id = Some(p.body.clone());
                    subkey = None;
                }
                TAG_SIGNATURE => {
                    if let Some(pk) = primary.as_mut() {
                        self.self_signature(&p.body, pk, subkey.as_mut(), user_id.as_deref());
                    }
                }
                _ => {}
            }
        }
        self.close_block(primary.as_ref(), &block);
        Ok(())
    }

    /// A primary key's revocation and expiry reach its subkeys.
    fn close_block(&mut self, primary: Option<&KeyBlock>, block: &[usize]) {
        let Some(i) = primary.and_then(|p| p.index) else {
            return;
        };
        let (revoked, expires) = (self.keys[i].revoked.clone(), self.keys[i].expires);
        for &k in block {
            if self.keys[k].revoked.is_none() {
                self.keys[k].revoked.clone_from(&revoked);
            }
            self.keys[k].expires = match (self.keys[k].expires, expires) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// Applies one signature packet after a key: a self-signature or a
    /// revocation the primary key verifies; anything else is ignored.
    fn self_signature(
        &mut self,
        body: &[u8],
        primary: &mut KeyBlock,
        subkey: Option<&mut KeyBlock>,
        user_id: Option<&[u8]>,
    ) {
        let Some(pi) = primary.index else { return };
        let Ok(sig) = super::parse_signature(body) else {
            return;
        };
        let key_prefix = |b: &[u8]| {
            let mut v = vec![0x99];
            v.extend_from_slice(&(b.len() as u16).to_be_bytes());
            v.extend_from_slice(b);
            v
        };
        let mut hashed = key_prefix(&primary.body);
        let target = match (sig.sig_type, subkey, user_id) {
            (0x20 | 0x1f, _, _) => None,
            (0x10..=0x13, None, Some(uid)) => {
                hashed.push(0xb4);
                hashed.extend_from_slice(&(uid.len() as u32).to_be_bytes());
                hashed.extend_from_slice(uid);
                None
            }
            (0x18 | 0x28, Some(sub), _) => {
                hashed.extend_from_slice(&key_prefix(&sub.body));
                Some(sub)
            }
            _ => return,
        };
        let mut trailer = vec![4, 0xff];
        trailer.extend_from_slice(&(sig.hashed_part.len() as u32).to_be_bytes());
        let Ok(digest) = super::hash(sig.hash_algo, &[&hashed, &sig.hashed_part, &trailer]) else {
            return;
        };
        if digest[..2] != sig.left16 || !super::verifies(&self.keys[pi].material, &sig, &digest) {
            return;
        }
        let reason = || sig.reason.clone().unwrap_or_default();
        match (sig.sig_type, target) {
            (0x20, _) => self.keys[pi].revoked = Some(reason()),
            (0x28, Some(sub)) => {
                if let Some(si) = sub.index {
                    self.keys[si].revoked = Some(reason());
                }
            }
            (_, target) => {
                // The newest self-signature says when the key expires.
                let kb = match target {
                    Some(sub) => sub,
                    None => primary,
                };
                let created = sig.created.unwrap_or(0);
                if kb.newest_self_sig.is_some_and(|n| n > created) {
                    return;
                }
                kb.newest_self_sig = Some(created);
                if let Some(i) = kb.index {
                    self.keys[i].expires = sig
                        .key_expires_after
                        .filter(|s| *s != 0)
                        .map(|s| u64::from(kb.created) + u64::from(s));
                }
            }
        }
    }
}

/// The key material of a version 4 public-key packet body (`None` for a
/// kind hutch does not verify with) and its creation time; `None` for
/// another version.
fn parse_key(body: &[u8]) -> Result<Option<(Option<KeyMaterial>, u32)>, PgpError> {
    let mut r = Reader::new(body);
    let version = r.u8("key version")?;
    if version != 4 {
        return Ok(None);
    }
    let created = r.u32("key creation time")?;
    key_material(&mut r).map(|m| Some((m, created)))
}

fn key_material(r: &mut Reader<'_>) -> Result<Option<KeyMaterial>, PgpError> {
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
