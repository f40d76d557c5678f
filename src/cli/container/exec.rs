//! `exec`: run a process in a running container, in the foreground (its
//! exit code is ours) or detached (`-d` prints the session id).

use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::exit_status;
use crate::config::Context;
use crate::engine::container::{self as engine, exec, select};
use crate::engine::image;
use crate::runtime::console;
use crate::runtime::terminal;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Run the exec session in detached mode (backgrounded)
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// Select the key sequence for detaching a container ("" disables)
    #[arg(long, value_name = "KEYS", default_value = terminal::DEFAULT_DETACH_KEYS)]
    pub(crate) detach_keys: String,
    /// Set environment variables
    #[arg(short, long)]
    pub(crate) env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub(crate) env_file: Vec<std::path::PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Pass down to the process N additional file descriptors (in addition to 0, 1, 2)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) preserve_fds: u32,
    /// Give extended privileges to the process
    #[arg(long)]
    pub(crate) privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub(crate) tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub(crate) user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub(crate) workdir: Option<String>,
    /// CONTAINER COMMAND [ARG...] (COMMAND [ARG...] with --latest)
    #[arg(required = true, allow_hyphen_values = true)]
    pub(crate) args: Vec<String>,
}

pub fn exec(ctx: &Context, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let detach_keys = terminal::parse_detach_keys(&args.detach_keys).map_err(anyhow::Error::msg)?;
    let (name, command) = if args.latest {
        (None, args.args.clone())
    } else {
        let Some((name, command)) = args.args.split_first() else {
            bail!("exec requires the name or ID of a container or the --latest flag");
        };
        (Some(name), command.to_vec())
    };
    // `-e KEY` and `--env-file` are resolved here, from our environment
    // and files: the engine never reads the caller's.
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
    req.validate()?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    state.recover()?;
    let container = match name {
        Some(name) => state.container(name)?,
        None => select::latest(&state)?,
    };
    let size = args.tty.then(console::own_window_size).flatten();
    // Taken over in `main` before hutch opened anything (passed.rs).
    let passed = super::passed::take()?.map(|p| p.fds).unwrap_or_default();
    let running = match exec::start(ctx, store.root(), &state, &container, &req, size, &passed)? {
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
    Ok(
        match running.run_console(&state, args.interactive, detach_keys)? {
            Some(code) => exit_status(code),
            None => ExitCode::SUCCESS,
        },
    )
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
