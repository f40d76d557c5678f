//! The libpod manifest-list routes (API v4, what `podman --remote
//! manifest` 4.3.1 calls), on the engine's manifest-list operations
//! (src/engine/image/manifest_list.rs) as `manifest` runs them locally:
//!
//! - `POST /libpod/manifests/{name}?images=&all=&amend=`: 201 `{"Id"}`
//! - `GET /libpod/manifests/{name}/exists`: 204 or 404
//! - `GET /libpod/manifests/{name}/json`: the list (else, as locally, the
//!   list a registry serves under that name)
//! - `PUT /libpod/manifests/{name}`: Podman's `ManifestModifyOptions`
//!   (`operation` `update` adds `images`, `remove` drops the digests in
//!   `images`, `annotate` sets the platform fields and annotations of
//!   the digest in `images`); `{"Id", "images"}`, a failure 400 with
//!   `errors` (what Podman's client reads) beside the usual message
//! - `DELETE /libpod/manifests/{name}`: Podman's `ImageRemoveReport`
//! - `POST /libpod/manifests/{name}/registry/{destination}`: the push, as
//!   JSON lines (`{"stream"}`, then `{"Id": digest}` or `{"error"}`)

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::containers::{blocking, flag};
use super::json_lines;
use super::libpod_containers::{Pairs, bad};
use super::libpod_images::credentials;
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine;
use crate::engine::image::manifest_list::{self as lists, InstanceOptions, ManifestFormat};
use crate::engine::image::pull::RegistryOptions;
use crate::engine::image::{self, remove};
use crate::image::registry::ProgressEvent;

const LP: ApiVersion = ApiVersion::Libpod;

/// The longest modify body read (a list of image names and annotations).
const MAX_BODY: usize = 1 << 20;

/// `tlsVerify` when given (either way), else registries.conf's word.
fn tls_verify(q: &HashMap<String, String>) -> Result<Option<bool>, ApiError> {
    match q.get("tlsVerify").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(_) => Ok(Some(flag(q, "tlsVerify", LP)?)),
    }
}

pub async fn create(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> Result<Response, ApiError> {
    let q: HashMap<String, String> = pairs.iter().cloned().collect();
    // `images` repeated, or (older clients) comma-joined.
    let images: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "images")
        .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|i| !i.is_empty())
        .collect();
    let opts = lists::CreateOptions {
        name,
        images,
        all: flag(&q, "all", LP)?,
        amend: flag(&q, "amend", LP)?,
        registry: RegistryOptions {
            tls_verify: tls_verify(&q)?,
            creds: credentials(&q, &headers)?,
            ..RegistryOptions::default()
        },
    };
    let ctx = shared.ctx.clone();
    let id = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        lists::create(&ctx, &store, &opts)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "Id": id }))).into_response())
}

pub async fn exists(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let found = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        lists::exists(&store, &name)
    })
    .await?;
    if found {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "manifest not found",
            LP,
        ))
    }
}

pub async fn inspect(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let text = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        lists::inspect(&ctx, &store, &name)
    })
    .await?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the manifest list is not JSON: {e}"),
            LP,
        )
    })?;
    Ok(axum::Json(v).into_response())
}

/// `key` of a JSON object, whatever its case (Go's decoder matches
/// field names so; Podman's client sends `Images`, `Arch`, `os_version`).
fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .unwrap_or(&Value::Null)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The platform fields and annotations of a modify body.
fn instance_options(v: &Value) -> InstanceOptions {
    let text = |k: &str| {
        field(v, k)
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // `annotation` as `KEY=VALUE` items, `annotations` as a map.
    let mut annotations = strings(field(v, "annotation"));
    if let Some(m) = field(v, "annotations").as_object() {
        for (k, val) in m {
            annotations.push(format!("{k}={}", val.as_str().unwrap_or_default()));
        }
    }
    InstanceOptions {
        arch: text("arch"),
        os: text("os"),
        variant: text("variant"),
        os_version: text("os_version"),
        features: strings(field(v, "features")),
        os_features: strings(field(v, "os_features")),
        annotations,
    }
}

/// A failed modify: Podman's report with `errors` (its client reads
/// them) and the service's usual error fields.
fn modify_error(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(json!({
            "Id": "", "errors": [message],
            "cause": message, "message": message, "response": status.as_u16(),
        })),
    )
        .into_response()
}

