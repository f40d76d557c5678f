//! What `hutch info` reports: the host, the user namespace, the helpers
//! found, and where state lives. Podman's JSON keys, so scripts written
//! against `podman info --format json` keep working.

use serde_json::{Value, json};

use crate::cgroups;
use crate::config::Context;
use crate::host::tools;

/// Programs whose presence and version `info` reports.
const TOOLS: [&str; 6] = [
    "crun",
    "runc",
    "pasta",
    "slirp4netns",
    "fuse-overlayfs",
    "catatonit",
];

pub fn gather(ctx: &Context) -> Value {
    let uts = rustix::system::uname();
    let kernel = uts.release().to_string_lossy().into_owned();
    let hostname = uts.nodename().to_string_lossy().into_owned();
    let cg = cgroups::detect_for(ctx);
    let (uidmap, gidmap, namespace) = id_mappings(ctx);
    let found = tools::probe(&TOOLS);
    let (cdi_dirs, cdi_devices, cdi_errors) = crate::engine::container::cdi::inventory(ctx);
    let tool = |name: &str| -> Value {
        match TOOLS
            .iter()
            .position(|t| *t == name)
            .and_then(|i| found[i].clone())
        {
            Some(t) => {
                json!({"executable": t.executable, "version": t.version, "package": t.package, "available": true})
            }
            None => json!({"executable": "", "version": "", "package": "", "available": false}),
        }
    };
    let oci_runtime = ["crun", "runc"]
        .iter()
        .find_map(|n| TOOLS.iter().position(|t| t == n).and_then(|i| found[i].clone()))
        .map(|t| json!({"name": t.name, "path": t.executable, "version": t.version, "package": t.package}))
        .unwrap_or_else(|| json!({"name": "", "path": "", "version": "", "package": ""}));
    // The helper a container gets without --network (Podman 5 reports it
    // as rootlessNetworkCmd), with its version.
    let net_cmd = crate::engine::container::network::default_mode(ctx).name();
    let net_tool = match net_cmd.as_str() {
        "pasta" | "slirp4netns" => tool(&net_cmd),
        _ => json!({"executable": "", "version": "", "package": "", "available": false}),
    };
    let mem = meminfo();
    // Podman's host keys hutch reads from /proc; in a json! of their own,
    // the whole being past the macro's recursion limit.
    let host_more = json!({
        "security": security(ctx),
        "cpus": std::thread::available_parallelism().map_or(1, usize::from),
        "memTotal": mem.0,
        "memFree": mem.1,
        "swapTotal": mem.2,
        "swapFree": mem.3,
        "uptime": uptime(),
        "eventLogger": "file",
        "linkmode": "static",
        "serviceIsRemote": false,
        "cgroupControllers": cgroup_controllers(),
        "cpuUtilization": cpu_utilization(),
        "buildahVersion": "",
    });
    let mut out = json!({
        "host": {
            "rootlessNetworkCmd": net_cmd,
            "networkBackend": "hutch",
            "networkBackendInfo": {
                "backend": net_cmd,
                "path": net_tool["executable"],
                "version": net_tool["version"],
                "package": net_tool["package"],
                "dns": {"package": "", "path": "", "version": ""},
            },
            "rootlessNetns": crate::engine::container::usernet::info(ctx),
            "arch": std::env::consts::ARCH,
            "os": std::env::consts::OS,
            "kernel": kernel,
            "hostname": hostname,
            "cgroupVersion": cg.version.podman_name(),
            "cgroupHybrid": cg.version == cgroups::CgroupVersion::Hybrid,
            "cgroupManager": cg.manager.name(),
            "cgroupManagerReason": cg.reason,
            "idMappings": {"uidmap": uidmap, "gidmap": gidmap},
            "namespace": namespace,
            "ociRuntime": oci_runtime,
            "runtimes": {"crun": tool("crun"), "runc": tool("runc")},
            "pasta": tool("pasta"),
            "slirp4netns": tool("slirp4netns"),
            "fuseOverlayfs": tool("fuse-overlayfs"),
            "catatonit": tool("catatonit"),
            "runtimeDir": ctx.run_dir.display().to_string(),
            "remoteSocket": remote_socket(ctx),
            "runtimeDirFromXdg": ctx.run_dir_from_xdg,
            "cdiSpecDirs": cdi_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
            // hutch's own keys: the CDI devices `--device` can name, and
            // spec files that could not be used.
            "cdiDevices": cdi_devices,
            "cdiErrors": cdi_errors,
            // Podman's keys that tools read (`{{.Host.LogDriver}}`): the
            // default log driver, the distribution, and the monitor in
            // conmon's place.
            "logDriver": "k8s-file",
            "distribution": distribution(),
            "conmon": monitor(),
        },
        // Podman's plugins: what hutch has of each kind.
        "plugins": {
            "volume": ["local"],
            "network": ["bridge"],
            "log": ["k8s-file", "none", "passthrough"],
            "authorization": null,
        },
        "registries": registries(),
        "store": store(ctx),
        "version": version(),
    });
    if let (Some(host), Value::Object(more)) = (out["host"].as_object_mut(), host_more) {
        host.extend(more);
    }
    out
}

