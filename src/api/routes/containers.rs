//! Docker's container routes: list, create, inspect, start, stop, kill,
//! restart, remove, wait and logs. Each calls the engine operation the CLI
//! calls, in a blocking task (the engine is synchronous: SQLite, files,
//! processes), and shapes its report as Docker's JSON.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::create_body;
use crate::api::error::ApiError;
use crate::api::hijack::frame;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Hold, Shared, held_stream};
use crate::engine::container::create::{self, CreateOptions, PullPolicy};
use crate::engine::container::inspect;
use crate::engine::container::kill::{self, KillOptions};
use crate::engine::container::list::{self, ListOptions};
use crate::engine::container::logs::{LogStream, LogsOptions};
use crate::engine::container::remove::{self, RemoveOptions};
use crate::engine::container::restart::{self, RestartOptions};
use crate::engine::container::select::{Report, Selection};
use crate::engine::container::start::{self, StartOptions, Started};
use crate::engine::container::stop::{self, StopOptions};
use crate::engine::container::wait::{self, ExitCondition};
use crate::engine::container::{self as engine_container, lifecycle};
use crate::engine::state::{Container, State as StateDb};
use crate::engine::{self, Error, image};
use crate::host::time;
use crate::runtime::logfile::Stream;
use hutch_storage::Store;

type Q = Query<HashMap<String, String>>;

/// How often a waiter polls the state (a wait answers at most this late).
/// `docker run` waits on every run: at 100 ms the poll alone added ~50 ms
/// to its median; a poll is one small database read.
const WAIT_INTERVAL: Duration = Duration::from_millis(10);

/// Log chunks buffered between the reader and a slow client.
const LOG_QUEUE: usize = 16;

/// Opens the store and the state and finishes what dead monitors left, as
/// every CLI command does first.
pub(super) fn open(ctx: &crate::config::Context) -> engine::Result<(Store, StateDb)> {
    let store = image::open_store(ctx)?;
    let state = engine_container::open_state(ctx)?;
    lifecycle::recover(ctx, &store, &state)?;
    Ok((store, state))
}

/// Runs engine work on a blocking thread; its error as the API's.
pub(super) async fn blocking<T: Send + 'static>(
    flavor: ApiVersion,
    f: impl FnOnce() -> engine::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::from_engine(&e, flavor)),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
            flavor,
        )),
    }
}

fn bad(flavor: ApiVersion, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message, flavor)
}

/// Docker's booleans in a query: `1`/`true`, `0`/`false`/empty.
pub(super) fn flag(
    q: &HashMap<String, String>,
    key: &str,
    flavor: ApiVersion,
) -> Result<bool, ApiError> {
    match q.get(key).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("" | "0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(v) => Err(bad(
            flavor,
            format!("invalid value {v:?} for {key}: expected a boolean"),
        )),
    }
}

/// Docker's `filters` query: `{"key": ["v1", "v2"]}` (or the old
/// `{"key": {"v1": true}}`) as the engine's `key=value` strings.
pub(super) fn filters(
    q: &HashMap<String, String>,
    flavor: ApiVersion,
) -> Result<Vec<String>, ApiError> {
    let Some(raw) = q.get("filters").filter(|f| !f.is_empty()) else {
        return Ok(Vec::new());
    };
    let v: HashMap<String, Value> = serde_json::from_str(raw)
        .map_err(|e| bad(flavor, format!("invalid filters {raw:?}: {e}")))?;
    let mut out = Vec::new();
    for (k, vals) in v {
        match vals {
            Value::Array(a) => {
                for x in a {
                    let Value::String(s) = x else {
                        return Err(bad(
                            flavor,
                            format!("invalid filter {k}: values are strings"),
                        ));
                    };
                    out.push(format!("{k}={s}"));
                }
            }
            Value::Object(o) => out.extend(o.keys().map(|s| format!("{k}={s}"))),
            _ => return Err(bad(flavor, format!("invalid filter {k}: expected a list"))),
        }
    }
    out.sort();
    Ok(out)
}

/// A number of seconds, with `None` for absent or negative (Docker's -1:
/// the container's own timeout).
fn seconds(
    q: &HashMap<String, String>,
    key: &str,
    flavor: ApiVersion,
) -> Result<Option<u32>, ApiError> {
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => {
            let n: i64 = v.parse().map_err(|_| {
                bad(
                    flavor,
                    format!("invalid value {v:?} for {key}: expected seconds"),
                )
            })?;
            Ok(u32::try_from(n).ok())
        }
    }
}

