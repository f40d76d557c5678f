//! Layers by chain id, extracted once and shared by every image that uses
//! them.
//!
//! A layer directory appears under its final name only when it is complete:
//! extraction goes to `.tmp-<chain>` under a per-layer `flock`, the
//! uncompressed stream is hashed on the way and must equal the layer's
//! diff id, and only then is the directory renamed into place. A crash
//! leaves a `.tmp-` directory that the next writer of that layer removes;
//! two concurrent pulls of one image extract each layer once (the second
//! waits on the lock and finds it done).

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::digest::{Digest, DigestReader};
use crate::extract::{self, ApplyOptions, ExtractError};

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("applying layer {diff_id}: {source}")]
    Extract {
        diff_id: Digest,
        source: ExtractError,
    },
    #[error(
        "layer content does not match its diff id: expected {expected}, got {actual}; the layer blob is corrupt"
    )]
    DiffIdMismatch { expected: Digest, actual: Digest },
    #[error("layer {chain_id} record at {path} is unreadable: {reason}")]
    BadRecord {
        chain_id: Digest,
        path: PathBuf,
        reason: String,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LayerError + 'a {
    move |source| LayerError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// What is known about a stored layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    /// Bytes of the uncompressed tar stream.
    pub size: u64,
}

impl LayerRecord {
    fn encode(&self) -> String {
        format!(
            "chain_id {}\ndiff_id {}\nparent {}\nsize {}\n",
            self.chain_id,
            self.diff_id,
            self.parent
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| p.to_string()),
            self.size
        )
    }

    fn decode(text: &str) -> Result<LayerRecord, String> {
        let mut fields = std::collections::HashMap::new();
        for line in text.lines() {
            let (k, v) = line
                .split_once(' ')
                .ok_or_else(|| format!("bad line {line:?}"))?;
            fields.insert(k, v);
        }
        let get = |k: &str| fields.get(k).copied().ok_or_else(|| format!("missing {k}"));
        let digest =
            |k: &str| -> Result<Digest, String> { get(k)?.parse().map_err(|e| format!("{e}")) };
        Ok(LayerRecord {
            chain_id: digest("chain_id")?,
            diff_id: digest("diff_id")?,
            parent: match get("parent")? {
                "-" => None,
                p => Some(p.parse().map_err(|e| format!("{e}"))?),
            },
            size: get("size")?.parse().map_err(|e| format!("size: {e}"))?,
        })
    }
}

/// The OCI chain id: the diff id for a base layer, else
/// sha256("<parent chain id> <diff id>").
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => {
            let hex = format!("{:x}", Sha256::digest(format!("{p} {diff_id}").as_bytes()));
            // A sha256 rendered as lowercase hex is always a valid digest.
            Digest::from_hex(&hex).unwrap_or_else(|_| diff_id.clone())
        }
    }
}

/// `<root>/layers/<chain hex>/{diff/, layer}`.
#[derive(Debug, Clone)]
pub struct LayerStore {
    dir: PathBuf,
}

impl LayerStore {
    pub fn open(root: &Path) -> Result<LayerStore, LayerError> {
        let dir = root.join("layers");
        fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        Ok(LayerStore { dir })
    }