/// Podman's `host.security`: no AppArmor or SELinux labels (hutch sets
/// none), seccomp with hutch's built-in profile, the default capabilities.
fn security(ctx: &Context) -> Value {
    let caps = crate::runtime::spec::caps::DEFAULT_CAPABILITIES.join(",");
    json!({
        "apparmorEnabled": false,
        "capabilities": caps,
        "rootless": ctx.rootless(),
        "seccompEnabled": true,
        "seccompProfilePath": "",
        "selinuxEnabled": false,
    })
}

/// The controllers of this process's cgroup where the unified hierarchy
/// is the only one (Podman's `cgroupControllers`: what a rootless user
/// has delegated); none on a hybrid or v1 host, as Podman shows there.
fn cgroup_controllers() -> Vec<String> {
    let unified_only = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Vec::new();
    };
    if !unified_only {
        return Vec::new();
    }
    std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cgroup.controllers"))
        .map(|t| t.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The shares of CPU time since boot (/proc/stat), in percent with two
/// decimals, as Podman's `cpuUtilization`.
fn cpu_utilization() -> Value {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
    let total: f64 = v.iter().take(8).sum();
    let pct = |x: f64| {
        if total > 0.0 {
            (x / total * 10_000.0).round() / 100.0
        } else {
            0.0
        }
    };
    json!({
        "userPercent": pct(at(0) + at(1)),
        "systemPercent": pct(at(2) + at(5) + at(6)),
        "idlePercent": pct(at(3) + at(4)),
    })
}

/// /proc/meminfo's (MemTotal, MemAvailable, SwapTotal, SwapFree) in bytes;
/// zeros where unreadable.
fn meminfo() -> (u64, u64, u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (
        field("MemTotal"),
        field("MemFree"),
        field("SwapTotal"),
        field("SwapFree"),
    )
}

/// Podman's uptime text: `4h 22m 4.00s (Approximately 0.17 days)`.
fn uptime() -> String {
    let secs = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let whole = secs as u64;
    format!(
        "{}h {}m {:.2}s (Approximately {:.2} days)",
        whole / 3600,
        (whole / 60) % 60,
        secs % 60.0,
        secs / 86_400.0
    )
}

/// The API service's default socket, as Podman's `host.remoteSocket`.
fn remote_socket(ctx: &Context) -> Value {
    let path = ctx.api_socket();
    let exists = std::fs::symlink_metadata(&path)
        .map(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
        .unwrap_or(false);
    json!({"path": format!("unix://{}", path.display()), "exists": exists})
}

/// The maps of the live namespace when one exists, else the maps the next
/// command would create; `info` never creates the namespace itself.
fn id_mappings(ctx: &Context) -> (Value, Value, Value) {
    let as_json = |maps: &[hutch_userns::idmap::IdMap]| -> Value {
        maps.iter()
            .map(|m| json!({"container_id": m.container_id, "host_id": m.host_id, "size": m.size}))
            .collect()
    };
    if ctx.rootful {
        return (json!([]), json!([]), json!({"state": "rootful"}));
    }
    if let Some(rec) = hutch_userns::namespace::current(&ctx.identity, &ctx.run_dir)
        && let Some((uid, gid)) = hutch_userns::pause::current_maps(rec.pid)
    {
        return (
            as_json(&uid),
            as_json(&gid),
            json!({"state": "running", "pausePid": rec.pid}),
        );
    }
    match hutch_userns::namespace::plan(&ctx.identity) {
        Ok(plan) => (
            as_json(&plan.maps.uid),
            as_json(&plan.maps.gid),
            json!({"state": "not created", "singleId": plan.maps.single_id}),
        ),
        Err(e) => (
            json!([]),
            json!([]),
            json!({"state": "unusable", "error": e.to_string()}),
        ),
    }
}

/// Storage settings without opening the store (which, rootless, must
/// happen inside the namespace `info` does not create).
fn store(ctx: &Context) -> Value {
    let conf = crate::engine::image::storage_conf(ctx);
    let (conf, conf_error) = match conf {
        Ok(c) => (c, Value::Null),
        Err(e) => (Default::default(), json!(format!("{e:#}"))),
    };
    let located = crate::engine::image::graphroot::locate(ctx, &conf);
    let root = located.path.clone();
    // hutch's own key: the default graph root was on a network file system
    // and moved to node-local disk (see engine::image::graphroot).
    let relocation = match &located.relocated {
        Some(r) => json!({
            "from": r.from.display().to_string(),
            "fileSystem": r.fs,
            "notice": r.notice(&root),
        }),
        None => Value::Null,
    };
    // (size, used) of the graph root's file system, or of the nearest
    // directory above it that exists.
    let space = root
        .ancestors()
        .find_map(|p| rustix::fs::statvfs(p).ok())
        .map_or((0, 0), |st| {
            let block = st.f_frsize;
            (st.f_blocks * block, (st.f_blocks - st.f_bfree) * block)
        });
    let counts = crate::engine::state::container_counts(&root.join("state").join("hutch.db"))
        .unwrap_or_default();
    let driver = ctx.storage_driver.clone().or(conf.driver.clone());
    let verdict = std::fs::read_to_string(root.join("driver")).ok();
    let (driver_name, driver_reason) = match (driver.as_deref(), verdict.as_deref()) {
        (Some("vfs"), _) => ("vfs".to_owned(), "configured".to_owned()),
        (_, Some(v)) if v.starts_with("overlay ") => (
            "overlay".to_owned(),
            "native overlay (tested on this kernel)".to_owned(),
        ),
        (_, Some(v)) if v.starts_with("fuse:") => (
            "overlay".to_owned(),
            format!(
                "fuse-overlayfs ({})",
                v.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("fuse:")
            ),
        ),
        (_, Some(v)) if v.starts_with("vfs ") => (
            "vfs".to_owned(),
            "native overlay and fuse-overlayfs unusable here".to_owned(),
        ),
        (Some(d), _) => (d.to_owned(), "configured; not yet test-mounted".to_owned()),
        (None, _) => (
            "overlay".to_owned(),
            "not yet chosen: the first image operation test-mounts overlay".to_owned(),
        ),
    };
    // Podman's own store, read in place when it has the overlay layout.
    let podman_store = Some(crate::engine::image::podman_graph_root(ctx, &conf))
        .filter(|p| p.join("overlay-images/images.json").is_file())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    json!({
        "configFile": conf.source.map(|p| p.display().to_string()).unwrap_or_default(),
        "configError": conf_error,
        "graphRoot": root.display().to_string(),
        "graphRootAllocated": space.0,
        "graphRootUsed": space.1,
        "graphRootRelocation": relocation,
        // Where a pull's blobs land before they are stored (the store's
        // own, not the caller's TMPDIR).
        "imageCopyTmpDir": root.join("tmp").display().to_string(),
        "volumePath": crate::engine::volume::volumes_dir(&root).display().to_string(),
        "runRoot": ctx.storage_run_root().display().to_string(),
        "graphDriverName": driver_name,
        "graphDriverReason": driver_reason,
        "mountProgram": conf.mount_program.map(|p| p.display().to_string()).unwrap_or_default(),
        "additionalImageStores": conf.additional_image_stores.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "podmanStore": podman_store,
        "dataDir": ctx.data_dir.display().to_string(),
        "graphOptions": {},
        "graphStatus": {
            "Backing Filesystem": crate::host::fs::fs_type(&root)
                .or_else(|| root.parent().and_then(crate::host::fs::fs_type))
                .map_or("unknown", |t| t.name),
            "Native Overlay Diff": (driver_name == "overlay").to_string(),
            "Supports d_type": "true",
            "Using metacopy": "false",
        },
        "imageStore": {"number": image_count(&root.join("images.json"))},
        "containerStore": {
            "number": counts.0,
            "paused": counts.2,
            "running": counts.1,
            "stopped": counts.3,
        },
    })
}

/// How many images the store's index lists (read without the store's
/// lock: a count for `info`, not a decision); 0 when there is none yet.
fn image_count(index: &std::path::Path) -> usize {
    // Bounded as every index read: an index is a few KiB per image.
    const MAX_INDEX: u64 = 64 << 20;
    if std::fs::metadata(index).map_or(true, |m| m.len() > MAX_INDEX) {
        return 0;
    }
    std::fs::read(index)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["images"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// /etc/os-release's ID, VERSION_ID and VERSION_CODENAME, as Podman's
/// `host.distribution`.
pub(crate) fn distribution() -> Value {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    json!({
        "distribution": get("ID"),
        "variant": get("VARIANT_ID"),
        "version": get("VERSION_ID"),
        "codename": get("VERSION_CODENAME"),
    })
}

/// registries.conf's unqualified-search registries under `search`, which
/// Podman leaves out when there are none.
fn registries() -> Value {
    let search = crate::config::registries::load()
        .map(|r| r.search_registries().to_vec())
        .unwrap_or_default();
    if search.is_empty() {
        return json!({});
    }
    json!({ "search": search })
}

/// hutch-monitor, where Podman reports conmon.
fn monitor() -> Value {
    let path = crate::engine::container::monitor::monitor_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    json!({
        "package": "",
        "path": path,
        "version": format!("hutch-monitor version {}", env!("CARGO_PKG_VERSION")),
    })
}

/// `hutch version`'s data, also embedded in `info`.
pub fn version() -> Value {
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "APIVersion": "4.3.1",
        "OsArch": format!("{}/{}", std::env::consts::OS, go_arch()),
        "Os": std::env::consts::OS,
        // Podman's keys that Debian's build leaves at their zero values;
        // hutch is no Go program and records no build time either.
        "GoVersion": "",
        "GitCommit": "",
        "BuiltTime": "Thu Jan  1 00:00:00 1970",
        "Built": 0,
    })
}

/// Go's names for architectures, which Podman users see in OS/Arch.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}
