//! Docker's image routes that talk to a registry: `POST /images/create`
//! (pull), `POST /images/{name}/push`, `GET /images/search` and
//! `POST /auth` (the check `docker login` asks for). Pull and push answer
//! with Docker's JSON progress stream: the 200 goes out at once, progress
//! lines follow, and a failure is the stream's last line,
//! `{"errorDetail": {"message": ...}, "error": ...}`, as dockerd sends it
//! (the status is already on the wire by then).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::containers::blocking;
use super::json_lines::{self, JsonLines};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::image::{self, pull, search};
use crate::engine::{self, ErrorKind};
use crate::image::registry::{Credentials, Platform, ProgressEvent};

type Q = Query<HashMap<String, String>>;

/// Byte-count lines per layer at most (one per 1% moved): with the other
/// lines, a few per layer, this bounds what a slow client makes the
/// service queue. The queue cannot apply back-pressure: the registry
/// client reports from inside its own runtime, where nothing may block.
const PROGRESS_STEPS: u64 = 100;

fn bad(flavor: ApiVersion, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message, flavor)
}

/// The body of `X-Registry-Auth` (and of `POST /auth`).
#[derive(Debug, Default, serde::Deserialize)]
struct AuthConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "serveraddress")]
    server_address: String,
    #[serde(default, rename = "identitytoken")]
    identity_token: String,
}

/// `X-Registry-Auth`: base64 (URL-safe as the docker CLI sends it, or
/// standard) of the JSON auth config. Absent, empty or `{}`: anonymous.
/// Its size is bounded by the server's header limits.
fn registry_auth(headers: &HeaderMap, flavor: ApiVersion) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get("x-registry-auth") else {
        return Ok(None);
    };
    let text = raw
        .to_str()
        .map_err(|_| bad(flavor, "invalid X-Registry-Auth header"))?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    let trimmed = text.trim_end_matches('=');
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|_| bad(flavor, "invalid X-Registry-Auth header: not base64"))?;
    let auth: AuthConfig = serde_json::from_slice(&decoded)
        .map_err(|e| bad(flavor, format!("invalid X-Registry-Auth header: {e}")))?;
    if !auth.identity_token.is_empty() {
        return Err(bad(
            flavor,
            "identity tokens in X-Registry-Auth are not supported: log in with a password",
        ));
    }
    if auth.username.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("{}:{}", auth.username, auth.password)))
}

/// Docker's API names images as dockerd does: a name whose first part is
/// not a host is Docker Hub's, never resolved through registries.conf's
/// short-name search (which would ask which registry was meant).
fn docker_reference(name: &str) -> String {
    let first = name.split('/').next().unwrap_or(name);
    let has_host = name.contains('/')
        && (first.contains(['.', ':']) || first == "localhost" || first.starts_with('['));
    if has_host {
        name.to_owned()
    } else {
        format!("docker.io/{name}")
    }
}

/// `fromImage` and `tag` as one reference: the tag, or a digest, appended
/// unless the name carries one already.
fn pull_reference(from: &str, tag: &str) -> String {
    let last = from.rsplit('/').next().unwrap_or(from);
    if tag.is_empty() || from.contains('@') {
        return from.to_owned();
    }
    if last.contains(':') {
        // `name:tag` with `tag=` too: the parameter wins, as dockerd does.
        let base = &from[..from.len() - last.len()];
        let repo = last.split(':').next().unwrap_or(last);
        return join_tag(&format!("{base}{repo}"), tag);
    }
    join_tag(from, tag)
}

fn join_tag(repo: &str, tag: &str) -> String {
    if tag.starts_with("sha256:") {
        format!("{repo}@{tag}")
    } else {
        format!("{repo}:{tag}")
    }
}

/// Sends JSON lines to the response body from a blocking task.
struct Lines {
    out: JsonLines,
    /// The total size of each layer, from its start event, and the bytes
    /// done when its last byte-count line went out.
    sizes: HashMap<String, (u64, u64)>,
}

impl Lines {
    fn send(&self, v: Value) {
        self.out.send(&v);
    }

    fn error(&self, e: &engine::Error) {
        let message = e.text();
        self.send(json!({"errorDetail": {"message": message}, "error": message}));
    }

