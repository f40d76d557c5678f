//! The libpod container routes (`/libpod/containers/...`), as `podman
//! --remote` 4.3.1 calls them: create from a SpecGenerator body, list in
//! Podman's `ps` shape, inspect in Podman's shape (what `hutch inspect`
//! prints), exists, start, stop, kill, restart, pause, unpause, remove,
//! logs, top and wait with Podman's states. Each calls the engine
//! operation the CLI calls.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::containers::{blocking, filters, flag, open, read_logs};
use super::libpod_create;
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Hold, Shared, held_stream};
use crate::engine::container::create::{self, CreateOptions, PullPolicy};
use crate::engine::container::events::{parse_time, parse_until};
use crate::engine::container::init::{self, InitOptions};
use crate::engine::container::inspect;
use crate::engine::container::list::{self, ListOptions};
use crate::engine::container::logs::LogsOptions;
use crate::engine::container::pause::{self, PauseOptions};
use crate::engine::container::remove::{self, RemoveOptions};
use crate::engine::container::restart::{self, RestartOptions};
use crate::engine::container::select::{Report, Selection};
use crate::engine::container::stats::{Stats, StatsOptions, StatsReport};
use crate::engine::container::stop::{self, StopOptions};
use crate::engine::container::top::{self, TopOptions};
use crate::engine::container::wait::{self, Condition};
use crate::engine::state::ContainerState;
use crate::engine::{self, Error};
use crate::host::time;

type Q = Query<HashMap<String, String>>;
/// Queries with repeated keys (`condition`, `images`).
pub(super) type Pairs = Query<Vec<(String, String)>>;

/// Log chunks buffered between the reader and a slow client.
const LOG_QUEUE: usize = 16;

/// The longest `interval` a wait takes: a client cannot park a thread on
/// a poll that never comes.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

pub(super) fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message, ApiVersion::Libpod)
}

const LP: ApiVersion = ApiVersion::Libpod;

/// libpod answers 204, or 304 when nothing changed, as Docker's routes.
use super::containers::no_content as done;

fn single(reports: Vec<Report>) -> engine::Result<()> {
    match reports.into_iter().next().and_then(|r| r.error) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Podman's numbers in a query: absent or empty is `None`.
fn number(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    match q.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| bad(format!("invalid value {v:?} for {key}: expected a number"))),
    }
}

/// `POST /libpod/containers/create`: 201 `{"Id", "Warnings"}`.
pub async fn create(State(shared): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let spec = libpod_create::spec(&body).map_err(|e| bad(e.0))?;
    let ctx = shared.ctx.clone();
    let created = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        // The client pulls first (`images/pull?policy=...`), as Podman's
        // service expects.
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

/// `GET /libpod/containers/json?all=&last=&limit=&size=&filters=`: Podman's
/// `ListContainer` entries.
pub async fn list(State(shared): State<Shared>, Query(q): Q) -> Result<Response, ApiError> {
    let raw_filters = filters(&q, LP)?;
    let last = number(&q, "last")?.or(number(&q, "limit")?);
    let opts = ListOptions {
        all: flag(&q, "all", LP)?,
        filters: Vec::new(),
        last: last
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0),
        latest: false,
        size: flag(&q, "size", LP)?,
    };
    let ctx = shared.ctx.clone();
    let rows = blocking(LP, move || {
        let opts = ListOptions {
            filters: list::parse_filters(&raw_filters)?,
            ..opts
        };
        let (store, state) = open(&ctx)?;
        let rows = list::list(&ctx, &store, &state, &opts)?;
        // The published ports as the network plan has them (host ports
        // chosen), Podman's PortMapping objects.
        Ok(rows
            .iter()
            .map(|c| {
                let paths = engine::container::Paths::new(&ctx, store.root(), &c.id);
                let ports = engine::container::network::read_plan(&paths)
                    .filter(|p| !p.ports.is_empty())
                    .and_then(|p| serde_json::to_value(&p.ports).ok())
                    .unwrap_or(Value::Null);
                let mut v = ps_entry(c);
                v["Ports"] = ports;
                v
            })
            .collect::<Vec<Value>>())
    })
    .await?;
    let out = rows;
    Ok(axum::Json(out).into_response())
}

