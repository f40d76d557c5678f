//! `POST /libpod/images/{name}/push?destination=&tlsVerify=&quiet=`: the
//! push `podman --remote push` asks for, as a stream of Podman's JSON
//! lines (`{"stream": "Copying blob ...\n"}`, then `{"error": ...}` when
//! it failed, else `{"manifestdigest": ...}`). Credentials as for pull:
//! `X-Registry-Auth` (the client's `--creds` or its auth file's entry),
//! else the service user's auth.json. Only registries are destinations:
//! a file named by another transport would be the service host's, which
//! Podman's remote client refuses too.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::containers::{blocking, flag};
use super::json_lines;
use super::libpod_containers::bad;
use super::libpod_images::credentials;
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine;
use crate::engine::image::pull::{PushRequest, RegistryOptions};
use crate::engine::image::{self};
use crate::image::registry::ProgressEvent;

const LP: ApiVersion = ApiVersion::Libpod;

pub async fn push(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let creds = credentials(&q, &headers)?;
    let quiet = flag(&q, "quiet", LP)?;
    let tls_verify = match q.get("tlsVerify").map(String::as_str) {
        None | Some("") => None,
        Some(_) => Some(flag(&q, "tlsVerify", LP)?),
    };
    let destination = q
        .get("destination")
        .filter(|d| !d.is_empty())
        .cloned()
        .unwrap_or_else(|| name.clone());
    let (transport, _) = crate::image::reference::strip_transport(&destination);
    if let Some(t) = transport.filter(|t| *t != "docker") {
        return Err(bad(format!(
            "destination transport {t:?} is not supported through the API: only registries (docker://)"
        )));
    }
    // An unknown image is a 404 before the stream starts.
    let ctx = shared.ctx.clone();
    let local = name.clone();
    blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        super::images_local::find(&store, &local)?;
        Ok(())
    })
    .await?;
    let ctx = shared.ctx.clone();
    Ok(json_lines::respond(&shared, move |out| {
        let say = |v: Value| out.send(&v);
        let mut config = None;
        let result = (|| -> engine::Result<String> {
            let store = image::open_store(&ctx)?;
            let req = PushRequest {
                image: name.clone(),
                destination: Some(destination.clone()),
                options: RegistryOptions {
                    tls_verify,
                    creds,
                    ..RegistryOptions::default()
                },
            };
            if !quiet {
                say(json!({"stream": "Getting image source signatures\n"}));
            }
            let digest = image::pull::push(&ctx, &store, &req, &mut |_, e| {
                if quiet {
                    return;
                }
                // Podman's lines without a terminal, in its order: the
                // blobs, the config, the manifest.
                let text = match e {
                    ProgressEvent::LayerStart { digest, .. }
                    | ProgressEvent::LayerSkipped { digest } => {
                        format!("Copying blob {digest}\n")
                    }
                    ProgressEvent::ConfigCopied { digest }
                    | ProgressEvent::ConfigSkipped { digest } => {
                        config = Some(format!("Copying config {digest}\n"));
                        return;
                    }
                    ProgressEvent::ManifestDone { .. } => {
                        if let Some(c) = config.take() {
                            say(json!({ "stream": c }));
                        }
                        "Writing manifest to image destination\n".to_owned()
                    }
                    _ => return,
                };
                say(json!({ "stream": text }));
            })?;
            Ok(digest.to_string())
        })();
        match result {
            Ok(d) => {
                if !quiet {
                    say(json!({"stream": "Storing signatures\n"}));
                }
                say(json!({ "manifestdigest": d }));
            }
            Err(e) => say(json!({"error": e.text()})),
        }
    }))
}
