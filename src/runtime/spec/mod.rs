//! The OCI runtime spec (`config.json`) for a container, generated from a
//! [`ContainerConfig`] request and the host facts in [`Defaults`].
//!
//! The result is what Podman would hand crun for the same `podman run`
//! flags: containers-common's default capabilities, masked and read-only
//! paths and seccomp profile, runtime-tools' default mounts as Podman's
//! `pkg/specgen/generate` adjusts them for rootless and user-namespaced
//! containers, Podman's rlimit defaults and keep-id maps. Each submodule
//! names the Podman code it follows.
//!
//! Everything here is a pure function of its inputs: the caller reads the
//! host (rlimits, CapBnd, /dev, subordinate ids, the seccomp file, the
//! image's /etc/passwd) and passes what it found, so every rule is tested
//! without privileges. Writing the spec, preparing /etc files and running
//! the runtime belong to the engine and the runtime driver.

pub mod caps;
pub mod config;
pub mod devices;
pub mod limits;
pub mod mounts;
pub mod resources;
pub mod security;
pub mod user;
pub mod userns;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Linux, LinuxCapabilities, LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespace,
    LinuxNamespaceType, LinuxResources, Mount, Process, Root, Spec, User,
};

pub use config::{
    CgroupsMode, ContainerConfig, DeviceKind, DeviceNode, DeviceRequest, EtcFiles, HostDevice,
    IdMap, MountRequest, NamespaceMode, SourceFlags, SystemdSetup, UsernsMode,
};
pub use security::{SeccompChoice, SecurityOpts};

use crate::runtime::seccomp::{self, SeccompError};

/// The runtime-spec version written, the one Podman 4 writes: crun 1.8 and
/// runc accept it.
pub const OCI_VERSION: &str = "1.0.2-dev";

/// The PATH a container gets when its image sets none (containers-common
/// `defaultContainerEnv`).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Podman's `define.InspectAnnotation*` keys, which `podman inspect` reads
/// back from the spec.
pub const ANNOTATION_PRIVILEGED: &str = "io.podman.annotations.privileged";
pub const ANNOTATION_INIT: &str = "io.podman.annotations.init";
pub const ANNOTATION_STOP_SIGNAL: &str = "org.opencontainers.image.stopSignal";
/// crun's switch for `--group-add keep-groups`.
pub const ANNOTATION_KEEP_GROUPS: &str = "run.oci.keep_original_groups";

