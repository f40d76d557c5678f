//! The libpod image routes: pull (Podman's JSON line stream), list,
//! inspect, exists, remove (one or many) and tag, each calling the engine
//! operation the CLI calls.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::containers::{blocking, filters, flag};
use super::json_lines;
use super::libpod_containers::{Pairs, bad};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine;
use crate::engine::image::pull::{PullRequest, RegistryOptions};
use crate::engine::image::{self, list, remove};
use crate::image::registry::{Platform, ProgressEvent};

type Q = Query<HashMap<String, String>>;

const LP: ApiVersion = ApiVersion::Libpod;

/// Podman's `--pull` policies as `images/pull?policy=` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Always,
    Missing,
    Newer,
    Never,
}

/// `POST /libpod/images/pull?reference=&policy=&quiet=&tlsVerify=&os=&arch=&variant=`:
/// 200 and Podman's stream, one JSON object a line: `{"stream": text}`
/// while it works, then `{"images": [id], "id": id}`, or `{"error": text}`.
/// A client that hangs up does not stop the pull half-way: it finishes
/// and stores the image.
pub async fn pull(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let creds = credentials(&q, &headers)?;
    let reference = q
        .get("reference")
        .filter(|r| !r.is_empty())
        .cloned()
        .ok_or_else(|| bad("reference is required"))?;
    let policy = match q.get("policy").map(String::as_str) {
        None | Some("" | "always") => Policy::Always,
        Some("missing") => Policy::Missing,
        Some("newer") => Policy::Newer,
        Some("never") => Policy::Never,
        Some(p) => return Err(bad(format!("unsupported pull policy {p:?}"))),
    };
    if flag(&q, "allTags", LP)? {
        return Err(bad("allTags is not supported by hutch's API service"));
    }
    let quiet = flag(&q, "quiet", LP)?;
    let tls_verify = match q.get("tlsVerify").map(String::as_str) {
        None | Some("") => None,
        Some(_) => Some(flag(&q, "tlsVerify", LP)?),
    };
    let mut platform = Platform::host();
    if let Some(os) = q.get("os").filter(|v| !v.is_empty()) {
        platform.os = os.clone();
    }
    if let Some(arch) = q.get("arch").filter(|v| !v.is_empty()) {
        platform.architecture = arch.clone();
    }
    if let Some(v) = q.get("variant").filter(|v| !v.is_empty()) {
        platform.variant = Some(v.clone());
    }
    let ctx = shared.ctx.clone();
    Ok(json_lines::respond(&shared, move |out| {
        let say = |v: Value| out.send(&v);
        let result = (|| -> engine::Result<String> {
            let store = image::open_store(&ctx)?;
            let local = image::lookup(&store, &reference);
            match (policy, local) {
                (Policy::Missing | Policy::Never, Ok(i)) => return Ok(i.id.hex().to_owned()),
                (Policy::Never, Err(e)) => return Err(e.into()),
                _ => {}
            }
            let (_, name) = crate::image::reference::strip_transport(&reference);
            if !quiet {
                say(json!({"stream": format!("Trying to pull {name}...\n")}));
            }
            let req = PullRequest {
                name: name.to_owned(),
                platform,
                options: RegistryOptions {
                    tls_verify,
                    creds,
                    ..RegistryOptions::default()
                },
            };
            let pulled = image::pull::pull(&ctx, &store, &req, &mut |_, e| {
                if quiet {
                    return;
                }
                let text = match e {
                    ProgressEvent::LayerStart { digest, .. } => {
                        format!("Copying blob {}\n", short(&digest.to_string()))
                    }
                    ProgressEvent::LayerSkipped { digest } => {
                        format!(
                            "Copying blob {} skipped: already exists\n",
                            short(&digest.to_string())
                        )
                    }
                    ProgressEvent::ConfigCopied { digest }
                    | ProgressEvent::ConfigSkipped { digest } => {
                        format!("Copying config {}\n", short(&digest.to_string()))
                    }
                    ProgressEvent::ManifestDone { .. } => {
                        "Writing manifest to image destination\n".to_owned()
                    }
                    _ => return,
                };
                say(json!({ "stream": text }));
            });
            match (policy, pulled) {
                (_, Ok(r)) => Ok(r.id.hex().to_owned()),
                // "newer" keeps the local image when the registry fails.
                (Policy::Newer, Err(e)) => image::lookup(&store, &reference)
                    .map(|i| i.id.hex().to_owned())
                    .map_err(|_| e),
                (_, Err(e)) => Err(e),
            }
        })();
        match result {
            Ok(id) => say(json!({"images": [id], "id": id})),
            Err(e) => say(json!({"error": e.text()})),
        }
    }))
}

