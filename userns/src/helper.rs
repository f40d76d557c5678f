//! The setuid helpers `newuidmap` and `newgidmap`: finding them and
//! checking that they can do their job (setuid root, or file capabilities as
//! Fedora ships them), so a broken install is reported with the fix instead
//! of as a cryptic "write to uid_map failed".

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why `newuidmap`/`newgidmap` cannot do their job.
#[derive(Debug, thiserror::Error)]
pub enum HelperProblem {
    #[error(
        "{} not found; install the uidmap package \
         (apt-get install uidmap / dnf install shadow-utils)",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error(
        "{} is not an executable file; reinstall the uidmap package \
         (apt-get install --reinstall uidmap / dnf reinstall shadow-utils)",
        path.display()
    )]
    NotExecutable { path: PathBuf },
    #[error(
        "{path} is neither setuid root nor carrying file capabilities, so it cannot \
         write id maps; fix: sudo chmod u+s {path} (owned by root) or \
         sudo setcap {cap}+ep {path}",
        path = path.display(),
        cap = needed_cap(path)
    )]
    NotPrivileged { path: PathBuf },
    #[error("cannot inspect {}", path.display())]
    Inspect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn needed_cap(path: &Path) -> &'static str {
    let is_gid = path
        .file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| name.contains("gid"));
    if is_gid { "cap_setgid" } else { "cap_setuid" }
}

