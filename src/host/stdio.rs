//! The process's own standard streams.

use std::os::fd::AsRawFd;

/// `--noout`: everything written to stdout from now on (including by
/// children that inherit it) goes to /dev/null, as Podman's flag does.
pub fn discard_stdout() -> std::io::Result<()> {
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    // SAFETY: dup2 on two descriptors this process owns; `null` stays
    // open until the call returns and fd 1 then holds its own reference.
    if unsafe { libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
