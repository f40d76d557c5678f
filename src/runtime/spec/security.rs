//! `--security-opt` parsing and the masked and read-only /proc and /sys
//! paths.
//!
//! The path lists are containers-common's (`pkg/config/default.go`
//! `DefaultMaskedPaths` and `DefaultReadOnlyPaths`); which of them apply is
//! Podman's `BlockAccessToKernelFilesystems`: none when privileged, the
//! defaults minus whatever `unmask=` matches (Go `filepath.Match` globs,
//! "ALL" unmasks everything) otherwise, then the user's `mask=` paths, except
//! that rootless containers sharing the host's pid namespace stop before the
//! user's paths, as Podman does.

use std::path::PathBuf;

/// containers-common `DefaultMaskedPaths`, before the host glob
/// /sys/devices/system/cpu/cpu*/thermal_throttle that the caller expands.
pub const DEFAULT_MASKED_PATHS: [&str; 12] = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/proc/interrupts",
];

/// The glob containers-common expands on the host and masks as well.
pub const MASKED_PATH_GLOB: &str = "/sys/devices/system/cpu/cpu*/thermal_throttle";

/// containers-common `DefaultReadOnlyPaths`.
pub const DEFAULT_READONLY_PATHS: [&str; 6] = [
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompChoice {
    /// The host's profile, or the built-in one.
    #[default]
    Default,
    Unconfined,
    Path(PathBuf),
}

/// The parsed `--security-opt` list (parsed by `spec::parse::security`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SecurityOpts {
    pub seccomp: SeccompChoice,
    pub no_new_privileges: bool,
    pub label_disable: bool,
    pub mask: Vec<String>,
    pub unmask: Vec<String>,
    pub apparmor: Option<String>,
    pub proc_opts: Option<Vec<String>>,
}

/// Podman's `shouldMask`: false when any unmask entry is "all" or a glob
/// matching the path.
fn should_mask(path: &str, unmask: &[String]) -> bool {
    !unmask
        .iter()
        .any(|u| u.eq_ignore_ascii_case("all") || glob_match(u, path))
}

/// (masked, read-only) path lists.
pub fn kernel_paths(
    privileged: bool,
    rootless_with_host_pid: bool,
    opts: &SecurityOpts,
    extra_masked: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut masked = Vec::new();
    let mut readonly = Vec::new();
    if !privileged {
        let defaults = DEFAULT_MASKED_PATHS
            .iter()
            .map(|p| p.to_string())
            .chain(extra_masked.iter().cloned());
        masked.extend(defaults.filter(|p| should_mask(p, &opts.unmask)));
        readonly.extend(
            DEFAULT_READONLY_PATHS
                .iter()
                .filter(|p| should_mask(p, &opts.unmask))
                .map(|p| p.to_string()),
        );
        if rootless_with_host_pid {
            return (masked, readonly);
        }
    }
    for p in &opts.mask {
        if !masked.contains(p) {
            masked.push(p.clone());
        }
    }
    (masked, readonly)
}

/// Go's `path/filepath.Match`: `*` is any run of non-'/' bytes, `?` one
/// non-'/' byte, `[...]` a class with ranges and `^` negation, `\` escapes.
/// A malformed pattern matches nothing (Podman logs and moves on).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
        // p starts just after '['; returns (matched, bytes consumed incl. ']').
        let mut i = 0;
        let negate = p.first() == Some(&b'^');
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        loop {
            let &b = p.get(i)?;
            if b == b']' && !first {
                return Some((matched != negate, i + 1));
            }
            first = false;
            let lo = if b == b'\\' {
                i += 1;
                *p.get(i)?
            } else {
                b
            };
            i += 1;
            let hi = if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|&x| x != b']') {
                i += 1;
                let h = if p[i] == b'\\' {
                    i += 1;
                    *p.get(i)?
                } else {
                    p[i]
                };
                i += 1;
                h
            } else {
                lo
            };
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some(b'*') => {
                let rest = &p[1..];
                let mut i = 0;
                loop {
                    if go(rest, &n[i..]) {
                        return true;
                    }
                    if i >= n.len() || n[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some(b'?') => !n.is_empty() && n[0] != b'/' && go(&p[1..], &n[1..]),
            Some(b'[') => match (n.first(), class(&p[1..], n.first().copied().unwrap_or(0))) {
                (Some(&c), Some((true, used))) if c != b'/' => go(&p[1 + used..], &n[1..]),
                _ => false,
            },
            Some(b'\\') => p.len() > 1 && n.first() == Some(&p[1]) && go(&p[2..], &n[1..]),
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn defaults_masked_unless_privileged() {
        let o = SecurityOpts::default();
        let (masked, ro) = kernel_paths(
            false,
            false,
            &o,
            &s(&["/sys/devices/system/cpu/cpu0/thermal_throttle"]),
        );
        assert!(masked.contains(&"/proc/kcore".to_string()));
        assert!(masked.contains(&"/sys/devices/system/cpu/cpu0/thermal_throttle".to_string()));
        assert_eq!(ro, s(&DEFAULT_READONLY_PATHS));
        let (masked, ro) = kernel_paths(true, false, &o, &[]);
        assert!(masked.is_empty() && ro.is_empty());
    }

    #[test]
    fn unmask_and_mask_adjust() {
        let o = SecurityOpts {
            unmask: s(&["/proc/k*", "/proc/sys"]),
            mask: s(&["/opt/secret"]),
            ..SecurityOpts::default()
        };
        let (masked, ro) = kernel_paths(false, false, &o, &[]);
        assert!(!masked.contains(&"/proc/kcore".to_string()));
        assert!(!masked.contains(&"/proc/keys".to_string()));
        assert!(masked.contains(&"/proc/acpi".to_string()));
        assert!(!ro.contains(&"/proc/sys".to_string()));
        assert!(masked.contains(&"/opt/secret".to_string()));

        let all = SecurityOpts {
            unmask: s(&["ALL"]),
            ..SecurityOpts::default()
        };
        let (masked, ro) = kernel_paths(false, false, &all, &[]);
        assert!(masked.is_empty() && ro.is_empty());

        // Rootless with --pid=host: Podman keeps the defaults but skips the
        // user's own masks.
        let (masked, _) = kernel_paths(false, true, &o, &[]);
        assert!(!masked.contains(&"/opt/secret".to_string()));
        // Privileged still takes the user's masks.
        let (masked, _) = kernel_paths(true, false, &o, &[]);
        assert_eq!(masked, s(&["/opt/secret"]));
    }

    #[test]
    fn glob_like_go() {
        assert!(glob_match("/proc/k*", "/proc/kcore"));
        assert!(!glob_match("/proc/*", "/proc/a/b"));
        assert!(glob_match(
            "/sys/devices/system/cpu/cpu*/thermal_throttle",
            "/sys/devices/system/cpu/cpu12/thermal_throttle"
        ));
        assert!(glob_match("/proc/?core", "/proc/kcore"));
        assert!(glob_match("/proc/[a-k]core", "/proc/kcore"));
        assert!(!glob_match("/proc/[^k]core", "/proc/kcore"));
        assert!(glob_match("/proc/kcore", "/proc/kcore"));
        assert!(!glob_match("/proc/[", "/proc/k"));
    }
}
