//! `POST /containers/{id}/attach` (hijacked) and `POST
//! /containers/{id}/resize`.
//!
//! The docker CLI attaches before it starts the container (`docker run`,
//! `start -a`): the attach to a container that does not run yet is held
//! as a waiter, and the start route then starts the container attached to
//! it ([`start_waiting`]): the monitor waits for that client before it
//! starts the process, so the first output is not lost. A container
//! started some other way (the hutch CLI) is attached to when it is seen
//! running.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hutch_storage::Store;
use tokio::sync::{mpsc, oneshot};

use super::containers::{blocking, flag, open};
use crate::api::error::ApiError;
use crate::api::hijack::{self, Chunk, INPUT_QUEUE, OUTPUT_QUEUE, Relayed};
use crate::api::prefix::ApiVersion;
use crate::api::server::{Hold, Shared};
use crate::config::Context;
use crate::engine;
use crate::engine::container::attach::{
    self as engine_attach, AttachOptions, AttachSession, Output,
};
use crate::engine::container::logs::{LogStream, LogsOptions};
use crate::engine::container::select::Selection;
use crate::engine::container::start::{self, StartOptions, Started};
use crate::engine::state::State as StateDb;
use crate::runtime::logfile::Stream;
use crate::runtime::terminal::{self, DetachMatcher};

type Q = Query<HashMap<String, String>>;

/// How often an attach waiting for its container looks at the state.
const WAIT_INTERVAL: Duration = Duration::from_millis(100);

/// An attach to a container that did not run yet.
struct Waiter {
    /// This waiter among others of the same container.
    token: u64,
    container: String,
    opts: AttachOptions,
    session: oneshot::Sender<AttachSession>,
}

/// The waiters of this service, by container id. A few at a time (one
/// per attached client), so a list.
static WAITERS: Mutex<Vec<Waiter>> = Mutex::new(Vec::new());

/// A registered waiter: its token and where its session comes.
type Waiting = (u64, oneshot::Receiver<AttachSession>);

fn add_waiter(container: &str, opts: AttachOptions) -> Waiting {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let token = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    if let Ok(mut w) = WAITERS.lock() {
        // Waiters whose clients went away.
        w.retain(|w| !w.session.is_closed());
        w.push(Waiter {
            token,
            container: container.to_owned(),
            opts,
            session: tx,
        });
    }
    (token, rx)
}

/// Withdraws waiter `token`; false when the start route took it already
/// (its session, or its end, comes through the channel then).
fn withdraw(token: u64) -> bool {
    let Ok(mut w) = WAITERS.lock() else {
        return false;
    };
    let before = w.len();
    w.retain(|w| w.token != token);
    w.len() != before
}

fn take_waiter(container: &str) -> Option<Waiter> {
    let mut w = WAITERS.lock().ok()?;
    w.retain(|w| !w.session.is_closed());
    let i = w.iter().position(|w| w.container == container)?;
    Some(w.remove(i))
}

/// Called by the start route (on a blocking thread): starts container `id`
/// attached to the client waiting for it, if there is one. `Some(started)`
/// when it did (false: it ran already), `None` when nobody waits.
pub(super) fn start_waiting(
    ctx: &Context,
    store: &Store,
    state: &StateDb,
    id: &str,
) -> engine::Result<Option<bool>> {
    let c = state.container(id)?;
    let Some(waiter) = take_waiter(&c.id) else {
        return Ok(None);
    };
    let opts = StartOptions {
        select: Selection::names(std::slice::from_ref(&c.id)),
        passed: None,
        attach: Some(waiter.opts),
    };
    match start::start(ctx, store, state, &opts)? {
        Started::Attached(Some(session)) => {
            // A client gone meanwhile leaves the container running alone.
            let _ = waiter.session.send(session);
            Ok(Some(true))
        }
        Started::Attached(None) => Ok(Some(false)),
        Started::Detached(_) => Ok(Some(true)),
    }
}

