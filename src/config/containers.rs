//! containers.conf, as containers.conf(5) defines it: the keys hutch
//! honours are listed in [`HONOURED`] (docs/compat.md says what each does).
//! Every other key a file sets is named in one warning when the
//! configuration is first used, and so is a value of an honoured key that
//! hutch cannot follow (`log_driver = "journald"`): none is ignored
//! silently.
//!
//! Files are read in Podman's order, each later one overriding the keys it
//! sets: `/usr/share/containers/containers.conf`,
//! `/etc/containers/containers.conf`, then the user's
//! `$XDG_CONFIG_HOME/containers/containers.conf`. `CONTAINERS_CONF` names one
//! file that replaces them all, as in Podman. The front end resolves where
//! the files are (the environment is the caller's); this module only reads
//! them. A file larger than [`MAX_FILE_SIZE`] or malformed is skipped with a
//! warning: a broken system file must not stop `hutch ps`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// containers.conf files are a few kilobytes; anything near this is not one.
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// The keys hutch honours, merged over every file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainersConf {
    /// `[engine] runtime`: the default OCI runtime (a name or a path).
    pub runtime: Option<String>,
    /// `[network] default_rootless_network_cmd`: pasta or slirp4netns.
    pub default_rootless_network_cmd: Option<String>,
    /// `[engine] cgroup_manager` and the file that set it (`info` says
    /// why a manager was chosen).
    pub cgroup_manager: Option<(String, PathBuf)>,
    /// `[engine] cdi_spec_dirs`: where CDI specs are read (replacing
    /// /etc/cdi and /var/run/cdi), as in Podman.
    pub cdi_spec_dirs: Option<Vec<PathBuf>>,
    /// `[containers] default_sysctls` (`KEY=VALUE`), set in every container
    /// whose namespace they belong to is its own.
    pub default_sysctls: Vec<String>,
    /// `[containers] dns_servers`, `dns_searches`, `dns_options`: used where
    /// `--dns*` gave none.
    pub dns_servers: Vec<String>,
    pub dns_searches: Vec<String>,
    pub dns_options: Vec<String>,
    /// `[containers] base_hosts_file`: "" (the host's /etc/hosts, Podman's
    /// default), "image", "none" or a path.
    pub base_hosts_file: Option<String>,
    /// `[containers] env`: the environment every container starts from
    /// (Podman's default: PATH and TERM=xterm), under the image's.
    pub env: Option<Vec<String>>,
    /// `[containers] tz`, `init`, `shm_size`: defaults of `--tz`,
    /// `--init`, `--shm-size`.
    pub tz: Option<String>,
    pub init: Option<bool>,
    pub shm_size: Option<String>,
    /// The rest of `[containers]` that `create` applies where the spec
    /// leaves the built-in default (see [`Containers`]).
    pub containers: Containers,
    /// `[engine] stop_timeout`: seconds before SIGKILL for containers made
    /// without `--stop-timeout`.
    pub stop_timeout: Option<u32>,
    /// `[engine] volume_path`: where new volumes are made (`--volumepath`
    /// wins).
    pub volume_path: Option<PathBuf>,
    /// `[engine] pull_policy`: the default of `--pull` for run, create and
    /// build (always, missing, never, newer).
    pub pull_policy: Option<String>,
    /// `[engine] events_logfile_max_size` as written (`"1m"`, `500`): the
    /// bound of the recorded events, parsed by the engine (0: none).
    pub events_logfile_max_size: Option<String>,
    /// `[section] key (file)` of each key set that hutch does not act on.
    pub ignored: Vec<String>,
    /// Keys hutch reads but whose value it cannot follow, each with the
    /// reason and what it does instead (warned once, as `ignored`).
    pub unsupported_values: Vec<String>,
}

