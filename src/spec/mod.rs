//! The typed, versioned container spec (Podman's SpecGenerator role): what
//! a container is asked to be, filled by a front end (the CLI from flags,
//! later the REST API from request bodies, `kube play` from YAML) and
//! stored as is in the state database.
//!
//! Everything here is plain data. Values the front end must resolve in its
//! own process (relative bind sources, `-e KEY`, `--env-file`, a seccomp
//! profile named by path) arrive resolved: the engine never looks at the
//! caller's working directory, environment or files. The flag parsers live
//! in [`parse`], one function per flag, so that every flag is parsed in
//! exactly one place.
//!
//! What this module does not do: look at the host or at other containers
//! (`container:NAME` stays a name here; the engine resolves it), or build
//! the OCI spec (that is `runtime::spec`, fed by the engine).

pub mod parse;
pub mod pod;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use hutch_rootless_net::{DnsConfig, NetworkMode, PortMapping};
use serde::{Deserialize, Serialize};

pub use crate::runtime::spec::limits::Ulimit;
pub use crate::runtime::spec::resources::ResourceRequest;
pub use crate::runtime::spec::{DeviceRequest, IdMap, SeccompChoice, SecurityOpts};

/// The schema version of [`ContainerSpec`] this build writes. A stored
/// spec with another version is converted by the state migrations.
pub const SPEC_VERSION: u32 = 1;

