//! containers.conf `[engine] cgroup_manager`, read the way Podman layers
//! its files: `$CONTAINERS_CONF` alone when set; else
//! /usr/share/containers/containers.conf, then /etc/containers/containers.conf,
//! then (rootless) `$XDG_CONFIG_HOME/containers/containers.conf`, a later
//! file overriding an earlier one.

use std::path::{Path, PathBuf};

/// The files consulted, lowest precedence first.
fn files(rootless: bool) -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("CONTAINERS_CONF").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = vec![
        PathBuf::from("/usr/share/containers/containers.conf"),
        PathBuf::from("/etc/containers/containers.conf"),
    ];
    if rootless {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")));
        if let Some(c) = config {
            out.push(c.join("containers/containers.conf"));
        }
    }
    out
}

/// `cgroup_manager` from one file's text; `None` when unset or unreadable
/// (a broken file is the config loader's to report, not this lookup's).
pub fn manager_in(text: &str) -> Option<String> {
    let v: toml::Table = toml::from_str(text).ok()?;
    v.get("engine")?
        .get("cgroup_manager")?
        .as_str()
        .map(str::to_owned)
}

/// The configured manager and the file that set it.
pub fn configured_manager(rootless: bool) -> Option<(String, PathBuf)> {
    files(rootless).into_iter().rev().find_map(|path| {
        let text = std::fs::read_to_string(&path).ok()?;
        manager_in(&text).map(|m| (m, path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_engine_cgroup_manager() {
        assert_eq!(
            manager_in("[engine]\ncgroup_manager = \"cgroupfs\"\n").as_deref(),
            Some("cgroupfs")
        );
        assert_eq!(manager_in("[containers]\npids_limit = 10\n"), None);
        assert_eq!(manager_in("not toml ["), None);
    }
}
