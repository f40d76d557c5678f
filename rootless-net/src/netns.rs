//! A container's network namespace, created by hutch and held by a bind
//! mount on a file, so that the runtime joins it by path and pasta or
//! slirp4netns attach to it before the container's process exists.
//!
//! The mount lives in the caller's mount namespace: rootless, that is the
//! pause process's, which every later hutch command joins, so the file stays
//! a namespace until [`remove`] unmounts it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::NetError;

fn cstr(p: &Path) -> Result<CString, NetError> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        NetError::io(
            format!("path {}", p.display()),
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        )
    })
}

/// Creates a new network namespace (loopback up) and binds it at `path`.
pub fn create(path: &Path) -> Result<(), NetError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)
        .map_err(|e| NetError::io(format!("creating {}", dir.display()), e))?;
    // A stale file from a killed monitor may still be a mount: drop it.
    if path.exists() {
        let _ = remove(path);
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| NetError::io(format!("creating {}", path.display()), e))?;
    let target = cstr(path)?;
    // unshare(CLONE_NEWNET) changes only the calling thread, so a short
    // thread makes the namespace without moving the caller out of its own
    // and without a fork.
    let made = std::thread::spawn(move || -> Result<(), std::io::Error> {
        // SAFETY: plain syscalls on this thread's own namespaces and a
        // NUL-terminated path.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            loopback_up()?;
            let src = c"/proc/thread-self/ns/net";
            if libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    })
    .join()
    .map_err(|_| NetError::Helper("the namespace thread panicked".into()))?;
    if let Err(e) = made {
        let _ = std::fs::remove_file(path);
        return Err(NetError::io(
            format!("creating a network namespace at {}", path.display()),
            e,
        ));
    }
    Ok(())
}

/// Brings `lo` up in the calling thread's network namespace: the runtime
/// leaves a namespace given by path as it is, and pasta in Debian 12 only
/// configures its tap device.
pub(crate) unsafe fn loopback_up() -> Result<(), std::io::Error> {
    // SAFETY: an ifreq we own, a socket we close.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        if r == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            r = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if r != 0 {
            return Err(err);
        }
    }
    Ok(())
}

/// Unmounts and deletes a namespace file; a missing one is not an error.
pub fn remove(path: &Path) -> Result<(), NetError> {
    let target = cstr(path)?;
    // SAFETY: a NUL-terminated path. MNT_DETACH: a process still inside
    // (a dying container) keeps the namespace, the file goes now.
    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetError::io(format!("removing {}", path.display()), e)),
    }
}