/// The image label through which an image names the only capabilities it
/// needs (containers-common `capabilities.ContainerImageLabels`).
pub const CAPABILITIES_LABEL: &str = "io.containers.capabilities";

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("the container has no command: the image sets neither ENTRYPOINT nor CMD")]
    NoCommand,
    #[error("working directory {0:?} is not an absolute path")]
    RelativeWorkdir(String),
    #[error("unknown capability {0:?}")]
    UnknownCapability(String),
    #[error("capability {0:?} cannot be both added and dropped")]
    CapabilityAddedAndDropped(String),
    #[error("--cap-add=all and --cap-drop=all cannot be used together")]
    CapabilityAllAddedAndDropped,
    #[error("unable to find user {0:?}: no matching entry in the image's /etc/passwd")]
    UnknownUser(String),
    #[error("unable to find group {0:?}: no matching entry in the image's /etc/group")]
    UnknownGroup(String),
    #[error("invalid --security-opt {0:?}")]
    BadSecurityOpt(String),
    #[error("mask path {path:?} in --security-opt {opt:?} is not absolute")]
    MaskPathNotAbsolute { path: String, opt: String },
    #[error("seccomp profile {0} was not read by the caller")]
    SeccompProfileNotLoaded(PathBuf),
    #[error("seccomp profile {profile}: {source}")]
    Seccomp {
        profile: String,
        #[source]
        source: SeccompError,
    },
    #[error("unknown ulimit {0:?}")]
    UnknownUlimit(String),
    #[error("invalid --ulimit {value:?}: {reason}")]
    BadUlimit { value: String, reason: &'static str },
    #[error("invalid --device {value:?}: {reason}")]
    BadDevice { value: String, reason: &'static str },
    #[error("device {0} has no type and numbers; a rootful container needs them")]
    DeviceNotResolved(PathBuf),
    #[error("mount destination {0:?} is not an absolute path")]
    RelativeMountDestination(String),
    #[error("two mounts at {0}")]
    DuplicateMountDestination(String),
    #[error("mount option {option:?} on {destination}: {reason}")]
    BadMountOption {
        destination: String,
        option: String,
        reason: &'static str,
    },
    #[error("mount option {option:?} given twice (or with its opposite) on {destination}")]
    DuplicateMountOption { destination: String, option: String },
    #[error("invalid --tmpfs {value:?}: {reason}")]
    BadTmpfs { value: String, reason: &'static str },
    #[error("--init needs a private pid namespace")]
    InitNeedsPrivatePid,
    #[error("cannot set a hostname without a private UTS namespace")]
    HostnameNeedsUts,
    #[error("--userns={0} is only supported rootless")]
    UsernsNeedsRootless(&'static str),
    #[error("--userns={0} needs subordinate ids in /etc/subuid and /etc/subgid")]
    NoSubordinateIds(&'static str),
    #[error("--uidmap/--gidmap (or --userns=auto) needs both a uid and a gid map")]
    EmptyIdMap,
    #[error("building the spec: {0}")]
    Build(#[source] oci_spec::OciSpecError),
    /// crun's words for a domain it does not know (runc has none).
    #[error("unknown persona specified `{0}`")]
    UnknownPersonality(String),
}

/// Host facts the caller reads once per command.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The caller's current RLIMIT_NOFILE and RLIMIT_NPROC (soft, hard);
    /// rootless containers cannot go above them.
    pub nofile: (u64, u64),
    pub nproc: (u64, u64),
    /// The host's default seccomp profile (/etc/containers/seccomp.json or
    /// /usr/share/containers/seccomp.json) when one exists; `None` uses
    /// [`seccomp::BUILTIN_PROFILE`].
    pub seccomp_profile: Option<String>,
    /// Profiles named by `--security-opt seccomp=PATH`, by path: the
    /// content the front end read into the container spec.
    pub seccomp_files: BTreeMap<PathBuf, String>,
    pub cgroup_v2: bool,
    /// Whether the container can have a cgroup of its own (a delegated
    /// subtree or rootful cgroupfs); when not, none is asked for.
    pub cgroup_path_usable: bool,
    /// The user's own ids and total subordinate ids, for keep-id and nomap.
    pub uid: u32,
    pub gid: u32,
    pub subuid_size: u32,
    pub subgid_size: u32,
    /// The caller's bounding set (CapBnd, see [`caps::from_mask`]); `None`
    /// for every known capability.
    pub bounding_capabilities: Option<Vec<String>>,
    /// The device nodes under the host's /dev, for `--privileged`.
    pub host_devices: Vec<HostDevice>,
    /// The host's matches of [`security::MASKED_PATH_GLOB`].
    pub extra_masked_paths: Vec<String>,
    /// libseccomp's name for the host architecture.
    pub arch: String,
    /// The running kernel's (major, minor, patch).
    pub kernel: Option<(u32, u32, u32)>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            nofile: (limits::RLIMIT_DEFAULT, limits::RLIMIT_DEFAULT),
            nproc: (limits::RLIMIT_DEFAULT, limits::RLIMIT_DEFAULT),
            seccomp_profile: None,
            seccomp_files: BTreeMap::new(),
            cgroup_v2: true,
            cgroup_path_usable: true,
            uid: 0,
            gid: 0,
            subuid_size: 0,
            subgid_size: 0,
            bounding_capabilities: None,
            host_devices: Vec::new(),
            extra_masked_paths: Vec::new(),
            arch: seccomp::native_arch().to_string(),
            kernel: None,
        }
    }
}

fn ns_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Time => "time",
    }
}

/// The namespace entry for a mode; `None` shares the runtime's (the host's,
/// or rootless the pause process's).
fn namespace(kind: LinuxNamespaceType, mode: &NamespaceMode) -> Option<LinuxNamespace> {
    let path = match mode {
        NamespaceMode::Host => return None,
        NamespaceMode::Private | NamespaceMode::None => None,
        NamespaceMode::Container { pid } => {
            Some(PathBuf::from(format!("/proc/{pid}/ns/{}", ns_name(kind))))
        }
        NamespaceMode::Path(p) => Some(p.clone()),
    };
    let mut ns = LinuxNamespace::default();
    ns.set_typ(kind);
    ns.set_path(path);
    Some(ns)
}

