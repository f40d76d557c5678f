//! `create`: a container layer on the image, the OCI spec from the image
//! config merged with the request, and a row in the state database.
//!
//! Order matters for "bad input creates nothing": every flag is parsed and
//! every host-side fact checked (bind sources, devices, seccomp files, the
//! init binary, `container:` namespaces) before the first file is made;
//! after that, a guard undoes whatever was made (layer, userdata, volume
//! directories) unless the state row is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use serde::{Deserialize, Serialize};

use super::Paths;
use super::etc::{self, EtcOptions};
use super::host;
use super::options::{self, LogConfig, MountSpec, NsSpec, Source, Userns};
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{NewContainer, State, Volume, names};
use crate::engine::volume::{self as volumes, VolumeCreate};
use crate::host::time;
use crate::runtime::oci;
use crate::runtime::spec::{
    self, CgroupsMode, ContainerConfig, DeviceRequest, IdMap, MountRequest, NamespaceMode,
    UsernsMode, caps, limits,
};

/// What `create`/`run` flags ask for. Values are the flags' text; the
/// engine parses them (see [`options`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateRequest {
    pub image: String,
    pub command: Vec<String>,
    pub name: Option<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub read_only: bool,
    pub remove: bool,
    pub runtime: Option<String>,
    /// `--env-file` paths, read by the engine.
    pub env_file: Vec<PathBuf>,
    /// `--env-host`: the caller's environment as `KEY=VALUE`.
    pub env_host: Vec<String>,
    /// `--read-only-tmpfs`; `None` is Podman's default, true.
    pub read_only_tmpfs: Option<bool>,
    pub hostname: Option<String>,
    pub add_host: Vec<String>,
    /// `-v` values.
    pub volumes: Vec<String>,
    /// `--mount` values.
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub devices: Vec<String>,
    pub ulimits: Vec<String>,
    pub init: bool,
    pub init_path: Option<PathBuf>,
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
    pub userns: Option<String>,
    pub uidmap: Vec<String>,
    pub gidmap: Vec<String>,
    pub group_add: Vec<String>,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub uts: Option<String>,
    /// `--pull`: missing (also when empty), always, never, newer.
    pub pull: String,
    pub log_driver: Option<String>,
    pub log_opts: Vec<String>,
    /// Filled by the engine: the ids `--userns=auto` was given, which later
    /// allocations avoid.
    pub auto_userns: Option<(Vec<IdMap>, Vec<IdMap>)>,
    /// Filled by the engine: the full ids of the containers whose
    /// namespaces this one joins (`rm` refuses to remove those first).
    #[serde(default)]
    pub dependencies: Vec<String>,
    // other helpers' flags below
    #[serde(default)]
    pub network: super::network::NetworkRequest,
    #[serde(default)]
    pub resources: crate::runtime::spec::resources::ResourceRequest,
    // Lifecycle (stop, restart policy, cidfile, replace).
    #[serde(default)]
    pub restart: Option<String>,
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub stop_timeout: Option<u32>,
    #[serde(default)]
    pub cidfile: Option<String>,
    #[serde(default)]
    pub replace: bool,
    /// `-i`: keep stdin open for attached clients.
    #[serde(default)]
    pub interactive: bool,
    /// `-t`: a pseudo-terminal for the container's process.
    #[serde(default)]
    pub tty: bool,
}

