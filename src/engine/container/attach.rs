//! `attach`: a session with a running container's monitor. A front end
//! either drives it frame by frame (the REST API's hijacked connection:
//! [`AttachSession::read_output`], [`AttachSession::send_stdin`], ...) or hands
//! it the calling process's terminal ([`AttachSession::run_console`]).

use std::os::unix::net::UnixStream;

use hutch_storage::Store;

use super::Paths;
use super::lifecycle::stored;
use crate::config::Context;
use crate::engine::state::{Container, ContainerState, State};
use crate::engine::{Error, Result, ResultExt};
use crate::runtime::console::{self, AttachConsole};
use crate::runtime::monitor as frames;
use crate::runtime::terminal;

pub use crate::runtime::console::Ended;

/// How a client attaches (`attach`, `start -a`, `run` in the foreground).
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Send input to the container; only honoured when it was created
    /// with `-i`.
    pub stdin: bool,
    /// `--detach-keys`: Podman's key list; "" disables detaching.
    pub detach_keys: String,
    /// Pass the client's signals on to the container.
    pub sig_proxy: bool,
    /// Relay the container's stdout and stderr (`run -a` picks streams).
    pub stdout: bool,
    pub stderr: bool,
}

impl Default for AttachOptions {
    fn default() -> AttachOptions {
        AttachOptions {
            stdin: true,
            detach_keys: terminal::DEFAULT_DETACH_KEYS.to_owned(),
            sig_proxy: true,
            stdout: true,
            stderr: true,
        }
    }
}

impl AttachOptions {
    /// The parsed detach keys; a bad spec is bad input.
    pub fn validate(&self) -> Result<Vec<u8>> {
        terminal::parse_detach_keys(&self.detach_keys).map_err(Error::bad_input)
    }

    /// The console settings for container `c`.
    pub(crate) fn console(&self, c: &Container) -> Result<AttachConsole> {
        let cfg = stored(c);
        Ok(AttachConsole {
            stdin: self.stdin && cfg.interactive,
            tty: cfg.tty,
            detach_keys: self.validate()?,
            sig_proxy: self.sig_proxy,
            stdout: self.stdout,
            stderr: self.stderr,
        })
    }
}

/// One output frame of the container.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The container exited with this code; the session is over.
    Exit(i32),
}

/// A connection to a container's monitor.
pub struct AttachSession {
    pub id: String,
    socket: UnixStream,
    console: AttachConsole,
}

impl AttachSession {
    pub(crate) fn new(id: &str, socket: UnixStream, console: AttachConsole) -> AttachSession {
        AttachSession {
            id: id.to_owned(),
            socket,
            console,
        }
    }

    /// Whether the container has a terminal (no stderr stream then).
    pub fn tty(&self) -> bool {
        self.console.tty
    }

    /// The next output frame; `None` when the monitor went away first.
    pub fn read_output(&mut self) -> Result<Option<Output>> {
        loop {
            let frame =
                frames::read_frame(&mut self.socket).context("reading the container's output")?;
            return Ok(match frame {
                None => None,
                Some((frames::FRAME_STDOUT, data)) => Some(Output::Stdout(data)),
                Some((frames::FRAME_STDERR, data)) => Some(Output::Stderr(data)),
                Some((frames::FRAME_EXIT, data)) => {
                    Some(Output::Exit(frames::parse_i32(&data).unwrap_or(125)))
                }
                Some(_) => continue,
            });
        }
    }

    pub fn send_stdin(&mut self, data: &[u8]) -> Result<()> {
        frames::write_frame(&mut self.socket, frames::FRAME_STDIN, data)
            .context("sending input to the container")
    }

    pub fn close_stdin(&mut self) -> Result<()> {
        frames::write_frame(&mut self.socket, frames::FRAME_STDIN_EOF, &[])
            .context("closing the container's input")
    }

    pub fn resize(&mut self, rows: u16, cols: u16) -> Result<()> {
        frames::write_frame(
            &mut self.socket,
            frames::FRAME_RESIZE,
            &frames::resize_body(rows, cols),
        )
        .context("resizing the container's terminal")
    }

    /// A second handle on the same session, so that one thread can read
    /// the output while another sends input and window sizes.
    pub fn try_clone(&self) -> Result<AttachSession> {
        Ok(AttachSession {
            id: self.id.clone(),
            socket: self
                .socket
                .try_clone()
                .context("sharing the attach session")?,
            console: self.console.clone(),
        })
    }

    /// Ends the session for every handle: a reader blocked in
    /// [`AttachSession::read_output`] returns `None`. The container runs on.
    pub fn shutdown(&self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }

    /// Joins the calling process's terminal to the session until the
    /// container exits or the user detaches.
    pub fn run_console(self) -> Result<Ended> {
        let short = &self.id[..12.min(self.id.len())];
        let ended = console::attach(self.socket, &self.console)
            .with_context(|| format!("attached to container {short}"))?;
        if ended == Ended::MonitorGone {
            crate::fail!(
                Internal,
                "the monitor of container {short} went away before the container exited"
            );
        }
        Ok(ended)
    }
}

/// Attaches to running container `name`.
pub fn attach(
    ctx: &Context,
    store: &Store,
    state: &State,
    name: &str,
    opts: &AttachOptions,
) -> Result<AttachSession> {
    state.recover()?;
    let c = state.container(name)?;
    if c.state != ContainerState::Running {
        crate::fail!(
            InvalidState,
            "you can only attach to running containers: container {} is {}",
            c.name,
            c.state
        );
    }
    let console = opts.console(&c)?;
    let paths = Paths::new(ctx, store.root(), &c.id);
    let socket = UnixStream::connect(&paths.attach)
        .with_context(|| format!("attaching to container {}", &c.id[..12.min(c.id.len())]))?;
    Ok(AttachSession::new(&c.id, socket, console))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorKind;

    #[test]
    fn detach_keys_are_checked() {
        assert_eq!(AttachOptions::default().validate().unwrap(), [16, 17]);
        let none = AttachOptions {
            detach_keys: String::new(),
            ..AttachOptions::default()
        };
        assert!(none.validate().unwrap().is_empty());
        let bad = AttachOptions {
            detach_keys: "ctrl-".into(),
            ..AttachOptions::default()
        };
        assert_eq!(bad.validate().unwrap_err().kind(), ErrorKind::BadInput);
    }
}
