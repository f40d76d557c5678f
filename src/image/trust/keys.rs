//! Sigstore key files as cosign and containers/image write them: a public
//! key is a PEM `PUBLIC KEY` (SubjectPublicKeyInfo); a private key is a PEM
//! `ENCRYPTED COSIGN PRIVATE KEY` (or `ENCRYPTED SIGSTORE PRIVATE KEY`,
//! the newer name) whose body is go-tuf's `encrypted` JSON: the PKCS#8 DER
//! key sealed by NaCl secretbox under a key derived by scrypt from the
//! passphrase. Only ECDSA P-256, the type cosign generates.

use base64::Engine as _;
use crypto_secretbox::aead::{Aead, KeyInit};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde::{Deserialize, Serialize};

/// The most hutch reads of a key file: PEM keys are a few hundred bytes.
pub const MAX_KEY_BYTES: u64 = 64 << 10;

/// The PEM type containers/image 5.23 (Podman 4.3) reads, and writes here.
pub const COSIGN_PRIVATE_PEM: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The name newer cosign and containers/image write; read too.
pub const SIGSTORE_PRIVATE_PEM: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";

/// go-tuf's scrypt parameters (N = 2^15, r = 8, p = 1), which
/// containers/image and cosign use.
const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// Parameters beyond these are refused: a hostile key file could ask for
/// gigabytes of memory (N·r·128 bytes).
const MAX_SCRYPT_LOG_N: u8 = 20;
const MAX_SCRYPT_R: u32 = 32;
const MAX_SCRYPT_P: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM file: {0}")]
    Pem(String),
    #[error("unsupported PEM type {0:?} (expected {1})")]
    PemType(String, &'static str),
    #[error("not an ECDSA P-256 public key: {0}")]
    PublicKey(String),
    #[error("invalid encrypted private key: {0}")]
    Encrypted(String),
    #[error("decrypt: encrypted: decryption failed (wrong passphrase?)")]
    Decrypt,
    #[error("not an ECDSA P-256 private key: {0}")]
    PrivateKey(String),
}

/// One PEM block's type and body (the first block of `text`).
fn pem_block(text: &[u8]) -> Result<(String, Vec<u8>), KeyError> {
    let text = std::str::from_utf8(text).map_err(|_| KeyError::Pem("not UTF-8".into()))?;
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError::Pem("no BEGIN line".into()))?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest
        .split_once("-----")
        .ok_or_else(|| KeyError::Pem("malformed BEGIN line".into()))?;
    let end_line = format!("-----END {label}-----");
    let (body, _) = rest
        .split_once(&end_line)
        .ok_or_else(|| KeyError::Pem(format!("no END line for {label}")))?;
    // Headers (`Proc-Type: ...`) are not used by these files.
    let b64: String = body
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.trim().chars())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| KeyError::Pem(e.to_string()))?;
    Ok((label.to_owned(), der))
}

fn pem_encode(label: &str, body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A public key from a PEM file's bytes (or `keyData`).
pub fn public_key(pem: &[u8]) -> Result<VerifyingKey, KeyError> {
    let (label, der) = pem_block(pem)?;
    if label != "PUBLIC KEY" {
        return Err(KeyError::PemType(label, "PUBLIC KEY"));
    }
    VerifyingKey::from_public_key_der(&der).map_err(|e| KeyError::PublicKey(e.to_string()))
}

pub fn public_key_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF).unwrap_or_default()
}

/// go-tuf's `encrypted` envelope.
#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

