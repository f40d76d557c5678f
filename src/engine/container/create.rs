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

use super::Paths;
use super::etc::{self, EtcOptions};
use super::host;
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{NewContainer, State, Volume, names};
use crate::engine::volume::{self as volumes, VolumeCreate};
use crate::engine::{Error, ErrorKind, Result};
use crate::fail;
use crate::host::time;
use crate::runtime::spec::{
    self, CgroupsMode, ContainerConfig, IdMap, MountRequest, NamespaceMode, SeccompChoice,
    UsernsMode,
};
use crate::spec::{
    ContainerSpec, LogConfig, LogDriver, Mount, MountSource, Namespace, RestartPolicy,
    SPEC_VERSION, Userns, parse,
};

/// `--pull`: when the image is fetched from its registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Only when there is no local image of that name.
    #[default]
    Missing,
    Always,
    Never,
    /// Pull, keeping the local image when the registry cannot be reached.
    Newer,
}

impl PullPolicy {
    pub fn parse(s: &str) -> Option<PullPolicy> {
        Some(match s {
            "" | "missing" => PullPolicy::Missing,
            "always" => PullPolicy::Always,
            "never" => PullPolicy::Never,
            "newer" => PullPolicy::Newer,
            _ => return None,
        })
    }

    /// containers.conf's `[engine] pull_policy` where the policy is the
    /// built-in default (a `--pull missing` given on the command line
    /// cannot be told from none: the file wins, as for the other flag
    /// defaults in `conf_defaults`).
    pub fn or_conf(self, ctx: &Context) -> crate::engine::Result<PullPolicy> {
        match (self, ctx.containers_conf().pull_policy.as_deref()) {
            (PullPolicy::Missing, Some(p)) if !p.is_empty() => PullPolicy::parse(
                &p.to_ascii_lowercase(),
            )
            .ok_or_else(|| {
                crate::engine::Error::bad_input(format!(
                    "invalid pull type from containers.conf {p:?}: unsupported pull policy {p:?}"
                ))
            }),
            (p, _) => Ok(p),
        }
    }
}

/// How to create, beside what to create.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub pull: PullPolicy,
    /// `--replace`: a container holding the spec's name is stopped and
    /// removed first.
    pub replace: bool,
    /// Where a pull the image needs reports its progress (the CLI prints
    /// Podman's lines); `None`: quietly.
    pub progress: Option<PullProgress>,
    /// `--tls-verify`, `--authfile` for that pull.
    pub registry: image::pull::RegistryOptions,
    /// `--platform`/`--arch`/`--os`/`--variant`: the image a manifest list
    /// gives for it (`None`: the host's).
    pub platform: Option<crate::image::registry::Platform>,
}

/// What a pull's progress events go to.
pub type ProgressSink = dyn FnMut(&str, crate::image::registry::ProgressEvent) + Send;

/// A sink for a pull's progress events.
#[derive(Clone)]
pub struct PullProgress(pub std::sync::Arc<std::sync::Mutex<ProgressSink>>);

impl std::fmt::Debug for PullProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PullProgress")
    }
}

/// Podman's words (printed bare, without "Warning: ") when `-p` meets a
/// network mode that forwards no ports.
pub const PORTS_DISCARDED: &str = "Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use";

/// A created container: its id and name, and warnings to print once.
#[derive(Debug, Clone)]
pub struct CreateReport {
    pub id: String,
    pub name: String,
    pub warnings: Vec<String>,
}

/// `--userns=auto`'s size when none is asked for (containers.conf
/// `auto_userns_min_size`).
const AUTO_USERNS_SIZE: u32 = 1024;