fn id_mappings(maps: &[IdMap]) -> Result<Vec<LinuxIdMapping>, SpecError> {
    maps.iter()
        .map(|m| {
            LinuxIdMappingBuilder::default()
                .container_id(m.container_id)
                .host_id(m.host_id)
                .size(m.size)
                .build()
                .map_err(SpecError::Build)
        })
        .collect()
}

/// Sets or replaces `KEY=...` unless it is there and `only_if_missing`.
fn env_set(env: &mut Vec<String>, key: &str, value: &str, only_if_missing: bool) {
    let prefix = format!("{key}=");
    if let Some(existing) = env.iter_mut().find(|e| e.starts_with(&prefix)) {
        if !only_if_missing {
            *existing = format!("{prefix}{value}");
        }
        return;
    }
    env.push(format!("{prefix}{value}"));
}

/// Whether the process runs as root as Podman's securityConfigureGenerator
/// decides it: from the `--user` text, not the resolved uid.
fn runs_as_root(user: &str) -> bool {
    matches!(user.split(':').next().unwrap_or(""), "" | "root" | "0")
}

/// Builds the spec. Pure: see [`Defaults`] for what the caller provides.
pub fn generate(cfg: &ContainerConfig, defaults: &Defaults) -> Result<Spec, SpecError> {
    if cfg.command.is_empty() {
        return Err(SpecError::NoCommand);
    }
    let sec = &cfg.security;
    let rootless = cfg.rootless;

    // --- user namespace and identity ---
    let userns_plan = userns::plan(
        &cfg.userns,
        &userns::Ids {
            rootless,
            uid: defaults.uid,
            gid: defaults.gid,
            subuid_size: defaults.subuid_size,
            subgid_size: defaults.subgid_size,
        },
    )?;
    let new_userns = userns_plan.maps.is_some();
    let in_userns = rootless || new_userns;
    let user_spec = match (&cfg.user, userns_plan.default_user) {
        (Some(u), _) if !u.is_empty() => u.clone(),
        (_, Some((uid, gid))) => format!("{uid}:{gid}"),
        _ => String::new(),
    };
    let resolved = user::resolve(
        &user_spec,
        cfg.passwd.as_deref(),
        cfg.group.as_deref(),
        &cfg.group_add,
    )?;

    // --- capabilities (before seccomp, which filters on them) ---
    let all_caps: Vec<String> = caps::ALL_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    let bounding_host = defaults.bounding_capabilities.clone().unwrap_or(all_caps);
    let caplist: Vec<String> = if cfg.privileged {
        bounding_host.clone()
    } else {
        let defaults_caps: Vec<String> = caps::DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .collect();
        let merged = caps::merge(&defaults_caps, &cfg.cap_add, &cfg.cap_drop, &bounding_host)?;
        let mut list: Vec<String> = merged
            .into_iter()
            .filter(|c| bounding_host.contains(c))
            .collect();
        // An image may name the only capabilities it needs; Podman honours
        // the label when all of them are in the set already.
        if let Some(wanted) = cfg.labels.get(CAPABILITIES_LABEL) {
            if wanted.is_empty() {
                list.clear();
            } else {
                let wanted: Vec<String> = wanted.split(',').map(str::to_string).collect();
                let wanted = caps::merge(&[], &wanted, &[], &bounding_host)?;
                if wanted.iter().all(|c| list.contains(c)) {
                    list = wanted;
                }
            }
        }
        list
    };
    let mut capabilities = LinuxCapabilities::default();
    let oci_caps = caps::to_oci(&caplist)?;
    capabilities.set_bounding(Some(oci_caps.clone()));
    if runs_as_root(&user_spec) {
        capabilities.set_effective(Some(oci_caps.clone()));
        capabilities.set_permitted(Some(oci_caps));
        // The kernel clears inheritable and ambient for root anyway.
        capabilities.set_inheritable(Some(Default::default()));
        capabilities.set_ambient(Some(Default::default()));
    } else {
        // A non-root process keeps only what --cap-add asked for, through
        // the ambient set.
        let added: Vec<String> = caps::merge(&[], &cfg.cap_add, &[], &bounding_host)?
            .into_iter()
            .filter(|c| bounding_host.contains(c))
            .collect();
        let added = caps::to_oci(&added)?;
        capabilities.set_effective(Some(added.clone()));
        capabilities.set_permitted(Some(added.clone()));
        capabilities.set_inheritable(Some(added.clone()));
        capabilities.set_ambient(Some(added));
    }

    // --- namespaces ---
    let pid_host = cfg.pid == NamespaceMode::Host;
    let ipc_host = cfg.ipc == NamespaceMode::Host;
    let net_host = cfg.net == NamespaceMode::Host;
    let uts_private = cfg.uts == NamespaceMode::Private;
    let cgroupns = cfg.cgroupns.clone().unwrap_or(if defaults.cgroup_v2 {
        NamespaceMode::Private
    } else {
        NamespaceMode::Host
    });
    let mut namespaces: Vec<LinuxNamespace> = [
        (LinuxNamespaceType::Pid, &cfg.pid),
        (LinuxNamespaceType::Network, &cfg.net),
        (LinuxNamespaceType::Ipc, &cfg.ipc),
        (LinuxNamespaceType::Uts, &cfg.uts),
        (LinuxNamespaceType::Mount, &NamespaceMode::Private),
        (LinuxNamespaceType::Cgroup, &cgroupns),
    ]
    .into_iter()
    .filter_map(|(kind, mode)| namespace(kind, mode))
    .collect();
    if new_userns {
        let mut user = LinuxNamespace::default();
        user.set_typ(LinuxNamespaceType::User);
        namespaces.push(user);
    }

    let hostname = match (&cfg.hostname, uts_private) {
        (Some(h), true) => Some(h.clone()),
        (None, true) => Some(cfg.id.chars().take(12).collect::<String>()).filter(|h| !h.is_empty()),
        (Some(h), false) if !h.is_empty() => return Err(SpecError::HostnameNeedsUts),
        _ => None,
    };

    // --- mounts ---
    let can_mount_sys = if net_host && in_userns {
        false
    } else if new_userns {
        matches!(cfg.net, NamespaceMode::Private | NamespaceMode::None)
    } else {
        true
    };
    let gid5 = userns::gid5_available(
        rootless,
        defaults.subgid_size,
        userns_plan.maps.as_ref().map(|(_, g)| g.as_slice()),
    );
    // Podman's getCgroupPermissions: writable on v2 when /sys/fs/cgroup is
    // unmasked (the first unmask entry "ALL" counts, case-sensitively).
    let cgroup_rw = (cfg.privileged && can_mount_sys)
        || (defaults.cgroup_v2
            && (sec.unmask.first().is_some_and(|u| u == "ALL")
                || sec
                    .unmask
                    .iter()
                    .any(|u| mounts::clean_destination(u).is_ok_and(|p| p == "/sys/fs/cgroup"))));
    let mut all_mounts = mounts::default_mounts(
        &mounts::DefaultMountFacts {
            privileged: cfg.privileged,
            rootless,
            new_userns,
            can_mount_sys,
            ipc_host,
            pid_host,
            gid5,
            cgroup_rw,
            shm_size: cfg.shm_size.unwrap_or(mounts::DEFAULT_SHM_SIZE),
        },
        sec.proc_opts.as_deref(),
    );

    let mut user_mounts: Vec<Mount> = Vec::new();
    for req in &cfg.mounts {
        user_mounts.push(mounts::user_mount(req)?);
    }
    let mut user_dests: Vec<String> = Vec::new();
    for m in &user_mounts {
        let d = mounts::destination_of(m);
        if user_dests.contains(&d) {
            return Err(SpecError::DuplicateMountDestination(d));
        }
        user_dests.push(d);
    }
    // User mounts replace the defaults at the same place (Podman's
    // SupersedeUserMounts).
    all_mounts.retain(|m| !user_dests.contains(&mounts::destination_of(m)));

    let etc = [
        (&cfg.etc_files.resolv_conf, "/etc/resolv.conf"),
        (&cfg.etc_files.hosts, "/etc/hosts"),
        (&cfg.etc_files.hostname, "/etc/hostname"),
        (&cfg.etc_files.containerenv, "/run/.containerenv"),
        (&cfg.etc_files.passwd, "/etc/passwd"),
        (&cfg.etc_files.group, "/etc/group"),
    ];
    for (source, dest) in etc {
        if let Some(source) = source
            && !user_dests.iter().any(|d| d == dest)
        {
            all_mounts.push(mounts::etc_file(source, dest));
        }
    }
    if cfg.read_only && cfg.read_only_tmpfs {
        for dest in mounts::READ_ONLY_TMPFS {
            if !user_dests.iter().any(|d| d == dest) {
                all_mounts.push(mounts::read_only_tmpfs(dest)?);
            }
        }
    }
    let mut args = cfg.command.clone();
    if let Some(init) = &cfg.init {
        if cfg.pid != NamespaceMode::Private {
            return Err(SpecError::InitNeedsPrivatePid);
        }
        all_mounts.push(mounts::init_binary(init));
        args.splice(0..0, [mounts::INIT_PATH.to_string(), "--".to_string()]);
    }
    if let Some(sd) = &cfg.systemd {
        systemd_mounts(
            &mut all_mounts,
            &user_dests,
            sd,
            defaults.cgroup_v2,
            cgroupns == NamespaceMode::Private,
        );
    }
    if let Some(dir) = &cfg.notify_dir
        && !user_dests.iter().any(|d| d == NOTIFY_DIR)
    {
        all_mounts.push(mounts::mount(
            Path::new(NOTIFY_DIR),
            "bind",
            Some(dir),
            &["bind", "rprivate"],
        ));
    }
    all_mounts.extend(user_mounts);

    // --- devices ---
    let cgroups_on = cfg.cgroups == CgroupsMode::Enabled && defaults.cgroup_path_usable;
    let mut device_nodes = Vec::new();
    let mut device_rules = Vec::new();
    if cfg.privileged {
        let mounted: Vec<String> = all_mounts.iter().map(mounts::destination_of).collect();
        let d = devices::privileged_devices(&defaults.host_devices, rootless, &mounted);
        // Host devices go first, under whatever the user mounted.
        all_mounts.splice(0..0, d.mounts);
        device_nodes.extend(d.nodes);
        device_rules.extend(d.rules);
    } else {
        if !in_userns {
            // In a user namespace the runtime cannot create nodes and binds
            // its own standard set from the host; listing them again makes
            // crun bind each twice.
            device_nodes.extend(devices::default_nodes());
            device_rules.push(devices::cgroup_rule(false, None, None, None, "rwm"));
            device_rules.extend(devices::default_rules());
        }
        let d = devices::user_devices(&cfg.devices, rootless)?;
        all_mounts.extend(d.mounts);
        device_nodes.extend(d.nodes);
        if !in_userns {
            device_rules.extend(d.rules);
        }
    }
    mounts::sort(&mut all_mounts);

    // --- masked paths ---
    let (mut masked, readonly) = security::kernel_paths(
        cfg.privileged,
        rootless && pid_host,
        sec,
        &defaults.extra_masked_paths,
    );
    if !can_mount_sys && !cfg.privileged && rootless {
        // The host's /sys is bound in: hide its kernel tunables.
        masked.push("/sys/kernel".to_string());
    }
    if cfg
        .systemd
        .as_ref()
        .is_some_and(|sd| sd.cgroup_v1_systemd && !defaults.cgroup_v2)
    {
        masked.push("/sys/fs/cgroup/systemd/release_agent".to_string());
    }

    // --- seccomp ---
    let seccomp = match &sec.seccomp {
        SeccompChoice::Unconfined => None,
        // Privileged containers run without a filter unless one is named.
        SeccompChoice::Default if cfg.privileged => None,
        choice => {
            let (name, text) = match choice {
                SeccompChoice::Path(p) => (
                    p.display().to_string(),
                    defaults
                        .seccomp_files
                        .get(p)
                        .ok_or_else(|| SpecError::SeccompProfileNotLoaded(p.clone()))?
                        .as_str(),
                ),
                _ => match &defaults.seccomp_profile {
                    Some(text) => ("(host default)".to_string(), text.as_str()),
                    None => ("(built-in)".to_string(), seccomp::BUILTIN_PROFILE),
                },
            };
            seccomp::convert(
                text,
                &seccomp::Target {
                    arch: &defaults.arch,
                    capabilities: &caplist,
                    kernel: defaults.kernel,
                },
            )
            .map_err(|source| SpecError::Seccomp {
                profile: name,
                source,
            })?
        }
    };

    // --- process ---
    let cwd = cfg
        .workdir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".to_string());
    if !cwd.starts_with('/') {
        return Err(SpecError::RelativeWorkdir(cwd));
    }
    let mut env: Vec<String> = Vec::with_capacity(cfg.env.len() + 5);
    for e in &cfg.env {
        let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
        env_set(&mut env, k, v, false);
    }
    let (path_key, path_value) = DEFAULT_PATH.split_once('=').unwrap_or(("PATH", ""));
    env_set(&mut env, path_key, path_value, true);
    if cfg.terminal {
        env_set(&mut env, "TERM", "xterm", true);
    }
    // Tools inside detect a container by this variable; Podman's value is
    // kept so that scripts checking for "podman" keep working.
    env_set(&mut env, "container", "podman", true);
    env_set(&mut env, "HOME", &resolved.home, true);
    if cfg.notify_dir.is_some() {
        env_set(&mut env, "NOTIFY_SOCKET", NOTIFY_SOCKET, true);
    }
    if let Some(h) = &hostname {
        env_set(&mut env, "HOSTNAME", h, true);
    }

    let mut process_user = User::default();
    process_user.set_uid(resolved.uid);
    process_user.set_gid(resolved.gid);
    process_user.set_umask(Some(cfg.umask.unwrap_or(0o022)));
    process_user.set_additional_gids(
        (!resolved.additional_gids.is_empty()).then(|| resolved.additional_gids.clone()),
    );
    process_user.set_username(None);

    let rlimits = limits::rlimits(
        &cfg.ulimits,
        cfg.ulimit_host,
        rootless,
        defaults.nofile,
        defaults.nproc,
    )?;

    let mut process = Process::default();
    process.set_terminal(Some(cfg.terminal));
    process.set_console_size(None);
    process.set_user(process_user);
    process.set_args(Some(args));
    process.set_env(Some(env));
    process.set_cwd(PathBuf::from(cwd));
    process.set_capabilities(Some(capabilities));
    process.set_rlimits(rlimits);
    process.set_no_new_privileges(Some(sec.no_new_privileges));
    process.set_apparmor_profile(sec.apparmor.clone().filter(|a| a != "unconfined"));
    process.set_oom_score_adj(cfg.oom_score_adj);
    process.set_selinux_label(None);
    process.set_scheduler(None);
    process.set_io_priority(None);

    // --- linux ---
    let resources = cgroups_on.then(|| {
        let mut r = resources::linux_resources(&cfg.resources, true);
        // The default rules first (deny, then the standard nodes), the
        // `--device-cgroup-rule` allowances after them.
        let mut rules = device_rules;
        rules.extend(r.devices().clone().unwrap_or_default());
        r.set_devices((!rules.is_empty()).then_some(rules));
        r
    });
    let (uid_mappings, gid_mappings) = match &userns_plan.maps {
        Some((u, g)) => (Some(id_mappings(u)?), Some(id_mappings(g)?)),
        None => (None, None),
    };
    let mut linux = Linux::default();
    linux.set_namespaces(Some(namespaces));
    linux.set_masked_paths(Some(masked));
    linux.set_readonly_paths(Some(readonly));
    linux.set_uid_mappings(uid_mappings);
    linux.set_gid_mappings(gid_mappings);
    linux.set_resources(resources.filter(|r| *r != LinuxResources::default()));
    linux.set_cgroups_path(
        cfg.cgroup_path
            .as_ref()
            .filter(|_| cgroups_on)
            .map(PathBuf::from),
    );
    linux.set_devices((!device_nodes.is_empty()).then_some(device_nodes));
    linux.set_seccomp(seccomp);
    linux.set_sysctl((!cfg.sysctls.is_empty()).then(|| {
        cfg.sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }));
    linux.set_personality(personality(cfg.personality.as_deref())?);
    linux.set_rootfs_propagation(None);
    linux.set_mount_label(None);

    let mut annotations: HashMap<String, String> = cfg
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let flag = |b: bool| if b { "TRUE" } else { "FALSE" }.to_string();
    annotations.insert(ANNOTATION_PRIVILEGED.to_string(), flag(cfg.privileged));
    annotations.insert(ANNOTATION_INIT.to_string(), flag(cfg.init.is_some()));
    if let Some(sig) = &cfg.stop_signal {
        annotations.insert(ANNOTATION_STOP_SIGNAL.to_string(), sig.clone());
    }
    if cfg.group_add.iter().any(|g| g == "keep-groups") {
        annotations.insert(ANNOTATION_KEEP_GROUPS.to_string(), "1".to_string());
    }

    let mut root = Root::default();
    root.set_path(cfg.rootfs.clone());
    root.set_readonly(Some(cfg.read_only));

    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.to_string());
    spec.set_root(Some(root));
    spec.set_mounts(Some(all_mounts));
    spec.set_process(Some(process));
    spec.set_hostname(hostname);
    spec.set_domainname(None);
    spec.set_hooks(hooks(&cfg.hooks));
    spec.set_annotations(Some(annotations));
    spec.set_linux(Some(linux));
    Ok(spec)
}