    /// A registry event as Docker's progress line; `pulling` picks the
    /// words (Downloading/Pull complete, or Pushing/Pushed).
    fn progress(&mut self, e: ProgressEvent, pulling: bool) {
        let short = |d: &hutch_storage::Digest| d.hex().chars().take(12).collect::<String>();
        match e {
            ProgressEvent::LayerStart { digest, size } => {
                self.sizes.insert(digest.hex().to_owned(), (size, 0));
                let status = if pulling {
                    "Pulling fs layer"
                } else {
                    "Preparing"
                };
                self.send(json!({"status": status, "progressDetail": {}, "id": short(&digest)}));
            }
            ProgressEvent::LayerBytes { digest, done } => {
                let Some((total, sent)) = self.sizes.get_mut(digest.hex()) else {
                    return;
                };
                if done < *total && done.saturating_sub(*sent) < (*total / PROGRESS_STEPS).max(1) {
                    return;
                }
                *sent = done;
                let total = *total;
                let status = if pulling { "Downloading" } else { "Pushing" };
                self.send(json!({
                    "status": status,
                    "progressDetail": {"current": done, "total": total},
                    "id": short(&digest),
                }));
            }
            ProgressEvent::LayerDone { digest } => {
                let status = if pulling { "Pull complete" } else { "Pushed" };
                self.send(json!({"status": status, "progressDetail": {}, "id": short(&digest)}));
            }
            ProgressEvent::LayerSkipped { digest } => {
                let status = if pulling {
                    "Already exists"
                } else {
                    "Layer already exists"
                };
                self.send(json!({"status": status, "progressDetail": {}, "id": short(&digest)}));
            }
            ProgressEvent::ConfigCopied { .. }
            | ProgressEvent::ConfigSkipped { .. }
            | ProgressEvent::ManifestDone { .. } => {}
        }
    }
}

/// A streamed JSON answer fed by `work` on a blocking thread.
fn json_stream(shared: &Shared, work: impl FnOnce(Lines) + Send + 'static) -> Response {
    json_lines::respond(shared, move |out| {
        work(Lines {
            out,
            sizes: HashMap::new(),
        })
    })
}

/// `POST /images/create?fromImage=&tag=&platform=`: a pull. `fromSrc`
/// (import) is not served.
pub async fn create(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    headers: HeaderMap,
    Query(q): Q,
) -> Result<Response, ApiError> {
    if q.get("fromSrc").is_some_and(|s| !s.is_empty()) {
        return Err(bad(
            flavor,
            "importing with fromSrc is not supported: use hutch import",
        ));
    }
    let from = q
        .get("fromImage")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(flavor, "fromImage is required"))?;
    let platform = match q.get("platform").filter(|s| !s.is_empty()) {
        None => Platform::host(),
        Some(p) => p.parse().map_err(|e| bad(flavor, format!("{e}")))?,
    };
    let creds = registry_auth(&headers, flavor)?;
    let name = docker_reference(&pull_reference(from, q.get("tag").map_or("", |t| t)));
    let ctx = shared.ctx.clone();
    Ok(json_stream(&shared, move |mut lines| {
        let shown = name.trim_start_matches("docker.io/").to_owned();
        let (repo, tag) = image::list::repo_tag(&name);
        lines.send(json!({"status": format!("Pulling from {}", repo.trim_start_matches("docker.io/")), "id": tag}));
        let req = pull::PullRequest {
            name: name.clone(),
            platform,
            options: pull::RegistryOptions {
                creds,
                ..pull::RegistryOptions::default()
            },
        };
        let result = image::open_store(&ctx)
            .and_then(|store| pull::pull(&ctx, &store, &req, &mut |_, e| lines.progress(e, true)));
        match result {
            Ok(record) => {
                lines.send(json!({"status": format!("Digest: {}", record.digest)}));
                lines
                    .send(json!({"status": format!("Status: Downloaded newer image for {shown}")}));
            }
            Err(e) => lines.error(&e),
        }
    }))
}

