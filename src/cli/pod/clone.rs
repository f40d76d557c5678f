//! `pod clone POD [NAME]`: Podman's flags that change the copy, turned
//! into the engine's clone request.

use std::process::ExitCode;

use super::flags::PodFlags;
use crate::cli::container::resource_flags::{cpus, memory};
use crate::config::Context;
use crate::engine::container as containers;
use crate::engine::image;
use crate::engine::pod::clone::{PodChanges, PodCloneOptions, clone};
use crate::spec::{ResourceRequest, parse};

#[derive(Debug, clap::Args)]
// `-h` is --hostname, as Podman's (cobra keeps --help).
#[command(disable_help_flag = true)]
pub struct CloneArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// name the new pod
    #[arg(short, long)]
    name: Option<String>,
    /// destroy the original pod
    #[arg(long)]
    destroy: bool,
    /// start the new pod
    #[arg(long)]
    start: bool,
    /// Set the pod's hostname
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Set metadata on the pod (key=value)
    #[arg(short, long)]
    label: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the infra image
    #[arg(long, value_name = "COMMAND")]
    infra_command: Option<String>,
    /// Assign a name to the infra container
    #[arg(long, value_name = "NAME")]
    infra_name: Option<String>,
    /// Path to the file that will receive the PID of the infra container's monitor
    #[arg(long, value_name = "FILE")]
    infra_conmon_pidfile: Option<std::path::PathBuf>,
    /// User namespace to use
    #[arg(long)]
    userns: Option<String>,
    /// Number of CPUs. The default is 0.000 which means no limit
    #[arg(long, value_parser = cpus, value_name = "CPUS")]
    cpus: Option<u64>,
    /// Memory limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(short, long, value_parser = memory, value_name = "MEMORY")]
    memory: Option<i64>,
    /// Optional parent cgroup for the pod
    #[arg(long)]
    cgroup_parent: Option<String>,
    /// `pod create`'s settings, read as it reads them.
    #[command(flatten)]
    pod_flags: PodFlags,
    /// The pod to clone
    pod: String,
    /// The new pod's name (as --name)
    new_name: Option<String>,
}

pub fn run(ctx: &Context, a: &CloneArgs) -> anyhow::Result<ExitCode> {
    let f = &a.pod_flags;
    // `--userns` and the maps together, as `pod create` reads them; the
    // original's user namespace stays when neither is given.
    let userns = if a.userns.is_some() || f.maps_given() {
        let (uidmap, gidmap) = f.id_maps()?;
        Some(parse::userns::userns(
            a.userns.as_deref(),
            &uidmap,
            &gidmap,
        )?)
    } else {
        None
    };
    let changes = PodChanges {
        hostname: a.hostname.clone(),
        labels: f.labels(&a.label)?,
        infra_command: a
            .infra_command
            .as_deref()
            .map(super::create::infra_command)
            .transpose()?,
        infra_name: a.infra_name.clone(),
        infra_monitor_pidfile: a
            .infra_conmon_pidfile
            .as_ref()
            .map(|p| std::env::current_dir().unwrap_or_default().join(p)),
        userns,
        resources: ResourceRequest {
            memory: a.memory,
            nano_cpus: a.cpus,
            cgroup_parent: a.cgroup_parent.clone(),
            ..f.resources()?
        },
        devices: f.devices()?,
        security: (!f.security_opt.is_empty())
            .then(|| f.security("pod clone"))
            .transpose()?,
        pid: f.pid.is_some().then(|| f.pid()).transpose()?,
        uts: f.uts.is_some().then(|| f.uts()).transpose()?,
        mounts: f.mounts()?,
        shm_size: f.shm_size()?,
        sysctls: f.sysctls()?,
        volumes_from: f.volumes_from.clone(),
    };
    let opts = PodCloneOptions {
        pod: a.pod.clone(),
        // The positional name wins, as in Podman (it is read after --name).
        name: a.new_name.clone().or_else(|| a.name.clone()),
        changes,
        destroy: a.destroy,
        start: a.start,
    };
    let store = image::open_store(ctx)?;
    let state = containers::open_state(ctx)?;
    let report = clone(ctx, &store, &state, &opts)?;
    for w in &report.warnings {
        eprintln!("Warning: {w}");
    }
    println!("{}", report.id);
    Ok(ExitCode::SUCCESS)
}