/// One container, as asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// [`SPEC_VERSION`] when written.
    pub version: u32,
    /// The image reference as given (`busybox`, `docker://...`, an id).
    pub image: String,
    pub name: Option<String>,
    /// Arguments after the image; empty takes the image's CMD.
    pub command: Vec<String>,
    /// `--entrypoint`: `Some(vec![])` clears the image's, `None` keeps it.
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE`, in the order the front end resolved them (host env,
    /// env files, `-e`); laid over the image's env by the engine.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub read_only: bool,
    /// `--read-only-tmpfs`: Podman's default is true.
    pub read_only_tmpfs: bool,
    pub network: NetworkSpec,
    pub mounts: Vec<Mount>,
    pub tmpfs: Vec<Tmpfs>,
    pub namespaces: Namespaces,
    pub userns: Userns,
    pub restart: RestartPolicy,
    pub log: LogConfig,
    pub resources: ResourceRequest,
    /// Capability names as given (`NET_ADMIN`, `cap_net_admin`, `all`),
    /// checked by [`parse::capabilities`].
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub ulimits: Ulimits,
    pub security: SecurityOpts,
    /// The content of the profile `--security-opt seccomp=PATH` named, read
    /// by the front end.
    pub seccomp_profile: Option<String>,
    pub devices: Vec<DeviceRequest>,
    /// CDI devices (`--device vendor.com/class=name`, `--gpus`), fully
    /// qualified, `=all` already narrowed to a job's GPUs by the front end;
    /// resolved against the spec files at create.
    pub cdi_devices: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub add_hosts: Vec<AddHost>,
    pub group_add: Vec<String>,
    /// `--hostuser`: host accounts (names or uids) added to the
    /// container's /etc/passwd.
    pub host_users: Vec<String>,
    pub init: bool,
    pub init_path: Option<PathBuf>,
    /// `--stop-signal` as a number; `None` takes the image's, else SIGTERM.
    pub stop_signal: Option<i32>,
    /// `--stop-timeout` in seconds; `None` is Podman's 10.
    pub stop_timeout: Option<u32>,
    /// `--tz`: a zone under /usr/share/zoneinfo, or `local` (the host's
    /// /etc/localtime), bound read-only on /etc/localtime at create.
    pub timezone: Option<String>,
    /// `--shm-size` in bytes: the size of the tmpfs on /dev/shm; `None`
    /// for Podman's 64 MiB.
    pub shm_size: Option<u64>,
    /// `--conmon-pidfile`: where each start writes the monitor's pid
    /// (hutch-monitor has conmon's role), absolute.
    pub monitor_pidfile: Option<PathBuf>,
    /// `--timeout`: seconds the container may run before its monitor
    /// kills it; `None` for no limit.
    pub run_timeout: Option<u64>,
    pub tty: bool,
    pub interactive: bool,
    /// `--rm`.
    pub remove: bool,
    /// `--runtime`: a name or path; `None` is the host's default.
    pub runtime: Option<String>,
    pub health_check: Option<HealthCheck>,
    /// `--health-on-failure`: what a check that turns unhealthy does.
    pub health_on_failure: HealthOnFailure,
    /// The command line that created the container, as typed (Podman's
    /// `CreateCommand`: shown by `inspect`, replayed by `generate systemd
    /// --new`); never parsed again to make the container. Empty for
    /// containers made through the REST API or `kube play`.
    pub create_command: Vec<String>,
    /// `--sdnotify`: who tells systemd the container is ready.
    pub sdnotify: SdNotify,
    /// With `--sdnotify=conmon`: the `NOTIFY_SOCKET` of the command that
    /// created the container (a unit's `ExecStart`), resolved by the front
    /// end from its environment.
    pub notify_socket: Option<String>,
    /// Filled by the engine at create: the full ids of the containers whose
    /// namespaces this one joins (`rm` refuses to remove those first).
    pub dependencies: Vec<String>,
    /// Filled by the engine at create: the ids `--userns=auto` was given,
    /// which later allocations avoid.
    pub auto_userns: Option<(Vec<IdMap>, Vec<IdMap>)>,
    /// `--pod NAME|ID`: the pod to join, looked up by the engine, which
    /// joins its infra container's shared namespaces (`new:NAME` is the
    /// front end's: it creates the pod first). The full id once created.
    pub pod: Option<String>,
    /// `create --init-ctr once|always`: an init container of `pod`, run to
    /// its end before the pod's other containers start ("once": only at
    /// the pod's first start, then removed).
    pub init_ctr: Option<String>,
    /// `--rootfs DIR[:O]`: the container's root is this directory, not an
    /// image (`image` is then empty).
    pub rootfs: Option<RootfsSpec>,
    /// `--sysctl KEY=VALUE`: namespaced kernel parameters (containers.conf's
    /// `default_sysctls` are added by the engine).
    pub sysctls: BTreeMap<String, String>,
    /// `--requires NAME,...`: containers started before this one (and
    /// refused removal while it exists), as given; their ids go into
    /// `dependencies` at create.
    pub requires: Vec<String>,
    /// `--preserve-fds N`: the caller's descriptors 3..3+N are handed to
    /// the container's process at each start by the command that starts it.
    pub preserve_fds: u32,
    /// `--systemd=true|false|always`: whether the container gets what
    /// systemd as its init needs.
    pub systemd: SystemdMode,
    /// Filled by the engine at create: systemd mode applies (`always`, or
    /// `true` and the command is an init); shown as `SystemdMode` by
    /// `inspect`.
    pub systemd_active: bool,
    /// `--umask`: the process's umask; `None`: containers.conf's, else 0022.
    pub umask: Option<u32>,
    /// `--unsetenv NAME`: taken out of the image's and the default
    /// environment (not of `-e`).
    pub unsetenv: Vec<String>,
    /// `--unsetenv-all`: no image or default environment at all.
    pub unsetenv_all: bool,
    /// `--cgroupns host|private`; `None`: containers.conf's, else the
    /// runtime's choice.
    pub cgroupns: Option<String>,
    /// `--personality LINUX|LINUX32`.
    pub personality: Option<String>,
    /// `--seccomp-policy default|image`: `image` takes the profile from
    /// the image's `io.containers.seccomp.profile` label.
    pub seccomp_policy: Option<String>,
    /// `--chrootdirs`: shown by inspect (`Config.ChrootDirs`).
    pub chroot_dirs: Vec<String>,
    /// `--secret`, `--volumes-from`, `--no-hosts`, `--pidfile`, `--expose`
    /// and the other set-up flags of issue 12, in one place.
    pub setup: SetupSpec,
}

