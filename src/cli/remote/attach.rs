//! Sessions over a hijacked connection: `attach`, `start -a`, `run -i/-t`
//! and `exec -i/-t` through the remote client. The user's terminal goes
//! raw while a session with a terminal runs, its size is sent at the start
//! and on every SIGWINCH, input is copied to the connection (its end
//! half-closes the connection's write side, which closes the process's
//! stdin) and output comes back raw (terminal) or in Docker's frames.
//! Detach keys are the service's business (it watches the input).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::http::{self, Hijacked};
use super::{Service, enc};
use crate::cli::container::AttachFlags;
use crate::runtime::console::SignalFd;
use crate::runtime::terminal::{self, RawMode};

/// Where the window size of a session goes.
#[derive(Clone)]
enum Resize {
    Container(String),
    Exec(String),
}

impl Resize {
    fn send(&self, svc_socket: &std::path::Path, rows: u16, cols: u16) {
        let path = match self {
            Resize::Container(id) => format!("/containers/{id}/resize"),
            Resize::Exec(id) => format!("/exec/{id}/resize"),
        };
        // A resize that fails (the process just ended) changes nothing.
        let _ = http::request(
            svc_socket,
            "POST",
            &format!("{}{path}?h={rows}&w={cols}", super::API_PREFIX),
            None,
        )
        .and_then(|r| r.json());
    }
}

/// The terminal side of a session: raw mode and SIGWINCH, set up before
/// any thread starts (the signal is blocked for the whole process).
struct Terminal {
    _raw: Option<RawMode>,
    winch: Option<SignalFd>,
}

impl Terminal {
    fn new(tty: bool, interactive: bool) -> anyhow::Result<Terminal> {
        let stdout_tty = rustix::termios::isatty(std::io::stdout());
        if !tty || !stdout_tty {
            return Ok(Terminal {
                _raw: None,
                winch: None,
            });
        }
        let winch = SignalFd::new(&[libc::SIGWINCH]).context("watching the window size")?;
        let raw = if interactive {
            RawMode::enable(std::io::stdin().as_fd()).context("putting the terminal in raw mode")?
        } else {
            None
        };
        Ok(Terminal {
            _raw: raw,
            winch: Some(winch),
        })
    }

    /// Sends the size now and on every SIGWINCH, from a thread of its own.
    fn follow_size(&mut self, svc: &Service, to: Resize) {
        let Some(winch) = self.winch.take() else {
            return;
        };
        let socket = svc.socket.clone();
        if let Some((rows, cols)) = terminal::window_size(std::io::stdout()) {
            to.send(&socket, rows, cols);
        }
        std::thread::spawn(move || {
            let fd = winch.fd.as_raw_fd();
            loop {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, for as long as `winch` lives
                // (this thread owns it).
                let n = unsafe { libc::poll(&mut p, 1, -1) };
                if n < 0
                    && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    return;
                }
                if !winch.read().is_empty()
                    && let Some((rows, cols)) = terminal::window_size(std::io::stdout())
                {
                    to.send(&socket, rows, cols);
                }
            }
        });
    }
}

/// Copies the session: stdin to the connection (when `input`), the output
/// to stdout/stderr until the service ends it.
fn relay(session: Hijacked, input: bool, tty: bool) -> anyhow::Result<()> {
    let Hijacked {
        output,
        input: conn,
    } = session;
    if input {
        std::thread::spawn(move || {
            let mut conn = conn;
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 32 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            // The end of input: the process's stdin closes.
            let _ = conn.shutdown(std::net::Shutdown::Write);
        });
    } else {
        // Nothing to send: the service sees the end of input at once.
        let _ = conn.shutdown(std::net::Shutdown::Write);
    }
    if tty {
        let mut out = std::io::stdout().lock();
        let mut output = output;
        let mut buf = [0u8; 32 * 1024];
        loop {
            let n = match output.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // The service closed the connection hard: the session is over.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e).context("reading the session's output"),
            };
            if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                return Ok(());
            }
        }
    }
    http::demux(output)
}

fn attach_path(id: &str, stdin: bool, flags: &AttachFlags) -> String {
    format!(
        "/containers/{}/attach?stream=true&stdin={stdin}&stdout=true&stderr=true&detachKeys={}",
        enc(id),
        enc(&flags.detach_keys)
    )
}

