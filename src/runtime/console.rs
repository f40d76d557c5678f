//! The foreground console of a front end: the calling process's own
//! terminal joined to a container's attach socket or an exec session's
//! terminal. Raw mode, window sizes on SIGWINCH, proxied signals, and the
//! stream pumping live here, below the engine, so that `src/cli` makes no
//! syscalls; a REST server drives the engine's attach session instead.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::monitor as frames;
use super::terminal::{self, DetachMatcher, RawMode};

/// Signals a foreground client passes on to the container (`--sig-proxy`).
const PROXIED: [i32; 8] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGPWR,
];

/// How the console attaches.
#[derive(Debug, Clone, Default)]
pub struct AttachConsole {
    /// Send our stdin to the container.
    pub stdin: bool,
    /// The container has a terminal: raw mode, window sizes.
    pub tty: bool,
    /// The parsed detach keys; empty disables detaching.
    pub detach_keys: Vec<u8>,
    /// Pass the signals we receive on to the container.
    pub sig_proxy: bool,
    /// Relay the container's stdout and stderr (`run -a` picks streams).
    pub stdout: bool,
    pub stderr: bool,
}

/// The size of the calling process's terminal (stdin's, else stdout's).
pub fn own_window_size() -> Option<(u16, u16)> {
    terminal::window_size(std::io::stdin().as_fd())
        .or_else(|| terminal::window_size(std::io::stdout().as_fd()))
}

/// How an attach session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The container exited with this code.
    Exited(i32),
    /// The user typed the detach keys; the container runs on.
    Detached,
    /// The monitor closed the socket before reporting an exit.
    MonitorGone,
}

/// The foreground attach client over a socket connected to a container's
/// monitor: its output to our stdout and stderr, our stdin to it (detach
/// keys removed), window sizes on SIGWINCH and, with `sig_proxy`, the
/// signals we receive. Returns how the session ended.
pub fn attach(sock: UnixStream, opts: &AttachConsole) -> io::Result<Ended> {
    // Signals are read from a signalfd in the loop below; they are blocked
    // before the stdin thread exists so that no thread takes them.
    let mut wanted: Vec<i32> = Vec::new();
    if opts.tty {
        wanted.push(libc::SIGWINCH);
    }
    if opts.sig_proxy {
        wanted.extend(PROXIED);
    }
    let signals = SignalFd::new(&wanted)?;
    let stdin_fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    let _raw = if opts.tty && opts.stdin {
        RawMode::enable(stdin_fd.as_fd())?
    } else {
        None
    };
    let writer = Arc::new(Mutex::new(sock.try_clone()?));
    let send = |kind: u8, data: &[u8]| -> std::io::Result<()> {
        let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
        frames::write_frame(&mut *w, kind, data)
    };
    if opts.tty {
        let size = terminal::window_size(stdin_fd.as_fd())
            .or_else(|| terminal::window_size(std::io::stdout().as_fd()));
        if let Some((rows, cols)) = size {
            let _ = send(frames::FRAME_RESIZE, &frames::resize_body(rows, cols));
        }
    }
    let detached = Arc::new(AtomicBool::new(false));
    if opts.stdin {
        let writer = Arc::clone(&writer);
        let detached = Arc::clone(&detached);
        let mut matcher = DetachMatcher::new(opts.detach_keys.clone());
        let mut input = std::fs::File::from(stdin_fd);
        std::thread::spawn(move || {
            let send = |kind: u8, data: &[u8]| {
                let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
                frames::write_frame(&mut *w, kind, data)
            };
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = send(frames::FRAME_STDIN_EOF, &[]);
                        return;
                    }
                    Ok(n) => n,
                };
                let (data, detach) = matcher.feed(&buf[..n]);
                if !data.is_empty() && send(frames::FRAME_STDIN, &data).is_err() {
                    return;
                }
                if detach {
                    detached.store(true, Ordering::SeqCst);
                    let w = writer.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = w.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        });
    }

    let mut reader = sock;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    loop {
        let mut fds = [
            libc::pollfd {
                fd: reader.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: signals.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a valid array of two pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[1].revents & libc::POLLIN != 0 {
            for sig in signals.read() {
                if sig == libc::SIGWINCH {
                    if let Some((rows, cols)) = terminal::window_size(std::io::stdin().as_fd())
                        .or_else(|| terminal::window_size(std::io::stdout().as_fd()))
                    {
                        let _ = send(frames::FRAME_RESIZE, &frames::resize_body(rows, cols));
                    }
                } else {
                    let _ = send(frames::FRAME_SIGNAL, &sig.to_be_bytes());
                }
            }
        }
        if fds[0].revents == 0 {
            continue;
        }
        let frame = frames::read_frame(&mut reader);
        if detached.load(Ordering::SeqCst) {
            return Ok(Ended::Detached);
        }
        match frame? {
            Some((frames::FRAME_STDOUT, data)) if opts.stdout => {
                out.write_all(&data)?;
                out.flush()?;
            }
            Some((frames::FRAME_STDERR, data)) if opts.stderr => {
                err.write_all(&data)?;
                err.flush()?;
            }
            Some((frames::FRAME_EXIT, data)) => {
                return Ok(Ended::Exited(frames::parse_i32(&data).unwrap_or(125)));
            }
            Some(_) => {}
            None => return Ok(Ended::MonitorGone),
        }
    }
}

/// Signals delivered through a file descriptor while blocked for the whole
/// process; the old mask comes back when dropped.
pub struct SignalFd {
    pub fd: OwnedFd,
    old: libc::sigset_t,
}

impl SignalFd {
    pub fn new(signals: &[i32]) -> std::io::Result<SignalFd> {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset; the
        // mask applies to this thread, before any other thread is spawned.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in signals {
                libc::sigaddset(&mut set, s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                let e = std::io::Error::last_os_error();
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                return Err(e);
            }
            Ok(SignalFd {
                fd: OwnedFd::from_raw_fd(fd),
                old,
            })
        }
    }

    /// The signals pending now.
    pub fn read(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
        while let Ok(n) = rustix::io::read(&self.fd, &mut info) {
            if n < info.len() {
                break;
            }
            // ssi_signo is the struct's first field, a native-endian u32.
            out.push(u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as i32);
        }
        out
    }
}

