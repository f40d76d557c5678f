//! The flags `create` and `run` share, and the request they make.
//!
//! Values are carried to the engine as the user wrote them (`-v a:/b:ro`,
//! `--ulimit nofile=1024`): the engine parses and checks every one of them
//! before it creates anything, so that the REST API, which builds the same
//! request, gets the same errors.

use crate::engine::container::create::CreateRequest;

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
    /// The engine request for IMAGE and COMMAND with these flags.
    pub fn request(&self, image: &str, command: &[String]) -> CreateRequest {
        CreateRequest {
            image: image.to_owned(),
            command: command.to_vec(),
            name: self.name.clone(),
            entrypoint: self.entrypoint.clone(),
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            read_only: self.read_only,
            remove: self.rm,
            runtime: self.runtime.clone(),
            env_file: self.env_file.clone(),
            // The CLI's own environment is the host's: taken here, since the
            // engine behind the REST API runs elsewhere.
            env_host: if self.env_host {
                std::env::vars().map(|(k, v)| format!("{k}={v}")).collect()
            } else {
                Vec::new()
            },
            read_only_tmpfs: Some(self.read_only_tmpfs),
            hostname: self.hostname.clone(),
            add_host: self.add_host.clone(),
            volumes: self.volume.clone(),
            mounts: self.mount.clone(),
            tmpfs: self.tmpfs.clone(),
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            security_opt: self.security_opt.clone(),
            devices: self.device.clone(),
            ulimits: self.ulimit.clone(),
            init: self.init,
            init_path: self.init_path.clone(),
            labels: self.label.clone(),
            annotations: self.annotation.clone(),
            userns: self.userns.clone(),
            uidmap: self.uidmap.clone(),
            gidmap: self.gidmap.clone(),
            group_add: self.group_add.clone(),
            pid: self.pid.clone(),
            ipc: self.ipc.clone(),
            uts: self.uts.clone(),
            pull: self.pull.clone(),
            log_driver: self.log_driver.clone(),
            log_opts: self.log_opt.clone(),
            network: self.network.request(),
            resources: self.resources.request(),
            restart: self.restart.clone(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            cidfile: self.cidfile.clone(),
            replace: self.replace,
            interactive: self.interactive,
            tty: self.tty,
            ..CreateRequest::default()
        }
    }
}
