//! CRIU on this host: where it is, whether it carries the file capability
//! that lets an unprivileged user checkpoint (`CAP_CHECKPOINT_RESTORE`,
//! Linux >= 5.9), and whether it can work on this kernel at all (`criu
//! check`). Checkpoint and restore ask these before they run the runtime,
//! so that a host that cannot do it gets one message saying what is
//! missing instead of a CRIU log to read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `CAP_CHECKPOINT_RESTORE` (include/uapi/linux/capability.h).
pub const CAP_CHECKPOINT_RESTORE: u32 = 40;

/// Where `criu` is (the runtimes look it up in PATH the same way).
pub fn find() -> Option<PathBuf> {
    super::tools::find("criu")
}

/// The capabilities in a `security.capability` value (`struct
/// vfs_cap_data`, v2 or v3): (permitted, effective flag). The value comes
/// from the file system: anything shorter than its header or of another
/// revision is read as no capabilities.
pub fn parse_file_caps(xattr: &[u8]) -> Option<(u64, bool)> {
    let word = |i: usize| -> Option<u32> {
        let b = xattr.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let magic = word(0)?;
    const REVISION_MASK: u32 = 0xFF00_0000;
    const REVISION_2: u32 = 0x0200_0000;
    const REVISION_3: u32 = 0x0300_0000;
    const EFFECTIVE: u32 = 0x0000_0001;
    if !matches!(magic & REVISION_MASK, REVISION_2 | REVISION_3) {
        return None;
    }
    // data[0] = {permitted, inheritable}, data[1] the same for caps 32..63.
    let low = word(1)?;
    let high = word(3)?;
    Some((
        u64::from(low) | (u64::from(high) << 32),
        magic & EFFECTIVE != 0,
    ))
}

/// Whether `criu` at `path` has `cap_checkpoint_restore` permitted and
/// effective as a file capability (`setcap cap_checkpoint_restore+eip`).
pub fn has_checkpoint_cap(path: &Path) -> bool {
    let mut buf = [0u8; 64];
    let Ok(n) = rustix::fs::getxattr(path, "security.capability", &mut buf) else {
        return false;
    };
    parse_file_caps(&buf[..n]).is_some_and(|(permitted, effective)| {
        effective && permitted & (1u64 << CAP_CHECKPOINT_RESTORE) != 0
    })
}

/// `criu check`: `Err` with what CRIU said when it cannot work on this
/// kernel (for instance CRIU 3.17 on Linux >= 6.13: "vdso: Unexpected rt
/// vDSO area bounds"). Its error lines, at most a few hundred bytes.
pub fn check(path: &Path) -> Result<(), String> {
    let out = Command::new(path)
        .arg("check")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("running {} check: {e}", path.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    Err(first_errors(&text))
}

/// Whether CRIU can track dirty memory (`criu check --feature
/// mem_dirty_track`), which pre-dumps need: Podman's `criu.MemTrack()`,
/// asked before any container is looked at. No CRIU, no tracking.
pub fn mem_track() -> bool {
    let Some(path) = find() else {
        return false;
    };
    Command::new(path)
        .args(["check", "--feature", "mem_dirty_track"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first two error lines of CRIU's output, without its source
/// locations, bounded: what a user needs to search for.
pub fn first_errors(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        // A helper's "exited, status=1" says nothing of why.
        .filter(|l| l.contains("Error") && !l.contains("exited, status="))
        .map(|l| match l.find("): ") {
            Some(i) => &l[i + 3..],
            None => l,
        })
        .take(2)
        .collect();
    let mut said = if lines.is_empty() {
        text.trim().to_owned()
    } else {
        lines.join("; ")
    };
    if said.len() > 400 {
        let mut end = 400;
        while !said.is_char_boundary(end) {
            end -= 1;
        }
        said.truncate(end);
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(magic: u32, words: [u32; 4]) -> Vec<u8> {
        let mut v = magic.to_le_bytes().to_vec();
        for w in words {
            v.extend(w.to_le_bytes());
        }
        v
    }

    #[test]
    fn file_capabilities_are_read_from_their_xattr() {
        // cap_checkpoint_restore+eip: bit 8 of the second permitted word.
        let v = caps(0x0200_0001, [0, 0, 1 << 8, 1 << 8]);
        let (permitted, effective) = parse_file_caps(&v).expect("v2");
        assert!(effective);
        assert_ne!(permitted & (1 << CAP_CHECKPOINT_RESTORE), 0);
        // cap_net_admin+ep only, v3 with a root id.
        let mut v = caps(0x0300_0001, [1 << 12, 0, 0, 0]);
        v.extend(0u32.to_le_bytes());
        let (permitted, _) = parse_file_caps(&v).expect("v3");
        assert_eq!(permitted & (1 << CAP_CHECKPOINT_RESTORE), 0);
        // Not effective.
        let v = caps(0x0200_0000, [0, 0, 1 << 8, 0]);
        assert_eq!(parse_file_caps(&v).map(|c| c.1), Some(false));
        // Truncated or of an unknown revision.
        assert_eq!(parse_file_caps(&v[..10]), None);
        assert_eq!(parse_file_caps(&caps(0x0100_0000, [0; 4])), None);
    }

    #[test]
    fn a_real_file_capability_is_seen() {
        // setcap needs root (and libcap2-bin); elsewhere the parser test
        // above stands alone.
        let Some(setcap) = ["/usr/sbin/setcap", "/sbin/setcap"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
        else {
            return;
        };
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("criu");
        std::fs::write(&file, b"#!/bin/sh\n").expect("write");
        assert!(!has_checkpoint_cap(&file));
        let set = |caps: &str| {
            Command::new(setcap)
                .arg(caps)
                .arg(&file)
                .status()
                .is_ok_and(|s| s.success())
        };
        // A file system without security xattrs (some tmpfs) cannot hold one.
        if !set("cap_checkpoint_restore+eip") {
            return;
        }
        assert!(has_checkpoint_cap(&file));
        assert!(set("cap_net_admin+eip"));
        assert!(!has_checkpoint_cap(&file));
    }

    #[test]
    fn criu_errors_are_cut_to_what_a_user_searches_for() {
        let out = "Error (criu/util.c:642): exited, status=1\n\
                   Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n\
                   Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n\
                   Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed\n";
        assert_eq!(
            first_errors(out),
            "vdso: Unexpected rt vDSO area bounds; vdso: Failed to fill self vdso symtable"
        );
        assert_eq!(first_errors("  odd  \n"), "odd");
        assert!(first_errors(&"Error x".repeat(200)).len() <= 400);
    }
}
