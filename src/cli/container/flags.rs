//! The flags `create` and `run` share, turned into the typed container
//! spec and the create options. Each flag's text is parsed here, once, by
//! `spec::parse`; what only the caller's process knows is resolved here
//! too, from [`Caller`]: relative bind sources against its working
//! directory, `-e KEY` and `--env-host` from its environment, and the
//! files `--env-file` and `--security-opt seccomp=` name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::engine::container::create::{CreateOptions, PullPolicy, PullProgress};
use crate::runtime::cdi;
use crate::spec::parse;
use crate::spec::{ContainerSpec, Namespaces, SeccompChoice, SetupSpec, SystemdMode};

/// What the calling process contributes to a spec.
pub struct Caller {
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
    /// Reads a file named on the command line.
    pub read: fn(&Path) -> std::io::Result<String>,
}

impl Caller {
    /// This process's directory and environment.
    pub fn current() -> Caller {
        Caller {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            env: std::env::vars().collect(),
            read: |p| std::fs::read_to_string(p),
        }
    }
}

/// `open PATH: reason` in Go's lower-case wording, which Podman users and
/// scripts know.
fn open_error(path: &Path, e: &std::io::Error) -> anyhow::Error {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    anyhow::anyhow!("open {}: {reason}", path.display())
}

/// Flags of `hutch create` and `hutch run` (Podman's names).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CreateFlags {
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables in the container
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Use all current host environment variables in the container
    #[arg(long)]
    pub env_host: bool,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Make the container's root filesystem read-only
    #[arg(long)]
    pub read_only: bool,
    /// When running --read-only, mount a tmpfs on /dev, /dev/shm, /run, /tmp and /var/tmp
    // require_equals: `--read-only-tmpfs IMAGE` must not read IMAGE as the
    // value (Podman's boolean flags take `=false`).
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true",
          require_equals = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub read_only_tmpfs: bool,
    /// Path or name of the OCI runtime (crun, runc)
    #[arg(long)]
    pub runtime: Option<String>,
    /// Set container hostname
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Run container in an existing pod (name or ID), or new:NAME to create the pod
    #[arg(long)]
    pub pod: Option<String>,
    /// Run container in the pod whose ID the file holds (`pod create --pod-id-file`)
    #[arg(long, value_name = "FILE")]
    pub pod_id_file: Option<PathBuf>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Bind mount a volume into the container
    #[arg(short, long, value_name = "[SOURCE:]CONTAINER-DIR[:OPTIONS]")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long, value_name = "type=TYPE,...")]
    pub mount: Vec<String>,
    /// Mount a temporary filesystem (tmpfs) into the container
    #[arg(long, value_name = "DIR[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Add capabilities to the container (comma-separated; repeatable)
    #[arg(long, value_name = "CAP", value_delimiter = ',')]
    pub cap_add: Vec<String>,
    /// Drop capabilities from the container (comma-separated; repeatable)
    #[arg(long, value_name = "CAP", value_delimiter = ',')]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to the container
    #[arg(long)]
    pub privileged: bool,
    /// Security options
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container, or a CDI device (vendor.com/class=name)
    #[arg(long, value_name = "HOST[:CONTAINER][:PERMS]")]
    pub device: Vec<String>,
    /// GPU devices to add to the container ('all' to pass all GPUs), as CDI nvidia.com/gpu devices
    #[arg(long, value_name = "GPUS")]
    pub gpus: Vec<String>,
    /// Ulimit options
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Path to the container-init binary
    #[arg(long, value_name = "PATH")]
    pub init_path: Option<std::path::PathBuf>,
    /// Set metadata on a container
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Add annotations to the container
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// User namespace to use (host, keep-id[:uid=,gid=], nomap, auto)
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// UID map for the user namespace (container:host:size)
    #[arg(long, value_name = "CONTAINER:HOST:SIZE")]
    pub uidmap: Vec<String>,
    /// GID map for the user namespace (container:host:size)
    #[arg(long, value_name = "CONTAINER:HOST:SIZE")]
    pub gidmap: Vec<String>,
    /// Name of range listed in /etc/subuid for use in user namespace
    #[arg(long, value_name = "NAME")]
    pub subuidname: Option<String>,
    /// Name of range listed in /etc/subgid for use in user namespace
    #[arg(long, value_name = "NAME")]
    pub subgidname: Option<String>,
    /// Add additional groups to the primary container process
    #[arg(long, value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Host user account to add to /etc/passwd within container
    #[arg(long, value_name = "NAME|UID")]
    pub hostuser: Vec<String>,
    /// PID namespace to use (host, private, container:ID)
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// IPC namespace to use (host, private, container:ID)
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// UTS namespace to use (host, private, container:ID)
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// Pull image policy (always, missing, never, newer)
    #[arg(long, value_name = "POLICY", default_value = "missing",
          value_parser = ["always", "missing", "never", "newer"])]
    pub pull: String,
    /// Logging driver for the container (k8s-file, json-file, none)
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Logging driver options (max-size=SIZE, path=PATH)
    #[arg(long, value_name = "OPT")]
    pub log_opt: Vec<String>,
    // other helpers' flags below
    #[command(flatten)]
    pub network: super::net_flags::NetworkFlags,
    #[command(flatten)]
    pub resources: Box<super::resource_flags::ResourceFlags>,
    #[command(flatten)]
    pub health: super::health_flags::HealthFlags,
    // Lifecycle flags.
    /// Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)
    #[arg(long)]
    pub restart: Option<String>,
    /// Signal to stop a container (default SIGTERM)
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container (default 10)
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    /// If a container with the same name exists, replace it
    #[arg(long)]
    pub replace: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY for the container
    #[arg(short, long)]
    pub tty: bool,
    /// Set proxy environment variables in the container based on the host proxy vars
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true",
          require_equals = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub http_proxy: bool,
    /// Run container in systemd mode (if true, systemd mode applies when the command is an init)
    #[arg(long, default_value = "true", value_name = "MODE")]
    pub systemd: String,
    /// Write the pid of the container's monitor (conmon's role) to this file
    #[arg(long, value_name = "PATH")]
    pub conmon_pidfile: Option<PathBuf>,
    /// Pass down to the process N additional file descriptors (in addition to 0, 1, 2)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Maximum time in seconds a container may run before it is killed (0: no limit)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Set timezone in container (a zone name such as Europe/Berlin, or local)
    #[arg(long, value_name = "TIMEZONE")]
    pub tz: Option<String>,
    /// Size of /dev/shm (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))
    #[arg(long, value_name = "SIZE", value_parser = shm_size)]
    pub shm_size: Option<u64>,
    /// No longer supported by the kernel: accepted and ignored, as Podman does
    #[arg(long, value_name = "SIZE", hide = true)]
    pub kernel_memory: Option<String>,
    /// The first argument is not an image but the command; PATH is the root file system (PATH[:O] puts an overlay on top)
    #[arg(long, value_name = "PATH[:O][:idmap]")]
    pub rootfs: Option<String>,
    /// Configure namespaced kernel parameters at runtime
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// Containers to start before this one (comma-separated; repeatable)
    #[arg(long, value_name = "CONTAINER,...", value_delimiter = ',')]
    pub requires: Vec<String>,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub quiet: bool,
    /// Require HTTPS and verify certificates when contacting registries for pulling images
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Path of the authentication file
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<std::path::PathBuf>,
    /// Specify the platform for selecting the image (os/arch[/variant])
    #[arg(long, value_name = "OS/ARCH", conflicts_with_all = ["arch", "os"])]
    pub platform: Option<String>,
    /// Use ARCH instead of the architecture of the machine for choosing images
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Use OS instead of the running OS for choosing images
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Use VARIANT instead of the running architecture variant for choosing images
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Set the umask inside the container (octal; default 0022)
    #[arg(long, value_name = "UMASK")]
    pub umask: Option<String>,
    /// Read in a line delimited file of labels
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// This is a Docker specific option and is a NOOP
    #[arg(long)]
    pub disable_content_trust: bool,
    /// Unset environment default variables in container
    #[arg(long, value_name = "NAME")]
    pub unsetenv: Vec<String>,
    /// Unset all default environment variables in container
    #[arg(long)]
    pub unsetenv_all: bool,
    /// cgroup namespace to use (host, private)
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// Configure execution domain using personality (e.g., LINUX/LINUX32)
    #[arg(long, value_name = "PERSONA")]
    pub personality: Option<String>,
    /// Policy for selecting a seccomp profile (default, image)
    #[arg(long, value_name = "POLICY")]
    pub seccomp_policy: Option<String>,
    /// Chroot directories inside the container
    #[arg(long, value_name = "PATH")]
    pub chrootdirs: Vec<String>,
    // Set-up flags (issue 12, runnet).
    /// Expose a port or a range of ports
    #[arg(long, value_name = "PORT[-END][/PROTO]")]
    pub expose: Vec<String>,
    /// Do not create /etc/hosts within the container, instead use the version from the image
    #[arg(long)]
    pub no_hosts: bool,
    /// Write the container process ID to the file
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<PathBuf>,
    /// Entry to write to /etc/passwd
    #[arg(long, value_name = "ENTRY")]
    pub passwd_entry: Option<String>,
    /// Preprocess environment variables from image before injecting them into the container
    #[arg(long, value_name = "NAME=VALUE")]
    pub env_merge: Vec<String>,
    /// Add secret to container
    #[arg(long, value_name = "NAME[,OPTIONS]")]
    pub secret: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long, value_name = "CONTAINER[:ro|rw]")]
    pub volumes_from: Vec<String>,
    /// Tells how to handle the builtin image volumes (bind, tmpfs, ignore)
    #[arg(long, value_name = "MODE")]
    pub image_volume: Option<String>,
    /// Specify a static IPv4 address for the container
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<String>,
    /// Specify a static IPv6 address for the container
    #[arg(long, value_name = "ADDRESS")]
    pub ip6: Option<String>,
    /// Container MAC address (e.g. 92:d0:c6:0a:29:33)
    #[arg(long, value_name = "ADDRESS")]
    pub mac_address: Option<String>,
}

