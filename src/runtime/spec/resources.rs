//! `linux.resources` from the limit flags (`--memory`, `--cpus`,
//! `--pids-limit`, ...), with Podman's rules: `--memory-swap` defaults to
//! twice `--memory`, `--cpus` becomes a CFS quota over a 100 ms period,
//! and the pids limit defaults to 2048 wherever the container has a cgroup.
//!
//! The values are parsed once, by [`ResourceRequest::parse_memory`] and
//! friends, so that `create`, `run` and `update` share one reading of the
//! flags' text; this module does no I/O.

use std::collections::BTreeMap;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxPids,
    LinuxResources, LinuxThrottleDevice, LinuxThrottleDeviceBuilder, LinuxWeightDevice,
    LinuxWeightDeviceBuilder,
};
use serde::{Deserialize, Serialize};

/// Podman's default `pids_limit` (containers.conf).
pub const DEFAULT_PIDS_LIMIT: i64 = 2048;
/// The CFS period `--cpus` is expressed in, as Podman uses.
pub const CPU_PERIOD: u64 = 100_000;
/// The smallest `--memory` Podman accepts (6 MiB).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The limit flags as parsed values; `None` is "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceRequest {
    /// `--memory` in bytes.
    pub memory: Option<i64>,
    /// `--memory-reservation` in bytes.
    pub memory_reservation: Option<i64>,
    /// `--memory-swap` in bytes (memory plus swap); -1 is unlimited.
    pub memory_swap: Option<i64>,
    /// `--cpus` in billionths of a CPU (Docker's NanoCPUs), so that the
    /// request stays exact and comparable.
    pub nano_cpus: Option<u64>,
    pub cpu_shares: Option<u64>,
    /// `--cpu-weight`: cgroup v2's cpu.weight (1-10000), carried to the
    /// runtime as the shares it converts back to exactly that weight.
    pub cpu_weight: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`; -1 (or 0) is unlimited.
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    /// `--oom-score-adj`: a process attribute, applied with or without a
    /// cgroup.
    pub oom_score_adj: Option<i32>,
    /// `--cgroups`: enabled (default), disabled, no-conmon, split.
    pub cgroups: Option<String>,
    /// `--cgroup-parent`.
    pub cgroup_parent: Option<String>,
    /// `--blkio-weight-device PATH:WEIGHT` (value: the weight).
    pub blkio_weight_device: Vec<DeviceLimit>,
    /// `--device-read-bps PATH:RATE` in bytes per second.
    pub device_read_bps: Vec<DeviceLimit>,
    /// `--device-write-bps PATH:RATE` in bytes per second.
    pub device_write_bps: Vec<DeviceLimit>,
    /// `--device-read-iops PATH:RATE`.
    pub device_read_iops: Vec<DeviceLimit>,
    /// `--device-write-iops PATH:RATE`.
    pub device_write_iops: Vec<DeviceLimit>,
    /// `--cpu-rt-period` in microseconds.
    pub cpu_rt_period: Option<u64>,
    /// `--cpu-rt-runtime` in microseconds.
    pub cpu_rt_runtime: Option<i64>,
    /// `--memory-swappiness` (0-100); a negative value is "not given", as
    /// in Podman.
    pub memory_swappiness: Option<u64>,
    /// `--oom-kill-disable`.
    pub oom_kill_disable: bool,
    /// `--device-cgroup-rule "TYPE MAJOR:MINOR ACCESS"`, parsed.
    pub device_cgroup_rules: Vec<DeviceCgroupRule>,
    /// `--cgroup-conf KEY=VALUE`: cgroup v2 files written as given
    /// (`linux.resources.unified`).
    pub cgroup_conf: BTreeMap<String, String>,
}

/// One per-device block-I/O limit: the path as given (shown by inspect)
/// and the device numbers the engine resolves at create (0 until then).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceLimit {
    pub path: String,
    pub value: u64,
    pub major: i64,
    pub minor: i64,
}

/// One `--device-cgroup-rule`: `None` is `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceCgroupRule {
    /// `a`, `b` or `c`.
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResourceError {
    #[error("invalid size {value:?}: expected a number with an optional unit (b, k, m, g, t, p)")]
    BadSize { value: String },
    #[error("invalid value {value:?} for --{flag}: {reason}")]
    Bad {
        flag: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("minimum memory limit allowed is 6MB")]
    MemoryTooSmall,
    #[error("--memory-swap must be larger than --memory")]
    SwapBelowMemory,
    #[error("--memory-swap requires --memory")]
    SwapWithoutMemory,
    #[error("--cpus cannot be combined with --cpu-quota or --cpu-period")]
    CpusWithQuota,
    #[error("--cpu-weight cannot be combined with --cpu-shares")]
    WeightWithShares,
    #[error("invalid --cgroups mode {0:?}: expected enabled, disabled, no-conmon or split")]
    BadCgroupsMode(String),
    /// A flag's value refused with Podman's own words.
    #[error("{0}")]
    Podman(String),
}

/// `PATH:VALUE` of the per-device flags, with Docker's (and Podman's)
/// checks: two fields, a path under /dev/.
fn device_and_value(text: &str) -> Result<(&str, &str), ResourceError> {
    let parts: Vec<&str> = text.split(':').collect();
    let [path, value] = parts[..] else {
        return Err(ResourceError::Podman(format!("bad format: {text}")));
    };
    if !path.starts_with("/dev/") {
        return Err(ResourceError::Podman(format!(
            "bad format for device path: {text}"
        )));
    }
    Ok((path, value))
}

/// `--blkio-weight-device PATH:WEIGHT`: 0, or 10 to 1000.
pub fn parse_weight_device(text: &str) -> Result<DeviceLimit, ResourceError> {
    let (path, value) = device_and_value(text)?;
    let weight = value
        .parse::<u16>()
        .ok()
        .filter(|w| *w == 0 || (10..=1000).contains(w))
        .ok_or_else(|| ResourceError::Podman(format!("invalid weight for device: {text}")))?;
    Ok(DeviceLimit {
        path: path.to_owned(),
        value: u64::from(weight),
        ..DeviceLimit::default()
    })
}

/// `--device-{read,write}-bps PATH:RATE`: a size in Docker's binary units.
pub fn parse_bps_device(text: &str) -> Result<DeviceLimit, ResourceError> {
    let (path, value) = device_and_value(text)?;
    let rate = ResourceRequest::parse_memory(value).map_err(|_| {
        ResourceError::Podman(format!(
            "invalid rate for device: {text}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        ))
    })?;
    Ok(DeviceLimit {
        path: path.to_owned(),
        value: rate as u64,
        ..DeviceLimit::default()
    })
}

/// `--device-{read,write}-iops PATH:RATE`: a plain count.
pub fn parse_iops_device(text: &str) -> Result<DeviceLimit, ResourceError> {
    let (path, value) = device_and_value(text)?;
    let rate = value.parse::<u64>().map_err(|_| {
        ResourceError::Podman(format!(
            "invalid rate for device: {text}. The correct format is <device-path>:<number>. Number must be a positive integer"
        ))
    })?;
    Ok(DeviceLimit {
        path: path.to_owned(),
        value: rate,
        ..DeviceLimit::default()
    })
}

/// `--device-cgroup-rule "TYPE MAJOR:MINOR ACCESS"` (Podman's
/// `parseLinuxResourcesDeviceAccess`, its messages).
pub fn parse_device_cgroup_rule(text: &str) -> Result<DeviceCgroupRule, ResourceError> {
    let fields: Vec<&str> = text.split(' ').collect();
    let [kind, numbers, access] = fields[..] else {
        return Err(ResourceError::Podman(format!(
            "invalid device cgroup rule requires type, major:Minor, and access rules: {text:?}"
        )));
    };
    let kind = match kind {
        "a" | "b" | "c" => kind.chars().next().unwrap_or('a'),
        _ => {
            return Err(ResourceError::Podman(format!(
                "invalid device type in device-access-add: {kind}"
            )));
        }
    };
    let number = |n: &str| -> Result<Option<i64>, ResourceError> {
        if n == "*" {
            return Ok(None);
        }
        n.parse::<u32>().map(|v| Some(i64::from(v))).map_err(|_| {
            ResourceError::Podman(format!("strconv.ParseUint: parsing {n:?}: invalid syntax"))
        })
    };
    let (major, minor) = match numbers.split_once(':') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(numbers)?, None),
    };
    if let Some(c) = access.chars().find(|c| !matches!(c, 'r' | 'w' | 'm')) {
        return Err(ResourceError::Podman(format!(
            "invalid device access in device-access-add: {c}"
        )));
    }
    Ok(DeviceCgroupRule {
        kind,
        major,
        minor,
        access: access.to_owned(),
    })
}

/// `--cgroup-conf KEY=VALUE`.
pub fn parse_cgroup_conf(text: &str) -> Result<(String, String), ResourceError> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(ResourceError::Podman(
            "--cgroup-conf must be formatted KEY=VALUE".to_owned(),
        )),
    }
}