/// After the output ended: the container's exit code, or 0 when it runs
/// on (the user detached), as the local attach.
fn container_code(svc: &Service, id: &str) -> anyhow::Result<ExitCode> {
    let v = svc
        .call("GET", &format!("/containers/{}/json", enc(id)), None)?
        .json()?;
    if matches!(v["State"]["Status"].as_str(), Some("running" | "paused")) {
        return Ok(ExitCode::SUCCESS);
    }
    let code = svc
        .call(
            "POST",
            &format!(
                "/containers/{}/wait?condition=stopped&condition=exited",
                enc(id)
            ),
            None,
        )?
        .json()?;
    let code = code.as_i64().or(code["StatusCode"].as_i64()).unwrap_or(0);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}

/// `run -i/-t`: attached before the start, then started.
pub fn run_attached(
    svc: &Service,
    id: &str,
    interactive: bool,
    tty: bool,
    flags: &AttachFlags,
) -> anyhow::Result<ExitCode> {
    let mut term = Terminal::new(tty, interactive)?;
    let session = http::hijack(
        &svc.socket,
        &format!(
            "{}{}",
            super::API_PREFIX,
            attach_path(id, interactive, flags)
        ),
        None,
    )?;
    let r = svc.call("POST", &format!("/containers/{}/start", enc(id)), None)?;
    if r.status >= 400 {
        r.json()?;
    }
    term.follow_size(svc, Resize::Container(id.to_owned()));
    relay(session, interactive, tty)?;
    drop(term);
    container_code(svc, id)
}

/// `start -a [-i]`.
pub fn start_attached(
    svc: &Service,
    name: &str,
    interactive: bool,
    flags: &AttachFlags,
) -> anyhow::Result<ExitCode> {
    let v = svc
        .call("GET", &format!("/containers/{}/json", enc(name)), None)?
        .json()?;
    let id = v["Id"].as_str().unwrap_or(name).to_owned();
    let tty = v["Config"]["Tty"].as_bool().unwrap_or(false);
    let open_stdin = v["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    run_attached(svc, &id, interactive && open_stdin, tty, flags)
}

/// `attach CONTAINER`.
pub fn attach(svc: &Service, a: &crate::cli::container::AttachArgs) -> anyhow::Result<ExitCode> {
    // `-l`: the container the service made last, as locally.
    let newest;
    let name = match a.container.as_deref() {
        Some(n) => n,
        None => {
            newest = super::containers::latest(svc)?;
            newest.as_str()
        }
    };
    let v: Value = svc
        .call("GET", &format!("/containers/{}/json", enc(name)), None)?
        .json()?;
    let id = v["Id"].as_str().unwrap_or(name).to_owned();
    if !matches!(v["State"]["Status"].as_str(), Some("running" | "paused")) {
        anyhow::bail!("you can only attach to running containers");
    }
    let tty = v["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !a.no_stdin && v["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let mut term = Terminal::new(tty, stdin)?;
    let session = http::hijack(
        &svc.socket,
        &format!("{}{}", super::API_PREFIX, attach_path(&id, stdin, &a.flags)),
        None,
    )?;
    term.follow_size(svc, Resize::Container(id.clone()));
    relay(session, stdin, tty)?;
    drop(term);
    container_code(svc, &id)
}

/// `exec [-i] [-t]`: the exec session `sid` started over a hijacked
/// connection; returns when its output ends.
pub fn exec_session(svc: &Service, sid: &str, interactive: bool, tty: bool) -> anyhow::Result<()> {
    let mut term = Terminal::new(tty, interactive)?;
    let mut body = json!({"Detach": false, "Tty": tty});
    // The first size with the start, as Podman's client sends it: the
    // process sees it from its first instruction.
    if term.winch.is_some()
        && let Some((rows, cols)) = terminal::window_size(std::io::stdout())
    {
        body["h"] = json!(rows);
        body["w"] = json!(cols);
    }
    let session = http::hijack(
        &svc.socket,
        &format!("{}/exec/{sid}/start", super::API_PREFIX),
        Some(&body),
    )?;
    term.follow_size(svc, Resize::Exec(sid.to_owned()));
    relay(session, interactive, tty)
}
