//! `attach`, and the attach client that `run`, `start -a` and `attach`
//! share: the container's output to ours, our stdin (detach keys removed),
//! window sizes and proxied signals to its monitor.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};

use super::exit_status;
use crate::config::Context;
use crate::engine::container::{self as engine, Paths};
use crate::engine::image;
use crate::engine::state::ContainerState;
use crate::runtime::monitor as relay;
use crate::runtime::terminal::{self, DetachMatcher, RawMode};

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

/// How a client attaches.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Send our stdin to the container (it was created with `-i`).
    pub stdin: bool,
    /// The container has a terminal: raw mode, window sizes.
    pub tty: bool,
    /// The parsed `--detach-keys`; empty disables detaching.
    pub detach_keys: Vec<u8>,
    pub sig_proxy: bool,
}

impl AttachOptions {
    /// Options from the flags every attaching command has, for a container
    /// created with `spec`.
    pub fn new(
        req: &crate::spec::ContainerSpec,
        stdin: bool,
        detach_keys: &str,
        sig_proxy: bool,
    ) -> anyhow::Result<AttachOptions> {
        Ok(AttachOptions {
            stdin: stdin && req.interactive,
            tty: req.tty,
            detach_keys: terminal::parse_detach_keys(detach_keys).map_err(anyhow::Error::msg)?,
            sig_proxy,
        })
    }
}

/// The flags `attach`, `run` and `start` share for attaching.
#[derive(Debug, Clone, clap::Args)]
pub struct AttachFlags {
    /// Override the key sequence for detaching a container ("" disables)
    #[arg(long, value_name = "KEYS", default_value = terminal::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
}

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    #[command(flatten)]
    flags: AttachFlags,
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    container: String,
}

pub fn attach(ctx: &Context, args: &AttachArgs) -> anyhow::Result<ExitCode> {
    let state = engine::open_state(ctx)?;
    state.recover()?;
    let c = state.container(&args.container)?;
    if c.state != ContainerState::Running {
        bail!(
            "you can only attach to running containers: container {} is {}",
            c.name,
            c.state
        );
    }
    let opts = AttachOptions::new(
        &c.spec,
        !args.no_stdin,
        &args.flags.detach_keys,
        args.flags.sig_proxy,
    )?;
    client(ctx, &c.id, &opts)
}

/// Attaches to the monitor of container `id` until the container exits
/// (its code) or the user detaches (success).
pub fn client(ctx: &Context, id: &str, opts: &AttachOptions) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let paths = Paths::new(ctx, store.root(), id);
    let sock = UnixStream::connect(&paths.attach)
        .with_context(|| format!("attaching to container {}", &id[..12.min(id.len())]))?;
    session(sock, id, opts)
}

/// The attach session over a connected socket.
pub fn session(sock: UnixStream, id: &str, opts: &AttachOptions) -> anyhow::Result<ExitCode> {
    let short = &id[..12.min(id.len())];
    // Signals are read from a signalfd in the loop below; they are blocked
    // before the stdin thread exists so that no thread takes them.
    let mut wanted: Vec<i32> = Vec::new();
    if opts.tty {
        wanted.push(libc::SIGWINCH);
    }
    if opts.sig_proxy {
        wanted.extend(PROXIED);
    }
    let signals = SignalFd::new(&wanted).context("watching signals")?;
    let stdin_fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    let _raw = if opts.tty && opts.stdin {
        RawMode::enable(stdin_fd.as_fd()).context("setting the terminal to raw mode")?
    } else {
        None
    };
    let writer = Arc::new(Mutex::new(sock.try_clone()?));
    let send = |kind: u8, data: &[u8]| -> std::io::Result<()> {
        let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
        relay::write_frame(&mut *w, kind, data)
    };
    if opts.tty {
        let size = terminal::window_size(stdin_fd.as_fd())
            .or_else(|| terminal::window_size(std::io::stdout().as_fd()));
        if let Some((rows, cols)) = size {
            let _ = send(relay::FRAME_RESIZE, &relay::resize_body(rows, cols));
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
                relay::write_frame(&mut *w, kind, data)
            };
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = send(relay::FRAME_STDIN_EOF, &[]);
                        return;
                    }
                    Ok(n) => n,
                };
                let (data, detach) = matcher.feed(&buf[..n]);
                if !data.is_empty() && send(relay::FRAME_STDIN, &data).is_err() {
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
            return Err(e).context("waiting for the container's output");
        }
        if fds[1].revents & libc::POLLIN != 0 {
            for sig in signals.read() {
                if sig == libc::SIGWINCH {
                    if let Some((rows, cols)) = terminal::window_size(std::io::stdin().as_fd())
                        .or_else(|| terminal::window_size(std::io::stdout().as_fd()))
                    {
                        let _ = send(relay::FRAME_RESIZE, &relay::resize_body(rows, cols));
                    }
                } else {
                    let _ = send(relay::FRAME_SIGNAL, &sig.to_be_bytes());
                }
            }
        }
        if fds[0].revents == 0 {
            continue;
        }
        let frame = relay::read_frame(&mut reader);
        if detached.load(Ordering::SeqCst) {
            return Ok(ExitCode::SUCCESS);
        }
        match frame.context("reading the container's output")? {
            Some((relay::FRAME_STDOUT, data)) => {
                out.write_all(&data)?;
                out.flush()?;
            }
            Some((relay::FRAME_STDERR, data)) => {
                err.write_all(&data)?;
                err.flush()?;
            }
            Some((relay::FRAME_EXIT, data)) => {
                return Ok(exit_status(relay::parse_i32(&data).unwrap_or(125)));
            }
            Some(_) => {}
            None => bail!("the monitor of container {short} went away before the container exited"),
        }
    }
}

/// Signals delivered through a file descriptor while blocked for the whole
/// process; the old mask comes back when dropped.
pub(super) struct SignalFd {
    pub(super) fd: OwnedFd,
    old: libc::sigset_t,
}

impl SignalFd {
    pub(super) fn new(signals: &[i32]) -> std::io::Result<SignalFd> {
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
    pub(super) fn read(&self) -> Vec<i32> {
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
