//! The per-container monitor (conmon's role), run as `hutch __monitor`.
//!
//! It detaches (setsid, done by its spawner), becomes the child subreaper so
//! the container's init is its child once the runtime's `create` exits, and
//! stays for the container's life: it copies the container's stdout and
//! stderr (or its terminal) into the k8s-file log and to attached clients,
//! passes the clients' input on, records the exit code (atomically) and
//! cleans up. Clients and monitor exchange frames over a unix socket: one
//! byte kind, a big-endian u32 length, the bytes. From the monitor: 1
//! stdout, 2 stderr, 3 exit (the code as a big-endian i32). From a client:
//! 4 stdin bytes, 5 a window size (rows, cols as big-endian u16), 6 end of
//! stdin, 7 a signal for the container (big-endian i32). The exit file is
//! written before the exit frame is sent, so a client that saw the frame
//! can trust the record.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::logfile::{LogWriter, Stream};

pub const FRAME_STDOUT: u8 = 1;
pub const FRAME_STDERR: u8 = 2;
pub const FRAME_EXIT: u8 = 3;
pub const FRAME_STDIN: u8 = 4;
pub const FRAME_RESIZE: u8 = 5;
pub const FRAME_STDIN_EOF: u8 = 6;
pub const FRAME_SIGNAL: u8 = 7;

/// Input waiting for the container beyond this stops the monitor reading
/// clients' frames until the container has taken some.
const MAX_PENDING_INPUT: usize = 256 * 1024;

/// Writes one frame (in one write, so that a reader never waits for the
/// second half of a frame whose first half it got).
pub fn write_frame(w: &mut impl Write, kind: u8, data: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(5 + data.len());
    frame.push(kind);
    frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
    frame.extend_from_slice(data);
    w.write_all(&frame)
}

/// Reads one frame; `None` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > 16 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "attach frame too large",
        ));
    }
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((head[0], data)))
}

/// A resize frame's body.
pub fn resize_body(rows: u16, cols: u16) -> [u8; 4] {
    let (r, c) = (rows.to_be_bytes(), cols.to_be_bytes());
    [r[0], r[1], c[0], c[1]]
}

/// The (rows, cols) of a resize frame's body.
pub fn parse_resize(data: &[u8]) -> Option<(u16, u16)> {
    match data {
        [r0, r1, c0, c1] => Some((
            u16::from_be_bytes([*r0, *r1]),
            u16::from_be_bytes([*c0, *c1]),
        )),
        _ => None,
    }
}

