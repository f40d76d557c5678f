//! Images as users name and move them: references and short-name
//! resolution, registries.conf, credentials, registry and archive
//! transports. Storage of what arrives is the `hutch-storage` crate's job.

pub mod archive;
pub mod auth;
pub mod build;
pub mod reference;
pub mod registry;
pub mod trust;