/// The rules between fields of a spec, checked before anything is made.
/// Pure: the flags were parsed by the front end, this is what a REST body
/// could still get wrong.
pub fn validate(s: &ContainerSpec) -> Result<()> {
    if s.version != SPEC_VERSION {
        fail!(
            BadInput,
            "container spec version {} is not supported: this hutch writes version {SPEC_VERSION}",
            s.version
        );
    }
    if s.image.is_empty() && s.rootfs.is_none() {
        fail!(BadInput, "no image given: a container needs one");
    }
    if let Some(r) = &s.rootfs {
        if !r.path.is_absolute() {
            fail!(
                BadInput,
                "--rootfs {}: the path must be absolute",
                r.path.display()
            );
        }
        if r.idmap {
            // An id-mapped mount of the directory needs a mount namespace
            // owned by the container's user namespace: not built yet.
            fail!(
                BadInput,
                "--rootfs {}:idmap: id-mapped root file systems are not supported by hutch yet; \
                 use the directory in place or with :O",
                r.path.display()
            );
        }
    }
    if let Some(n) = &s.name {
        names::validate("container", n)?;
    }
    if let Some(e) = s.env.iter().find(|e| !e.contains('=')) {
        fail!(
            BadInput,
            "environment entry {e:?} has no value: the front end resolves KEY to KEY=VALUE"
        );
    }
    let bad = |e: anyhow::Error| Error::from(e).with_kind(ErrorKind::BadInput);
    parse::mount::check_duplicates(&s.mounts).map_err(bad)?;
    parse::capabilities(&s.cap_add, &s.cap_drop).map_err(bad)?;
    s.resources
        .validate()
        .map_err(|e| Error::bad_input(e.to_string()))?;
    if s.remove && s.restart != RestartPolicy::No {
        fail!(
            BadInput,
            "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\""
        );
    }
    if let SeccompChoice::Path(p) = &s.security.seccomp
        && s.seccomp_profile.is_none()
    {
        fail!(
            BadInput,
            "seccomp profile {} was not read: the front end passes its content",
            p.display()
        );
    }
    if let Some(sig) = s.stop_signal
        && !(1..=libc::SIGRTMAX()).contains(&sig)
    {
        fail!(BadInput, "invalid signal: {sig}");
    }
    Ok(())
}

/// Where the container's log goes; `None` for `--log-driver none`.
pub fn log_path(paths: &Paths, log: &LogConfig) -> Option<PathBuf> {
    if log.driver == LogDriver::None {
        return None;
    }
    Some(log.path.clone().unwrap_or_else(|| paths.log()))
}

/// The image per `--pull`: registry references are pulled when missing
/// (or always, or when newer); other transports must be local.
pub fn resolve_image(
    ctx: &Context,
    store: &Store,
    reference: &str,
    policy: PullPolicy,
    progress: Option<&PullProgress>,
) -> anyhow::Result<ImageRecord> {
    resolve_image_with(
        ctx,
        store,
        reference,
        policy,
        progress,
        &Default::default(),
        None,
    )
}