/// The i32 body of an exit or signal frame.
pub fn parse_i32(data: &[u8]) -> Option<i32> {
    let b: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

/// The container's output (pipes, or its terminal's master), where its
/// input goes, and the clients, until the container exits.
pub struct Relay {
    /// The stdout pipe, or the pty master for a container with a terminal.
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// Where clients' stdin goes: the stdin pipe (`-i`) or the pty master
    /// (a duplicate of `stdout`). Made non-blocking here.
    pub stdin: Option<OwnedFd>,
    /// `stdout` is a pty master: resize frames apply to it, and the end of
    /// a client's input does not close it.
    pub tty: bool,
    pub listener: UnixListener,
    pub clients: Vec<UnixStream>,
    pub log: LogWriter,
    /// Input received but not yet taken by the container.
    pub pending: Vec<u8>,
    /// Close `stdin` once `pending` is written (a client's stdin ended).
    pub close_stdin: bool,
}

impl Relay {
    pub fn new(listener: UnixListener, log: LogWriter) -> Relay {
        Relay {
            stdout: None,
            stderr: None,
            stdin: None,
            tty: false,
            listener,
            clients: Vec::new(),
            log,
            pending: Vec::new(),
            close_stdin: false,
        }
    }

    /// Copies output until the output fds close and `exited` (a pidfd of
    /// the container's init) has fired, whichever happens last; processes
    /// the container left behind holding the pipes do not keep it waiting
    /// once init is gone and the pipes are drained. Client frames are
    /// handled meanwhile: input, window sizes, signals (sent through the
    /// pidfd, so never to a recycled pid).
    pub fn run(&mut self, exited: &OwnedFd) -> io::Result<()> {
        if let Some(fd) = &self.stdin {
            set_nonblocking(fd)?;
        }
        let mut init_gone = false;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if init_gone && self.stdout.is_none() && self.stderr.is_none() {
                return Ok(());
            }
            if self.close_stdin && self.pending.is_empty() && !self.tty {
                self.stdin = None;
            }
            let mut fds: Vec<libc::pollfd> = Vec::new();
            let mut push = |fd: i32, events: i16| {
                fds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                })
            };
            push(
                self.stdout.as_ref().map_or(-1, |f| f.as_raw_fd()),
                libc::POLLIN,
            );
            push(
                self.stderr.as_ref().map_or(-1, |f| f.as_raw_fd()),
                libc::POLLIN,
            );
            push(self.listener.as_raw_fd(), libc::POLLIN);
            push(
                if init_gone { -1 } else { exited.as_raw_fd() },
                libc::POLLIN,
            );
            push(
                match &self.stdin {
                    Some(f) if !self.pending.is_empty() => f.as_raw_fd(),
                    _ => -1,
                },
                libc::POLLOUT,
            );
            let read_clients = self.pending.len() < MAX_PENDING_INPUT;
            for c in &self.clients {
                push(if read_clients { c.as_raw_fd() } else { -1 }, libc::POLLIN);
            }
            // After init exits, wait at most a moment for the pipes' last
            // bytes; a daemonised grandchild may hold them open forever.
            let timeout = if init_gone { 200 } else { -1 };
            // SAFETY: fds is a valid array of pollfd for the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 && init_gone {
                self.stdout = None;
                self.stderr = None;
                continue;
            }
            for (i, stream, kind) in [
                (0, Stream::Stdout, FRAME_STDOUT),
                (1, Stream::Stderr, FRAME_STDERR),
            ] {
                if fds[i].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
                    continue;
                }
                let slot = if i == 0 {
                    &mut self.stdout
                } else {
                    &mut self.stderr
                };
                let Some(fd) = slot.as_ref() else { continue };
                match rustix::io::read(fd.as_fd(), &mut buf) {
                    Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                    // EIO: every holder of the terminal's slave side is gone.
                    Ok(0) | Err(_) => *slot = None,
                    Ok(n) => {
                        self.log.write(stream, &buf[..n])?;
                        // A client that went away is dropped, not an error.
                        self.clients
                            .retain_mut(|c| write_frame(c, kind, &buf[..n]).is_ok());
                    }
                }
            }
            if fds[4].revents & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) != 0 {
                self.write_pending();
            }
            // Client frames, newest index first so removals keep the rest.
            let polled = fds.len() - 5;
            for i in (0..polled.min(self.clients.len())).rev() {
                let rev = fds[5 + i].revents;
                if rev & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
                    continue;
                }
                let keep = match read_frame(&mut self.clients[i]) {
                    Ok(Some((kind, data))) => {
                        self.client_frame(kind, &data, exited, init_gone);
                        true
                    }
                    Ok(None) | Err(_) => false,
                };
                if !keep {
                    self.clients.remove(i);
                }
            }
            if fds[2].revents & libc::POLLIN != 0
                && let Ok((client, _)) = self.listener.accept()
            {
                self.clients.push(client);
            }
            if fds[3].revents & libc::POLLIN != 0 {
                init_gone = true;
            }
        }
    }

    /// Acts on one frame from a client.
    fn client_frame(&mut self, kind: u8, data: &[u8], exited: &OwnedFd, init_gone: bool) {
        match kind {
            FRAME_STDIN if self.stdin.is_some() && !self.close_stdin => {
                self.pending.extend_from_slice(data);
                self.write_pending();
            }
            FRAME_STDIN_EOF => self.close_stdin = true,
            FRAME_RESIZE if self.tty => {
                if let (Some((rows, cols)), Some(master)) = (parse_resize(data), &self.stdout) {
                    let _ = super::terminal::set_window_size(master, rows, cols);
                }
            }
            FRAME_SIGNAL if !init_gone => {
                if let Some(sig) = parse_i32(data) {
                    // SAFETY: pidfd_send_signal on the pidfd of our own child.
                    unsafe {
                        libc::syscall(
                            libc::SYS_pidfd_send_signal,
                            exited.as_raw_fd(),
                            sig,
                            std::ptr::null::<libc::siginfo_t>(),
                            0,
                        )
                    };
                }
            }
            _ => {}
        }
    }

    /// Writes as much pending input as the container takes now.
    fn write_pending(&mut self) {
        let Some(fd) = &self.stdin else {
            self.pending.clear();
            return;
        };
        while !self.pending.is_empty() {
            match rustix::io::write(fd, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return,
                Err(_) => {
                    // The reader is gone (EPIPE): nobody takes input now.
                    self.pending.clear();
                    self.stdin = None;
                    return;
                }
            }
        }
    }

    /// Tells every client the exit code and closes them.
    pub fn finish(&mut self, code: i32) {
        for mut c in self.clients.drain(..) {
            let _ = write_frame(&mut c, FRAME_EXIT, &code.to_be_bytes());
        }
    }
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

/// Writes `content` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)
}

/// The exit status of a waited child as a shell reports it: the code, or
/// 128 + the signal that killed it.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    }
}

/// Podman's exit codes for a command that could not run: 127 when it does
/// not exist, 126 when it cannot be executed, else 125 (hutch's own).
pub fn start_failure_code(runtime_message: &str) -> u8 {
    let m = runtime_message.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied")
        || m.contains("operation not permitted")
        || m.contains("is a directory")
    {
        126
    } else {
        125
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, FRAME_STDOUT, b"hello").unwrap();
        write_frame(&mut buf, FRAME_EXIT, &3i32.to_be_bytes()).unwrap();
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((FRAME_STDOUT, b"hello".to_vec()))
        );
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((FRAME_EXIT, 3i32.to_be_bytes().to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn start_failures_map_to_podman_codes() {
        assert_eq!(
            start_failure_code("exec: \"nosuch\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("exec: \"/etc\": is a directory"), 126);
        assert_eq!(
            start_failure_code("exec /etc/passwd: permission denied"),
            126
        );
        // crun's words for a directory as the command (Podman's
        // ErrOCIRuntimePermissionDenied matches "operation not permitted").
        assert_eq!(
            start_failure_code("crun: open executable: Operation not permitted"),
            126
        );
        assert_eq!(start_failure_code("something else"), 125);
    }

    #[test]
    fn exit_codes_like_a_shell() {
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(9), 137);
    }
}
