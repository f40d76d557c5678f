//! Image trust: sigstore (cosign) keys and signatures, GPG simple signing,
//! and the judgement of an image's signatures against the requirements
//! policy.json gives its scope. Pure logic over bytes: the engine finds
//! the policy (`config::policy`), fetches the signatures (the registry's
//! sigstore attachments, the lookaside store's signature files) and acts
//! on the verdict.
//!
//! What it verifies: `sigstoreSigned` with a public key (ECDSA P-256, as
//! cosign and containers/image make them) or with a Fulcio certificate
//! chaining to the policy's CA ([`fulcio`]), each with a Rekor signed
//! entry timestamp where the policy names the log's key ([`rekor`]), all
//! offline from the material the policy gives; `signedBy` with GPG keys
//! (RSA and Ed25519, by the small OpenPGP reader in [`openpgp`]); the
//! signed identity rules of containers-policy.json(5). It never contacts
//! a Fulcio or Rekor server.

pub mod cert;
pub mod fulcio;
pub mod identity;
pub mod keys;
pub mod openpgp;
pub mod rekor;
pub mod sigstore;
pub mod simple;
pub mod verdict;

pub use verdict::{ImageUnderReview, Refusal, judge};
