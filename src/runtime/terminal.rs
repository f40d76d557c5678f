//! Terminals: the pseudo-terminal master an OCI runtime hands over on its
//! `--console-socket`, raw mode for the user's own terminal, window sizes,
//! and Podman's detach keys.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::termios::{self, OptionalActions, Termios};

/// Podman's default detach sequence: ctrl-p, ctrl-q.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

pub use hutch_monitor::terminal::{receive_master, set_window_size};

/// The user's terminal in raw mode until dropped (also on an error path or
/// a panic unwinding through the owner).
pub struct RawMode {
    fd: OwnedFd,
    saved: Termios,
}

impl RawMode {
    /// Puts `fd` in raw mode when it is a terminal; `None` when it is not.
    pub fn enable(fd: BorrowedFd<'_>) -> io::Result<Option<RawMode>> {
        if !termios::isatty(fd) {
            return Ok(None);
        }
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(fd, OptionalActions::Now, &raw)?;
        Ok(Some(RawMode {
            fd: fd.try_clone_to_owned()?,
            saved,
        }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(&self.fd, OptionalActions::Now, &self.saved);
    }
}

/// The window size of the terminal `fd`, if it is one.
pub fn window_size(fd: impl AsFd) -> Option<(u16, u16)> {
    let w = termios::tcgetwinsize(fd).ok()?;
    (w.ws_row > 0 && w.ws_col > 0).then_some((w.ws_row, w.ws_col))
}

/// Parses Podman's `--detach-keys`: comma-separated keys, each one
/// character or `ctrl-<x>` (a letter or one of `@[\]^_`). "" disables.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    let mut codes = Vec::new();
    for key in spec.split(',') {
        let bytes = key.as_bytes();
        if bytes.len() == 1 {
            codes.push(bytes[0]);
            continue;
        }
        let ctrl = key
            .strip_prefix("ctrl-")
            .filter(|k| k.len() == 1)
            .map(|k| k.as_bytes()[0].to_ascii_lowercase())
            .and_then(|c| match c {
                b'a'..=b'z' => Some(c - b'a' + 1),
                b'@' => Some(0),
                b'[' => Some(27),
                b'\\' => Some(28),
                b']' => Some(29),
                b'^' => Some(30),
                b'_' => Some(31),
                _ => None,
            });
        match ctrl {
            Some(c) => codes.push(c),
            None => return Err(format!("invalid detach keys {spec:?}: unknown key {key:?}")),
        }
    }
    Ok(codes)
}

/// Finds the detach sequence in a stream of input. Bytes that could be the
/// start of the sequence are held back until the next byte decides; a
/// mismatch lets them through unchanged.
#[derive(Debug, Default)]
pub struct DetachMatcher {
    keys: Vec<u8>,
    held: usize,
}

impl DetachMatcher {
    pub fn new(keys: Vec<u8>) -> DetachMatcher {
        DetachMatcher { keys, held: 0 }
    }

    /// The bytes to pass on for `input`, and whether the sequence completed
    /// (then the bytes are what came before it).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        if self.keys.is_empty() {
            return (input.to_vec(), false);
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
                if self.keys.len() == 1 {
                    self.held = 0;
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_podman() {
        assert_eq!(parse_detach_keys(DEFAULT_DETACH_KEYS).unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("").unwrap(), Vec::<u8>::new());
        assert_eq!(parse_detach_keys("a,ctrl-[,ctrl-@").unwrap(), [b'a', 27, 0]);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("alt-x").is_err());
    }

    #[test]
    fn detach_sequence_is_found_across_reads() {
        let mut m = DetachMatcher::new(vec![16, 17]);
        assert_eq!(m.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(m.feed(b"\x11rest"), (Vec::new(), true));
        let mut m = DetachMatcher::new(vec![16, 17]);
        // A held ctrl-p followed by something else is passed on.
        assert_eq!(m.feed(b"\x10x"), (b"\x10x".to_vec(), false));
        assert_eq!(m.feed(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
        let mut off = DetachMatcher::new(Vec::new());
        assert_eq!(off.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