fn ps_entry(c: &list::ContainerSummary) -> Value {
    let secs = |ns: Option<i64>| ns.map_or(-62_135_596_800, |n| n / 1_000_000_000);
    let exited = matches!(c.state, ContainerState::Exited | ContainerState::Stopped);
    json!({
        "AutoRemove": c.auto_remove,
        "Command": c.args,
        "Created": inspect::rfc3339_nano(Some(c.created)),
        "CreatedAt": "",
        "Exited": exited,
        "ExitedAt": secs(c.exited_at),
        "ExitCode": c.exit_code.unwrap_or(0),
        "Id": c.id,
        "Image": c.image,
        "ImageID": c.image_id,
        "IsInfra": false,
        "Labels": c.labels.iter().cloned().collect::<HashMap<_, _>>(),
        "Mounts": [],
        "Names": [c.name],
        "Namespaces": {},
        "Networks": [],
        "Pid": c.pid.unwrap_or(0),
        "Pod": "",
        "PodName": "",
        "Ports": null,
        "Restarts": c.restarts,
        "Size": c.size.map(|(rw, root)| json!({"rwSize": rw, "rootFsSize": root})),
        "StartedAt": secs(c.started_at),
        "State": c.state_name,
        // Podman's client builds the STATUS column from State and the
        // times; this field is only the health it appends.
        "Status": "",
    })
}

/// `GET /libpod/containers/{id}/json`: the document `hutch inspect`
/// prints (Podman's shape).
pub async fn inspect(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let v = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let c = state.container(&id)?;
        Ok(inspect::inspect(&ctx, &store, &c))
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// `GET /libpod/containers/{id}/exists`: 204 or 404.
pub async fn exists(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let found = blocking(LP, move || {
        let state = engine::container::open_state(&ctx)?;
        engine::container::exists::exists(&state, &id)
    })
    .await?;
    if found {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no such container",
            LP,
        ))
    }
}

/// `POST /libpod/containers/{id}/stop?timeout=&ignore=`: 204, 304 when it
/// does not run.
pub async fn stop(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let timeout = number(&q, "timeout")?
        .or(number(&q, "t")?)
        .and_then(|n| u32::try_from(n).ok());
    let ignore = flag(&q, "ignore", LP)?;
    let ctx = shared.ctx.clone();
    let stopped = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        if !state.container(&id)?.state.is_active() {
            return Ok(false);
        }
        let opts = StopOptions {
            select: Selection::names(&[id]),
            ignore,
            timeout,
        };
        single(stop::stop(&ctx, &store, &state, &opts)?)?;
        Ok(true)
    })
    .await?;
    Ok(done(stopped))
}

/// `POST /libpod/containers/{id}/init`: 204; 304 when it is past
/// created (initialized, running or stopped), which Podman's client reads
/// as "has already been created in runtime".
pub async fn init(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let changed = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        if !matches!(
            state.container(&id)?.state,
            ContainerState::Configured | ContainerState::Exited
        ) {
            return Ok(false);
        }
        let opts = InitOptions {
            select: Selection::names(&[id]),
        };
        single(init::init(&ctx, &store, &state, &opts)?)?;
        Ok(true)
    })
    .await?;
    Ok(done(changed))
}

/// `POST /libpod/containers/{id}/restart?t=`: 204.
pub async fn restart(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let timeout = number(&q, "t")?
        .or(number(&q, "timeout")?)
        .and_then(|n| u32::try_from(n).ok());
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let opts = RestartOptions {
            select: Selection::names(&[id]),
            running: false,
            timeout,
        };
        single(restart::restart(&ctx, &store, &state, &opts)?)
    })
    .await?;
    Ok(done(true))
}

async fn pause_or_unpause(shared: Shared, id: String, freeze: bool) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let opts = PauseOptions {
            select: Selection::names(&[id]),
        };
        single(pause::pause_each(&ctx, &store, &state, &opts, freeze)?)
    })
    .await?;
    Ok(done(true))
}

/// `POST /libpod/containers/{id}/pause`: 204; 409 when it does not run.
pub async fn pause(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    pause_or_unpause(shared, id, true).await
}

/// `POST /libpod/containers/{id}/unpause`: 204; 409 when not paused.
pub async fn unpause(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    pause_or_unpause(shared, id, false).await
}

/// `DELETE /libpod/containers/{id}?force=&volumes=&v=&ignore=&depend=&timeout=`:
/// 200 with Podman's reports (`[{"Id", "RawInput"}]`), 404 for a missing
/// one (without `ignore`), 409 for a running one without `force`.
pub async fn remove(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let force = flag(&q, "force", LP)?;
    let opts = RemoveOptions {
        names: vec![id],
        force,
        ignore: flag(&q, "ignore", LP)?,
        depend: flag(&q, "depend", LP)?,
        volumes: flag(&q, "volumes", LP)? || flag(&q, "v", LP)?,
        timeout: number(&q, "timeout")?
            .filter(|_| force)
            .and_then(|n| u32::try_from(n).ok()),
        ..RemoveOptions::default()
    };
    let ctx = shared.ctx.clone();
    let reports = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let reports = remove::remove(&ctx, &store, &state, &opts)?;
        let mut out = Vec::new();
        for r in reports {
            if let Some(e) = r.error {
                return Err(e);
            }
            // A missing name skipped by `ignore` has no id.
            if !r.id.is_empty() {
                out.push(json!({"Id": r.id, "RawInput": r.input}));
            }
        }
        Ok(out)
    })
    .await?;
    Ok(axum::Json(reports).into_response())
}

