//! Kubernetes YAML for `kube play`: the documents read into typed structs
//! ([`types`]), and the fields hutch does not act on named, so the front end
//! can warn about them once instead of dropping them silently.
//!
//! Pure: no files, no containers. Turning a [`types::PodTemplate`] into pod
//! and container specs, `kube play` and `kube down` themselves are not here
//! yet (see docs/kube.md).

pub mod play;
pub mod types;

pub use types::{Document, parse};

/// The most YAML `kube play` reads (a file or standard input): far more than
/// any hand-written or generated manifest, small enough to hold in memory.
pub const MAX_YAML_BYTES: usize = 4 << 20;
