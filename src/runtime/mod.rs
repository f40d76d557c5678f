//! The container runtime side: the OCI runtime spec a container is started
//! with, the seccomp profile conversion it needs, the crun/runc driver and
//! the k8s-file log format. The per-container monitor (conmon's role) is a
//! crate and binary of its own (`hutch-monitor`, src/monitor/); its frame
//! protocol, log writer and terminal hand-over are re-exported here.

pub mod cdi;
pub mod console;
pub mod logfile;
pub mod monitor;
pub mod oci;
pub mod seccomp;
pub mod spec;
pub mod terminal;
