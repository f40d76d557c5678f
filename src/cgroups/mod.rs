//! Which cgroup hierarchy the host has and which manager hutch would use.
//!
//! Detection only reads the file system: no D-Bus connection is made here, so
//! `hutch info` stays fast and works without a session bus. The choice can
//! be forced with `--cgroup-manager` or containers.conf `cgroup_manager`
//! (see [`conf`]). [`container`] gives each container its cgroup (a systemd
//! scope over D-Bus, see [`systemd`], or a cgroupfs directory), [`v2`]
//! reads and writes the cgroup v2 files (stats, OOM, controllers).

pub mod container;
pub mod pod;
pub mod stats;
pub mod systemd;
pub mod update;
pub mod v2;

use std::path::{Path, PathBuf};

use serde::Serialize;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const TMPFS_MAGIC: i64 = 0x0102_1994;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CgroupVersion {
    /// Only cgroup v1 controllers.
    V1,
    /// v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified.
    Hybrid,
    V2,
}

impl CgroupVersion {
    /// Podman reports hybrid hosts as "v1": limits go through v1 there.
    pub fn podman_name(self) -> &'static str {
        match self {
            CgroupVersion::V2 => "v2",
            CgroupVersion::V1 | CgroupVersion::Hybrid => "v1",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    Cgroupfs,
    /// No cgroup of the container's own: limits cannot be applied.
    None,
}

impl Manager {
    pub fn name(self) -> &'static str {
        match self {
            Manager::Systemd => "systemd",
            Manager::Cgroupfs => "cgroupfs",
            Manager::None => "none",
        }
    }
}

/// The verdict with the reason a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupHost {
    pub version: CgroupVersion,
    pub manager: Manager,
    pub reason: String,
}

/// What detection looked at, so the decision itself is testable.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub root_magic: i64,
    pub unified_magic: Option<i64>,
    pub rootless: bool,
    pub session_bus: Option<PathBuf>,
    /// The process's own v2 cgroup directory is writable by the user.
    pub own_cgroup_writable: bool,
    /// `--cgroup-manager` or containers.conf `cgroup_manager`, with where
    /// it came from ("--cgroup-manager", a file path).
    pub requested: Option<(String, String)>,
    /// The caller's own cgroup v2 path (`0::` of /proc/self/cgroup), to
    /// tell a batch job's cgroup from the user's systemd session.
    pub caller_cgroup: Option<String>,
}

pub fn detect(rootless: bool, run_dir_base: Option<&Path>) -> CgroupHost {
    decide(&gather(rootless, run_dir_base))
}

/// Detection for this command: the host, the user's session bus, and the
/// manager asked for by `--cgroup-manager` or containers.conf.
pub fn detect_for(ctx: &crate::config::Context) -> CgroupHost {
    let xdg = ctx
        .run_dir_from_xdg
        .then(|| ctx.run_dir.parent().map(|p| p.to_path_buf()))
        .flatten()
        .or_else(|| std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from));
    let mut facts = gather(ctx.rootless(), xdg.as_deref());
    facts.requested = match &ctx.cgroup_manager {
        Some(m) => Some((m.clone(), "--cgroup-manager".to_owned())),
        None => ctx
            .containers_conf()
            .cgroup_manager
            .as_ref()
            .map(|(m, path)| (m.clone(), path.display().to_string())),
    };
    decide(&facts)
}

#[allow(
    clippy::unnecessary_cast,
    reason = "f_type's width differs between architectures"
)]
fn fs_magic(path: &str) -> Option<i64> {
    rustix::fs::statfs(path).ok().map(|s| s.f_type as i64)
}

fn gather(rootless: bool, xdg_runtime_dir: Option<&Path>) -> Facts {
    let root_magic = fs_magic("/sys/fs/cgroup").unwrap_or(0);
    let unified_magic = (root_magic == TMPFS_MAGIC)
        .then(|| fs_magic("/sys/fs/cgroup/unified"))
        .flatten();
    Facts {
        root_magic,
        unified_magic,
        rootless,
        session_bus: session_bus(xdg_runtime_dir),
        own_cgroup_writable: own_cgroup_writable(root_magic == CGROUP2_SUPER_MAGIC),
        requested: None,
        caller_cgroup: (root_magic == CGROUP2_SUPER_MAGIC)
            .then(|| v2::cgroup_of(None))
            .flatten(),
    }
}

pub(crate) fn session_bus(xdg_runtime_dir: Option<&Path>) -> Option<PathBuf> {
    if let Ok(addr) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        for part in addr.split(';').flat_map(|a| a.split(',')) {
            if let Some(path) = part.strip_prefix("unix:path=") {
                let path = PathBuf::from(path);
                if path.exists() {
                    return Some(path);
                }
            }
        }
    }
    let bus = xdg_runtime_dir?.join("bus");
    bus.exists().then_some(bus)
}

