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

/// Whether `fd` is a pipe (or socket) whose reading end is gone, as
/// stdout is in `hutch ps | head -1` once head has exited: poll reports
/// POLLERR on such a pipe's writing end.
pub fn is_broken(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one pollfd on the stack, a zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// Ends the process the way a write to a closed pipe ends a program that
/// does not ignore SIGPIPE (Podman's, as Go treats stdout and stderr): no
/// message, the shell's status 141.
pub fn die_of_sigpipe() -> ! {
    // SAFETY: resetting one signal's disposition and raising it; nothing
    // else of the process is touched.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}

/// Whether `e`'s chain holds the EPIPE of a write to a standard stream
/// whose reader has gone (not a socket's or a child's pipe).
pub fn is_closed_output(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return is_broken(libc::STDOUT_FILENO) || is_broken(libc::STDERR_FILENO);
        }
        cur = c.source();
    }
    false
}

/// A panic hook in front of `next`: a print to a standard stream whose
/// reader has gone (`println!` panics on EPIPE, since Rust ignores
/// SIGPIPE) runs `before` and ends the process quietly, as
/// [`die_of_sigpipe`].
pub fn quiet_on_closed_output(
    before: fn(),
    next: Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>,
) -> Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static> {
    Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to std")
            && (is_broken(libc::STDOUT_FILENO) || is_broken(libc::STDERR_FILENO))
        {
            before();
            die_of_sigpipe();
        }
        next(info)
    })
}
