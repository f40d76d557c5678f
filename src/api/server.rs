//! The service's life: bind (or take systemd's socket), serve until idle,
//! then remove the socket it made. Every request goes through [`entry`]:
//! the version prefix is checked and stripped, the idle clock held, and
//! the headers every Docker and libpod client reads are added.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::listen::{self, Bound, Endpoint};
use super::prefix::{self, ApiVersion};
use super::{DOCKER_API_VERSION, LIBPOD_API_VERSION, MAX_BODY_BYTES};
use crate::config::Context;

/// What `hutch system service` asks for; the front end read the
/// environment (`LISTEN_PID`, `LISTEN_FDS`).
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    /// Where to listen; `None` takes the default socket.
    pub endpoint: Option<Endpoint>,
    /// Exit after this long without a request; `None` never.
    pub idle: Option<Duration>,
    pub listen_pid: Option<String>,
    pub listen_fds: Option<String>,
    /// `--cors ORIGIN`: Podman's CORS headers on every response.
    pub cors: Option<String>,
}

/// What every handler may use.
pub struct ServiceState {
    pub ctx: Context,
    pub idle: Idle,
    /// `Access-Control-Allow-Origin` for every response (`--cors`).
    pub cors: Option<HeaderValue>,
}

pub type Shared = Arc<ServiceState>;

/// The idle clock: requests in flight and when the last one ended.
pub struct Idle {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

/// Held while a request (or a stream it answers with) is in progress.
pub struct Busy<'a>(&'a Idle);

impl Idle {
    fn new() -> Idle {
        Idle {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }

    pub fn busy(&self) -> Busy<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self)
    }

    /// How long it has been idle; zero while a request is in flight.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        self.last.lock().map(|l| l.elapsed()).unwrap_or_default()
    }
}

/// Held by a response body that goes on after its handler returned (a
/// wait, a log stream): the service is not idle while it is sent.
pub struct Hold(Shared);

impl Hold {
    pub fn new(shared: &Shared) -> Hold {
        shared.idle.in_flight.fetch_add(1, Ordering::SeqCst);
        Hold(shared.clone())
    }
}

/// A response body's stream of the chunks `rx` receives, holding the
/// service busy until the body ends (a log, events, an export, a pull's
/// progress...).
pub fn held_stream(
    shared: &Shared,
    mut rx: tokio::sync::mpsc::Receiver<axum::body::Bytes>,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::convert::Infallible>> + Send + 'static
{
    let hold = Hold::new(shared);
    futures_util::stream::poll_fn(move |cx| {
        let _ = &hold;
        rx.poll_recv(cx).map(|b| b.map(Ok))
    })
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.idle.ended();
    }
}

impl Idle {
    fn ended(&self) {
        if let Ok(mut l) = self.last.lock() {
            *l = Instant::now();
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.ended();
    }
}

/// Serves until idle for `opts.idle` (or forever). Call after the
/// namespace join: this builds the threads.
pub fn serve(ctx: &Context, opts: ServiceOptions) -> anyhow::Result<()> {
    let bound = match listen::activated(opts.listen_pid.as_deref(), opts.listen_fds.as_deref())? {
        Some(b) => b,
        None => {
            let endpoint = opts
                .endpoint
                .clone()
                .unwrap_or_else(|| Endpoint::Unix(ctx.api_socket()));
            if let Endpoint::Tcp(addr) = &endpoint {
                eprintln!(
                    "Warning: the API service on tcp://{addr} has no authentication: anyone who reaches it controls your containers"
                );
            }
            listen::bind(&endpoint)?
        }
    };
    let cors = match &opts.cors {
        Some(origin) => Some(HeaderValue::from_str(origin).map_err(|_| {
            anyhow::anyhow!("--cors {origin:?}: not a value an HTTP header can carry")
        })?),
        None => None,
    };
    let shared: Shared = Arc::new(ServiceState {
        ctx: ctx.clone(),
        idle: Idle::new(),
        cors,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .enable_time()
        .thread_name("hutch-api")
        .build()
        .context("starting the API service's threads")?;
    let made_socket = match &bound {
        Bound::Unix(_, path) => path.clone(),
        Bound::Tcp(_) => None,
    };
    let result = rt.block_on(run(bound, shared, opts.idle));
    // The socket file is ours to remove; systemd's is systemd's.
    if let Some(path) = made_socket {
        let _ = std::fs::remove_file(path);
    }
    result
}

async fn run(bound: Bound, shared: Shared, idle: Option<Duration>) -> anyhow::Result<()> {
    use axum::ServiceExt as _;
    let router = super::routes::router(shared.clone())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES));
    // Around the router, not inside it: the path is rewritten before
    // routing.
    let app = tower::Layer::layer(
        &axum::middleware::from_fn_with_state(shared.clone(), entry),
        router,
    );
    let stop = until_idle(shared, idle);
    // The monitors of containers this service started are its children:
    // reaped as they exit, not left as zombies for the service's life.
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            crate::engine::container::monitor::reap_exited();
        }
    });
    match bound {
        Bound::Unix(l, _) => {
            let l = tokio::net::UnixListener::from_std(l).context("serving the unix socket")?;
            axum::serve(l, app.into_make_service())
                .with_graceful_shutdown(stop)
                .await?
        }
        Bound::Tcp(l) => {
            let l = tokio::net::TcpListener::from_std(l).context("serving the TCP socket")?;
            axum::serve(l, app.into_make_service())
                .with_graceful_shutdown(stop)
                .await?
        }
    }
    Ok(())
}

