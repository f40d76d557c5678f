//! `pod create`, and `run`/`create --pod new:NAME`, which makes the pod
//! first with the container's network settings.

use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::container as containers;
use crate::engine::image;
use crate::engine::pod::create::{PodCreateOptions, create as create_pod};
use crate::engine::state::State;
use crate::spec::pod::{DEFAULT_SHARE, ExitPolicy, PodConfig, parse_share};
use crate::spec::{ContainerSpec, NetworkSpec, ResourceRequest, parse};

#[derive(Debug, clap::Args)]
// `-h` is --hostname, as Podman's (cobra keeps --help).
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the pod
    #[arg(short, long)]
    pub(crate) name: Option<String>,
    /// Create an infra container associated with the pod to share namespaces with
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) infra: bool,
    /// Create the pod without an infra container (same as --infra=false)
    #[arg(long)]
    pub(crate) no_infra: bool,
    /// Image to use to override the builtin infra container
    #[arg(long, value_name = "IMAGE")]
    pub(crate) infra_image: Option<String>,
    /// Override the command of the infra container (JSON array or a single command)
    #[arg(long, value_name = "COMMAND")]
    pub(crate) infra_command: Option<String>,
    /// Name of the infra container
    #[arg(long, value_name = "NAME")]
    pub(crate) infra_name: Option<String>,
    /// Namespaces to share among the pod's containers (cgroup, ipc, net, pid, uts or none; +NS adds)
    #[arg(long)]
    pub(crate) share: Option<String>,
    #[command(flatten)]
    pub(crate) network: crate::cli::container::NetworkFlags,
    #[command(flatten)]
    pub(crate) pod: super::flags::PodFlags,
    /// Set the pod's hostname
    #[arg(short = 'h', long)]
    pub(crate) hostname: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long, value_name = "HOST:IP")]
    pub(crate) add_host: Vec<String>,
    /// Set metadata on the pod (key=value)
    #[arg(short, long)]
    pub(crate) label: Vec<String>,
    /// Write the pod ID to the file
    #[arg(long, value_name = "FILE")]
    pub(crate) pod_id_file: Option<String>,
    /// Replace an existing pod of the same name
    #[arg(long)]
    pub(crate) replace: bool,
    /// Behaviour when the last container exits (continue, stop)
    #[arg(long, default_value = "continue")]
    pub(crate) exit_policy: String,
    /// User namespace of the pod's infra container (host, keep-id, nomap, auto)
    #[arg(long)]
    pub(crate) userns: Option<String>,
    /// Write the infra container's monitor (conmon) pid to this file at each start
    #[arg(long, value_name = "FILE")]
    pub(crate) infra_conmon_pidfile: Option<std::path::PathBuf>,
    /// Number of CPUs for the pod's cgroup. The default is 0.000 which means no limit
    #[arg(long, value_parser = cpus, value_name = "CPUS")]
    pub(crate) cpus: Option<u64>,
    /// Memory limit of the pod's cgroup (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(short, long, value_parser = memory, value_name = "MEMORY")]
    pub(crate) memory: Option<i64>,
    /// Optional parent cgroup for the pod's cgroup
    #[arg(long)]
    pub(crate) cgroup_parent: Option<String>,
    /// Do not create /etc/hosts within the pod's containers, instead use the version from the image
    #[arg(long)]
    pub(crate) no_hosts: bool,
    /// Set the pod's cgroup as the cgroup parent for all containers joining the pod
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub(crate) share_parent: Option<bool>,
    /// Specify a static IPv4 address for the pod
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) ip: Option<String>,
    /// Specify a static IPv6 address for the pod
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) ip6: Option<String>,
    /// Specify a static MAC address for the pod
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) mac_address: Option<String>,
}

fn memory(s: &str) -> Result<i64, String> {
    ResourceRequest::parse_memory(s).map_err(|e| e.to_string())
}

fn cpus(s: &str) -> Result<u64, String> {
    ResourceRequest::parse_cpus(s).map_err(|e| e.to_string())
}

/// `--infra-command`: a JSON array, else one command word (Podman).
pub(super) fn infra_command(v: &str) -> anyhow::Result<Vec<String>> {
    if v.trim_start().starts_with('[') {
        serde_json::from_str(v)
            .with_context(|| format!("--infra-command {v:?}: not a JSON array of strings"))
    } else {
        Ok(vec![v.to_owned()])
    }
}