/// `[containers]` keys that give container defaults, as Podman's flags
/// take their defaults from them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Containers {
    /// `--pids-limit` (0 or -1: unlimited).
    pub pids_limit: Option<i64>,
    /// `--ulimit` entries (`nofile=1024:2048`).
    pub default_ulimits: Option<Vec<String>>,
    /// `--log-opt max-size` in bytes (-1: unlimited).
    pub log_size_max: Option<i64>,
    /// `--log-driver` (k8s-file, json-file, none).
    pub log_driver: Option<String>,
    /// `--annotation` entries (`KEY=VALUE`).
    pub annotations: Option<Vec<String>>,
    /// `--read-only`.
    pub read_only: Option<bool>,
    /// The container process's umask (octal text, Podman's default 0022).
    pub umask: Option<String>,
    /// `--device` entries.
    pub devices: Option<Vec<String>>,
    /// `-v` entries (`SRC:DST[:OPTS]`, absolute sources).
    pub volumes: Option<Vec<String>>,
    /// Namespace defaults: `--network`, `--userns`, `--ipc`, `--uts`,
    /// `--pid`, `--cgroupns`.
    pub netns: Option<String>,
    pub userns: Option<String>,
    pub ipcns: Option<String>,
    pub utsns: Option<String>,
    pub pidns: Option<String>,
    pub cgroupns: Option<String>,
    /// `--init-path`, `--security-opt seccomp=`.
    pub init_path: Option<PathBuf>,
    pub seccomp_profile: Option<String>,
    /// `default_capabilities`: the list every container starts from.
    pub default_capabilities: Option<Vec<String>>,
    /// `label`: SELinux labelling; hutch labels nothing (see `load`).
    pub label: Option<bool>,
    /// `log_tag`: the default of `--log-opt tag=`.
    pub log_tag: Option<String>,
    /// `--no-hosts`, `--env-host`, `--http-proxy` defaults.
    pub no_hosts: Option<bool>,
    pub env_host: Option<bool>,
    pub http_proxy: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    engine: Engine,
    #[serde(default)]
    network: Network,
    #[serde(default)]
    containers: FileContainers,
}

#[derive(Debug, Default, Deserialize)]
struct FileContainers {
    default_sysctls: Option<Vec<String>>,
    dns_servers: Option<Vec<String>>,
    dns_searches: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    base_hosts_file: Option<String>,
    env: Option<Vec<String>>,
    tz: Option<String>,
    init: Option<bool>,
    shm_size: Option<String>,
    #[serde(flatten)]
    rest: Containers,
}

/// The keys acted on, as `section.key` (some only for some values: see
/// [`value_notes`]).
const HONOURED: &[&str] = &[
    "engine.runtime",
    "engine.cgroup_manager",
    "engine.cdi_spec_dirs",
    "network.default_rootless_network_cmd",
    "containers.default_sysctls",
    "containers.dns_servers",
    "containers.dns_searches",
    "containers.dns_options",
    "containers.default_capabilities",
    "containers.base_hosts_file",
    "containers.env",
    "containers.tz",
    "containers.init",
    "containers.shm_size",
    "containers.pids_limit",
    "containers.default_ulimits",
    "containers.log_size_max",
    "containers.log_driver",
    "containers.annotations",
    "containers.read_only",
    "containers.umask",
    "containers.devices",
    "containers.volumes",
    "containers.netns",
    "containers.userns",
    "containers.ipcns",
    "containers.utsns",
    "containers.pidns",
    "containers.cgroupns",
    "containers.init_path",
    "containers.seccomp_profile",
    "containers.label",
    "engine.stop_timeout",
    "engine.volume_path",
    "engine.events_logger",
    "engine.image_default_transport",
    "engine.num_locks",
    "network.network_backend",
    "network.default_network",
    "network.default_subnet",
    "network.dns_bind_port",
    "engine.pull_policy",
    "engine.events_logfile_max_size",
    "containers.log_tag",
    "containers.no_hosts",
    "containers.env_host",
    "containers.http_proxy",
];

/// The keys `table` sets that hutch does not act on: tables are walked one
/// level down (`[engine.runtimes]` is one key of `[engine]`).
fn unsupported(table: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    for (section, v) in table {
        let Some(keys) = v.as_table() else {
            out.push(section.clone());
            continue;
        };
        // Empty tables (`[engine.runtimes]`, `[secrets.opts]` in the files
        // distributions ship) set nothing.
        for (key, value) in keys {
            if value.as_table().is_some_and(|t| t.is_empty()) {
                continue;
            }
            let name = format!("{section}.{key}");
            if !HONOURED.contains(&name.as_str()) {
                out.push(format!("[{section}] {key}"));
            }
        }
    }
    out
}

/// Keys read whose value hutch cannot follow: each names the key, the
/// value, why, and what is done instead.
fn value_notes(f: &File) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |key: &str, value: &str, why: &str| {
        out.push(format!("{key} = {value:?}: {why}"));
    };
    if let Some(d) = &f.containers.rest.log_driver
        && !matches!(d.as_str(), "k8s-file" | "json-file" | "none" | "")
    {
        note(
            "[containers] log_driver",
            d,
            "hutch writes container logs to files (k8s-file) or not at all (none); k8s-file is used",
        );
    }
    if f.containers.rest.label == Some(true) && Path::new("/sys/fs/selinux/enforce").exists() {
        note(
            "[containers] label",
            "true",
            "hutch applies no SELinux labels",
        );
    }
    if let Some(e) = &f.engine.events_logger
        && e != "file"
    {
        note(
            "[engine] events_logger",
            e,
            "hutch writes events to a file only (docs/compat.md)",
        );
    }
    if let Some(t) = &f.engine.image_default_transport
        && t != "docker://"
    {
        note(
            "[engine] image_default_transport",
            t,
            "short names are pulled from registries (docker://)",
        );
    }
    if let Some(b) = &f.network.network_backend
        && !matches!(b.as_str(), "netavark" | "")
    {
        note(
            "[network] network_backend",
            b,
            "hutch's networks are its own, with netavark's behaviour",
        );
    }
    if let Some(n) = &f.network.default_network
        && n != DEFAULT_NETWORK_NAME
    {
        note(
            "[network] default_network",
            n,
            "the default network is named podman",
        );
    }
    if let Some(n) = &f.network.default_subnet
        && n != DEFAULT_SUBNET
    {
        note(
            "[network] default_subnet",
            n,
            "the default network's subnet is 10.88.0.0/16",
        );
    }
    if let Some(p) = f.network.dns_bind_port
        && p != 53
    {
        note(
            "[network] dns_bind_port",
            &p.to_string(),
            "hutch's resolver listens on port 53 inside the networks' own namespace",
        );
    }
    out
}