    /// Layers of an additional image store, never written to.
    pub fn read_only(root: &Path) -> LayerStore {
        LayerStore {
            dir: root.join("layers"),
        }
    }

    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex())
    }

    /// The extracted tree: an overlay lower directory.
    pub fn diff_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    pub fn get(&self, chain_id: &Digest) -> Result<Option<LayerRecord>, LayerError> {
        let path = self.layer_dir(chain_id).join("layer");
        match fs::read_to_string(&path) {
            Ok(text) => {
                LayerRecord::decode(&text)
                    .map(Some)
                    .map_err(|reason| LayerError::BadRecord {
                        chain_id: chain_id.clone(),
                        path,
                        reason,
                    })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("reading", &path)(e)),
        }
    }

    /// Extracts a layer blob (compressed or not) on top of `parent`, unless
    /// the layer exists already.
    pub fn create(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        blob: impl Read,
        opts: &ApplyOptions,
    ) -> Result<LayerRecord, LayerError> {
        self.create_counted(parent, diff_id, blob, opts)
            .map(|(rec, _)| rec)
    }

    /// [`LayerStore::create`], with the device nodes that `skip_devices`
    /// left out of this extraction (0 when the layer existed already), for
    /// the caller to tell the user once.
    pub fn create_counted(
        &self,
        parent: Option<&Digest>,
        diff_id: &Digest,
        blob: impl Read,
        opts: &ApplyOptions,
    ) -> Result<(LayerRecord, u64), LayerError> {
        let chain = chain_id(parent, diff_id);
        if let Some(rec) = self.get(&chain)? {
            return Ok((rec, 0));
        }
        let _lock = self.lock(&chain)?;
        if let Some(rec) = self.get(&chain)? {
            return Ok((rec, 0));
        }
        let tmp = self.dir.join(format!(".tmp-{}", chain.hex()));
        remove_tree(&tmp)?;
        let diff = tmp.join("diff");
        fs::create_dir_all(&diff).map_err(io_err("creating", &diff))?;

        let result = (|| {
            let decompressed =
                extract::decompress(blob).map_err(io_err("decompressing a layer for", &diff))?;
            let mut hashed = DigestReader::new(decompressed);
            let stats = extract::apply_layer(&mut hashed, &diff, opts).map_err(|source| {
                LayerError::Extract {
                    diff_id: diff_id.clone(),
                    source,
                }
            })?;
            // The tar reader stops at the end-of-archive marker; the padding
            // after it is part of the diff id.
            io::copy(&mut hashed, &mut io::sink())
                .map_err(io_err("reading the rest of the layer for", &diff))?;
            let (actual, size) = hashed.finish();
            if actual != *diff_id {
                return Err(LayerError::DiffIdMismatch {
                    expected: diff_id.clone(),
                    actual,
                });
            }
            let rec = LayerRecord {
                chain_id: chain.clone(),
                diff_id: diff_id.clone(),
                parent: parent.cloned(),
                size,
            };
            let meta = tmp.join("layer");
            fs::write(&meta, rec.encode()).map_err(io_err("writing", &meta))?;
            let dest = self.layer_dir(&chain);
            fs::rename(&tmp, &dest).map_err(io_err("renaming into", &dest))?;
            Ok((rec, stats.skipped_devices))
        })();
        if result.is_err() {
            let _ = remove_tree(&tmp);
            // A refused layer leaves no lock file either (unlinked while
            // held, which `lock` notices, as in `remove`).
            let _ = fs::remove_file(self.lock_path(&chain));
        }
        result
    }

    /// Copies a finished layer's tree (`diff`, another store's) in under
    /// `rec`, unless this store has the layer; `Ok(false)` when it had.
    /// `cp -a` keeps owners, modes, xattrs (opaque markers) and whiteout
    /// devices; then every entry is made readable by all, as a store that
    /// many users read must be (see [`make_readable_by_all`]). Only
    /// renamed into place when complete, as [`LayerStore::create`] does.
    pub fn adopt(&self, rec: &LayerRecord, diff: &Path) -> Result<bool, LayerError> {
        if self.get(&rec.chain_id)?.is_some() {
            return Ok(false);
        }
        let _lock = self.lock(&rec.chain_id)?;
        if self.get(&rec.chain_id)?.is_some() {
            return Ok(false);
        }
        let tmp = self.dir.join(format!(".tmp-{}", rec.chain_id.hex()));
        remove_tree(&tmp)?;
        fs::create_dir_all(&tmp).map_err(io_err("creating", &tmp))?;
        let result = (|| {
            let dest = tmp.join("diff");
            let out = std::process::Command::new("cp")
                .arg("-a")
                .arg("--")
                .arg(diff)
                .arg(&dest)
                .output()
                .map_err(io_err("copying a layer into", &dest))?;
            if !out.status.success() {
                return Err(LayerError::Io {
                    op: "copying a layer into",
                    path: dest,
                    source: io::Error::other(
                        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    ),
                });
            }
            make_readable_by_all(&tmp)?;
            let meta = tmp.join("layer");
            fs::write(&meta, rec.encode()).map_err(io_err("writing", &meta))?;
            set_mode(&meta, 0o644)?;
            let dest = self.layer_dir(&rec.chain_id);
            fs::rename(&tmp, &dest).map_err(io_err("renaming into", &dest))
        })();
        if result.is_err() {
            let _ = remove_tree(&tmp);
        }
        result.map(|()| true)
    }

    /// Removes a layer: renamed aside first, so a crash mid-removal leaves
    /// no half-deleted layer under a live name.
    pub fn remove(&self, chain_id: &Digest) -> Result<(), LayerError> {
        let _lock = self.lock(chain_id)?;
        let dir = self.layer_dir(chain_id);
        let trash = self
            .dir
            .join(format!(".trash-{}-{}", chain_id.hex(), std::process::id()));
        match fs::rename(&dir, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("removing", &dir)(e)),
        }
        remove_tree(&trash)?;
        // The lock file goes too, unlinked while held: a process waiting
        // on it then holds a lock on a deleted file, which `lock` notices
        // and retries on a fresh one, so no two work on one layer.
        let _ = fs::remove_file(self.lock_path(chain_id));
        Ok(())
    }

    /// Every complete layer.
    pub fn list(&self) -> Result<Vec<LayerRecord>, LayerError> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(io_err("listing", &self.dir))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(digest) = name.to_str().and_then(|n| Digest::from_hex(n).ok()) else {
                continue;
            };
            if let Some(rec) = self.get(&digest)? {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Leftovers of crashed removals and extractions. An extraction
    /// directory is only removed while its layer's lock is free, so a pull
    /// in progress keeps its work.
    pub fn clean_trash(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".trash-") {
                let _ = remove_tree(&entry.path());
            } else if let Some(hex) = name.strip_prefix(".tmp-")
                && let Ok(file) = File::options()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .open(self.dir.join(format!("{hex}.lock")))
                && rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                    .is_ok()
            {
                let _ = remove_tree(&entry.path());
                // Unlinked while held, as `remove` does; only when no
                // finished layer goes with it.
                if !self.dir.join(hex).exists() {
                    let _ = fs::remove_file(self.dir.join(format!("{hex}.lock")));
                }
            } else if let Some(hex) = name.strip_suffix(".lock")
                && !self.dir.join(hex).exists()
                && !self.dir.join(format!(".tmp-{hex}")).exists()
                && let Ok(file) = File::options().read(true).open(entry.path())
                && rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                    .is_ok()
            {
                // A lock left by a process killed before its `.tmp-` directory
                // existed: no layer and no work goes with it. Unlinked while
                // held, as `remove` does (`lock` retries on an unlinked file).
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn lock_path(&self, chain: &Digest) -> PathBuf {
        self.dir.join(format!("{}.lock", chain.hex()))
    }

    /// The layer's lock, on the file its name holds once locked: the file
    /// may have been unlinked by a removal while this process waited.
    fn lock(&self, chain: &Digest) -> Result<OwnedFd, LayerError> {
        let path = self.lock_path(chain);
        loop {
            let fd = lock_file(&path)?;
            let held = rustix::fs::fstat(&fd).map_err(|e| io_err("inspecting", &path)(e.into()))?;
            match rustix::fs::stat(&path) {
                Ok(now) if now.st_dev == held.st_dev && now.st_ino == held.st_ino => return Ok(fd),
                Ok(_) => continue,
                Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(io_err("inspecting", &path)(e.into())),
            }
        }
    }
}

/// An exclusive `flock` held until the returned descriptor is dropped.
pub(crate) fn lock_file(path: &Path) -> Result<OwnedFd, LayerError> {
    open_locked(path, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|(op, e)| io_err(op, path)(e))
}

/// Opens (creating, 0600, never through a symlink) and flocks a lock file;
/// the error names the step that failed.
pub(crate) fn open_locked(
    path: &Path,
    op: rustix::fs::FlockOperation,
) -> Result<OwnedFd, (&'static str, io::Error)> {
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| ("opening lock", e))?;
    let fd = OwnedFd::from(file);
    rustix::fs::flock(&fd, op).map_err(|e| ("locking", e.into()))?;
    Ok(fd)
}

