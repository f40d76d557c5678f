//! The small record files that name a namespace holder (`pause.pid`,
//! `ns-handles`): read only when the file belongs to the expected user,
//! written so that a reader never sees half of one.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::pause::PauseError;

/// A record is a few short lines; 4 KiB bounds one several times over, and
/// anything larger is not ours.
const MAX_RECORD: u64 = 4096;

/// The record's text, or None when the file is missing, not a regular
/// file, too large, or not owned by `uid` (a record another user could
/// write would let them pick the namespace this user's commands join).
pub fn read_owned(path: &Path, uid: u32) -> Option<String> {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if meta.uid() != uid || !meta.is_file() || meta.len() > MAX_RECORD {
        return None;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Write-then-rename, mode 0600: a reader sees the old record or the new
/// one, never half of one, and a crash leaves at most a stray temporary.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), PauseError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        PauseError::Record {
            path: path.to_owned(),
            source,
        }
    })
}