impl DeviceCgroupRule {
    pub fn oci(&self) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(match self.kind {
            'b' => Some(LinuxDeviceType::B),
            'c' => Some(LinuxDeviceType::C),
            _ => Some(LinuxDeviceType::A),
        });
        r.set_major(self.major);
        r.set_minor(self.minor);
        r.set_access(Some(self.access.clone()));
        r
    }
}

impl ResourceRequest {
    /// Docker's `RAMInBytes`: binary units, an optional `b`/`ib` suffix.
    pub fn parse_memory(text: &str) -> Result<i64, ResourceError> {
        let bad = || ResourceError::BadSize {
            value: text.to_owned(),
        };
        let t = text.trim().to_ascii_lowercase();
        let t = t.strip_suffix('b').unwrap_or(&t);
        let t = t.strip_suffix('i').unwrap_or(t);
        let (num, mult) = match t.chars().last() {
            Some('k') => (&t[..t.len() - 1], 1i64 << 10),
            Some('m') => (&t[..t.len() - 1], 1 << 20),
            Some('g') => (&t[..t.len() - 1], 1 << 30),
            Some('t') => (&t[..t.len() - 1], 1 << 40),
            Some('p') => (&t[..t.len() - 1], 1 << 50),
            _ => (t, 1),
        };
        let num = num.trim();
        if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        let bytes = value * mult as f64;
        if !bytes.is_finite() || bytes > i64::MAX as f64 {
            return Err(bad());
        }
        Ok(bytes as i64)
    }

