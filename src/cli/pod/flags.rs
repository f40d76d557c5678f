//! The pod settings `pod create` and `pod clone` share (Podman defines
//! them once for both): one declaration and one parse of each, so that a
//! clone reads a flag exactly as the create did.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;

use crate::cli::container::resource_flags::swap;
use crate::engine::container as containers;
use crate::runtime::spec::resources;
use crate::spec::{DeviceRequest, Mount, Namespace, ResourceRequest, SecurityOpts, parse};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct PodFlags {
    /// Block IO weight (relative weight) accepts a weight value between 10 and 1000
    #[arg(long, value_name = "WEIGHT")]
    pub(crate) blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight, format: DEVICE_NAME:WEIGHT)
    #[arg(long, value_name = "DEVICE_NAME:WEIGHT")]
    pub(crate) blkio_weight_device: Vec<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub(crate) cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "CPUS")]
    pub(crate) cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1). Only effective on NUMA systems
    #[arg(long, value_name = "MEMS")]
    pub(crate) cpuset_mems: Option<String>,
    /// Limit read rate (bytes per second) from a device (e.g. --device-read-bps=/dev/sda:1mb)
    #[arg(long, value_name = "PATH:RATE")]
    pub(crate) device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device (e.g. --device-write-bps=/dev/sda:1mb)
    #[arg(long, value_name = "PATH:RATE")]
    pub(crate) device_write_bps: Vec<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_parser = swap, value_name = "MEMORY", allow_negative_numbers = true)]
    pub(crate) memory_swap: Option<i64>,
    /// Size of /dev/shm (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))
    #[arg(long, value_name = "SIZE")]
    pub(crate) shm_size: Option<String>,
    /// Sysctl options
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) sysctl: Vec<String>,
    /// Bind mount a volume into the pod's containers
    #[arg(short, long, value_name = "SRC:DST[:OPTS]")]
    pub(crate) volume: Vec<String>,
    /// Add a host device to the pod
    #[arg(long, value_name = "HOST[:CONTAINER][:PERMS]")]
    pub(crate) device: Vec<String>,
    /// UID map for the user namespace (container:host:size)
    #[arg(long, value_name = "CONTAINER:HOST:SIZE")]
    pub(crate) uidmap: Vec<String>,
    /// GID map for the user namespace (container:host:size)
    #[arg(long, value_name = "CONTAINER:HOST:SIZE")]
    pub(crate) gidmap: Vec<String>,
    /// Name of range listed in /etc/subuid for use in user namespace
    #[arg(long, value_name = "NAME")]
    pub(crate) subuidname: Option<String>,
    /// Name of range listed in /etc/subgid for use in user namespace
    #[arg(long, value_name = "NAME")]
    pub(crate) subgidname: Option<String>,
    /// Read in a line delimited file of labels
    #[arg(long, value_name = "FILE")]
    pub(crate) label_file: Vec<PathBuf>,
    /// PID namespace to use
    #[arg(long)]
    pub(crate) pid: Option<String>,
    /// UTS namespace to use
    #[arg(long)]
    pub(crate) uts: Option<String>,
    /// Security Options
    #[arg(long, value_name = "OPTION")]
    pub(crate) security_opt: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long, value_name = "CONTAINER[:OPTIONS]")]
    pub(crate) volumes_from: Vec<String>,
}

impl PodFlags {
    /// The pod cgroup's limits these flags give (the others unset).
    pub fn resources(&self) -> anyhow::Result<ResourceRequest> {
        let devices = |list: &[String], parse: fn(&str) -> _| {
            list.iter()
                .map(|t| parse(t))
                .collect::<Result<Vec<resources::DeviceLimit>, resources::ResourceError>>()
        };
        Ok(ResourceRequest {
            blkio_weight: self.blkio_weight,
            blkio_weight_device: devices(
                &self.blkio_weight_device,
                resources::parse_weight_device,
            )?,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            device_read_bps: devices(&self.device_read_bps, resources::parse_bps_device)?,
            device_write_bps: devices(&self.device_write_bps, resources::parse_bps_device)?,
            memory_swap: self.memory_swap,
            ..ResourceRequest::default()
        })
    }

    pub fn devices(&self) -> anyhow::Result<Vec<DeviceRequest>> {
        Ok(self
            .device
            .iter()
            .map(|d| parse::device::device(d))
            .collect::<Result<_, _>>()?)
    }

    /// `--security-opt`; a seccomp profile file is refused (`command`
    /// names the command in the message).
    pub fn security(&self, command: &str) -> anyhow::Result<SecurityOpts> {
        let security = parse::security::security(&self.security_opt)?;
        if matches!(security.seccomp, crate::spec::SeccompChoice::Path(_)) {
            bail!(
                "{command} --security-opt seccomp=PATH is not supported by hutch: \
                 give the profile to each container (run --security-opt seccomp=PATH)"
            );
        }
        Ok(security)
    }

    /// `--uidmap`/`--gidmap`, after the ranges `--subuidname` and
    /// `--subgidname` name.
    pub fn id_maps(&self) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let (uidmap, gidmap) = crate::cli::container::flags::subid_name_maps(
            self.subuidname.as_deref(),
            self.subgidname.as_deref(),
        )?;
        Ok((
            [uidmap, self.uidmap.clone()].concat(),
            [gidmap, self.gidmap.clone()].concat(),
        ))
    }

    /// Whether any of `--userns`'s companions was given.
    pub fn maps_given(&self) -> bool {
        !self.uidmap.is_empty()
            || !self.gidmap.is_empty()
            || self.subuidname.is_some()
            || self.subgidname.is_some()
    }

    pub fn pid(&self) -> anyhow::Result<Namespace> {
        parse::userns::namespace("pid", self.pid.as_deref())
    }

    pub fn uts(&self) -> anyhow::Result<Namespace> {
        parse::userns::namespace("uts", self.uts.as_deref())
    }

    /// `-v`, relative sources taken from the caller's directory.
    pub fn mounts(&self) -> anyhow::Result<Vec<Mount>> {
        let cwd = std::env::current_dir().unwrap_or_default();
        self.volume
            .iter()
            .map(|v| parse::mount::volume(v, &cwd))
            .collect()
    }

    /// `--shm-size` in Docker's units; 0 keeps the default (as `run
    /// --shm-size`).
    pub fn shm_size(&self) -> anyhow::Result<Option<u64>> {
        Ok(match &self.shm_size {
            Some(s) => Some(parse::log::size(s)?).filter(|n| *n > 0),
            None => None,
        })
    }

    pub fn sysctls(&self) -> anyhow::Result<BTreeMap<String, String>> {
        if let Some(bad) = self.sysctl.iter().find(|s| !s.contains('=')) {
            bail!("{bad} is invalid, sysctl values must be in the form of KEY=VALUE");
        }
        parse::hosts::key_values("--sysctl", &self.sysctl)
    }

    /// `--label-file` lines (blank and `#` lines skipped), then `labels`
    /// (`--label`), which win, as `create --label-file` reads them.
    pub fn labels(&self, labels: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
        let mut all = Vec::new();
        for f in &self.label_file {
            // Podman's words around Go's.
            let text = std::fs::read_to_string(f).map_err(|e| {
                anyhow::anyhow!(
                    "unable to process labels: {}",
                    containers::host::io_error("open", f, &e)
                )
            })?;
            all.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        all.extend(labels.iter().cloned());
        parse::hosts::key_values("--label", &all)
    }
}