/// `--shm-size`: Docker's units. 0 keeps the default, as in Podman (a
/// tmpfs of size 0 would be unbounded).
fn shm_size(s: &str) -> Result<u64, String> {
    parse::log::size(s).map_err(|e| e.to_string())
}

/// The proxy variables `--http-proxy` (on by default) copies from the
/// caller's environment, as Podman does.
pub(crate) const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "ftp_proxy",
    "FTP_PROXY",
    "no_proxy",
    "NO_PROXY",
];

impl CreateFlags {
    /// Podman's warnings about flags that are accepted but do nothing.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.kernel_memory.is_some() {
            w.push("The --kernel-memory flag is no longer supported. This flag is a noop.".into());
        }
        w
    }

    /// The container spec for IMAGE and COMMAND with these flags.
    pub fn spec(
        &self,
        image: &str,
        command: &[String],
        caller: &Caller,
    ) -> anyhow::Result<ContainerSpec> {
        let lookup = |k: &str| caller.env.get(k).cloned();
        let systemd = match self.systemd.as_str() {
            "true" => SystemdMode::True,
            "false" => SystemdMode::False,
            "always" => SystemdMode::Always,
            _ => anyhow::bail!(
                "invalid config provided: --systemd values must be one of \"true, false, always\": invalid configuration"
            ),
        };
        // Podman's order: the proxy variables, the host's environment, the
        // files, then -e.
        let mut env: Vec<String> = Vec::new();
        if self.http_proxy {
            for k in PROXY_VARS {
                if let Some(v) = caller.env.get(k) {
                    parse::env::set(&mut env, format!("{k}={v}"));
                }
            }
        }
        if self.env_host {
            for (k, v) in &caller.env {
                parse::env::set(&mut env, format!("{k}={v}"));
            }
        }
        for f in &self.env_file {
            let path = caller.cwd.join(f);
            let text = (caller.read)(&path)
                .map_err(|e| open_error(f, &e))
                .context("reading --env-file")?;
            for e in parse::env::env_file(&text, &lookup) {
                parse::env::set(&mut env, e);
            }
        }
        for e in parse::env::env(&self.env, &lookup) {
            parse::env::set(&mut env, e);
        }

        let mut mounts = Vec::new();
        for v in &self.volume {
            mounts.push(parse::mount::volume(v, &caller.cwd)?);
        }
        for m in &self.mount {
            mounts.push(parse::mount::mount(m, &caller.cwd)?);
        }
        // The same `-v` given twice is one mount (Podman accepts it); two
        // different ones at one destination are still refused.
        let mut seen = Vec::new();
        mounts.retain(|m| {
            let dup = seen.contains(m);
            if !dup {
                seen.push(m.clone());
            }
            !dup
        });
        parse::mount::check_duplicates(&mounts)?;
        parse::capabilities(&self.cap_add, &self.cap_drop)?;
        let security = parse::security::security(&self.security_opt)?;
        let seccomp_profile = match &security.seccomp {
            SeccompChoice::Path(p) => Some(
                (caller.read)(&caller.cwd.join(p))
                    .map_err(|e| open_error(p, &e))
                    .context("opening seccomp profile failed")?,
            ),
            _ => None,
        };
        let resources = self.resources.request()?;
        let (health_check, health_on_failure) = self.health.check()?;
        let (sdnotify, notify_socket) = self
            .health
            .notify(caller.env.get("NOTIFY_SOCKET").map(String::as_str))?;
        // `--rootfs`: the first argument is the command's, as Podman reads it.
        let (image, command, rootfs) = match &self.rootfs {
            Some(r) => (
                String::new(),
                std::iter::once(image.to_owned())
                    .chain(command.iter().cloned())
                    .collect(),
                Some(parse::rootfs(r, &caller.cwd)?),
            ),
            None => (image.to_owned(), command.to_vec(), None),
        };
        Ok(ContainerSpec {
            image,
            rootfs,
            name: self.name.clone(),
            command,
            entrypoint: self.entrypoint.as_deref().map(entrypoint_words),
            env,
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            read_only: self.read_only,
            read_only_tmpfs: self.read_only_tmpfs,
            network: crate::spec::NetworkSpec {
                ip: ip_flag(self.ip.as_deref())?,
                ip6: ip_flag(self.ip6.as_deref())?,
                mac_address: self.mac_address.as_deref().map(mac_flag).transpose()?,
                ..self.network.spec()?
            },
            mounts,
            tmpfs: self
                .tmpfs
                .iter()
                .map(|t| parse::mount::tmpfs(t))
                .collect::<anyhow::Result<_>>()?,
            namespaces: Namespaces {
                pid: parse::userns::namespace("pid", self.pid.as_deref())?,
                ipc: parse::userns::namespace("ipc", self.ipc.as_deref())?,
                uts: parse::userns::namespace("uts", self.uts.as_deref())?,
            },
            userns: {
                let (uidmap, gidmap) =
                    subid_name_maps(self.subuidname.as_deref(), self.subgidname.as_deref())?;
                let uidmap = [uidmap, self.uidmap.clone()].concat();
                let gidmap = [gidmap, self.gidmap.clone()].concat();
                parse::userns::userns(self.userns.as_deref(), &uidmap, &gidmap)?
            },
            restart: match &self.restart {
                Some(r) => parse::restart::restart(r)?,
                None => Default::default(),
            },
            log: parse::log::log(self.log_driver.as_deref(), &self.log_opt)?,
            resources,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            ulimits: parse::ulimit::ulimits(&self.ulimit)?,
            security,
            seccomp_profile,
            devices: self
                .device
                .iter()
                .filter(|d| !cdi::is_qualified_name(d))
                .map(|d| parse::device::device(d))
                .collect::<Result<_, _>>()?,
            cdi_devices: self.cdi_devices(&lookup)?,
            labels: with_systemd_unit(self.labels(caller)?),
            annotations: parse::hosts::key_values("--annotation", &self.annotation)?,
            sysctls: parse::hosts::key_values("--sysctl", &self.sysctl)?,
            add_hosts: self
                .add_host
                .iter()
                .map(|h| parse::hosts::add_host(h))
                .collect::<anyhow::Result<_>>()?,
            group_add: self.group_add.clone(),
            host_users: self.hostuser.clone(),
            init: self.init,
            init_path: self.init_path.clone(),
            stop_signal: self
                .stop_signal
                .as_deref()
                .map(parse::restart::signal)
                .transpose()?,
            stop_timeout: self.stop_timeout,
            timezone: self.tz.clone(),
            shm_size: self.shm_size.filter(|n| *n > 0),
            run_timeout: self.timeout.filter(|t| *t > 0),
            monitor_pidfile: self.conmon_pidfile.as_ref().map(|p| caller.cwd.join(p)),
            tty: self.tty,
            interactive: self.interactive,
            remove: self.rm,
            runtime: self.runtime.clone(),
            pod: match &self.pod_id_file {
                Some(f) => Some(pod_id_from(&caller.cwd.join(f))?),
                None => self.pod.clone(),
            },
            requires: self
                .requires
                .iter()
                .filter(|r| !r.is_empty())
                .cloned()
                .collect(),
            health_check,
            health_on_failure,
            sdnotify,
            notify_socket,
            preserve_fds: self.preserve_fds,
            systemd,
            umask: match &self.umask {
                Some(u) => Some(
                    u32::from_str_radix(u, 8)
                        .ok()
                        .filter(|m| *m <= 0o777)
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                            "running container create option: invalid umask string {u}: invalid argument"
                        )
                        })?,
                ),
                None => None,
            },
            unsetenv: self.unsetenv.clone(),
            unsetenv_all: self.unsetenv_all,
            cgroupns: match self.cgroupns.as_deref() {
                None => None,
                Some(m @ ("host" | "private")) => Some(m.to_owned()),
                Some(m) => anyhow::bail!("unrecognized namespace mode {m} passed"),
            },
            personality: self.personality.clone(),
            seccomp_policy: match self.seccomp_policy.as_deref() {
                None | Some("default") => None,
                Some("image") => Some("image".to_owned()),
                Some(p) => anyhow::bail!(
                    "invalid seccomp policy {p:?}: valid policies are [\"default\" \"image\"]"
                ),
            },
            chroot_dirs: self.chrootdirs.clone(),
            setup: self.setup(caller)?,
            ..ContainerSpec::default()
        })
    }

    /// These flags with containers.conf's `env_host` and `http_proxy` as
    /// their defaults, as Podman takes them (a flag given with the
    /// built-in value cannot be told from none: the file's wins).
    pub fn with_conf(&self, conf: &crate::config::containers::ContainersConf) -> CreateFlags {
        let mut f = self.clone();
        f.env_host |= conf.containers.env_host == Some(true);
        f.http_proxy &= conf.containers.http_proxy != Some(false);
        f
    }

    /// The set-up flags of issue 12, checked and resolved.
    fn setup(&self, caller: &Caller) -> anyhow::Result<SetupSpec> {
        if self.no_hosts && !self.add_host.is_empty() {
            anyhow::bail!("--no-hosts and --add-host cannot be set together");
        }
        if let Some(m) = &self.image_volume
            && !matches!(m.as_str(), "bind" | "tmpfs" | "ignore")
        {
            anyhow::bail!("invalid image volume mode {m:?} required value: bind, tmpfs, ignore");
        }
        Ok(SetupSpec {
            expose: self
                .expose
                .iter()
                .map(|e| parse::setup::expose(e))
                .collect::<anyhow::Result<_>>()?,
            no_hosts: self.no_hosts,
            pidfile: self.pidfile.as_ref().map(|p| caller.cwd.join(p)),
            passwd_entry: self.passwd_entry.clone(),
            env_merge: self.env_merge.clone(),
            secrets: self
                .secret
                .iter()
                .map(|s| parse::setup::secret(s))
                .collect::<anyhow::Result<_>>()?,
            volumes_from: self.volumes_from.clone(),
            image_volume: self.image_volume.clone(),
            // `run --passwd=false` sets it.
            no_passwd: false,
        })
    }

    /// `--label-file` lines (blank and `#` lines skipped), then `--label`,
    /// which wins, as in Podman.
    fn labels(&self, caller: &Caller) -> anyhow::Result<BTreeMap<String, String>> {
        let mut from_files = Vec::new();
        for f in &self.label_file {
            let path = caller.cwd.join(f);
            let text = (caller.read)(&path).map_err(|e| open_error(&path, &e))?;
            from_files.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        from_files.extend(self.label.iter().cloned());
        parse::hosts::key_values("--label", &from_files)
    }

    /// `--device vendor.com/class=name` and `--gpus`, with `*/gpu=all`
    /// narrowed to a Slurm job's or CUDA_VISIBLE_DEVICES' GPUs (the
    /// caller's environment; see runtime::cdi::allocated_gpus).
    fn cdi_devices(&self, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Vec<String>> {
        let allocated = cdi::allocated_gpus(lookup);
        let mut out: Vec<String> = Vec::new();
        let names = self
            .device
            .iter()
            .filter(|d| cdi::is_qualified_name(d))
            .flat_map(|d| cdi::narrow_to_allocation(d, allocated.as_deref()));
        for name in names {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        for g in &self.gpus {
            for name in cdi::gpus_flag(g, allocated.as_deref()).context("--gpus")? {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        Ok(out)
    }

    /// How to create: `--pull`, `--replace`.
    pub fn options(&self) -> CreateOptions {
        CreateOptions {
            // clap allows only the four names.
            pull: PullPolicy::parse(&self.pull).unwrap_or_default(),
            replace: self.replace,
            // Podman's pull lines on stderr (bars on a terminal).
            progress: (!self.quiet).then(|| {
                let mut p = crate::cli::progress::Progress::new(false, "Trying to pull");
                PullProgress(std::sync::Arc::new(std::sync::Mutex::new(
                    move |r: &str, e| p.event(r, e),
                )))
            }),
            registry: crate::engine::image::pull::RegistryOptions {
                tls_verify: self.tls_verify,
                creds: None,
                authfile: self.authfile.clone(),
            },
            platform: self.platform_choice(),
        }
    }

    /// `--platform`, `--os`, `--arch`, `--variant` over the host's platform
    /// (`--platform` checked by [`Self::check_platform`] first).
    fn platform_choice(&self) -> Option<crate::image::registry::Platform> {
        use crate::image::registry::Platform;
        if self.platform.is_none()
            && self.os.is_none()
            && self.arch.is_none()
            && self.variant.is_none()
        {
            return None;
        }
        let mut p = self
            .platform
            .as_deref()
            .and_then(|s| s.parse::<Platform>().ok())
            .unwrap_or_else(Platform::host);
        if let Some(os) = &self.os {
            p.os = os.clone();
        }
        if let Some(arch) = &self.arch {
            p.architecture = arch.clone();
        }
        if let Some(v) = &self.variant {
            p.variant = Some(v.clone());
        }
        Some(p)
    }

    /// A `--platform` that does not parse, named.
    pub fn check_platform(&self) -> anyhow::Result<()> {
        if let Some(s) = &self.platform {
            s.parse::<crate::image::registry::Platform>()
                .map_err(|e| anyhow::anyhow!("--platform {s:?}: {e}"))?;
        }
        Ok(())
    }
}

/// `--ip ADDRESS`, `--ip6 ADDRESS`: Podman parses either as any IP
/// address (an IPv6 one given as `--ip` fails later, as outside the
/// network's subnets).
pub(crate) fn ip_flag(text: Option<&str>) -> anyhow::Result<Option<std::net::IpAddr>> {
    let Some(t) = text else {
        return Ok(None);
    };
    match t.parse::<std::net::IpAddr>() {
        Ok(a) => Ok(Some(a)),
        Err(_) => anyhow::bail!("{t:?} is not an ip address"),
    }
}

/// `--mac-address`: see [`parse::mac_address`].
pub(crate) fn mac_flag(m: &str) -> anyhow::Result<String> {
    parse::mac_address(m)
}

/// `--pod-id-file`: the id the file holds (at most 1 KiB: an id is 64
/// digits).
/// `--subuidname`/`--subgidname` as `--uidmap`/`--gidmap` texts, read from
/// /etc/subuid and /etc/subgid. As Podman: one name alone serves for both,
/// and the maps come before any `--uidmap`/`--gidmap` given.
pub(crate) fn subid_name_maps(
    uid_name: Option<&str>,
    gid_name: Option<&str>,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    use hutch_userns::subid::SubIdFile;
    let (Some(user), Some(group)) = (uid_name.or(gid_name), gid_name.or(uid_name)) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let maps = |file: &str, name: &str, what: &str, kind: &str| -> anyhow::Result<Vec<String>> {
        let path = Path::new(file);
        let ranges: Vec<(u32, u32)> = SubIdFile::load(path)
            .with_context(|| format!("reading {file}"))?
            .ranges_named(name)
            .iter()
            .map(|r| (r.start, r.count))
            .collect();
        if ranges.is_empty() {
            anyhow::bail!("no {what} ranges found for {kind} {name:?} in {file}");
        }
        Ok(parse::userns::subid_maps(&ranges))
    };
    Ok((
        maps("/etc/subuid", user, "subuid", "user")?,
        maps("/etc/subgid", group, "subgid", "group")?,
    ))
}

fn pod_id_from(path: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(1024).read_to_string(&mut text))
        .with_context(|| format!("reading the pod id file {}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// Podman records the systemd unit a container runs in (the
/// `PODMAN_SYSTEMD_UNIT` variable Quadlet and `generate systemd` units set)
/// as a label of the same name, which `auto-update` restarts.
fn with_systemd_unit(
    mut labels: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    if let Ok(unit) = std::env::var("PODMAN_SYSTEMD_UNIT") {
        labels.insert("PODMAN_SYSTEMD_UNIT".to_owned(), unit);
    }
    labels
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;
    use oci_spec::runtime::PosixRlimitType;

    use super::*;
    use crate::engine::container::create::generator_input;
    use crate::runtime::spec::{Defaults, generate};
    use crate::spec::{MountSource, RestartPolicy, Userns};

    #[derive(Debug, Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        f: CreateFlags,
    }

    fn caller() -> Caller {
        Caller {
            cwd: PathBuf::from("/home/u/proj"),
            env: [("HOME".to_string(), "/home/u".to_string())].into(),
            read: |p: &Path| match p.to_str() {
                Some("/home/u/proj/vars.env") => Ok("FROM_FILE=1\nHOME\n".into()),
                Some("/etc/prof.json") => Ok(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#.into()),
                _ => Err(std::io::ErrorKind::NotFound.into()),
            },
        }
    }

    #[test]
    fn static_address_flags_parse_as_podmans() {
        let net = |args: &[&str]| spec_of(args).map(|s| s.network);
        let n = net(&["--ip", "10.1.2.3", "--ip6", "fd00::1"]).unwrap();
        assert_eq!(n.ip, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(n.ip6, Some("fd00::1".parse().unwrap()));
        // Either flag takes either family; the network decides.
        assert!(net(&["--ip", "::1"]).is_ok());
        assert_eq!(
            net(&["--ip", "bogus"]).unwrap_err().to_string(),
            "\"bogus\" is not an ip address"
        );
        for form in ["92:D0:C6:0A:29:33", "92-d0-c6-0a-29-33", "92d0.c60a.2933"] {
            let n = net(&["--mac-address", form]).unwrap();
            assert_eq!(
                n.mac_address.as_deref(),
                Some("92:d0:c6:0a:29:33"),
                "{form}"
            );
        }
        for bad in [
            "zz",
            "92:d0:c6:0a:29",
            "92:d0-c6:0a:29:33",
            "92d0c.60a.2933",
        ] {
            assert_eq!(
                net(&["--mac-address", bad]).unwrap_err().to_string(),
                format!("address {bad}: invalid MAC address")
            );
        }
    }

    fn spec_of(args: &[&str]) -> anyhow::Result<ContainerSpec> {
        let t = T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))?;
        t.f.spec("busybox", &["sh".to_string()], &caller())
    }

    #[test]
    fn flags_become_a_typed_spec() {
        let spec = spec_of(&[
            "-v",
            "./src:/src:ro",
            "-p",
            "8080:80",
            "--cap-add",
            "NET_ADMIN",
            "--ulimit",
            "nofile=100:200",
            "--restart",
            "on-failure:3",
            "--userns",
            "keep-id",
            "-e",
            "HOME",
            "-e",
            "UNSET",
            "-e",
            "A=1",
            "--env-file",
            "vars.env",
            "--stop-signal",
            "INT",
        ])
        .expect("valid flags");
        // Resolved by the CLI: the engine sees neither its cwd nor its env.
        assert_eq!(
            spec.mounts[0].source,
            MountSource::Bind("/home/u/proj/./src".into())
        );
        assert_eq!(spec.env, vec!["FROM_FILE=1", "HOME=/home/u", "A=1"]);
        let port = &spec.network.ports[0];
        assert_eq!((port.host_port, port.container_port), (8080, 80));
        assert_eq!(spec.restart, RestartPolicy::OnFailure(3));
        assert!(matches!(spec.userns, Userns::KeepId { uid: None, .. }));
        assert_eq!(spec.stop_signal, Some(libc::SIGINT));
        assert_eq!(spec.ulimits.limits[0].kind, PosixRlimitType::RlimitNofile);
        // The stored form is the same spec again.
        let text = serde_json::to_string(&spec).unwrap();
        let back: ContainerSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, spec);
        assert!(text.contains(r#""version":1"#), "{text}");

        // ... and config.json from it.
        let mut input = generator_input(&spec);
        input.id = "c".repeat(64);
        input.rootless = true;
        let defaults = Defaults {
            uid: 1000,
            gid: 1000,
            subuid_size: 65536,
            subgid_size: 65536,
            ..Defaults::default()
        };
        let oci = generate(&input, &defaults).expect("generates");
        let process = oci.process().as_ref().expect("process");
        let env = process.env().clone().unwrap_or_default();
        assert!(env.contains(&"HOME=/home/u".to_string()), "{env:?}");
        assert!(!env.iter().any(|e| e.starts_with("UNSET")), "{env:?}");
        let caps = process.capabilities().as_ref().expect("caps");
        assert!(
            caps.bounding()
                .as_ref()
                .expect("bounding")
                .contains(&oci_spec::runtime::Capability::NetAdmin)
        );
        let nofile = process
            .rlimits()
            .as_ref()
            .and_then(|r| r.iter().find(|r| r.typ() == PosixRlimitType::RlimitNofile))
            .expect("nofile");
        assert_eq!((nofile.soft(), nofile.hard()), (100, 200));
        let src = oci
            .mounts()
            .as_ref()
            .and_then(|m| m.iter().find(|m| m.destination() == Path::new("/src")))
            .expect("bind at /src");
        assert_eq!(
            src.source().as_deref(),
            Some(Path::new("/home/u/proj/./src"))
        );
        assert!(
            src.options()
                .as_ref()
                .is_some_and(|o| o.contains(&"ro".to_string()))
        );
        // keep-id: the user's uid is the same inside.
        let linux = oci.linux().as_ref().expect("linux");
        assert!(linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty()));
        assert_eq!(process.user().uid(), 1000);
        assert_eq!(
            oci.annotations()
                .as_ref()
                .and_then(|a| a.get(crate::runtime::spec::ANNOTATION_STOP_SIGNAL))
                .map(String::as_str),
            Some("SIGINT")
        );
    }

    #[test]
    fn files_named_on_the_command_line_are_read_by_the_cli() {
        let spec = spec_of(&["--security-opt", "seccomp=/etc/prof.json"]).unwrap();
        assert!(
            spec.seccomp_profile
                .as_deref()
                .is_some_and(|p| p.contains("SCMP_ACT_ALLOW"))
        );
        let e = spec_of(&["--env-file", "/no/such.env"]).unwrap_err();
        assert!(
            format!("{e:#}").contains("open /no/such.env: no such file or directory"),
            "{e:#}"
        );
        let e = spec_of(&["--security-opt", "seccomp=/nope.json"]).unwrap_err();
        assert!(
            format!("{e:#}").contains("opening seccomp profile failed"),
            "{e:#}"
        );
    }

    #[test]
    fn bad_flags_are_refused_by_their_parser() {
        let err = |args: &[&str]| spec_of(args).unwrap_err().to_string();
        assert!(err(&["-v", "a:b:c:d"]).contains("incorrect volume format"));
        assert!(err(&["--cap-add", "NOPE"]).contains("unknown capability"));
        assert!(err(&["--ulimit", "nofile=x"]).contains("nofile=x"));
        assert!(err(&["--restart", "sometimes"]).contains("invalid restart policy"));
        assert!(err(&["-p", "notaport"]).contains("notaport"));
        assert!(err(&["--security-opt", "bogus"]).contains("bogus"));
        assert!(err(&["-v", "/a:/x", "-v", "/b:/x/"]).contains("duplicate mount destination"));
        assert!(err(&["--network", "a,host"]).contains("only user networks"));
        assert!(err(&["--systemd", "bogus"]).contains("true, false, always"));
        assert_eq!(
            spec_of(&["--preserve-fds", "2"])
                .map(|s| s.preserve_fds)
                .ok(),
            Some(2)
        );
        assert_eq!(
            spec_of(&["--systemd", "always"]).map(|s| s.systemd).ok(),
            Some(SystemdMode::Always)
        );
    }

    #[test]
    fn proxy_variables_come_from_the_caller_unless_refused() {
        let t = T::try_parse_from(["t"]).unwrap();
        let mut c = caller();
        c.env.insert("https_proxy".into(), "http://p:3128".into());
        let spec = t.f.spec("busybox", &[], &c).unwrap();
        assert!(spec.env.contains(&"https_proxy=http://p:3128".to_string()));
        let t = T::try_parse_from(["t", "--http-proxy=false", "--kernel-memory", "10m"]).unwrap();
        let spec = t.f.spec("busybox", &[], &c).unwrap();
        assert!(!spec.env.iter().any(|e| e.starts_with("https_proxy")));
        assert_eq!(t.f.warnings().len(), 1);
    }
}

/// `--entrypoint`: empty clears the image's; a JSON array of strings
/// (`'["/bin/echo","x"]'`) is the command and its arguments, as Podman
/// reads it; anything else is one word.
fn entrypoint_words(e: &str) -> Vec<String> {
    if e.is_empty() {
        return Vec::new();
    }
    if e.trim_start().starts_with('[')
        && let Ok(words) = serde_json::from_str::<Vec<String>>(e)
    {
        return words;
    }
    vec![e.to_owned()]
}

#[cfg(test)]
mod entrypoint_tests {
    use super::entrypoint_words;

    #[test]
    fn json_arrays_are_split_and_the_rest_is_one_word() {
        assert_eq!(entrypoint_words(r#"["/bin/echo","x"]"#), ["/bin/echo", "x"]);
        assert_eq!(entrypoint_words("/bin/sh -c"), ["/bin/sh -c"]);
        assert_eq!(entrypoint_words("[not json"), ["[not json"]);
        assert!(entrypoint_words("").is_empty());
    }
}
