//! The routes, by API object. Each handler is a thin translation: request
//! to the engine's typed options, the engine's report to the API's JSON.

pub mod archive;
pub mod attach;
pub mod containers;
mod create_body;
pub mod events;
pub mod exec;
pub mod images;
pub mod images_local;
pub mod images_registry;
pub mod manage;
pub mod networks;
pub mod observe;
pub mod system;
pub mod volumes;

use axum::Router;
use axum::routing::{any, delete, get, post};

use super::server::Shared;

/// Every route, for both APIs: libpod's under `/libpod`, Docker's at the
/// top (prefixes were stripped before routing).
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/containers/json", get(containers::list))
        .route("/containers/create", post(containers::create))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}", delete(containers::remove))
        .route("/images/json", get(images::list))
        // Part B: images, registries, volumes, networks, events, df.
        .route("/images/create", post(images_registry::create))
        .route("/images/search", get(images_registry::search))
        .route("/auth", post(images_registry::auth))
        .route("/images/load", post(images_local::load))
        .route("/images/get", get(images_local::save_many))
        .route("/images/prune", post(images_local::prune_images))
        .route("/images/{*rest}", any(images_local::by_name))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/events", get(events::events))
        .route("/system/df", get(events::df))
        .route("/libpod/_ping", get(system::ping).head(system::ping))
        .route("/libpod/version", get(system::version))
        .route("/libpod/info", get(system::libpod_info))
        // Part A (round 3): attach/hijack, exec, archive and the other
        // container endpoints.
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/resize", post(attach::resize))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/exec/{id}/resize", post(exec::resize))
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/containers/{id}/pause", post(manage::pause))
        .route("/containers/{id}/unpause", post(manage::unpause))
        .route("/containers/{id}/rename", post(manage::rename))
        .route("/containers/{id}/update", post(manage::update))
        .route("/containers/prune", post(manage::prune))
        .route("/containers/{id}/top", get(observe::top))
        .route("/containers/{id}/stats", get(observe::stats))
        .route("/containers/{id}/changes", get(observe::changes))
        .route("/containers/{id}/export", get(observe::export))
        .with_state(shared)
}
