//! The limit flags of `create`, `run` and `update` (Podman's names and
//! units). Values are parsed by clap through the spec module's parsers, so
//! a bad size fails before anything is created.

use crate::runtime::spec::resources::{
    DeviceLimit, ResourceError, ResourceRequest, parse_bps_device, parse_cgroup_conf,
    parse_device_cgroup_rule, parse_iops_device, parse_weight_device,
};

pub(crate) fn memory(s: &str) -> Result<i64, String> {
    ResourceRequest::parse_memory(s).map_err(|e| e.to_string())
}

pub(crate) fn swap(s: &str) -> Result<i64, String> {
    ResourceRequest::parse_swap(s).map_err(|e| e.to_string())
}

pub(crate) fn cpus(s: &str) -> Result<u64, String> {
    ResourceRequest::parse_cpus(s).map_err(|e| e.to_string())
}

/// The limits `update` can change, shared with `create` and `run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LimitFlags {
    /// Memory limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(short, long, value_parser = memory, value_name = "MEMORY")]
    pub memory: Option<i64>,
    /// Memory soft limit (format: <number>[<unit>], where unit = b, k, m or g)
    #[arg(long, value_parser = memory, value_name = "MEMORY")]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_parser = swap, value_name = "MEMORY", allow_negative_numbers = true)]
    pub memory_swap: Option<i64>,
    /// Number of CPUs. The default is 0.000 which means no limit
    #[arg(long, value_parser = cpus, value_name = "CPUS")]
    pub cpus: Option<u64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// CPU weight on cgroup v2 (1-10000; relative, like --cpu-shares)
    #[arg(long, value_name = "WEIGHT", conflicts_with = "cpu_shares")]
    pub cpu_weight: Option<u64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes (MEMs) in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (relative weight) accepts a weight value between 10 and 1000
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight, format: DEVICE_NAME:WEIGHT)
    #[arg(long, value_name = "DEVICE_NAME:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device (e.g. --device-read-bps=/dev/sda:1mb)
    #[arg(long, value_name = "PATH:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device (e.g. --device-write-bps=/dev/sda:1mb)
    #[arg(long, value_name = "PATH:RATE")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device (e.g. --device-read-iops=/dev/sda:1000)
    #[arg(long, value_name = "PATH:RATE")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device (e.g. --device-write-iops=/dev/sda:1000)
    #[arg(long, value_name = "PATH:RATE")]
    pub device_write_iops: Vec<String>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_rt_period: Option<u64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long, value_name = "MICROSECONDS", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// Tune container memory swappiness (0 to 100, or -1 for system default)
    #[arg(long, value_name = "SWAPPINESS", allow_negative_numbers = true)]
    pub memory_swappiness: Option<i64>,
}

/// `create`/`run` flags: the limits plus what only applies at creation.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ResourceFlags {
    #[command(flatten)]
    pub limits: LimitFlags,
    /// Tune the host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_negative_numbers = true)]
    pub oom_score_adj: Option<i32>,
    /// Control container cgroup configuration ("enabled"|"disabled"|"no-conmon"|"split")
    #[arg(long, value_parser = ["enabled", "disabled", "no-conmon", "split"])]
    pub cgroups: Option<String>,
    /// Optional parent cgroup for the container
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    /// Disable OOM Killer
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub oom_kill_disable: Option<bool>,
    /// Add a rule to the cgroup allowed devices list ("TYPE MAJOR:MINOR ACCESS")
    #[arg(long, value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
    /// Configure cgroup v2 (key=value)
    #[arg(long, value_name = "KEY=VALUE")]
    pub cgroup_conf: Vec<String>,
}

impl LimitFlags {
    /// The request; the per-device values are checked here, with
    /// Podman's messages (clap's would differ).
    pub fn request(&self) -> Result<ResourceRequest, ResourceError> {
        let all = |list: &[String], parse: fn(&str) -> Result<DeviceLimit, ResourceError>| {
            list.iter().map(|t| parse(t)).collect::<Result<Vec<_>, _>>()
        };
        Ok(ResourceRequest {
            memory: self.memory,
            memory_reservation: self.memory_reservation,
            memory_swap: self.memory_swap,
            nano_cpus: self.cpus,
            cpu_shares: self.cpu_shares,
            cpu_weight: self.cpu_weight,
            cpu_quota: self.cpu_quota,
            cpu_period: self.cpu_period,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            pids_limit: self.pids_limit,
            blkio_weight: self.blkio_weight,
            blkio_weight_device: all(&self.blkio_weight_device, parse_weight_device)?,
            device_read_bps: all(&self.device_read_bps, parse_bps_device)?,
            device_write_bps: all(&self.device_write_bps, parse_bps_device)?,
            device_read_iops: all(&self.device_read_iops, parse_iops_device)?,
            device_write_iops: all(&self.device_write_iops, parse_iops_device)?,
            cpu_rt_period: self.cpu_rt_period,
            cpu_rt_runtime: self.cpu_rt_runtime,
            // Podman: a negative swappiness is "not given".
            memory_swappiness: self.memory_swappiness.and_then(|s| u64::try_from(s).ok()),
            ..ResourceRequest::default()
        })
    }

