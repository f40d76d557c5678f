//! The limit flags of `create`, `run` and `update` (Podman's names and
//! units). Values are parsed by clap through the spec module's parsers, so
//! a bad size fails before anything is created.

use crate::runtime::spec::resources::ResourceRequest;

pub(crate) fn memory(s: &str) -> Result<i64, String> {
    ResourceRequest::parse_memory(s).map_err(|e| e.to_string())
}

pub(crate) fn swap(s: &str) -> Result<i64, String> {
    ResourceRequest::parse_swap(s).map_err(|e| e.to_string())
}

fn cpus(s: &str) -> Result<u64, String> {
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
}

impl LimitFlags {
    pub fn request(&self) -> ResourceRequest {
        ResourceRequest {
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
            ..ResourceRequest::default()
        }
    }
}

impl ResourceFlags {
    pub fn request(&self) -> ResourceRequest {
        ResourceRequest {
            oom_score_adj: self.oom_score_adj,
            cgroups: self.cgroups.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
            ..self.limits.request()
        }
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
        let r = t.f.request();
        assert_eq!(r.memory, Some(64 << 20));
        assert_eq!(r.nano_cpus, Some(1_500_000_000));
        assert_eq!(r.pids_limit, Some(-1));
        assert_eq!(r.memory_swap, Some(-1));
        assert_eq!(r.oom_score_adj, Some(-500));
        assert_eq!(r.cgroups.as_deref(), Some("split"));
        assert!(T::try_parse_from(["t", "--memory", "lots"]).is_err());
        let t = T::try_parse_from(["t", "--cpu-weight", "300"]).expect("parses");
        assert_eq!(t.f.request().cpu_weight, Some(300));
        assert!(T::try_parse_from(["t", "--cpu-weight", "3", "--cpu-shares", "3"]).is_err());
        assert!(T::try_parse_from(["t", "--cgroups", "maybe"]).is_err());
    }
}