    /// `--memory-swap`: a size, or -1 for unlimited.
    pub fn parse_swap(text: &str) -> Result<i64, ResourceError> {
        if text.trim() == "-1" {
            return Ok(-1);
        }
        Self::parse_memory(text)
    }

    /// `--cpus 1.5` in nano CPUs.
    pub fn parse_cpus(text: &str) -> Result<u64, ResourceError> {
        let cpus: f64 = text.trim().parse().map_err(|_| ResourceError::Bad {
            flag: "cpus",
            value: text.to_owned(),
            reason: "expected a number of CPUs such as 0.5 or 2",
        })?;
        if !cpus.is_finite() || cpus < 0.0 {
            return Err(ResourceError::Bad {
                flag: "cpus",
                value: text.to_owned(),
                reason: "must be a non-negative number",
            });
        }
        Ok((cpus * 1e9).round() as u64)
    }

    pub fn parse_cgroups_mode(text: &str) -> Result<String, ResourceError> {
        match text {
            "enabled" | "disabled" | "no-conmon" | "split" => Ok(text.to_owned()),
            _ => Err(ResourceError::BadCgroupsMode(text.to_owned())),
        }
    }

    /// Cross-flag rules, checked at create/update time.
    pub fn validate(&self) -> Result<(), ResourceError> {
        if let Some(m) = self.memory
            && m != 0
            && m < MIN_MEMORY
        {
            return Err(ResourceError::MemoryTooSmall);
        }
        if let Some(swap) = self.memory_swap {
            match self.memory {
                None => return Err(ResourceError::SwapWithoutMemory),
                Some(m) if swap != -1 && swap < m => return Err(ResourceError::SwapBelowMemory),
                _ => {}
            }
        }
        if self.nano_cpus.is_some() && (self.cpu_quota.is_some() || self.cpu_period.is_some()) {
            return Err(ResourceError::CpusWithQuota);
        }
        if self.cpu_weight.is_some() && self.cpu_shares.is_some() {
            return Err(ResourceError::WeightWithShares);
        }
        if let Some(w) = self.cpu_weight
            && !(1..=CPU_WEIGHT_MAX).contains(&w)
        {
            return Err(ResourceError::Bad {
                flag: "cpu-weight",
                value: w.to_string(),
                reason: "must be between 1 and 10000",
            });
        }
        if let Some(w) = self.blkio_weight
            && w != 0
            && !(10..=1000).contains(&w)
        {
            return Err(ResourceError::Bad {
                flag: "blkio-weight",
                value: w.to_string(),
                reason: "must be between 10 and 1000",
            });
        }
        if let Some(adj) = self.oom_score_adj
            && !(-1000..=1000).contains(&adj)
        {
            return Err(ResourceError::Bad {
                flag: "oom-score-adj",
                value: adj.to_string(),
                reason: "must be between -1000 and 1000",
            });
        }
        if let Some(mode) = &self.cgroups {
            Self::parse_cgroups_mode(mode)?;
        }
        Ok(())
    }