/// [`resolve_image`] with the registry options and platform a pull uses.
pub fn resolve_image_with(
    ctx: &Context,
    store: &Store,
    reference: &str,
    policy: PullPolicy,
    progress: Option<&PullProgress>,
    registry: &image::pull::RegistryOptions,
    platform: Option<&crate::image::registry::Platform>,
) -> anyhow::Result<ImageRecord> {
    let (transport, rest) = crate::image::reference::strip_transport(reference);
    let registry_ref = matches!(transport, None | Some("docker"));
    let local = image::lookup(store, reference);
    let pull = || -> crate::engine::Result<ImageRecord> {
        let preq = image::pull::PullRequest {
            name: rest.to_owned(),
            platform: platform
                .cloned()
                .unwrap_or_else(crate::image::registry::Platform::host),
            options: registry.clone(),
        };
        image::pull::pull(ctx, store, &preq, &mut |r, e| {
            if let Some(PullProgress(sink)) = progress
                && let Ok(mut f) = sink.lock()
            {
                f(r, e)
            }
        })
    };
    match policy {
        PullPolicy::Never => Ok(local?),
        PullPolicy::Always if registry_ref => Ok(pull()?),
        // Without a cheap digest check, "newer" pulls and keeps the local
        // image when the registry cannot be reached, as Podman does.
        PullPolicy::Newer if registry_ref => pull().or_else(|e| local.map_err(|_| e.into())),
        _ => match local {
            Ok(img) => Ok(img),
            Err(e @ image::LookupError::NotKnown(_)) if registry_ref => {
                // Both reasons are told: the name may have been a typo of a
                // local image as well as a registry reference.
                pull().map_err(|p| {
                    // A policy refusal is the whole story, said as Podman says it.
                    if p.downcast_ref::<crate::image::trust::Refusal>().is_some() {
                        return p.into();
                    }
                    anyhow::anyhow!("{e} (pulling it failed: {})", p.text())
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

/// The part of the OCI spec generator's input that comes from the spec
/// alone, with neither the host nor the image: what `create` completes
/// with the image's config, the rootfs's /etc files, device numbers, bind
/// sources' flags, volumes and namespaces of other containers. Binds get
/// no source flags here (`create` reads them); named and anonymous
/// volumes are left to `create`, which makes them.
pub fn generator_input(spec: &ContainerSpec) -> ContainerConfig {
    let mut mounts: Vec<MountRequest> = spec
        .mounts
        .iter()
        .filter_map(|m| match &m.source {
            MountSource::Bind(src) => Some(MountRequest::Bind {
                source: src.clone(),
                destination: m.destination.clone(),
                options: m.options.clone(),
                source_flags: Default::default(),
            }),
            MountSource::Tmpfs => Some(MountRequest::Tmpfs {
                destination: m.destination.clone(),
                options: m.options.clone(),
            }),
            MountSource::Named(_) | MountSource::Anonymous => None,
        })
        .collect();
    mounts.extend(spec.tmpfs.iter().map(|t| MountRequest::Tmpfs {
        destination: t.destination.clone(),
        options: t.options.clone(),
    }));
    ContainerConfig {
        name: spec.name.clone().unwrap_or_default(),
        command: spec
            .entrypoint
            .iter()
            .flatten()
            .chain(&spec.command)
            .cloned()
            .collect(),
        env: spec.env.clone(),
        workdir: spec.workdir.clone(),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
        read_only: spec.read_only,
        read_only_tmpfs: spec.read_only_tmpfs,
        cap_add: spec.cap_add.clone(),
        cap_drop: spec.cap_drop.clone(),
        privileged: spec.privileged,
        security: spec.security.clone(),
        devices: spec.devices.clone(),
        ulimits: spec.ulimits.limits.clone(),
        ulimit_host: spec.ulimits.host,
        mounts,
        group_add: spec.group_add.clone(),
        annotations: spec.annotations.clone(),
        sysctls: spec.sysctls.clone(),
        labels: spec.labels.clone(),
        stop_signal: spec.stop_signal.map(parse::restart::signal_name),
        terminal: spec.tty,
        userns: match &spec.userns {
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
            // `auto` is allocated by `create` from the other containers.
            Userns::Host | Userns::Auto { .. } => UsernsMode::Host,
        },
        resources: spec.resources.clone(),
        oom_score_adj: spec.resources.oom_score_adj,
        shm_size: spec.shm_size,
        personality: spec.personality.clone(),
        ..ContainerConfig::default()
    }
}

/// `--replace`: the container holding `name` (exactly) is stopped and
/// removed, so that the new one can take the name.
fn replace(ctx: &Context, store: &Store, state: &State, name: &str) -> Result<()> {
    let Ok(old) = state.container(name) else {
        return Ok(());
    };
    if old.name != name {
        return Ok(());
    }
    super::lifecycle::recover(ctx, store, state)?;
    let old = state.container(&old.id)?;
    super::lifecycle::stop(ctx, store, state, &old, Some(0))?;
    super::remove::remove_stopped(
        store,
        state,
        &Paths::new(ctx, store.root(), &old.id),
        &old.id,
    )
    .with_context(|| format!("replacing container {name}"))?;
    Ok(())
}

/// Creates a container from `spec`: checks it, looks at the host, then
/// makes the layer, the userdata (config.json, /etc files, network plan)
/// and the state row. Never reads the caller's directory or environment.
pub fn create(
    ctx: &Context,
    store: &Store,
    state: &State,
    spec: &ContainerSpec,
    opts: &CreateOptions,
) -> Result<CreateReport> {
    validate(spec)?;
    // A pod's shared namespaces become the container's; what only the pod
    // may set is refused here, before anything is made.
    let (in_pod, _) = super::pod_join::expand(state, spec)?;
    // containers.conf's defaults, before the checks below see the spec
    // (`netns = "host"` drops ports as `--network host` does).
    let spec = &super::conf_defaults::apply(ctx, &in_pod)?;
    // Ports with a network mode that cannot forward them are dropped with
    // Podman's warning, not refused.
    let dropped;
    let mut warnings = Vec::new();
    let spec = if spec.network.mode.as_ref().is_some_and(|m| !m.can_publish())
        && (!spec.network.ports.is_empty() || spec.network.publish_all)
    {
        warnings.push(PORTS_DISCARDED.to_owned());
        let mut s = spec.clone();
        s.network.ports.clear();
        s.network.publish_all = false;
        dropped = s;
        &dropped
    } else {
        spec
    };
    if let Some(name) = &spec.name {
        if opts.replace {
            replace(ctx, store, state, name)?;
        } else {
            state.check_name_free(name)?;
        }
    }
    let mut report = make(ctx, store, state, spec, opts)?;
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    Ok(report)
}

/// The image label `--seccomp-policy=image` reads the profile from.
const IMAGE_SECCOMP_LABEL: &str = "io.containers.seccomp.profile";

fn make(
    ctx: &Context,
    store: &Store,
    state: &State,
    req: &ContainerSpec,
    opts: &CreateOptions,
) -> anyhow::Result<CreateReport> {
    // `--rootfs`: no image, so no image config to complete the spec.
    let (img, cfg) = match &req.rootfs {
        None => {
            let img = resolve_image_with(
                ctx,
                store,
                &req.image,
                opts.pull.or_conf(ctx)?,
                opts.progress.as_ref(),
                &opts.registry,
                opts.platform.as_ref(),
            )?;
            let cfg = image::config(store, &img)?;
            (Some(img), cfg)
        }
        Some(r) => {
            check_rootfs(&r.path)?;
            (None, serde_json::json!({ "config": {} }))
        }
    };
    let c = &cfg["config"];
    // `--seccomp-policy=image`: the profile the image carries in a label
    // (Podman's), else Podman's refusal.
    let image_seccomp = match req.seccomp_policy.as_deref() {
        Some("image") => Some(
            c["Labels"][IMAGE_SECCOMP_LABEL]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::bad_input("no seccomp policy defined by image"))?,
        ),
        _ => None,
    };
    // `--sdnotify=healthy` waits for a check that the monitor runs.
    if req.sdnotify == crate::spec::SdNotify::Healthy
        && super::health::effective(req.health_check.as_ref(), c)
            .is_none_or(|h| !h.enabled() || h.interval_ns() == 0)
    {
        return Err(Error::bad_input(
            "--sdnotify=healthy needs a health check with an interval (--health-cmd, or the image's HEALTHCHECK)",
        )
        .into());
    }
    let entrypoint = match &req.entrypoint {
        Some(e) => e.clone(),
        None => strings(&c["Entrypoint"]),
    };
    let cmd = if req.command.is_empty() {
        strings(&c["Cmd"])
    } else {
        req.command.clone()
    };
    let command: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    let systemd = req.systemd.applies(&command);
    if command.is_empty() {
        bail!(
            "no command specified for {}: the image has no CMD or ENTRYPOINT; give one",
            match &req.rootfs {
                Some(r) => r.path.display().to_string(),
                None => req.image.clone(),
            }
        );
    }

    // Environment: the image's, then the spec's (already in Podman's order
    // of --env-host, --env-file, --env).
    let mut env = strings(&c["Env"]);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, spec::DEFAULT_PATH.to_owned());
    }
    // containers.conf's `env` (Podman's default: PATH and TERM=xterm),
    // under the image's.
    let defaults = ctx
        .containers_conf()
        .env
        .clone()
        .unwrap_or_else(|| vec!["TERM=xterm".to_owned()]);
    for e in defaults {
        let key = e.split('=').next().unwrap_or_default();
        if !env.iter().any(|i| i.split('=').next() == Some(key)) {
            env.push(e);
        }
    }
    // `--unsetenv` takes names out of the image's and the default
    // environment; `-e` below still sets them.
    if req.unsetenv_all {
        env.clear();
    }
    env.retain(|e| {
        let key = e.split('=').next().unwrap_or_default();
        !req.unsetenv.iter().any(|u| u == key)
    });
    super::setup::env_merge(&mut env, &req.setup.env_merge);
    for e in &req.env {
        parse::env::set(&mut env, e.clone());
    }
    let cgroup = crate::cgroups::container::plan(&crate::cgroups::detect_for(ctx), &req.resources);

    // Host-side checks, still before anything is made.
    let mut binds: Vec<(Mount, spec::SourceFlags)> = Vec::new();
    let borrowed = super::setup::volumes_from(ctx, store.root(), state, req)?;
    for m in req.mounts.iter().chain(&borrowed) {
        if let MountSource::Bind(src) = &m.source {
            binds.push((m.clone(), host::source_flags(src)?));
        }
    }
    if let Some(tz) = &req.timezone {
        let (zone, flags) = timezone(tz)?;
        binds.push((zone, flags));
    }
    let mut devices = req.devices.clone();
    // CDI devices: their nodes, binds, environment (over -e, as Podman
    // injects after), groups and hooks.
    let cdi = super::cdi::resolve(ctx, &req.cdi_devices)?;
    for n in &cdi.nodes {
        devices.push(spec::DeviceRequest {
            host_path: n.host_path.clone(),
            container_path: n.path.clone(),
            permissions: n.permissions.clone(),
            node: None,
        });
    }
    for d in &mut devices {
        d.node = Some(host::device_node(&d.host_path)?);
    }
    for e in &cdi.env {
        parse::env::set(&mut env, e.clone());
    }
    for m in &cdi.mounts {
        let mount = Mount {
            source: MountSource::Bind(m.host_path.clone()),
            destination: m.container_path.clone(),
            options: super::cdi::bind_options(&m.options),
        };
        binds.push((mount, host::source_flags(&m.host_path)?));
    }
    let init = if req.init {
        Some(host::find_init(req.init_path.as_deref())?)
    } else {
        None
    };
    let ns = |spec: &Namespace| -> anyhow::Result<NamespaceMode> {
        Ok(match spec {
            Namespace::Private => NamespaceMode::Private,
            Namespace::Host => NamespaceMode::Host,
            Namespace::Path(p) => NamespaceMode::Path(p.clone()),
            Namespace::Container(q) => {
                let other = state.container(q)?;
                match other.pid {
                    Some(pid) if other.state.is_active() => {
                        NamespaceMode::Container { pid: pid as u32 }
                    }
                    // A pod's infra container need not run yet: each start
                    // of the container points it at the infra's namespaces
                    // (`pod_join::before_start`).
                    _ if req.pod.is_some() && other.pod_id == req.pod => {
                        NamespaceMode::Container { pid: 0 }
                    }
                    _ => bail!(
                        "container {} is not running: cannot join its namespace",
                        other.name
                    ),
                }
            }
        })
    };
    let n = &req.namespaces;
    let (pid_ns, ipc_ns, uts_ns) = (ns(&n.pid)?, ns(&n.ipc)?, ns(&n.uts)?);
    let mut auto_maps = None;
    let userns = match &req.userns {
        Userns::Auto { size } => {
            let defaults = host::defaults(ctx, false)?;
            let (u, g) = allocate_auto(state, &defaults, size.unwrap_or(AUTO_USERNS_SIZE))?;
            auto_maps = Some((u.clone(), g.clone()));
            UsernsMode::Auto {
                uid_map: u,
                gid_map: g,
            }
        }
        _ => generator_input(req).userns,
    };
    let net_plan = super::network::plan(ctx, &req.network, &req.setup.expose, c)?;
    let dependencies = super::depend::resolve(state, req)?;

    // From here on, things are made; `undo` takes them back on error.
    let id = names::generate_id().context("generating a container id")?;
    // Held until the row exists: a directory without a row whose lock is
    // free is an interrupted create's (lifecycle::recover removes it).
    let _creating = state.lock_container(&id)?;
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
    let (rootfs, view) = match (&img, &req.rootfs) {
        (Some(img), _) => store.create_container_layer(&id, img),
        (None, Some(r)) => store.create_container_rootfs_layer(&id, &r.path, r.overlay),
        (None, None) => unreachable!("an image or a rootfs was resolved above"),
    }
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
    let volume_base = volumes::volumes_root(ctx, store.root());
    let mut mount_reqs: Vec<MountRequest> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut new_volumes: Vec<Volume> = Vec::new();
    let mut volume_mounts: Vec<(Mount, Volume)> = Vec::new();
    let mut specs = req.mounts.clone();
    specs.extend(
        borrowed
            .iter()
            .filter(|m| !matches!(m.source, MountSource::Bind(_)))
            .cloned(),
    );
    let user_dests: Vec<String> = specs
        .iter()
        .chain(&borrowed)
        .filter_map(|m| spec::mounts::clean_destination(&m.destination).ok())
        .collect();
    // `--image-volume`: an anonymous volume (bind, the default), a tmpfs,
    // or nothing at each of the image's VOLUMEs.
    let image_volume = req.setup.image_volume.as_deref().unwrap_or("bind");
    if let Some(vols) = c["Volumes"]
        .as_object()
        .filter(|_| image_volume != "ignore")
    {
        for dest in vols.keys() {
            let Ok(d) = spec::mounts::clean_destination(dest) else {
                continue;
            };
            if !user_dests.contains(&d) {
                specs.push(Mount {
                    source: if image_volume == "tmpfs" {
                        MountSource::Tmpfs
                    } else {
                        MountSource::Anonymous
                    },
                    destination: d,
                    options: Vec::new(),
                });
            }
        }
    }
    for m in &specs {
        match &m.source {
            MountSource::Named(name) => {
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
                                &volume_base,
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
            MountSource::Anonymous => {
                let v = volumes::record(
                    &volume_base,
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
            MountSource::Bind(_) => {}
            MountSource::Tmpfs => mount_reqs.push(MountRequest::Tmpfs {
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
        if let MountSource::Bind(src) = &m.source {
            mount_reqs.push(MountRequest::Bind {
                source: src.clone(),
                destination: m.destination.clone(),
                options: m.options.clone(),
                source_flags: *flags,
            });
        }
    }

    for t in &req.tmpfs {
        mount_reqs.push(MountRequest::Tmpfs {
            destination: t.destination.clone(),
            options: t.options.clone(),
        });
    }
    super::setup::secrets(
        store.root(),
        &paths.userdata,
        req,
        &mut env,
        &mut mount_reqs,
    )?;

    let sysctls = super::sysctl::resolve(
        &ctx.containers_conf().default_sysctls,
        &req.sysctls,
        super::sysctl::HostNamespaces {
            net: matches!(net_plan.mode, hutch_rootless_net::NetworkMode::Host),
            ipc: ipc_ns == NamespaceMode::Host,
            uts: uts_ns == NamespaceMode::Host,
            // A container with a user namespace of its own joins a network
            // namespace hutch made in the pause namespace: the kernel lets
            // only that namespace's owner write its sysctls.
            net_defaults: userns == UsernsMode::Host,
        },
    )?;

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
            add_hosts: req
                .add_hosts
                .iter()
                .map(|h| (h.names.clone(), h.ip))
                .collect(),
            image_hosts: match ctx.containers_conf().base_hosts_file.as_deref() {
                Some("image") => read("etc/hosts"),
                Some("none") => None,
                Some(path) if !path.is_empty() => etc::read_base_hosts(Path::new(path)),
                _ => etc::read_base_hosts(Path::new("/etc/hosts")),
            },
            host_ip: etc::host_address(),
            host_resolv: etc::host_resolv_conf(),
            no_hosts: req.setup.no_hosts,
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
    labels.extend(req.labels.clone());
    let workdir = req.workdir.clone().or_else(|| {
        c["WorkingDir"]
            .as_str()
            .filter(|w| !w.is_empty())
            .map(String::from)
    });
    let (image_passwd, image_group) = (read("etc/passwd"), read("etc/group"));
    let added = super::accounts::plan(
        ctx,
        req,
        workdir.as_deref().unwrap_or("/"),
        image_passwd.as_deref(),
        image_group.as_deref(),
    )?;
    let mut added = added;
    let user = req.user.clone().or_else(|| {
        c["User"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(String::from)
    });
    let (user_line, group_line) = super::setup::user_entry(
        req,
        user.as_deref(),
        workdir.as_deref().unwrap_or("/"),
        added.passwd.as_deref().or(image_passwd.as_deref()),
        added.group.as_deref().or(image_group.as_deref()),
    );
    if let Some(line) = user_line {
        let base = added.passwd.take().or_else(|| image_passwd.clone());
        added.passwd = Some(super::setup::append_line(base, &line));
    }
    if let Some(line) = group_line {
        let base = added.group.take().or_else(|| image_group.clone());
        added.group = Some(super::setup::append_line(base, &line));
    }
    let mut etc_files = etc_files;
    (etc_files.passwd, etc_files.group) =
        etc::write_accounts(&paths.userdata, added.passwd.clone(), added.group.clone())?;
    // Systemd mode stops the container with systemd's SIGRTMIN+3 unless a
    // stop signal was given or the image has one (Podman's order).
    let stop_signal = req
        .stop_signal
        .or_else(|| {
            c["StopSignal"]
                .as_str()
                .and_then(|s| parse::restart::signal(s).ok())
        })
        .or_else(|| systemd.then(|| libc::SIGRTMIN() + 3));
    let notify = super::notify::in_container(ctx, &id, req);
    let mut container = ContainerConfig {
        id: id.clone(),
        name: req.name.clone().unwrap_or_default(),
        image_id: img
            .as_ref()
            .map(|i| i.id.hex().to_owned())
            .unwrap_or_default(),
        rootfs: rootfs.clone(),
        command,
        env,
        workdir,
        user: req.user.clone().or_else(|| {
            c["User"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map(String::from)
        }),
        passwd: added.passwd.or(image_passwd),
        group: added.group.or(image_group),
        hostname: uts_private.then_some(hostname),
        devices,
        mounts: mount_reqs,
        labels,
        stop_signal: stop_signal.map(parse::restart::signal_name),
        rootless: ctx.rootless(),
        userns,
        pid: pid_ns,
        ipc: ipc_ns,
        uts: uts_ns,
        sysctls,
        etc_files,
        cgroups: if cgroup.plan.is_some() {
            CgroupsMode::Enabled
        } else {
            CgroupsMode::Disabled
        },
        init,
        hooks: cdi.hooks.clone(),
        group_add: req
            .group_add
            .iter()
            .cloned()
            .chain(cdi.additional_gids.iter().map(u32::to_string))
            .collect(),
        systemd: systemd.then(|| spec::SystemdSetup {
            cgroup_v1_systemd: host::cgroup_v1_systemd(),
        }),
        notify_dir: notify,
        ..generator_input(req)
    };
    super::conf_defaults::runtime_config(ctx, req, &mut container)?;
    host::resolve_device_limits(&mut container.resources)?;
    if image_seccomp.is_some() {
        container.security.seccomp =
            SeccompChoice::Path(std::path::PathBuf::from(IMAGE_SECCOMP_LABEL));
    }
    super::network::apply(
        ctx,
        state,
        store.root(),
        net_plan,
        &req.network.dns,
        req.pod.as_deref(),
        &mut container,
    )?;
    let generated = super::oci_config::write(
        ctx,
        &paths,
        &container,
        image_seccomp.as_deref().or(req.seccomp_profile.as_deref()),
        cgroup.v2,
    )?;
    host::chown_requested(&container, &generated)?;
    if let Some(plan) = &cgroup.plan {
        plan.write(&paths.userdata)?;
    }

    // A user namespace of the container's own with another map than the
    // store's: its root shows the image's owners shifted (idshift). A root
    // mounted above without the shift is mounted again at start.
    let shifted = match super::userns_view::id_shift(&generated) {
        Some(shift) => {
            let shifted = store
                .set_container_id_shift(&id, &shift)
                .with_context(|| format!("recording the id map of {}", &id[..12]))?;
            if shifted {
                super::userns_view::chown_etc_files(&paths, &shift)?;
            }
            shifted
        }
        None => false,
    };
    if view || shifted {
        store
            .unmount_container(&id)
            .with_context(|| format!("unmounting the image view of {}", &id[..12]))?;
    }

    let (runtime, _) = super::oci_runtime(
        ctx,
        req.runtime
            .as_deref()
            .or(ctx.runtime.as_deref())
            .or(ctx.containers_conf().runtime.as_deref()),
        true,
    )?;
    let mut stored = req.clone();
    stored.health_check = super::health::effective(req.health_check.as_ref(), c);
    stored.auto_userns = auto_maps;
    stored.systemd_active = systemd;
    if systemd {
        stored.stop_signal = stop_signal;
    }
    stored.dependencies = dependencies;
    let made_volumes: Vec<String> = new_volumes.iter().map(|v| v.name.clone()).collect();
    let row = state.create_container(&NewContainer {
        id: id.clone(),
        name: req.name.clone(),
        // Podman shows a `--rootfs` container with no image id or name.
        image_id: img
            .as_ref()
            .map(|i| i.id.hex().to_owned())
            .unwrap_or_default(),
        image_name: img
            .as_ref()
            .map(|img| {
                img.names
                    .first()
                    .cloned()
                    .unwrap_or_else(|| img.id.short().to_owned())
            })
            .unwrap_or_default(),
        created: time::now_ns(),
        spec: stored,
        pod_id: req.pod.clone(),
        // A runtime given by path is found by that path again (Podman's
        // `.OCIRuntime` shows it so too).
        runtime: req
            .runtime
            .as_deref()
            .or(ctx.runtime.as_deref())
            .or(ctx.containers_conf().runtime.as_deref())
            .filter(|r| r.contains('/'))
            .map_or_else(|| runtime.name.clone(), str::to_owned),
        volumes: used,
        new_volumes,
    })?;
    undo.armed = false;
    // Podman records the volumes it makes for a container before the
    // container's own create.
    for v in &made_volumes {
        crate::engine::volume::record_event(state, v, "create");
    }
    super::events::record(state, &row, "create", &[]);
    Ok(CreateReport {
        id,
        name: row.name,
        warnings: cgroup.warnings,
    })
}

/// `--rootfs`: the directory must exist (Podman's words for a missing one).
fn check_rootfs(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => fail!(BadInput, "--rootfs {}: not a directory", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fail!(
            NotFound,
            "running container create option: stat {}: no such file or directory",
            path.display()
        ),
        Err(e) => fail!(BadInput, "stat {}: {e}", path.display()),
    }
}

/// `--userns=auto`: the first `size` subordinate ids (of the pause
/// namespace's, 1..) that no other container's auto namespace holds.
/// `--tz`: the zone file bound read-only on /etc/localtime, as Podman
/// does; a zone that does not exist fails the create with Podman's words.
fn timezone(tz: &str) -> anyhow::Result<(Mount, spec::SourceFlags)> {
    let source = if tz == "local" {
        std::path::PathBuf::from("/etc/localtime")
    } else {
        // A zone name stays below the zoneinfo directory.
        if tz.is_empty()
            || tz.starts_with('/')
            || Path::new(tz)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(crate::engine::Error::bad_input(format!(
                "running container create option: invalid timezone {tz:?}"
            ))
            .into());
        }
        Path::new("/usr/share/zoneinfo").join(tz)
    };
    if let Err(e) = std::fs::metadata(&source) {
        return Err(crate::engine::Error::bad_input(format!(
            "running container create option: {:#}",
            host::io_error("stat", &source, &e)
        ))
        .into());
    }
    let flags = host::source_flags(&source)?;
    let mount = Mount {
        source: MountSource::Bind(source),
        destination: "/etc/localtime".to_owned(),
        options: vec!["ro".to_owned()],
    };
    Ok((mount, flags))
}

fn allocate_auto(
    state: &State,
    defaults: &spec::Defaults,
    size: u32,
) -> anyhow::Result<(Vec<IdMap>, Vec<IdMap>)> {
    let available = defaults.subuid_size.min(defaults.subgid_size);
    let mut taken: Vec<(u32, u32)> = Vec::new();
    for c in state.list_containers(true)? {
        if let Some((u, _)) = c.spec.auto_userns {
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
            c.spec = ContainerSpec {
                auto_userns: Some((u.clone(), u)),
                ..ContainerSpec::default()
            };
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
    fn specs_are_checked_before_anything() {
        let check = |f: &dyn Fn(&mut ContainerSpec)| {
            let mut s = ContainerSpec {
                image: "busybox".into(),
                ..ContainerSpec::default()
            };
            f(&mut s);
            validate(&s).err().map(|e| (e.kind(), e.text()))
        };
        assert!(check(&|_| {}).is_none());
        let (kind, text) = check(&|s| {
            s.remove = true;
            s.restart = RestartPolicy::Always;
        })
        .unwrap();
        assert_eq!(kind, ErrorKind::BadInput);
        assert!(
            text.contains("the --rm option conflicts with --restart"),
            "{text}"
        );
        assert!(check(&|s| s.env = vec!["KEY".into()]).is_some());
        assert!(check(&|s| s.version = SPEC_VERSION + 1).is_some());
        assert!(check(&|s| s.cap_add = vec!["NOPE".into()]).is_some());
        assert!(check(&|s| s.name = Some("bad name".into())).is_some());
        let (kind, _) = check(&|s| {
            s.security.seccomp = SeccompChoice::Path("/p.json".into());
        })
        .unwrap();
        assert_eq!(kind, ErrorKind::BadInput);
        assert!(
            check(&|s| {
                let m = |d: &str| Mount {
                    source: MountSource::Anonymous,
                    destination: d.into(),
                    options: Vec::new(),
                };
                s.mounts = vec![m("/x"), m("/x/")];
            })
            .is_some()
        );
        assert!(check(&|s| s.restart = RestartPolicy::OnFailure(2)).is_none());
    }
}