/// The one report of a single-container operation.
fn single(reports: Vec<Report>) -> engine::Result<()> {
    match reports.into_iter().next().and_then(|r| r.error) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Docker's state names (`stopped` is Podman's only).
fn docker_state(name: &str) -> &str {
    match name {
        "stopped" => "exited",
        "configured" | "initialized" => "created",
        other => other,
    }
}

fn image_id(id: &str) -> String {
    if id.starts_with("sha256:") || id.is_empty() {
        id.to_owned()
    } else {
        format!("sha256:{id}")
    }
}

/// `GET /containers/json?all=&limit=&size=&filters=`.
pub async fn list(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let raw_filters = filters(&q, flavor)?;
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => {
            let n: i64 = l
                .parse()
                .map_err(|_| bad(flavor, format!("invalid limit {l:?}")))?;
            usize::try_from(n).ok().filter(|n| *n > 0)
        }
    };
    let opts = ListOptions {
        all: flag(&q, "all", flavor)?,
        filters: Vec::new(),
        last: limit,
        latest: false,
        size: flag(&q, "size", flavor)?,
    };
    let ctx = shared.ctx.clone();
    let rows = blocking(flavor, move || {
        let opts = ListOptions {
            filters: list::parse_filters(&raw_filters)?,
            ..opts
        };
        let (store, state) = open(&ctx)?;
        list::list(&ctx, &store, &state, &opts)
    })
    .await?;
    let now = time::now_ns();
    let out: Vec<Value> = rows
        .iter()
        .map(|c| {
            let mut v = json!({
                "Id": c.id,
                "Names": [format!("/{}", c.name)],
                "Image": c.image,
                "ImageID": image_id(&c.image_id),
                "Command": c.command,
                "Created": c.created / 1_000_000_000,
                "Ports": [],
                "Labels": c.labels.iter().cloned().collect::<HashMap<_, _>>(),
                "State": docker_state(c.state_name),
                "Status": list::status_text(c, now),
                "HostConfig": {"NetworkMode": "default"},
                "NetworkSettings": {"Networks": {}},
                "Mounts": [],
            });
            if let Some((rw, root)) = c.size {
                v["SizeRw"] = json!(rw);
                v["SizeRootFs"] = json!(rw + root);
            }
            v
        })
        .collect();
    Ok(axum::Json(out).into_response())
}

/// `POST /containers/create?name=`: 201 with the id.
pub async fn create(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Q,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec = create_body::spec(&body, q.get("name").map(String::as_str))
        .map_err(|e| bad(flavor, e.0))?;
    let ctx = shared.ctx.clone();
    let created = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        // Docker's daemon never pulls on create: the client pulls on 404.
        let opts = CreateOptions {
            pull: PullPolicy::Never,
            replace: false,
            progress: None,
            ..CreateOptions::default()
        };
        create::create(&ctx, &store, &state, &spec, &opts)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"Id": created.id, "Warnings": created.warnings})),
    )
        .into_response())
}

/// `GET /containers/{id}/json`: Docker's inspect document, from the
/// engine's (Podman's) with the fields Docker spells differently.
pub async fn inspect(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let (v, c) = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let c = state.container(&id)?;
        Ok((inspect::inspect(&ctx, &store, &c), c))
    })
    .await?;
    Ok(axum::Json(docker_inspect(v, &c)).into_response())
}

