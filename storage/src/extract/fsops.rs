//! The filesystem primitives extraction is built from. Each works relative to
//! a directory fd and never follows a symlink, so what an earlier entry left
//! in the layer cannot redirect a later write.
//!
//! The threat is the archive, not a concurrent writer: nothing else writes to
//! a layer directory while it is being extracted (the layer store holds its
//! lock), so a check followed by an `*at` call on the same name is sound.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags, Stat, mkdirat, openat, openat2, statat,
    unlinkat,
};
use rustix::io::Errno;

/// Why a tar name cannot be used.
pub(super) type Refusal = String;

/// Splits a tar name into its components, dropping empty and `.` ones so
/// that `./a//b/` is `a/b` (real layers carry `./` prefixes). Refuses what
/// could leave the layer: absolute names and `..` anywhere. An empty result
/// is the layer root itself.
pub(super) fn components(raw: &[u8]) -> Result<Vec<&[u8]>, Refusal> {
    if raw.is_empty() {
        return Err("empty name".into());
    }
    if raw.contains(&0) {
        return Err("NUL byte in name".into());
    }
    // Docker strips a leading `/`; the layer format never produces one, so
    // an absolute name is a broken or hostile archive and is refused.
    if raw[0] == b'/' {
        return Err("absolute path".into());
    }
    let parts: Vec<&[u8]> = raw
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if parts.iter().any(|c| *c == b"..") {
        return Err("`..` component".into());
    }
    Ok(parts)
}

/// `a/b/c` from its components.
pub(super) fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&b'/')
}

pub(super) fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

/// How resolving a parent directory failed.
pub(super) enum ResolveError {
    /// The path crosses a symlink.
    Unsafe(Refusal),
    /// The operation named failed.
    Io(&'static str, io::Error),
}

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// `lstat` of `name` in `dir`; `None` when there is nothing there.
pub(super) fn lstat_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<Stat>> {
    match statat(dir, os(name), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(errno(e)),
    }
}

pub(super) fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// Opens the directory `parts` under `root` as an `O_PATH` fd, refusing to
/// cross any symlink. With `create`, missing directories are made (0755, as
/// Docker does for parents a tar does not list); without it a missing one
/// gives `Ok(None)`.
pub(super) fn resolve_dir(
    root: BorrowedFd<'_>,
    parts: &[&[u8]],
    create: bool,
) -> Result<Option<OwnedFd>, ResolveError> {
    let path_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if parts.is_empty() {
        return openat(root, ".", path_flags, Mode::empty())
            .map(Some)
            .map_err(|e| ResolveError::Io("opening the layer directory", errno(e)));
    }
    // One syscall for the common case. NO_SYMLINKS refuses a symlink in any
    // component; BENEATH would catch `..` had `components` let one through.
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    if let Ok(fd) = openat2(root, os(&join(parts)), path_flags, Mode::empty(), resolve) {
        return Ok(Some(fd));
    }
    // Missing directories, a symlink, ENOSYS before Linux 5.6: walk one
    // component at a time with O_NOFOLLOW, which is as safe and says which
    // component is at fault.
    let mut cur = openat(root, ".", path_flags, Mode::empty())
        .map_err(|e| ResolveError::Io("opening the layer directory", errno(e)))?;
    for (i, comp) in parts.iter().enumerate() {
        let open =
            |dir: &OwnedFd| openat(dir, os(comp), path_flags | OFlags::NOFOLLOW, Mode::empty());
        let mut opened = open(&cur);
        if matches!(opened, Err(Errno::NOENT)) {
            if !create {
                return Ok(None);
            }
            match mkdirat(&cur, os(comp), Mode::from_raw_mode(0o755)) {
                Ok(()) => {
                    // mkdir is subject to the umask; the tar's parents are not.
                    let dir = openat(
                        &cur,
                        os(comp),
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .and_then(|fd| rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755)));
                    dir.map_err(|e| ResolveError::Io("creating a parent directory", errno(e)))?;
                }
                Err(Errno::EXIST) => {}
                Err(e) => return Err(ResolveError::Io("creating a parent directory", errno(e))),
            }
            opened = open(&cur);
        }
        match opened {
            Ok(fd) => cur = fd,
            Err(e @ (Errno::NOTDIR | Errno::LOOP)) => {
                let is_link = lstat_at(cur.as_fd(), comp)
                    .ok()
                    .flatten()
                    .is_some_and(|st| file_type(&st) == FileType::Symlink);
                let at = String::from_utf8_lossy(&join(&parts[..=i])).into_owned();
                return Err(if is_link {
                    ResolveError::Unsafe(format!("parent `{at}` is a symlink"))
                } else {
                    ResolveError::Io("resolving the parent directory", errno(e))
                });
            }
            Err(e) => return Err(ResolveError::Io("resolving the parent directory", errno(e))),
        }
    }
    Ok(Some(cur))
}

/// The names in a directory, without `.` and `..`.
pub(super) fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    let mut entries = Dir::read_from(dir).map_err(errno)?;
    while let Some(entry) = entries.read() {
        let entry = entry.map_err(errno)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

/// Opens the directory `name` in `dir` for reading, refusing a symlink.
pub(super) fn open_dir(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    openat(dir, os(name), flags, Mode::empty()).map_err(errno)
}

/// Removes `name` in `dir` and, if it is a directory, everything below it.
/// Descends through `O_NOFOLLOW` directory fds, so a symlink is removed, not
/// followed. Nothing there is not an error.
pub(super) fn remove_all_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if file_type(&st) != FileType::Directory {
        return unlinkat(dir, os(name), AtFlags::empty()).map_err(errno);
    }
    let sub = open_dir(dir, name)?;
    // A read-only directory's entries cannot be unlinked by its non-root
    // owner; it is going away, so its mode no longer matters.
    let _ = rustix::fs::fchmod(&sub, Mode::from_raw_mode(0o700));
    for child in list_dir(sub.as_fd())? {
        remove_all_at(sub.as_fd(), &child)?;
    }
    match unlinkat(dir, os(name), AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(errno(e)),
    }
}

/// Removes whatever is at `name` in `dir` so that something new can be made
/// there. Returns whether a directory was removed.
pub(super) fn clear(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<bool> {
    match lstat_at(dir, name)? {
        None => Ok(false),
        Some(st) if file_type(&st) == FileType::Directory => {
            remove_all_at(dir, name).map(|()| true)
        }
        Some(_) => unlinkat(dir, os(name), AtFlags::empty())
            .map(|()| false)
            .map_err(errno),
    }
}

/// chmod of a node that cannot be opened (a FIFO would block, a device could
/// act on open) without following a symlink. fchmodat2 (Linux 6.6) says so
/// to the kernel; before it, fchmodat follows a final symlink, so check that
/// the node we just made is not one.
pub(super) fn chmod_nofollow(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let c_name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: fchmodat2 reads a NUL-terminated path that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            dir.as_raw_fd(),
            c_name.as_ptr(),
            mode,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    // ENOSYS before 6.6; EPERM from container seccomp profiles that predate
    // the syscall (a real EPERM comes back again from fchmodat below).
    if !matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
        return Err(err);
    }
    match lstat_at(dir, name)? {
        Some(st) if file_type(&st) != FileType::Symlink => {
            rustix::fs::chmodat(dir, os(name), Mode::from_raw_mode(mode), AtFlags::empty())
                .map_err(errno)
        }
        _ => Err(io::Error::from_raw_os_error(libc::ELOOP)),
    }
}