/// What `run`/`create` set up around the process beyond the rest of the
/// spec: files hutch writes (/etc/hosts, /etc/passwd, the pid file),
/// mounts it borrows (another container's, the image's VOLUMEs, secrets)
/// and the ports `-P` publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SetupSpec {
    /// `--expose PORT[-END][/PROTO]`, as given (checked by
    /// `parse::setup::expose`); `-P` publishes them with the image's.
    pub expose: Vec<String>,
    /// `--no-hosts` (or containers.conf `no_hosts`): the image's
    /// /etc/hosts stays, hutch writes none.
    pub no_hosts: bool,
    /// `--pidfile`: written with the container's pid at each start.
    pub pidfile: Option<PathBuf>,
    /// `--passwd=false`: no /etc/passwd entry for a `--user` the image
    /// does not name (Podman adds one by default).
    pub no_passwd: bool,
    /// `--passwd-entry`: the template of that entry ($USERNAME, $UID,
    /// $GID, $NAME, $HOME).
    pub passwd_entry: Option<String>,
    /// `--env-merge NAME=VALUE` with `${NAME}` standing for the image's
    /// value.
    pub env_merge: Vec<String>,
    /// `--secret`: each resolved by name at create.
    pub secrets: Vec<SecretUse>,
    /// `--volumes-from CTR[:ro|rw]`.
    pub volumes_from: Vec<String>,
    /// `--image-volume bind|tmpfs|ignore`; `None`: bind (an anonymous
    /// volume), Podman's default.
    pub image_volume: Option<String>,
}

/// One `--secret NAME[,type=mount|env][,target=T][,uid=,gid=,mode=]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretUse {
    pub name: String,
    /// `type=env`: the variable `target` (default the name) holds it.
    pub env: bool,
    /// The variable's name, or the file's path (relative: under
    /// /run/secrets).
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// `--rootfs PATH[:O][:idmap]`, resolved by the front end to an absolute
/// path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootfsSpec {
    pub path: std::path::PathBuf,
    /// `:O`: a writable overlay on top; the directory stays untouched.
    pub overlay: bool,
    /// `:idmap`: an id-mapped mount of the directory.
    pub idmap: bool,
}

impl Default for ContainerSpec {
    fn default() -> Self {
        ContainerSpec {
            version: SPEC_VERSION,
            image: String::new(),
            name: None,
            command: Vec::new(),
            entrypoint: None,
            env: Vec::new(),
            workdir: None,
            user: None,
            hostname: None,
            read_only: false,
            read_only_tmpfs: true,
            network: NetworkSpec::default(),
            mounts: Vec::new(),
            tmpfs: Vec::new(),
            namespaces: Namespaces::default(),
            userns: Userns::default(),
            restart: RestartPolicy::default(),
            log: LogConfig::default(),
            resources: ResourceRequest::default(),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            privileged: false,
            ulimits: Ulimits::default(),
            security: SecurityOpts::default(),
            seccomp_profile: None,
            devices: Vec::new(),
            cdi_devices: Vec::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            add_hosts: Vec::new(),
            group_add: Vec::new(),
            host_users: Vec::new(),
            init: false,
            init_path: None,
            stop_signal: None,
            stop_timeout: None,
            timezone: None,
            shm_size: None,
            monitor_pidfile: None,
            run_timeout: None,
            tty: false,
            interactive: false,
            remove: false,
            runtime: None,
            health_check: None,
            health_on_failure: HealthOnFailure::None,
            create_command: Vec::new(),
            sdnotify: SdNotify::Container,
            notify_socket: None,
            dependencies: Vec::new(),
            auto_userns: None,
            pod: None,
            init_ctr: None,
            rootfs: None,
            sysctls: BTreeMap::new(),
            requires: Vec::new(),
            preserve_fds: 0,
            systemd: SystemdMode::True,
            systemd_active: false,
            umask: None,
            unsetenv: Vec::new(),
            unsetenv_all: false,
            cgroupns: None,
            personality: None,
            seccomp_policy: None,
            chroot_dirs: Vec::new(),
            setup: SetupSpec::default(),
        }
    }
}

/// The network side: mode, published ports, DNS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSpec {
    /// `None`: the rootless default (containers.conf, else pasta), which
    /// the engine decides.
    pub mode: Option<NetworkMode>,
    /// `--network a,b,c`: user networks joined besides the first.
    pub connected: Vec<String>,
    /// `-p`, host ports 0 until the engine picks free ones.
    pub ports: Vec<PortMapping>,
    /// `-P`: every port the image EXPOSEs, to random host ports.
    pub publish_all: bool,
    pub dns: DnsConfig,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// `--ip`, `--ip6`, `--mac-address`: on the mode's user network (the
    /// engine refuses them for other modes and with more networks).
    pub ip: Option<std::net::IpAddr>,
    pub ip6: Option<std::net::IpAddr>,
    pub mac_address: Option<String>,
}

/// Where a mount takes its data from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountSource {
    /// An absolute host path.
    Bind(PathBuf),
    /// A named volume, created when missing.
    Named(String),
    /// A fresh volume of the container's own (`-v /path`).
    Anonymous,
    Tmpfs,
}

