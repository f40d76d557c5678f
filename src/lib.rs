//! hutch: a rootless-first, daemonless container manager with a
//! Podman-compatible command line.
//!
//! The library holds the engine and its faces; the binary in `main.rs` is a
//! thin entry point. Crates beside it (`hutch-userns`, `hutch-storage`,
//! `hutch-rootless-net`) know nothing of the command line.

pub mod api;
pub mod cgroups;
pub mod cli;
pub mod config;
pub mod engine;
pub mod format;
pub mod host;
pub mod image;
pub mod quadlet;
pub mod runtime;
pub mod spec;
