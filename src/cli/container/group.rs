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
    // The rest are Podman's `container` names of top-level commands:
    // `Command::from_container` turns each into that command right after
    // parsing, so every path (the remote client, the descriptors `exec`
    // takes over) sees one command, not two.
    /// Attach to a running container
    Attach(super::AttachArgs),
    /// Clean up the network and mountpoints of one or more containers
    Cleanup(super::cleanup::CleanupArgs),
    /// Create a copy of an existing container
    Clone(super::clone::CloneArgs),
    /// Create new image based on the changed container
    Commit(super::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(super::CpArgs),
    /// Inspect changes to the container's file systems
    Diff(super::DiffArgs),
    /// Run a process in a running container
    Exec(super::ExecArgs),
    /// Export a container's filesystem contents as a tar archive
    Export(super::ExportArgs),
    /// Mount a working container's root filesystem
    Mount(super::MountArgs),
    /// Pause all the processes in one or more containers
    Pause(super::PauseArgs),
    /// List port mappings or a specific mapping for the container
    Port(super::PortArgs),
    /// Execute the command described by an image label
    Runlabel(super::runlabel::RunlabelArgs),
    /// Display a live stream of container resource usage statistics
    Stats(super::StatsArgs),
    /// Display the running processes of a container
    Top(super::TopArgs),
    /// Unmount working container's root filesystem
    #[command(visible_alias = "umount")]
    Unmount(super::UnmountArgs),
    /// Unpause the processes in one or more containers
    Unpause(super::PauseArgs),
    /// Update an existing container
    Update(super::UpdateArgs),
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
        ContainerCommand::Cleanup(a) => super::cleanup::cleanup(ctx, &a),
        ContainerCommand::Clone(a) => super::clone::clone(ctx, &a),
        ContainerCommand::Runlabel(a) => super::runlabel::runlabel(ctx, &a),
        // Containers only, where the top-level `diff` also takes images.
        ContainerCommand::Diff(a) => super::diff_of(ctx, &a, super::DiffObject::Container),
        // `Command::unnested` makes the rest top-level commands before
        // they get here; kept for completeness of the match.
        ContainerCommand::Attach(a) => super::attach(ctx, &a),
        ContainerCommand::Commit(a) => super::commit(ctx, &a),
        ContainerCommand::Cp(a) => super::cp(ctx, &a),
        ContainerCommand::Exec(a) => super::exec(ctx, &a),
        ContainerCommand::Export(a) => super::export(ctx, &a),
        ContainerCommand::Mount(a) => super::mount(ctx, &a),
        ContainerCommand::Pause(a) => super::pause(ctx, &a),
        ContainerCommand::Port(a) => super::port(ctx, &a),
        ContainerCommand::Stats(a) => super::stats(ctx, &a),
        ContainerCommand::Top(a) => super::top(ctx, &a),
        ContainerCommand::Unmount(a) => super::unmount(ctx, &a),
        ContainerCommand::Unpause(a) => super::unpause(ctx, &a),
        ContainerCommand::Update(a) => super::update(ctx, &a),
    }
}
