//! The relay: the container's output (pipes, or its terminal's master) into
//! the log and to every attach client, the clients' input, window sizes and
//! signals back to the container, until its init exits.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

use crate::frame::{
    FRAME_EXIT, FRAME_RESIZE, FRAME_SIGNAL, FRAME_STDERR, FRAME_STDIN, FRAME_STDIN_EOF,
    FRAME_STDOUT, parse_i32, parse_resize, read_frame, write_frame,
};
use crate::logfile::{LogWriter, Stream};

/// Input waiting for the container beyond this stops the monitor reading
/// clients' frames until the container has taken some.
const MAX_PENDING_INPUT: usize = 256 * 1024;

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
    /// `--timeout`: when the container's init is killed if still running.
    pub deadline: Option<std::time::Instant>,
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
            deadline: None,
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
            let timeout = if init_gone {
                200
            } else {
                match self.deadline {
                    Some(d) => {
                        let left = d.saturating_duration_since(std::time::Instant::now());
                        i32::try_from(left.as_millis()).unwrap_or(i32::MAX)
                    }
                    None => -1,
                }
            };
            // SAFETY: fds is a valid array of pollfd for the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0
                && !init_gone
                && self
                    .deadline
                    .is_some_and(|d| std::time::Instant::now() >= d)
            {
                // Once: the kill's exit then arrives through the pidfd.
                self.deadline = None;
                // SAFETY: pidfd_send_signal on the pidfd of our own child.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        exited.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
                continue;
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
                    let _ = crate::terminal::set_window_size(master, rows, cols);
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
