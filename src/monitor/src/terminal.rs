//! The container's terminal: the pty master the OCI runtime hands over on
//! its `--console-socket`, and its window size.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::Duration;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
use rustix::termios::{self, Winsize};

/// Waits (at most `timeout`) for the runtime to connect to the console
/// socket and returns the pty master it sends with SCM_RIGHTS.
pub fn receive_master(listener: &UnixListener, timeout: Duration) -> io::Result<OwnedFd> {
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the runtime never connected to the console socket",
        ));
    }
    let (conn, _) = listener.accept()?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    // The runtime sends the pty's name as the message body; it is not needed.
    let mut body = [0u8; 4096];
    recvmsg(
        &conn,
        &mut [io::IoSliceMut::new(&mut body)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "the runtime sent no terminal on the console socket",
    ))
}

/// Sets the window size of the pty behind `master`; the kernel then sends
/// SIGWINCH to its foreground process group.
pub fn set_window_size(master: impl AsFd, rows: u16, cols: u16) -> io::Result<()> {
    termios::tcsetwinsize(
        master,
        Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok(())
}