/// `POST /containers/{id}/attach?stream=&stdin=&stdout=&stderr=&logs=`.
pub async fn attach(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
    mut req: Request,
) -> Result<Response, ApiError> {
    let stream = flag(&q, "stream", flavor)?;
    let logs = flag(&q, "logs", flavor)?;
    let opts = AttachOptions {
        stdin: flag(&q, "stdin", flavor)?,
        stdout: flag(&q, "stdout", flavor)?,
        stderr: flag(&q, "stderr", flavor)?,
        // Docker's `detachKeys`, else its default (ctrl-p,ctrl-q): looked
        // for in a terminal's input here (the docker CLI leaves it to the
        // daemon).
        detach_keys: q
            .get("detachKeys")
            .cloned()
            .unwrap_or_else(|| terminal::DEFAULT_DETACH_KEYS.to_owned()),
        sig_proxy: false,
    };
    let detach_keys = opts
        .validate()
        .map_err(|e| ApiError::from_engine(&e, flavor))?;
    let ctx = shared.ctx.clone();
    let o = opts.clone();
    let (cid, tty, interactive, waiting) = blocking(flavor, move || {
        let (_store, state) = open(&ctx)?;
        let c = state.container(&id)?;
        // Registered before the response goes out: the client starts the
        // container once it has it.
        let waiting = (stream && !c.state.is_active()).then(|| add_waiter(&c.id, o));
        Ok((c.id, c.spec.tty, c.spec.interactive, waiting))
    })
    .await?;
    let (resp, conn) = hijack::begin(&mut req, tty, flavor);
    let hold = Hold::new(&shared);
    let ctx = shared.ctx.clone();
    tokio::spawn(async move {
        let _hold = hold;
        let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
        let (in_tx, in_rx) = mpsc::channel(INPUT_QUEUE);
        let slot: Arc<Mutex<Option<AttachSession>>> = Arc::default();
        let want_input = stream && opts.stdin && interactive;
        let feeding = tokio::spawn(feed(Feed {
            ctx,
            id: cid,
            detach_keys: if tty { detach_keys } else { Vec::new() },
            opts,
            logs,
            stream,
            waiting,
            output: out_tx,
            input: in_rx,
            slot: slot.clone(),
        }));
        let relayed = conn.relay(tty, out_rx, want_input.then_some(in_tx)).await;
        if relayed == Relayed::ClientGone {
            // Unblocks the session's reader; the container runs on.
            if let Ok(s) = slot.lock()
                && let Some(s) = s.as_ref()
            {
                s.shutdown();
            }
        }
        let _ = feeding.await;
    });
    Ok(resp)
}

struct Feed {
    ctx: Context,
    id: String,
    /// Ends the attach (the container runs on) when typed; empty: none.
    detach_keys: Vec<u8>,
    opts: AttachOptions,
    logs: bool,
    stream: bool,
    waiting: Option<Waiting>,
    output: mpsc::Sender<Chunk>,
    input: mpsc::Receiver<Option<Bytes>>,
    /// The session, for the relay to end it when the client goes.
    slot: Arc<Mutex<Option<AttachSession>>>,
}

/// The session's side: the log so far (`logs`), then the live output until
/// the container exits.
async fn feed(f: Feed) {
    if f.logs {
        let (ctx, id, output, opts) = (
            f.ctx.clone(),
            f.id.clone(),
            f.output.clone(),
            f.opts.clone(),
        );
        let _ = tokio::task::spawn_blocking(move || replay_log(&ctx, &id, &opts, &output)).await;
    }
    if !f.stream {
        return;
    }
    let stdin_once = f.waiting.is_some();
    let Some(session) = session(&f.ctx, &f.id, &f.opts, f.waiting, &f.output).await else {
        return;
    };
    let (reader, writer) = match session.try_clone() {
        Ok(w) => (session, w),
        Err(_) => return,
    };
    match (f.slot.lock(), reader.try_clone()) {
        (Ok(mut s), Ok(c)) => *s = Some(c),
        _ => return,
    }
    if f.output.is_closed() {
        // The client went while the session was being made.
        reader.shutdown();
        return;
    }
    let mut input = f.input;
    let mut matcher = DetachMatcher::new(f.detach_keys);
    // The client's end of input ends the container's stdin only for the
    // run that attached before its start (`docker run -i`, which creates
    // with StdinOnce): a later `docker attach` that goes leaves the
    // container's stdin open for the next one, as dockerd does.
    // Ends when the relay drops the input's sender (the session is over).
    long_lived("hutch-attach-in", move || {
        let mut w = writer;
        while let Some(data) = input.blocking_recv() {
            let Some(d) = data else {
                if stdin_once && w.close_stdin().is_err() {
                    return;
                }
                continue;
            };
            let (pass, detached) = matcher.feed(&d);
            if !pass.is_empty() && w.send_stdin(&pass).is_err() {
                return;
            }
            if detached {
                // The reader sees the end, the connection closes.
                w.shutdown();
                return;
            }
        }
    });
    let (want_out, want_err) = (f.opts.stdout, f.opts.stderr);
    let output = f.output;
    let _ = long_lived("hutch-attach-out", move || {
        let mut r = reader;
        while let Ok(Some(frame)) = r.read_output() {
            let chunk = match frame {
                Output::Stdout(d) if want_out => Chunk::Stdout(Bytes::from(d)),
                Output::Stderr(d) if want_err => Chunk::Stderr(Bytes::from(d)),
                Output::Exit(_) => break,
                _ => continue,
            };
            if output.blocking_send(chunk).is_err() {
                break;
            }
        }
    })
    .await;
}

