//! containers.conf, as containers.conf(5) defines it, for the keys hutch
//! honours: `[engine] runtime`, `[engine] cgroup_manager`, `[engine]
//! cdi_spec_dirs`, `[network] default_rootless_network_cmd`, and
//! `[containers] default_sysctls`, `dns_servers`, `dns_searches`,
//! `dns_options`, `base_hosts_file`, `env`, `tz`, `init`, `shm_size`; `default_capabilities` is accepted where it is hutch's own
//! default list. Every other key a file sets is named in one warning when
//! the configuration is first used (Podman's keys are many; none is
//! ignored silently).
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
    /// `[section] key (file)` of each key set that hutch does not act on.
    pub ignored: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    engine: Engine,
    #[serde(default)]
    network: Network,
    #[serde(default)]
    containers: Containers,
}

#[derive(Debug, Default, Deserialize)]
struct Containers {
    default_sysctls: Option<Vec<String>>,
    dns_servers: Option<Vec<String>>,
    dns_searches: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    default_capabilities: Option<Vec<String>>,
    base_hosts_file: Option<String>,
    env: Option<Vec<String>>,
    tz: Option<String>,
    init: Option<bool>,
    shm_size: Option<String>,
}

/// The keys acted on, as `section.key`.
const HONOURED: [&str; 14] = [
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
];

/// The keys `text` sets that hutch does not act on: tables are walked one
/// level down (`[engine.runtimes]` is one key of `[engine]`); a
/// `default_capabilities` equal to hutch's default list counts as acted on.
fn unsupported(text: &str, default_caps: bool) -> Vec<String> {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (section, v) in &table {
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
            let ok = HONOURED.contains(&name.as_str())
                && (name != "containers.default_capabilities" || default_caps);
            if !ok {
                out.push(format!("[{section}] {key}"));
            }
        }
    }
    out
}

/// Whether a `default_capabilities` list is hutch's (Podman's) default.
fn is_default_caps(list: &[String]) -> bool {
    let mut got: Vec<String> = list
        .iter()
        .map(|c| {
            let c = c.trim().to_ascii_uppercase();
            if c.starts_with("CAP_") {
                c
            } else {
                format!("CAP_{c}")
            }
        })
        .collect();
    got.sort();
    got.dedup();
    let mut want: Vec<String> = crate::runtime::spec::caps::DEFAULT_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    want.sort();
    got == want
}

#[derive(Debug, Default, Deserialize)]
struct Engine {
    runtime: Option<String>,
    cgroup_manager: Option<String>,
    cdi_spec_dirs: Option<Vec<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
struct Network {
    default_rootless_network_cmd: Option<String>,
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

/// Reads and merges `files`; missing files are skipped silently, unreadable
/// or malformed ones with a warning.
pub fn load(files: &[PathBuf]) -> ContainersConf {
    let mut conf = ContainersConf::default();
    for path in files {
        let text = match read_bounded(path) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("ignoring {}: {e}", path.display());
                continue;
            }
        };
        match parse(&text) {
            Ok(f) => {
                if f.engine.runtime.is_some() {
                    conf.runtime = f.engine.runtime;
                }
                if f.engine.cdi_spec_dirs.is_some() {
                    conf.cdi_spec_dirs = f.engine.cdi_spec_dirs;
                }
                if let Some(m) = f.engine.cgroup_manager {
                    conf.cgroup_manager = Some((m, path.clone()));
                }
                if f.network.default_rootless_network_cmd.is_some() {
                    conf.default_rootless_network_cmd = f.network.default_rootless_network_cmd;
                }
                let c = f.containers;
                if c.base_hosts_file.is_some() {
                    conf.base_hosts_file = c.base_hosts_file;
                }
                if c.env.is_some() {
                    conf.env = c.env;
                }
                if c.tz.is_some() {
                    conf.tz = c.tz;
                }
                if c.init.is_some() {
                    conf.init = c.init;
                }
                if c.shm_size.is_some() {
                    conf.shm_size = c.shm_size;
                }
                let caps_ok = c
                    .default_capabilities
                    .as_deref()
                    .is_none_or(is_default_caps);
                for (from, to) in [
                    (c.default_sysctls, &mut conf.default_sysctls),
                    (c.dns_servers, &mut conf.dns_servers),
                    (c.dns_searches, &mut conf.dns_searches),
                    (c.dns_options, &mut conf.dns_options),
                ] {
                    if let Some(v) = from {
                        *to = v;
                    }
                }
                conf.ignored.extend(
                    unsupported(&text, caps_ok)
                        .into_iter()
                        .map(|k| format!("{k} ({})", path.display())),
                );
            }
            Err(e) => tracing::warn!("ignoring {}: {e}", path.display()),
        }
    }
    conf
}

fn parse(text: &str) -> Result<File, toml::de::Error> {
    toml::from_str(text)
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
            "[containers]\ndefault_capabilities = [\"CHOWN\", \"DAC_OVERRIDE\", \"FOWNER\", \"FSETID\", \"KILL\", \"NET_BIND_SERVICE\", \"SETFCAP\", \"SETGID\", \"SETPCAP\", \"SETUID\", \"SYS_CHROOT\"]\n\
             default_sysctls = [\"net.ipv4.ping_group_range=0 0\"]\ndns_servers = [\"192.0.2.1\"]\npids_limit = 5\n[secrets]\n[secrets.opts]\n[engine.runtimes]\nx = [\"/x\"]\n",
        )
        .unwrap();
        let conf = load(std::slice::from_ref(&f));
        assert_eq!(conf.default_sysctls, ["net.ipv4.ping_group_range=0 0"]);
        assert_eq!(conf.dns_servers, ["192.0.2.1"]);
        let shown = |k: &str| format!("{k} ({})", f.display());
        assert_eq!(
            conf.ignored,
            [shown("[containers] pids_limit"), shown("[engine] runtimes")]
        );
        std::fs::write(&f, "[containers]\ndefault_capabilities = [\"CHOWN\"]\n").unwrap();
        assert_eq!(
            load(std::slice::from_ref(&f)).ignored,
            [shown("[containers] default_capabilities")]
        );
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