/// Checks that the helper at `path` exists, is executable and can gain the
/// privilege it needs, either through setuid root or through file
/// capabilities (Fedora ships `cap_setuid=ep` instead of setuid).
pub fn check_helper(path: &Path) -> Result<(), HelperProblem> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(HelperProblem::Missing {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(HelperProblem::Inspect {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let facts = HelperFacts {
        is_file: meta.is_file(),
        mode: meta.permissions().mode(),
        owner: meta.uid(),
    };
    // The xattr is only read when setuid does not already settle it, so a
    // filesystem without xattr support does not fail a setuid helper.
    let verdict = judge_helper(facts, || has_file_caps(path));
    verdict.map_err(|kind| match kind {
        Verdict::NotExecutable => HelperProblem::NotExecutable {
            path: path.to_path_buf(),
        },
        Verdict::NotPrivileged => HelperProblem::NotPrivileged {
            path: path.to_path_buf(),
        },
        Verdict::Inspect(source) => HelperProblem::Inspect {
            path: path.to_path_buf(),
            source,
        },
    })
}

#[derive(Debug, Clone, Copy)]
struct HelperFacts {
    is_file: bool,
    mode: u32,
    owner: u32,
}

#[derive(Debug)]
enum Verdict {
    NotExecutable,
    NotPrivileged,
    Inspect(io::Error),
}

/// The decision apart from the filesystem, so setuid-root and capability
/// cases can be tested without privileges.
fn judge_helper(
    facts: HelperFacts,
    has_caps: impl FnOnce() -> io::Result<bool>,
) -> Result<(), Verdict> {
    if !facts.is_file || facts.mode & 0o111 == 0 {
        return Err(Verdict::NotExecutable);
    }
    if facts.mode & libc::S_ISUID != 0 && facts.owner == 0 {
        return Ok(());
    }
    match has_caps() {
        Ok(true) => Ok(()),
        Ok(false) => Err(Verdict::NotPrivileged),
        Err(e) => Err(Verdict::Inspect(e)),
    }
}

fn has_file_caps(path: &Path) -> io::Result<bool> {
    use rustix::io::Errno;
    match rustix::fs::getxattr_query(path, "security.capability") {
        Ok(len) => Ok(len > 0),
        Err(e) if e == Errno::NODATA || e == Errno::NOTSUP => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Finds a helper such as `newuidmap` in `PATH`, then in the usual system
/// directories, because sudo and systemd units often run with a `PATH` that
/// lacks /usr/sbin.
pub fn find_helper(name: &str) -> Option<PathBuf> {
    let fallbacks = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].map(Path::new);
    find_helper_in(name, std::env::var_os("PATH").as_deref(), &fallbacks)
}

fn find_helper_in(name: &str, path_var: Option<&OsStr>, fallbacks: &[&Path]) -> Option<PathBuf> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let from_env = path_var.into_iter().flat_map(std::env::split_paths);
    // Relative and empty PATH entries resolve against the current directory,
    // which would let whatever directory hutch runs in supply the helper.
    from_env
        .filter(|dir| dir.is_absolute())
        .chain(fallbacks.iter().map(|dir| dir.to_path_buf()))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a file with `mode` into `dir`.
    fn file(dir: &Path, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn facts(mode: u32, owner: u32) -> HelperFacts {
        HelperFacts {
            is_file: true,
            mode,
            owner,
        }
    }

    #[test]
    fn judge_helper_accepts_setuid_root_or_file_caps() {
        let no_caps = || Ok(false);
        assert!(judge_helper(facts(0o4755, 0), || panic!("xattr read needlessly")).is_ok());
        assert!(judge_helper(facts(0o755, 0), || Ok(true)).is_ok());
        assert!(judge_helper(facts(0o755, 1000), || Ok(true)).is_ok());
        assert!(matches!(
            judge_helper(facts(0o755, 0), no_caps),
            Err(Verdict::NotPrivileged)
        ));
        // Setuid to a non-root owner grants nothing useful.
        assert!(matches!(
            judge_helper(facts(0o4755, 1000), no_caps),
            Err(Verdict::NotPrivileged)
        ));
        assert!(matches!(
            judge_helper(facts(0o4644, 0), no_caps),
            Err(Verdict::NotExecutable)
        ));
        let dir = HelperFacts {
            is_file: false,
            ..facts(0o4755, 0)
        };
        assert!(matches!(
            judge_helper(dir, no_caps),
            Err(Verdict::NotExecutable)
        ));
        assert!(matches!(
            judge_helper(facts(0o755, 0), || Err(io::Error::from_raw_os_error(
                libc::EACCES
            ))),
            Err(Verdict::Inspect(_))
        ));
    }

    #[test]
    fn check_helper_reports_missing_not_executable_and_unprivileged() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("newuidmap");
        let err = check_helper(&missing).unwrap_err();
        assert!(matches!(err, HelperProblem::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("apt-get install uidmap"), "{err}");

        let plain = file(dir.path(), "newuidmap", b"#!/bin/sh\n", 0o644);
        let err = check_helper(&plain).unwrap_err();
        assert!(
            matches!(err, HelperProblem::NotExecutable { .. }),
            "{err:?}"
        );

        let exec = file(dir.path(), "newgidmap", b"#!/bin/sh\n", 0o755);
        let err = check_helper(&exec).unwrap_err();
        assert!(
            matches!(err, HelperProblem::NotPrivileged { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("chmod u+s {}", exec.display())),
            "{text}"
        );
        assert!(
            text.contains(&format!("setcap cap_setgid+ep {}", exec.display())),
            "{text}"
        );
        assert_eq!(needed_cap(Path::new("/usr/bin/newuidmap")), "cap_setuid");

        let err = check_helper(dir.path()).unwrap_err();
        assert!(
            matches!(err, HelperProblem::NotExecutable { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn find_helper_searches_path_then_fallbacks() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let fallback = tempfile::tempdir().unwrap();
        let in_second = file(second.path(), "newuidmap", b"", 0o755);
        let in_fallback = file(fallback.path(), "newgidmap", b"", 0o755);
        let path_var = std::env::join_paths([&first.path(), &second.path()]).unwrap();
        let fallbacks = [fallback.path()];

        assert_eq!(
            find_helper_in("newuidmap", Some(&path_var), &fallbacks),
            Some(in_second.clone())
        );
        assert_eq!(
            find_helper_in("newgidmap", Some(&path_var), &fallbacks),
            Some(in_fallback.clone())
        );
        assert_eq!(
            find_helper_in("newgidmap", None, &fallbacks),
            Some(in_fallback)
        );
        assert_eq!(find_helper_in("nothere", Some(&path_var), &fallbacks), None);
        assert_eq!(find_helper_in("", Some(&path_var), &fallbacks), None);
        assert_eq!(
            find_helper_in("../newuidmap", Some(&path_var), &fallbacks),
            None
        );
        // A directory of the right name is not a helper.
        fs::create_dir(first.path().join("newuidmap")).unwrap();
        assert_eq!(
            find_helper_in("newuidmap", Some(&path_var), &fallbacks),
            Some(in_second)
        );
    }

    #[test]
    fn find_helper_ignores_relative_path_entries() {
        assert_eq!(
            find_helper_in("Cargo.toml", Some(OsStr::new(":.:src")), &[]),
            None
        );
    }
}
