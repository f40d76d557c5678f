//! The external programs hutch drives (OCI runtimes, network helpers,
//! fuse-overlayfs): where they are and which version they say they are.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde::Serialize;

/// One program as `hutch info` reports it (Podman's keys).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Tool {
    pub name: String,
    pub executable: String,
    pub version: String,
    pub package: String,
}

/// Looks `name` up in PATH, then in the sbin directories that a user's PATH
/// often lacks.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            [
                "/usr/local/bin",
                "/usr/bin",
                "/usr/sbin",
                "/usr/libexec/podman",
                "/bin",
                "/sbin",
            ]
            .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok() && p.is_file()
}

/// The version word from `--version` output: the token after "version" on
/// the line that starts with the program's own name ("crun version 1.8.1",
/// "fuse-overlayfs: version 1.10"), else on the first line that has one
/// ("tini version 0.1.7" from catatonit). A line of its own that gives no
/// version ("pasta unknown version") means unknown: later lines are licence
/// text, not versions.
pub fn parse_version(name: &str, output: &str) -> Option<String> {
    let after_version = |line: &str| -> Option<String> {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w.eq_ignore_ascii_case("version") {
                return words.next().map(|v| v.trim_end_matches(',').to_owned());
            }
        }
        None
    };
    let own = output
        .lines()
        .find(|l| l.split_whitespace().next().map(|w| w.trim_end_matches(':')) == Some(name));
    match own {
        Some(line) => after_version(line),
        None => output.lines().find_map(after_version),
    }
}

/// Probes several programs at once: every `--version` runs in parallel, so
/// `info` costs the slowest probe rather than their sum.
pub fn probe(names: &[&str]) -> Vec<Option<Tool>> {
    let started: Vec<Option<(String, PathBuf, Option<Child>)>> = names
        .iter()
        .map(|name| {
            let path = find(name)?;
            let child = Command::new(&path)
                .arg("--version")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .ok();
            Some((name.to_string(), path, child))
        })
        .collect();
    started
        .into_iter()
        .map(|entry| {
            let (name, path, child) = entry?;
            let text = child
                .and_then(|c| c.wait_with_output().ok())
                .map(|o| {
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    )
                })
                .unwrap_or_default();
            let version = parse_version(&name, &text).unwrap_or_else(|| "unknown".to_owned());
            let package = if version == "unknown" {
                package_of(&path)
            } else {
                String::new()
            };
            Some(Tool {
                name,
                executable: path.display().to_string(),
                version,
                package,
            })
        })
        .collect()
}

/// The distribution package that owns `path`, with its version, for programs
/// that do not know their own (Debian's pasta says "unknown version").
fn package_of(path: &Path) -> String {
    let Ok(out) = Command::new("dpkg-query")
        .arg("-S")
        .arg(path)
        .stderr(Stdio::null())
        .output()
    else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(pkg) = text
        .lines()
        .next()
        .and_then(|l| l.split(':').next())
        .map(str::trim)
    else {
        return String::new();
    };
    match Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", pkg])
        .stderr(Stdio::null())
        .output()
    {
        Ok(v) if v.status.success() => {
            format!("{pkg}_{}", String::from_utf8_lossy(&v.stdout).trim())
        }
        _ => pkg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_real_outputs() {
        assert_eq!(
            parse_version("crun", "crun version 1.8.1\ncommit: f8a0\n").as_deref(),
            Some("1.8.1")
        );
        assert_eq!(
            parse_version("fuse-overlayfs", "unknown argument ignored: lazytime\nfusermount3 version: 3.14.0\nfuse-overlayfs: version 1.10\n").as_deref(),
            Some("1.10")
        );
        assert_eq!(
            parse_version("slirp4netns", "slirp4netns version 1.2.0\n").as_deref(),
            Some("1.2.0")
        );
        assert_eq!(
            parse_version(
                "pasta",
                "pasta unknown version\nCopyright Red Hat\nGNU Affero GPL version 3\n"
            ),
            None
        );
        assert_eq!(parse_version("crun", ""), None);
    }

    #[test]
    fn missing_program_is_none() {
        assert_eq!(probe(&["hutch-no-such-program"]), vec![None]);
    }
}
