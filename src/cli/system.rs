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
}

impl SystemCommand {
    pub fn needs_namespace(&self) -> bool {
        match self {
            SystemCommand::Info(_) => false,
            // It ends the namespace; joining it first would be pointless.
            SystemCommand::Migrate(_) => false,
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

pub fn run(ctx: &Context, cmd: SystemCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SystemCommand::Info(args) => info(ctx, &args),
        SystemCommand::Migrate(_) => migrate(ctx),
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