/// `POST /images/{name}/push?tag=`, credentials from `X-Registry-Auth`.
/// The destination is the image's name: Docker pushes to the registry the
/// name holds.
pub async fn push(
    shared: Shared,
    flavor: ApiVersion,
    headers: &HeaderMap,
    name: String,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let creds = registry_auth(headers, flavor)?;
    let tag = q.get("tag").map_or("", |t| t.as_str());
    let target = docker_reference(&pull_reference(&name, tag));
    let ctx = shared.ctx.clone();
    // An unknown image is a 404 before the stream starts, as dockerd does.
    let local = target.clone();
    blocking(flavor, move || {
        let store = image::open_store(&ctx)?;
        super::images_local::find(&store, &local)?;
        Ok(())
    })
    .await?;
    let ctx = shared.ctx.clone();
    Ok(json_stream(&shared, move |mut lines| {
        let (repo, tag) = image::list::repo_tag(&target);
        lines.send(json!({"status": format!("The push refers to repository [{repo}]")}));
        let req = pull::PushRequest {
            image: target.clone(),
            destination: Some(target.clone()),
            options: pull::RegistryOptions {
                creds,
                ..pull::RegistryOptions::default()
            },
        };
        let result = image::open_store(&ctx).and_then(|store| {
            let record = image::lookup(&store, &target)?;
            let digest = pull::push(&ctx, &store, &req, &mut |_, e| lines.progress(e, false))?;
            let size = store.read_blob(&digest).map(|b| b.len()).unwrap_or(0);
            Ok((digest, size, record))
        });
        match result {
            Ok((digest, size, _)) => {
                lines.send(json!({"status": format!("{tag}: digest: {digest} size: {size}")}));
                lines.send(json!({
                    "progressDetail": {},
                    "aux": {"Tag": tag, "Digest": digest.to_string(), "Size": size},
                }));
            }
            Err(e) => lines.error(&e),
        }
    }))
}

/// `GET /images/search` and `GET /libpod/images/search`: `term`, `limit`,
/// `filters` (`{"stars":["3"]}` or Docker's `{"is-official":{"true":true}}`),
/// `tlsVerify` and (libpod) `listTags`, searched as the CLI does. libpod
/// answers with Podman's reports (`Index`, `Name`, `Description`, `Stars`,
/// `Official`, `Automated`, `Tag`); Docker's route with Docker's shape
/// (`name`, `description`, `star_count`, `is_official`, `is_automated`).
pub async fn search(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    headers: HeaderMap,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let term = q.get("term").cloned().unwrap_or_default();
    if term.is_empty() && flavor != ApiVersion::Libpod {
        return Err(bad(flavor, "term is required"));
    }
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        None => 0,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| bad(flavor, format!("invalid limit {l:?}")))?,
    };
    let filters = match q.get("filters").filter(|f| !f.is_empty()) {
        None => Vec::new(),
        Some(f) => {
            search_filters(f).ok_or_else(|| bad(flavor, format!("invalid filters {f:?}")))?
        }
    };
    let bool_param = |name: &str| -> Result<Option<bool>, ApiError> {
        q.get(name)
            .map(|v| match v.as_str() {
                "" | "1" | "true" | "True" | "TRUE" => Ok(true),
                "0" | "false" | "False" | "FALSE" => Ok(false),
                other => Err(bad(flavor, format!("invalid {name} {other:?}"))),
            })
            .transpose()
    };
    let tls_verify = bool_param("tlsVerify")?;
    let list_tags = bool_param("listTags")?.unwrap_or(false);
    let creds = registry_auth(&headers, flavor)?;
    let ctx = shared.ctx.clone();
    let reports = blocking(flavor, move || {
        let opts = search::SearchOptions {
            registry: pull::RegistryOptions {
                tls_verify,
                creds,
                authfile: None,
            },
            limit,
            filters,
            list_tags,
            // The client cuts descriptions for its table.
            no_trunc: true,
        };
        search::search(&ctx, &term, &opts)
    })
    .await?;
    if flavor == ApiVersion::Libpod {
        return Ok(axum::Json(reports).into_response());
    }
    let docker: Vec<Value> = reports
        .into_iter()
        .map(|r| {
            json!({
                "name": r.name,
                "description": r.description,
                "star_count": r.stars,
                "is_official": r.official == "[OK]",
                "is_automated": r.automated == "[OK]",
            })
        })
        .collect();
    Ok(axum::Json(docker).into_response())
}

