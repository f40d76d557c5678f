//! Who is running hutch and where their state lives.
//!
//! Decided once, before the namespace is joined: inside it `getuid()` is 0,
//! so the real uid comes from the environment a joined parent left
//! (`_HUTCH_ROOTLESS_UID`) or from the kernel before joining.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::containers::{self, ContainersConf};

use hutch_userns::{Identity, ROOTLESS_UID_ENV, rundir};

/// The facts every command starts from.
#[derive(Debug, Clone)]
pub struct Context {
    pub identity: Identity,
    /// No user namespace: uid 0 on the host.
    pub rootful: bool,
    /// This process already runs inside the user's namespace (a `hutch
    /// unshare` shell, a monitor), so nothing is joined again.
    pub inside_namespace: bool,
    pub run_dir: PathBuf,
    pub run_dir_from_xdg: bool,
    pub data_dir: PathBuf,
    /// The user's home directory ($HOME), read once here so that the
    /// engine never looks at the process's environment itself.
    pub home: PathBuf,
    /// `--root`: the storage graph root, over storage.conf.
    pub root_override: Option<PathBuf>,
    /// `--storage-driver`, over storage.conf.
    pub storage_driver: Option<String>,
    /// `--cgroup-manager`, over containers.conf.
    pub cgroup_manager: Option<String>,
    /// `--runroot`: where the runtime state lives instead of the runtime
    /// dir (Podman's storage run root).
    pub run_root: Option<PathBuf>,
    /// `--volumepath`: where new volumes are made instead of
    /// `<graphroot>/volumes`.
    pub volume_path: Option<PathBuf>,
    /// `--runtime-flag`: global flags for the OCI runtime, without `--`.
    pub runtime_flags: Vec<String>,
    /// Global `--runtime`: the runtime of new containers, over
    /// containers.conf (a container's own `--runtime` wins).
    pub runtime: Option<String>,
    /// `--storage-opt`: storage.conf's driver options replaced.
    pub storage_opts: Vec<String>,
    /// `--network-cmd-path`: the pasta or slirp4netns executable.
    pub network_cmd_path: Option<PathBuf>,
    /// The containers.conf files to read, lowest priority first (resolved
    /// from the caller's environment here, read on first use).
    pub containers_conf_files: Vec<PathBuf>,
    containers_conf: OnceLock<ContainersConf>,
}

impl Context {
    pub fn detect() -> Context {
        let real = Identity::current();
        let inherited = std::env::var(ROOTLESS_UID_ENV)
            .ok()
            .and_then(|v| v.parse::<u32>().ok());
        let (identity, inside_namespace) = match inherited {
            Some(uid) if real.uid == 0 && hutch_userns::in_child_namespace() => {
                let gid = std::env::var("_HUTCH_ROOTLESS_GID")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(uid);
                let user_name = std::env::var("USER")
                    .ok()
                    .filter(|u| !u.is_empty() && u != "root");
                (
                    Identity {
                        uid,
                        gid,
                        user_name,
                    },
                    true,
                )
            }
            _ => (real, false),
        };
        let rootful = identity.uid == 0 && !inside_namespace;
        // Inside the namespace the user's own files show as owned by 0.
        let owner = if inside_namespace { 0 } else { identity.uid };
        let run = rundir::locate(identity.uid, owner, rootful);
        let containers_conf_files = containers::files(
            std::env::var_os("CONTAINERS_CONF")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .as_deref(),
            &config_home(),
            rootful,
        );
        Context {
            data_dir: data_dir(rootful),
            home: std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default(),
            identity,
            rootful,
            inside_namespace,
            run_dir: run.path,
            run_dir_from_xdg: run.from_xdg,
            root_override: None,
            storage_driver: None,
            cgroup_manager: None,
            run_root: None,
            volume_path: None,
            runtime_flags: Vec::new(),
            runtime: None,
            storage_opts: Vec::new(),
            network_cmd_path: None,
            containers_conf_files,
            containers_conf: OnceLock::new(),
        }
    }

    /// The OCI runtime's state base (`--root` of crun/runc, per runtime
    /// below it): under `--runroot` when given.
    pub fn runtime_root(&self) -> PathBuf {
        self.run_root
            .as_ref()
            .unwrap_or(&self.run_dir)
            .join("runtime")
    }

    /// The storage run root `info` reports (`--runroot` when given).
    pub fn storage_run_root(&self) -> PathBuf {
        self.run_root
            .clone()
            .unwrap_or_else(|| self.run_dir.join("storage"))
    }

    pub fn rootless(&self) -> bool {
        !self.rootful
    }

    /// The API service's default socket (`hutch system service`), which
    /// `info` reports as `host.remoteSocket`.
    pub fn api_socket(&self) -> PathBuf {
        self.run_dir.join("hutch.sock")
    }

    /// containers.conf, read the first time a command asks (`hutch ps`
    /// never does).
    pub fn containers_conf(&self) -> &ContainersConf {
        self.containers_conf.get_or_init(|| {
            let conf = containers::load(&self.containers_conf_files);
            if !conf.ignored.is_empty() {
                tracing::warn!(
                    "containers.conf keys hutch does not support, ignored: {}",
                    conf.ignored.join(", ")
                );
            }
            for note in &conf.unsupported_values {
                tracing::warn!("containers.conf {note}");
            }
            conf
        })
    }
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x);
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
        .join(".config")
}

fn data_dir(rootful: bool) -> PathBuf {
    if rootful {
        return PathBuf::from("/var/lib/hutch");
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("hutch");
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));
    home.join(".local/share/hutch")
}
