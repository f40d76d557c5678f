//! The per-container monitor (conmon's role), run as `hutch __monitor`.
//!
//! It detaches (setsid, done by its spawner), becomes the child subreaper so
//! the container's init is its child once the runtime's `create` exits, and
//! stays for the container's life: it copies the container's stdout and
//! stderr into the k8s-file log and to attached clients, records the exit
//! code (atomically) and cleans up. Clients read frames from a unix socket:
//! one byte kind (1 stdout, 2 stderr, 3 exit), a big-endian u32 length, the
//! bytes (for an exit, the code as a big-endian i32). The exit file is
//! written before the exit frame is sent, so a client that saw the frame can
//! trust the record.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::logfile::{LogWriter, Stream};

pub const FRAME_STDOUT: u8 = 1;
pub const FRAME_STDERR: u8 = 2;
pub const FRAME_EXIT: u8 = 3;

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, kind: u8, data: &[u8]) -> io::Result<()> {
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&(data.len() as u32).to_be_bytes());
    w.write_all(&head)?;
    w.write_all(data)
}

/// Reads one frame; `None` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > 16 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "attach frame too large",
        ));
    }
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((head[0], data)))
}

/// The container's output pipes and the clients it is copied to, until the
/// container exits.
pub struct Relay {
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    pub listener: UnixListener,
    pub clients: Vec<UnixStream>,
    pub log: LogWriter,
}

impl Relay {
    /// Copies output until both pipes close and `exited` (a pidfd of the
    /// container's init) has fired, whichever happens last; processes the
    /// container left behind holding the pipes do not keep it waiting once
    /// init is gone and the pipes are drained.
    pub fn run(&mut self, exited: &OwnedFd) -> io::Result<()> {
        let mut init_gone = false;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if init_gone && self.stdout.is_none() && self.stderr.is_none() {
                return Ok(());
            }
            let mut fds: Vec<libc::pollfd> = Vec::new();
            let mut push = |fd: i32| {
                fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
            };
            push(self.stdout.as_ref().map_or(-1, |f| f.as_raw_fd()));
            push(self.stderr.as_ref().map_or(-1, |f| f.as_raw_fd()));
            push(self.listener.as_raw_fd());
            push(if init_gone { -1 } else { exited.as_raw_fd() });
            // After init exits, wait at most a moment for the pipes' last
            // bytes; a daemonised grandchild may hold them open forever.
            let timeout = if init_gone { 200 } else { -1 };
            // SAFETY: fds is a valid array of pollfd for the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 && init_gone {
                self.stdout = None;
                self.stderr = None;
                continue;
            }
            for (i, stream, kind) in [
                (0, Stream::Stdout, FRAME_STDOUT),
                (1, Stream::Stderr, FRAME_STDERR),
            ] {
                if fds[i].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
                    continue;
                }
                let slot = if i == 0 {
                    &mut self.stdout
                } else {
                    &mut self.stderr
                };
                let Some(fd) = slot.as_ref() else { continue };
                match rustix::io::read(fd.as_fd(), &mut buf) {
                    Ok(0) | Err(_) => *slot = None,
                    Ok(n) => {
                        self.log.write(stream, &buf[..n])?;
                        // A client that went away is dropped, not an error.
                        self.clients
                            .retain_mut(|c| write_frame(c, kind, &buf[..n]).is_ok());
                    }
                }
            }
            if fds[2].revents & libc::POLLIN != 0
                && let Ok((client, _)) = self.listener.accept()
            {
                self.clients.push(client);
            }
            if fds[3].revents & libc::POLLIN != 0 {
                init_gone = true;
            }
        }
    }

    /// Tells every client the exit code and closes them.
    pub fn finish(&mut self, code: i32) {
        for mut c in self.clients.drain(..) {
            let _ = write_frame(&mut c, FRAME_EXIT, &code.to_be_bytes());
        }
    }
}

/// Writes `content` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)
}

/// The exit status of a waited child as a shell reports it: the code, or
/// 128 + the signal that killed it.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    }
}

/// Podman's exit codes for a command that could not run: 127 when it does
/// not exist, 126 when it cannot be executed, else 125 (hutch's own).
pub fn start_failure_code(runtime_message: &str) -> u8 {
    let m = runtime_message.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied") || m.contains("is a directory") {
        126
    } else {
        125
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, FRAME_STDOUT, b"hello").unwrap();
        write_frame(&mut buf, FRAME_EXIT, &3i32.to_be_bytes()).unwrap();
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((FRAME_STDOUT, b"hello".to_vec()))
        );
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((FRAME_EXIT, 3i32.to_be_bytes().to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn start_failures_map_to_podman_codes() {
        assert_eq!(
            start_failure_code("exec: \"nosuch\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("exec: \"/etc\": is a directory"), 126);
        assert_eq!(
            start_failure_code("exec /etc/passwd: permission denied"),
            126
        );
        assert_eq!(start_failure_code("something else"), 125);
    }

    #[test]
    fn exit_codes_like_a_shell() {
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(9), 137);
    }
}