/// Adds read (and, where the owner may, execute) permission for group
/// and others to every directory and regular file under `path`: a shared
/// store's users are neither its owner nor its group, and a file only its
/// owner may read would be unreadable in every user's container.
/// Symlinks and devices (whiteouts) are left as they are.
pub(crate) fn make_readable_by_all(path: &Path) -> Result<(), LayerError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(path).map_err(io_err("inspecting", path))?;
    let mode = meta.permissions().mode() & 0o7777;
    if meta.is_dir() {
        set_mode(path, mode | 0o555)?;
        for entry in fs::read_dir(path).map_err(io_err("listing", path))? {
            let entry = entry.map_err(io_err("listing", path))?;
            make_readable_by_all(&entry.path())?;
        }
    } else if meta.is_file() {
        let exec = if mode & 0o100 != 0 { 0o111 } else { 0 };
        set_mode(path, mode | 0o444 | exec)?;
    }
    Ok(())
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), LayerError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", path))
}

/// Removes a directory tree that may hold read-only directories (images
/// ship some), making them writable on the way.
pub(crate) fn remove_tree(path: &Path) -> Result<(), LayerError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("inspecting", path)(e)),
        Ok(m) if !m.is_dir() => return fs::remove_file(path).map_err(io_err("removing", path)),
        Ok(_) => {}
    }
    if fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_writable(path);
    fs::remove_dir_all(path).map_err(io_err("removing", path))
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(path) {
        for e in entries.flatten() {
            make_writable(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn opts() -> ApplyOptions {
        ApplyOptions {
            whiteouts: extract::WhiteoutFormat::Overlay {
                opaque_xattr: extract::USER_OVERLAY_OPAQUE,
            },
            ownership: extract::Ownership::Ignore,
            skip_devices: true,
        }
    }

    /// A lock file left by a process killed before its `.tmp-` directory
    /// existed goes with the trash; a held one, or one whose layer exists,
    /// stays (found by the kill-anywhere harness).
    #[test]
    fn orphan_lock_files_are_cleaned_unless_held_or_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayerStore::open(dir.path()).unwrap();
        let tar = tar_with(&[("etc/hello", b"hi\n")]);
        let rec = store
            .create(None, &Digest::of(&tar), &tar[..], &opts())
            .unwrap();
        let d = &store.dir;
        let used = d.join(format!("{}.lock", rec.chain_id.hex()));
        std::fs::write(&used, b"").unwrap();
        let orphan = d.join(format!("{}.lock", Digest::of(b"orphan").hex()));
        std::fs::write(&orphan, b"").unwrap();
        let held = d.join(format!("{}.lock", Digest::of(b"held").hex()));
        let f = File::create(&held).unwrap();
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
        store.clean_trash();
        assert!(!orphan.exists());
        assert!(used.exists() && held.exists());
    }

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        assert_eq!(chain_id(None, &a), a);
        let expected = Digest::of(format!("{a} {b}").as_bytes());
        assert_eq!(chain_id(Some(&a), &b), expected);
    }

    #[test]
    fn extracts_once_and_verifies_the_diff_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayerStore::open(dir.path()).unwrap();
        let tar = tar_with(&[("etc/hello", b"hi\n")]);
        let diff_id = Digest::of(&tar);
        let rec = store.create(None, &diff_id, &tar[..], &opts()).unwrap();
        assert_eq!(rec.chain_id, diff_id);
        assert_eq!(rec.size, tar.len() as u64);
        assert_eq!(
            fs::read(store.diff_dir(&diff_id).join("etc/hello")).unwrap(),
            b"hi\n"
        );
        // Second time: found, not extracted again.
        fs::write(store.diff_dir(&diff_id).join("marker"), b"x").unwrap();
        store.create(None, &diff_id, &tar[..], &opts()).unwrap();
        assert!(store.diff_dir(&diff_id).join("marker").exists());
        assert_eq!(store.list().unwrap(), vec![rec]);
    }

    #[test]
    fn wrong_diff_id_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayerStore::open(dir.path()).unwrap();
        let tar = tar_with(&[("f", b"data")]);
        let wrong = Digest::of(b"not the tar");
        let err = store.create(None, &wrong, &tar[..], &opts()).unwrap_err();
        assert!(matches!(err, LayerError::DiffIdMismatch { .. }), "{err}");
        assert!(store.list().unwrap().is_empty());
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("layers"))
            .unwrap()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().ends_with(".lock"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn gzip_blob_is_decompressed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LayerStore::open(dir.path()).unwrap();
        let tar = tar_with(&[("x", b"1")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &tar).unwrap();
        let blob = gz.finish().unwrap();
        let rec = store
            .create(None, &Digest::of(&tar), &blob[..], &opts())
            .unwrap();
        assert!(store.diff_dir(&rec.chain_id).join("x").exists());
        store.remove(&rec.chain_id).unwrap();
        assert!(store.get(&rec.chain_id).unwrap().is_none());
    }
}