/// A created container: its id and name, and warnings to print once.
pub struct Created {
    pub id: String,
    pub name: String,
    pub warnings: Vec<String>,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `--userns=auto`'s size when none is asked for (containers.conf
/// `auto_userns_min_size`).
const AUTO_USERNS_SIZE: u32 = 1024;

/// The request parsed: everything that can be refused without the host.
struct Parsed {
    mounts: Vec<MountSpec>,
    userns: Userns,
    pid: NsSpec,
    ipc: NsSpec,
    uts: NsSpec,
    add_hosts: Vec<(Vec<String>, std::net::IpAddr)>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    devices: Vec<DeviceRequest>,
}

fn parse(req: &CreateRequest, cwd: &Path) -> anyhow::Result<Parsed> {
    let mut mounts = Vec::new();
    for v in &req.volumes {
        mounts.push(options::parse_volume(v, cwd)?);
    }
    for m in &req.mounts {
        mounts.push(options::parse_mount(m, cwd)?);
    }
    let mut dests: Vec<String> = Vec::new();
    for m in &mounts {
        let d = spec::mounts::clean_destination(&m.destination)?;
        if dests.contains(&d) {
            bail!("{d}: duplicate mount destination");
        }
        dests.push(d);
    }
    // Flags the spec generator would refuse later, refused now.
    let all: Vec<String> = caps::ALL_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    let default_caps: Vec<String> = caps::DEFAULT_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    caps::merge(&default_caps, &req.cap_add, &req.cap_drop, &all)?;
    for u in req.ulimits.iter().filter(|u| u.as_str() != "host") {
        limits::parse_ulimit(u)?;
    }
    spec::SecurityOpts::parse(&req.security_opt)?;
    for t in &req.tmpfs {
        spec::mounts::tmpfs_flag(t)?;
    }
    options::parse_log(req.log_driver.as_deref(), &req.log_opts)?;
    if !matches!(
        req.pull.as_str(),
        "" | "missing" | "always" | "never" | "newer"
    ) {
        bail!("invalid pull policy {:?}", req.pull);
    }
    Ok(Parsed {
        mounts,
        userns: options::parse_userns(req.userns.as_deref(), &req.uidmap, &req.gidmap)?,
        pid: options::parse_namespace("pid", req.pid.as_deref())?,
        ipc: options::parse_namespace("ipc", req.ipc.as_deref())?,
        uts: options::parse_namespace("uts", req.uts.as_deref())?,
        add_hosts: req
            .add_host
            .iter()
            .map(|h| options::parse_add_host(h))
            .collect::<anyhow::Result<_>>()?,
        labels: options::parse_key_values("--label", &req.labels)?,
        annotations: options::parse_key_values("--annotation", &req.annotations)?,
        devices: req
            .devices
            .iter()
            .map(|d| DeviceRequest::parse(d))
            .collect::<Result<_, _>>()?,
    })
}

/// The log settings of a stored request, for the monitor and `logs`.
pub fn log_config(req: &CreateRequest) -> LogConfig {
    options::parse_log(req.log_driver.as_deref(), &req.log_opts).unwrap_or_default()
}

/// Where the container's log goes; `None` for `--log-driver none`.
pub fn log_path(paths: &Paths, req: &CreateRequest) -> Option<PathBuf> {
    let cfg = log_config(req);
    if cfg.driver == "none" {
        return None;
    }
    Some(cfg.path.unwrap_or_else(|| paths.log()))
}

/// The image per `--pull`: registry references are pulled when missing
/// (or always, or when newer); other transports must be local.
fn resolve_image(ctx: &Context, store: &Store, req: &CreateRequest) -> anyhow::Result<ImageRecord> {
    let (transport, rest) = crate::image::reference::strip_transport(&req.image);
    let registry_ref = matches!(transport, None | Some("docker"));
    let local = image::lookup(store, &req.image);
    let pull = || -> anyhow::Result<ImageRecord> {
        let preq = image::pull::PullRequest {
            name: rest.to_owned(),
            platform: crate::image::registry::Platform::host(),
            options: Default::default(),
        };
        Ok(image::pull::pull(ctx, store, &preq, &mut |_, _| {})?)
    };
    match req.pull.as_str() {
        "never" => Ok(local?),
        "always" if registry_ref => pull(),
        // Without a cheap digest check, "newer" pulls and keeps the local
        // image when the registry cannot be reached, as Podman does.
        "newer" if registry_ref => pull().or_else(|e| local.map_err(|_| e)),
        _ => match local {
            Ok(img) => Ok(img),
            Err(e @ image::LookupError::NotKnown(_)) if registry_ref => {
                // Both reasons are told: the name may have been a typo of a
                // local image as well as a registry reference.
                pull().map_err(|p| {
                    anyhow::anyhow!(
                        "{e} (pulling it failed: {})",
                        crate::engine::error::chain_text(&p)
                    )
                })
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// Undoes a half-made container when dropped armed.
struct Undo<'a> {
    store: &'a Store,
    id: String,
    layer: bool,
    userdata: Option<PathBuf>,
    volumes: Vec<Volume>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.layer {
            let _ = self.store.remove_container_layer(&self.id);
        }
        if let Some(dir) = self.userdata.as_ref().and_then(|u| u.parent()) {
            let _ = std::fs::remove_dir_all(dir);
        }
        for v in &self.volumes {
            volumes::remove_dirs(v);
        }
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn set_env(env: &mut Vec<String>, entry: String) {
    let key = entry.split('=').next().unwrap_or(&entry).to_owned();
    env.retain(|x| x.split('=').next() != Some(key.as_str()));
    env.push(entry);
}

pub fn create(
    ctx: &Context,
    store: &Store,
    state: &State,
    req: &CreateRequest,
) -> anyhow::Result<Created> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let parsed = parse(req, &cwd)?;
    if let Some(n) = &req.name {
        names::validate("container", n)?;
    }
    let img = resolve_image(ctx, store, req)?;
    let cfg = image::config(store, &img)?;
    let c = &cfg["config"];
    let entrypoint = match &req.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => strings(&c["Entrypoint"]),
    };
    let cmd = if req.command.is_empty() {
        strings(&c["Cmd"])
    } else {
        req.command.clone()
    };
    let command: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if command.is_empty() {
        bail!(
            "no command specified for {}: the image has no CMD or ENTRYPOINT; give one",
            req.image
        );
    }

    // Environment: image, then --env-host, --env-file, --env (Podman's order).
    let mut env = strings(&c["Env"]);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_owned());
    }
    for e in &req.env_host {
        set_env(&mut env, e.clone());
    }
    let host_env = |k: &str| std::env::var(k).ok();
    for f in &req.env_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| host::io_error("open", f, &e))
            .context("reading --env-file")?;
        for e in options::parse_env_file(&text, &host_env) {
            set_env(&mut env, e);
        }
    }
    for e in &req.env {
        match e.split_once('=') {
            Some(_) => set_env(&mut env, e.clone()),
            // `-e KEY`: the caller's value, skipped when it has none.
            None => {
                if let Some(v) = host_env(e) {
                    set_env(&mut env, format!("{e}={v}"));
                }
            }
        }
    }
    req.resources.validate()?;
    let cgroup = crate::cgroups::container::plan(&crate::cgroups::detect_for(ctx), &req.resources);

    // Host-side checks, still before anything is made.
    let mut binds: Vec<(MountSpec, spec::SourceFlags)> = Vec::new();
    for m in &parsed.mounts {
        if let Source::Bind(src) = &m.source {
            binds.push((m.clone(), host::source_flags(src)?));
        }
    }
    let mut devices = parsed.devices.clone();
    for d in &mut devices {
        d.node = Some(host::device_node(&d.host_path)?);
    }
    let mut defaults = host::defaults(ctx, req.privileged)?;
    let seccomp_path = ContainerConfig {
        security_opt: req.security_opt.clone(),
        ..ContainerConfig::default()
    }
    .seccomp_profile_path()?;
    if let Some(p) = seccomp_path {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| host::io_error("open", &p, &e))
            .context("opening seccomp profile failed")?;
        defaults.seccomp_files.insert(p, text);
    }
    let init = if req.init {
        Some(host::find_init(req.init_path.as_deref())?)
    } else {
        None
    };
    let ns = |spec: &NsSpec| -> anyhow::Result<NamespaceMode> {
        Ok(match spec {
            NsSpec::Private => NamespaceMode::Private,
            NsSpec::Host => NamespaceMode::Host,
            NsSpec::Path(p) => NamespaceMode::Path(p.clone()),
            NsSpec::Container(q) => {
                let other = state.container(q)?;
                match other.pid {
                    Some(pid) if other.state.is_active() => {
                        NamespaceMode::Container { pid: pid as u32 }
                    }
                    _ => bail!(
                        "container {} is not running: cannot join its namespace",
                        other.name
                    ),
                }
            }
        })
    };
    let (pid_ns, ipc_ns, uts_ns) = (ns(&parsed.pid)?, ns(&parsed.ipc)?, ns(&parsed.uts)?);
    let mut auto_maps = None;
    let userns = match &parsed.userns {
        Userns::Host => UsernsMode::Host,
        Userns::KeepId { uid, gid, size } => UsernsMode::KeepId {
            uid: *uid,
            gid: *gid,
            size: *size,
        },
        Userns::NoMap => UsernsMode::NoMap,
        Userns::Explicit { uid_map, gid_map } => UsernsMode::Explicit {
            uid_map: uid_map.clone(),
            gid_map: gid_map.clone(),
        },
        Userns::Auto { size } => {
            let (u, g) = allocate_auto(state, &defaults, size.unwrap_or(AUTO_USERNS_SIZE))?;
            auto_maps = Some((u.clone(), g.clone()));
            UsernsMode::Auto {
                uid_map: u,
                gid_map: g,
            }
        }
    };
    let net_plan = super::network::plan(&req.network, c)?;

    // From here on, things are made; `undo` takes them back on error.
    let id = names::generate_id().context("generating a container id")?;
    let paths = Paths::new(ctx, store.root(), &id);
    let mut undo = Undo {
        store,
        id: id.clone(),
        layer: false,
        userdata: None,
        volumes: Vec::new(),
        armed: true,
    };
    undo.layer = true;
    // The image's files, read-only, for what create reads; the monitor
    // mounts the container's own layer over the same path at start.
    let (rootfs, view) = store
        .create_container_layer(&id, &img)
        .and_then(|_| {
            if req.remove {
                store.set_container_volatile(&id)?;
            }
            store.mount_container_view(&id)
        })
        .with_context(|| format!("preparing the root file system of {}", &id[..12]))?;
    std::fs::create_dir_all(&paths.userdata)
        .with_context(|| format!("creating {}", paths.userdata.display()))?;
    undo.userdata = Some(paths.userdata.clone());
    let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).ok();

    // Volumes: named ones (made when missing), anonymous ones for `-v /p`
    // and for the image's VOLUMEs nobody mounted over.
    let graphroot = store.root().to_path_buf();
    let mut mount_reqs: Vec<MountRequest> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut new_volumes: Vec<Volume> = Vec::new();
    let mut volume_mounts: Vec<(MountSpec, Volume)> = Vec::new();
    let mut specs = parsed.mounts.clone();
    let user_dests: Vec<String> = specs
        .iter()
        .filter_map(|m| spec::mounts::clean_destination(&m.destination).ok())
        .collect();
    if let Some(vols) = c["Volumes"].as_object() {
        for dest in vols.keys() {
            let Ok(d) = spec::mounts::clean_destination(dest) else {
                continue;
            };
            if !user_dests.contains(&d) {
                specs.push(MountSpec {
                    source: Source::Anonymous,
                    destination: d,
                    options: Vec::new(),
                });
            }
        }
    }
    for m in &specs {
        match &m.source {
            Source::Named(name) => {
                let v = match state.volume(name) {
                    Ok(v) => {
                        if !used.contains(name) {
                            used.push(name.clone());
                        }
                        v
                    }
                    Err(_) => match new_volumes.iter().find(|v| &v.name == name) {
                        Some(v) => v.clone(),
                        None => {
                            let v = volumes::record(
                                &graphroot,
                                &VolumeCreate {
                                    name: Some(name.clone()),
                                    ..VolumeCreate::default()
                                },
                            )?;
                            volumes::make_dirs(&v)?;
                            undo.volumes.push(v.clone());
                            new_volumes.push(v.clone());
                            v
                        }
                    },
                };
                volume_mounts.push((m.clone(), v));
            }
            Source::Anonymous => {
                let v = volumes::record(
                    &graphroot,
                    &VolumeCreate {
                        anonymous: true,
                        ..VolumeCreate::default()
                    },
                )?;
                volumes::make_dirs(&v)?;
                undo.volumes.push(v.clone());
                new_volumes.push(v.clone());
                volume_mounts.push((m.clone(), v));
            }
            Source::Bind(_) => {}
            Source::Tmpfs => mount_reqs.push(MountRequest::Tmpfs {
                destination: m.destination.clone(),
                options: m.options.clone(),
            }),
        }
    }
    for (m, v) in &volume_mounts {
        if !m.nocopy() && !v.options.contains_key("nocopy") {
            // The image's files at the mount point seed an empty volume.
            if let Some(src) = host::inside_rootfs(&rootfs, &m.destination) {
                volumes::copy_up(&src, Path::new(&v.mountpoint)).with_context(|| {
                    format!(
                        "copying the image's {} into volume {}",
                        m.destination, v.name
                    )
                })?;
            }
        }
        mount_reqs.push(MountRequest::Volume {
            name: v.name.clone(),
            source: PathBuf::from(&v.mountpoint),
            destination: m.destination.clone(),
            options: m
                .options
                .iter()
                .filter(|o| *o != "nocopy" && *o != "copy")
                .cloned()
                .collect(),
            source_flags: host::source_flags(Path::new(&v.mountpoint))?,
        });
    }
    for (m, flags) in &binds {
        if let Source::Bind(src) = &m.source {
            mount_reqs.push(MountRequest::Bind {
                source: src.clone(),
                destination: m.destination.clone(),
                options: m.options.clone(),
                source_flags: *flags,
            });
        }
    }

    // /etc/hosts, /etc/hostname, /etc/resolv.conf.
    let uts_private = uts_ns == NamespaceMode::Private;
    let hostname = match (&req.hostname, uts_private) {
        (Some(h), _) => h.clone(),
        (None, true) => id[..12].to_owned(),
        (None, false) => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default(),
    };
    let etc_files = etc::write(
        &paths.userdata,
        &EtcOptions {
            hostname: hostname.clone(),
            name: req.name.clone().unwrap_or_default(),
            add_hosts: parsed.add_hosts.clone(),
            image_hosts: read("etc/hosts"),
            host_ip: etc::host_address(),
            host_resolv: etc::host_resolv_conf(),
            ..EtcOptions::default()
        },
    )?;

    let mut labels: BTreeMap<String, String> = c["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    labels.extend(parsed.labels.clone());
    let mut container = ContainerConfig {
        id: id.clone(),
        name: req.name.clone().unwrap_or_default(),
        image_id: img.id.hex().to_owned(),
        rootfs: rootfs.clone(),
        command,
        env,
        workdir: req.workdir.clone().or_else(|| {
            c["WorkingDir"]
                .as_str()
                .filter(|w| !w.is_empty())
                .map(String::from)
        }),
        user: req.user.clone().or_else(|| {
            c["User"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map(String::from)
        }),
        passwd: read("etc/passwd"),
        group: read("etc/group"),
        hostname: uts_private.then_some(hostname),
        read_only: req.read_only,
        read_only_tmpfs: req.read_only_tmpfs.unwrap_or(true),
        cap_add: req.cap_add.clone(),
        cap_drop: req.cap_drop.clone(),
        privileged: req.privileged,
        security_opt: req.security_opt.clone(),
        devices,
        ulimits: req.ulimits.clone(),
        mounts: mount_reqs,
        tmpfs: req.tmpfs.clone(),
        group_add: req.group_add.clone(),
        annotations: parsed.annotations.clone(),
        labels,
        stop_signal: req
            .stop_signal
            .clone()
            .or_else(|| c["StopSignal"].as_str().map(String::from)),
        terminal: req.tty,
        rootless: ctx.rootless(),
        userns,
        pid: pid_ns,
        ipc: ipc_ns,
        uts: uts_ns,
        etc_files,
        cgroups: if cgroup.plan.is_some() {
            CgroupsMode::Enabled
        } else {
            CgroupsMode::Disabled
        },
        resources: req.resources.clone(),
        oom_score_adj: req.resources.oom_score_adj,
        init,
        ..ContainerConfig::default()
    };
    super::network::apply(
        ctx,
        state,
        store.root(),
        net_plan,
        &req.network.dns,
        &mut container,
    )?;
    defaults.cgroup_v2 = cgroup.v2;
    defaults.cgroup_path_usable = cgroup.plan.is_some();
    let generated = spec::generate(&container, &defaults)?;
    host::chown_requested(&container, &generated)?;
    std::fs::write(
        paths.userdata.join("config.json"),
        serde_json::to_vec_pretty(&generated)?,
    )
    .with_context(|| format!("writing the OCI spec of {}", &id[..12]))?;
    if let Some(plan) = &cgroup.plan {
        plan.write(&paths.userdata)?;
    }

    if view {
        store
            .unmount_container(&id)
            .with_context(|| format!("unmounting the image view of {}", &id[..12]))?;
    }

    let (runtime, _) = oci::select(
        req.runtime.as_deref(),
        &oci::host_facts(),
        &ctx.run_dir.join("runtime"),
        true,
    )?;
    let mut stored = req.clone();
    stored.auto_userns = auto_maps;
    stored.dependencies = super::depend::resolve(state, req)?;
    let row = state.create_container(&NewContainer {
        id: id.clone(),
        name: req.name.clone(),
        image_id: img.id.hex().to_owned(),
        image_name: img
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| img.id.short().to_owned()),
        created: time::now_ns(),
        config: serde_json::to_string(&stored)?,
        pod_id: None,
        runtime: runtime.name.clone(),
        volumes: used,
        new_volumes,
    })?;
    undo.armed = false;
    super::events::record(state, &row, "create", &[]);
    Ok(Created {
        id,
        name: row.name,
        warnings: cgroup.warnings,
    })
}