/// Podman's `since`/`until`: RFC 3339 (Go's zero time is none), Unix
/// seconds or a duration, back from now for `since` and forward for
/// `until` (Podman's server parses them so).
fn log_time(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    let Some(v) = q
        .get(key)
        .filter(|v| !v.is_empty() && !v.starts_with("0001-01-01"))
    else {
        return Ok(None);
    };
    let parse = if key == "until" {
        parse_until
    } else {
        parse_time
    };
    let ns = parse(v, time::now_ns()).map_err(|e| ApiError::from_engine(&e, LP))?;
    Ok(Some(ns).filter(|n| *n > 0))
}

/// `GET /libpod/containers/{id}/logs?stdout=&stderr=&follow=&since=&until=&timestamps=&tail=`.
pub async fn logs(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let (out, err) = (flag(&q, "stdout", LP)?, flag(&q, "stderr", LP)?);
    if !out && !err {
        return Err(bad("you must choose at least one stream"));
    }
    let timestamps = flag(&q, "timestamps", LP)?;
    let tail = match q.get("tail").map(String::as_str) {
        None | Some("" | "all") => None,
        Some(t) => {
            let n: i64 = t
                .parse()
                .map_err(|_| bad(format!("invalid tail {t:?}: a number or all")))?;
            // -1 is Podman's "all".
            usize::try_from(n).ok()
        }
    };
    let opts = LogsOptions {
        since: log_time(&q, "since")?,
        until: log_time(&q, "until")?,
        tail,
        follow: flag(&q, "follow", LP)?,
    };
    // Podman's service frames every line, a TTY container's too.
    let (ready_rx, rx) = read_logs(&shared, id, opts, (out, err), timestamps, false);
    match ready_rx.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(ApiError::from_engine(&e, LP)),
        Err(_) => {
            return Err(ApiError::from_engine(
                &Error::internal("reading the log ended unexpectedly"),
                LP,
            ));
        }
    }
    let body = held_stream(&shared, rx);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(body),
    )
        .into_response())
}

/// `GET /libpod/containers/{id}/top?ps_args=`: `{"Titles", "Processes"}`.
pub async fn top(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Pairs,
) -> Result<Response, ApiError> {
    // Podman's client sends the descriptors as repeated `ps_args`, each
    // possibly comma-separated.
    let descriptors: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "ps_args")
        .flat_map(|(_, v)| v.split([',', ' ']).map(str::to_owned))
        .filter(|d| !d.is_empty())
        .collect();
    let ctx = shared.ctx.clone();
    let report = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        top::top(&store, &state, &id, &TopOptions { descriptors })
    })
    .await?;
    Ok(axum::Json(json!({"Titles": report.headers, "Processes": report.rows})).into_response())
}

/// Go's `time.Duration` text (`250ms`, `1s`, `1m30s`) or bare seconds.
fn go_duration(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(split);
        let n: f64 = num.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = next;
    }
    (total.is_finite()).then(|| Duration::from_secs_f64(total))
}

/// `POST /libpod/containers/{id}/wait?condition=...&interval=`: Podman's
/// states (repeatable: any of them ends the wait; default the exit), the
/// answer a bare number (the exit code, -1 for other states). 404 for an
/// unknown container and 400 for an unknown state before anything else.
pub async fn wait(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Pairs,
) -> Result<Response, ApiError> {
    let mut names = Vec::new();
    let mut interval = Duration::from_millis(250);
    for (k, v) in &q {
        match k.as_str() {
            "condition" => names.push(v.clone()),
            "interval" => {
                interval = go_duration(v)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        bad(format!(
                            "invalid interval {v:?}: expected a duration such as 250ms"
                        ))
                    })?
                    .min(MAX_INTERVAL);
            }
            _ => {}
        }
    }
    let ctx = shared.ctx.clone();
    let (id, conds) = blocking(LP, move || {
        // Opened as every command does (dead monitors' leftovers
        // finished); the store itself is not needed here.
        let (_store, state) = open(&ctx)?;
        // The container first: an unknown one is a 404 whatever the state.
        let c = state.container(&id)?;
        let conds: Vec<Condition> = wait::WaitOptions::conditions(&names)?;
        Ok((c.id, conds))
    })
    .await?;
    let conds = if conds.is_empty() {
        vec![Condition::Exited]
    } else {
        conds
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<engine::Result<i32>>();
    let ctx = shared.ctx.clone();
    let _hold = Hold::new(&shared);
    tokio::task::spawn_blocking(move || {
        let result = open(&ctx).and_then(|(store, state)| {
            // A client that hung up (this handler dropped) ends the wait.
            wait::wait_one_while(&ctx, &store, &state, &id, &conds, interval, &|| {
                !tx.is_closed()
            })
        });
        let _ = tx.send(result);
    });
    match rx.await {
        Ok(Ok(code)) => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{code}\n"),
        )
            .into_response()),
        Ok(Err(e)) => Err(ApiError::from_engine(&e, LP)),
        Err(_) => Err(ApiError::from_engine(
            &Error::internal("the wait ended unexpectedly"),
            LP,
        )),
    }
}

