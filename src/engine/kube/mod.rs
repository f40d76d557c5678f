//! Kubernetes YAML: the documents `kube play` reads into typed structs
//! ([`types`]), with the fields hutch does not act on named so the front
//! end can warn about them once instead of dropping them silently; their
//! translation into pods and containers ([`play`]); and `kube generate`'s
//! way back, from containers, pods and volumes to YAML ([`facts`] gathers
//! what it needs, [`generate`] translates, [`yaml`] writes it as Podman
//! does).

pub mod facts;
pub mod generate;
pub mod play;
pub mod types;
pub mod yaml;

pub use types::{Document, parse};

/// The most YAML `kube play` reads (a file or standard input): far more than
/// any hand-written or generated manifest, small enough to hold in memory.
pub const MAX_YAML_BYTES: usize = 4 << 20;