/// `--userns=auto`: the first `size` subordinate ids (of the pause
/// namespace's, 1..) that no other container's auto namespace holds.
fn allocate_auto(
    state: &State,
    defaults: &spec::Defaults,
    size: u32,
) -> anyhow::Result<(Vec<IdMap>, Vec<IdMap>)> {
    let available = defaults.subuid_size.min(defaults.subgid_size);
    let mut taken: Vec<(u32, u32)> = Vec::new();
    for c in state.list_containers(true)? {
        let r: CreateRequest = serde_json::from_str(&c.config).unwrap_or_default();
        if let Some((u, _)) = r.auto_userns {
            taken.extend(
                u.iter()
                    .map(|m| (m.host_id, m.host_id.saturating_add(m.size))),
            );
        }
    }
    taken.sort();
    let mut start = 1u32;
    for (a, b) in taken {
        if start.saturating_add(size) <= a {
            break;
        }
        start = start.max(b);
    }
    if size == 0 || u64::from(start) + u64::from(size) > u64::from(available) + 1 {
        bail!(
            "--userns=auto: no {size} free subordinate ids left ({available} in /etc/subuid and /etc/subgid)"
        );
    }
    let map = vec![IdMap {
        container_id: 0,
        host_id: start,
        size,
    }];
    Ok((map.clone(), map))
}