/// `filters` as `key=value` words: each key's values, whether sent as a
/// list (`{"stars":["3"]}`) or as Docker's set (`{"stars":{"3":true}}`).
fn search_filters(text: &str) -> Option<Vec<String>> {
    let map: serde_json::Map<String, Value> = serde_json::from_str(text).ok()?;
    let mut out = Vec::new();
    for (key, values) in map {
        let values: Vec<String> = match values {
            Value::Array(a) => a
                .into_iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()?,
            Value::Object(o) => o
                .into_iter()
                .filter(|(_, on)| on.as_bool() != Some(false))
                .map(|(k, _)| k)
                .collect(),
            _ => return None,
        };
        if values.is_empty() {
            out.push(key);
            continue;
        }
        for v in values {
            out.push(format!("{key}={v}"));
        }
    }
    Some(out)
}

/// `POST /auth`: checks the login as `docker login` sends it; nothing is
/// stored (the client keeps its credentials and sends them with each
/// pull and push). A rejected login is a 401.
pub async fn auth(
    Extension(flavor): Extension<ApiVersion>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let auth: AuthConfig = serde_json::from_slice(&body)
        .map_err(|e| bad(flavor, format!("invalid auth body: {e}")))?;
    if auth.username.is_empty() {
        return Err(bad(flavor, "a username is required"));
    }
    let server = if auth.server_address.is_empty() {
        "docker.io".to_owned()
    } else {
        auth.server_address.clone()
    };
    let creds = Credentials {
        username: auth.username,
        password: auth.password,
    };
    let checked = tokio::task::spawn_blocking(move || {
        pull::check_login(&server, &creds, &pull::RegistryOptions::default())
    })
    .await;
    match checked {
        Ok(Ok(_)) => Ok(
            axum::Json(json!({"Status": "Login Succeeded", "IdentityToken": ""})).into_response(),
        ),
        Ok(Err(e)) => {
            let mut err = ApiError::from_engine(&e, flavor);
            if e.kind() == ErrorKind::Internal && e.text().contains("invalid username/password") {
                err.status = StatusCode::UNAUTHORIZED;
            }
            Err(err)
        }
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
            flavor,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_filters_as_lists_or_sets() {
        assert_eq!(
            search_filters(r#"{"stars":["3"],"is-official":[]}"#).unwrap(),
            ["stars=3", "is-official"]
        );
        assert_eq!(
            search_filters(r#"{"is-automated":{"true":true,"x":false}}"#).unwrap(),
            ["is-automated=true"]
        );
        assert!(search_filters(r#"{"stars":3}"#).is_none());
    }

    #[test]
    fn references_as_dockerd_reads_them() {
        assert_eq!(docker_reference("busybox"), "docker.io/busybox");
        assert_eq!(
            docker_reference("library/busybox"),
            "docker.io/library/busybox"
        );
        assert_eq!(docker_reference("127.0.0.1:5000/app"), "127.0.0.1:5000/app");
        assert_eq!(docker_reference("localhost/app"), "localhost/app");
        assert_eq!(pull_reference("app", "v1"), "app:v1");
        assert_eq!(pull_reference("reg:5000/app:old", "v1"), "reg:5000/app:v1");
        assert_eq!(pull_reference("reg:5000/app", ""), "reg:5000/app");
        assert_eq!(pull_reference("app", "sha256:abc"), "app@sha256:abc");
    }

    #[test]
    fn registry_auth_header() {
        let f = ApiVersion::Docker(1, 47);
        let mut h = HeaderMap::new();
        assert_eq!(registry_auth(&h, f).unwrap(), None);
        let enc = base64::engine::general_purpose::URL_SAFE
            .encode(r#"{"username":"u","password":"p:w","serveraddress":"r"}"#);
        h.insert("x-registry-auth", enc.parse().unwrap());
        assert_eq!(registry_auth(&h, f).unwrap().as_deref(), Some("u:p:w"));
        h.insert("x-registry-auth", "e30=".parse().unwrap());
        assert_eq!(registry_auth(&h, f).unwrap(), None);
        h.insert("x-registry-auth", "!!".parse().unwrap());
        assert!(registry_auth(&h, f).is_err());
    }
}
