//! The container request the spec generator reads: plain serialisable data
//! that the CLI builds from `hutch create/run` flags and the REST API builds
//! from a create body, stored with the container so that its spec can be
//! generated again on every start.
//!
//! Values are typed: the flags were parsed once, by `spec::parse`, into the
//! stored container spec, which the engine turns into this. Everything that needs a look at the host
//! (a device's major and minor, the flags of a bind source's filesystem, the
//! content of the rootfs's /etc/passwd) is resolved by the caller and
//! carried here as data; nothing in this module or its parent does I/O.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Everything `generate` needs to know about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    pub image_id: String,
    /// The mounted root filesystem on the host.
    pub rootfs: PathBuf,
    /// The final argv: the image's entrypoint and cmd already merged with
    /// `--entrypoint` and the command-line arguments.
    pub command: Vec<String>,
    /// `KEY=VALUE`, the image's env already merged with `--env`.
    pub env: Vec<String>,
    /// `--workdir`, else the image's WorkingDir; "/" when neither.
    pub workdir: Option<String>,
    /// `--user` (or the image's User): "name", "uid", "name:group", "uid:gid".
    pub user: Option<String>,
    /// The rootfs's /etc/passwd and /etc/group, read by the caller; `None`
    /// when the image has none.
    pub passwd: Option<String>,
    pub group: Option<String>,
    /// `--hostname`; defaults to the short id when the UTS namespace is
    /// private.
    pub hostname: Option<String>,
    pub terminal: bool,
    pub read_only: bool,
    /// `--read-only-tmpfs`, true by default as in Podman: with `--read-only`,
    /// /tmp, /var/tmp and /run get a writable tmpfs.
    pub read_only_tmpfs: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    /// `--security-opt`, parsed.
    pub security: super::SecurityOpts,
    pub devices: Vec<DeviceRequest>,
    /// `--ulimit`s; `ulimit_host` (`--ulimit host`) inherits the runtime's.
    pub ulimits: Vec<super::limits::Ulimit>,
    pub ulimit_host: bool,
    /// Binds, volumes and tmpfs (`--mount type=tmpfs` and `--tmpfs`).
    pub mounts: Vec<MountRequest>,
    /// `--group-add`: group names, gids, or "keep-groups".
    pub group_add: Vec<String>,
    /// OCI hooks (from CDI device specs), by stage.
    pub hooks: Vec<crate::runtime::cdi::Hook>,
    pub annotations: BTreeMap<String, String>,
    /// Kernel parameters the runtime writes in the container's namespaces.
    pub sysctls: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    /// Whether hutch runs rootless: the container is then created inside
    /// the user's pause user namespace, as Podman does.
    pub rootless: bool,
    pub userns: UsernsMode,
    pub pid: NamespaceMode,
    pub ipc: NamespaceMode,
    pub uts: NamespaceMode,
    pub net: NamespaceMode,
    /// `--cgroupns`; `None` takes containers.conf's default: private on
    /// cgroup v2, host on v1.
    pub cgroupns: Option<NamespaceMode>,
    /// Files the caller prepared for the container's /etc.
    pub etc_files: EtcFiles,
    pub cgroups: CgroupsMode,
    /// `linux.cgroupsPath`: "slice:prefix:name" for the systemd manager, a
    /// path for cgroupfs.
    pub cgroup_path: Option<String>,
    /// `--init`: the host path of catatonit/tini to bind at /run/podman-init.
    pub init: Option<PathBuf>,
    pub oom_score_adj: Option<i32>,
    /// The limit flags, mapped into `linux.resources` when `cgroups` is on.
    pub resources: super::resources::ResourceRequest,
    /// `--shm-size` in bytes; Podman's default is 64 MiB.
    pub shm_size: Option<u64>,
    /// containers.conf `umask`; Podman's default is 0022.
    pub umask: Option<u32>,
    /// `--systemd`: systemd mode applies (see [`SystemdSetup`]).
    pub systemd: Option<SystemdSetup>,
    /// `--sdnotify=container`: the host directory of the container's
    /// notify socket, bound at `/run/notify` (its monitor binds
    /// `notify.sock` there and passes the messages on).
    pub notify_dir: Option<PathBuf>,
    /// `--personality`: LINUX or LINUX32 (`linux.personality.domain`).
    pub personality: Option<String>,
}

/// What a container running systemd as its init gets, and the host fact
/// it depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemdSetup {
    /// A cgroup v1 host with systemd's named hierarchy mounted at
    /// /sys/fs/cgroup/systemd: bound read-write into the container.
    pub cgroup_v1_systemd: bool,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            id: String::new(),
            name: String::new(),
            image_id: String::new(),
            rootfs: PathBuf::new(),
            command: Vec::new(),
            env: Vec::new(),
            workdir: None,
            user: None,
            passwd: None,
            group: None,
            hostname: None,
            terminal: false,
            read_only: false,
            read_only_tmpfs: true,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            privileged: false,
            security: Default::default(),
            devices: Vec::new(),
            ulimits: Vec::new(),
            ulimit_host: false,
            mounts: Vec::new(),
            group_add: Vec::new(),
            hooks: Vec::new(),
            annotations: BTreeMap::new(),
            sysctls: BTreeMap::new(),
            labels: BTreeMap::new(),
            stop_signal: None,
            rootless: false,
            userns: UsernsMode::Host,
            pid: NamespaceMode::Private,
            ipc: NamespaceMode::Private,
            uts: NamespaceMode::Private,
            net: NamespaceMode::Private,
            cgroupns: None,
            etc_files: EtcFiles::default(),
            cgroups: CgroupsMode::Enabled,
            cgroup_path: None,
            init: None,
            oom_score_adj: None,
            resources: Default::default(),
            shm_size: None,
            umask: None,
            systemd: None,
            notify_dir: None,
            personality: None,
        }
    }
}