/// `POST /libpod/containers/{id}/rename?name=`: 204; 409 when the name
/// is taken.
pub async fn rename(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| bad("name is required"))?;
    let ctx = shared.ctx.clone();
    blocking(LP, move || {
        let state = engine::container::open_state(&ctx)?;
        engine::container::rename::rename(
            &ctx,
            &state,
            &engine::container::rename::RenameOptions {
                container: id,
                name,
            },
        )
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /libpod/containers/{id}/changes`: `[{"Path", "Kind"}]` with
/// Podman's kinds (0 changed, 1 added, 2 deleted), `null` when none.
pub async fn changes(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    use engine::container::changes;
    let ctx = shared.ctx.clone();
    let list = blocking(LP, move || {
        let (store, state) = open(&ctx)?;
        let c = state.container(&id)?;
        changes::of_container(&store, &c)
    })
    .await?;
    let out = super::observe::changes_json(&list);
    if out.is_empty() {
        return Ok(axum::Json(Value::Null).into_response());
    }
    Ok(axum::Json(out).into_response())
}

/// `GET /libpod/containers/stats?containers=A&containers=B&stream=&interval=`:
/// one JSON object a line, `{"Error": null, "Stats": [...]}` with
/// Podman's fields, every `interval` seconds (default 5, at least 1) while
/// `stream` (the default) and a container runs; once without. Where
/// containers have no cgroup of their own (rootless on cgroup v1) a 409,
/// as Podman's.
pub async fn stats(State(shared): State<Shared>, Query(q): Pairs) -> Result<Response, ApiError> {
    let mut names = Vec::new();
    let mut stream = true;
    let mut interval = Duration::from_secs(5);
    for (k, v) in &q {
        match k.as_str() {
            "containers" => names.push(v.clone()),
            "stream" => {
                let m = HashMap::from([(k.clone(), v.clone())]);
                stream = v.is_empty() || flag(&m, "stream", LP)?;
            }
            "interval" => {
                let n: u64 = v
                    .parse()
                    .map_err(|_| bad(format!("invalid interval {v:?}: expected seconds")))?;
                interval = Duration::from_secs(n.clamp(1, 60));
            }
            _ => {}
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(LOG_QUEUE);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<engine::Result<()>>();
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let opened = engine::container::open_state(&ctx).and_then(|state| {
            let opts = StatsOptions { names, all: false };
            Stats::open(&ctx, &state, &opts)
        });
        let mut stats = match opened {
            Ok(s) => s,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        if ready_tx.send(Ok(())).is_err() {
            return;
        }
        loop {
            let reports: Vec<Value> = stats.sample().iter().map(stats_entry).collect();
            let line = format!("{}\n", json!({"Error": null, "Stats": reports}));
            if tx.blocking_send(Bytes::from(line)).is_err() || !stream || !stats.retain_live() {
                return;
            }
            // The pause in short steps, so a client that hung up is let go
            // within a tenth of a second.
            let until = std::time::Instant::now() + interval;
            while std::time::Instant::now() < until {
                if tx.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::from_engine(&e, LP)),
        Err(_) => {
            return Err(ApiError::from_engine(
                &Error::internal("reading the stats ended unexpectedly"),
                LP,
            ));
        }
    }
    let body = held_stream(&shared, rx);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

/// Podman's `ContainerStats` fields for one report.
fn stats_entry(r: &StatsReport) -> Value {
    json!({
        "ContainerID": r.id,
        "Name": r.name,
        "PerCPU": null,
        "CPU": r.cpu_percent,
        "AvgCPU": r.avg_cpu_percent,
        "CPUNano": r.cpu_usec.saturating_mul(1000),
        "CPUSystemNano": 0,
        "SystemNano": time::now_ns(),
        "MemUsage": r.mem_usage,
        "MemLimit": r.mem_limit,
        "MemPerc": r.mem_percent,
        "NetInput": r.net_rx,
        "NetOutput": r.net_tx,
        "BlockInput": r.block_read,
        "BlockOutput": r.block_write,
        "PIDs": r.pids,
        "UpTime": r.uptime_ns,
        "Duration": r.uptime_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(go_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(go_duration("5x"), None);
        assert_eq!(go_duration("ms"), None);
    }
}
