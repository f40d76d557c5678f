//! `hutch system check`: can this host run hutch's containers, and if not,
//! what to change. Each finding names one thing, says what was found and,
//! when it is not fine, the fix. Host facts come from `host/` (and the
//! userns crate's own checks, so the report and `run` agree); the store's
//! integrity from the storage crate ([`hutch_storage::check`]).
//!
//! The host part needs no user namespace (it must answer exactly where one
//! cannot be made); the storage part runs inside it, which the front end
//! joins in between (see [`storage`]).

use std::path::Path;

use serde::Serialize;

use crate::cgroups;
use crate::config::Context;
use crate::host::{self, fs, session, sysctl};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, with a limit worth knowing (single-id mapping, no limits).
    Warning,
    /// hutch cannot run containers until this is fixed.
    Error,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable key: "subuid", "newuidmap", "apparmor", "graphroot", ...
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// What to do about it; empty when nothing needs doing.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

fn finding(check: &str, status: Status, detail: String, fix: impl Into<String>) -> Finding {
    Finding {
        check: check.to_owned(),
        status,
        detail,
        fix: fix.into(),
    }
}

fn ok(check: &str, detail: String) -> Finding {
    finding(check, Status::Ok, detail, "")
}

/// The whole answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub findings: Vec<Finding>,
    /// What `--repair` removed, one line each.
    pub repaired: Vec<String>,
    /// No finding about the host is an error.
    pub can_run_containers: bool,
    /// Storage objects still damaged (after `--repair`, what it left).
    pub damaged: usize,
}

impl CheckReport {
    pub fn finish(mut self) -> CheckReport {
        let is_storage = |f: &Finding| f.check == "storage";
        self.can_run_containers = self
            .findings
            .iter()
            .all(|f| f.status != Status::Error || is_storage(f));
        self.damaged = self
            .findings
            .iter()
            .filter(|f| f.status == Status::Error && is_storage(f))
            .count();
        self
    }
}

/// Programs whose presence and version the report lists.
const RUNTIMES: [&str; 2] = ["crun", "runc"];
const NET_HELPERS: [&str; 2] = ["pasta", "slirp4netns"];
const OTHER_TOOLS: [&str; 2] = ["fuse-overlayfs", "catatonit"];

/// Everything about the host; no namespace needed or made.
pub fn host(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    if ctx.rootful {
        out.push(ok(
            "rootless",
            "running as root: no user namespace, subordinate ids or helpers needed".to_owned(),
        ));
    } else {
        out.extend(subordinate_ids(ctx));
        out.extend(id_helpers(ctx));
    }
    out.extend(kernel());
    out.push(ok(
        "selinux",
        format!("SELinux is {}", sysctl::selinux_mode()),
    ));
    out.extend(storage_places(ctx));
    if !ctx.rootful {
        out.push(runtime_dir(ctx));
        out.push(session(ctx));
    }
    out.push(cgroup(ctx));
    out.extend(devices());
    out.extend(tools());
    out
}

fn user_name(ctx: &Context) -> String {
    ctx.identity
        .user_name
        .clone()
        .unwrap_or_else(|| ctx.identity.uid.to_string())
}

/// Subordinate id ranges where newuidmap will look for them: the nsswitch
/// `subid:` source when it names one other than the files (libsubid then
/// ignores /etc/subuid and /etc/subgid, and so does hutch's namespace
/// plan), else the files.
fn subordinate_ids(ctx: &Context) -> Vec<Finding> {
    let who = user_name(ctx);
    match hutch_userns::nss::directory_source() {
        Some(source) => directory_ids(&who, &source),
        None => file_ids(ctx, &who),
    }
}

