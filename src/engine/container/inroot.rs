//! Paths inside a container's root file system, resolved as the container
//! would see them: a symlink is followed relative to the container's `/`,
//! and `..` stops at it, so `/escape -> /` or `/up -> ../../..` can never
//! lead outside the root (the `cp` escapes of CVE-2019-14271 and friends).
//!
//! Every lookup is made relative to an fd of the root. Directories are
//! opened with `openat2(RESOLVE_IN_ROOT)` (Linux 5.6), which makes the
//! kernel treat the fd as `/` whatever a concurrent writer in a running
//! container swaps in; before 5.6 a walk of `O_NOFOLLOW` opens refuses a
//! symlink where a resolved directory was.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat, openat, openat2, statat};
use rustix::io::Errno;

/// Symlinks followed before giving up, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// A path resolved inside a root: its components with every symlink
/// followed, and whether the last one exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub parts: Vec<Vec<u8>>,
    pub exists: bool,
}

impl Resolved {
    /// `/a/b` as the container shows it.
    pub fn display(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            s.push('/');
            s.push_str(&String::from_utf8_lossy(p));
        }
        if s.is_empty() {
            s.push('/');
        }
        s
    }

    /// The last component; the root has none.
    pub fn leaf(&self) -> Option<&[u8]> {
        self.parts.last().map(Vec::as_slice)
    }
}

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

/// `a/b/c` split, without empty and `.` components.
pub fn split(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
        .collect()
}

/// Opens the directory `parts` (already resolved) under `root` as an
/// `O_PATH` fd that cannot lie outside `root`.
pub fn open_dir(root: BorrowedFd<'_>, parts: &[Vec<u8>]) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let joined = if parts.is_empty() {
        b".".to_vec()
    } else {
        parts.join(&b'/')
    };
    match openat2(
        root,
        os(&joined),
        flags,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOSYS | Errno::PERM) => {}
        Err(e) => return Err(errno(e)),
    }
    // Without openat2 (or where seccomp hides it): one component at a time,
    // refusing symlinks; the parts were resolved, so one now is a race.
    let mut cur = openat(root, ".", flags, Mode::empty()).map_err(errno)?;
    for p in parts {
        if p == b".." {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        cur = openat(&cur, os(p), flags | OFlags::NOFOLLOW, Mode::empty()).map_err(errno)?;
    }
    Ok(cur)
}

/// `lstat` of `name` in `dir`; `None` when nothing is there.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<Stat>> {
    match statat(dir, os(name), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(errno(e)),
    }
}

pub fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// Resolves `path` (absolute or not, it is taken from the container's
/// `/`) under `root`, following every symlink inside the root. A missing
/// last component is not an error (`exists: false`); a missing or
/// non-directory one before it is (ENOENT, ENOTDIR).
pub fn resolve(root: BorrowedFd<'_>, path: &[u8]) -> io::Result<Resolved> {
    let mut pending: std::collections::VecDeque<Vec<u8>> = split(path).into();
    let mut cur: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        if c == b".." {
            cur.pop();
            continue;
        }
        let dir = open_dir(root, &cur)?;
        match lstat_at(dir.as_fd(), &c)? {
            None => {
                if pending.iter().all(|p| p == b".") {
                    cur.push(c);
                    return Ok(Resolved {
                        parts: cur,
                        exists: false,
                    });
                }
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            Some(st) if file_type(&st) == FileType::Symlink => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = rustix::fs::readlinkat(dir.as_fd(), os(&c), Vec::new())
                    .map_err(errno)?
                    .into_bytes();
                if target.first() == Some(&b'/') {
                    cur.clear();
                }
                for t in split(&target).into_iter().rev() {
                    pending.push_front(t);
                }
            }
            Some(st) => {
                if !pending.is_empty() && file_type(&st) != FileType::Directory {
                    return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
                }
                cur.push(c);
            }
        }
    }
    Ok(Resolved {
        parts: cur,
        exists: true,
    })
}

/// Opens the root file system at `path` as an `O_PATH` directory fd.
pub fn open_root(path: &std::path::Path) -> io::Result<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, OwnedFd) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("root");
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("tmp")).unwrap();
        std::fs::write(r.join("etc/passwd"), b"x").unwrap();
        symlink("/", r.join("escape")).unwrap();
        symlink("../../../../tmp", r.join("up")).unwrap();
        symlink("/etc/passwd", r.join("pw")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        let fd = open_root(&r).unwrap();
        (d, fd)
    }

    fn parts(p: &[&str]) -> Vec<Vec<u8>> {
        p.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (_d, root) = tree();
        let r = resolve(root.as_fd(), b"/escape/pwned").unwrap();
        assert_eq!(r.parts, parts(&["pwned"]));
        assert!(!r.exists);
        let r = resolve(root.as_fd(), b"up/x").unwrap();
        assert_eq!(r.parts, parts(&["tmp", "x"]), "`..` stops at the root");
        let r = resolve(root.as_fd(), b"/../../etc/./passwd").unwrap();
        assert_eq!((r.parts, r.exists), (parts(&["etc", "passwd"]), true));
        let r = resolve(root.as_fd(), b"pw").unwrap();
        assert_eq!(r.parts, parts(&["etc", "passwd"]));
        assert_eq!(resolve(root.as_fd(), b"/").unwrap().parts.len(), 0);
        assert_eq!(resolve(root.as_fd(), b"escape").unwrap().display(), "/");
    }

    #[test]
    fn missing_parents_loops_and_files_as_dirs_are_errors() {
        let (_d, root) = tree();
        let code = |p: &[u8]| resolve(root.as_fd(), p).unwrap_err().raw_os_error();
        assert_eq!(code(b"/nodir/x"), Some(libc::ENOENT));
        assert_eq!(code(b"/loop"), Some(libc::ELOOP));
        assert_eq!(code(b"/etc/passwd/x"), Some(libc::ENOTDIR));
    }

    #[test]
    fn opened_directories_stay_inside() {
        let (d, root) = tree();
        let seen = |fd: &OwnedFd| {
            std::fs::read_link(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(fd)
            ))
            .unwrap()
        };
        // Even unresolved links passed to open_dir stay in the root.
        let fd = open_dir(root.as_fd(), &parts(&["up"])).unwrap();
        assert_eq!(seen(&fd), d.path().join("root/tmp"), "not the host's /tmp");
        let fd = open_dir(root.as_fd(), &parts(&["escape", "etc"])).unwrap();
        assert_eq!(seen(&fd), d.path().join("root/etc"));
    }
}