pub async fn modify(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.len() > MAX_BODY {
        return Err(bad(format!(
            "manifest modify body larger than {MAX_BODY} bytes"
        )));
    }
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| bad(format!("decoding the request: {e}")))?
    };
    let operation = field(&v, "operation")
        .as_str()
        .map(str::to_owned)
        .or_else(|| q.get("operation").cloned())
        .unwrap_or_default();
    let images = strings(field(&v, "images"));
    if images.is_empty() {
        return Err(bad("no images or digests given to the manifest list"));
    }
    let all = field(&v, "all").as_bool().unwrap_or(false);
    let mut instance = instance_options(&v);
    // Podman's client sends the annotations map in the query only.
    if instance.annotations.is_empty()
        && let Some(raw) = q.get("annotations").filter(|a| !a.is_empty())
    {
        let m: serde_json::Map<String, Value> = serde_json::from_str(raw)
            .map_err(|e| bad(format!("invalid annotations {raw:?}: {e}")))?;
        for (k, val) in m {
            instance
                .annotations
                .push(format!("{k}={}", val.as_str().unwrap_or_default()));
        }
    }
    let registry = RegistryOptions {
        tls_verify: tls_verify(&q)?,
        creds: credentials(&q, &headers)?,
        ..RegistryOptions::default()
    };
    let ctx = shared.ctx.clone();
    let done = images.clone();
    let result = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let mut id = String::new();
        for i in &images {
            id = match operation.as_str() {
                "update" => lists::add(
                    &ctx,
                    &store,
                    &lists::AddOptions {
                        list: name.clone(),
                        image: i.clone(),
                        all,
                        instance: instance.clone(),
                        registry: registry.clone(),
                    },
                )?,
                "remove" => lists::remove_instance(&store, &name, i)?,
                "annotate" => lists::annotate(&store, &name, i, &instance)?,
                other => crate::fail!(
                    BadInput,
                    "{other:?} is not a manifest operation: update, remove or annotate"
                ),
            };
        }
        Ok(id)
    })
    .await;
    match result {
        Ok(id) => Ok(axum::Json(json!({"Id": id, "images": done})).into_response()),
        Err(e) => Ok(modify_error(e.status, e.message)),
    }
}

pub async fn delete(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        // Only lists: an image named here is not removed, as locally.
        if !lists::exists(&store, &name)? {
            crate::fail!(NotFound, "{name}: image not known");
        }
        remove::remove(&store, std::slice::from_ref(&name), false, false)
    })
    .await?;
    Ok(axum::Json(json!({
        "Deleted": report.deleted,
        "Untagged": report.untagged,
        "Errors": report.errors,
        "ExitCode": report.exit_code,
    }))
    .into_response())
}

pub async fn push(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
    Path((name, destination)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let creds = credentials(&q, &headers)?;
    let quiet = flag(&q, "quiet", LP)?;
    let tls_verify = tls_verify(&q)?;
    let (transport, _) = crate::image::reference::strip_transport(&destination);
    if let Some(t) = transport.filter(|t| *t != "docker") {
        return Err(bad(format!(
            "destination transport {t:?} is not supported through the API: only registries (docker://)"
        )));
    }
    let format = match q.get("format").map(String::as_str) {
        None | Some("") => None,
        Some(f) => Some(ManifestFormat::parse(f).ok_or_else(|| {
            bad(format!(
                "unknown format {f:?}. Choose one of the supported formats: 'oci' or 'v2s2'"
            ))
        })?),
    };
    if let Some(c) = q.get("compressionformat").filter(|c| !c.is_empty())
        && c != "gzip"
    {
        return Err(bad(format!(
            "compression format {c:?}: hutch pushes layers as they are stored (gzip)"
        )));
    }
    // An unknown list is a 404 before the stream starts.
    let ctx = shared.ctx.clone();
    let local = name.clone();
    blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        lists::lookup_list(&store, &local)?;
        Ok(())
    })
    .await?;
    let ctx = shared.ctx.clone();
    Ok(json_lines::respond(&shared, move |out| {
        let say = |v: Value| out.send(&v);
        let result = (|| -> engine::Result<String> {
            let store = image::open_store(&ctx)?;
            let opts = lists::PushOptions {
                list: name.clone(),
                destination: destination.clone(),
                format,
                remove: false,
                registry: RegistryOptions {
                    tls_verify,
                    creds,
                    ..RegistryOptions::default()
                },
            };
            if !quiet {
                say(json!({"stream": "Getting image list signatures\n"}));
            }
            let digest = lists::push(&ctx, &store, &opts, &mut |_, e| {
                if quiet {
                    return;
                }
                let text = match e {
                    ProgressEvent::LayerStart { digest, .. }
                    | ProgressEvent::LayerSkipped { digest } => format!("Copying blob {digest}\n"),
                    ProgressEvent::ConfigCopied { digest }
                    | ProgressEvent::ConfigSkipped { digest } => {
                        format!("Copying config {digest}\n")
                    }
                    ProgressEvent::ManifestDone { .. } => {
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
                    say(json!({"stream": "Storing list signatures\n"}));
                }
                say(json!({ "Id": d }));
            }
            Err(e) => say(json!({"error": e.text()})),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_modify_bodies_read() {
        // What `podman --remote manifest add` 4.3.1 sends (trimmed).
        let v: Value = serde_json::from_str(
            r#"{"Operation":"update","All":false,"Annotations":{"a":"b"},"Arch":"arm64",
            "Features":null,"Images":["containers-storage:localhost/busybox"],"OS":"",
            "os_features":["f1"],"os_version":"","Variant":"v8"}"#,
        )
        .unwrap();
        assert_eq!(field(&v, "operation"), "update");
        assert_eq!(
            strings(field(&v, "images")),
            vec!["containers-storage:localhost/busybox"]
        );
        let o = instance_options(&v);
        assert_eq!(o.arch.as_deref(), Some("arm64"));
        assert_eq!(o.os, None, "an empty field is not an override");
        assert_eq!(o.variant.as_deref(), Some("v8"));
        assert_eq!(o.os_features, vec!["f1"]);
        assert_eq!(o.annotations, vec!["a=b"]);
    }
}
