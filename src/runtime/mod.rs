//! The container runtime side: the OCI runtime spec a container is started
//! with and the seccomp profile conversion it needs. Driving crun or runc
//! and the per-container monitor will live here too; nothing in this module
//! runs a process yet.

pub mod oci;
pub mod seccomp;
pub mod spec;
