//! Writing into layout directories (`oci:`, `dir:`): every file goes to a
//! temporary name beside its destination and is renamed into place, so an
//! interrupted save leaves either the old file or the whole new one, never
//! half a blob under a digest's name.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use hutch_storage::blobs::{BlobError, BlobStore};
use hutch_storage::digest::Digest;

use super::error::{ArchiveError, blob_err, io_err};
use super::layer::Verifying;

fn temp_beside(path: &Path) -> Result<(File, PathBuf), ArchiveError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{base}.tmp-{}-{n}", std::process::id()));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("creating", &tmp)(e)),
        }
    }
}

/// Writes `reader` to `path` through a temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, mut reader: impl Read) -> Result<(), ArchiveError> {
    let (file, tmp) = temp_beside(path)?;
    let result = (|| {
        let mut out = io::BufWriter::new(file);
        io::copy(&mut reader, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("writing", path)(e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("renaming into", path)(e)
    })
}

/// Copies the stored blob `digest` to `dest`, checking its content on the
/// way. A file already there with the blob's size is taken to be it: the
/// layout is content-addressed, and re-reading every blob on each write
/// would make adding one tag to a large layout as slow as a full copy.
pub(crate) fn copy_blob(
    blobs: &BlobStore,
    digest: &Digest,
    dest: &Path,
) -> Result<(), ArchiveError> {
    let what = format!("blob {digest}");
    let file = blobs.open_blob(digest).map_err(blob_err(&what))?;
    let size = file
        .metadata()
        .map_err(io_err("inspecting", &blobs.path(digest)))?
        .len();
    if fs::metadata(dest).is_ok_and(|m| m.is_file() && m.len() == size) {
        return Ok(());
    }
    let mut checked = Verifying::new(file, digest, size);
    let result = write_atomic(dest, &mut checked);
    if let Some((actual, _)) = checked.failure() {
        return Err(ArchiveError::Blob {
            what,
            source: BlobError::Mismatch {
                expected: digest.clone(),
                actual: actual.clone(),
                size,
            },
        });
    }
    result
}

/// Writes small content (a manifest, `index.json`) atomically.
pub(crate) fn write_bytes(path: &Path, data: &[u8]) -> Result<(), ArchiveError> {
    write_atomic(path, data)
}
