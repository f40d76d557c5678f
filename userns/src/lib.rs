//! The user namespace that all of one user's containers live in.
//!
//! hutch is daemonless, so something must hold the namespace between
//! commands: a tiny pause process created by the first command, whose uid and
//! gid maps come from /etc/subuid and /etc/subgid through the setuid
//! `newuidmap`/`newgidmap` helpers (or a single-id map when the user has no
//! ranges). Every later command joins it with `setns` before any thread
//! exists.
//!
//! This crate parses the subordinate-id files, builds the maps, picks and
//! checks the runtime directory, creates, validates and joins the pause
//! process. It does not mount storage, run containers or know about the
//! command line.

pub mod helper;
pub mod idmap;
pub mod join;
pub mod namespace;
pub mod nsfs;
pub mod nss;
pub mod pause;
pub mod record;
pub mod rundir;
pub mod subid;

pub use namespace::{Entered, Identity, NamespaceError, enter, enter_shared, migrate};

/// Set in the environment of a process that has joined the namespace, so
/// that hutch started from inside it (a `hutch unshare` shell, a monitor)
/// knows the real uid and does not try to join again.
pub const ROOTLESS_UID_ENV: &str = "_HUTCH_ROOTLESS_UID";

/// Whether this process already sits in a user namespace other than the
/// initial one: its uid_map is not the identity map of all ids.
pub fn in_child_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"],
        Err(_) => false,
    }
}