/// The credentials of a pull, `user:password`: Podman's client sends
/// `username`/`password` query parameters and the same as
/// `X-Registry-Auth` (base64 of `{"username", "password"}`); without
/// either, the service user's auth.json applies. (`authfile` names a file
/// on the client's host and is ignored.)
pub(super) fn credentials(
    q: &HashMap<String, String>,
    headers: &axum::http::HeaderMap,
) -> Result<Option<String>, ApiError> {
    if let Some(u) = q.get("username").filter(|u| !u.is_empty()) {
        let p = q.get("password").map(String::as_str).unwrap_or_default();
        return Ok(Some(format!("{u}:{p}")));
    }
    let Some(raw) = headers.get("X-Registry-Auth") else {
        return Ok(None);
    };
    let bad_auth =
        || bad("invalid X-Registry-Auth header: expected base64 of {\"username\", \"password\"}");
    let text = raw.to_str().map_err(|_| bad_auth())?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .map_err(|_| bad_auth())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad_auth())?;
    Ok(match (v["username"].as_str(), v["password"].as_str()) {
        (Some(u), p) if !u.is_empty() => Some(format!("{u}:{}", p.unwrap_or_default())),
        // `{}` or a per-registry map: nothing for this pull.
        _ => None,
    })
}

/// A digest as Podman's progress lines show it: the hex part, 12 digits.
fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// `GET /libpod/images/json?all=&filters=`: Podman's `ImageSummary`
/// entries (`podman images --format json`).
pub async fn list(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    let req = list::ListRequest {
        filters: filters(&q, LP)?,
        name: None,
    };
    let ctx = shared.ctx.clone();
    let images = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let rows = list::list(&store, &req)?;
        Ok(rows.iter().map(list::json_view).collect::<Vec<Value>>())
    })
    .await?;
    Ok(axum::Json(images).into_response())
}

/// `GET /libpod/images/{name}/json`: `hutch image inspect`'s document.
pub async fn inspect(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let record = image::lookup(&store, &name)?;
        image::inspect::inspect(&store, &record)
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// `GET /libpod/images/{name}/exists`: 204 or 404.
pub async fn exists(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        image::lookup(&store, &name)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Podman's removal report. `images/remove` always answers 200 with it
/// (the client exits with its `ExitCode`); `DELETE images/{name}` answers
/// a failure with its status: 404 when the image is not known, 409 when
/// it is in use.
fn removal(report: remove::RemoveReport, single: bool) -> Response {
    let status = match report.exit_code {
        0 => StatusCode::OK,
        1 => StatusCode::NOT_FOUND,
        2 => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if single && status != StatusCode::OK {
        let message = report.errors.join("\n");
        return ApiError::new(status, message, LP).into_response();
    }
    (
        StatusCode::OK,
        axum::Json(json!({
            "Untagged": report.untagged,
            "Deleted": report.deleted,
            "Errors": report.errors,
            "ExitCode": report.exit_code,
        })),
    )
        .into_response()
}

async fn remove_images(
    shared: Shared,
    names: Vec<String>,
    all: bool,
    force: bool,
    ignore: bool,
    single: bool,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let names = if all {
            store
                .all_images()?
                .into_iter()
                .map(|(i, _)| i.id.hex().to_owned())
                .collect()
        } else {
            names
        };
        remove::remove(&store, &names, force, force || ignore)
    })
    .await?;
    Ok(removal(report, single))
}

/// `DELETE /libpod/images/{name}?force=`.
pub async fn delete(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force", LP)?;
    remove_images(shared, vec![name], false, force, false, true).await
}

/// `DELETE /libpod/images/remove?images=A&images=B&all=&force=&ignore=`
/// (Podman's client sends DELETE; POST is taken too).
pub async fn remove_many(
    State(shared): State<Shared>,
    Query(q): Pairs,
) -> Result<Response, ApiError> {
    let mut names = Vec::new();
    let map: HashMap<String, String> = q
        .iter()
        .filter(|(k, v)| {
            if k == "images" {
                names.push(v.clone());
                false
            } else {
                true
            }
        })
        .cloned()
        .collect();
    let all = flag(&map, "all", LP)?;
    if names.is_empty() && !all {
        return Err(bad("no images given: use images= or all=true"));
    }
    let (force, ignore) = (flag(&map, "force", LP)?, flag(&map, "ignore", LP)?);
    if flag(&map, "lookupmanifest", LP)? {
        return remove_lists(shared, names).await;
    }
    remove_images(shared, names, all, force, ignore, false).await
}

/// `manifest rm` (`lookupmanifest=true`): only manifest lists go; any
/// other name is "image not known" (exit 1), as the local command says.
async fn remove_lists(shared: Shared, names: Vec<String>) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        use crate::engine::image::manifest_list as lists;
        let store = image::open_store(&ctx)?;
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for n in names {
            if lists::exists(&store, &n)? {
                found.push(n);
            } else {
                unknown.push(format!("{n}: image not known"));
            }
        }
        let mut report = remove::remove(&store, &found, false, false)?;
        if !unknown.is_empty() {
            report.exit_code = report.exit_code.max(1);
            unknown.append(&mut report.errors);
            report.errors = unknown;
        }
        Ok(report)
    })
    .await?;
    Ok(removal(report, false))
}

/// `POST /libpod/images/{name}/tag?repo=&tag=`: 201.
pub async fn tag(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let repo = q
        .get("repo")
        .filter(|r| !r.is_empty())
        .cloned()
        .ok_or_else(|| bad("repo is required"))?;
    let target = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let store = image::open_store(&ctx)?;
        let record = image::lookup(&store, &name)?;
        image::tag(&store, &record, &target)
    })
    .await?;
    Ok(StatusCode::CREATED.into_response())
}
