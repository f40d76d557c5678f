//! Where the files of an archive or layout come from, and where new blobs
//! go. A tar stream cannot be read out of order and `manifest.json` often
//! comes last, so [`spool`] first takes every member in: blobs named by
//! their digest straight into the BlobStore (verified there and then), small
//! metadata into memory, other large members into the BlobStore under the
//! digest computed while writing. A layout directory needs no spooling
//! ([`DirSource`]). Both answer the same [`Source`] questions, so the
//! Docker and OCI readers do not care which they read from.
//!
//! Member names are checked before anything else happens: an absolute name
//! or a `..` component refuses the whole archive, and link targets must stay
//! inside it. Nothing is ever written under a member's name, only by digest.
//!
//! [`Stash`] remembers which blobs a load added to the store, so that a
//! failed load takes them away again and a successful one keeps only those
//! its images use.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use hutch_storage::blobs::{BlobError, BlobStore};
use hutch_storage::digest::{Digest, DigestReader};

use super::error::{ArchiveError, blob_err, io_err};
use super::layer;

/// Manifests, configs, `index.json` and `manifest.json` larger than this are
/// refused (c/image's limit for manifests and configs), so that a hostile
/// archive cannot make a load hold gigabytes in memory.
pub(crate) const METADATA_LIMIT: u64 = 4 << 20;

/// Members without a digest in their name are held in memory up to this
/// total; past it they go to the store.
const INLINE_BUDGET: u64 = 64 << 20;

/// How many symbolic links a member reference may pass through.
const MAX_LINK_HOPS: usize = 16;

