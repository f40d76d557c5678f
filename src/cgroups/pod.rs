//! A pod's cgroup: the parent of its containers' cgroups, holding the
//! pod's limits (`pod create --cpus/--memory`), as Podman's pod cgroup.
//!
//! Decided and made at `pod create`, stored in the pod's configuration:
//! - systemd: a transient slice `user-hutch_pod_<id>.slice` in the user's
//!   `user.slice` (or `--cgroup-parent`), with `MemoryMax` and
//!   `CPUQuotaPerSecUSec`; each container's scope is started in it;
//! - cgroupfs: a directory `hutch-pod-<id>` beside the caller's cgroup (or
//!   under `--cgroup-parent`), with `memory.max` and `cpu.max` written; each
//!   container's `hutch-<id>` directory is made in it.
//!
//! Where no cgroup can be had (cgroup v1 or hybrid rootless, no delegation)
//! the pod has none and limits are ignored with the warning containers get.
//! This module takes plain values and does not know the engine.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use zbus::zvariant::Value;

use super::{CgroupHost, Manager};
use crate::runtime::spec::resources::{ResourceRequest, shares_to_weight};

/// The CFS period Podman sets with `--cpus` (and prints in `pod inspect`).
pub const CPU_PERIOD: u64 = 100_000;

/// Where a pod's cgroup is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodCgroup {
    /// "systemd" or "cgroupfs".
    pub manager: String,
    /// systemd: the slice the pod's slice sits in; cgroupfs: the parent
    /// cgroup path.
    pub parent: String,
    /// systemd: the pod's slice unit name, which containers name as their
    /// cgroup parent; cgroupfs: the pod's cgroup path.
    pub path: String,
}

/// The CPU quota per period that `nano_cpus` gives (Podman's rule).
pub fn cpu_quota(nano_cpus: u64) -> i64 {
    (nano_cpus as u128 * CPU_PERIOD as u128 / 1_000_000_000) as i64
}

/// Pure: the pod cgroup on `host` for pod `id` whose own cgroup (the
/// caller's, for cgroupfs) is `own`, and the warnings to print once.
pub fn plan(
    host: &CgroupHost,
    id: &str,
    own: Option<&str>,
    req: &ResourceRequest,
) -> (Option<PodCgroup>, Vec<String>) {
    let limited = req.has_cgroup_limits();
    match host.manager {
        Manager::None => {
            let warnings = if limited {
                vec![super::container::limits_ignored(host)]
            } else {
                Vec::new()
            };
            (None, warnings)
        }
        Manager::Systemd => {
            let parent = req
                .cgroup_parent
                .clone()
                .filter(|p| p.ends_with(".slice"))
                .unwrap_or_else(|| "user.slice".to_owned());
            let stem = parent.trim_end_matches(".slice");
            let path = if stem == "-" || stem.is_empty() {
                format!("hutch_pod_{id}.slice")
            } else {
                format!("{stem}-hutch_pod_{id}.slice")
            };
            (
                Some(PodCgroup {
                    manager: "systemd".to_owned(),
                    parent,
                    path,
                }),
                Vec::new(),
            )
        }
        Manager::Cgroupfs => {
            // A sibling of the caller's cgroup, as a container's (the
            // caller's own holds processes, so it can enable no controller
            // for a child).
            let parent = req.cgroup_parent.clone().unwrap_or_else(|| {
                let own = own.unwrap_or("/").trim_end_matches('/');
                match own.rsplit_once('/') {
                    Some((p, _)) if !p.is_empty() => p.to_owned(),
                    _ => own.to_owned(),
                }
            });
            let path = format!("{}/hutch-pod-{id}", parent.trim_end_matches('/'));
            (
                Some(PodCgroup {
                    manager: "cgroupfs".to_owned(),
                    parent,
                    path,
                }),
                Vec::new(),
            )
        }
    }
}

/// The cgroup v2 files for `req`'s pod limits: (file, contents).
pub fn limit_files(req: &ResourceRequest) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(m) = req.memory.filter(|m| *m > 0) {
        out.push(("memory.max", m.to_string()));
    }
    if let Some(n) = req.nano_cpus.filter(|n| *n > 0) {
        out.push(("cpu.max", format!("{} {CPU_PERIOD}", cpu_quota(n))));
    }
    // The cgroup v1 values in v2's files, with runc's and crun's
    // conversions.
    if let Some(s) = req.cpu_shares.filter(|s| *s > 0) {
        out.push(("cpu.weight", shares_to_weight(s).to_string()));
    }
    if let Some(c) = &req.cpuset_cpus {
        out.push(("cpuset.cpus", c.clone()));
    }
    if let Some(m) = &req.cpuset_mems {
        out.push(("cpuset.mems", m.clone()));
    }
    match (req.memory_swap, req.memory) {
        (Some(-1), _) => out.push(("memory.swap.max", "max".to_owned())),
        (Some(s), Some(m)) if s >= m => out.push(("memory.swap.max", (s - m).to_string())),
        _ => {}
    }
    if let Some(w) = req.blkio_weight.filter(|w| *w > 0) {
        out.push((
            "io.weight",
            format!("default {}", blkio_to_io_weight(w.into())),
        ));
    }
    for d in &req.blkio_weight_device {
        out.push((
            "io.weight",
            format!("{}:{} {}", d.major, d.minor, blkio_to_io_weight(d.value)),
        ));
    }
    for (key, list) in [
        ("rbps", &req.device_read_bps),
        ("wbps", &req.device_write_bps),
    ] {
        for d in list {
            out.push((
                "io.max",
                format!("{}:{} {key}={}", d.major, d.minor, d.value),
            ));
        }
    }
    out
}