impl Drop for SignalFd {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// Copies the process's stderr pipe to ours until it closes, or shortly
/// after the process is gone (something it started may hold the pipe).
pub fn relay_stderr(pipe: &OwnedFd, pid: i32) {
    let pidfd = rustix::process::Pid::from_raw(pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let mut err = std::io::stderr().lock();
    let mut buf = vec![0u8; 32 * 1024];
    let mut gone = false;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: match (&pidfd, gone) {
                    (Some(p), false) => p.as_raw_fd(),
                    _ => -1,
                },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout = if gone { 200 } else { -1 };
        // SAFETY: a valid array of two pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if n == 0 {
            return;
        }
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0 {
            gone = true;
        }
        if fds[0].revents != 0 {
            match rustix::io::read(pipe, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let _ = err.write_all(&buf[..n]);
                    let _ = err.flush();
                }
            }
        }
    }
}

/// The exec session's terminal to ours (raw mode), our input to it with
/// `-i`, window sizes on SIGWINCH. Returns whether the user detached.
pub fn relay_terminal(master: &OwnedFd, interactive: bool, keys: Vec<u8>) -> io::Result<bool> {
    let stdin = std::io::stdin().as_fd().try_clone_to_owned()?;
    let _raw = if interactive {
        RawMode::enable(stdin.as_fd())?
    } else {
        None
    };
    let winch = SignalFd::new(&[libc::SIGWINCH])?;
    let mut matcher = DetachMatcher::new(keys);
    let mut out = std::io::stdout().lock();
    let mut input = std::fs::File::from(stdin);
    let mut buf = vec![0u8; 32 * 1024];
    let mut stdin_open = interactive;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { input.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: winch.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a valid array of three pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(std::io::Error::last_os_error());
        }
        if fds[2].revents != 0 {
            winch.read();
            if let Some((rows, cols)) = terminal::window_size(input.as_fd())
                .or_else(|| terminal::window_size(std::io::stdout().as_fd()))
            {
                let _ = terminal::set_window_size(master, rows, cols);
            }
        }
        if fds[1].revents != 0 {
            match input.read(&mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let (data, detach) = matcher.feed(&buf[..n]);
                    let mut rest: &[u8] = &data;
                    while !rest.is_empty() {
                        match rustix::io::write(master, rest) {
                            Ok(w) => rest = &rest[w..],
                            Err(rustix::io::Errno::INTR) => {}
                            Err(_) => break,
                        }
                    }
                    if detach {
                        return Ok(true);
                    }
                }
            }
        }
        if fds[0].revents != 0 {
            match rustix::io::read(master, &mut buf) {
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                // EIO: the process and everything holding its terminal ended.
                Ok(0) | Err(_) => return Ok(false),
                Ok(n) => {
                    out.write_all(&buf[..n])?;
                    out.flush()?;
                }
            }
        }
    }
}
