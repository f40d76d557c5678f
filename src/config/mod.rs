//! Configuration: where a user's state lives, and (later) containers.conf,
//! storage.conf and registries.conf with hutch's defaults when absent.

mod paths;
pub mod storage;

pub use paths::Context;