/// Where `--sdnotify=container` binds the container's notify directory,
/// and the socket in it (Podman's paths).
pub const NOTIFY_DIR: &str = "/run/notify";
pub const NOTIFY_SOCKET: &str = "/run/notify/notify.sock";

/// Systemd mode's mounts (Podman's `setupSystemd`), each unless the user
/// mounted something at its place: tmpfs on /run, /run/lock, /tmp and
/// /var/log/journal; the cgroup file system writable (cgroup v2: its own
/// in a private cgroup namespace, else the host's bound; v1: systemd's
/// named hierarchy bound, when the host has it).
fn systemd_mounts(
    all: &mut Vec<Mount>,
    user_dests: &[String],
    sd: &SystemdSetup,
    cgroup_v2: bool,
    cgroupns_private: bool,
) {
    let taken = |d: &str| user_dests.iter().any(|u| u == d);
    for dest in ["/run", "/run/lock", "/tmp", "/var/log/journal"] {
        if taken(dest) {
            continue;
        }
        all.retain(|m| mounts::destination_of(m) != dest);
        all.push(mounts::mount(
            Path::new(dest),
            "tmpfs",
            Some(Path::new("tmpfs")),
            &["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"],
        ));
    }
    if taken("/sys/fs/cgroup") {
        return;
    }
    if cgroup_v2 {
        all.retain(|m| mounts::destination_of(m) != "/sys/fs/cgroup");
        all.push(if cgroupns_private {
            mounts::mount(
                Path::new("/sys/fs/cgroup"),
                "cgroup",
                Some(Path::new("cgroup")),
                &["private", "rw"],
            )
        } else {
            mounts::mount(
                Path::new("/sys/fs/cgroup"),
                "bind",
                Some(Path::new("/sys/fs/cgroup")),
                &["bind", "private", "rw"],
            )
        });
    } else if sd.cgroup_v1_systemd && !taken("/sys/fs/cgroup/systemd") {
        all.push(mounts::mount(
            Path::new("/sys/fs/cgroup/systemd"),
            "bind",
            Some(Path::new("/sys/fs/cgroup/systemd")),
            &["bind", "rprivate", "nodev", "noexec", "nosuid"],
        ));
    }
}