fn derive(passphrase: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<[u8; 32], KeyError> {
    let params = scrypt::Params::new(log_n, r, p)
        .map_err(|e| KeyError::Encrypted(format!("scrypt parameters: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(passphrase, salt, &params, &mut key)
        .map_err(|e| KeyError::Encrypted(format!("scrypt: {e}")))?;
    Ok(key)
}

/// Opens an encrypted private key file with `passphrase`.
pub fn private_key(pem: &[u8], passphrase: &[u8]) -> Result<SigningKey, KeyError> {
    let (label, body) = pem_block(pem)?;
    if label != COSIGN_PRIVATE_PEM && label != SIGSTORE_PRIVATE_PEM {
        return Err(KeyError::PemType(label, COSIGN_PRIVATE_PEM));
    }
    let env: Envelope =
        serde_json::from_slice(&body).map_err(|e| KeyError::Encrypted(e.to_string()))?;
    if env.kdf.name != "scrypt" || env.cipher.name != "nacl/secretbox" {
        return Err(KeyError::Encrypted(format!(
            "unsupported kdf {:?} or cipher {:?}",
            env.kdf.name, env.cipher.name
        )));
    }
    let n = env.kdf.params.n;
    if !n.is_power_of_two() || n < 2 {
        return Err(KeyError::Encrypted(format!(
            "scrypt N {n} is not a power of two"
        )));
    }
    let log_n = n.trailing_zeros() as u8;
    let (r, p) = (env.kdf.params.r, env.kdf.params.p);
    if log_n > MAX_SCRYPT_LOG_N || r > MAX_SCRYPT_R || p > MAX_SCRYPT_P {
        return Err(KeyError::Encrypted(format!(
            "scrypt parameters N={n} r={r} p={p} are beyond what hutch accepts"
        )));
    }
    if env.cipher.nonce.len() != 24 {
        return Err(KeyError::Encrypted("the nonce is not 24 bytes".into()));
    }
    let key = derive(passphrase, &env.kdf.salt, log_n, r, p)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&key.into());
    let nonce = crypto_secretbox::Nonce::from_slice(&env.cipher.nonce);
    let der = cipher
        .decrypt(nonce, env.ciphertext.as_slice())
        .map_err(|_| KeyError::Decrypt)?;
    SigningKey::from_pkcs8_der(&der).map_err(|e| KeyError::PrivateKey(e.to_string()))
}

/// Seals `key` under `passphrase` in the format [`private_key`] reads
/// (and Podman 4.3 reads).
pub fn encrypt_private_key(key: &SigningKey, passphrase: &[u8]) -> Result<String, KeyError> {
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::PrivateKey(e.to_string()))?;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    random(&mut salt)?;
    random(&mut nonce)?;
    let secret = derive(passphrase, &salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&secret.into());
    let sealed = cipher
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), der.as_bytes())
        .map_err(|_| KeyError::Encrypted("sealing failed".into()))?;
    let env = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: 1 << SCRYPT_LOG_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: salt.to_vec(),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: nonce.to_vec(),
        },
        ciphertext: sealed,
    };
    let json = serde_json::to_vec(&env).map_err(|e| KeyError::Encrypted(e.to_string()))?;
    Ok(pem_encode(COSIGN_PRIVATE_PEM, &json))
}

/// A new P-256 key pair.
pub fn generate() -> Result<SigningKey, KeyError> {
    loop {
        let mut bytes = [0u8; 32];
        random(&mut bytes)?;
        // A value outside the curve order (chance ~2^-32) is drawn again.
        if let Ok(k) = SigningKey::from_slice(&bytes) {
            return Ok(k);
        }
    }
}

fn random(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::getrandom(buf).map_err(|e| KeyError::PrivateKey(format!("no randomness: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_round_trip_and_wrong_passphrase() {
        let key = generate().unwrap();
        let pem = encrypt_private_key(&key, b"pass").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
        let back = private_key(pem.as_bytes(), b"pass").unwrap();
        assert_eq!(back.verifying_key(), key.verifying_key());
        assert!(matches!(
            private_key(pem.as_bytes(), b"nope"),
            Err(KeyError::Decrypt)
        ));
        let public = public_key(public_key_pem(key.verifying_key()).as_bytes()).unwrap();
        assert_eq!(&public, key.verifying_key());
    }

    #[test]
    fn refuses_other_pem_types() {
        let pem = pem_encode("RSA PUBLIC KEY", b"x");
        assert!(matches!(
            public_key(pem.as_bytes()),
            Err(KeyError::PemType(..))
        ));
        assert!(public_key(b"garbage").is_err());
    }
}
