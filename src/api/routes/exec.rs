//! Docker's exec routes: `POST /containers/{id}/exec` records a session,
//! `POST /exec/{id}/start` starts its process (hijacked, or detached),
//! `GET /exec/{id}/json` reports it, `POST /exec/{id}/resize` sizes its
//! terminal. The process is the engine's exec (the CLI's), with pipes or
//! its terminal relayed over the connection; its exit code is recorded
//! before the connection closes, so a client that inspects the session
//! right after reads it (the docker CLI's exit code).

use std::collections::HashMap;
use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::attach::{long_lived, window};
use super::containers::{blocking, open};
use crate::api::error::ApiError;
use crate::api::hijack::{self, Chunk, INPUT_QUEUE, OUTPUT_QUEUE};
use crate::api::prefix::ApiVersion;
use crate::api::server::{Hold, Shared};
use crate::engine::container::exec::{self, ExecRequest, ExecStdio, Running, Started};
use crate::engine::state::{ExecState, State as StateDb};
use crate::engine::{self, Error};

type Q = Query<HashMap<String, String>>;

/// A session's output read at once.
const READ_CHUNK: usize = 32 * 1024;

/// The exec create body the docker CLI and the SDKs send.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct CreateBody {
    #[serde(default)]
    attach_stdin: bool,
    #[serde(default)]
    attach_stdout: bool,
    #[serde(default)]
    attach_stderr: bool,
    /// The Python SDK's spelling (Docker decodes names case-blind).
    #[serde(default, alias = "detachKeys")]
    detach_keys: Option<String>,
    #[serde(default)]
    tty: bool,
    #[serde(default)]
    console_size: Option<Vec<u16>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    /// The Python SDK repeats the container; the path names it.
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    privileged: bool,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    working_dir: Option<String>,
    /// The docker CLI sends it on create too; the start decides.
    #[serde(default)]
    detach: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct StartBody {
    #[serde(default)]
    detach: bool,
    #[serde(default)]
    tty: bool,
    #[serde(default)]
    console_size: Option<Vec<u16>>,
    /// libpod's terminal height and width (`podman --remote exec`).
    #[serde(default, rename = "h")]
    height: Option<u16>,
    #[serde(default, rename = "w")]
    width: Option<u16>,
}

/// What the API keeps of a session beyond the engine's record: the
/// streams asked for and, while it runs, its terminal (for resizes).
#[derive(Default)]
struct Extra {
    stdout: bool,
    stderr: bool,
    master: Option<Arc<OwnedFd>>,
}

/// The sessions whose extras are kept (a few bytes each).
const MAX_SESSIONS: usize = 4096;

/// This service's sessions, by id; a session's entry goes when it ends.
static SESSIONS: Mutex<Vec<(String, Extra)>> = Mutex::new(Vec::new());

fn with_extra<T>(id: &str, f: impl FnOnce(&mut Extra) -> T) -> Option<T> {
    let mut s = SESSIONS.lock().ok()?;
    s.iter_mut().find(|(i, _)| i == id).map(|(_, e)| f(e))
}

fn forget(id: &str) {
    if let Ok(mut s) = SESSIONS.lock() {
        s.retain(|(i, _)| i != id);
    }
}

fn bad(flavor: ApiVersion, m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, m, flavor)
}

fn console_size(v: Option<&Vec<u16>>) -> Option<(u16, u16)> {
    match v.map(Vec::as_slice) {
        Some([h, w]) if *h > 0 && *w > 0 => Some((*h, *w)),
        _ => None,
    }
}

/// The recorded session `id`, with Docker's 404 message.
fn session(state: &StateDb, id: &str) -> engine::Result<crate::engine::state::ExecSession> {
    state
        .exec_session(id)
        .map_err(|_| Error::not_found(format!("No such exec instance: {id}")))
}

/// `POST /containers/{id}/exec`: 201 `{"Id"}`.
pub async fn create(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| bad(flavor, format!("invalid exec body: {e}")))?;
    let req = ExecRequest {
        command: b.cmd.unwrap_or_default(),
        env: b.env.unwrap_or_default(),
        user: b.user,
        workdir: b.working_dir,
        tty: b.tty,
        interactive: b.attach_stdin,
        detach: false,
        privileged: b.privileged,
    };
    let _ = (b.detach_keys, b.console_size, b.detach, b.container);
    let ctx = shared.ctx.clone();
    let session = blocking(flavor, move || {
        let (_store, state) = open(&ctx)?;
        let c = state.container(&id)?;
        exec::create_session(&state, &c, &req)
    })
    .await?;
    if let Ok(mut s) = SESSIONS.lock() {
        // Sessions created and never started stay (as dockerd keeps them);
        // past the bound the oldest idle ones lose their stream choice
        // (both streams then, Docker's default).
        while s.len() >= MAX_SESSIONS {
            match s.iter().position(|(_, e)| e.master.is_none()) {
                Some(i) => {
                    s.remove(i);
                }
                None => break,
            }
        }
        s.push((
            session.clone(),
            Extra {
                stdout: b.attach_stdout,
                stderr: b.attach_stderr,
                master: None,
            },
        ));
    }
    Ok((StatusCode::CREATED, axum::Json(json!({"Id": session}))).into_response())
}