    /// A flag that needs a cgroup of the container's own was given (the
    /// ones a host without a cgroup manager ignores).
    pub fn has_cgroup_limits(&self) -> bool {
        self.memory.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swap.is_some()
            || self.nano_cpus.is_some()
            || self.cpu_shares.is_some()
            || self.cpu_weight.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_period.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.pids_limit.is_some()
            || self.blkio_weight.is_some()
            || self.has_new_cgroup_limits()
    }

    /// The limits added for issue 12 (block I/O per device, real-time,
    /// swappiness, OOM killer, cgroup files).
    fn has_new_cgroup_limits(&self) -> bool {
        self.device_limits().next().is_some()
            || self.cpu_rt_period.is_some()
            || self.cpu_rt_runtime.is_some()
            || self.memory_swappiness.is_some()
            || self.oom_kill_disable
            || !self.cgroup_conf.is_empty()
    }

    /// Every per-device limit with its flag's name (for resolving the
    /// device numbers and for errors).
    pub fn device_limits(&self) -> impl Iterator<Item = (&'static str, &DeviceLimit)> {
        [
            ("--blkio-weight-device", &self.blkio_weight_device),
            ("--device-read-bps", &self.device_read_bps),
            ("--device-write-bps", &self.device_write_bps),
            ("--device-read-iops", &self.device_read_iops),
            ("--device-write-iops", &self.device_write_iops),
        ]
        .into_iter()
        .flat_map(|(f, v)| v.iter().map(move |d| (f, d)))
    }

    /// The same, mutable (the engine fills in the device numbers).
    pub fn device_limits_mut(&mut self) -> impl Iterator<Item = (&'static str, &mut DeviceLimit)> {
        [
            ("--blkio-weight-device", &mut self.blkio_weight_device),
            ("--device-read-bps", &mut self.device_read_bps),
            ("--device-write-bps", &mut self.device_write_bps),
            ("--device-read-iops", &mut self.device_read_iops),
            ("--device-write-iops", &mut self.device_write_iops),
        ]
        .into_iter()
        .flat_map(|(f, v)| v.iter_mut().map(move |d| (f, d)))
    }

    /// `--cgroups` asks for no cgroup of the container's own.
    pub fn cgroups_disabled(&self) -> bool {
        self.cgroups.as_deref() == Some("disabled")
    }

    /// The fields of `other` that are set replace these (for `update`).
    pub fn merge(&mut self, other: &ResourceRequest) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f.clone(); } )* };
        }
        take!(
            memory,
            memory_reservation,
            memory_swap,
            nano_cpus,
            cpu_shares,
            cpu_weight,
            cpu_quota,
            cpu_period,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            blkio_weight,
            oom_score_adj,
            cgroups,
            cgroup_parent,
            cpu_rt_period,
            cpu_rt_runtime,
            memory_swappiness
        );
        // A device given again takes its new value; the others stay. The
        // same device by path, or by its numbers (the libpod API names
        // devices by number only).
        fn by_path(mine: &mut Vec<DeviceLimit>, theirs: &[DeviceLimit]) {
            for d in theirs {
                let numbered = d.major != 0 || d.minor != 0;
                mine.retain(|m| {
                    !((!d.path.is_empty() && m.path == d.path)
                        || (numbered && (m.major, m.minor) == (d.major, d.minor)))
                });
                mine.push(d.clone());
            }
        }
        by_path(&mut self.blkio_weight_device, &other.blkio_weight_device);
        by_path(&mut self.device_read_bps, &other.device_read_bps);
        by_path(&mut self.device_write_bps, &other.device_write_bps);
        by_path(&mut self.device_read_iops, &other.device_read_iops);
        by_path(&mut self.device_write_iops, &other.device_write_iops);
        if other.nano_cpus.is_some() {
            self.cpu_quota = None;
            self.cpu_period = None;
        }
        // The two name one setting: the later one replaces the other.
        if other.cpu_weight.is_some() {
            self.cpu_shares = None;
        }
        if other.cpu_shares.is_some() {
            self.cpu_weight = None;
        }
    }
}