/// The canonical form of a member name: no leading `./`, no `.` or empty
/// components, no trailing slash. `Err` carries why the name is refused.
pub(crate) fn normalize(raw: &str) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("empty name");
    }
    if raw.starts_with('/') {
        return Err("absolute path");
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` component"),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a symbolic link's target against the directory of the link, as
/// extraction would; `..` is allowed while it stays inside the archive
/// (c/image writes `<id>/layer.tar -> ../<diffid>.tar`).
fn resolve_symlink(link: &str, target: &str) -> Result<String, &'static str> {
    if target.starts_with('/') {
        return Err("absolute link target");
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("link target escapes the archive");
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err("link to the archive root");
    }
    Ok(parts.join("/"))
}

/// The digest a member's name promises, if any: `blobs/sha256/<hex>` (OCI
/// layout) and `<hex>.json` (a config, whose name is its digest in both
/// Docker and Podman archives) are binding; `<hex>.tar` is Podman's name for
/// an uncompressed layer by diff_id, but other writers may put something
/// else there, so it is only a hint.
enum NamedDigest {
    Binding(Digest),
    Hint(Digest),
    None,
}

fn named_digest(name: &str) -> NamedDigest {
    let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
    if dir == "blobs/sha256" || dir.ends_with("/blobs/sha256") {
        return Digest::from_hex(file).map_or(NamedDigest::None, NamedDigest::Binding);
    }
    if let Some(hex) = file.strip_suffix(".json")
        && let Ok(d) = Digest::from_hex(hex)
    {
        return NamedDigest::Binding(d);
    }
    if let Some(hex) = file.strip_suffix(".tar")
        && let Ok(d) = Digest::from_hex(hex)
    {
        return NamedDigest::Hint(d);
    }
    NamedDigest::None
}

/// Blobs a load added to the store. Dropped without [`Stash::commit`], it
/// removes them all: a failed load leaves no trace it can know to be its own.
pub(crate) struct Stash<'a> {
    pub(crate) blobs: &'a BlobStore,
    created: Vec<Digest>,
    committed: bool,
}

impl<'a> Stash<'a> {
    pub(crate) fn new(blobs: &'a BlobStore) -> Self {
        Stash {
            blobs,
            created: Vec::new(),
            committed: false,
        }
    }

    /// Stores `reader` as the blob `expected`, refusing other content. When
    /// the store already has that blob the content is still hashed, so that
    /// a corrupt archive fails whether or not its blobs are known.
    pub(crate) fn put_verified(
        &mut self,
        reader: impl Read,
        expected: &Digest,
        what: &str,
    ) -> Result<u64, ArchiveError> {
        if self.blobs.contains(expected) {
            let mut hashing = DigestReader::new(reader);
            io::copy(&mut hashing, &mut io::sink()).map_err(|source| ArchiveError::Read {
                what: what.to_owned(),
                source,
            })?;
            let (actual, size) = hashing.finish();
            if actual != *expected {
                return Err(ArchiveError::Blob {
                    what: what.to_owned(),
                    source: BlobError::Mismatch {
                        expected: expected.clone(),
                        actual,
                        size,
                    },
                });
            }
            return Ok(size);
        }
        let (digest, size) = self
            .blobs
            .put(reader, Some(expected))
            .map_err(blob_err(what))?;
        self.created.push(digest);
        Ok(size)
    }

    fn track(&mut self, digest: Digest) {
        self.created.push(digest);
    }

    /// Keeps the blobs in `keep` and removes the other blobs this load
    /// added (metadata files, compressed copies of layers it stored
    /// decompressed).
    pub(crate) fn commit(mut self, keep: &HashSet<Digest>) {
        self.committed = true;
        for d in &self.created {
            if !keep.contains(d) {
                // Best effort: a blob left behind is garbage for a later
                // prune, never a wrong image.
                let _ = self.blobs.remove(d);
            }
        }
    }
}

impl Drop for Stash<'_> {
    fn drop(&mut self) {
        if !self.committed {
            for d in &self.created {
                let _ = self.blobs.remove(d);
            }
        }
    }
}

/// The files an image reader needs, by name relative to the archive or
/// layout root.
pub(crate) trait Source {
    /// How errors name the file: "archive member x" or a path.
    fn describe(&self, name: &str) -> String;
    fn exists(&self, name: &str) -> bool;
    /// The whole file, at most [`METADATA_LIMIT`] bytes.
    fn read_small(&self, name: &str, referenced_by: &str) -> Result<Vec<u8>, ArchiveError>;
    fn open(&self, name: &str, referenced_by: &str) -> Result<Box<dyn Read + '_>, ArchiveError>;
    /// Puts the file into the store as the blob `expected`, refusing other
    /// content; returns its size.
    fn store(
        &self,
        name: &str,
        expected: &Digest,
        stash: &mut Stash,
        referenced_by: &str,
    ) -> Result<u64, ArchiveError>;
}

#[derive(Debug)]
enum Member {
    Inline(Vec<u8>),
    Stored {
        digest: Digest,
        size: u64,
    },
    /// A symbolic or hard link, target already resolved to a member name.
    Link(String),
}

/// A tar archive taken in whole, members by canonical name.
pub(crate) struct Spool {
    blobs: BlobStore,
    members: BTreeMap<String, Member>,
}

/// Reads the tar stream `input` (itself possibly gzip- or zstd-compressed,
/// as `docker save | gzip` makes it) into the store and memory.
pub(crate) fn spool(input: impl Read, stash: &mut Stash) -> Result<Spool, ArchiveError> {
    let input = layer::decompressed(input, "the archive")?;
    let mut archive = tar::Archive::new(input);
    let mut members = BTreeMap::new();
    let mut inline_left = INLINE_BUDGET;
    let entries = archive.entries().map_err(|source| ArchiveError::Tar {
        member: None,
        source,
    })?;
    let mut last: Option<String> = None;
    for entry in entries {
        let mut entry = entry.map_err(|source| ArchiveError::Tar {
            member: last.as_ref().map(|l| format!("after {l}")),
            source,
        })?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let hostile = |reason| ArchiveError::HostileName {
            member: raw.clone(),
            reason,
        };
        let name = normalize(&raw).map_err(hostile)?;
        last = Some(raw.clone());
        let kind = entry.header().entry_type();
        let link_target = || -> Result<String, ArchiveError> {
            entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .ok_or_else(|| hostile("link without a target"))
        };
        let member = match kind {
            tar::EntryType::Directory => continue,
            tar::EntryType::Symlink => {
                Member::Link(resolve_symlink(&name, &link_target()?).map_err(hostile)?)
            }
            // Hard link targets name a member from the archive root.
            tar::EntryType::Link => Member::Link(normalize(&link_target()?).map_err(hostile)?),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if name.is_empty() {
                    return Err(hostile("a file named as the archive root"));
                }
                spool_file(&mut entry, &name, stash, &mut inline_left)?
            }
            // Devices, fifos and the like are never image content: skipped,
            // and a reference to one fails as a missing member.
            _ => continue,
        };
        members.insert(name, member);
    }
    Ok(Spool {
        blobs: stash.blobs.clone(),
        members,
    })
}

fn spool_file(
    entry: &mut tar::Entry<impl Read>,
    name: &str,
    stash: &mut Stash,
    inline_left: &mut u64,
) -> Result<Member, ArchiveError> {
    let what = format!("archive member {name}");
    let size = entry.size();
    let named = named_digest(name);
    if let NamedDigest::Binding(digest) = named {
        let size = stash.put_verified(entry, &digest, &what)?;
        return Ok(Member::Stored { digest, size });
    }
    let read_err = |source| ArchiveError::Tar {
        member: Some(name.to_owned()),
        source,
    };
    if size <= METADATA_LIMIT && size <= *inline_left {
        *inline_left -= size;
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).map_err(read_err)?;
        return Ok(Member::Inline(data));
    }
    let hint = match named {
        NamedDigest::Hint(d) => Some(d),
        _ => None,
    };
    let known_before = hint.as_ref().map(|d| stash.blobs.contains(d));
    let (digest, size) = stash.blobs.put(entry, None).map_err(blob_err(&what))?;
    // Only a blob whose digest was predicted and absent before is certainly
    // this load's own; anything else may belong to an image already stored,
    // so it stays (as garbage for a prune at worst).
    if known_before == Some(false) && hint.as_ref() == Some(&digest) {
        stash.track(digest.clone());
    }
    Ok(Member::Stored { digest, size })
}

/// A member with links followed.
enum Resolved<'a> {
    Inline(&'a [u8]),
    Stored { digest: &'a Digest, size: u64 },
}

impl Spool {
    fn resolve(&self, name: &str, referenced_by: &str) -> Result<Resolved<'_>, ArchiveError> {
        let mut current = name;
        for _ in 0..MAX_LINK_HOPS {
            match self.members.get(current) {
                Some(Member::Link(target)) => current = target,
                Some(Member::Inline(data)) => return Ok(Resolved::Inline(data)),
                Some(Member::Stored { digest, size }) => {
                    return Ok(Resolved::Stored {
                        digest,
                        size: *size,
                    });
                }
                None => {
                    return Err(ArchiveError::MissingMember {
                        name: current.to_owned(),
                        referenced_by: referenced_by.to_owned(),
                    });
                }
            }
        }
        Err(ArchiveError::LinkLoop {
            member: name.to_owned(),
        })
    }
}

impl Source for Spool {
    fn describe(&self, name: &str) -> String {
        format!("archive member {name}")
    }

    fn exists(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    fn read_small(&self, name: &str, referenced_by: &str) -> Result<Vec<u8>, ArchiveError> {
        match self.resolve(name, referenced_by)? {
            Resolved::Inline(data) => Ok(data.to_vec()),
            Resolved::Stored { digest, size } => {
                if size > METADATA_LIMIT {
                    return Err(ArchiveError::TooLarge {
                        what: self.describe(name),
                        size,
                        limit: METADATA_LIMIT,
                    });
                }
                self.blobs
                    .read(digest)
                    .map_err(blob_err(self.describe(name)))
            }
        }
    }

    fn open(&self, name: &str, referenced_by: &str) -> Result<Box<dyn Read + '_>, ArchiveError> {
        match self.resolve(name, referenced_by)? {
            Resolved::Inline(data) => Ok(Box::new(data)),
            Resolved::Stored { digest, .. } => Ok(Box::new(
                self.blobs
                    .open_blob(digest)
                    .map_err(blob_err(self.describe(name)))?,
            )),
        }
    }

    fn store(
        &self,
        name: &str,
        expected: &Digest,
        stash: &mut Stash,
        referenced_by: &str,
    ) -> Result<u64, ArchiveError> {
        match self.resolve(name, referenced_by)? {
            Resolved::Inline(data) => stash.put_verified(data, expected, &self.describe(name)),
            // Already in the store under the digest its content has.
            Resolved::Stored { digest, size } if digest == expected => Ok(size),
            Resolved::Stored { digest, size } => Err(ArchiveError::Blob {
                what: self.describe(name),
                source: BlobError::Mismatch {
                    expected: expected.clone(),
                    actual: digest.clone(),
                    size,
                },
            }),
        }
    }
}

/// A layout on disk (`oci:` or `dir:`). Names come from hutch itself
/// (`blobs/sha256/<hex>`, `manifest.json`), never from the directory's
/// content, so joining them to the root cannot escape it.
pub(crate) struct DirSource {
    root: PathBuf,
}

impl DirSource {
    pub(crate) fn new(root: &Path) -> Self {
        DirSource {
            root: root.to_owned(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn open_file(&self, name: &str, referenced_by: &str) -> Result<File, ArchiveError> {
        let path = self.path(name);
        File::open(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ArchiveError::MissingMember {
                    name: path.display().to_string(),
                    referenced_by: referenced_by.to_owned(),
                }
            } else {
                io_err("opening", &path)(e)
            }
        })
    }
}

impl Source for DirSource {
    fn describe(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn exists(&self, name: &str) -> bool {
        self.path(name).is_file()
    }

    fn read_small(&self, name: &str, referenced_by: &str) -> Result<Vec<u8>, ArchiveError> {
        let path = self.path(name);
        let file = self.open_file(name, referenced_by)?;
        let mut data = Vec::new();
        // One byte past the limit tells "too large" from "exactly the limit".
        file.take(METADATA_LIMIT + 1)
            .read_to_end(&mut data)
            .map_err(io_err("reading", &path))?;
        if data.len() as u64 > METADATA_LIMIT {
            return Err(ArchiveError::TooLarge {
                what: path.display().to_string(),
                size: data.len() as u64,
                limit: METADATA_LIMIT,
            });
        }
        Ok(data)
    }

    fn open(&self, name: &str, referenced_by: &str) -> Result<Box<dyn Read + '_>, ArchiveError> {
        Ok(Box::new(self.open_file(name, referenced_by)?))
    }

    fn store(
        &self,
        name: &str,
        expected: &Digest,
        stash: &mut Stash,
        referenced_by: &str,
    ) -> Result<u64, ArchiveError> {
        let file = self.open_file(name, referenced_by)?;
        stash.put_verified(file, expected, &self.describe(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("./manifest.json"), Ok("manifest.json".into()));
        assert_eq!(normalize("blobs//sha256/./x/"), Ok("blobs/sha256/x".into()));
        assert_eq!(normalize("./"), Ok(String::new()));
        assert!(normalize("/etc/passwd").is_err());
        assert!(normalize("a/../../b").is_err());
        assert!(normalize("..").is_err());
        assert!(normalize("").is_err());
    }

    #[test]
    fn resolves_symlinks_inside_the_archive_only() {
        assert_eq!(
            resolve_symlink("abc/layer.tar", "../def.tar"),
            Ok("def.tar".into())
        );
        assert_eq!(
            resolve_symlink("abc/layer.tar", "./x/../y"),
            Ok("abc/y".into())
        );
        assert!(resolve_symlink("abc/layer.tar", "../../etc/passwd").is_err());
        assert!(resolve_symlink("layer.tar", "/etc/passwd").is_err());
        assert!(resolve_symlink("abc/layer.tar", "..").is_err());
    }

    #[test]
    fn names_that_promise_a_digest() {
        let hex = "a".repeat(64);
        assert!(matches!(
            named_digest(&format!("blobs/sha256/{hex}")),
            NamedDigest::Binding(_)
        ));
        assert!(matches!(
            named_digest(&format!("{hex}.json")),
            NamedDigest::Binding(_)
        ));
        assert!(matches!(
            named_digest(&format!("{hex}.tar")),
            NamedDigest::Hint(_)
        ));
        assert!(matches!(
            named_digest(&format!("{hex}/layer.tar")),
            NamedDigest::None
        ));
        assert!(matches!(named_digest("manifest.json"), NamedDigest::None));
    }

    #[test]
    fn hostile_members_refuse_the_archive() {
        use super::super::testutil::{blob_count, raw_member_tar, store};
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        type Case<'a> = (&'a [u8], tar::EntryType, Option<&'a [u8]>);
        let cases: [Case; 5] = [
            (b"../evil", Regular, None),
            (b"/etc/passwd", Regular, None),
            (b"a/../../b", Directory, None),
            (b"x/layer.tar", Symlink, Some(b"../../etc/shadow")),
            (b"y", Link, Some(b"/etc/shadow")),
        ];
        for (name, kind, link) in cases {
            let archive = raw_member_tar(name, kind, link);
            let (dir, blobs) = store();
            let err = super::super::load(&archive[..], &blobs).unwrap_err();
            assert!(matches!(err, ArchiveError::HostileName { .. }), "{err:?}");
            let shown = String::from_utf8_lossy(name).into_owned();
            assert!(err.to_string().contains(&shown), "{err}");
            assert_eq!(blob_count(dir.path()), 0);
        }
    }

    #[test]
    fn failed_load_removes_what_it_added() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let kept = blobs.put_bytes(b"already there", None).unwrap();
        {
            let mut stash = Stash::new(&blobs);
            stash
                .put_verified(&b"new"[..], &Digest::of(b"new"), "x")
                .unwrap();
            stash
                .put_verified(&b"already there"[..], &kept, "y")
                .unwrap();
        }
        assert!(!blobs.contains(&Digest::of(b"new")));
        assert!(blobs.contains(&kept));
    }
}