/// `POST /exec/{id}/start`: the process's streams on the hijacked
/// connection, or 200 at once with `Detach`.
pub async fn start(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let body = axum::body::to_bytes(std::mem::take(req.body_mut()), crate::api::MAX_BODY_BYTES)
        .await
        .map_err(|e| bad(flavor, format!("reading the exec start body: {e}")))?;
    let b: StartBody = if body.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| bad(flavor, format!("invalid exec start body: {e}")))?
    };
    let _ = b.tty;
    let size = console_size(b.console_size.as_ref()).or(match (b.height, b.width) {
        (Some(h), Some(w)) if h > 0 && w > 0 => Some((h, w)),
        _ => None,
    });
    // This service becomes the child subreaper with its first exec.
    exec::start_orphan_reaper();
    let detach = b.detach;
    let ctx = shared.ctx.clone();
    let sid = id.clone();
    // Checked before the response; started after it went out (see
    // `hijack::Connection::open`), or at once when detached.
    let (req_of, tty) = blocking(flavor, move || {
        let (_store, state) = open(&ctx)?;
        let s = session(&state, &sid)?;
        if s.state != ExecState::Created {
            crate::fail!(Conflict, "exec session {sid} has already been started");
        }
        let mut req = exec::session_request(&s)?;
        req.detach = detach;
        exec::require_running(&state.container(&s.container_id)?)?;
        let tty = req.tty;
        Ok((req, tty))
    })
    .await?;
    let ctx = shared.ctx.clone();
    let sid = id.clone();
    let launch = move || -> engine::Result<Started> {
        let (store, state) = open(&ctx)?;
        let s = session(&state, &sid)?;
        let c = state.container(&s.container_id)?;
        exec::start_session(
            &ctx,
            store.root(),
            &state,
            &c,
            &sid,
            &req_of,
            size,
            ExecStdio::Pipes,
        )
    };
    let (want_out, want_err) = with_extra(&id, |e| (e.stdout, e.stderr)).unwrap_or((true, true));
    let ctx = shared.ctx.clone();
    if detach {
        let started = blocking(flavor, launch).await?;
        if let Started::Running(r) = started {
            // The process is this service's child: reaped here, its code
            // recorded for inspect.
            long_lived("hutch-exec-wait", move || {
                if let Ok((_, state)) = open(&ctx) {
                    exec::wait(&state, &r);
                }
                forget(&r.session);
            });
        }
        return Ok(StatusCode::OK.into_response());
    }
    let (resp, conn) = hijack::begin(&mut req, tty, flavor);
    let hold = Hold::new(&shared);
    tokio::spawn(async move {
        let _hold = hold;
        let Some(conn) = conn.open().await else {
            forget(&id);
            return;
        };
        let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
        let (in_tx, in_rx) = mpsc::channel(INPUT_QUEUE);
        let mut input = None;
        let started = match tokio::task::spawn_blocking(launch).await {
            Ok(r) => r,
            Err(e) => Err(Error::internal(e.to_string())),
        };
        match started {
            Ok(Started::Failed { message, .. }) => {
                // As dockerd: the runtime's complaint on the stream, the
                // code (126/127) in the session's record.
                let _ = out_tx
                    .send(Chunk::Stderr(Bytes::from(format!("{message}\n"))))
                    .await;
                drop(out_tx);
                forget(&id);
            }
            Err(e) => {
                let _ = out_tx
                    .send(Chunk::Stderr(Bytes::from(format!("Error: {}\n", e.text()))))
                    .await;
                drop(out_tx);
                forget(&id);
            }
            Ok(Started::Running(r)) => {
                let interactive = r.stdin.is_some() || r.master.is_some();
                if interactive {
                    input = Some(in_tx);
                }
                let sid = id.clone();
                long_lived("hutch-exec", move || {
                    pump(&ctx, r, out_tx, in_rx, want_out, want_err);
                    forget(&sid);
                });
            }
        }
        conn.relay(tty, out_rx, input).await;
    });
    Ok(resp)
}

