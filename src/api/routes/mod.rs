//! The routes, by API object. Each handler is a thin translation: request
//! to the engine's typed options, the engine's report to the API's JSON.

pub mod system;

use axum::Router;
use axum::routing::get;

use super::server::Shared;

/// Every route, for both APIs: libpod's under `/libpod`, Docker's at the
/// top (prefixes were stripped before routing).
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/libpod/_ping", get(system::ping).head(system::ping))
        .route("/libpod/version", get(system::version))
        .route("/libpod/info", get(system::libpod_info))
        .with_state(shared)
}