async fn until_idle(shared: Shared, idle: Option<Duration>) {
    let Some(limit) = idle else {
        return std::future::pending().await;
    };
    loop {
        let quiet = shared.idle.idle_for();
        if quiet >= limit {
            return;
        }
        let wait = if quiet.is_zero() {
            limit.min(Duration::from_millis(500))
        } else {
            limit - quiet
        };
        tokio::time::sleep(wait).await;
    }
}

async fn entry(State(shared): State<Shared>, mut req: Request, next: Next) -> Response {
    let _busy = shared.idle.busy();
    let (path, version) = match prefix::strip(req.uri().path()) {
        Ok(v) => v,
        Err(e) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                e.message(),
                ApiVersion::Docker(DOCKER_API_VERSION.0, DOCKER_API_VERSION.1),
            )
            .into_response();
        }
    };
    let uri = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    match uri.parse::<Uri>() {
        Ok(u) => *req.uri_mut() = u,
        Err(_) => {
            return ApiError::new(StatusCode::BAD_REQUEST, "invalid request path", version)
                .into_response();
        }
    }
    req.extensions_mut().insert(version);
    let mut resp = next.run(req).await;
    // axum's own rejections (a body over MAX_BODY_BYTES, a query it cannot
    // parse) are plain text: clients decode errors as the API's JSON.
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/plain"));
    if plain && resp.status().is_client_error() {
        let status = resp.status();
        let text = axum::body::to_bytes(std::mem::take(resp.body_mut()), 64 << 10)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .unwrap_or_default();
        let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body larger than the {MAX_BODY_BYTES} bytes the API accepts ({text})")
        } else {
            text
        };
        resp = ApiError::new(status, text, version).into_response();
    }
    let h = resp.headers_mut();
    let api = format!("{}.{}", DOCKER_API_VERSION.0, DOCKER_API_VERSION.1);
    for (k, v) in [
        ("API-Version", api.as_str()),
        ("Libpod-API-Version", LIBPOD_API_VERSION),
        ("Docker-Experimental", "false"),
        ("OSType", "linux"),
        (
            "Server",
            concat!("hutch/", env!("CARGO_PKG_VERSION"), " (linux)"),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    }
    // Podman's three, set by its API handler on every response when the
    // service runs with --cors.
    if let Some(origin) = &shared.cors {
        h.insert("Access-Control-Allow-Origin", origin.clone());
        h.insert(
            "Access-Control-Allow-Headers",
            HeaderValue::from_static(
                "Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth, Connection, Upgrade, X-Registry-Config",
            ),
        );
        h.insert(
            "Access-Control-Allow-Methods",
            HeaderValue::from_static("HEAD, GET, POST, DELETE, PUT, OPTIONS"),
        );
    }
    resp
}
