//! `container checkpoint` and `container restore`: flags into the
//! engine's options, reports (or `--print-stats` JSON) out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::cli::EXIT_HUTCH_ERROR;
use crate::config::Context;
use crate::engine::container::checkpoint::{self, CheckpointOptions, CheckpointReport};
use crate::engine::container::checkpoint_archive::Compression;
use crate::engine::container::restore::{self, RestoreOptions};
use crate::engine::container::select::Selection;
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// Checkpoint all running containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Keep all temporary checkpoint files
    #[arg(short, long)]
    pub(crate) keep: bool,
    /// Leave the container running after writing checkpoint to disk
    #[arg(short = 'R', long)]
    pub(crate) leave_running: bool,
    /// Checkpoint a container with established TCP connections
    #[arg(long)]
    pub(crate) tcp_established: bool,
    /// Checkpoint a container with file locks
    #[arg(long)]
    pub(crate) file_locks: bool,
    /// Export the checkpoint image to a tar.gz
    #[arg(short, long, value_name = "FILE")]
    pub(crate) export: Option<PathBuf>,
    /// Do not include root file-system changes when exporting
    #[arg(long)]
    pub(crate) ignore_rootfs: bool,
    /// Do not export volumes associated with container
    #[arg(long)]
    pub(crate) ignore_volumes: bool,
    /// Dump container's memory information only, leave the container running
    #[arg(short = 'P', long)]
    pub(crate) pre_checkpoint: bool,
    /// Checkpoint container with pre-checkpoint images
    #[arg(long)]
    pub(crate) with_previous: bool,
    /// Create checkpoint image with specified name
    #[arg(long, value_name = "IMAGE")]
    pub(crate) create_image: Option<String>,
    /// Select compression algorithm (gzip, none, zstd) for checkpoint archive. (default "zstd")
    #[arg(short, long)]
    pub(crate) compress: Option<String>,
    /// Display checkpoint statistics
    #[arg(long)]
    pub(crate) print_stats: bool,
    pub(crate) containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// Restore all checkpointed containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Keep all temporary checkpoint files
    #[arg(short, long)]
    pub(crate) keep: bool,
    /// Restore a container with established TCP connections
    #[arg(long)]
    pub(crate) tcp_established: bool,
    /// Restore a container with file locks
    #[arg(long)]
    pub(crate) file_locks: bool,
    /// Restore from exported checkpoint archive (tar.gz)
    #[arg(short, long, value_name = "FILE")]
    pub(crate) import: Option<PathBuf>,
    /// Restore from exported pre-checkpoint archive (tar.gz)
    #[arg(long, value_name = "FILE")]
    pub(crate) import_previous: Option<PathBuf>,
    /// Do not apply root file-system changes when importing from exported checkpoint
    #[arg(long)]
    pub(crate) ignore_rootfs: bool,
    /// Do not export volumes associated with container
    #[arg(long)]
    pub(crate) ignore_volumes: bool,
    /// Restore container into existing Pod (only works with image or --import)
    #[arg(long)]
    pub(crate) pod: Option<String>,
    /// Specify new name for container restored from exported checkpoint (only works with image or --import)
    #[arg(short, long)]
    pub(crate) name: Option<String>,
    /// Publish a container's port, or a range of ports, to the host (default [])
    #[arg(short, long)]
    pub(crate) publish: Vec<String>,
    /// Ignore IP address set via --static-ip
    #[arg(long)]
    pub(crate) ignore_static_ip: bool,
    /// Ignore MAC address set via --mac-address
    #[arg(long)]
    pub(crate) ignore_static_mac: bool,
    /// Display restore statistics
    #[arg(long)]
    pub(crate) print_stats: bool,
    pub(crate) containers: Vec<String>,
}

/// A path on the command line made absolute here: the engine never reads
/// the caller's directory.
fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(p)?)
}

pub fn checkpoint(ctx: &Context, args: &CheckpointArgs) -> anyhow::Result<ExitCode> {
    let began = Instant::now();
    // Podman's first check, before anything else is looked at.
    if args.compress.is_some() && args.export.is_none() {
        anyhow::bail!("--compress can only be used with --export");
    }
    let opts = CheckpointOptions {
        select: Selection {
            names: args.containers.clone(),
            all: args.all,
            latest: args.latest,
        },
        keep: args.keep,
        leave_running: args.leave_running,
        tcp_established: args.tcp_established,
        file_locks: args.file_locks,
        pre_checkpoint: args.pre_checkpoint,
        with_previous: args.with_previous,
        export: args.export.as_deref().map(absolute).transpose()?,
        compress: Compression::parse(args.compress.as_deref().unwrap_or("zstd"))?,
        ignore_rootfs: args.ignore_rootfs,
        ignore_volumes: args.ignore_volumes,
        create_image: args.create_image.clone(),
    };
    opts.validate()?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let reports = checkpoint::checkpoint(ctx, &store, &state, &opts)?;
    Ok(print(
        &reports,
        args.print_stats,
        "podman_checkpoint_duration",
        began,
        false,
    ))
}

pub fn restore(ctx: &Context, args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let began = Instant::now();
    let publish = args
        .publish
        .iter()
        .map(|p| hutch_rootless_net::PortMapping::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = RestoreOptions {
        select: Selection {
            names: args.containers.clone(),
            all: args.all,
            latest: args.latest,
        },
        keep: args.keep,
        tcp_established: args.tcp_established,
        file_locks: args.file_locks,
        import: args.import.as_deref().map(absolute).transpose()?,
        import_previous: args.import_previous.as_deref().map(absolute).transpose()?,
        name: args.name.clone(),
        publish,
        pod: args.pod.clone(),
        ignore_rootfs: args.ignore_rootfs,
        ignore_volumes: args.ignore_volumes,
        ignore_static_ip: args.ignore_static_ip,
        ignore_static_mac: args.ignore_static_mac,
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let reports = restore::restore(ctx, &store, &state, &opts)?;
    Ok(print(
        &reports,
        args.print_stats,
        "podman_restore_duration",
        began,
        opts.import.is_some(),
    ))
}

/// The names as given (an import's new id), or Podman's statistics JSON;
/// errors on stderr, 125 if any.
fn print(
    reports: &[CheckpointReport],
    stats: bool,
    total_key: &str,
    began: Instant,
    imported: bool,
) -> ExitCode {
    let mut code = 0;
    for r in reports {
        if let Some(e) = &r.error {
            eprintln!("Error: {}", e.text());
            code = EXIT_HUTCH_ERROR;
        }
    }
    if stats {
        let containers: Vec<_> = reports.iter().filter_map(|r| r.stats.clone()).collect();
        let json = serde_json::json!({
            total_key: began.elapsed().as_micros() as u64,
            "container_statistics": containers,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        for r in reports.iter().filter(|r| r.error.is_none()) {
            println!("{}", if imported { &r.id } else { &r.input });
        }
    }
    ExitCode::from(code)
}
