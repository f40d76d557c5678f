//! Content-addressed image and layer storage for hutch.
//!
//! This crate holds blobs by digest, layers by chain id (extracted once,
//! shared by every image that uses them), images and per-container read-write
//! layers, with the overlay, fuse-overlayfs and vfs drivers. It knows nothing
//! of the command line, of registries or of OCI runtimes.
//!
//! Its public face is [`store::Store`]; the modules beneath it can be used
//! alone (the archive and registry transports write into [`blobs::BlobStore`]).

pub mod additional;
pub mod blobs;
pub mod check;
pub mod digest;
pub mod driver;
pub mod extract;
pub mod idshift;
pub mod images;
pub mod layers;
pub mod podman;
pub mod publish;
pub mod store;

pub use digest::Digest;
pub use store::{Store, StoreError, StoreOptions};
