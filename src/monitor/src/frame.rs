//! The frame protocol between a monitor and its attach clients, over the
//! container's attach socket: one byte kind, a big-endian u32 length, the
//! bytes. From the monitor: 1 stdout, 2 stderr, 3 exit (the code as a
//! big-endian i32). From a client: 4 stdin bytes, 5 a window size (rows,
//! cols as big-endian u16), 6 end of stdin, 7 a signal for the container
//! (big-endian i32). The exit file is written before the exit frame is
//! sent, so a client that saw the frame can trust the record.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub const FRAME_STDOUT: u8 = 1;
pub const FRAME_STDERR: u8 = 2;
pub const FRAME_EXIT: u8 = 3;
pub const FRAME_STDIN: u8 = 4;
pub const FRAME_RESIZE: u8 = 5;
pub const FRAME_STDIN_EOF: u8 = 6;
pub const FRAME_SIGNAL: u8 = 7;

/// Writes one frame (in one write, so that a reader never waits for the
/// second half of a frame whose first half it got).
pub fn write_frame(w: &mut impl Write, kind: u8, data: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(5 + data.len());
    frame.push(kind);
    frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
    frame.extend_from_slice(data);
    w.write_all(&frame)
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

/// A resize frame's body.
pub fn resize_body(rows: u16, cols: u16) -> [u8; 4] {
    let (r, c) = (rows.to_be_bytes(), cols.to_be_bytes());
    [r[0], r[1], c[0], c[1]]
}

/// The (rows, cols) of a resize frame's body.
pub fn parse_resize(data: &[u8]) -> Option<(u16, u16)> {
    match data {
        [r0, r1, c0, c1] => Some((
            u16::from_be_bytes([*r0, *r1]),
            u16::from_be_bytes([*c0, *c1]),
        )),
        _ => None,
    }
}

/// The i32 body of an exit or signal frame.
pub fn parse_i32(data: &[u8]) -> Option<i32> {
    let b: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
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
    } else if m.contains("permission denied")
        || m.contains("operation not permitted")
        || m.contains("is a directory")
    {
        126
    } else {
        125
    }
}

/// The useful line of a runtime's stderr: runc logs JSON-ish `level=error
/// msg="..."` lines, crun plain text; both are reduced to the message.
pub fn runtime_message(stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if let Some(start) = line.find("msg=\"") {
        let rest = &line[start + 5..];
        if let Some(end) = rest.rfind('"') {
            return rest[..end].replace("\\\"", "\"");
        }
    }
    if line.is_empty() {
        "failed without a message".to_owned()
    } else {
        line.to_owned()
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
        // crun's words for a directory as the command (Podman's
        // ErrOCIRuntimePermissionDenied matches "operation not permitted").
        assert_eq!(
            start_failure_code("crun: open executable: Operation not permitted"),
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
