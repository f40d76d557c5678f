//! `inspect` of a container: Podman's JSON layout (libpod
//! `InspectContainerData`), built from the state row, the create request,
//! the generated OCI spec and the image config.

use hutch_storage::Store;
use serde_json::{Value, json};

use super::Paths;
use super::lifecycle;
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{Container, ContainerState};

/// `HostConfig.NetworkMode` as Podman shows it: the mode the container
/// was created with (the stored plan resolved the default), a pod
/// member's `container:INFRA-ID`, and `bridge` for a user network (what
/// Podman 4 shows for its netavark networks).
fn network_mode(ctx: &Context, c: &Container, paths: &Paths) -> String {
    use hutch_rootless_net::NetworkMode;
    let mode = super::network::read_plan(paths)
        .map(|p| p.mode)
        .or_else(|| c.spec.network.mode.clone())
        .unwrap_or_else(|| super::network::default_mode(ctx));
    match mode {
        NetworkMode::Network { .. } => "bridge".to_owned(),
        m => m.name(),
    }
}

/// Podman's checkpoint fields of `.State`, each omitted while empty as
/// libpod's `omitempty` does (the two times always shown).
fn with_checkpoint(mut view: Value, st: &super::checkpoint::Status) -> Value {
    let Some(obj) = view.as_object_mut() else {
        return view;
    };
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let mut put = |k: &str, v: Value| {
        obj.insert(k.to_owned(), v);
    };
    if let Some(at) = st.checkpointed_at {
        put("Checkpointed", json!(true));
        put("CheckpointedAt", json!(rfc3339_nano(Some(at))));
    }
    if let Some(p) = path(&st.path) {
        put("CheckpointPath", json!(p));
    }
    if let Some(p) = path(&st.dump_log) {
        put("CheckpointLog", json!(p));
    }
    if let Some(at) = st.restored_at {
        put("Restored", json!(true));
        put("RestoredAt", json!(rfc3339_nano(Some(at))));
    }
    if let Some(p) = path(&st.restore_log) {
        put("RestoreLog", json!(p));
    }
    view
}

pub fn rfc3339_nano(ns: Option<i64>) -> String {
    let Some(ns) = ns.filter(|n| *n > 0) else {
        return "0001-01-01T00:00:00Z".to_owned();
    };
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let base = crate::host::time::rfc3339(secs);
    if frac == 0 {
        return base;
    }
    let digits = format!("{frac:09}");
    format!(
        "{}.{}Z",
        base.trim_end_matches('Z'),
        digits.trim_end_matches('0')
    )
}

