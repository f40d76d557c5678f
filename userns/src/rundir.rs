//! Choosing and checking the per-user runtime directory.
//!
//! The runtime directory holds the pause pid file, locks and (later) sockets,
//! so anyone who can write there can make hutch join a namespace or talk to a
//! socket of their choosing. It must be a real directory, owned by the user,
//! mode 0700. `$XDG_RUNTIME_DIR` is used when it is usable; under su, cron or
//! Slurm jobs it is often unset or belongs to another user, and then
//! `/tmp/hutch-run-$UID` takes its place (Podman issues #18223, #10039).

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a runtime directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error(
        "runtime directory {path} is owned by uid {owner}, not by you (uid {uid}): refusing to use it, \
         since its owner could plant pid files or sockets there; remove it, or set XDG_RUNTIME_DIR \
         to a directory you own"
    )]
    NotOwned { path: PathBuf, owner: u32, uid: u32 },
    #[error(
        "runtime directory {path} is not a directory (a symlink or a file stands there): refusing to use it; remove it"
    )]
    NotADirectory { path: PathBuf },
    #[error("creating runtime directory {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("checking runtime directory {path}: {source}")]
    Inspect { path: PathBuf, source: io::Error },
}

/// Where the runtime directory for `uid` lives, and whether it came from
/// `$XDG_RUNTIME_DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    pub path: PathBuf,
    pub from_xdg: bool,
}

/// Picks the runtime directory without touching the file system beyond a
/// `stat` of `$XDG_RUNTIME_DIR`. `owner` is the user's uid as this process
/// sees file owners: the host uid outside the namespace, 0 inside it (where
/// the user's files appear owned by container root).
pub fn locate(uid: u32, owner: u32, rootful: bool) -> RunDir {
    if rootful {
        return RunDir {
            path: PathBuf::from("/run/hutch"),
            from_xdg: false,
        };
    }
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        let xdg = PathBuf::from(xdg);
        // An XDG_RUNTIME_DIR left over from another user's session (su
        // without -l) is the common case to step around, not an error.
        if let Ok(meta) = fs::metadata(&xdg)
            && meta.is_dir()
            && meta.uid() == owner
        {
            return RunDir {
                path: xdg.join("hutch"),
                from_xdg: true,
            };
        }
    }
    RunDir {
        path: PathBuf::from(format!("/tmp/hutch-run-{uid}")),
        from_xdg: false,
    }
}

/// Creates the directory (0700) if needed and verifies that it is a real
/// directory owned by `uid`; a directory of ours with a looser mode is
/// tightened.
pub fn ensure(path: &Path, uid: u32) -> Result<(), RunDirError> {
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(RunDirError::Create {
                path: path.to_owned(),
                source,
            });
        }
    }
    verify(path, uid)
}

/// Checks an existing runtime directory without creating it.
pub fn verify(path: &Path, uid: u32) -> Result<(), RunDirError> {
    // lstat: in sticky /tmp, a symlink planted by another user must not be
    // followed into a directory of their choosing.
    let meta = fs::symlink_metadata(path).map_err(|source| RunDirError::Inspect {
        path: path.to_owned(),
        source,
    })?;
    if !meta.file_type().is_dir() {
        return Err(RunDirError::NotADirectory {
            path: path.to_owned(),
        });
    }
    if meta.uid() != uid {
        return Err(RunDirError::NotOwned {
            path: path.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(|source| {
            RunDirError::Create {
                path: path.to_owned(),
                source,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn my_uid() -> u32 {
        rustix::process::getuid().as_raw()
    }

    #[test]
    fn creates_private_directory() {
        let base = std::env::temp_dir().join(format!("hutch-rundir-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        let dir = base.join("hutch");
        ensure(&dir, my_uid()).unwrap();
        let meta = fs::metadata(&dir).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
        // A second call accepts the existing directory.
        ensure(&dir, my_uid()).unwrap();
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn tightens_loose_mode() {
        let base = std::env::temp_dir().join(format!("hutch-rundir-loose-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        verify(&base, my_uid()).unwrap();
        assert_eq!(fs::metadata(&base).unwrap().mode() & 0o777, 0o700);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn refuses_symlink_and_foreign_owner() {
        let base = std::env::temp_dir().join(format!("hutch-rundir-link-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        let link = base.join("link");
        std::os::unix::fs::symlink(&base, &link).unwrap();
        assert!(matches!(
            verify(&link, my_uid()),
            Err(RunDirError::NotADirectory { .. })
        ));
        let err = verify(&base, my_uid().wrapping_add(1)).unwrap_err();
        assert!(matches!(err, RunDirError::NotOwned { .. }));
        assert!(err.to_string().contains("not by you"));
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn rootful_uses_run() {
        assert_eq!(locate(0, 0, true).path, PathBuf::from("/run/hutch"));
    }
}