fn config(a: &CreateArgs, argv: Vec<String>) -> anyhow::Result<PodConfig> {
    let f = &a.pod;
    let security = f.security("pod create")?;
    let (uidmap, gidmap) = f.id_maps()?;
    let n = &a.network;
    Ok(PodConfig {
        labels: f.labels(&a.label)?,
        devices: f.devices()?,
        security,
        no_hosts: a.no_hosts,
        namespaces: crate::spec::Namespaces {
            pid: f.pid()?,
            uts: f.uts()?,
            ..Default::default()
        },
        volumes_from: f.volumes_from.clone(),
        share_parent: a.share_parent,
        infra: a.infra && !a.no_infra,
        infra_image: a.infra_image.clone(),
        infra_command: a.infra_command.as_deref().map(infra_command).transpose()?,
        infra_name: a.infra_name.clone(),
        share: match &a.share {
            Some(s) => parse_share(s)?,
            None => DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(),
        },
        exit_policy: ExitPolicy::parse(&a.exit_policy)?,
        hostname: a.hostname.clone(),
        // The infra container holds the pod's network namespace, so the
        // static addresses are its own (Podman's InfraContainerSpec).
        network: NetworkSpec {
            ip: crate::cli::container::flags::ip_flag(a.ip.as_deref())?,
            ip6: crate::cli::container::flags::ip_flag(a.ip6.as_deref())?,
            mac_address: a
                .mac_address
                .as_deref()
                .map(crate::cli::container::flags::mac_flag)
                .transpose()?,
            ..n.spec()?
        },
        add_hosts: a
            .add_host
            .iter()
            .map(|h| parse::hosts::add_host(h))
            .collect::<anyhow::Result<_>>()?,
        userns: parse::userns::userns(a.userns.as_deref(), &uidmap, &gidmap)?,
        create_command: argv,
        // Relative to the caller, as conmon's pid file is.
        infra_monitor_pidfile: a
            .infra_conmon_pidfile
            .as_ref()
            .map(|p| std::env::current_dir().unwrap_or_default().join(p)),
        resources: ResourceRequest {
            memory: a.memory,
            nano_cpus: a.cpus.filter(|n| *n > 0),
            cgroup_parent: a.cgroup_parent.clone(),
            ..f.resources()?
        },
        cgroup: None,
        mounts: f.mounts()?,
        shm_size: f.shm_size()?,
        sysctls: f.sysctls()?,
    })
}

pub fn create(ctx: &Context, a: &CreateArgs) -> anyhow::Result<ExitCode> {
    let opts = PodCreateOptions {
        name: a.name.clone(),
        config: config(a, std::env::args().collect())?,
        replace: a.replace,
    };
    opts.validate()?;
    if let Some(path) = &a.pod_id_file
        && std::path::Path::new(path).exists()
    {
        bail!("pod id file exists. Ensure another pod is not using it or delete {path}");
    }
    let store = image::open_store(ctx)?;
    let state = containers::open_state(ctx)?;
    let report = create_pod(ctx, &store, &state, &opts)?;
    for w in &report.warnings {
        eprintln!("Warning: {w}");
    }
    if let Some(path) = &a.pod_id_file {
        std::fs::write(path, &report.id)
            .with_context(|| format!("writing the pod id to {path}"))?;
    }
    println!("{}", report.id);
    Ok(ExitCode::SUCCESS)
}

/// `--pod new:NAME`: the pod is created first, with the container's
/// published ports, network and DNS (Podman moves them to the pod), and
/// the spec then names it. Returns the pod's id, to remove it should the
/// container's create fail.
pub fn pod_new(
    ctx: &Context,
    store: &hutch_storage::Store,
    state: &State,
    spec: &mut ContainerSpec,
) -> anyhow::Result<Option<String>> {
    let Some(name) = spec.pod.as_deref().and_then(|p| p.strip_prefix("new:")) else {
        return Ok(None);
    };
    let config = PodConfig {
        infra: true,
        share: DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(),
        network: std::mem::take(&mut spec.network),
        ..PodConfig::default()
    };
    let report = create_pod(
        ctx,
        store,
        state,
        &PodCreateOptions {
            name: Some(name.to_owned()),
            config,
            replace: false,
        },
    )?;
    spec.network = NetworkSpec::default();
    spec.pod = Some(report.id.clone());
    Ok(Some(report.id))
}