/// One `-v` or `--mount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub source: MountSource,
    /// Absolute, as written.
    pub destination: String,
    /// Options in the `-v` spelling (`ro`, `U`, `z`, `size=...`), checked in
    /// detail by the OCI spec generator.
    #[serde(default)]
    pub options: Vec<String>,
}

impl Mount {
    /// Whether the user asked not to copy the image's files into a new
    /// volume.
    pub fn nocopy(&self) -> bool {
        self.options.iter().any(|o| o == "nocopy")
    }
}

/// One `--tmpfs DEST[:OPTIONS]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tmpfs {
    /// Absolute and cleaned.
    pub destination: String,
    #[serde(default)]
    pub options: Vec<String>,
}

/// `--pid`, `--ipc`, `--uts` (the network namespace is [`NetworkSpec`]'s).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Namespaces {
    pub pid: Namespace,
    pub ipc: Namespace,
    pub uts: Namespace,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    #[default]
    Private,
    Host,
    /// `container:NAME-OR-ID`, looked up by the engine.
    Container(String),
    /// `ns:PATH`.
    Path(PathBuf),
}

/// `--userns`, with `--uidmap`/`--gidmap`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Userns {
    #[default]
    Host,
    KeepId {
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u32>,
    },
    NoMap,
    /// Allocated by the engine from the free subordinate ids.
    Auto {
        size: Option<u32>,
    },
    Explicit {
        uid_map: Vec<IdMap>,
        gid_map: Vec<IdMap>,
    },
}

/// `--restart`: what the monitor does when the container exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "policy", content = "max_retries")]
pub enum RestartPolicy {
    #[default]
    No,
    /// Restart after a non-zero exit, at most this many times (0: no limit).
    OnFailure(u32),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// Podman's `HostConfig.RestartPolicy.Name`.
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "",
            RestartPolicy::OnFailure(_) => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    pub fn max_retries(self) -> u32 {
        match self {
            RestartPolicy::OnFailure(n) => n,
            _ => 0,
        }
    }

    /// Whether an exit with `code`, after `restarts` restarts so far,
    /// calls for another run. A stop by the user is checked separately.
    pub fn should_restart(self, code: i32, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || restarts < max),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

/// `--log-driver` and `--log-opt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// `path=`: absolute; `None` is the container's `ctr.log`.
    pub path: Option<PathBuf>,
    /// `max-size=` in bytes (at least 8 KiB).
    pub max_size: Option<u64>,
    /// `tag=`: shown by inspect (Podman uses it for journald and syslog,
    /// which hutch does not write to).
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    /// Also for `json-file`, which Podman writes as k8s-file.
    #[default]
    K8sFile,
    None,
}

/// `--ulimit`: `host` keeps the runtime's limits; otherwise the list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ulimits {
    pub host: bool,
    pub limits: Vec<Ulimit>,
}

/// `--add-host NAME[;NAME...]:IP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddHost {
    pub names: Vec<String>,
    pub ip: IpAddr,
}

/// A health check (Podman's `--health-*`, an image's HEALTHCHECK, a REST
/// body's `Healthcheck`). `None` fields take Podman's defaults (see the
/// methods); an interval of 0 means no timer (`--health-interval
/// disable`): the check then runs only through `healthcheck run`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthCheck {
    /// `CMD` or `CMD-SHELL` and its arguments, as in the image config;
    /// `["NONE"]` disables the image's.
    pub test: Vec<String>,
    pub interval_ns: Option<u64>,
    pub timeout_ns: Option<u64>,
    pub start_period_ns: Option<u64>,
    pub retries: Option<u32>,
}

impl HealthCheck {
    pub const DEFAULT_INTERVAL_NS: u64 = 30_000_000_000;
    pub const DEFAULT_TIMEOUT_NS: u64 = 30_000_000_000;
    pub const DEFAULT_RETRIES: u32 = 3;

    /// Whether there is a check to run (not `NONE`, not empty).
    pub fn enabled(&self) -> bool {
        !matches!(
            self.test.first().map(String::as_str),
            None | Some("" | "NONE")
        )
    }

    pub fn interval_ns(&self) -> u64 {
        self.interval_ns.unwrap_or(Self::DEFAULT_INTERVAL_NS)
    }