/// `Config.Healthcheck` as Podman shows it (Go's `Schema2HealthConfig`:
/// zero times left out).
fn health_config(h: Option<&crate::spec::HealthCheck>) -> Value {
    let Some(h) = h else { return Value::Null };
    let mut v = serde_json::Map::new();
    v.insert("Test".into(), json!(h.test));
    if h.enabled() {
        for (k, n) in [
            ("StartPeriod", h.start_period_ns()),
            ("Interval", h.interval_ns()),
            ("Timeout", h.timeout_ns()),
        ] {
            if n > 0 {
                v.insert(k.into(), json!(n));
            }
        }
        v.insert("Retries".into(), json!(h.retries()));
    }
    Value::Object(v)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn inspect(ctx: &Context, store: &Store, c: &Container) -> Value {
    let paths = Paths::new(ctx, store.root(), &c.id);
    let req = &c.spec;
    let spec: Value = std::fs::read(paths.userdata.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let img = image::lookup(store, &c.image_id).ok();
    // Podman's `.ImageDigest`: the image's manifest digest.
    let image_digest = img
        .as_ref()
        .map(|i| i.digest.to_string())
        .unwrap_or_default();
    let img_cfg = img
        .and_then(|img| image::config(store, &img).ok())
        .unwrap_or(Value::Null);
    let ic = &img_cfg["config"];
    let args = strings(&spec["process"]["args"]);
    let entrypoint = match &req.entrypoint {
        Some(e) => e.clone(),
        None => strings(&ic["Entrypoint"]),
    };
    let cmd = if req.command.is_empty() {
        strings(&ic["Cmd"])
    } else {
        req.command.clone()
    };
    let policy = req.restart;
    let running = c.state == ContainerState::Running;
    let paused = c.state == ContainerState::Paused;
    let restarting = lifecycle::monitor_alive(c)
        && matches!(c.state, ContainerState::Exited | ContainerState::Stopped);
    let user = spec["process"]["user"]
        .as_object()
        .map(|_| req.user.clone().unwrap_or_default())
        .unwrap_or_default();
    let volumes = crate::engine::volume::volumes_dir(store.root());
    let mounts: Vec<Value> = spec["mounts"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter(|m| {
                    let dest = m["destination"].as_str().unwrap_or_default();
                    // What hutch mounts of its own (/etc files, a host
                    // /proc for `--pid host`) is not the user's.
                    let own = ["/proc", "/sys", "/dev"]
                        .iter()
                        .any(|d| dest == *d || dest.starts_with(&format!("{d}/")))
                        && !req.mounts.iter().any(|r| r.destination == dest);
                    m["type"] == "bind"
                        && !own
                        && m["source"]
                            .as_str()
                            .is_some_and(|s| !s.starts_with(&*paths.userdata.to_string_lossy()))
                })
                .map(|m| {
                    let options = strings(&m["options"]);
                    // A named volume shows as one, by name (Podman's).
                    let volume = m["source"].as_str().and_then(|s| volume_name(&volumes, s));
                    let mut view = json!({
                        "Type": if volume.is_some() { "volume" } else { "bind" },
                        "Source": m["source"],
                        "Destination": m["destination"],
                        "Driver": if volume.is_some() { "local" } else { "" },
                        "Mode": "",
                        "Options": options.iter().filter(|o| !matches!(o.as_str(), "ro" | "rw") && !is_propagation(o)).collect::<Vec<_>>(),
                        "RW": !options.iter().any(|o| o == "ro"),
                        "Propagation": options.iter().find(|o| is_propagation(o)).cloned().unwrap_or_default(),
                    });
                    // Podman's Go struct has Name on every mount (its JSON
                    // omits it when empty): a template may read it.
                    if let Some(o) = view.as_object_mut() {
                        o.shift_insert(1, "Name".to_owned(), json!(volume.unwrap_or_default()));
                    }
                    view
                })
                .collect()
        })
        .unwrap_or_default();
    let stop_signal = lifecycle::stop_signal(store, c);
    let log_path = paths.log().to_string_lossy().into_owned();
    let state_view = json!({
        "OciVersion": spec["ociVersion"].as_str().unwrap_or("1.0.2"),
        "Status": lifecycle::state_name(c.state),
        "Running": running,
        "Paused": paused,
        "Restarting": restarting,
        "OOMKilled": c.oom_killed,
        "Dead": false,
        "Pid": c.pid.unwrap_or(0),
        "ConmonPid": if lifecycle::monitor_alive(c) { c.monitor_pid.unwrap_or(0) } else { 0 },
        "ExitCode": c.exit_code.unwrap_or(0),
        "Error": "",
        "StartedAt": rfc3339_nano(c.started_at),
        "FinishedAt": rfc3339_nano(c.exited_at),
        "Health": super::health::read_log(&paths.userdata).to_json(),
        "CheckpointedAt": "0001-01-01T00:00:00Z",
        "RestoredAt": "0001-01-01T00:00:00Z",
    });
    let mut state_view = with_checkpoint(state_view, &super::checkpoint::status(&paths));
    // Podman's `omitempty` CgroupPath: the running process's cgroup (v2's
    // unified entry).
    if let (Some(pid), true) = (c.pid, c.state.is_active())
        && let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        && let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::"))
        && let Some(o) = state_view.as_object_mut()
    {
        o.shift_insert(14, "CgroupPath".to_owned(), json!(path));
    }
    // The image's labels, then the container's own (`--label`), as Podman
    // merges them.
    let mut labels = ic["Labels"].as_object().cloned().unwrap_or_default();
    for (k, v) in &c.spec.labels {
        labels.insert(k.clone(), json!(v));
    }
    let config_view = json!({
        "Hostname": spec["hostname"].as_str().unwrap_or(&c.id[..12]),
        "Domainname": "",
        "User": user,
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": spec["process"]["terminal"].as_bool().unwrap_or(false),
        "OpenStdin": c.spec.interactive,
        "StdinOnce": false,
        "Env": strings(&spec["process"]["env"]),
        "Cmd": cmd,
        "Image": c.image_name,
        "Volumes": null,
        "WorkingDir": spec["process"]["cwd"].as_str().unwrap_or("/"),
        "Entrypoint": entrypoint.join(" "),
        "OnBuild": null,
        "Labels": labels,
        "Annotations": spec["annotations"].as_object().cloned().unwrap_or_default(),
        "StopSignal": stop_signal,
        "StopTimeout": req.stop_timeout.unwrap_or(lifecycle::DEFAULT_STOP_TIMEOUT),
        "Healthcheck": health_config(req.health_check.as_ref()),
        "HealthcheckOnFailureAction": req.health_on_failure.name(),
        "CreateCommand": if req.create_command.is_empty() { Value::Null } else { json!(req.create_command) },
        "Umask": spec["process"]["user"]["umask"]
            .as_u64()
            .map_or_else(|| "0022".to_owned(), |m| format!("{m:04o}")),
        "SystemdMode": req.systemd_active,
        "Passwd": !req.setup.no_passwd,
        "Timeout": req.run_timeout.unwrap_or(0),
        "sdNotifyMode": serde_json::to_value(req.sdnotify).unwrap_or(Value::Null),
    });
    let mut config_view = config_view;
    if config_view["Healthcheck"].is_null()
        && let Some(o) = config_view.as_object_mut()
    {
        o.shift_remove("Healthcheck");
    }
    // Podman shows a privileged container's as none added, none dropped;
    // both sorted.
    let (mut cap_add, mut cap_drop) = if req.privileged {
        (Vec::new(), Vec::new())
    } else {
        crate::runtime::spec::caps::against_runtime_defaults(&strings(
            &spec["process"]["capabilities"]["effective"],
        ))
    };
    cap_add.sort();
    cap_drop.sort();
    // Podman shows `ChrootDirs` only when given.
    if !req.chroot_dirs.is_empty()
        && let Some(o) = config_view.as_object_mut()
    {
        o.insert("ChrootDirs".to_owned(), json!(req.chroot_dirs));
    }
    let (port_bindings, _) = port_bindings(req);
    let ulimits = spec["process"]["rlimits"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|r| json!({"Name": r["type"], "Soft": r["soft"], "Hard": r["hard"]}))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    // Each --tmpfs with the options it is mounted with.
    let tmpfs = req
        .tmpfs
        .iter()
        .map(|t| {
            let oci = spec["mounts"].as_array().and_then(|ms| {
                ms.iter()
                    .find(|m| m["destination"] == t.destination.as_str())
            });
            let options = oci.map_or_else(|| t.options.clone(), |o| strings(&o["options"]));
            (t.destination.clone(), json!(options.join(",")))
        })
        .collect::<serde_json::Map<_, _>>();
    let group_add: Vec<&String> = req
        .group_add
        .iter()
        .filter(|g| *g != "keep-groups")
        .collect();
    let extra_hosts = req
        .add_hosts
        .iter()
        .flat_map(|h| h.names.iter().map(move |n| format!("{n}:{}", h.ip)))
        .collect::<Vec<_>>();
    let cgroup_manager = if spec["linux"]["cgroupsPath"]
        .as_str()
        .is_some_and(|p| p.contains(':'))
    {
        "systemd"
    } else {
        "cgroupfs"
    };
    let volumes_from = if req.setup.volumes_from.is_empty() {
        Value::Null
    } else {
        json!(req.setup.volumes_from)
    };
    let ns = &req.namespaces;
    let host_view = json!({
        "Binds": binds(req, &spec),
        // systemd's cgroupsPath is `SLICE:PREFIX:NAME`, cgroupfs's a path.
        "CgroupManager": cgroup_manager,
        "CgroupMode": if req.cgroupns.as_deref() == Some("private") { "private" } else { "host" },
        "ContainerIDFile": "",
        "LogConfig": {"Type": "k8s-file", "Config": null, "Path": log_path, "Tag": req.log.tag.clone().unwrap_or_default(), "Size": crate::host::time::human_size_compact(req.log.max_size.unwrap_or(0))},
        "NetworkMode": network_mode(ctx, c, &paths),
        "PortBindings": port_bindings,
        "RestartPolicy": {
            "Name": policy.name(),
            "MaximumRetryCount": policy.max_retries(),
        },
        "AutoRemove": req.remove,
        "VolumeDriver": "",
        "VolumesFrom": volumes_from,
        "CapAdd": cap_add,
        "CapDrop": cap_drop,
        "Dns": req.network.dns.servers,
        "DnsOptions": req.network.dns.options,
        "DnsSearch": req.network.dns.search,
        "ExtraHosts": extra_hosts,
        // `keep-groups` is an instruction, not a group (Podman shows none).
        "GroupAdd": group_add,
        // Podman's words for a private IPC namespace others may join.
        "IpcMode": namespace_mode(&ns.ipc, "shareable"),
        "Cgroup": "",
        "Cgroups": "default",
        "Links": null,
        "PidMode": namespace_mode(&ns.pid, "private"),
    });
    // In two parts: one `json!` of all of them passes the macro's
    // recursion limit.
    let rest = json!({
        "Privileged": req.privileged,
        "PublishAllPorts": req.network.publish_all,
        "ReadonlyRootfs": req.read_only,
        "SecurityOpt": [],
        "Tmpfs": tmpfs,
        "UTSMode": namespace_mode(&ns.uts, "private"),
        "UsernsMode": "",
        "ShmSize": req.shm_size.unwrap_or(crate::runtime::spec::mounts::DEFAULT_SHM_SIZE),
        "Runtime": "oci",
        "ConsoleSize": [0, 0],
        "Isolation": "",
        "CgroupParent": req.resources.cgroup_parent.clone().unwrap_or_default(),
        "Devices": [],
        "DiskQuota": 0,
        "KernelMemory": 0,
        "Ulimits": ulimits,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
    });
    let mut host_view = host_view;
    if let (Some(h), Value::Object(rest)) = (host_view.as_object_mut(), rest) {
        h.extend(rest);
    }
    // Limits as the stored spec holds them (`update` writes them back),
    // in the runtime spec's shape; also where no cgroup applies them.
    let limits = serde_json::to_value(crate::runtime::spec::resources::linux_resources(
        &req.resources,
        false,
    ))
    .unwrap_or(Value::Null);
    let res = &limits;
    let num = |v: &serde_json::Value| v.as_i64().unwrap_or(0);
    let quota = num(&res["cpu"]["quota"]);
    let period = num(&res["cpu"]["period"]);
    if let Some(h) = host_view.as_object_mut() {
        for (k, v) in [
            ("Memory", json!(num(&res["memory"]["limit"]))),
            (
                "MemoryReservation",
                json!(num(&res["memory"]["reservation"])),
            ),
            ("MemorySwap", json!(num(&res["memory"]["swap"]))),
            ("CpuShares", json!(num(&res["cpu"]["shares"]))),
            ("CpuQuota", json!(quota)),
            ("CpuPeriod", json!(period)),
            (
                "NanoCpus",
                json!(if period > 0 {
                    quota * 1_000_000_000 / period
                } else {
                    0
                }),
            ),
            (
                "CpusetCpus",
                json!(res["cpu"]["cpus"].as_str().unwrap_or("")),
            ),
            (
                "CpusetMems",
                json!(res["cpu"]["mems"].as_str().unwrap_or("")),
            ),
            ("PidsLimit", json!(num(&res["pids"]["limit"]))),
            ("BlkioWeight", json!(num(&res["blockIO"]["weight"]))),
            ("OomScoreAdj", json!(num(&spec["process"]["oomScoreAdj"]))),
        ] {
            h.insert(k.to_owned(), v);
        }
        for (k, v) in device_limits_view(&req.resources) {
            h.insert(k.to_owned(), v);
        }
        let r = &req.resources;
        for (k, v) in [
            ("CpuRealtimePeriod", json!(r.cpu_rt_period.unwrap_or(0))),
            ("CpuRealtimeRuntime", json!(r.cpu_rt_runtime.unwrap_or(0))),
            ("MemorySwappiness", json!(r.memory_swappiness.unwrap_or(0))),
            ("OomKillDisable", json!(r.oom_kill_disable)),
            (
                "CgroupConf",
                if r.cgroup_conf.is_empty() {
                    Value::Null
                } else {
                    json!(r.cgroup_conf)
                },
            ),
        ] {
            h.insert(k.to_owned(), v);
        }
    }
    json!({
        "Id": c.id,
        "Created": rfc3339_nano(Some(c.created)),
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.get(1..).unwrap_or_default(),
        "State": state_view,
        "Image": c.image_id,
        "ImageDigest": image_digest,
        "ImageName": c.image_name,
        "Rootfs": req.rootfs.as_ref().map(|r| r.path.display().to_string()).unwrap_or_default(),
        "Pod": c.pod_id.clone().unwrap_or_default(),
        "OCIConfigPath": paths.userdata.join("config.json"),
        "OCIRuntime": c.runtime,
        "PidFile": req.setup.pidfile.clone().unwrap_or_else(|| paths.pid_file()),
        "Name": c.name,
        "RestartCount": c.restart_count,
        "Driver": store.driver().map(|d| d.driver.name()).unwrap_or_default(),
        "GraphDriver": {"Name": store.driver().map(|d| d.driver.name()).unwrap_or_default(), "Data": null},
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": strings(&spec["process"]["capabilities"]["effective"]),
        "BoundingCaps": strings(&spec["process"]["capabilities"]["bounding"]),
        "ExecIDs": [],
        "ResolvConfPath": etc_file(&spec, "/etc/resolv.conf"),
        "HostnamePath": etc_file(&spec, "/etc/hostname"),
        "HostsPath": etc_file(&spec, "/etc/hosts"),
        "Mounts": mounts,
        "Dependencies": [],
        "Namespace": "",
        "IsInfra": false,
        "IsService": false,
        "Config": config_view,
        "HostConfig": host_view,
        "NetworkSettings": super::usernet::settings(ctx, &paths, c),
        "LogPath": log_path,
        "LogTag": "",
        "ConmonPidFile": "",
        "StaticDir": paths.userdata,
    })
}

/// Where the container's `dest` (/etc/hosts, ...) comes from: the file
/// hutch wrote for it, "" where it has none (`--no-hosts`).
fn etc_file(spec: &Value, dest: &str) -> String {
    spec["mounts"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["destination"] == dest))
        .and_then(|m| m["source"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Whether a mount option is a propagation (`rprivate`, `shared`, ...).
fn is_propagation(o: &str) -> bool {
    o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave")
}

/// The volume whose data directory `source` is (`VOLUMES/NAME/_data`).
fn volume_name(volumes: &std::path::Path, source: &str) -> Option<String> {
    let rest = std::path::Path::new(source).strip_prefix(volumes).ok()?;
    let mut parts = rest.components();
    let name = parts.next()?.as_os_str().to_str()?.to_owned();
    (parts.next()?.as_os_str() == "_data" && parts.next().is_none()).then_some(name)
}

/// `HostConfig.PidMode` and the like: the mode's name, `container:ID`,
/// `ns:PATH`, or `private` (Podman's word for the default).
fn namespace_mode(ns: &crate::spec::Namespace, private: &str) -> String {
    use crate::spec::Namespace as N;
    match ns {
        N::Private => private.to_owned(),
        N::Host => "host".to_owned(),
        N::Container(id) => format!("container:{id}"),
        N::Path(p) => format!("ns:{}", p.display()),
    }
}

/// `HostConfig.PortBindings` and `Config.ExposedPorts`, keyed
/// `PORT/PROTOCOL`, one entry a port of each published range.
pub fn port_bindings(
    spec: &crate::spec::ContainerSpec,
) -> (
    serde_json::Map<String, Value>,
    serde_json::Map<String, Value>,
) {
    let mut ports = serde_json::Map::new();
    let mut exposed = serde_json::Map::new();
    for p in &spec.network.ports {
        for k in 0..p.range.max(1) {
            let key = format!("{}/{}", p.container_port + k, p.protocol);
            let host = if p.host_port == 0 {
                String::new()
            } else {
                (p.host_port + k).to_string()
            };
            exposed.insert(key.clone(), json!({}));
            if let Some(list) = ports.entry(key).or_insert_with(|| json!([])).as_array_mut() {
                list.push(json!({"HostIp": p.host_ip, "HostPort": host}));
            }
        }
    }
    (ports, exposed)
}

/// `HostConfig.Binds` as Podman's: `SOURCE:DEST:OPTIONS` of each bind
/// mount and named volume, the volume by name, `rw`/`ro` first and the
/// runtime's options after.
fn binds(req: &crate::spec::ContainerSpec, spec: &Value) -> Vec<String> {
    req.mounts
        .iter()
        .filter_map(|m| {
            let src = match &m.source {
                crate::spec::MountSource::Bind(p) => p.display().to_string(),
                crate::spec::MountSource::Named(n) => n.clone(),
                _ => return None,
            };
            let oci = spec["mounts"].as_array().and_then(|ms| {
                ms.iter()
                    .find(|o| o["destination"] == m.destination.as_str())
            });
            let options = oci.map(|o| strings(&o["options"])).unwrap_or_default();
            let mode = if options.iter().any(|o| o == "ro") {
                "ro"
            } else {
                "rw"
            };
            let mut all = vec![mode.to_owned()];
            all.extend(options.into_iter().filter(|o| o != "ro" && o != "rw"));
            Some(format!("{src}:{}:{}", m.destination, all.join(",")))
        })
        .collect()
}

/// What `inspect` looks for (Podman's `--type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InspectKind {
    /// Containers first, then images, as Podman looks them up.
    #[default]
    Any,
    Container,
    Image,
}

impl InspectKind {
    pub fn parse(s: &str) -> crate::engine::Result<InspectKind> {
        Ok(match s {
            "all" => InspectKind::Any,
            "container" => InspectKind::Container,
            "image" => InspectKind::Image,
            other => crate::fail!(
                BadInput,
                "invalid type {other:?}: must be container, image or all"
            ),
        })
    }
}

/// `inspect [--type T] [-l] NAME...`.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    pub names: Vec<String>,
    pub kind: InspectKind,
    pub latest: bool,
}

/// The objects found, in the order asked for, and a line for each name
/// that named nothing (Podman prints what it found, then fails naming the
/// rest).
#[derive(Debug, Default)]
pub struct InspectReport {
    pub views: Vec<Value>,
    pub missing: Vec<String>,
}

pub fn inspect_objects(
    ctx: &Context,
    store: &Store,
    state: &crate::engine::state::State,
    opts: &InspectOptions,
) -> crate::engine::Result<InspectReport> {
    lifecycle::recover(ctx, store, state)?;
    let mut names = opts.names.clone();
    if opts.latest {
        match super::select::latest(state) {
            Ok(c) => names.push(c.id),
            Err(_) => crate::fail!(NotFound, "no containers to inspect: no such container"),
        }
    }
    if names.is_empty() {
        crate::fail!(BadInput, "no names or ids specified");
    }
    let mut report = InspectReport::default();
    for name in &names {
        if opts.kind != InspectKind::Image
            && let Ok(c) = state.container(name)
        {
            report.views.push(inspect(ctx, store, &c));
            continue;
        }
        if opts.kind != InspectKind::Container {
            match image::lookup(store, name) {
                Ok(img) => {
                    report.views.push(image::inspect::inspect(store, &img)?);
                    continue;
                }
                Err(image::LookupError::NotKnown(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        report.missing.push(match opts.kind {
            InspectKind::Container => format!("no such container {name}"),
            InspectKind::Image => format!("{name}: image not known"),
            InspectKind::Any => format!("no such object: {name:?}"),
        });
    }
    Ok(report)
}

/// The per-device block-I/O limits as Podman's inspect shows them: the
/// path given, the weight or rate; null when none (Go's nil slice).
fn device_limits_view(
    r: &crate::runtime::spec::resources::ResourceRequest,
) -> [(&'static str, Value); 5] {
    use crate::runtime::spec::resources::DeviceLimit;
    let view = |list: &[DeviceLimit], key: &str| -> Value {
        if list.is_empty() {
            return Value::Null;
        }
        json!(
            list.iter()
                .map(|d| json!({"Path": d.path, key: d.value}))
                .collect::<Vec<_>>()
        )
    };
    let rates = |list: &[DeviceLimit]| view(list, "Rate");
    [
        ("BlkioWeightDevice", view(&r.blkio_weight_device, "Weight")),
        ("BlkioDeviceReadBps", rates(&r.device_read_bps)),
        ("BlkioDeviceWriteBps", rates(&r.device_write_bps)),
        ("BlkioDeviceReadIOps", rates(&r.device_read_iops)),
        ("BlkioDeviceWriteIOps", rates(&r.device_write_iops)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_podman_name() {
        assert_eq!(InspectKind::parse("all").unwrap(), InspectKind::Any);
        assert_eq!(
            InspectKind::parse("container").unwrap(),
            InspectKind::Container
        );
        assert_eq!(InspectKind::parse("image").unwrap(), InspectKind::Image);
        assert_eq!(
            InspectKind::parse("pod").unwrap_err().kind(),
            crate::engine::ErrorKind::BadInput
        );
    }
}
