//! `hutch system ...` and `hutch info`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Context;
use crate::engine::info;
use crate::format::OutputFormat;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Display hutch related system information
    Info(InfoArgs),
    /// Migrate to the current subuid/subgid ranges: end the pause process so the next command re-creates the user namespace
    Migrate(MigrateArgs),
    /// Run an API service
    Service(ServiceArgs),
}

impl SystemCommand {
    pub fn needs_namespace(&self) -> bool {
        match self {
            SystemCommand::Info(_) => false,
            // It ends the namespace; joining it first would be pointless.
            SystemCommand::Migrate(_) => false,
            // Its handlers run containers; its threads must start inside.
            SystemCommand::Service(_) => true,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short, long)]
    format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {}

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// Time until the service session expires in seconds. Use 0 to disable the timeout
    #[arg(short, long, default_value_t = 5, value_name = "SECONDS")]
    time: u64,
    /// Where to listen: unix:///path or tcp://ADDRESS:PORT (default: unix://$XDG_RUNTIME_DIR/hutch/hutch.sock)
    uri: Option<String>,
}

pub fn run(ctx: &Context, cmd: SystemCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SystemCommand::Info(args) => info(ctx, &args),
        SystemCommand::Migrate(_) => migrate(ctx),
        SystemCommand::Service(args) => service(ctx, &args),
    }
}

pub fn info(ctx: &Context, args: &InfoArgs) -> anyhow::Result<ExitCode> {
    // Parse the template before gathering, so a typo fails fast.
    let format = OutputFormat::parse(args.format.as_deref())?;
    let data = info::gather(ctx);
    match format {
        OutputFormat::Json => println!("{}", crate::format::to_json_pretty(&data)),
        OutputFormat::Template(t) => print!("{}", t.render_one(&data)?),
        OutputFormat::Default => print!("{}", super::yaml::to_yaml(&data)),
    }
    Ok(ExitCode::SUCCESS)
}

fn migrate(ctx: &Context) -> anyhow::Result<ExitCode> {
    if ctx.rootful {
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.inside_namespace {
        anyhow::bail!(
            "system migrate cannot run inside the user namespace it would end; run it from a normal shell"
        );
    }
    if let Some(pid) = hutch_userns::migrate(&ctx.identity, &ctx.run_dir)? {
        tracing::info!(pid, "ended the pause process");
    }
    Ok(ExitCode::SUCCESS)
}

fn service(ctx: &Context, args: &ServiceArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args
        .uri
        .as_deref()
        .map(crate::api::Endpoint::parse)
        .transpose()?;
    let opts = crate::api::ServiceOptions {
        endpoint,
        idle: (args.time > 0).then(|| std::time::Duration::from_secs(args.time)),
        listen_pid: std::env::var("LISTEN_PID").ok(),
        listen_fds: std::env::var("LISTEN_FDS").ok(),
    };
    // What systemd passed is for this process, not for the monitors and
    // cleanup commands it starts (sd_listen_fds' unset_environment).
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: single-threaded still: the service builds its threads
        // after this.
        unsafe { std::env::remove_var(k) };
    }
    crate::api::serve(ctx, opts)?;
    Ok(ExitCode::SUCCESS)
}
