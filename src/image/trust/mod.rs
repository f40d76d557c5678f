//! Image trust: sigstore (cosign) keys and signatures, and the judgement of
//! an image's signatures against the requirements policy.json gives its
//! scope. Pure logic over bytes: the engine finds the policy
//! (`config::policy`), fetches the signatures (the registry's sigstore
//! attachments) and acts on the verdict.
//!
//! What it verifies: `sigstoreSigned` with a public key (ECDSA P-256, as
//! cosign and containers/image make them) and the signed identity rules of
//! containers-policy.json(5). It does not verify Fulcio certificates, Rekor
//! entries or GPG (`signedBy`) signatures: a requirement naming them
//! refuses the image and says why.

pub mod identity;
pub mod keys;
pub mod openpgp;
pub mod simple;
pub mod sigstore;
pub mod verdict;

pub use verdict::{ImageUnderReview, Refusal, judge};
