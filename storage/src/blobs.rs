//! Blobs by digest: layers as they came from a registry or archive,
//! manifests and configs. A blob is written to a temporary file, verified
//! against its digest, and only then renamed into place, so a crash or a
//! corrupt download never leaves a visible blob with the wrong content.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, DigestWriter};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "blob digest mismatch: expected {expected}, got {actual} ({size} bytes); the source is corrupt or was tampered with"
    )]
    Mismatch {
        expected: Digest,
        actual: Digest,
        size: u64,
    },
    #[error("blob {digest} is not in the store")]
    Missing { digest: Digest },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BlobError + 'a {
    move |source| BlobError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// `<root>/blobs/sha256/<hex>`, temporary files in `<root>/tmp`.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<BlobStore, BlobError> {
        for dir in [root.join("blobs/sha256"), root.join("tmp")] {
            fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        }
        let store = BlobStore {
            root: root.to_owned(),
        };
        store.clean_stale_tmp();
        Ok(store)
    }

    /// Temporary files of writers that died (a `kill -9` mid-pull): each is
    /// named after its writer's pid, and a pid with no process means nobody
    /// will finish it.
    fn clean_stale_tmp(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("blob-"))
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File, BlobError> {
        let path = self.path(digest);
        File::open(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                BlobError::Missing {
                    digest: digest.clone(),
                }
            } else {
                BlobError::Io {
                    op: "opening",
                    path,
                    source: e,
                }
            }
        })
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, BlobError> {
        let mut data = Vec::new();
        let path = self.path(digest);
        self.open_blob(digest)?
            .read_to_end(&mut data)
            .map_err(io_err("reading", &path))?;
        Ok(data)
    }

    /// Streams `reader` into the store. With `expected`, the content must
    /// hash to it or nothing is stored.
    pub fn put(
        &self,
        reader: impl Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), BlobError> {
        let tmp_dir = self.root.join("tmp");
        let mut tmp = tempfile_in(&tmp_dir)?;
        let mut writer = DigestWriter::new(io::BufWriter::new(&mut tmp.file));
        let mut reader = reader;
        io::copy(&mut reader, &mut writer).map_err(io_err("writing", &tmp.path))?;
        let (buffered, digest, size) = writer.finish();
        buffered
            .into_inner()
            .map_err(|e| BlobError::Io {
                op: "flushing",
                path: tmp.path.clone(),
                source: e.into_error(),
            })?
            .sync_all()
            .map_err(io_err("syncing", &tmp.path))?;
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(BlobError::Mismatch {
                expected: expected.clone(),
                actual: digest,
                size,
            });
        }
        let dest = self.path(&digest);
        fs::rename(&tmp.path, &dest).map_err(io_err("renaming into", &dest))?;
        tmp.keep();
        Ok((digest, size))
    }

    pub fn put_bytes(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest, BlobError> {
        let digest = Digest::of(bytes);
        if self.contains(&digest) {
            if let Some(e) = expected
                && *e != digest
            {
                return Err(BlobError::Mismatch {
                    expected: e.clone(),
                    actual: digest,
                    size: bytes.len() as u64,
                });
            }
            return Ok(digest);
        }
        self.put(bytes, expected).map(|(d, _)| d)
    }

    pub fn remove(&self, digest: &Digest) -> Result<(), BlobError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing", &path)(e)),
        }
    }
}

/// A temporary file removed on drop unless kept.
struct TempFile {
    file: File,
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn tempfile_in(dir: &Path) -> Result<TempFile, BlobError> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("blob-{}-{n}", std::process::id()));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
        {
            Ok(file) => {
                return Ok(TempFile {
                    file,
                    path,
                    keep: false,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("creating", &path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn stores_and_reads_by_digest() {
        let (_d, s) = store();
        let (digest, size) = s.put(&b"layer bytes"[..], None).unwrap();
        assert_eq!(size, 11);
        assert_eq!(digest, Digest::of(b"layer bytes"));
        assert!(s.contains(&digest));
        assert_eq!(s.read(&digest).unwrap(), b"layer bytes");
    }

    #[test]
    fn mismatch_stores_nothing() {
        let (d, s) = store();
        let wrong = Digest::of(b"something else");
        let err = s.put(&b"layer bytes"[..], Some(&wrong)).unwrap_err();
        assert!(matches!(err, BlobError::Mismatch { .. }), "{err}");
        assert!(!s.contains(&Digest::of(b"layer bytes")));
        assert_eq!(
            fs::read_dir(d.path().join("tmp")).unwrap().count(),
            0,
            "temporary file left"
        );
    }

    #[test]
    fn temporary_files_of_dead_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        BlobStore::open(dir.path()).unwrap();
        // pid 0 never names a live writer; our own pid does.
        let dead = dir.path().join("tmp/blob-0-1");
        let live = dir
            .path()
            .join(format!("tmp/blob-{}-1", std::process::id()));
        fs::write(&dead, b"partial").unwrap();
        fs::write(&live, b"partial").unwrap();
        BlobStore::open(dir.path()).unwrap();
        assert!(!dead.exists());
        assert!(live.exists());
    }

    #[test]
    fn missing_blob_is_named() {
        let (_d, s) = store();
        let err = s.read(&Digest::of(b"nope")).unwrap_err();
        assert!(err.to_string().contains("not in the store"));
    }
}