/// Podman's default network, which hutch always has (rootless-net's).
const DEFAULT_NETWORK_NAME: &str = "podman";
const DEFAULT_SUBNET: &str = "10.88.0.0/16";

/// `chown`, `CHOWN` and `CAP_CHOWN` as `CAP_CHOWN`.
pub fn cap_name(c: &str) -> String {
    let c = c.trim().to_ascii_uppercase();
    if c.starts_with("CAP_") {
        c
    } else {
        format!("CAP_{c}")
    }
}

#[derive(Debug, Default, Deserialize)]
struct Engine {
    runtime: Option<String>,
    cgroup_manager: Option<String>,
    cdi_spec_dirs: Option<Vec<PathBuf>>,
    stop_timeout: Option<u32>,
    volume_path: Option<PathBuf>,
    events_logger: Option<String>,
    image_default_transport: Option<String>,
    pull_policy: Option<String>,
    /// A size with a unit (`"1m"`) or a number of bytes.
    events_logfile_max_size: Option<toml::Value>,
    /// Podman's count of shared-memory locks; hutch's per-container lock
    /// files have no fixed number, so any value is met.
    #[allow(dead_code)]
    num_locks: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct Network {
    default_rootless_network_cmd: Option<String>,
    network_backend: Option<String>,
    default_network: Option<String>,
    default_subnet: Option<String>,
    dns_bind_port: Option<u16>,
}

/// The files to read, lowest priority first. `containers_conf` is the
/// caller's `CONTAINERS_CONF`; `config_home` its `$XDG_CONFIG_HOME` (or
/// `~/.config`).
pub fn files(containers_conf: Option<&Path>, config_home: &Path, rootful: bool) -> Vec<PathBuf> {
    if let Some(only) = containers_conf {
        return vec![only.to_path_buf()];
    }
    let mut v = vec![
        PathBuf::from("/usr/share/containers/containers.conf"),
        PathBuf::from("/etc/containers/containers.conf"),
    ];
    if !rootful {
        v.push(config_home.join("containers/containers.conf"));
    }
    v
}

/// Reads and merges `files`, each parsed once into a table; a later file's
/// key replaces an earlier one's, section by section. Missing files are
/// skipped silently, unreadable or malformed ones with a warning.
pub fn load(files: &[PathBuf]) -> ContainersConf {
    let mut merged = toml::Table::new();
    let mut ignored = Vec::new();
    let mut cgroup_manager_file = None;
    for path in files {
        let text = match read_bounded(path) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("ignoring {}: {e}", path.display());
                continue;
            }
        };
        let table = match text.parse::<toml::Table>() {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("ignoring {}: {e}", path.display());
                continue;
            }
        };
        // The file's own keys must have the right types, or the file is
        // skipped as a whole (as before the merge).
        if let Err(e) = toml::Value::Table(table.clone()).try_into::<File>() {
            tracing::warn!("ignoring {}: {e}", path.display());
            continue;
        }
        ignored.extend(
            unsupported(&table)
                .into_iter()
                .map(|k| format!("{k} ({})", path.display())),
        );
        if table
            .get("engine")
            .and_then(|e| e.get("cgroup_manager"))
            .is_some()
        {
            cgroup_manager_file = Some(path.clone());
        }
        for (section, value) in table {
            match (merged.get_mut(&section), value) {
                (Some(toml::Value::Table(into)), toml::Value::Table(keys)) => into.extend(keys),
                (_, value) => {
                    merged.insert(section, value);
                }
            }
        }
    }
    // Each file deserialised alone above, so the merge does too.
    let f: File = toml::Value::Table(merged).try_into().unwrap_or_default();
    let unsupported_values = value_notes(&f);
    let c = f.containers;
    ContainersConf {
        runtime: f.engine.runtime,
        default_rootless_network_cmd: f.network.default_rootless_network_cmd,
        cgroup_manager: f.engine.cgroup_manager.zip(cgroup_manager_file),
        cdi_spec_dirs: f.engine.cdi_spec_dirs,
        default_sysctls: c.default_sysctls.unwrap_or_default(),
        dns_servers: c.dns_servers.unwrap_or_default(),
        dns_searches: c.dns_searches.unwrap_or_default(),
        dns_options: c.dns_options.unwrap_or_default(),
        base_hosts_file: c.base_hosts_file,
        env: c.env,
        tz: c.tz,
        init: c.init,
        shm_size: c.shm_size,
        containers: c.rest,
        stop_timeout: f.engine.stop_timeout,
        volume_path: f.engine.volume_path,
        pull_policy: f.engine.pull_policy,
        events_logfile_max_size: f.engine.events_logfile_max_size.map(|v| match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            // Any other type was refused with the file (`File`'s types).
            _ => String::new(),
        }),
        ignored,
        unsupported_values,
    }
}