/// cgroup v1's cpu.shares range and cgroup v2's cpu.weight range.
const CPU_SHARES_MIN: u64 = 2;
const CPU_SHARES_MAX: u64 = 262_144;
pub const CPU_WEIGHT_MAX: u64 = 10_000;

/// The shares runc and crun turn into `weight` on cgroup v2: they map
/// [2, 262144] linearly onto [1, 10000] as
/// `1 + (shares - 2) * 9999 / 262142` (integer division), so this takes the
/// smallest shares that reach `weight` (rounding up). OCI's `unified` map
/// would say cpu.weight directly, but runc refuses it on cgroup v1 and
/// hybrid hosts such as this one, while shares work everywhere.
pub fn weight_to_shares(weight: u64) -> u64 {
    let w = weight.clamp(1, CPU_WEIGHT_MAX);
    let span = CPU_SHARES_MAX - CPU_SHARES_MIN;
    CPU_SHARES_MIN + ((w - 1) * span).div_ceil(CPU_WEIGHT_MAX - 1)
}

/// The runtimes' conversion (for tests and `inspect`).
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(CPU_SHARES_MIN, CPU_SHARES_MAX);
    1 + (s - CPU_SHARES_MIN) * (CPU_WEIGHT_MAX - 1) / (CPU_SHARES_MAX - CPU_SHARES_MIN)
}

