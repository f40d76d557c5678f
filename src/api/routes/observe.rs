//! What a container holds and does: `top`, `stats` (streamed, or one
//! document), `changes` and `export`, in Docker's shapes, from the engine
//! operations the CLI's `top`, `stats`, `diff` and `export` call.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::attach::long_lived;
use super::containers::{blocking, flag, open};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::{Shared, held_stream};
use crate::engine::container::changes::{self, Kind};
use crate::engine::container::export;
use crate::engine::container::inspect::rfc3339_nano;
use crate::engine::container::stats::{Stats, StatsOptions, StatsReport};
use crate::engine::container::top::{self, TopOptions};
use crate::host::time;

type Q = Query<HashMap<String, String>>;

/// Docker samples stats once a second.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// Chunks queued for a slow client (stats documents, export tar).
const QUEUE: usize = 8;

/// Export tar bytes gathered before a chunk goes out.
const CHUNK: usize = 64 * 1024;

/// `GET /containers/{id}/top?ps_args=`: `{"Titles", "Processes"}`.
/// `ps_args` are Podman's descriptors (`pid,user,args` or separated by
/// spaces); Docker's default `-ef` is the default set.
pub async fn top(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let args = q.get("ps_args").map(String::as_str).unwrap_or("");
    let descriptors: Vec<String> = if args.trim() == "-ef" {
        Vec::new()
    } else {
        args.split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let ctx = shared.ctx.clone();
    let report = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        top::top(&store, &state, &id, &TopOptions { descriptors })
    })
    .await?;
    Ok(axum::Json(json!({"Titles": report.headers, "Processes": report.rows})).into_response())
}

/// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 changed,
/// 1 added, 2 deleted.
pub async fn changes(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let found = blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let c = state.container(&id)?;
        changes::of_container(&store, &c)
    })
    .await?;
    Ok(axum::Json(changes_json(&found)).into_response())
}

/// Docker's and libpod's change list: `[{"Path", "Kind"}]`.
pub(super) fn changes_json(found: &changes::Changes) -> Vec<Value> {
    found
        .iter()
        .map(|(p, k)| {
            let kind = match k {
                Kind::Changed => 0,
                Kind::Added => 1,
                Kind::Deleted => 2,
            };
            json!({"Path": format!("/{}", String::from_utf8_lossy(p)), "Kind": kind})
        })
        .collect()
}

/// `GET /libpod/images/{name}/changes`: what the image's top layer
/// changes in the layers below it (`podman --remote diff IMAGE`), libpod's
/// `null` for none.
pub async fn image_changes(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let found = blocking(flavor, move || {
        let store = crate::engine::image::open_store(&ctx)?;
        let img = crate::engine::image::lookup(&store, &name)?;
        changes::of_image(&store, &img)
    })
    .await?;
    let out = changes_json(&found);
    if out.is_empty() {
        return Ok(axum::Json(Value::Null).into_response());
    }
    Ok(axum::Json(out).into_response())
}

/// Bytes to a response body, in chunks.
struct ToBody {
    buf: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
}

impl Write for ToBody {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client hung up"))
    }
}

/// `GET /containers/{id}/export`: the root file system as a tar, streamed.
pub async fn export(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let name = id.clone();
    // An unknown container is a 404 before the stream starts.
    blocking(flavor, move || {
        let (_store, state) = open(&ctx)?;
        state.container(&name).map(|_| ()).map_err(Into::into)
    })
    .await?;
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    let ctx = shared.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let Ok((store, state)) = open(&ctx) else {
            return;
        };
        let mut out = ToBody {
            buf: Vec::with_capacity(CHUNK),
            tx,
        };
        // A failure mid-stream ends the body short (a truncated tar).
        if let Err(e) = export::export(&store, &state, &id, &mut out).and_then(|()| {
            out.flush()?;
            Ok(())
        }) {
            tracing::warn!("export of {id}: {e}");
        }
    });
    let body = held_stream(&shared, rx);
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(resp)
}

/// One sample as Docker's CPU figures need it: the container's CPU time
/// and the host's, both in nanoseconds. The host's is wall time times the
/// CPUs, so that the client's `Δcontainer / Δhost × CPUs` is the share
/// of one CPU, as `hutch stats` shows it.
#[derive(Clone, Copy, Default)]
struct CpuSample {
    usage_ns: u64,
    system_ns: u64,
    at_ns: i64,
}

fn cpus() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

fn cpu_sample(r: Option<&StatsReport>, now_ns: i64) -> CpuSample {
    let wall = u64::try_from(now_ns).unwrap_or(0);
    CpuSample {
        usage_ns: r.map_or(0, |r| r.cpu_usec.saturating_mul(1000)),
        system_ns: wall.saturating_mul(cpus()),
        at_ns: now_ns,
    }
}

fn cpu_json(s: &CpuSample) -> Value {
    if s.at_ns == 0 {
        // Docker's precpu_stats of the first document: all zero.
        return json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                      "system_cpu_usage": 0, "online_cpus": 0,
                      "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}});
    }
    json!({
        "cpu_usage": {"total_usage": s.usage_ns, "usage_in_kernelmode": 0, "usage_in_usermode": s.usage_ns},
        "system_cpu_usage": s.system_ns,
        "online_cpus": cpus(),
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    })
}

