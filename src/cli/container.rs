//! Container commands implemented so far: `run`, `ps`, `logs`, `rm`, and the
//! hidden `__monitor` the runtime side re-executes.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::Context;
use crate::engine::container::{self as engine, Paths, create, monitor};
use crate::engine::image;
use crate::engine::state::ContainerState;
use crate::engine::time;
use crate::format::{OutputFormat, Template};
use crate::runtime::logfile::{self, LogFilter, Stream};
use crate::runtime::monitor as relay;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Run the container in the background and print its ID
    #[arg(short, long)]
    detach: bool,
    /// Remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables in the container
    #[arg(short, long)]
    env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Make the container's root filesystem read-only
    #[arg(long)]
    read_only: bool,
    /// Path or name of the OCI runtime (crun, runc)
    #[arg(long)]
    runtime: Option<String>,
    image: String,
    #[arg(allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all the containers, default is only running containers
    #[arg(short, long)]
    all: bool,
    /// Print the numeric IDs of the containers only
    #[arg(short, long)]
    quiet: bool,
    /// Display extended information
    #[arg(long)]
    no_trunc: bool,
    /// Pretty-print containers to JSON or using a Go template
    #[arg(long)]
    format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Output the specified number of LINES at the end of the logs
    #[arg(short = 'n', long)]
    tail: Option<usize>,
    /// Output the timestamps in the log
    #[arg(short, long)]
    timestamps: bool,
    container: String,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    all: bool,
    /// Force removal of a running container (it is killed)
    #[arg(short, long)]
    force: bool,
    containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    id: String,
    #[arg(long)]
    wait_attach: bool,
    #[arg(long)]
    rm: bool,
}

pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let req = create::CreateRequest {
        image: args.image.clone(),
        command: args.command.clone(),
        name: args.name.clone(),
        entrypoint: args.entrypoint.clone(),
        env: args.env.clone(),
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        read_only: args.read_only,
        remove: args.rm,
        runtime: args.runtime.clone(),
    };
    let created = create::create(ctx, &store, &state, &req)?;
    let attach = !args.detach;
    match monitor::spawn(ctx, &created.id, attach, args.rm)? {
        monitor::Spawned::Failed { code, message } => {
            eprintln!("Error: {message}");
            return Ok(ExitCode::from(code));
        }
        monitor::Spawned::Created { .. } => {}
    }
    if args.detach {
        println!("{}", created.id);
        return Ok(ExitCode::SUCCESS);
    }
    let paths = Paths::new(ctx, store.root(), &created.id);
    let mut sock = UnixStream::connect(&paths.attach)
        .with_context(|| format!("attaching to container {}", &created.id[..12]))?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    while let Some((kind, data)) =
        relay::read_frame(&mut sock).context("reading the container's output")?
    {
        match kind {
            relay::FRAME_STDOUT => {
                out.write_all(&data)?;
                out.flush()?;
            }
            relay::FRAME_STDERR => {
                err.write_all(&data)?;
                err.flush()?;
            }
            relay::FRAME_EXIT => {
                let code = data
                    .get(..4)
                    .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(125);
                return Ok(exit_status(code));
            }
            _ => {}
        }
    }
    anyhow::bail!(
        "the monitor of container {} went away before the container exited",
        &created.id[..12]
    )
}

