//! `container clone CTR [NAME [IMAGE]]`: Podman's flags turned into the
//! engine's clone request. The limit flags are `create`'s (same parsers),
//! only those Podman's clone takes.

use std::process::ExitCode;

use super::resource_flags::{LimitFlags, cpus, memory, swap};
use crate::config::Context;
use crate::engine::container::clone::{self, CloneOptions};
use crate::engine::container::create::{CreateOptions, PullProgress};
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct CloneArgs {
    /// Name of the new container (the second argument wins)
    #[arg(long)]
    name: Option<String>,
    /// destroy the original container
    #[arg(long)]
    destroy: bool,
    /// force the existing container to be destroyed
    #[arg(short, long)]
    force: bool,
    /// run the new container
    #[arg(long)]
    run: bool,
    /// Run container in an existing pod
    #[arg(long)]
    pod: Option<String>,
    #[command(flatten)]
    limits: CloneLimits,
    /// CONTAINER [NAME [IMAGE]]
    #[arg(required = true, num_args = 1..=3, value_name = "CONTAINER [NAME [IMAGE]]")]
    args: Vec<String>,
}

/// The limits Podman's clone changes: `create`'s flags of those names.
#[derive(Debug, clap::Args)]
struct CloneLimits {
    /// Block IO weight (relative weight) accepts a weight value between 10 and 1000
    #[arg(long)]
    blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight, format: DEVICE_NAME:WEIGHT)
    #[arg(long, value_name = "DEVICE_NAME:WEIGHT")]
    blkio_weight_device: Vec<String>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    cpu_period: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_negative_numbers = true)]
    cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long, value_name = "MICROSECONDS")]
    cpu_rt_period: Option<u64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long, value_name = "MICROSECONDS", allow_negative_numbers = true)]
    cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// Number of CPUs. The default is 0.000 which means no limit
    #[arg(long, value_parser = cpus, value_name = "CPUS")]
    cpus: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// Limit read rate (bytes per second) from a device (e.g. --device-read-bps=/dev/sda:1mb)
    #[arg(long, value_name = "PATH:RATE")]
    device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device (e.g. --device-write-bps=/dev/sda:1mb)
    #[arg(long, value_name = "PATH:RATE")]
    device_write_bps: Vec<String>,
    /// Memory limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(short, long, value_parser = memory, value_name = "MEMORY")]
    memory: Option<i64>,
    /// Memory soft limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(long, value_parser = memory, value_name = "MEMORY")]
    memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_parser = swap, value_name = "MEMORY", allow_negative_numbers = true)]
    memory_swap: Option<i64>,
    /// Tune container memory swappiness (0 to 100, or -1 for system default)
    #[arg(long, value_name = "SWAPPINESS", allow_negative_numbers = true)]
    memory_swappiness: Option<i64>,
}

impl CloneLimits {
    /// As `create`'s limit flags: the same checks and messages.
    fn limits(&self) -> LimitFlags {
        LimitFlags {
            blkio_weight: self.blkio_weight,
            blkio_weight_device: self.blkio_weight_device.clone(),
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_rt_period: self.cpu_rt_period,
            cpu_rt_runtime: self.cpu_rt_runtime,
            cpu_shares: self.cpu_shares,
            cpus: self.cpus,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            device_read_bps: self.device_read_bps.clone(),
            device_write_bps: self.device_write_bps.clone(),
            memory: self.memory,
            memory_reservation: self.memory_reservation,
            memory_swap: self.memory_swap,
            memory_swappiness: self.memory_swappiness,
            ..LimitFlags::default()
        }
    }
}

pub fn clone(ctx: &Context, args: &CloneArgs) -> anyhow::Result<ExitCode> {
    let container = args
        .args
        .first()
        .ok_or_else(|| anyhow::anyhow!("must specify a container to clone"))?;
    let opts = CloneOptions {
        container: container.clone(),
        // The positional name wins, as in Podman (it is read after --name).
        name: args.args.get(1).or(args.name.as_ref()).cloned(),
        image: args.args.get(2).cloned(),
        resources: args.limits.limits().request()?,
        pod: args.pod.clone(),
        destroy: args.destroy,
        force: args.force,
        run: args.run,
        // An IMAGE not here is pulled, with Podman's lines on stderr.
        create: CreateOptions {
            progress: Some(PullProgress(std::sync::Arc::new(std::sync::Mutex::new({
                let mut p = crate::cli::progress::Progress::new(false, "Trying to pull");
                move |r: &str, e| p.event(r, e)
            })))),
            ..CreateOptions::default()
        },
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let report = clone::clone(ctx, &store, &state, &opts)?;
    for w in &report.warnings {
        // Podman's clone completes the spec itself and says so on stdout
        // before each of that step's warnings (the ignored limits).
        if w.starts_with("Resource limits are not supported") {
            println!("Could not properly complete the spec as expected:");
            eprintln!("{w}");
        } else {
            super::lifecycle::print_create_warning(w);
        }
    }
    println!("{}", report.id);
    Ok(ExitCode::SUCCESS)
}
