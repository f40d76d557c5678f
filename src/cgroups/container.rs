//! A container's cgroup, decided at `create` and made by its monitor.
//!
//! `create` asks [`plan`] whether the container gets a cgroup (a manager
//! exists and `--cgroups` does not disable it), stores the answer in the
//! container's userdata (`cgroup.json`), and the spec gets
//! `linux.resources`. When it starts the monitor, hutch calls [`enter`]
//! with the monitor's pid, before the monitor runs `runtime create`:
//! - systemd: a transient `hutch-<id>.scope` (Delegate=yes) holding the
//!   monitor; the monitor moves to `<scope>/monitor` and the container goes
//!   to `<scope>/container`, so both are accounted under the scope, which
//!   systemd removes when the last of them exits;
//! - cgroupfs: the same layout in a `hutch-<id>` directory under the
//!   delegated subtree (or `--cgroup-parent`).
//!
//! The runtime is given the container's cgroupfs path (`linux.cgroupsPath`,
//! patched into config.json) and creates it with the limits.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::{CgroupHost, CgroupVersion, Manager};
use crate::runtime::spec::resources::ResourceRequest;

const PLAN_FILE: &str = "cgroup.json";

/// What `create` decided, read back by the monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// "systemd" or "cgroupfs".
    pub manager: String,
    /// `--cgroups`: enabled, no-conmon or split.
    pub mode: String,
    pub parent: Option<String>,
}

/// The create-time verdict: the plan (`None`: no cgroup) and the warnings
/// to print once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub plan: Option<Plan>,
    pub warnings: Vec<String>,
    pub v2: bool,
}

/// Pure: whether a container with these flags gets a cgroup on `host`.
pub fn plan(host: &CgroupHost, req: &ResourceRequest) -> Decision {
    let v2 = host.version == CgroupVersion::V2;
    if req.cgroups_disabled() {
        return Decision {
            plan: None,
            warnings: Vec::new(),
            v2,
        };
    }
    let manager = match host.manager {
        Manager::Systemd => "systemd",
        Manager::Cgroupfs => "cgroupfs",
        Manager::None => {
            let warnings = if req.has_cgroup_limits() {
                vec![limits_ignored(host)]
            } else {
                Vec::new()
            };
            return Decision {
                plan: None,
                warnings,
                v2,
            };
        }
    };
    Decision {
        plan: Some(Plan {
            manager: manager.to_owned(),
            mode: req.cgroups.clone().unwrap_or_else(|| "enabled".to_owned()),
            parent: req.cgroup_parent.clone(),
        }),
        warnings: Vec::new(),
        v2,
    }
}

