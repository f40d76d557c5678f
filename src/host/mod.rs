//! Facts about the host that every layer may need: the clock as Podman
//! prints it, the external programs on PATH, file system types, kernel
//! settings, the login session and device nodes. It sits below `runtime/`,
//! `cgroups/` and the engine, and imports none of them.

pub mod criu;
pub mod devices;
pub mod fs;
pub mod passed_fds;
pub mod session;
pub mod stdio;
pub mod sysctl;
pub mod system;
pub mod time;
pub mod tools;
pub mod users;
