//! `hutch container ...`: the container commands under one name, as in
//! Podman (`container exists` and `container prune` live only here).

use std::process::ExitCode;

use super::{checkpoint, inspect, lifecycle, logs, ps, rm, run};
use crate::config::Context;

#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommand {
    /// Create but do not start a container
    Create(lifecycle::CreateArgs),
    /// Check if a container exists in local storage
    Exists(lifecycle::ExistsArgs),
    /// Display the configuration of a container
    Inspect(inspect::InspectArgs),
    /// Kill one or more running containers with a specific signal
    Kill(lifecycle::KillArgs),
    /// List containers
    #[command(alias = "list", alias = "ls")]
    Ps(ps::PsArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Remove all non running containers
    Prune(lifecycle::PruneArgs),
    /// Rename an existing container
    Rename(lifecycle::RenameArgs),
    /// Restart one or more containers
    Restart(lifecycle::RestartArgs),
    /// Remove one or more containers
    Rm(rm::RmArgs),
    /// Run a command in a new container
    Run(run::RunArgs),
    /// Start one or more containers
    Start(lifecycle::StartArgs),
    /// Stop one or more containers
    Stop(lifecycle::StopArgs),
    /// Block on one or more containers
    Wait(lifecycle::WaitArgs),
    /// Checkpoint one or more containers
    Checkpoint(checkpoint::CheckpointArgs),
    /// Restore one or more containers from a checkpoint
    Restore(checkpoint::RestoreArgs),
    /// Initialize one or more containers
    Init(crate::cli::init::InitArgs),
}

pub fn container(ctx: &Context, cmd: ContainerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ContainerCommand::Create(a) => lifecycle::create(ctx, &a),
        ContainerCommand::Exists(a) => lifecycle::exists(ctx, &a),
        ContainerCommand::Inspect(a) => inspect::container_inspect(ctx, &a),
        ContainerCommand::Kill(a) => lifecycle::kill(ctx, &a),
        ContainerCommand::Ps(a) => ps::ps(ctx, &a),
        ContainerCommand::Logs(a) => logs::logs(ctx, &a),
        ContainerCommand::Prune(a) => lifecycle::prune(ctx, &a),
        ContainerCommand::Rename(a) => lifecycle::rename(ctx, &a),
        ContainerCommand::Restart(a) => lifecycle::restart(ctx, &a),
        ContainerCommand::Rm(a) => rm::rm(ctx, &a),
        ContainerCommand::Run(a) => run::run(ctx, &a),
        ContainerCommand::Start(a) => lifecycle::start(ctx, &a),
        ContainerCommand::Stop(a) => lifecycle::stop(ctx, &a),
        ContainerCommand::Wait(a) => lifecycle::wait(ctx, &a),
        ContainerCommand::Checkpoint(a) => checkpoint::checkpoint(ctx, &a),
        ContainerCommand::Restore(a) => checkpoint::restore(ctx, &a),
        ContainerCommand::Init(a) => crate::cli::init::run(ctx, &a),
    }
}
