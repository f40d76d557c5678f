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
mod json_lines;
mod libpod_build;
mod libpod_checkpoint;
mod libpod_containers;
pub(crate) mod libpod_create;
mod libpod_image_io;
mod libpod_images;
mod libpod_kube;
mod libpod_manifests;
mod libpod_objects;
mod libpod_observe;
mod libpod_pods;
mod libpod_push;
mod libpod_secrets;
mod libpod_system;
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
        // Part C: the libpod API's version in the details.
        .route("/libpod/version", get(libpod_system::version))
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
        // libpod's attach and exec: the same hijacking handlers (the path
        // prefix picks the error body).
        .route("/libpod/containers/{id}/attach", post(attach::attach))
        .route("/libpod/containers/{id}/resize", post(attach::resize))
        .route("/libpod/containers/{id}/exec", post(exec::create))
        .route("/libpod/exec/{id}/start", post(exec::start))
        .route("/libpod/exec/{id}/json", get(exec::inspect))
        .route("/libpod/exec/{id}/resize", post(exec::resize))
        // Part C: the libpod API for `podman --remote`.
        .route("/libpod/containers/create", post(libpod_containers::create))
        .route("/libpod/containers/json", get(libpod_containers::list))
        .route("/libpod/containers/stats", get(libpod_containers::stats))
        .route(
            "/libpod/containers/{id}/json",
            get(libpod_containers::inspect),
        )
        .route(
            "/libpod/containers/{id}/exists",
            get(libpod_containers::exists),
        )
        .route("/libpod/containers/{id}/start", post(containers::start))
        .route(
            "/libpod/containers/{id}/init",
            post(libpod_containers::init),
        )
        .route(
            "/libpod/containers/{id}/stop",
            post(libpod_containers::stop),
        )
        .route("/libpod/containers/{id}/kill", post(containers::kill))
        .route(
            "/libpod/containers/{id}/restart",
            post(libpod_containers::restart),
        )
        .route(
            "/libpod/containers/{id}/pause",
            post(libpod_containers::pause),
        )
        .route(
            "/libpod/containers/{id}/unpause",
            post(libpod_containers::unpause),
        )
        .route("/libpod/containers/{id}/logs", get(libpod_containers::logs))
        .route("/libpod/containers/{id}/top", get(libpod_containers::top))
        .route(
            "/libpod/containers/{id}/wait",
            post(libpod_containers::wait),
        )
        .route("/libpod/containers/{id}", delete(libpod_containers::remove))
        .route(
            "/libpod/containers/{id}/rename",
            post(libpod_containers::rename),
        )
        .route(
            "/libpod/containers/{id}/changes",
            get(libpod_containers::changes),
        )
        .route("/libpod/images/pull", post(libpod_images::pull))
        .route("/libpod/images/search", get(images_registry::search))
        .route("/libpod/images/json", get(libpod_images::list))
        .route(
            "/libpod/images/remove",
            delete(libpod_images::remove_many).post(libpod_images::remove_many),
        )
        .route("/libpod/images/{name}/json", get(libpod_images::inspect))
        .route("/libpod/images/{name}/exists", get(libpod_images::exists))
        .route("/libpod/images/{name}/tag", post(libpod_images::tag))
        .route("/libpod/images/{name}", delete(libpod_images::delete))
        .route("/libpod/events", get(libpod_system::events))
        .route("/libpod/system/df", get(libpod_system::df))
        .route("/libpod/system/prune", post(libpod_system::prune))
        .route("/libpod/volumes/json", get(libpod_objects::volume_list))
        .route(
            "/libpod/volumes/create",
            post(libpod_objects::volume_create),
        )
        .route(
            "/libpod/volumes/{name}/json",
            get(libpod_objects::volume_inspect),
        )
        .route(
            "/libpod/volumes/{name}/exists",
            get(libpod_objects::volume_exists),
        )
        .route(
            "/libpod/volumes/{name}",
            delete(libpod_objects::volume_delete),
        )
        .route("/libpod/networks/json", get(libpod_objects::network_list))
        .route(
            "/libpod/networks/create",
            post(libpod_objects::network_create),
        )
        .route(
            "/libpod/networks/{name}/json",
            get(libpod_objects::network_inspect),
        )
        .route(
            "/libpod/networks/{name}/exists",
            get(libpod_objects::network_exists),
        )
        .route(
            "/libpod/networks/{name}",
            delete(libpod_objects::network_delete),
        )
        .route(
            "/libpod/containers/prune",
            post(libpod_objects::container_prune),
        )
        .route("/libpod/images/prune", post(libpod_objects::image_prune))
        .route("/libpod/volumes/prune", post(libpod_objects::volume_prune))
        .route(
            "/libpod/networks/prune",
            post(libpod_objects::network_prune),
        )
        // Issue 18: what the remote client (hutch's and Podman's) needs
        // besides: cp's archive, network connect, pods.
        .route(
            "/libpod/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route(
            "/libpod/networks/{name}/connect",
            post(libpod_objects::network_connect),
        )
        .route(
            "/libpod/networks/{name}/disconnect",
            post(libpod_objects::network_disconnect),
        )
        .route(
            "/libpod/containers/{id}/checkpoint",
            post(libpod_checkpoint::checkpoint),
        )
        .route(
            "/libpod/containers/{id}/restore",
            post(libpod_checkpoint::restore),
        )
        // The libpod pod routes (`podman --remote pod ...`).
        .route("/libpod/pods/create", post(libpod_pods::create))
        .route("/libpod/pods/json", get(libpod_pods::list))
        .route("/libpod/pods/stats", get(libpod_pods::stats))
        .route("/libpod/pods/prune", post(libpod_pods::prune))
        .route("/libpod/pods/{name}/json", get(libpod_pods::inspect))
        .route("/libpod/pods/{name}/exists", get(libpod_pods::exists))
        .route("/libpod/pods/{name}/start", post(libpod_pods::start))
        .route("/libpod/pods/{name}/stop", post(libpod_pods::stop))
        .route("/libpod/pods/{name}/restart", post(libpod_pods::restart))
        .route("/libpod/pods/{name}/kill", post(libpod_pods::kill))
        .route("/libpod/pods/{name}/pause", post(libpod_pods::pause))
        .route("/libpod/pods/{name}/unpause", post(libpod_pods::unpause))
        .route("/libpod/pods/{name}/top", get(libpod_pods::top))
        .route("/libpod/pods/{name}", delete(libpod_pods::remove))
        .route("/libpod/images/{name}/push", post(libpod_push::push))
        // Issue 18 (remote client): container observing routes as
        // Podman 4.3.1's remote client calls them.
        .route("/libpod/containers/{id}/export", get(observe::export))
        .route(
            "/libpod/containers/{id}/healthcheck",
            get(libpod_observe::healthcheck),
        )
        .route("/libpod/commit", post(libpod_observe::commit))
        .route(
            "/libpod/containers/{id}/update",
            post(libpod_observe::update_resources),
        )
        // Issue 18: the image routes of Podman's remote history, save,
        // load, import and untag.
        .route(
            "/libpod/images/{name}/history",
            get(libpod_image_io::history),
        )
        .route("/libpod/images/{name}/untag", post(libpod_image_io::untag))
        .route("/libpod/images/{name}/tree", get(libpod_image_io::tree))
        .route("/libpod/images/{name}/changes", get(observe::image_changes))
        .route("/libpod/images/{name}/get", get(libpod_image_io::get_one))
        .route("/libpod/images/export", get(libpod_image_io::export))
        .route("/libpod/images/load", post(libpod_image_io::load))
        .route("/libpod/images/import", post(libpod_image_io::import_image))
        .route("/libpod/secrets/create", post(libpod_secrets::create))
        .route("/libpod/secrets/json", get(libpod_secrets::list))
        .route("/libpod/secrets/{name}/json", get(libpod_secrets::inspect))
        .route("/libpod/secrets/{name}", delete(libpod_secrets::remove))
        .route(
            "/libpod/play/kube",
            post(libpod_kube::play_kube).delete(libpod_kube::down_kube),
        )
        .route("/libpod/generate/kube", get(libpod_kube::generate_kube))
        .route(
            "/libpod/generate/{name}/systemd",
            get(libpod_kube::generate_systemd),
        )
        .route("/libpod/build", post(libpod_build::build))
        // Issue 18: the manifest-list routes (API v4) of `manifest`.
        .route(
            "/libpod/manifests/{name}",
            post(libpod_manifests::create)
                .put(libpod_manifests::modify)
                .delete(libpod_manifests::delete),
        )
        .route(
            "/libpod/manifests/{name}/exists",
            get(libpod_manifests::exists),
        )
        .route(
            "/libpod/manifests/{name}/json",
            get(libpod_manifests::inspect),
        )
        .route(
            "/libpod/manifests/{name}/registry/{destination}",
            post(libpod_manifests::push),
        )
        // Part C: unknown paths and methods get JSON errors clients decode.
        .fallback(libpod_objects::not_found)
        .method_not_allowed_fallback(libpod_objects::wrong_method)
        .with_state(shared)
}
