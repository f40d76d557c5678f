//! Facts about the host that every layer may need: the clock as Podman
//! prints it, and the external programs on PATH. It sits below `runtime/`,
//! `cgroups/` and the engine, and imports none of them.

pub mod stdio;
pub mod system;
pub mod time;
pub mod tools;
pub mod users;