/// runc's `ConvertBlkIOToIOWeightValue`: [10, 1000] onto [1, 10000].
fn blkio_to_io_weight(w: u64) -> u64 {
    1 + (w.clamp(10, 1000) - 10) * 9999 / 990
}

/// Makes the pod's cgroup with `req`'s limits. `bus`: the session bus
/// (systemd only).
pub fn make(pc: &PodCgroup, req: &ResourceRequest, bus: Option<&Path>) -> anyhow::Result<()> {
    match pc.manager.as_str() {
        "systemd" => {
            let bus = bus.context(
                "the systemd cgroup manager needs the session bus for the pod's slice, and none is found",
            )?;
            let conn = super::systemd::connect(bus)?;
            let mut props: Vec<(&str, Value<'_>)> = vec![
                ("Description", Value::from("hutch pod")),
                // A slice's parent is in its name (systemd refuses `Slice`
                // on a slice unit: "Slice may not be set for slice units",
                // found by the host tier); Podman sets `Wants` on it.
                ("Wants", Value::from(vec![pc.parent.as_str()])),
                ("DefaultDependencies", Value::from(false)),
            ];
            if let Some(m) = req.memory.filter(|m| *m > 0) {
                props.push(("MemoryMax", Value::from(m as u64)));
            }
            if let Some(n) = req.nano_cpus.filter(|n| *n > 0) {
                // systemd's unit: CPU time per second of wall time.
                props.push(("CPUQuotaPerSecUSec", Value::from(n / 1000)));
            }
            let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
            conn.call_method(
                Some("org.freedesktop.systemd1"),
                "/org/freedesktop/systemd1",
                Some("org.freedesktop.systemd1.Manager"),
                "StartTransientUnit",
                &(pc.path.as_str(), "replace", props, aux),
            )
            .with_context(|| format!("asking the systemd user instance for slice {}", pc.path))?;
            Ok(())
        }
        _ => {
            let parent = super::v2::dir_of(&pc.parent);
            if let Err(e) = super::v2::enable_controllers(&parent) {
                tracing::warn!("{e:#}");
            }
            let dir = super::v2::dir_of(&pc.path);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the pod cgroup {}", dir.display()))?;
            for (file, value) in limit_files(req) {
                std::fs::write(dir.join(file), &value).with_context(|| {
                    format!("setting {file} of the pod cgroup {}", dir.display())
                })?;
            }
            if let Err(e) = super::v2::enable_controllers(&dir) {
                tracing::warn!("{e:#}");
            }
            Ok(())
        }
    }
}

/// Removes the pod's cgroup once its containers are gone (best effort: a
/// cgroup still holding a process stays, as systemd leaves a busy slice).
pub fn remove(pc: &PodCgroup, bus: Option<&Path>) {
    match pc.manager.as_str() {
        "systemd" => {
            let Some(bus) = bus else { return };
            let stopped = super::systemd::connect(bus).and_then(|conn| {
                conn.call_method(
                    Some("org.freedesktop.systemd1"),
                    "/org/freedesktop/systemd1",
                    Some("org.freedesktop.systemd1.Manager"),
                    "StopUnit",
                    &(pc.path.as_str(), "replace"),
                )
                .map(|_| ())
                .with_context(|| format!("stopping slice {}", pc.path))
            });
            if let Err(e) = stopped {
                tracing::warn!("{e:#}");
            }
        }
        _ => remove_tree(&super::v2::dir_of(&pc.path)),
    }
}

/// rmdir of a cgroup directory and the empty cgroups below it (the
/// containers' `hutch-<id>/{monitor,container}`), deepest first.
fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::CgroupVersion;

    fn host(version: CgroupVersion, manager: Manager) -> CgroupHost {
        CgroupHost {
            version,
            manager,
            reason: "because".into(),
        }
    }

    fn limits() -> ResourceRequest {
        ResourceRequest {
            memory: Some(64 << 20),
            nano_cpus: Some(1_500_000_000),
            ..Default::default()
        }
    }

    #[test]
    fn no_manager_warns_once_and_makes_none() {
        let (pc, w) = plan(
            &host(CgroupVersion::Hybrid, Manager::None),
            "abc",
            None,
            &limits(),
        );
        assert_eq!(pc, None);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("ignored on cgroups V1"));
        let (_, w) = plan(
            &host(CgroupVersion::Hybrid, Manager::None),
            "abc",
            None,
            &ResourceRequest::default(),
        );
        assert!(w.is_empty());
    }

    #[test]
    fn cgroupfs_pod_sits_beside_the_caller() {
        let (pc, w) = plan(
            &host(CgroupVersion::V2, Manager::Cgroupfs),
            "abc",
            Some("/user.slice/user-1000.slice/session-3.scope"),
            &limits(),
        );
        assert!(w.is_empty());
        let pc = pc.expect("a pod cgroup");
        assert_eq!(pc.parent, "/user.slice/user-1000.slice");
        assert_eq!(pc.path, "/user.slice/user-1000.slice/hutch-pod-abc");
        assert_eq!(
            limit_files(&limits()),
            [
                ("memory.max", "67108864".to_owned()),
                ("cpu.max", "150000 100000".to_owned())
            ]
        );
    }

    #[test]
    fn systemd_pod_is_a_slice_in_the_parent() {
        let (pc, _) = plan(
            &host(CgroupVersion::V2, Manager::Systemd),
            "abc",
            None,
            &ResourceRequest::default(),
        );
        let pc = pc.expect("a slice");
        assert_eq!(pc.parent, "user.slice");
        assert_eq!(pc.path, "user-hutch_pod_abc.slice");
        assert_eq!(cpu_quota(1_500_000_000), 150_000);
    }
}
