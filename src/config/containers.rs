//! containers.conf, as containers.conf(5) defines it, for the keys hutch
//! honours: `[engine] runtime`, `[engine] cgroup_manager`, `[engine]
//! cdi_spec_dirs` and `[network] default_rootless_network_cmd`.
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
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    engine: Engine,
    #[serde(default)]
    network: Network,
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
        assert_eq!(conf.cgroup_manager, Some(("cgroupfs".to_owned(), user)));
        assert_eq!(conf.runtime.as_deref(), Some("runc"));
        assert_eq!(
            conf.default_rootless_network_cmd.as_deref(),
            Some("slirp4netns")
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
