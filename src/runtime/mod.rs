//! The container runtime side: the OCI runtime spec a container is started
//! with, the seccomp profile conversion it needs, the crun/runc driver and
//! the k8s-file log format. The per-container monitor (conmon's role) will
//! live here too.

pub mod console;
pub mod logfile;
pub mod monitor;
pub mod oci;
pub mod seccomp;
pub mod spec;
pub mod terminal;
