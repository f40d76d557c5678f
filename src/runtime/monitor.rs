//! The per-container monitor (conmon's role) is its own binary,
//! `hutch-monitor` (the `hutch-monitor` crate under `src/monitor/`). The
//! frame protocol its attach clients speak is re-exported here, so the
//! clients in the engine and the CLI name it where they always did.

pub use hutch_monitor::frame::*;