impl Plan {
    pub fn write(&self, userdata: &Path) -> anyhow::Result<()> {
        let path = userdata.join(PLAN_FILE);
        std::fs::write(&path, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }

    pub fn read(userdata: &Path) -> Option<Plan> {
        let text = std::fs::read(userdata.join(PLAN_FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }
}

/// The container's cgroup once made.
#[derive(Debug, Clone)]
pub struct Entered {
    /// The container's cgroup directory (for the OOM check after exit).
    pub dir: PathBuf,
    /// Where the monitor was before, for `--cgroups=no-conmon`: it moves
    /// back there after `create`.
    pub original: Option<PathBuf>,
}

/// The one warning where limits were asked for and no manager can apply
/// them: Podman's words (hybrid hosts count as v1 for it).
pub(super) fn limits_ignored(host: &CgroupHost) -> String {
    match host.version {
        CgroupVersion::V1 | CgroupVersion::Hybrid => {
            "Resource limits are not supported and ignored on cgroups V1 rootless systems"
                .to_owned()
        }
        CgroupVersion::V2 => format!(
            "Resource limits are not supported and ignored: no cgroup manager ({})",
            host.reason
        ),
    }
}

/// Makes the container's cgroup, moves the monitor `monitor` (a child of
/// the caller, still in the caller's cgroup) into it and patches
/// config.json's `linux.cgroupsPath`; `Ok(None)` when the container has
/// none. Called by hutch while the monitor waits, before `runtime create`.
pub fn enter(id: &str, userdata: &Path, monitor: i32) -> anyhow::Result<Option<Entered>> {
    let Some(plan) = Plan::read(userdata) else {
        return Ok(None);
    };
    let me = monitor;
    let own = super::v2::cgroup_of(None).context("finding the monitor's cgroup")?;
    let short = &id[..12.min(id.len())];
    // The directory that holds the container: the scope (systemd) or a
    // hutch-<id> directory (cgroupfs); with `split`, the caller's cgroup.
    let base: String = match (plan.manager.as_str(), plan.mode.as_str()) {
        (_, "split") => {
            let parent = split_parent(&own);
            let parent_dir = super::v2::dir_of(&parent);
            // cgroup v2 lets a cgroup that holds processes enable no
            // controller for its children (a service's has hutch and the
            // monitor): as Podman does, they move to a leaf `runtime` first.
            if let Err(e) = move_all_into(&parent_dir, &parent_dir.join(SPLIT_LEAF)) {
                tracing::warn!(container = id, "{e:#}");
            } else if let Err(e) = super::v2::enable_controllers(&parent_dir) {
                tracing::warn!(container = id, "{e:#}");
            }
            format!("{parent}/hutch-{id}")
        }
        ("systemd", _) => {
            let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
            let bus = super::session_bus(xdg.as_deref())
                .context("the systemd cgroup manager needs the session bus, and none is found")?;
            let slice = plan
                .parent
                .clone()
                .filter(|p| p.ends_with(".slice"))
                .unwrap_or_else(|| "user.slice".to_owned());
            super::systemd::start_scope(
                &bus,
                &format!("hutch-{id}.scope"),
                &slice,
                &format!("hutch container {short}"),
                &[me as u32],
            )?
        }
        _ => {
            // A sibling of the caller's cgroup: the caller's own holds
            // processes, so it may enable no controller for a child, while
            // a delegated parent whose processes sit in leaves can.
            let parent = plan.parent.clone().unwrap_or_else(|| {
                let own = own.trim_end_matches('/');
                match own.rsplit_once('/') {
                    Some((p, _)) if !p.is_empty() => p.to_owned(),
                    _ => own.to_owned(),
                }
            });
            if let Err(e) = super::v2::enable_controllers(&super::v2::dir_of(&parent)) {
                tracing::warn!(container = id, "{e:#}");
            }
            format!("{}/hutch-{id}", parent.trim_end_matches('/'))
        }
    };
    let base_dir = super::v2::dir_of(&base);
    std::fs::create_dir_all(&base_dir)
        .with_context(|| format!("creating cgroup {}", base_dir.display()))?;
    if plan.mode != "split" {
        // cgroup v2 lets a cgroup with processes enable no controller for
        // its children: the monitor leaves the base for a leaf of its own.
        super::v2::move_into(&base_dir.join("monitor"), me)?;
    }
    if let Err(e) = super::v2::enable_controllers(&base_dir) {
        tracing::warn!(container = id, "{e:#}");
    }
    let path = format!("{base}/container");
    set_cgroups_path(userdata, &path)?;
    Ok(Some(Entered {
        dir: super::v2::dir_of(&path),
        original: monitor_returns(&plan).then(|| super::v2::dir_of(&own)),
    }))
}

/// Readies this process to have the runtime put an exec'd process into the
/// container's cgroup. Moving a process needs write access to the
/// `cgroup.procs` of the common ancestor of its cgroup and the target:
/// from a login session (`session-N.scope`, under root's `user-N.slice`)
/// a rootless user has none, so hutch first moves itself into a scope of
/// the user's systemd, `hutch-exec-PID.scope`, as Podman moves itself into
/// `podman-PID.scope`. Errors are only logged: the runtime then says why.
pub fn reach_for_exec(userdata: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    if Plan::read(userdata).is_none_or(|p| p.manager != "systemd") {
        return;
    }
    let Some(own) = super::v2::cgroup_of(None) else {
        return;
    };
    let procs = super::v2::dir_of(&own).join("cgroup.procs");
    // In the user namespace the user's own files show as owned by its root.
    let euid = rustix::process::geteuid().as_raw();
    if std::fs::metadata(&procs).is_ok_and(|m| m.uid() == euid) {
        return;
    }
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let Some(bus) = super::session_bus(xdg.as_deref()) else {
        return;
    };
    let pid = std::process::id();
    if let Err(e) = super::systemd::start_scope(
        &bus,
        &format!("hutch-exec-{pid}.scope"),
        "user.slice",
        "hutch exec",
        &[pid],
    ) {
        tracing::warn!("moving hutch into a scope of the user's systemd for exec: {e:#}");
    }
}

/// The leaf that the processes of the caller's cgroup move to with
/// `--cgroups=split` (Podman's name).
const SPLIT_LEAF: &str = "runtime";

/// The cgroup that holds a `--cgroups=split` container: the caller's, or
/// its parent when the caller is in the leaf an earlier split made.
fn split_parent(own: &str) -> String {
    let own = own.trim_end_matches('/');
    match own.rsplit_once('/') {
        Some((p, leaf)) if leaf == SPLIT_LEAF && !p.is_empty() => p.to_owned(),
        _ => own.to_owned(),
    }
}

/// Moves every process of `from` (not its children's) into `to`. A
/// process may fork meanwhile: a few rounds until `from` is empty.
fn move_all_into(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating cgroup {}", to.display()))?;
    for _ in 0..8 {
        let procs = std::fs::read_to_string(from.join("cgroup.procs"))
            .with_context(|| format!("reading the processes of {}", from.display()))?;
        let pids: Vec<i32> = procs
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.is_empty() {
            return Ok(());
        }
        for pid in pids {
            // A process that exited meanwhile (ESRCH) needs no move.
            if let Err(e) = std::fs::write(to.join("cgroup.procs"), pid.to_string())
                && e.raw_os_error() != Some(libc::ESRCH)
            {
                return Err(e)
                    .with_context(|| format!("moving process {pid} into cgroup {}", to.display()));
            }
        }
    }
    Ok(())
}

/// Whether the monitor goes back to the caller's cgroup once the
/// container is created: `--cgroups=no-conmon`, and a container started by
/// a systemd service (`INVOCATION_ID` set), as Podman keeps conmon in the
/// service's cgroup there. systemd takes a main pid (`PIDFile=` of a
/// forking pod service, `MAINPID=`) from outside the unit's cgroup only
/// from root, so the monitor must stay inside.
fn monitor_returns(plan: &Plan) -> bool {
    returns_to_caller(&plan.mode, std::env::var_os("INVOCATION_ID").is_some())
}

/// Pure: [`monitor_returns`] for a `--cgroups` mode, in a service or not.
fn returns_to_caller(mode: &str, in_service: bool) -> bool {
    mode == "no-conmon" || (mode == "enabled" && in_service)
}

/// The monitor's cgroup to return to with `--cgroups=no-conmon` or in a
/// systemd service (the caller's, which the monitor inherits), known
/// before it starts.
pub fn return_dir(userdata: &Path) -> Option<PathBuf> {
    let plan = Plan::read(userdata)?;
    monitor_returns(&plan)
        .then(|| super::v2::cgroup_of(None).map(|c| super::v2::dir_of(&c)))
        .flatten()
}

/// The container was OOM-killed: `memory.events` of its cgroup (the
/// `linux.cgroupsPath` the last [`enter`] patched in) counted a kill.
pub fn oom_killed(userdata: &Path) -> bool {
    if Plan::read(userdata).is_none() {
        return false;
    }
    let Ok(text) = std::fs::read(userdata.join("config.json")) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|spec| spec["linux"]["cgroupsPath"].as_str().map(super::v2::dir_of))
        .is_some_and(|dir| super::v2::oom_kills(&dir) > 0)
}

fn set_cgroups_path(userdata: &Path, path: &str) -> anyhow::Result<()> {
    let file = userdata.join("config.json");
    let text = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let mut spec: serde_json::Value = serde_json::from_slice(&text)?;
    if let Some(linux) = spec.get_mut("linux").and_then(|l| l.as_object_mut()) {
        linux.insert("cgroupsPath".to_owned(), serde_json::Value::from(path));
    }
    std::fs::write(&file, serde_json::to_vec_pretty(&spec)?)
        .with_context(|| format!("writing {}", file.display()))
}

/// The live cgroup directory of a running container, from its init's
/// /proc/PID/cgroup.
pub fn live_dir(pid: i32) -> Option<PathBuf> {
    super::v2::cgroup_of(Some(pid)).map(|p| super::v2::dir_of(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(version: CgroupVersion, manager: Manager) -> CgroupHost {
        CgroupHost {
            version,
            manager,
            reason: "because".into(),
        }
    }

    #[test]
    fn cgroups_path_is_patched_into_the_spec() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"ociVersion":"1.0.2-dev","linux":{"namespaces":[]}}"#,
        )
        .expect("write");
        set_cgroups_path(dir.path(), "/user.slice/hutch-a.scope/container").expect("patched");
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).expect("read"))
                .expect("json");
        assert_eq!(
            spec["linux"]["cgroupsPath"],
            "/user.slice/hutch-a.scope/container"
        );
        assert!(spec["linux"]["namespaces"].is_array(), "the rest is kept");