    /// Whether any limit flag was given, counting the ones Podman takes as
    /// "unset" (a negative `--memory-swappiness`), which `update` accepts
    /// as a change to nothing.
    pub fn any_given(&self) -> bool {
        self.memory_swappiness.is_some()
    }
}

impl ResourceFlags {
    /// The request; the per-device, rule and `--cgroup-conf` values are
    /// checked here, with Podman's messages (clap's would differ).
    pub fn request(&self) -> Result<ResourceRequest, ResourceError> {
        Ok(ResourceRequest {
            oom_score_adj: self.oom_score_adj,
            cgroups: self.cgroups.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
            oom_kill_disable: self.oom_kill_disable.unwrap_or(false),
            device_cgroup_rules: self
                .device_cgroup_rule
                .iter()
                .map(|r| parse_device_cgroup_rule(r))
                .collect::<Result<_, _>>()?,
            cgroup_conf: self
                .cgroup_conf
                .iter()
                .map(|c| parse_cgroup_conf(c))
                .collect::<Result<_, _>>()?,
            ..self.limits.request()?
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        f: ResourceFlags,
    }

    #[test]
    fn flags_parse_into_the_request() {
        let t = T::try_parse_from([
            "t",
            "--memory",
            "64m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "-1",
            "--cpu-quota",
            "-1",
            "--oom-score-adj",
            "-500",
            "--cgroups",
            "split",
            "--memory-swap",
            "-1",
        ])
        .expect("parses");
        let r = t.f.request().expect("valid");
        assert_eq!(r.memory, Some(64 << 20));
        assert_eq!(r.nano_cpus, Some(1_500_000_000));
        assert_eq!(r.pids_limit, Some(-1));
        assert_eq!(r.memory_swap, Some(-1));
        assert_eq!(r.oom_score_adj, Some(-500));
        assert_eq!(r.cgroups.as_deref(), Some("split"));
        assert!(T::try_parse_from(["t", "--memory", "lots"]).is_err());
        let t = T::try_parse_from(["t", "--cpu-weight", "300"]).expect("parses");
        assert_eq!(t.f.request().map(|r| r.cpu_weight), Ok(Some(300)));
        assert!(T::try_parse_from(["t", "--cpu-weight", "3", "--cpu-shares", "3"]).is_err());
        assert!(T::try_parse_from(["t", "--cgroups", "maybe"]).is_err());
    }

    #[test]
    fn device_and_realtime_flags_parse_into_the_request() {
        let t = T::try_parse_from([
            "t",
            "--blkio-weight-device",
            "/dev/vda:200",
            "--device-read-bps",
            "/dev/vda:1mb",
            "--device-write-iops",
            "/dev/vda:50",
            "--cpu-rt-runtime",
            "-1",
            "--memory-swappiness",
            "-1",
            "--oom-kill-disable",
            "--device-cgroup-rule",
            "c 1:3 rwm",
            "--cgroup-conf",
            "memory.high=1000",
        ])
        .expect("parses");
        let r = t.f.request().expect("valid");
        assert_eq!(r.blkio_weight_device[0].value, 200);
        assert_eq!(r.device_read_bps[0].value, 1 << 20);
        assert_eq!(r.device_write_iops[0].value, 50);
        assert_eq!(r.cpu_rt_runtime, Some(-1));
        assert_eq!(r.memory_swappiness, None);
        assert!(r.oom_kill_disable);
        assert_eq!(r.device_cgroup_rules.len(), 1);
        assert_eq!(
            r.cgroup_conf.get("memory.high").map(String::as_str),
            Some("1000")
        );
        let bad = T::try_parse_from(["t", "--blkio-weight-device", "/dev/vda:5"]).expect("parses");
        assert!(bad.f.request().is_err());
        assert!(T::try_parse_from(["t", "--cpu-rt-period", "-1"]).is_err());
    }
}