/// The OCI `hooks` object from hooks by stage; None when there are none.
fn hooks(list: &[crate::runtime::cdi::Hook]) -> Option<oci_spec::runtime::Hooks> {
    use oci_spec::runtime::{Hook, Hooks};
    if list.is_empty() {
        return None;
    }
    let of = |stage: &str| -> Option<Vec<Hook>> {
        let v: Vec<Hook> = list
            .iter()
            .filter(|h| h.stage == stage)
            .map(|h| {
                let mut hook = Hook::default();
                hook.set_path(h.path.clone());
                hook.set_args((!h.args.is_empty()).then(|| h.args.clone()));
                hook.set_env((!h.env.is_empty()).then(|| h.env.clone()));
                hook.set_timeout(h.timeout);
                hook
            })
            .collect();
        (!v.is_empty()).then_some(v)
    };
    let mut hooks = Hooks::default();
    #[allow(deprecated, reason = "prestart is still what CDI specs may ask for")]
    hooks.set_prestart(of("prestart"));
    hooks.set_create_runtime(of("createRuntime"));
    hooks.set_create_container(of("createContainer"));
    hooks.set_start_container(of("startContainer"));
    hooks.set_poststart(of("poststart"));
    hooks.set_poststop(of("poststop"));
    Some(hooks)
}

/// `--personality`: the execution domains the OCI spec knows.
fn personality(
    domain: Option<&str>,
) -> Result<Option<oci_spec::runtime::LinuxPersonality>, SpecError> {
    use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};
    let Some(domain) = domain else {
        return Ok(None);
    };
    let d = match domain {
        "LINUX" => LinuxPersonalityDomain::PerLinux,
        "LINUX32" => LinuxPersonalityDomain::PerLinux32,
        other => return Err(SpecError::UnknownPersonality(other.to_owned())),
    };
    let mut p = LinuxPersonality::default();
    p.set_domain(d);
    Ok(Some(p))
}
