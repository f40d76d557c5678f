//! Content-addressed image and layer storage for hutch.
//!
//! This crate will hold blobs by digest, layers by chain id (extracted once,
//! shared by every image that uses them), images and per-container read-write
//! layers, with the overlay, fuse-overlayfs and vfs drivers. It knows nothing
//! of the command line, of registries or of OCI runtimes.
//!
//! It is empty until the images issue lands; the workspace keeps its place so
//! that the layout is the architecture from the first commit.

pub mod blobs;
pub mod digest;