fn range_list<'a>(ranges: impl Iterator<Item = &'a hutch_userns::subid::SubIdRange>) -> String {
    ranges
        .map(|r| {
            let last = (u64::from(r.start) + u64::from(r.count)).saturating_sub(1);
            format!("{}-{last}", r.start)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fewer ids than one image may use (Podman's default range is 65536).
fn enough_or_warn(key: &str, total: u64, detail: String, fix: String) -> Finding {
    if total < 65536 {
        finding(
            key,
            Status::Warning,
            format!("{detail}: fewer than 65536, images with higher ids will not unpack"),
            fix,
        )
    } else {
        ok(key, detail)
    }
}

fn directory_ids(who: &str, source: &str) -> Vec<Finding> {
    let nsswitch = hutch_userns::nss::NSSWITCH_PATH;
    [("subuid", false), ("subgid", true)]
        .into_iter()
        .map(|(key, groups)| {
            let flag = if groups { "-g " } else { "" };
            match hutch_userns::nss::getsubids(who, groups) {
                None => finding(
                    key,
                    Status::Warning,
                    format!(
                        "{nsswitch} names the subid source {source:?}, but `getsubids {flag}{who}` did not answer: containers get a single-id mapping"
                    ),
                    "install getsubids (apt-get install uidmap / dnf install shadow-utils) and check that the source's libsubid module (libsubid_NAME.so) is installed",
                ),
                Some(ranges) if ranges.is_empty() => finding(
                    key,
                    Status::Warning,
                    format!(
                        "no {key} range for {who} from the subid source {source:?} ({nsswitch}; /etc/{key} is not consulted): containers get a single-id mapping (root in the container is you; images' other owners collapse to you, su/useradd fail)"
                    ),
                    format!("ask the administrator of {source:?} for a range of 65536 ids for {who}"),
                ),
                Some(ranges) => {
                    let total: u64 = ranges.iter().map(|r| u64::from(r.count)).sum();
                    enough_or_warn(
                        key,
                        total,
                        format!(
                            "{total} ids for {who} from the subid source {source:?} ({})",
                            range_list(ranges.iter())
                        ),
                        format!("ask the administrator of {source:?} for a range of 65536 ids for {who}"),
                    )
                }
            }
        })
        .collect()
}

fn file_ids(ctx: &Context, who: &str) -> Vec<Finding> {
    use hutch_userns::subid::SubIdFile;
    let mut out = Vec::new();
    for (key, file) in [("subuid", "/etc/subuid"), ("subgid", "/etc/subgid")] {
        let ranges = match SubIdFile::load(Path::new(file)) {
            Ok(f) => f.ranges_for(ctx.identity.user_name.as_deref(), ctx.identity.uid),
            Err(e) => {
                out.push(finding(
                    key,
                    Status::Error,
                    e.to_string(),
                    format!("correct {file} (lines read USER:START:COUNT)"),
                ));
                continue;
            }
        };
        let total: u64 = ranges.iter().map(|r| u64::from(r.count)).sum();
        if total > 0 {
            out.push(enough_or_warn(
                key,
                total,
                format!(
                    "{total} ids for {who} in {file} ({})",
                    range_list(ranges.iter())
                ),
                format!("usermod --add-{key}s 100000-165535 {who}"),
            ));
        } else {
            out.push(finding(
                key,
                Status::Warning,
                format!(
                    "no range for {who} in {file}: containers get a single-id mapping (root in the container is you; images' other owners collapse to you, su/useradd fail)"
                ),
                format!("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {who}"),
            ));
        }
    }
    out
}

/// newuidmap/newgidmap: found, setuid root or with file capabilities. An
/// error only when the user's ranges need them (the namespace plan fails
/// then, as `run` would).
fn id_helpers(ctx: &Context) -> Vec<Finding> {
    let planned = hutch_userns::namespace::plan(&ctx.identity);
    let needed = planned.as_ref().map_or(true, |p| !p.maps.single_id);
    let mut out = Vec::new();
    for name in ["newuidmap", "newgidmap"] {
        let problem = match hutch_userns::helper::find_helper(name) {
            None => Some(format!("{name} not found")),
            Some(path) => hutch_userns::helper::check_helper(&path)
                .err()
                .map(|p| p.to_string())
                .or_else(|| {
                    out.push(ok(
                        name,
                        format!(
                            "{} can write id maps (setuid root or file capabilities)",
                            path.display()
                        ),
                    ));
                    None
                }),
        };
        if let Some(problem) = problem {
            let (status, detail) = if needed {
                (Status::Error, problem)
            } else {
                (
                    Status::Warning,
                    format!("{problem} (not needed while you have no subordinate ranges)"),
                )
            };
            out.push(finding(
                name,
                status,
                detail,
                "install the uidmap package (apt-get install uidmap / dnf install shadow-utils); it must be setuid root: sudo chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap",
            ));
        }
    }
    if let Err(e) = planned
        && !matches!(e, hutch_userns::NamespaceError::Helper(_))
    {
        out.push(finding("userns", Status::Error, e.to_string(), ""));
    }
    out
}

/// Kernel settings that decide whether a user namespace can be made.
fn kernel() -> Vec<Finding> {
    let mut out = Vec::new();
    match sysctl::read_u64("user/max_user_namespaces") {
        Some(0) => out.push(finding(
            "max_user_namespaces",
            Status::Error,
            "user.max_user_namespaces is 0: no user namespaces may be created".to_owned(),
            "sudo sysctl -w user.max_user_namespaces=28633 (and the same line in /etc/sysctl.d/userns.conf)",
        )),
        Some(n) if n < 100 => out.push(finding(
            "max_user_namespaces",
            Status::Warning,
            format!("user.max_user_namespaces is {n}: few containers with their own namespaces fit"),
            "sudo sysctl -w user.max_user_namespaces=28633",
        )),
        Some(n) => out.push(ok("max_user_namespaces", format!("user.max_user_namespaces is {n}"))),
        None => out.push(ok(
            "max_user_namespaces",
            "user.max_user_namespaces is not present (kernel without the limit)".to_owned(),
        )),
    }
    // Debian's older kernels had their own switch.
    if sysctl::read("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        out.push(finding(
            "unprivileged_userns_clone",
            Status::Error,
            "kernel.unprivileged_userns_clone is 0: unprivileged users may not create user namespaces".to_owned(),
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        ));
    }
    match sysctl::read("kernel/apparmor_restrict_unprivileged_userns").as_deref() {
        Some("1") => out.push(finding(
            "apparmor",
            Status::Error,
            "kernel.apparmor_restrict_unprivileged_userns is 1 (Ubuntu 23.10+): AppArmor denies user namespaces to unconfined programs, hutch included".to_owned(),
            "give hutch an AppArmor profile with `userns,` (as /etc/apparmor.d/podman does), or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        )),
        Some(v) => out.push(ok(
            "apparmor",
            format!("kernel.apparmor_restrict_unprivileged_userns is {v}"),
        )),
        None => out.push(ok(
            "apparmor",
            format!(
                "no AppArmor user-namespace restriction (AppArmor {})",
                if sysctl::apparmor_enabled() { "enabled" } else { "not enabled" }
            ),
        )),
    }
    out
}

/// The file systems under graphroot and runroot.
fn storage_places(ctx: &Context) -> Vec<Finding> {
    let conf = match crate::engine::image::storage_conf(ctx) {
        Ok(c) => c,
        Err(e) => {
            return vec![finding(
                "storage.conf",
                Status::Error,
                format!("{e:#}"),
                "correct the file (containers-storage.conf(5))",
            )];
        }
    };
    let root = crate::engine::image::graphroot::locate(ctx, &conf);
    let mut out = Vec::new();
    let fs_name = |p: &Path| fs::fs_type(p).map_or("unknown", |t| t.name);
    match (&root.relocated, fs::fs_type(&root.path)) {
        (Some(r), _) => out.push(ok(
            "graphroot",
            format!("{} on {}: {}", root.path.display(), fs_name(&root.path), r.notice(&root.path)),
        )),
        (None, Some(t)) if t.network => out.push(finding(
            "graphroot",
            Status::Error,
            format!(
                "{} is on {} (a network file system): rootless storage does not work there",
                root.path.display(),
                t.name
            ),
            "set graphroot in ~/.config/containers/storage.conf (or pass --root) to a directory on a local disk, e.g. /var/tmp/$USER/hutch-storage",
        )),
        (None, _) => out.push(ok(
            "graphroot",
            format!("{} on {}", root.path.display(), fs_name(&root.path)),
        )),
    }
    let run_root = ctx.storage_run_root();
    match fs::fs_type(&run_root) {
        Some(t) if t.network => out.push(finding(
            "runroot",
            Status::Error,
            format!(
                "{} is on {}: locks and sockets need a local file system",
                run_root.display(),
                t.name
            ),
            "set XDG_RUNTIME_DIR or runroot in storage.conf to a local directory (tmpfs)",
        )),
        _ => out.push(ok(
            "runroot",
            format!("{} on {}", run_root.display(), fs_name(&run_root)),
        )),
    }
    out
}

fn runtime_dir(ctx: &Context) -> Finding {
    if ctx.run_dir_from_xdg {
        ok(
            "xdg_runtime_dir",
            format!(
                "runtime state in {} (from XDG_RUNTIME_DIR)",
                ctx.run_dir.display()
            ),
        )
    } else {
        finding(
            "xdg_runtime_dir",
            Status::Warning,
            format!(
                "XDG_RUNTIME_DIR is not set or not yours (no login session: su, cron, Slurm): runtime state in {}, which a reboot or /tmp cleaner may remove",
                ctx.run_dir.display()
            ),
            format!(
                "log in through a session (ssh, machinectl shell) or export XDG_RUNTIME_DIR=/run/user/{} when that directory exists",
                ctx.identity.uid
            ),
        )
    }
}

fn session(ctx: &Context) -> Finding {
    let who = user_name(ctx);
    if !session::systemd_booted() {
        return ok(
            "linger",
            "no systemd: nothing ends containers at logout".to_owned(),
        );
    }
    let lingers = session::lingers(&who);
    let kill = session::kill_user_processes();
    match (lingers, kill) {
        (true, _) => ok(
            "linger",
            format!(
                "{who} lingers: containers outlive logins (KillUserProcesses={})",
                yes_no(kill)
            ),
        ),
        (false, true) => finding(
            "linger",
            Status::Warning,
            format!(
                "KillUserProcesses=yes and {who} does not linger: logind kills your containers when your last session ends"
            ),
            format!("sudo loginctl enable-linger {who}"),
        ),
        (false, false) => finding(
            "linger",
            Status::Ok,
            format!(
                "{who} does not linger (KillUserProcesses=no): containers survive logout, but the user manager and its units stop"
            ),
            format!("for containers as systemd units: sudo loginctl enable-linger {who}"),
        ),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn cgroup(ctx: &Context) -> Finding {
    let cg = cgroups::detect_for(ctx);
    let mut detail = format!(
        "cgroup {} ({}), manager {}: {}",
        cg.version.podman_name(),
        match cg.version {
            cgroups::CgroupVersion::V2 => "unified",
            cgroups::CgroupVersion::Hybrid => "hybrid",
            cgroups::CgroupVersion::V1 => "legacy",
        },
        cg.manager.name(),
        cg.reason
    );
    if cg.version == cgroups::CgroupVersion::V2
        && let Some(own) = cgroups::v2::cgroup_of(None)
    {
        let controllers =
            std::fs::read_to_string(cgroups::v2::dir_of(&own).join("cgroup.controllers"))
                .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
        detail.push_str(&format!(
            "; controllers in {own}: {}",
            if controllers.is_empty() {
                "none"
            } else {
                &controllers
            }
        ));
    }
    if cg.manager == cgroups::Manager::None {
        finding(
            "cgroups",
            Status::Warning,
            detail,
            "for limits: a cgroup v2 host with a systemd user session (Delegate=yes), or a delegated cgroup v2 subtree",
        )
    } else {
        ok("cgroups", detail)
    }
}

fn devices() -> Vec<Finding> {
    [
        (
            "fuse",
            "/dev/fuse",
            "fuse-overlayfs cannot run (native overlay, kernel >= 5.11, does not need it)",
            "sudo modprobe fuse; make /dev/fuse mode 0666",
        ),
        (
            "tun",
            "/dev/net/tun",
            "pasta and slirp4netns cannot give containers a network (--network none and host still work)",
            "sudo modprobe tun; make /dev/net/tun mode 0666",
        ),
    ]
    .into_iter()
    .map(|(key, path, effect, fix)| match host::devices::usable(Path::new(path)) {
        Ok(()) => ok(key, format!("{path} is usable")),
        Err(e) => finding(key, Status::Warning, format!("{e}: {effect}"), fix),
    })
    .collect()
}

fn tools() -> Vec<Finding> {
    let names: Vec<&str> = RUNTIMES
        .iter()
        .chain(NET_HELPERS.iter())
        .chain(OTHER_TOOLS.iter())
        .copied()
        .collect();
    let found = host::tools::probe(&names);
    let describe = |group: &[&str]| -> Vec<String> {
        group
            .iter()
            .filter_map(|n| {
                let i = names.iter().position(|x| x == n)?;
                let t = found[i].as_ref()?;
                let version = if t.version == "unknown" && !t.package.is_empty() {
                    t.package.clone()
                } else {
                    t.version.clone()
                };
                Some(format!("{} {} ({})", t.name, version, t.executable))
            })
            .collect()
    };
    let mut out = Vec::new();
    let runtimes = describe(&RUNTIMES);
    out.push(if runtimes.is_empty() {
        finding(
            "runtime",
            Status::Error,
            "no OCI runtime (crun or runc) found".to_owned(),
            "install crun (apt-get install crun / dnf install crun)",
        )
    } else {
        ok("runtime", runtimes.join(", "))
    });
    let helpers = describe(&NET_HELPERS);
    out.push(if helpers.is_empty() {
        finding(
            "network",
            Status::Warning,
            "neither pasta nor slirp4netns found: only --network none and host work".to_owned(),
            "install passt (apt-get install passt / dnf install passt)",
        )
    } else {
        ok("network", helpers.join(", "))
    });
    let other = describe(&OTHER_TOOLS);
    out.push(ok(
        "helpers",
        if other.is_empty() {
            "no fuse-overlayfs, no catatonit (--init)".to_owned()
        } else {
            other.join(", ")
        },
    ));
    out
}
