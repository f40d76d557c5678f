//! `stat` of a path in a container, as Docker's archive routes report it
//! (`X-Docker-Container-Path-Stat`, what `docker cp` looks at before it
//! copies): the name as asked, size, Go's `os.FileMode` bits, mtime and,
//! for a symlink, where it leads. Parent directories are resolved inside
//! the container's root (their symlinks followed there); the last
//! component is not followed.

use std::os::fd::AsFd;

use hutch_storage::Store;
use rustix::fs::FileType;

use super::inroot::{self, file_type};
use super::rootfs::MountedRoot;
use crate::engine::state::{Container, State};
use crate::engine::{Error, Result, ResultExt};

/// What Docker's stat holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode`: permission bits and Go's type bits.
    pub mode: u32,
    pub mtime_ns: i64,
    /// The resolved target of a symlink (in the container), else empty.
    pub link_target: String,
}

/// Go's `os.FileMode` bits for a `st_mode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut m = st_mode & 0o777;
    m |= match FileType::from_raw_mode(st_mode) {
        FileType::Directory => DIR,
        FileType::Symlink => SYMLINK,
        FileType::BlockDevice => DEVICE,
        FileType::CharacterDevice => DEVICE | CHAR,
        FileType::Fifo => PIPE,
        FileType::Socket => SOCKET,
        _ => 0,
    };
    for (bit, go) in [
        (libc::S_ISUID, SETUID),
        (libc::S_ISGID, SETGID),
        (libc::S_ISVTX, STICKY),
    ] {
        if st_mode & bit != 0 {
            m |= go;
        }
    }
    m
}

/// `path` in container `c` (running or not): not found when it is not
/// there.
pub fn stat(store: &Store, state: &State, c: &Container, path: &str) -> Result<PathStat> {
    let missing = || {
        Error::not_found(format!(
            "Could not find the file {path} in container {}",
            c.name
        ))
    };
    let root = MountedRoot::mount(store, state, c)?;
    let parts = inroot::split(path.as_bytes());
    let (parent, leaf) = match parts.split_last() {
        // `.`/`..` as the last component: its resolved directory.
        Some((leaf, parent)) if leaf.as_slice() != b".." => (parent.to_vec(), Some(leaf.clone())),
        _ => (parts.clone(), None),
    };
    let resolved = |p: &[Vec<u8>]| {
        let joined: Vec<u8> = p.join(&b'/');
        inroot::resolve(root.fd.as_fd(), &joined)
    };
    let dir = match resolved(&parent) {
        Ok(r) if r.exists => r,
        Ok(_) => return Err(missing()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Err(missing());
        }
        Err(e) => return Err(e).with_context(|| format!("resolving {path} in {}", c.name)),
    };
    let (st, name) = match &leaf {
        Some(l) => {
            let fd = inroot::open_dir(root.fd.as_fd(), &dir.parts)
                .with_context(|| format!("opening {path} in {}", c.name))?;
            let st = inroot::lstat_at(fd.as_fd(), l)?.ok_or_else(missing)?;
            (st, String::from_utf8_lossy(l).into_owned())
        }
        None => {
            let fd = inroot::open_dir(root.fd.as_fd(), &dir.parts)
                .with_context(|| format!("opening {path} in {}", c.name))?;
            let st = rustix::fs::fstat(&fd).map_err(std::io::Error::from)?;
            let name = dir
                .leaf()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .unwrap_or_else(|| "/".to_owned());
            (st, name)
        }
    };
    let link_target = if file_type(&st) == FileType::Symlink {
        resolved(&parts).map(|r| r.display()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(PathStat {
        name,
        size: st.st_size,
        mode: go_file_mode(st.st_mode),
        mtime_ns: st.st_mtime.saturating_mul(1_000_000_000) + st.st_mtime_nsec as i64,
        link_target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFDIR | libc::S_ISVTX | 0o777),
            (1 << 31) | (1 << 20) | 0o777
        );
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
    }
}