/// The OCI `linux.resources` for a container that has a cgroup.
/// `default_pids` applies Podman's pids limit when none was asked for
/// (create; `update` passes false so only what was given changes).
pub fn linux_resources(req: &ResourceRequest, default_pids: bool) -> LinuxResources {
    let mut out = LinuxResources::default();

    if req.memory.is_some()
        || req.memory_reservation.is_some()
        || req.memory_swap.is_some()
        || req.memory_swappiness.is_some()
        || req.oom_kill_disable
    {
        let mut m = LinuxMemory::default();
        let limit = req.memory.filter(|&l| l > 0);
        m.set_limit(limit);
        m.set_reservation(req.memory_reservation);
        m.set_swap(match (req.memory_swap, limit) {
            (Some(s), _) => Some(s),
            // Podman: swap defaults to double the memory limit.
            (None, Some(l)) => Some(l.saturating_mul(2)),
            (None, None) => None,
        });
        m.set_swappiness(req.memory_swappiness);
        m.set_disable_oom_killer(req.oom_kill_disable.then_some(true));
        out.set_memory(Some(m));
    }

    let (quota, period) = match req.nano_cpus {
        Some(n) => (
            Some((n as u128 * CPU_PERIOD as u128 / 1_000_000_000) as i64),
            Some(CPU_PERIOD),
        ),
        None => (req.cpu_quota, req.cpu_period),
    };
    let shares = req.cpu_shares.or(req.cpu_weight.map(weight_to_shares));
    if quota.is_some()
        || period.is_some()
        || shares.is_some()
        || req.cpuset_cpus.is_some()
        || req.cpuset_mems.is_some()
        || req.cpu_rt_period.is_some()
        || req.cpu_rt_runtime.is_some()
    {
        let mut c = LinuxCpu::default();
        c.set_realtime_period(req.cpu_rt_period);
        c.set_realtime_runtime(req.cpu_rt_runtime);
        c.set_quota(quota);
        c.set_period(period);
        c.set_shares(shares);
        c.set_cpus(req.cpuset_cpus.clone());
        c.set_mems(req.cpuset_mems.clone());
        out.set_cpu(Some(c));
    }

    let pids = match req.pids_limit {
        Some(l) if l <= 0 => Some(-1),
        Some(l) => Some(l),
        None if default_pids => Some(DEFAULT_PIDS_LIMIT),
        None => None,
    };
    if let Some(limit) = pids {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        out.set_pids(Some(p));
    }

    if req.blkio_weight.is_some() || req.device_limits().next().is_some() {
        let mut b = LinuxBlockIo::default();
        b.set_weight(req.blkio_weight);
        let weights: Vec<LinuxWeightDevice> = req
            .blkio_weight_device
            .iter()
            .filter_map(|d| {
                let mut w = LinuxWeightDeviceBuilder::default()
                    .major(d.major)
                    .minor(d.minor);
                if let Ok(weight) = u16::try_from(d.value) {
                    w = w.weight(weight);
                }
                w.build().ok()
            })
            .collect();
        let throttle = |list: &[DeviceLimit]| -> Option<Vec<LinuxThrottleDevice>> {
            (!list.is_empty()).then(|| {
                list.iter()
                    .filter_map(|d| {
                        LinuxThrottleDeviceBuilder::default()
                            .major(d.major)
                            .minor(d.minor)
                            .rate(d.value)
                            .build()
                            .ok()
                    })
                    .collect()
            })
        };
        b.set_weight_device((!weights.is_empty()).then_some(weights));
        b.set_throttle_read_bps_device(throttle(&req.device_read_bps));
        b.set_throttle_write_bps_device(throttle(&req.device_write_bps));
        b.set_throttle_read_iops_device(throttle(&req.device_read_iops));
        b.set_throttle_write_iops_device(throttle(&req.device_write_iops));
        out.set_block_io(Some(b));
    }
    if !req.device_cgroup_rules.is_empty() {
        out.set_devices(Some(
            req.device_cgroup_rules
                .iter()
                .map(DeviceCgroupRule::oci)
                .collect(),
        ));
    }
    if !req.cgroup_conf.is_empty() {
        out.set_unified(Some(
            req.cgroup_conf
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ResourceRequest {
        ResourceRequest::default()
    }

    #[test]
    fn memory_sizes_use_binary_units() {
        assert_eq!(ResourceRequest::parse_memory("64m"), Ok(64 << 20));
        assert_eq!(ResourceRequest::parse_memory("64MB"), Ok(64 << 20));
        assert_eq!(ResourceRequest::parse_memory("1g"), Ok(1 << 30));
        assert_eq!(ResourceRequest::parse_memory("1.5k"), Ok(1536));
        assert_eq!(ResourceRequest::parse_memory("4096"), Ok(4096));
        assert_eq!(ResourceRequest::parse_memory("2GiB"), Ok(2 << 30));
        assert!(ResourceRequest::parse_memory("lots").is_err());
        assert!(ResourceRequest::parse_memory("-5m").is_err());
        assert_eq!(ResourceRequest::parse_swap("-1"), Ok(-1));
    }

    #[test]
    fn memory_flag_sets_limit_and_double_swap() {
        let r = ResourceRequest {
            memory: Some(64 << 20),
            ..req()
        };
        let m = linux_resources(&r, false).memory().expect("memory");
        assert_eq!(m.limit(), Some(64 << 20));
        assert_eq!(m.swap(), Some(128 << 20));
        assert_eq!(m.reservation(), None);
    }

    #[test]
    fn memory_reservation_and_swap() {
        let r = ResourceRequest {
            memory: Some(64 << 20),
            memory_swap: Some(100 << 20),
            memory_reservation: Some(32 << 20),
            ..req()
        };
        let m = linux_resources(&r, false).memory().expect("memory");
        assert_eq!(m.swap(), Some(100 << 20));
        assert_eq!(m.reservation(), Some(32 << 20));
        let unlimited = ResourceRequest {
            memory_swap: Some(-1),
            ..r
        };
        let m = linux_resources(&unlimited, false).memory().expect("memory");
        assert_eq!(m.swap(), Some(-1));
    }

    #[test]
    fn cpus_become_quota_over_100ms() {
        let r = ResourceRequest {
            nano_cpus: Some(ResourceRequest::parse_cpus("0.5").expect("parses")),
            ..req()
        };
        let c = linux_resources(&r, false).cpu().clone().expect("cpu");
        assert_eq!(c.quota(), Some(50_000));
        assert_eq!(c.period(), Some(100_000));
        assert!(ResourceRequest::parse_cpus("x").is_err());
        assert!(ResourceRequest::parse_cpus("-1").is_err());
    }

    #[test]
    fn cpu_shares_quota_period_and_sets() {
        let r = ResourceRequest {
            cpu_shares: Some(512),
            cpu_quota: Some(20_000),
            cpu_period: Some(50_000),
            cpuset_cpus: Some("0-1".into()),
            cpuset_mems: Some("0".into()),
            ..req()
        };
        let c = linux_resources(&r, false).cpu().clone().expect("cpu");
        assert_eq!(c.shares(), Some(512));
        assert_eq!(c.quota(), Some(20_000));
        assert_eq!(c.period(), Some(50_000));
        assert_eq!(c.cpus().as_deref(), Some("0-1"));
        assert_eq!(c.mems().as_deref(), Some("0"));
    }

    #[test]
    fn cpu_weight_becomes_shares_the_runtime_maps_back() {
        for w in [1, 2, 50, 100, 1000, 5000, 9999, 10_000] {
            assert_eq!(shares_to_weight(weight_to_shares(w)), w, "weight {w}");
        }
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10_000), 262_144);
        // The cgroup v2 default weight, 100, is near the v1 default 1024
        // only in name: the linear map gives 2598.
        assert_eq!(weight_to_shares(100), 2598);
        let r = ResourceRequest {
            cpu_weight: Some(100),
            ..req()
        };
        assert!(r.has_cgroup_limits());
        assert_eq!(r.validate(), Ok(()));
        let c = linux_resources(&r, false).cpu().clone().expect("cpu");
        assert_eq!(c.shares(), Some(2598));
        for bad in [0, 10_001] {
            let r = ResourceRequest {
                cpu_weight: Some(bad),
                ..req()
            };
            assert!(r.validate().is_err(), "{bad}");
        }
        let both = ResourceRequest {
            cpu_weight: Some(10),
            cpu_shares: Some(10),
            ..req()
        };
        assert_eq!(both.validate(), Err(ResourceError::WeightWithShares));
        let mut base = ResourceRequest {
            cpu_shares: Some(512),
            ..req()
        };
        base.merge(&ResourceRequest {
            cpu_weight: Some(300),
            ..req()
        });
        assert_eq!((base.cpu_shares, base.cpu_weight), (None, Some(300)));
        assert_eq!(base.validate(), Ok(()));
    }

    #[test]
    fn pids_limit_default_and_unlimited() {
        let none = linux_resources(&req(), true);
        assert_eq!(none.pids().as_ref().map(|p| p.limit()), Some(2048));
        assert!(linux_resources(&req(), false).pids().is_none());
        let r = ResourceRequest {
            pids_limit: Some(20),
            ..req()
        };
        assert_eq!(
            linux_resources(&r, true).pids().as_ref().map(|p| p.limit()),
            Some(20)
        );
        let r = ResourceRequest {
            pids_limit: Some(0),
            ..req()
        };
        assert_eq!(
            linux_resources(&r, true).pids().as_ref().map(|p| p.limit()),
            Some(-1)
        );
    }

    #[test]
    fn blkio_weight() {
        let r = ResourceRequest {
            blkio_weight: Some(300),
            ..req()
        };
        let b = linux_resources(&r, false)
            .block_io()
            .clone()
            .expect("blkio");
        assert_eq!(b.weight(), Some(300));
        let bad = ResourceRequest {
            blkio_weight: Some(5),
            ..req()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn validation_rules() {
        let small = ResourceRequest {
            memory: Some(1 << 20),
            ..req()
        };
        assert_eq!(small.validate(), Err(ResourceError::MemoryTooSmall));
        let swap_only = ResourceRequest {
            memory_swap: Some(1 << 30),
            ..req()
        };
        assert_eq!(swap_only.validate(), Err(ResourceError::SwapWithoutMemory));
        let both = ResourceRequest {
            nano_cpus: Some(1),
            cpu_quota: Some(1),
            ..req()
        };
        assert_eq!(both.validate(), Err(ResourceError::CpusWithQuota));
        let adj = ResourceRequest {
            oom_score_adj: Some(2000),
            ..req()
        };
        assert!(adj.validate().is_err());
        assert!(ResourceRequest::parse_cgroups_mode("split").is_ok());
        assert!(ResourceRequest::parse_cgroups_mode("sometimes").is_err());
    }

    #[test]
    fn which_flags_need_a_cgroup() {
        assert!(!req().has_cgroup_limits());
        let adj = ResourceRequest {
            oom_score_adj: Some(100),
            ..req()
        };
        assert!(!adj.has_cgroup_limits());
        let mem = ResourceRequest {
            memory: Some(64 << 20),
            ..req()
        };
        assert!(mem.has_cgroup_limits());
    }

    #[test]
    fn merge_for_update() {
        let mut base = ResourceRequest {
            memory: Some(64 << 20),
            cpu_quota: Some(1000),
            ..req()
        };
        base.merge(&ResourceRequest {
            nano_cpus: Some(1_000_000_000),
            ..req()
        });
        assert_eq!(base.memory, Some(64 << 20));
        assert_eq!(base.cpu_quota, None);
        assert_eq!(base.nano_cpus, Some(1_000_000_000));

        let dev = |path: &str, value| DeviceLimit {
            path: path.into(),
            value,
            ..DeviceLimit::default()
        };
        base.device_read_bps = vec![dev("/dev/a", 1), dev("/dev/b", 2)];
        base.merge(&ResourceRequest {
            device_read_bps: vec![dev("/dev/a", 5)],
            memory_swappiness: Some(10),
            cpu_rt_runtime: Some(950),
            ..req()
        });
        assert_eq!(
            base.device_read_bps,
            vec![dev("/dev/b", 2), dev("/dev/a", 5)]
        );
        assert_eq!(base.memory_swappiness, Some(10));
        assert_eq!(base.cpu_rt_runtime, Some(950));
        assert_eq!(base.memory, Some(64 << 20));
    }

    #[test]
    fn device_limits_parse_with_podmans_words() {
        let w = parse_weight_device("/dev/vda:200").expect("weight");
        assert_eq!((w.path.as_str(), w.value), ("/dev/vda", 200));
        assert_eq!(parse_weight_device("/dev/vda:0").map(|d| d.value), Ok(0));
        for (bad, msg) in [
            ("/dev/vda:5", "invalid weight for device: /dev/vda:5"),
            ("/dev/vda", "bad format: /dev/vda"),
            ("/tmp:10", "bad format for device path: /tmp:10"),
        ] {
            assert_eq!(
                parse_weight_device(bad),
                Err(ResourceError::Podman(msg.into()))
            );
        }
        assert_eq!(
            parse_bps_device("/dev/vda:1mb").map(|d| d.value),
            Ok(1 << 20)
        );
        assert_eq!(parse_bps_device("/dev/vda:2k").map(|d| d.value), Ok(2048));
        assert!(parse_bps_device("/dev/vda:xx").is_err());
        assert_eq!(parse_iops_device("/dev/vda:100").map(|d| d.value), Ok(100));
        assert!(parse_iops_device("/dev/vda:1k").is_err());
        let r = parse_device_cgroup_rule("c 1:* rwm").expect("rule");
        assert_eq!((r.kind, r.major, r.minor), ('c', Some(1), None));
        assert!(parse_device_cgroup_rule("x 1:3 rwm").is_err());
        assert!(parse_device_cgroup_rule("c 1:3").is_err());
        assert!(parse_device_cgroup_rule("c 1:3 rwx").is_err());
        assert_eq!(
            parse_cgroup_conf("memory.high=1000"),
            Ok(("memory.high".into(), "1000".into()))
        );
        assert!(parse_cgroup_conf("foo").is_err());
    }

    #[test]
    fn new_limits_reach_the_runtime_spec() {
        let dev = |value| DeviceLimit {
            path: "/dev/vda".into(),
            value,
            major: 254,
            minor: 0,
        };
        let r = ResourceRequest {
            blkio_weight_device: vec![dev(200)],
            device_read_bps: vec![dev(1 << 20)],
            device_write_iops: vec![dev(50)],
            cpu_rt_period: Some(1000),
            cpu_rt_runtime: Some(100),
            memory_swappiness: Some(10),
            oom_kill_disable: true,
            device_cgroup_rules: vec![parse_device_cgroup_rule("c 1:3 rwm").expect("rule")],
            cgroup_conf: [("memory.high".to_owned(), "1000000".to_owned())].into(),
            ..req()
        };
        assert!(r.has_cgroup_limits());
        let out = linux_resources(&r, false);
        let b = out.block_io().clone().expect("blkio");
        let w = b.weight_device().clone().expect("weights");
        assert_eq!(
            (w[0].major(), w[0].minor(), w[0].weight()),
            (254, 0, Some(200))
        );
        let t = b.throttle_read_bps_device().clone().expect("bps");
        assert_eq!(t[0].rate(), 1 << 20);
        assert!(b.throttle_write_bps_device().is_none());
        let t = b.throttle_write_iops_device().clone().expect("iops");
        assert_eq!(t[0].rate(), 50);
        let c = out.cpu().clone().expect("cpu");
        assert_eq!(
            (c.realtime_period(), c.realtime_runtime()),
            (Some(1000), Some(100))
        );
        let m = out.memory().expect("memory");
        assert_eq!(
            (m.swappiness(), m.disable_oom_killer()),
            (Some(10), Some(true))
        );
        assert_eq!(m.limit(), None);
        let d = out.devices().clone().expect("devices");
        assert_eq!((d[0].major(), d[0].minor()), (Some(1), Some(3)));
        let u = out.unified().clone().expect("unified");
        assert_eq!(u.get("memory.high").map(String::as_str), Some("1000000"));
    }
}