        let plan = Plan {
            manager: "systemd".into(),
            mode: "enabled".into(),
            parent: None,
        };
        plan.write(dir.path()).expect("written");
        assert_eq!(Plan::read(dir.path()), Some(plan));
    }

    #[test]
    fn hybrid_ignores_limits_with_one_warning() {
        let req = ResourceRequest {
            memory: Some(64 << 20),
            nano_cpus: Some(1),
            ..Default::default()
        };
        let d = plan(&host(CgroupVersion::Hybrid, Manager::None), &req);
        assert_eq!(d.plan, None);
        assert_eq!(d.warnings.len(), 1);
        assert!(d.warnings[0].contains("ignored"));
        let d = plan(
            &host(CgroupVersion::Hybrid, Manager::None),
            &ResourceRequest::default(),
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn split_goes_below_the_caller_or_beside_an_earlier_leaf() {
        assert_eq!(
            split_parent("/user.slice/app.slice/web.service"),
            "/user.slice/app.slice/web.service"
        );
        assert_eq!(
            split_parent("/user.slice/app.slice/web.service/runtime"),
            "/user.slice/app.slice/web.service"
        );
        assert_eq!(split_parent("/runtime"), "/runtime");
    }

    #[test]
    fn the_monitor_stays_in_a_service_and_with_no_conmon() {
        assert!(returns_to_caller("no-conmon", false));
        assert!(returns_to_caller("enabled", true));
        assert!(!returns_to_caller("enabled", false));
        // split keeps it below the caller anyway; disabled makes no cgroup.
        assert!(!returns_to_caller("split", true));
    }

    #[test]
    fn manager_gives_a_plan_unless_disabled() {
        let req = ResourceRequest {
            memory: Some(64 << 20),
            cgroup_parent: Some("my.slice".into()),
            ..Default::default()
        };
        let d = plan(&host(CgroupVersion::V2, Manager::Systemd), &req);
        let p = d.plan.expect("a plan");
        assert_eq!(p.manager, "systemd");
        assert_eq!(p.mode, "enabled");
        assert_eq!(p.parent.as_deref(), Some("my.slice"));
        assert!(d.warnings.is_empty());
        let off = ResourceRequest {
            cgroups: Some("disabled".into()),
            ..req
        };
        assert_eq!(
            plan(&host(CgroupVersion::V2, Manager::Cgroupfs), &off).plan,
            None
        );
    }
}