fn docker_inspect(mut v: Value, c: &Container) -> Value {
    let spec = &c.spec;
    v["Name"] = json!(format!("/{}", c.name));
    v["Image"] = json!(image_id(&c.image_id));
    v["Platform"] = json!("linux");
    v["GraphDriver"] = json!({"Name": v["Driver"].clone(), "Data": {}});
    let status = v["State"]["Status"]
        .as_str()
        .map(docker_state)
        .map(str::to_owned);
    if let Some(s) = status {
        v["State"]["Status"] = json!(s);
    }
    if v["State"]["Health"]["Status"] == ""
        && let Some(state) = v["State"].as_object_mut()
    {
        state.remove("Health");
    }
    // Docker's Entrypoint is a list: the process's arguments before Cmd.
    let mut args = vec![v["Path"].clone()];
    args.extend(v["Args"].as_array().cloned().unwrap_or_default());
    let cmd = v["Config"]["Cmd"].as_array().cloned().unwrap_or_default();
    let entrypoint: Vec<Value> =
        if args.len() >= cmd.len() && args[args.len() - cmd.len()..] == cmd[..] {
            args[..args.len() - cmd.len()].to_vec()
        } else {
            v["Config"]["Entrypoint"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .map(|s| json!(s))
                .collect()
        };
    v["Config"]["Entrypoint"] = if entrypoint.is_empty() {
        Value::Null
    } else {
        json!(entrypoint)
    };
    v["Config"]["OpenStdin"] = json!(spec.interactive);
    // The image as the client named it, as Docker keeps it.
    v["Config"]["Image"] = json!(spec.image);
    // Docker's StopSignal is a name.
    if let Some(n) = v["Config"]["StopSignal"]
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
    {
        v["Config"]["StopSignal"] = json!(crate::spec::parse::restart::signal_name(n));
    }
    if let Some(labels) = v["Config"]["Labels"].as_object_mut() {
        for (k, val) in &spec.labels {
            labels.insert(k.clone(), json!(val));
        }
    }
    // PortBindings, Dns*, ExtraHosts, Privileged, PublishAllPorts: the
    // engine's (Podman's) as they are.
    let (_, exposed) = inspect::port_bindings(spec);
    v["Config"]["ExposedPorts"] = json!(exposed);
    let network_mode = match &spec.network.mode {
        None => "default".to_owned(),
        Some(m) => network_mode_name(m),
    };
    let binds: Vec<String> = spec
        .mounts
        .iter()
        .filter_map(|m| {
            let src = match &m.source {
                crate::spec::MountSource::Bind(p) => p.display().to_string(),
                crate::spec::MountSource::Named(n) => n.clone(),
                _ => return None,
            };
            let mut b = format!("{src}:{}", m.destination);
            if !m.options.is_empty() {
                b = format!("{b}:{}", m.options.join(","));
            }
            Some(b)
        })
        .collect();
    // As Podman's compat API: clients know json-file, not k8s-file (the
    // Python SDK's foreground `run` reads the logs only for json-file or
    // journald).
    if v["HostConfig"]["LogConfig"]["Type"] == "k8s-file" {
        v["HostConfig"]["LogConfig"]["Type"] = json!("json-file");
    }
    if let Some(h) = v["HostConfig"].as_object_mut() {
        for (k, val) in [
            ("Binds", json!(binds)),
            ("NetworkMode", json!(network_mode)),
            ("CapAdd", json!(spec.cap_add)),
            ("CapDrop", json!(spec.cap_drop)),
            ("Init", json!(spec.init)),
        ] {
            h.insert(k.to_owned(), val);
        }
    }
    v
}

fn network_mode_name(m: &hutch_rootless_net::NetworkMode) -> String {
    use hutch_rootless_net::NetworkMode as N;
    match m {
        N::None => "none".into(),
        N::Host => "host".into(),
        N::Pasta { .. } => "pasta".into(),
        N::Slirp4netns { .. } => "slirp4netns".into(),
        N::Container { id } => format!("container:{id}"),
        N::Ns { path } => format!("ns:{}", path.display()),
        N::Network { name } => name.clone(),
    }
}

pub(super) fn no_content(done: bool) -> Response {
    if done {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::NOT_MODIFIED.into_response()
    }
}

/// `POST /containers/{id}/start`: 204, or 304 when it runs already.
pub async fn start(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let started = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        // A client attached before the start (`docker run`) gets the
        // container started attached to it.
        if let Some(started) = super::attach::start_waiting(&ctx, &store, &state, &id)? {
            return Ok(started);
        }
        if state.container(&id)?.state.is_active() {
            return Ok(false);
        }
        let opts = StartOptions {
            select: Selection::names(&[id]),
            passed: None,
            attach: None,
        };
        match start::start(&ctx, &store, &state, &opts)? {
            Started::Detached(reports) => single(reports)?,
            Started::Attached(_) => {}
        }
        Ok(true)
    })
    .await?;
    Ok(no_content(started))
}

/// `POST /containers/{id}/stop?t=`: 204, or 304 when it does not run.
pub async fn stop(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let timeout = seconds(&q, "t", flavor)?;
    if q.get("signal").is_some_and(|s| !s.is_empty()) {
        return Err(bad(flavor, "stop with a signal is not supported: use kill"));
    }
    let ctx = shared.ctx.clone();
    let stopped = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        if !state.container(&id)?.state.is_active() {
            return Ok(false);
        }
        let opts = StopOptions {
            select: Selection::names(&[id]),
            ignore: false,
            timeout,
        };
        single(stop::stop(&ctx, &store, &state, &opts)?)?;
        Ok(true)
    })
    .await?;
    Ok(no_content(stopped))
}

