//! The launch description: everything one monitor needs, decided by `hutch`
//! and written into the container's userdata as `launch.json` before the
//! monitor starts. The monitor reads nothing else of hutch's state (no
//! database, no store, no configuration files).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use hutch_rootless_net::{NetworkPlan, PortMapping};
use serde::{Deserialize, Serialize};

/// The file name in the container's userdata.
pub const FILE: &str = "launch.json";

/// Where the monitor's own warnings go (its stderr), in the userdata.
pub const LOG_FILE: &str = "monitor.log";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    pub id: String,
    pub runtime: RuntimeCommands,
    /// The runtime writes the container's init pid here.
    pub pid_file: PathBuf,
    /// The exit code, written atomically once the init exited.
    pub exit_file: PathBuf,
    /// The attach socket clients connect to.
    pub attach_socket: PathBuf,
    /// `-t`: where the runtime hands over the pty master (also in the
    /// runtime's create arguments).
    pub console_socket: Option<PathBuf>,
    /// `-i` without `-t`: the container reads a pipe the monitor keeps.
    pub interactive: bool,
    /// `None`: `--log-driver none` (output still reaches attached clients).
    pub log: Option<LogTarget>,
    /// The foreground `run`/`start -a`: the monitor reports `attach` and
    /// waits for the first client before it starts the container.
    pub wait_for_attach: bool,
    /// Wait for `go` on the sync socket before the runtime creates the
    /// container: meanwhile hutch mounts the layer and moves the monitor
    /// into the container's cgroup (a systemd scope or cgroupfs directory).
    pub wait_go: bool,
    /// Start the network helper only after `go` (the monitor is then in
    /// the container's cgroup, and the helper with it); else before, so
    /// that its start-up overlaps the mount.
    pub helper_after_go: bool,
    /// pasta or slirp4netns, started by the monitor (see `net`).
    pub helper: Option<HelperLaunch>,
    /// Published ports of a container on user networks.
    pub forward: Option<ForwardLaunch>,
    /// `--cgroups=no-conmon`: the cgroup the monitor returns to after
    /// `create`, leaving the container's cgroup to the container.
    pub cgroup_return: Option<PathBuf>,
    /// The cleanup command (`hutch [--root R] __cleanup ID`), run once the
    /// exit is written; the monitor appends `--created`/`--started`.
    pub cleanup: Vec<String>,
    /// `--timeout`: seconds the container may run before the monitor
    /// kills it (conmon's `--timeout`); `None` or 0 for no limit.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// The container's health check timer: the monitor runs the command
    /// (`hutch [...] healthcheck run ID`) every interval while the
    /// container runs, as Podman's systemd timer runs `podman healthcheck
    /// run`, so that checks need no systemd.
    #[serde(default)]
    pub health: Option<HealthLaunch>,
    /// `--sdnotify=conmon`: the systemd socket (`NOTIFY_SOCKET`; `@` for
    /// an abstract one) told `MAINPID` (this monitor) and `READY=1` once
    /// the container runs, as conmon does.
    #[serde(default)]
    pub notify_socket: Option<String>,
    /// What `notify_socket` is told besides `STOPPING=1` at the exit.
    #[serde(default)]
    pub notify: Notify,
    /// `--preserve-fds` or socket activation: the spawner placed this many
    /// descriptors at 4.. (after the sync socket); the runtime's `create`
    /// gets them at 3.. (its arguments carry `--preserve-fds N`).
    #[serde(default)]
    pub pass_fds: u32,
    /// `hutch init`: after the runtime's `create`, report `initialized
    /// PID` and hold the container there until a `start` connects to this
    /// socket and says `go`; that connection then takes the spawner's place
    /// for the rest of the reports.
    #[serde(default)]
    pub hold_socket: Option<PathBuf>,
}

/// `--sdnotify`'s mode, for a launch with a `notify_socket`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Notify {
    /// `MAINPID` (the monitor) and `READY=1` once the container runs.
    #[default]
    Conmon,
    /// The container's own messages, from the socket the monitor binds
    /// at `socket` (bound into the container), passed on with `MAINPID`
    /// the container's process; `MAINPID` alone once it runs.
    Container { socket: PathBuf },
    /// `MAINPID` (the monitor) once the container runs, `READY=1` when
    /// the health check first passes.
    Healthy,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthLaunch {
    /// Nanoseconds between the end of one check and the start of the next
    /// (systemd's OnUnitInactiveSec, as Podman's timer has it); the first
    /// runs one interval after the start.
    pub interval_ns: u64,
    pub command: Vec<String>,
}

/// The runtime's command lines, built by hutch's runtime driver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeCommands {
    /// For messages (`crun: ...`).
    pub name: String,
    pub path: PathBuf,
    /// `create` (or `run --detach` when `start` is `None`, or `restore
    /// --detach` for `container restore`: the restored process is then
    /// relayed and reaped like a new one).
    pub create: Vec<String>,
    pub start: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTarget {
    pub path: PathBuf,
    pub max_size: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperLaunch {
    pub plan: NetworkPlan,
    /// The directory of the namespace files (`NetPaths::new(dir, id)`).
    pub netns_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardLaunch {
    /// The rootless netns the forwarding threads enter.
    pub rootless_netns: PathBuf,
    pub ports: Vec<PortMapping>,
    /// The container's address on its first user network.
    pub ip: Ipv4Addr,
}

impl Launch {
    pub fn read(path: &Path) -> Result<Launch, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("parsing {}: {e}", path.display()))
    }

    /// Written through a temporary file and a rename: a monitor never reads
    /// half of one.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::frame::write_atomic(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE);
        let launch = Launch {
            id: "abc".into(),
            runtime: RuntimeCommands {
                name: "crun".into(),
                path: "/usr/bin/crun".into(),
                create: vec!["create".into(), "abc".into()],
                start: Some(vec!["start".into(), "abc".into()]),
            },
            forward: Some(ForwardLaunch {
                rootless_netns: "/run/x".into(),
                ports: vec![PortMapping::parse("8080:80").expect("port")],
                ip: Ipv4Addr::new(10, 89, 0, 2),
            }),
            cleanup: vec!["hutch".into(), "__cleanup".into(), "abc".into()],
            ..Launch::default()
        };
        launch.write(&path).expect("written");
        assert_eq!(Launch::read(&path).expect("read"), launch);
        assert!(Launch::read(&dir.path().join("missing")).is_err());
    }
}
