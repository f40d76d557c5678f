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
    let mounts: Vec<Value> = spec["mounts"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter(|m| {
                    m["type"] == "bind"
                        && m["source"]
                            .as_str()
                            .is_some_and(|s| !s.starts_with(&*paths.userdata.to_string_lossy()))
                })
                .map(|m| {
                    let options = strings(&m["options"]);
                    json!({
                        "Type": "bind",
                        "Source": m["source"],
                        "Destination": m["destination"],
                        "Driver": "",
                        "Mode": "",
                        "Options": options.iter().filter(|o| !matches!(o.as_str(), "ro" | "rw")).collect::<Vec<_>>(),
                        "RW": !options.iter().any(|o| o == "ro"),
                        "Propagation": options.iter().find(|o| o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave")).cloned().unwrap_or_default(),
                    })
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
    let state_view = with_checkpoint(state_view, &super::checkpoint::status(&paths));
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
    let host_view = json!({
        "Binds": [],
        "LogConfig": {"Type": "k8s-file", "Config": null, "Path": log_path, "Tag": req.log.tag.clone().unwrap_or_default(), "Size": crate::host::time::human_size_compact(req.log.max_size.unwrap_or(0))},
        "NetworkMode": network_mode(ctx, c, &paths),
        "PortBindings": {},
        "RestartPolicy": {
            "Name": policy.name(),
            "MaximumRetryCount": policy.max_retries(),
        },
        "AutoRemove": req.remove,
        "ReadonlyRootfs": req.read_only,
        "Runtime": "oci",
        "ShmSize": req.shm_size.unwrap_or(crate::runtime::spec::mounts::DEFAULT_SHM_SIZE),
        "CapAdd": cap_add,
        "CapDrop": cap_drop,
    });
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
    let mut host_view = host_view;
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
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": strings(&spec["process"]["capabilities"]["effective"]),
        "BoundingCaps": strings(&spec["process"]["capabilities"]["bounding"]),
        "ExecIDs": [],
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