/// Relays a running process's output and input (blocking), waits for it
/// and records its code. Returns when the process has exited and its
/// output has been queued.
fn pump(
    ctx: &crate::config::Context,
    mut r: Running,
    output: mpsc::Sender<Chunk>,
    mut input: mpsc::Receiver<Option<Bytes>>,
    want_out: bool,
    want_err: bool,
) {
    let mut readers = Vec::new();
    let write_end: Option<Arc<OwnedFd>>;
    if let Some(master) = r.master.take() {
        let master = Arc::new(master);
        with_extra(&r.session, |e| e.master = Some(master.clone()));
        write_end = Some(master.clone());
        let out = output.clone();
        readers.push(std::thread::spawn(move || {
            read_into(&master, &out, Chunk::Stdout, true)
        }));
    } else {
        write_end = r.stdin.take().map(Arc::new);
        for (fd, err) in [(r.stdout.take(), false), (r.stderr.take(), true)] {
            let Some(fd) = fd else { continue };
            let out = output.clone();
            let wanted = if err { want_err } else { want_out };
            readers.push(std::thread::spawn(move || {
                let make = move |b| {
                    if err {
                        Chunk::Stderr(b)
                    } else {
                        Chunk::Stdout(b)
                    }
                };
                read_into(&fd, &out, make, wanted)
            }));
        }
    }
    // Input until the client closes its side; a terminal's input ends
    // with the process.
    let mut write_end = write_end;
    let writer = std::thread::spawn(move || {
        while let Some(data) = input.blocking_recv() {
            let Some(fd) = write_end.as_ref() else {
                continue;
            };
            match data {
                Some(d) if !write_all(fd, &d) => write_end = None,
                Some(_) => {}
                // Closes the pipe (a terminal stays open for its process).
                None if r_is_pipe(fd) => write_end = None,
                None => {}
            }
        }
    });
    for t in readers {
        let _ = t.join();
    }
    if let Ok((_, state)) = super::containers::open(ctx) {
        exec::wait(&state, &r);
    }
    with_extra(&r.session, |e| e.master = None);
    drop(output);
    // The writer ends when the relay drops the input sender.
    drop(writer);
}

/// Writes all of `data` (a pipe or terminal takes it in parts when full);
/// false when the process's side is gone.
fn write_all(fd: &OwnedFd, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Err(rustix::io::Errno::INTR) => {}
            Ok(0) | Err(_) => return false,
            Ok(n) => data = &data[n..],
        }
    }
    true
}

/// Whether `fd` is a pipe (not a terminal).
fn r_is_pipe(fd: &OwnedFd) -> bool {
    !rustix::termios::isatty(fd)
}

/// Reads `fd` to its end (a terminal's EIO is its end) into `out`.
fn read_into(fd: &OwnedFd, out: &mpsc::Sender<Chunk>, make: impl Fn(Bytes) -> Chunk, wanted: bool) {
    let mut f = std::fs::File::from(match fd.try_clone() {
        Ok(f) => f,
        Err(_) => return,
    });
    let mut buf = vec![0u8; READ_CHUNK];
    let mut client = true;
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                // A client gone: the output is still drained, so the
                // process never blocks on a full pipe.
                if client
                    && wanted
                    && out
                        .blocking_send(make(Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                {
                    client = false;
                }
            }
        }
    }
}

/// `GET /exec/{id}/json`.
pub async fn inspect(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = shared.ctx.clone();
    let sid = id.clone();
    let (s, req) = blocking(flavor, move || {
        let (_store, state) = open(&ctx)?;
        let s = session(&state, &sid)?;
        let req = exec::session_request(&s)?;
        Ok((s, req))
    })
    .await?;
    let (out, err) = with_extra(&id, |e| (e.stdout, e.stderr)).unwrap_or((true, true));
    let (entrypoint, args) = match req.command.split_first() {
        Some((e, a)) => (e.clone(), a.to_vec()),
        None => (String::new(), Vec::new()),
    };
    Ok(axum::Json(json!({
        "ID": s.id,
        "Running": s.state == ExecState::Running,
        "ExitCode": s.exit_code,
        "ProcessConfig": {
            "tty": req.tty,
            "entrypoint": entrypoint,
            "arguments": args,
            "privileged": req.privileged,
            "user": req.user.unwrap_or_default(),
        },
        "OpenStdin": req.interactive,
        "OpenStderr": err,
        "OpenStdout": out,
        "CanRemove": s.state == ExecState::Stopped,
        "ContainerID": s.container_id,
        "DetachKeys": "",
        "Pid": s.pid.unwrap_or(0),
    }))
    .into_response())
}

/// `POST /exec/{id}/resize?h=&w=`: a session without a terminal (or one
/// that ended) takes it as a no-op, as dockerd.
pub async fn resize(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let (rows, cols) = window(&q, flavor)?;
    let ctx = shared.ctx.clone();
    let sid = id.clone();
    blocking(flavor, move || {
        let (_store, state) = open(&ctx)?;
        session(&state, &sid).map(|_| ())
    })
    .await?;
    if let Some(Some(master)) = with_extra(&id, |e| e.master.clone()) {
        blocking(flavor, move || exec::resize_terminal(&master, rows, cols)).await?;
    }
    Ok(StatusCode::OK.into_response())
}
