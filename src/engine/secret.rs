//! Secrets with Podman's `file` driver: each secret's data is a file of its
//! own (0600) in `<graphroot>/secrets/filedriver` (0700), and the records
//! (name, ID, times, labels) are one JSON index, `secrets.json`, replaced by
//! rename while `secrets.lock` is held. A `kill -9` at any point leaves the
//! old index or the new one, never half of one: create writes the data
//! before the index names it, remove drops the record before the data, so
//! the worst a crash leaves is an orphan data file no record points to.
//!
//! Not here: the `pass` and `shell` drivers, `secret create --replace`.

use std::collections::BTreeMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};

use crate::engine::{Error, Result};

/// Podman's bound on a secret's data (`maxSecretSize`).
pub const MAX_SECRET_BYTES: usize = 512_000;
/// Podman's bound on a secret's name.
const MAX_NAME_LEN: usize = 253;
/// The index holds at most this many bytes when read back: far more than
/// any real set of records, small enough to read at once.
const MAX_INDEX_BYTES: u64 = 64 << 20;
/// Podman's secret IDs are 25 hex digits.
const ID_LEN: usize = 25;
/// The only driver: data in files under the graph root.
pub const FILE_DRIVER: &str = "file";

/// One secret's record (the data is not in it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Secret {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub created_ns: i64,
    pub updated_ns: i64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--driver-opts`: kept and shown as Podman keeps them; the file
    /// driver itself reads none of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_options: BTreeMap<String, String>,
}

/// The secrets of one graph root.
pub struct SecretStore {
    dir: PathBuf,
}

/// A held `secrets.lock`; released on drop (and by the kernel when the
/// holder dies).
struct IndexLock(#[allow(dead_code)] File);

impl SecretStore {
    pub fn new(graphroot: &Path) -> SecretStore {
        SecretStore {
            dir: graphroot.join("secrets"),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("filedriver")
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("secrets.json")
    }

    fn make_dirs(&self) -> Result<()> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(self.data_dir())
            .map_err(|e| io_error(e, "creating", &self.data_dir()))
    }

    fn lock(&self) -> Result<IndexLock> {
        self.make_dirs()?;
        let path = self.dir.join("secrets.lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_error(e, "opening", &path))?;
        loop {
            match flock(&file, FlockOperation::LockExclusive) {
                Ok(()) => return Ok(IndexLock(file)),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(io_error(e.into(), "locking", &path)),
            }
        }
    }

    fn load(&self) -> Result<Vec<Secret>> {
        let path = self.index_path();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(e, "opening", &path)),
        };
        let mut text = Vec::new();
        file.take(MAX_INDEX_BYTES)
            .read_to_end(&mut text)
            .map_err(|e| io_error(e, "reading", &path))?;
        serde_json::from_slice(&text).map_err(|e| {
            Error::internal(format!(
                "reading secret index {}: {e} (move it aside to start afresh)",
                path.display()
            ))
        })
    }

    fn save(&self, secrets: &[Secret]) -> Result<()> {
        let text = serde_json::to_vec(secrets)
            .map_err(|e| Error::internal(format!("encoding secret index: {e}")))?;
        write_atomic(&self.index_path(), &text)
    }

    /// All secrets, oldest first.
    pub fn list(&self) -> Result<Vec<Secret>> {
        let _lock = self.lock()?;
        self.load()
    }

    /// The secret a name, a full ID or a unique ID prefix names.
    pub fn lookup(&self, name_or_id: &str) -> Result<Secret> {
        let _lock = self.lock()?;
        find(&self.load()?, name_or_id).cloned()
    }

    pub fn exists(&self, name_or_id: &str) -> Result<bool> {
        match self.lookup(name_or_id) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == crate::engine::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stores a new secret; `data` is what the front end read (at most
    /// [`MAX_SECRET_BYTES`]).
    pub fn create(
        &self,
        name: &str,
        driver: &str,
        data: &[u8],
        labels: BTreeMap<String, String>,
        driver_options: BTreeMap<String, String>,
    ) -> Result<Secret> {
        validate_name(name)?;
        if driver != FILE_DRIVER {
            return Err(Error::bad_input(format!(
                "secret driver {driver:?} is not supported: hutch has the file driver only"
            )));
        }
        check_size(data.len())?;
        let _lock = self.lock()?;
        let mut all = self.load()?;
        if all.iter().any(|s| s.name == name) {
            return Err(Error::conflict(format!("{name}: secret name in use")));
        }
        let id = loop {
            let id = crate::engine::state::names::generate_id()
                .map_err(|e| Error::internal(format!("generating a secret ID: {e}")))?;
            let id = id[..ID_LEN].to_owned();
            if !all.iter().any(|s| s.id == id) {
                break id;
            }
        };
        write_atomic(&self.data_dir().join(&id), data)?;
        let now = crate::host::time::now_ns();
        let secret = Secret {
            id,
            name: name.to_owned(),
            driver: driver.to_owned(),
            created_ns: now,
            updated_ns: now,
            labels,
            driver_options,
        };
        all.push(secret.clone());
        self.save(&all)?;
        Ok(secret)
    }

    /// Removes a secret and its data; returns its record.
    pub fn remove(&self, name_or_id: &str) -> Result<Secret> {
        let _lock = self.lock()?;
        let mut all = self.load()?;
        let secret = find(&all, name_or_id)?.clone();
        all.retain(|s| s.id != secret.id);
        self.save(&all)?;
        let path = self.data_dir().join(&secret.id);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_error(e, "removing", &path));
            }
            _ => {}
        }
        Ok(secret)
    }

    /// A secret's data, for mounting it into a container.
    pub fn data(&self, secret: &Secret) -> Result<Vec<u8>> {
        let path = self.data_dir().join(&secret.id);
        let file = File::open(&path).map_err(|e| io_error(e, "opening", &path))?;
        let mut data = Vec::new();
        file.take(MAX_SECRET_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| io_error(e, "reading", &path))?;
        Ok(data)
    }

    /// `secret inspect`'s object, Podman's shape; never the data.
    pub fn inspect_view(&self, s: &Secret) -> serde_json::Value {
        let mut options = s.driver_options.clone();
        options.insert(
            "path".to_owned(),
            self.data_dir().to_string_lossy().into_owned(),
        );
        serde_json::json!({
            "ID": s.id,
            "CreatedAt": crate::engine::container::inspect::rfc3339_nano(Some(s.created_ns)),
            "UpdatedAt": crate::engine::container::inspect::rfc3339_nano(Some(s.updated_ns)),
            "Spec": {
                "Name": s.name,
                "Driver": {
                    "Name": s.driver,
                    "Options": options,
                },
                "Labels": s.labels,
            },
        })
    }
}

/// Podman's rule for the data size, with its message.
pub fn check_size(len: usize) -> Result<()> {
    if len == 0 || len > MAX_SECRET_BYTES {
        return Err(Error::bad_input(format!(
            "secret data must be larger than 0 and less than {MAX_SECRET_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Podman's secret name rule: 1 to 253 characters of `[A-Za-z0-9_.-]`, not
/// starting with a separator (the name also becomes a file name under
/// /run/secrets, so no `/`).
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(format!(
            "secret name {name:?} is invalid: use 1 to {MAX_NAME_LEN} of [a-zA-Z0-9_.-], starting with a letter or digit"
        )))
    }
}

fn find<'a>(all: &'a [Secret], name_or_id: &str) -> Result<&'a Secret> {
    if let Some(s) = all
        .iter()
        .find(|s| s.name == name_or_id || s.id == name_or_id)
    {
        return Ok(s);
    }
    let mut prefixed = all
        .iter()
        .filter(|s| !name_or_id.is_empty() && s.id.starts_with(name_or_id));
    match (prefixed.next(), prefixed.next()) {
        (Some(s), None) => Ok(s),
        (Some(_), Some(_)) => Err(Error::conflict(format!(
            "more than one secret has an ID starting with {name_or_id:?}: give more of it"
        ))),
        _ => Err(Error::not_found(format!(
            "no secret with name or id {name_or_id:?}: no such secret"
        ))),
    }
}

fn io_error(e: io::Error, what: &str, path: &Path) -> Error {
    Error::internal(format!("{what} {}: {e}", path.display()))
}

/// Writes `path` whole or not at all: a temporary beside it, synced, then
/// renamed over it.
fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| io_error(e, "writing", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store() -> (PathBuf, SecretStore) {
        let dir = std::env::temp_dir().join(format!(
            "hutch-secret-test-{}-{}",
            std::process::id(),
            crate::host::time::now_ns()
        ));
        let s = SecretStore::new(&dir);
        (dir, s)
    }

    #[test]
    fn create_lookup_remove() {
        let (dir, s) = store();
        let a = s
            .create("a", "file", b"abc", BTreeMap::new(), BTreeMap::new())
            .unwrap();
        assert_eq!(a.id.len(), ID_LEN);
        assert_eq!(s.lookup("a").unwrap(), a);
        assert_eq!(s.lookup(&a.id[..6]).unwrap(), a);
        assert_eq!(s.data(&a).unwrap(), b"abc");
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.join("secrets/filedriver")), 0o700);
        assert_eq!(mode(dir.join("secrets/filedriver").join(&a.id)), 0o600);
        let e = s
            .create("a", "file", b"x", BTreeMap::new(), BTreeMap::new())
            .unwrap_err();
        assert_eq!(e.kind(), crate::engine::ErrorKind::Conflict);
        s.remove("a").unwrap();
        assert!(!s.exists("a").unwrap());
        assert!(!dir.join("secrets/filedriver").join(&a.id).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_input_refused() {
        let (dir, s) = store();
        for (name, data) in [("a/b", &b"x"[..]), ("-a", b"x"), ("ok", b"")] {
            let e = s
                .create(name, "file", data, BTreeMap::new(), BTreeMap::new())
                .unwrap_err();
            assert_eq!(e.kind(), crate::engine::ErrorKind::BadInput, "{name}");
        }
        let big = vec![0u8; MAX_SECRET_BYTES + 1];
        assert!(
            s.create("big", "file", &big, BTreeMap::new(), BTreeMap::new())
                .is_err()
        );
        assert!(
            s.create("d", "pass", b"x", BTreeMap::new(), BTreeMap::new())
                .is_err()
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
