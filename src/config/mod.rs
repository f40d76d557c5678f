//! Configuration: where a user's state lives, registries.conf, and (later)
//! containers.conf and storage.conf with hutch's defaults when absent.

pub mod containers;
mod paths;
pub mod policy;
pub mod registries;
pub mod registries_d;
pub mod storage;

pub use paths::Context;