    pub fn timeout_ns(&self) -> u64 {
        self.timeout_ns
            .filter(|t| *t > 0)
            .unwrap_or(Self::DEFAULT_TIMEOUT_NS)
    }

    pub fn start_period_ns(&self) -> u64 {
        self.start_period_ns.unwrap_or(0)
    }

    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(Self::DEFAULT_RETRIES)
    }

    /// The command to execute in the container: `CMD` drops the keyword,
    /// `CMD-SHELL` runs under `/bin/sh -c` (Podman does not use the
    /// image's SHELL either), anything else runs as given. `None` when
    /// there is nothing to run.
    pub fn exec_command(&self) -> Option<Vec<String>> {
        let cmd = match self.test.first().map(String::as_str) {
            None | Some("" | "NONE") => return None,
            Some("CMD") => self.test[1..].to_vec(),
            Some("CMD-SHELL") => vec![
                "/bin/sh".to_owned(),
                "-c".to_owned(),
                self.test[1..].join(" "),
            ],
            Some(_) => self.test.clone(),
        };
        cmd.first().filter(|c| !c.is_empty())?;
        Some(cmd)
    }
}

/// `--sdnotify`, with the caller's `NOTIFY_SOCKET`: `conmon` has the
/// container's monitor (hutch's conmon) send `MAINPID` (the monitor) and
/// `READY=1` once the container runs; `container` (Podman's default) gives
/// the container a socket of its own at `/run/notify/notify.sock`, whose
/// messages the monitor passes on with `MAINPID` the container's process;
/// `healthy` sends `READY=1` when the health check first passes; `ignore`
/// sends nothing. All but `ignore` send `STOPPING=1` when the container
/// stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdNotify {
    #[default]
    Container,
    Conmon,
    Ignore,
    Healthy,
}

/// `--systemd`: `true` gives systemd mode to a container whose command is
/// an init (`/sbin/init`, `systemd`, ...), `always` to every container,
/// `false` to none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemdMode {
    #[default]
    True,
    False,
    Always,
}

impl SystemdMode {
    /// Whether a container running `command` (entrypoint and cmd merged)
    /// gets systemd mode. Podman's rule: the command (after a leading
    /// `/bin/sh -c`, which `build` puts before a shell-form ENTRYPOINT) is
    /// `/sbin/init`, `/usr/sbin/init`, `/usr/local/sbin/init`, or any path
    /// whose last part is `systemd`.
    pub fn applies(self, command: &[String]) -> bool {
        match self {
            SystemdMode::False => false,
            SystemdMode::Always => true,
            SystemdMode::True => {
                let cmd = match command {
                    [sh, c, rest @ ..] if sh == "/bin/sh" && c == "-c" && !rest.is_empty() => rest,
                    _ => command,
                };
                cmd.first().is_some_and(|c| {
                    matches!(
                        c.as_str(),
                        "/sbin/init" | "/usr/sbin/init" | "/usr/local/sbin/init"
                    ) || std::path::Path::new(c)
                        .file_name()
                        .is_some_and(|n| n == "systemd")
                })
            }
        }
    }
}

/// `--health-on-failure`: what hutch does to a container whose check
/// turned it unhealthy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthOnFailure {
    #[default]
    None,
    Kill,
    Restart,
    Stop,
}

impl HealthOnFailure {
    pub fn name(self) -> &'static str {
        match self {
            HealthOnFailure::None => "none",
            HealthOnFailure::Kill => "kill",
            HealthOnFailure::Restart => "restart",
            HealthOnFailure::Stop => "stop",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_mode_applies_to_an_init_as_podman_decides() {
        let cmd = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for init in [
            &["/sbin/init"][..],
            &["/usr/sbin/init", "--log-level=debug"],
            &["/usr/lib/systemd/systemd"],
            &["systemd"],
            &["/bin/sh", "-c", "/sbin/init"],
        ] {
            assert!(SystemdMode::True.applies(&cmd(init)), "{init:?}");
            assert!(!SystemdMode::False.applies(&cmd(init)), "{init:?}");
        }
        for other in [&["sleep", "1"][..], &["/bin/sh", "-c"], &["init"], &[]] {
            assert!(!SystemdMode::True.applies(&cmd(other)), "{other:?}");
            assert!(SystemdMode::Always.applies(&cmd(other)), "{other:?}");
        }
    }
}