fn read_bounded(path: &Path) -> std::io::Result<Option<String>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    f.take(MAX_FILE_SIZE + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_SIZE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_SIZE} bytes"
        )));
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_override_the_keys_they_set() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys.conf");
        let user = dir.path().join("user.conf");
        std::fs::write(
            &sys,
            "[engine]\nruntime = \"crun\"\n[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n",
        )
        .unwrap();
        std::fs::write(
            &user,
            "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nother = 1\n",
        )
        .unwrap();
        let conf = load(&[sys, user.clone(), dir.path().join("missing.conf")]);
        assert_eq!(
            conf.cgroup_manager,
            Some(("cgroupfs".to_owned(), user.clone()))
        );
        assert_eq!(conf.runtime.as_deref(), Some("runc"));
        assert_eq!(
            conf.default_rootless_network_cmd.as_deref(),
            Some("slirp4netns")
        );
        assert_eq!(
            conf.ignored,
            vec![format!("[engine] other ({})", user.display())]
        );
    }

    #[test]
    fn containers_keys_and_unsupported_ones() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.conf");
        std::fs::write(
            &f,
            "[containers]\ndefault_capabilities = [\"CHOWN\"]\n\
             default_sysctls = [\"net.ipv4.ping_group_range=0 0\"]\ndns_servers = [\"192.0.2.1\"]\npids_limit = 5\n\
             log_driver = \"journald\"\nkeyring = false\n[secrets]\n[secrets.opts]\n[engine.runtimes]\nx = [\"/x\"]\n",
        )
        .unwrap();
        let conf = load(std::slice::from_ref(&f));
        assert_eq!(conf.default_sysctls, ["net.ipv4.ping_group_range=0 0"]);
        assert_eq!(conf.dns_servers, ["192.0.2.1"]);
        assert_eq!(conf.containers.pids_limit, Some(5));
        assert_eq!(
            conf.containers.default_capabilities.as_deref(),
            Some(&["CHOWN".to_owned()][..])
        );
        let shown = |k: &str| format!("{k} ({})", f.display());
        assert_eq!(
            conf.ignored,
            [shown("[containers] keyring"), shown("[engine] runtimes")]
        );
        assert_eq!(
            conf.unsupported_values.len(),
            1,
            "{:?}",
            conf.unsupported_values
        );
        assert!(conf.unsupported_values[0].starts_with("[containers] log_driver = \"journald\""));
    }

    #[test]
    fn a_later_file_replaces_keys_not_sections() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.conf"), dir.path().join("b.conf"));
        std::fs::write(&a, "[containers]\npids_limit = 5\nread_only = true\n").unwrap();
        std::fs::write(&b, "[containers]\npids_limit = 7\n").unwrap();
        let conf = load(&[a, b]);
        assert_eq!(conf.containers.pids_limit, Some(7));
        assert_eq!(conf.containers.read_only, Some(true));
    }

    #[test]
    fn malformed_and_oversized_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.conf");
        std::fs::write(&bad, "[engine\nruntime=").unwrap();
        let big = dir.path().join("big.conf");
        std::fs::write(&big, "#".repeat(MAX_FILE_SIZE as usize + 10)).unwrap();
        assert_eq!(load(&[bad, big]), ContainersConf::default());
    }

    #[test]
    fn containers_conf_replaces_every_other_file() {
        let only = Path::new("/x/only.conf");
        assert_eq!(
            files(Some(only), Path::new("/h/.config"), false),
            vec![only.to_path_buf()]
        );
        let all = files(None, Path::new("/h/.config"), false);
        assert_eq!(
            all.last().unwrap(),
            Path::new("/h/.config/containers/containers.conf")
        );
        assert_eq!(files(None, Path::new("/h/.config"), true).len(), 2);
    }
}