fn own_cgroup_writable(v2: bool) -> bool {
    if !v2 {
        return false;
    }
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return false;
    };
    let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::")) else {
        return false;
    };
    let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    rustix::fs::access(dir.join("cgroup.procs"), rustix::fs::Access::WRITE_OK).is_ok()
}

pub fn decide(f: &Facts) -> CgroupHost {
    let version = if f.root_magic == CGROUP2_SUPER_MAGIC {
        CgroupVersion::V2
    } else if f.unified_magic == Some(CGROUP2_SUPER_MAGIC) {
        CgroupVersion::Hybrid
    } else {
        CgroupVersion::V1
    };
    if version == CgroupVersion::V2
        && f.rootless
        && let Some(job) = f.caller_cgroup.as_deref().filter(|c| is_job_cgroup(c))
    {
        let (manager, reason) = in_job(job, f);
        return CgroupHost {
            version,
            manager,
            reason,
        };
    }
    let (manager, reason) = match (version, f.rootless, &f.requested) {
        (CgroupVersion::V2, _, Some((m, from))) if m == "systemd" => {
            if f.session_bus.is_some() {
                (
                    Manager::Systemd,
                    format!("cgroup_manager = systemd set by {from}"),
                )
            } else {
                (
                    Manager::None,
                    format!(
                        "cgroup_manager = systemd set by {from}, but no session bus answers \
                         (neither $DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus): \
                         containers run without resource limits"
                    ),
                )
            }
        }
        (CgroupVersion::V2, _, Some((m, from))) if m == "cgroupfs" => {
            if f.own_cgroup_writable || !f.rootless {
                (
                    Manager::Cgroupfs,
                    format!("cgroup_manager = cgroupfs set by {from}"),
                )
            } else {
                (
                    Manager::None,
                    format!(
                        "cgroup_manager = cgroupfs set by {from}, but your cgroup v2 subtree is \
                         not delegated to you: containers run without resource limits"
                    ),
                )
            }
        }
        (_, rootless, Some((m, from))) if version != CgroupVersion::V2 => (
            Manager::None,
            format!(
                "cgroup_manager = {m} set by {from} is ignored: cgroup {} host{}, so containers run \
                 without resource limits and limit flags are ignored with a warning",
                if version == CgroupVersion::Hybrid {
                    "v1/v2 hybrid"
                } else {
                    "v1"
                },
                if rootless {
                    " and an unprivileged user cannot be delegated cgroups here"
                } else {
                    ""
                }
            ),
        ),
        _ => decide_auto(version, f),
    };
    CgroupHost {
        version,
        manager,
        reason,
    }
}

/// A cgroup that is neither the user's systemd session nor the root: a
/// batch job's (Slurm's `/system.slice/slurmstepd.scope/job_N/...`), a
/// service's. Only where systemd manages the user's sessions does this
/// change anything: a systemd scope there would take the container out of
/// the job's limits and accounting.
pub fn is_job_cgroup(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    !(p.is_empty() || p == "/user.slice" || p.starts_with("/user.slice/"))
}

/// The caller runs in a job's cgroup: containers stay in it (below it when
/// it is delegated to the user), whatever manager was asked for, so the
/// job's limits and accounting apply; no process is moved out of it.
fn in_job(job: &str, f: &Facts) -> (Manager, String) {
    let asked = f
        .requested
        .as_ref()
        .filter(|(m, _)| m == "systemd")
        .map(|(_, from)| format!("cgroup_manager = systemd set by {from} is not used: "))
        .unwrap_or_default();
    if f.own_cgroup_writable {
        (
            Manager::Cgroupfs,
            format!(
                "{asked}your cgroup {job} is a job's (not your systemd session's) and delegated to you: containers get cgroups below it, under the job's limits"
            ),
        )
    } else {
        (
            Manager::None,
            format!(
                "{asked}your cgroup {job} belongs to a batch job or service (e.g. Slurm), not to you: containers stay in it, under the job's limits and accounting, and hutch moves no process out of it; limit flags are ignored"
            ),
        )
    }
}