/// Docker's stats document (what `docker stats` reads): `r` is `None`
/// for a container that does not run (zeros, as dockerd sends).
fn stats_json(
    id: &str,
    name: &str,
    r: Option<&StatsReport>,
    cur: &CpuSample,
    pre: &CpuSample,
) -> Value {
    let z = |f: fn(&StatsReport) -> u64| r.map_or(0, f);
    json!({
        "name": format!("/{name}"),
        "id": id,
        "read": rfc3339_nano(Some(cur.at_ns)),
        "preread": rfc3339_nano(Some(pre.at_ns)),
        "pids_stats": {"current": z(|r| r.pids)},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": z(|r| r.block_read)},
            {"major": 0, "minor": 0, "op": "write", "value": z(|r| r.block_write)},
        ]},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_json(cur),
        "precpu_stats": cpu_json(pre),
        "memory_stats": {"usage": z(|r| r.mem_usage), "limit": z(|r| r.mem_limit), "stats": {}},
        "networks": {"eth0": {
            "rx_bytes": z(|r| r.net_rx), "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
            "tx_bytes": z(|r| r.net_tx), "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0,
        }},
    })
}

/// `GET /containers/{id}/stats?stream=&one-shot=`: a document a second
/// while the container runs (`stream`, the default), or one: with the CPU
/// figures of the last second (`stream=false`), or at once without them
/// (`one-shot=true`).
pub async fn stats(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let stream = match q.get("stream") {
        None => true,
        Some(_) => flag(&q, "stream", flavor)?,
    };
    let one_shot = flag(&q, "one-shot", flavor)?;
    if one_shot && stream {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "cannot have stream=true and one-shot=true",
            flavor,
        ));
    }
    let ctx = shared.ctx.clone();
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    long_lived("hutch-stats", move || {
        let opened = open(&ctx).and_then(|(_store, state)| {
            let c = state.container(&id)?;
            let stats = Stats::open(
                &ctx,
                &state,
                &StatsOptions {
                    names: vec![c.id.clone()],
                    all: false,
                },
            )?;
            Ok((c.id, c.name, stats))
        });
        let (cid, name, mut stats) = match opened {
            Ok(v) => {
                let _ = ready_tx.send(Ok(()));
                v
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        let mut pre = CpuSample::default();
        let mut first = true;
        loop {
            let now = time::now_ns();
            let reports = stats.sample();
            let report = reports.iter().find(|r| r.id == cid);
            let cur = cpu_sample(report, now);
            // `stream=false`: the first sample only primes the CPU figures.
            let send = stream || one_shot || !first;
            if send {
                let doc = stats_json(&cid, &name, report, &cur, &pre);
                let line = Bytes::from(format!("{doc}\n"));
                if tx.blocking_send(line).is_err() || !stream {
                    return;
                }
            }
            pre = cur;
            first = false;
            if stream && !stats.retain_live() {
                return;
            }
            std::thread::sleep(STATS_INTERVAL);
            if tx.is_closed() {
                return;
            }
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::from_engine(&e, flavor)),
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reading the stats ended unexpectedly",
                flavor,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(cpu_usec: u64) -> StatsReport {
        StatsReport {
            id: "abc".into(),
            name: "web".into(),
            cpu_percent: 0.0,
            avg_cpu_percent: 0.0,
            cpu_usec,
            mem_usage: 1 << 20,
            mem_limit: 1 << 30,
            mem_percent: 0.1,
            net_rx: 10,
            net_tx: 20,
            block_read: 30,
            block_write: 40,
            pids: 2,
            uptime_ns: 0,
        }
    }

    #[test]
    fn docker_cli_reads_the_cpu_share_of_one_cpu() {
        // Half a CPU over one second.
        let pre_r = report(1_000_000);
        let cur_r = report(1_500_000);
        let pre = cpu_sample(Some(&pre_r), 10_000_000_000);
        let cur = cpu_sample(Some(&cur_r), 11_000_000_000);
        let v = stats_json("abc", "web", Some(&cur_r), &cur, &pre);
        // The docker CLI's calculateCPUPercentUnix.
        let n = |p: &str| v.pointer(p).and_then(Value::as_f64).unwrap_or(-1.0);
        let cpu_delta =
            n("/cpu_stats/cpu_usage/total_usage") - n("/precpu_stats/cpu_usage/total_usage");
        let sys_delta = n("/cpu_stats/system_cpu_usage") - n("/precpu_stats/system_cpu_usage");
        let percent = cpu_delta / sys_delta * n("/cpu_stats/online_cpus") * 100.0;
        assert!((percent - 50.0).abs() < 1e-6, "{percent}");
        assert_eq!(v["name"], "/web");
        assert_eq!(v["pids_stats"]["current"], 2);
        assert_eq!(v["memory_stats"]["limit"], 1 << 30);
        assert_eq!(v["networks"]["eth0"]["tx_bytes"], 20);
        assert_eq!(
            v["blkio_stats"]["io_service_bytes_recursive"][1]["value"],
            40
        );
        // The first document of a stream: no earlier sample.
        let first = stats_json("abc", "web", None, &cur, &CpuSample::default());
        assert_eq!(first["precpu_stats"]["system_cpu_usage"], 0);
        assert_eq!(first["memory_stats"]["usage"], 0);
    }
}
