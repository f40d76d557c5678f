//! `exec`: run a process in a running container, in the foreground (its
//! exit code is ours) or detached (`-d` prints the session id).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::attach::SignalFd;
use super::exit_status;
use crate::config::Context;
use crate::engine::container::{self as engine, exec};
use crate::engine::image;
use crate::runtime::terminal::{self, DetachMatcher, RawMode};

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Run the exec session in detached mode (backgrounded)
    #[arg(short, long)]
    detach: bool,
    /// Select the key sequence for detaching a container ("" disables)
    #[arg(long, value_name = "KEYS", default_value = terminal::DEFAULT_DETACH_KEYS)]
    detach_keys: String,
    /// Set environment variables
    #[arg(short, long)]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    env_file: Vec<std::path::PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Give extended privileges to the process
    #[arg(long)]
    privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// CONTAINER COMMAND [ARG...] (COMMAND [ARG...] with --latest)
    #[arg(required = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn exec(ctx: &Context, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let detach_keys = terminal::parse_detach_keys(&args.detach_keys).map_err(anyhow::Error::msg)?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    state.recover()?;
    let (container, command) = if args.latest {
        let latest = state
            .list_containers(true)?
            .into_iter()
            .max_by_key(|c| c.created)
            .context("no containers to exec in")?;
        (latest, args.args.clone())
    } else {
        let Some((name, command)) = args.args.split_first() else {
            bail!("exec requires the name or ID of a container or the --latest flag");
        };
        (state.container(name)?, command.to_vec())
    };
    if command.is_empty() {
        bail!("must provide a non-empty command to start an exec session");
    }
    let mut env = Vec::new();
    for file in &args.env_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading env file {}", file.display()))?;
        env.extend(text.lines().filter_map(env_entry));
    }
    env.extend(args.env.iter().filter_map(|e| env_entry(e)));
    let req = exec::ExecRequest {
        command,
        env,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        tty: args.tty,
        interactive: args.interactive,
        detach: args.detach,
        privileged: args.privileged,
    };
    let size = args
        .tty
        .then(|| {
            terminal::window_size(std::io::stdin().as_fd())
                .or_else(|| terminal::window_size(std::io::stdout().as_fd()))
        })
        .flatten();
    let running = match exec::start(ctx, store.root(), &state, &container, &req, size)? {
        exec::Started::Failed { code, message } => {
            eprintln!("Error: {message}");
            return Ok(ExitCode::from(code));
        }
        exec::Started::Running(r) => r,
    };
    if args.detach {
        println!("{}", running.session);
        return Ok(ExitCode::SUCCESS);
    }
    let detached = match (&running.master, &running.stderr) {
        (Some(master), _) => relay_terminal(master, args.interactive, detach_keys)?,
        (None, Some(stderr)) => {
            relay_stderr(stderr, running.pid);
            false
        }
        (None, None) => false,
    };
    if detached {
        return Ok(ExitCode::SUCCESS);
    }
    let code = exec::wait(&state, &running);
    Ok(exit_status(code))
}

/// An `-e`/`--env-file` entry: KEY=VALUE as given, a bare KEY takes the
/// value from hutch's environment (skipped when unset), as Podman does.
fn env_entry(line: &str) -> Option<String> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    if line.contains('=') {
        return Some(line.to_owned());
    }
    std::env::var(line).ok().map(|v| format!("{line}={v}"))
}

/// Copies the process's stderr pipe to ours until it closes, or shortly
/// after the process is gone (something it started may hold the pipe).
fn relay_stderr(pipe: &OwnedFd, pid: i32) {
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
fn relay_terminal(master: &OwnedFd, interactive: bool, keys: Vec<u8>) -> anyhow::Result<bool> {
    let stdin = std::io::stdin().as_fd().try_clone_to_owned()?;
    let _raw = if interactive {
        RawMode::enable(stdin.as_fd()).context("setting the terminal to raw mode")?
    } else {
        None
    };
    let winch = SignalFd::new(&[libc::SIGWINCH]).context("watching window size changes")?;
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
            return Err(std::io::Error::last_os_error()).context("relaying the terminal");
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