pub fn ps(ctx: &Context, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let state = engine::open_state(ctx)?;
    // A container whose monitor was killed shows as exited, not running.
    state.recover()?;
    let now = time::now_ns();
    let rows: Vec<serde_json::Value> = state
        .list_containers(args.all)?
        .into_iter()
        .map(|c| {
            let req: create::CreateRequest = serde_json::from_str(&c.config).unwrap_or_default();
            let status = match c.state {
                ContainerState::Running => format!(
                    "Up {}",
                    time::ago(
                        c.started_at.unwrap_or(c.created) / 1_000_000_000,
                        now / 1_000_000_000
                    )
                    .trim_end_matches(" ago")
                ),
                ContainerState::Exited | ContainerState::Stopped => format!(
                    "Exited ({}) {}",
                    c.exit_code.unwrap_or(-1),
                    time::ago(
                        c.exited_at.unwrap_or(c.created) / 1_000_000_000,
                        now / 1_000_000_000
                    )
                ),
                other => capitalize(other.as_str()),
            };
            serde_json::json!({
                "ID": if args.no_trunc { c.id.clone() } else { c.id[..12].to_owned() },
                "Image": c.image_name,
                "Command": req.command.join(" "),
                "CreatedAt": time::rfc3339(c.created / 1_000_000_000),
                "Created": time::ago(c.created / 1_000_000_000, now / 1_000_000_000),
                "Status": status,
                "State": c.state.as_str(),
                "Ports": "",
                "Names": c.name,
                "ExitCode": c.exit_code.unwrap_or(0),
                "Pid": c.pid.unwrap_or(0),
            })
        })
        .collect();
    if args.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let template = match format {
        OutputFormat::Json => {
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(rows))
            );
            return Ok(ExitCode::SUCCESS);
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => Template::parse(
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
        )?,
    };
    let headers = [("ID", "CONTAINER ID")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(ExitCode::SUCCESS)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub fn logs(ctx: &Context, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let c = state.container(&args.container)?;
    let paths = Paths::new(ctx, store.root(), &c.id);
    let lines = logfile::read(
        &paths.log(),
        &LogFilter {
            tail: args.tail,
            ..LogFilter::default()
        },
    )
    .with_context(|| format!("reading the log of {}", c.name))?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for l in lines {
        let text = if args.timestamps {
            format!("{} {}", logfile::timestamp(l.time_ns), l.text)
        } else {
            l.text
        };
        match l.stream {
            Stream::Stdout => writeln!(out, "{text}")?,
            Stream::Stderr => writeln!(err, "{text}")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rm(ctx: &Context, args: &RmArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    // Only a container whose monitor still lives has a pid worth signalling:
    // after a killed monitor the recorded pid may belong to anyone by now.
    state.recover()?;
    let targets: Vec<String> = if args.all {
        state
            .list_containers(true)?
            .into_iter()
            .map(|c| c.id)
            .collect()
    } else {
        if args.containers.is_empty() {
            anyhow::bail!("must specify at least one container to remove");
        }
        args.containers.clone()
    };
    let mut code = 0u8;
    for t in &targets {
        let c = match state.container(t) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("Error: {e}");
                code = code.max(1);
                continue;
            }
        };
        if matches!(c.state, ContainerState::Running | ContainerState::Paused) {
            if !args.force {
                eprintln!(
                    "Error: cannot remove container {} as it is running - running or paused containers cannot be removed without force: container state improper",
                    c.id
                );
                code = 2;
                continue;
            }
            if let Some(pid) = c.pid {
                // SAFETY: signalling the container's init, recorded by its monitor.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            wait_not_running(&state, &c.id);
        }
        let paths = Paths::new(ctx, store.root(), &c.id);
        engine::remove::remove_stopped(&store, &state, &paths, &c.id)
            .with_context(|| format!("removing container {}", c.name))?;
        println!("{}", c.id);
    }
    Ok(ExitCode::from(code))
}

/// Waits until the monitor has recorded the container's end.
fn wait_not_running(state: &crate::engine::state::State, id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        match state.container(id) {
            Ok(c)
                if matches!(
                    c.state,
                    ContainerState::Running | ContainerState::Paused | ContainerState::Stopped
                ) => {}
            _ => return,
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn monitor_main(ctx: &Context, args: &MonitorArgs) -> anyhow::Result<ExitCode> {
    let code = monitor::run(ctx, &args.id, args.wait_attach, args.rm)?;
    Ok(exit_status(code))
}

/// A container's exit code as the process's own; an unknown exit (-1) is
/// hutch's error, never success.
fn exit_status(code: i32) -> ExitCode {
    match u8::try_from(code) {
        Ok(c) => ExitCode::from(c),
        Err(_) => ExitCode::from(crate::cli::EXIT_HUTCH_ERROR),
    }
}
