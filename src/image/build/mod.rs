//! `build`'s pure half: the Containerfile's syntax (by the
//! `parse-dockerfile` crate) turned into hutch's stages and steps,
//! BuildKit's variable expansion, `.containerignore` rules, glob
//! matching, and what each metadata instruction does to an image config.
//! No syscalls: the engine's build (src/engine/build) drives containers
//! and storage with what this module decides.

pub mod config;
pub mod containerfile;
pub mod expand;
pub mod glob;
pub mod ignore;
pub mod runmount;