/// `POST /containers/{id}/kill?signal=`: 204; 409 when it does not run.
pub async fn kill(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let signal = q
        .get("signal")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| "KILL".to_owned());
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let opts = KillOptions {
            select: Selection::names(&[id]),
            signal,
        };
        single(kill::kill(&ctx, &store, &state, &opts)?)
    })
    .await?;
    Ok(no_content(true))
}

/// `POST /containers/{id}/restart?t=`: 204.
pub async fn restart(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let timeout = seconds(&q, "t", flavor)?;
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let opts = RestartOptions {
            select: Selection::names(&[id]),
            running: false,
            timeout,
        };
        single(restart::restart(&ctx, &store, &state, &opts)?)
    })
    .await?;
    Ok(no_content(true))
}

/// `DELETE /containers/{id}?force=&v=`: 204; 409 for a running one
/// without `force`.
pub async fn remove(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let opts = RemoveOptions {
        names: vec![id],
        force: flag(&q, "force", flavor)?,
        volumes: flag(&q, "v", flavor)?,
        ..RemoveOptions::default()
    };
    if flag(&q, "link", flavor)? {
        return Err(bad(flavor, "links are not supported"));
    }
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        single(remove::remove(&ctx, &store, &state, &opts)?)
    })
    .await?;
    Ok(no_content(true))
}

/// `POST /containers/{id}/wait?condition=`: 404 for an unknown container
/// and 400 for an unknown condition, before anything is sent; otherwise
/// the 200 and its content type at once (clients wait on them before they
/// start the container), and `{"StatusCode": N, "Error": null}` when the
/// condition holds. The watch is made before the 200 goes out, so an exit
/// or a removal right after it is seen.
pub async fn wait(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let condition = q.get("condition").cloned().unwrap_or_default();
    let ctx = shared.ctx.clone();
    let watch = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        // The container first: an unknown one is a 404 whatever the
        // condition.
        state.container(&id)?;
        let condition = ExitCondition::parse(&condition)?;
        wait::watch(&ctx, &store, &state, &id, condition)
    })
    .await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<engine::Result<i32>>();
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let result = open(&ctx).and_then(|(store, state)| {
            // A client that hung up ends the wait.
            watch.wait(&ctx, &store, &state, WAIT_INTERVAL, &|| !tx.is_closed())
        });
        let _ = tx.send(result);
    });
    let hold = Hold::new(&shared);
    let body = futures_util::stream::once(async move {
        let _hold = hold;
        // Docker's field order, which people read in curl's output.
        let text = match rx.await {
            Ok(Ok(code)) => format!("{{\"StatusCode\":{code},\"Error\":null}}\n"),
            Ok(Err(e)) => format!(
                "{{\"StatusCode\":-1,\"Error\":{}}}\n",
                json!({"Message": e.text()})
            ),
            Err(_) => {
                "{\"StatusCode\":-1,\"Error\":{\"Message\":\"the wait ended unexpectedly\"}}\n"
                    .to_owned()
            }
        };
        Ok::<_, Infallible>(Bytes::from(text))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// Docker's `since`/`until`: Unix seconds, with a fraction; 0 is none.
fn unix_ns(
    q: &HashMap<String, String>,
    key: &str,
    flavor: ApiVersion,
) -> Result<Option<i64>, ApiError> {
    let Some(v) = q.get(key).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let err = || {
        bad(
            flavor,
            format!("invalid value {v:?} for {key}: expected Unix seconds"),
        )
    };
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().map_err(|_| err())?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let nanos: i64 = format!("{frac:0<9}").parse().map_err(|_| err())?;
    let ns = secs
        .checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(nanos))
        .ok_or_else(err)?;
    Ok(Some(ns).filter(|n| *n > 0))
}

/// `GET /containers/{id}/logs?stdout=&stderr=&follow=&since=&until=&timestamps=&tail=`:
/// the multiplexed stream (raw for a TTY container), streamed as the
/// engine reads it; with `follow` until the container stops or the
/// client hangs up.
pub async fn logs(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let (out, err) = (flag(&q, "stdout", flavor)?, flag(&q, "stderr", flavor)?);
    if !out && !err {
        return Err(bad(flavor, "you must choose at least one stream"));
    }
    let timestamps = flag(&q, "timestamps", flavor)?;
    let tail = match q.get("tail").map(String::as_str) {
        None | Some("" | "all") => None,
        Some(t) => {
            let n: i64 = t
                .parse()
                .map_err(|_| bad(flavor, format!("invalid tail {t:?}: a number or all")))?;
            usize::try_from(n).ok()
        }
    };
    let opts = LogsOptions {
        since: unix_ns(&q, "since", flavor)?,
        until: unix_ns(&q, "until", flavor)?,
        tail,
        follow: flag(&q, "follow", flavor)?,
    };
    let (ready_rx, rx) = read_logs(&shared, id, opts, (out, err), timestamps, true);
    let tty = match ready_rx.await {
        Ok(Ok(tty)) => tty,
        Ok(Err(e)) => return Err(ApiError::from_engine(&e, flavor)),
        Err(_) => {
            return Err(ApiError::from_engine(
                &Error::internal("reading the log ended unexpectedly"),
                flavor,
            ));
        }
    };
    let body = held_stream(&shared, rx);
    let multiplexed = !tty && !matches!(flavor, ApiVersion::Docker(1, m) if m < 42);
    let kind = if multiplexed {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, kind)],
        Body::from_stream(body),
    )
        .into_response())
}