/// Runs `f` on a thread of its own: blocking work that lasts as long as a
/// session (an attach, an exec, a stats stream) must not hold one of the
/// runtime's blocking threads, which short requests share. The receiver
/// says when it ended (an error also when no thread could be made).
pub(super) fn long_lived(name: &str, f: impl FnOnce() + Send + 'static) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    let _ = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            f();
            let _ = tx.send(());
        });
    rx
}

/// The session with the container's monitor: handed over by the start
/// route, or made here once the container runs (started another way, or
/// running already). `None` when the client went or the container did.
async fn session(
    ctx: &Context,
    id: &str,
    opts: &AttachOptions,
    waiting: Option<Waiting>,
    output: &mpsc::Sender<Chunk>,
) -> Option<AttachSession> {
    let (token, mut waiting) = match waiting {
        Some((t, rx)) => (Some(t), Some(rx)),
        None => (None, None),
    };
    let withdrawn = |token: Option<u64>| token.is_none_or(withdraw);
    loop {
        if let Some(rx) = waiting.as_mut() {
            match tokio::time::timeout(WAIT_INTERVAL, rx).await {
                Ok(Ok(s)) => return Some(s),
                // The start route took the waiter and did not attach (the
                // start failed, or it ran already).
                Ok(Err(_)) => waiting = None,
                Err(_) => {}
            }
        }
        if output.is_closed() {
            withdrawn(token);
            return None;
        }
        let (ctx2, id2) = (ctx.clone(), id.to_owned());
        let active = tokio::task::spawn_blocking(move || {
            let (_store, state) = open(&ctx2)?;
            Ok::<_, engine::Error>(state.container(&id2)?.state.is_active())
        })
        .await;
        match active {
            Ok(Ok(true)) => {
                // Started some other way: attach now, unless the start
                // route holds the waiter (its session is on its way, and
                // the monitor waited for it, so nothing is missed there).
                if waiting.is_some() && !withdrawn(token) {
                    continue;
                }
                let (ctx2, id2, o) = (ctx.clone(), id.to_owned(), opts.clone());
                let made = tokio::task::spawn_blocking(move || {
                    let (store, state) = open(&ctx2)?;
                    engine_attach::attach(&ctx2, &store, &state, &id2, &o)
                })
                .await;
                return match made {
                    Ok(Ok(s)) => Some(s),
                    _ => None,
                };
            }
            Ok(Ok(false)) if waiting.is_some() => {}
            // Gone, or not running with nobody to start it here.
            _ => {
                withdrawn(token);
                return None;
            }
        }
    }
}

/// `logs=1`: the container's log so far, before the live stream.
fn replay_log(ctx: &Context, id: &str, opts: &AttachOptions, output: &mpsc::Sender<Chunk>) {
    let Ok((store, state)) = open(ctx) else {
        return;
    };
    let lo = LogsOptions {
        since: None,
        until: None,
        tail: None,
        follow: false,
    };
    let Ok(mut stream) = LogStream::open(ctx, &store, &state, id, &lo) else {
        return;
    };
    while let Ok(Some(lines)) = stream.next_batch() {
        for l in lines {
            let text = Bytes::from(format!("{}\n", l.text));
            let chunk = match l.stream {
                Stream::Stdout if opts.stdout => Chunk::Stdout(text),
                Stream::Stderr if opts.stderr => Chunk::Stderr(text),
                _ => continue,
            };
            if output.blocking_send(chunk).is_err() {
                return;
            }
        }
    }
}

/// The window size of `h`/`w` in a query; Docker's names.
pub(super) fn window(
    q: &HashMap<String, String>,
    flavor: ApiVersion,
) -> Result<(u16, u16), ApiError> {
    let get = |k: &str| -> Result<u16, ApiError> {
        q.get(k).and_then(|v| v.parse::<u16>().ok()).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "invalid or missing {k}: expected a number of {}",
                    if k == "h" { "rows" } else { "columns" }
                ),
                flavor,
            )
        })
    };
    Ok((get("h")?, get("w")?))
}

/// `POST /containers/{id}/resize?h=&w=`: the terminal of a running
/// container.
pub async fn resize(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let (rows, cols) = window(&q, flavor)?;
    let ctx = shared.ctx.clone();
    blocking(flavor, move || {
        let (store, state) = open(&ctx)?;
        let opts = AttachOptions {
            stdin: false,
            detach_keys: String::new(),
            sig_proxy: false,
            stdout: false,
            stderr: false,
        };
        let mut s = engine_attach::attach(&ctx, &store, &state, &id, &opts)?;
        s.resize(rows, cols)
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}
