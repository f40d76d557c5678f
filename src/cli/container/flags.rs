//! The flags `create` and `run` share, turned into the typed container
//! spec and the create options. Each flag's text is parsed here, once, by
//! `spec::parse`; what only the caller's process knows is resolved here
//! too, from [`Caller`]: relative bind sources against its working
//! directory, `-e KEY` and `--env-host` from its environment, and the
//! files `--env-file` and `--security-opt seccomp=` name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::engine::container::create::{CreateOptions, PullPolicy};
use crate::spec::parse::{self, NetworkFlags};
use crate::spec::{ContainerSpec, Namespaces, SeccompChoice};

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
    #[arg(long)]
    pub hostname: Option<String>,
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
    /// Add capabilities to the container
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop capabilities from the container
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to the container
    #[arg(long)]
    pub privileged: bool,
    /// Security options
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container
    #[arg(long, value_name = "HOST[:CONTAINER][:PERMS]")]
    pub device: Vec<String>,
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
    /// Add additional groups to the primary container process
    #[arg(long, value_name = "GROUP")]
    pub group_add: Vec<String>,
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
}

impl CreateFlags {
    /// The container spec for IMAGE and COMMAND with these flags.
    pub fn spec(
        &self,
        image: &str,
        command: &[String],
        caller: &Caller,
    ) -> anyhow::Result<ContainerSpec> {
        let lookup = |k: &str| caller.env.get(k).cloned();
        // Podman's order: the host's environment, the files, then -e.
        let mut env: Vec<String> = Vec::new();
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
        let resources = self.resources.request();
        Ok(ContainerSpec {
            image: image.to_owned(),
            name: self.name.clone(),
            command: command.to_vec(),
            entrypoint: self.entrypoint.as_ref().map(|e| {
                if e.is_empty() {
                    Vec::new()
                } else {
                    vec![e.clone()]
                }
            }),
            env,
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            read_only: self.read_only,
            read_only_tmpfs: self.read_only_tmpfs,
            network: parse::network(&NetworkFlags {
                mode: self.network.network.as_deref(),
                publish: &self.network.publish,
                publish_all: self.network.publish_all,
                dns: hutch_rootless_net::DnsConfig {
                    servers: self.network.dns.clone(),
                    search: self.network.dns_search.clone(),
                    options: self.network.dns_option.clone(),
                },
                aliases: &self.network.network_alias,
            })?,
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
            userns: parse::userns::userns(self.userns.as_deref(), &self.uidmap, &self.gidmap)?,
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
                .map(|d| parse::device::device(d))
                .collect::<Result<_, _>>()?,
            labels: parse::hosts::key_values("--label", &self.label)?,
            annotations: parse::hosts::key_values("--annotation", &self.annotation)?,
            add_hosts: self
                .add_host
                .iter()
                .map(|h| parse::hosts::add_host(h))
                .collect::<anyhow::Result<_>>()?,
            group_add: self.group_add.clone(),
            init: self.init,
            init_path: self.init_path.clone(),
            stop_signal: self
                .stop_signal
                .as_deref()
                .map(parse::restart::signal)
                .transpose()?,
            stop_timeout: self.stop_timeout,
            tty: self.tty,
            interactive: self.interactive,
            remove: self.rm,
            runtime: self.runtime.clone(),
            ..ContainerSpec::default()
        })
    }

    /// How to create: `--pull`, `--replace`.
    pub fn options(&self) -> CreateOptions {
        CreateOptions {
            // clap allows only the four names.
            pull: PullPolicy::parse(&self.pull).unwrap_or_default(),
            replace: self.replace,
        }
    }
}
