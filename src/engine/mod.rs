//! The engine (libpod's role): what commands do, independent of whether the
//! CLI or the REST API asked. Requests and answers are plain serialisable
//! data.

pub mod auto_update;
pub mod build;
pub mod container;
pub mod error;
pub mod image;
pub mod info;
pub mod kube;
pub mod name_filter;
pub mod network;
pub mod pod;
pub mod prune_filter;
pub mod secret;
pub mod state;
pub mod system;
pub mod volume;
pub mod volume_archive;

pub use error::{Error, ErrorKind, Result, ResultExt};
