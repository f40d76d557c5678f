//! Device nodes hutch's helpers open: /dev/fuse (fuse-overlayfs) and
//! /dev/net/tun (pasta, slirp4netns).

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Whether a device node can be used: "ok", or why not.
pub fn usable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.file_type().is_char_device() {
        return Err(format!("{} is not a character device", path.display()));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|e| format!("opening {}: {e}", path.display()))
}