/// Reads a container's log on a blocking thread, as the Docker and libpod
/// logs routes stream it: lines of the chosen streams (`out`, `err`),
/// with timestamps if asked, each in the 8-byte frame, or raw for a TTY
/// container when `raw_tty` (Docker's rule; libpod frames always). The
/// first receiver says whether the log opened (and whether the container
/// has a TTY), the second carries the chunks until the end or the client
/// hangs up.
pub(super) fn read_logs(
    shared: &Shared,
    id: String,
    opts: LogsOptions,
    (out, err): (bool, bool),
    timestamps: bool,
    raw_tty: bool,
) -> (
    tokio::sync::oneshot::Receiver<engine::Result<bool>>,
    tokio::sync::mpsc::Receiver<Bytes>,
) {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<engine::Result<bool>>();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(LOG_QUEUE);
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let opened = open(&ctx).and_then(|(store, state)| {
            let tty = state.container(&id)?.spec.tty;
            Ok((store, state, tty))
        });
        let (store, state, tty) = match opened {
            Ok(v) => v,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        let mut stream = match LogStream::open(&ctx, &store, &state, &id, &opts) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        if ready_tx.send(Ok(tty)).is_err() {
            return;
        }
        while let Ok(Some(lines)) = stream.next_batch() {
            let mut chunk = Vec::new();
            for l in lines {
                let (wanted, n) = match l.stream {
                    Stream::Stdout => (out, 1),
                    Stream::Stderr => (err, 2),
                };
                if !wanted {
                    continue;
                }
                let mut text = String::new();
                if timestamps {
                    let ns = i64::try_from(l.time_ns).ok();
                    text.push_str(&inspect::rfc3339_nano(ns));
                    text.push(' ');
                }
                text.push_str(&l.text);
                text.push('\n');
                if tty && raw_tty {
                    chunk.extend_from_slice(text.as_bytes());
                } else {
                    chunk.extend(frame(n, text.as_bytes()));
                }
            }
            if !chunk.is_empty() && tx.blocking_send(Bytes::from(chunk)).is_err() {
                // The client hung up.
                return;
            }
        }
    });
    (ready_rx, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_times() {
        assert_eq!(
            frame(2, b"hi\n"),
            [2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
        let f = ApiVersion::Docker(1, 47);
        let q = |v: &str| HashMap::from([("since".to_owned(), v.to_owned())]);
        assert_eq!(unix_ns(&q("1.5"), "since", f).unwrap(), Some(1_500_000_000));
        assert_eq!(unix_ns(&q("0"), "since", f).unwrap(), None);
        assert!(unix_ns(&q("x"), "since", f).is_err());
        let fq = HashMap::from([(
            "filters".to_owned(),
            r#"{"status":["exited"],"name":{"web":true}}"#.to_owned(),
        )]);
        assert_eq!(filters(&fq, f).unwrap(), ["name=web", "status=exited"]);
        let b = HashMap::from([("all".to_owned(), "maybe".to_owned())]);
        assert!(flag(&b, "all", f).is_err());
    }
}