/// One line of a uid or gid map, as in /proc/PID/uid_map. In rootless mode
/// `host_id` counts in the pause namespace, where 0 is the user and 1.. are
/// the subordinate ids (Podman's "intermediate" ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// `--userns`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernsMode {
    /// No new user namespace. Rootless, that is the pause namespace, where
    /// container root is the user.
    #[default]
    Host,
    /// A new namespace where the user's own id appears as the same id inside
    /// (or as `uid`/`gid`), and the process runs as that id.
    KeepId {
        uid: Option<u32>,
        gid: Option<u32>,
        /// Podman's `size=`: caps the ids mapped.
        size: Option<u32>,
    },
    /// A new namespace of the subordinate ids only; the user's id is not
    /// mapped at all.
    NoMap,
    /// `--userns=auto`: maps the engine allocated from the free subordinate
    /// ids (allocation needs every other container's maps, so it is not
    /// done here).
    Auto {
        uid_map: Vec<IdMap>,
        gid_map: Vec<IdMap>,
    },
    /// `--uidmap`/`--gidmap` (or `--userns=private` with maps chosen by the
    /// engine).
    Explicit {
        uid_map: Vec<IdMap>,
        gid_map: Vec<IdMap>,
    },
}

/// `--pid`, `--ipc`, `--uts`, `--net`, `--cgroupns`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceMode {
    #[default]
    Private,
    Host,
    /// `container:ID`, resolved by the engine to that container's pid; the
    /// namespace is joined through /proc/PID/ns/X.
    Container {
        pid: u32,
    },
    /// `ns:PATH`.
    Path(PathBuf),
    /// `--net=none`: a private network namespace with only loopback.
    None,
}

/// `--cgroups`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupsMode {
    #[default]
    Enabled,
    /// No cgroup for the container: no cgroupsPath and no resources (the
    /// runtime is run with `--cgroup-manager=disabled`).
    Disabled,
}

/// Host files the engine wrote for this container, bind-mounted over the
/// image's own unless a user mount has the same destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EtcFiles {
    pub resolv_conf: Option<PathBuf>,
    pub hosts: Option<PathBuf>,
    pub hostname: Option<PathBuf>,
    /// `/run/.containerenv`, which tools read to know they run in a
    /// container (empty, as Podman writes it for an unprivileged one).
    #[serde(default)]
    pub containerenv: Option<PathBuf>,
    /// The image's /etc/passwd and /etc/group with the entries
    /// `--userns=keep-id` and `--hostuser` add; `None` when none is added.
    #[serde(default)]
    pub passwd: Option<PathBuf>,
    #[serde(default)]
    pub group: Option<PathBuf>,
}

/// One `--volume`/`--mount` after the CLI parsed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MountRequest {
    /// A host directory or file.
    Bind {
        source: PathBuf,
        destination: String,
        /// ro, rw, z, Z, U, relabel=shared|private, (r)bind, propagation,
        /// (no)exec, (no)suid, (no)dev, idmap, ...
        #[serde(default)]
        options: Vec<String>,
        /// The flags of the filesystem holding `source`, which the caller
        /// reads with statfs: Podman copies them so that a bind never asks
        /// for less than the source has (in a user namespace the kernel
        /// would refuse it).
        #[serde(default)]
        source_flags: SourceFlags,
    },
    /// A named volume, already resolved to its host directory.
    Volume {
        name: String,
        source: PathBuf,
        destination: String,
        #[serde(default)]
        options: Vec<String>,
        #[serde(default)]
        source_flags: SourceFlags,
    },
    /// `--mount type=tmpfs`.
    Tmpfs {
        destination: String,
        #[serde(default)]
        options: Vec<String>,
    },
}

impl MountRequest {
    pub fn destination(&self) -> &str {
        match self {
            MountRequest::Bind { destination, .. }
            | MountRequest::Volume { destination, .. }
            | MountRequest::Tmpfs { destination, .. } => destination,
        }
    }

    fn options(&self) -> &[String] {
        match self {
            MountRequest::Bind { options, .. }
            | MountRequest::Volume { options, .. }
            | MountRequest::Tmpfs { options, .. } => options,
        }
    }

    /// The `U` option: the engine chowns the source to the container's user
    /// before start; the runtime never sees the option.
    pub fn wants_chown(&self) -> bool {
        self.options().iter().any(|o| o == "U")
    }

    /// The `z`/`Z` (or `relabel=shared|private`) option, for an engine on an
    /// SELinux host to relabel the source; without SELinux it means nothing.
    pub fn relabel(&self) -> Option<Relabel> {
        self.options().iter().find_map(|o| match o.as_str() {
            "z" | "relabel=shared" => Some(Relabel::Shared),
            "Z" | "relabel=private" => Some(Relabel::Private),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relabel {
    Shared,
    Private,
}

/// statfs flags of a bind source's filesystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceFlags {
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
}

/// One `--device host[:container][:perms]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRequest {
    pub host_path: PathBuf,
    pub container_path: PathBuf,
    /// Some of r, w, m.
    pub permissions: String,
    /// The node's type and numbers, read by the caller. Rootful containers
    /// need it (the runtime creates the node and the device cgroup allows
    /// it); rootless ones bind-mount the host node and do not.
    #[serde(default)]
    pub node: Option<DeviceNode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNode {
    pub kind: DeviceKind,
    pub major: i64,
    pub minor: i64,
    pub file_mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Char,
    Block,
    Fifo,
}

/// A device node found under the host's /dev, for `--privileged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDevice {
    pub path: PathBuf,
    pub node: DeviceNode,
}