/// The host id (in the namespace hutch runs in) of container id `id`.
pub fn to_host_id(maps: Option<&[oci_spec::runtime::LinuxIdMapping]>, id: u32) -> Option<u32> {
    match maps {
        None => Some(id),
        Some(maps) => maps.iter().find_map(|m| {
            let off = id.checked_sub(m.container_id())?;
            (off < m.size()).then(|| m.host_id() + off)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_through_maps() {
        let m = |c: u32, h: u32, s: u32| {
            oci_spec::runtime::LinuxIdMappingBuilder::default()
                .container_id(c)
                .host_id(h)
                .size(s)
                .build()
                .unwrap()
        };
        let maps = vec![m(0, 1, 1000), m(1000, 0, 1), m(1001, 1001, 100)];
        assert_eq!(to_host_id(Some(&maps), 1000), Some(0));
        assert_eq!(to_host_id(Some(&maps), 0), Some(1));
        assert_eq!(to_host_id(Some(&maps), 1050), Some(1050));
        assert_eq!(to_host_id(Some(&maps), 5000), None);
        assert_eq!(to_host_id(None, 7), Some(7));
    }

    #[test]
    fn auto_userns_ranges_do_not_overlap() {
        use crate::engine::state::tests::{id, new_container, temp_state};
        let (_dir, state) = temp_state();
        let defaults = spec::Defaults {
            subuid_size: 3000,
            subgid_size: 3000,
            ..spec::Defaults::default()
        };
        let mut hosts = Vec::new();
        for n in 0..2 {
            let (u, _) = allocate_auto(&state, &defaults, 1024).unwrap();
            hosts.push(u[0].host_id);
            let mut c = new_container(&id("a", n), None);
            c.config = serde_json::to_string(&CreateRequest {
                auto_userns: Some((u.clone(), u)),
                ..CreateRequest::default()
            })
            .unwrap();
            state.create_container(&c).unwrap();
        }
        assert_eq!(hosts, vec![1, 1025]);
        let err = allocate_auto(&state, &defaults, 1024).unwrap_err();
        assert!(err.to_string().contains("no 1024 free"), "{err}");
        assert_eq!(
            allocate_auto(&state, &defaults, 900).unwrap().0[0].host_id,
            2049
        );
    }

    #[test]
    fn bad_flags_are_refused_before_anything() {
        let req = |f: &dyn Fn(&mut CreateRequest)| {
            let mut r = CreateRequest::default();
            f(&mut r);
            parse(&r, Path::new("/")).err().map(|e| e.to_string())
        };
        assert!(req(&|_| {}).is_none());
        assert!(
            req(&|r| r.volumes = vec!["a:b:c:d".into()])
                .unwrap()
                .contains("incorrect volume format")
        );
        assert!(
            req(&|r| r.cap_add = vec!["NOPE".into()])
                .unwrap()
                .contains("unknown capability")
        );
        assert!(req(&|r| r.ulimits = vec!["nofile=x".into()]).is_some());
        assert!(req(&|r| r.ulimits = vec!["bogus=1".into()]).is_some());
        assert!(req(&|r| r.security_opt = vec!["bogus".into()]).is_some());
        assert!(req(&|r| r.volumes = vec!["/a:/x".into(), "/b:/x/".into()]).is_some());
        assert!(req(&|r| r.pull = "sometimes".into()).is_some());
    }
}
