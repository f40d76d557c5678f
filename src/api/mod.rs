//! The REST service (`hutch system service`): the Docker Engine API and the
//! libpod API on a unix socket, for the docker CLI, docker-compose, the
//! Docker SDKs and `podman --remote`.
//!
//! It is a front end like the CLI: handlers turn request bodies into the
//! engine's typed options and the engine's reports and errors into JSON and
//! status codes (an [`crate::engine::ErrorKind`] decides 404/409/400/500).
//! Nothing here runs containers itself. The process joins the user
//! namespace before it builds the async runtime (the CLI does that for
//! every command), so every thread lives inside it.
//!
//! What it does not do (yet): most routes. This first slice serves the
//! endpoints every client calls first (`_ping`, `version`, `info`), the
//! version prefixes and their checks, socket activation and the idle exit.

mod error;
pub mod hijack;
pub mod listen;
mod prefix;
pub(crate) mod routes;
mod server;

pub use listen::Endpoint;
pub use server::{ServiceOptions, serve};

/// The newest Docker Engine API version served, and the oldest.
pub const DOCKER_API_VERSION: (u32, u32) = (1, 47);
pub const DOCKER_MIN_API_VERSION: (u32, u32) = (1, 24);

/// The libpod API version announced (`Libpod-API-Version`): the Podman
/// release whose remote client and REST API hutch is checked against.
pub const LIBPOD_API_VERSION: &str = "4.3.1";

/// The largest request body accepted (JSON create bodies are a few
/// kilobytes; archives for `docker cp`/`load`/`build` will be streamed,
/// not buffered, with limits of their own).
pub const MAX_BODY_BYTES: usize = 4 << 20;