fn decide_auto(version: CgroupVersion, f: &Facts) -> (Manager, String) {
    match (version, f.rootless) {
        (CgroupVersion::V2, true) if f.session_bus.is_some() => (
            Manager::Systemd,
            "the systemd user manager's session bus is present; scopes are delegated by it".to_owned(),
        ),
        (CgroupVersion::V2, true) if f.own_cgroup_writable => (
            Manager::Cgroupfs,
            "no session bus, but your cgroup v2 subtree is delegated and writable".to_owned(),
        ),
        (CgroupVersion::V2, true) => (
            Manager::None,
            "cgroup v2 without a session bus (no systemd user session) and no writable delegated subtree: \
             containers run without resource limits; log in through a systemd session or enable lingering \
             (loginctl enable-linger)"
                .to_owned(),
        ),
        (CgroupVersion::V2, false) => (Manager::Cgroupfs, "running as root on cgroup v2".to_owned()),
        (_, true) => (
            Manager::None,
            format!(
                "cgroup {} host: an unprivileged user cannot be delegated cgroups here, so containers run \
                 without resource limits and limit flags are ignored with a warning (as Podman does)",
                if version == CgroupVersion::Hybrid { "v1/v2 hybrid" } else { "v1" }
            ),
        ),
        (_, false) => (
            Manager::None,
            "cgroup v1 or hybrid host: hutch applies limits through cgroup v2 only".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(root: i64, unified: Option<i64>, rootless: bool) -> Facts {
        Facts {
            root_magic: root,
            unified_magic: unified,
            rootless,
            ..Facts::default()
        }
    }

    #[test]
    fn hybrid_rootless_has_no_manager_and_says_why() {
        let host = decide(&facts(TMPFS_MAGIC, Some(CGROUP2_SUPER_MAGIC), true));
        assert_eq!(host.version, CgroupVersion::Hybrid);
        assert_eq!(host.version.podman_name(), "v1");
        assert_eq!(host.manager, Manager::None);
        assert!(host.reason.contains("hybrid"));
    }

    #[test]
    fn v2_prefers_systemd_then_cgroupfs_then_none() {
        let mut f = facts(CGROUP2_SUPER_MAGIC, None, true);
        assert_eq!(decide(&f).manager, Manager::None);
        f.own_cgroup_writable = true;
        assert_eq!(decide(&f).manager, Manager::Cgroupfs);
        f.session_bus = Some(PathBuf::from("/run/user/1000/bus"));
        assert_eq!(decide(&f).manager, Manager::Systemd);
    }

    #[test]
    fn requested_manager_wins_where_it_can_work() {
        let mut f = facts(CGROUP2_SUPER_MAGIC, None, true);
        f.session_bus = Some(PathBuf::from("/run/user/1000/bus"));
        f.own_cgroup_writable = true;
        f.requested = Some(("cgroupfs".into(), "--cgroup-manager".into()));
        let host = decide(&f);
        assert_eq!(host.manager, Manager::Cgroupfs);
        assert!(host.reason.contains("--cgroup-manager"), "{}", host.reason);

        f.requested = Some(("systemd".into(), "/etc/containers/containers.conf".into()));
        assert_eq!(decide(&f).manager, Manager::Systemd);
        f.session_bus = None;
        let host = decide(&f);
        assert_eq!(host.manager, Manager::None);
        assert!(host.reason.contains("no session bus"), "{}", host.reason);

        f.requested = Some(("cgroupfs".into(), "x".into()));
        f.own_cgroup_writable = false;
        assert_eq!(decide(&f).manager, Manager::None);
    }

    #[test]
    fn request_cannot_give_limits_on_hybrid() {
        let mut f = facts(TMPFS_MAGIC, Some(CGROUP2_SUPER_MAGIC), true);
        f.session_bus = Some(PathBuf::from("/run/user/1000/bus"));
        f.requested = Some(("systemd".into(), "--cgroup-manager".into()));
        let host = decide(&f);
        assert_eq!(host.manager, Manager::None);
        assert!(host.reason.contains("hybrid"), "{}", host.reason);
        assert!(host.reason.contains("ignored"), "{}", host.reason);
    }

    #[test]
    fn rootful_v2_uses_cgroupfs_without_bus() {
        let host = decide(&facts(CGROUP2_SUPER_MAGIC, None, false));
        assert_eq!(host.manager, Manager::Cgroupfs);
    }

    #[test]
    fn pure_v1() {
        let host = decide(&facts(TMPFS_MAGIC, None, true));
        assert_eq!(host.version, CgroupVersion::V1);
        assert_eq!(host.manager, Manager::None);
    }

    #[test]
    fn a_job_cgroup_keeps_containers_in_it() {
        let mut f = facts(CGROUP2_SUPER_MAGIC, None, true);
        f.session_bus = Some(PathBuf::from("/run/user/1000/bus"));
        f.caller_cgroup = Some("/system.slice/slurmstepd.scope/job_42/step_0/user/task_0".into());
        let host = decide(&f);
        assert_eq!(
            host.manager,
            Manager::None,
            "never a systemd scope out of the job"
        );
        assert!(host.reason.contains("job_42"), "{}", host.reason);
        f.requested = Some(("systemd".into(), "--cgroup-manager".into()));
        assert_eq!(decide(&f).manager, Manager::None);
        f.own_cgroup_writable = true;
        assert_eq!(decide(&f).manager, Manager::Cgroupfs);
        // A login session is the user's own: systemd as before.
        f.requested = None;
        f.caller_cgroup = Some("/user.slice/user-1000.slice/session-3.scope".into());
        assert_eq!(decide(&f).manager, Manager::Systemd);
        assert!(!is_job_cgroup("/"));
        assert!(is_job_cgroup("/slurm/uid_1000/job_7"));
    }

    #[test]
    fn detection_on_this_host_is_consistent() {
        let host = detect(true, None);
        assert!(!host.reason.is_empty());
    }
}
