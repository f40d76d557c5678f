//! Applying an OCI layer (a tar stream, plain or compressed) to a layer
//! directory.
//!
//! Entries are turned into files, directories, symlinks, hardlinks and FIFOs;
//! OCI whiteouts into the form the storage driver reads (overlay whiteouts, or
//! deletions for vfs); ownership is applied by `chown` from inside the user
//! namespace, where the kernel maps container ids onto the subuid range.
//!
//! **Nothing is ever written outside the layer directory**, whatever the
//! archive holds. Every name is split into components and refused if it is
//! absolute or has a `..`; parent directories are opened beneath a directory
//! fd of the layer with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (or
//! a walk of `O_NOFOLLOW` opens), and the entry is made with `*at` calls on
//! that fd that do not follow a final symlink. A parent that is a symlink is
//! refused rather than followed inside the root, as the issue asks: layer
//! diffs never need to write through one, and refusing keeps the rule
//! simple to check. Symlink *targets* are free (an absolute one points into
//! the container's root at run time); only writing through them is refused.
//!
//! Not done here: digest checks (the caller hashes the decompressed stream,
//! which [`apply_layer`] reads to its end), locking and atomically publishing
//! the layer, and choosing the driver's options.

mod compression;
mod fsops;
#[cfg(test)]
mod tests;
mod whiteout;

pub use compression::{Compression, decompress, detect_compression};

use std::cmp::Reverse;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags, fchmod, fchown,
    fsetxattr, futimens, linkat, makedev, mknodat, openat, symlinkat, utimensat,
};
use rustix::io::Errno;
use tar::EntryType;

use fsops::{ResolveError, clear, components, file_type, join, lstat_at, open_dir, os};

/// Opaque-directory xattr for native overlay in a user namespace (mounted
/// with `userxattr`, Linux 5.11+).
pub const USER_OVERLAY_OPAQUE: &str = "user.overlay.opaque";
/// Opaque-directory xattr for rootful overlay.
pub const TRUSTED_OVERLAY_OPAQUE: &str = "trusted.overlay.opaque";

/// How OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutFormat {
    /// For a layer that overlayfs (or fuse-overlayfs) stacks: `.wh.NAME`
    /// becomes a character device 0:0 named NAME, an opaque directory gets
    /// `opaque_xattr` = `y`.
    Overlay { opaque_xattr: &'static str },
    /// For vfs, where a layer is applied onto a copy of the layers below it:
    /// `.wh.NAME` removes NAME, an opaque directory loses what it had before
    /// this layer.
    Naive,
    /// `.wh.` names are ordinary files (`cp`: a user's archive, not a layer).
    Literal,
}

/// What happens to the owners recorded in the tar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// chown to the tar's uid/gid; inside the user namespace these are
    /// container ids that the kernel maps onto the subuid range. An id that
    /// is not mapped is an error.
    Preserve,
    /// Single-id mode: chown as for `Preserve`, and where that fails with
    /// EINVAL or EPERM keep the current owner (Podman's ignore_chown_errors).
    Collapse,
    /// Never chown.
    Ignore,
    /// chown everything to these ids, whatever the tar says (`cp` into a
    /// container gives the files to the container's user, as Podman does).
    Fixed { uid: u32, gid: u32 },
}

/// How [`apply_layer`] writes a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    pub whiteouts: WhiteoutFormat,
    pub ownership: Ownership,
    /// Skip character and block devices, which a rootless user cannot make.
    pub skip_devices: bool,
}

/// What applying a layer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Tar entries processed (whiteouts and skipped devices included).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// Device nodes skipped because of `skip_devices`.
    pub skipped_devices: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("opening layer directory {}: {source}", path.display())]
    Dest { path: PathBuf, source: io::Error },
    #[error("reading layer tar: {0}")]
    Read(#[source] io::Error),
    #[error("layer entry {}: refused: {reason}", entry.display())]
    Unsafe { entry: PathBuf, reason: String },
    #[error("layer entry {}: {op}: {source}", entry.display())]
    Entry {
        entry: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    #[error(
        "layer entry {}: creating the overlay whiteout (character device 0:0): {source} \
         (this host cannot hold overlay layers; use the vfs driver)",
        entry.display()
    )]
    Whiteout { entry: PathBuf, source: io::Error },
    #[error("layer entry {}: unsupported tar entry type {kind:?}", entry.display())]
    Unsupported { entry: PathBuf, kind: EntryType },
}

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// Applies the uncompressed layer tar `tar_stream` to the directory `dest`
/// (wrap a blob with [`decompress`] first). The stream is read to its end,
/// past the tar's end-of-archive blocks, so that a hashing reader around it
/// sees the whole diff.
pub fn apply_layer<R: Read>(
    tar_stream: R,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<LayerStats, ExtractError> {
    let root = rustix::fs::open(
        dest,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ExtractError::Dest {
        path: dest.to_owned(),
        source: e.into(),
    })?;
    apply_at(tar_stream, root, opts)
}

/// [`apply_layer`] into an open directory: `cp` resolves its destination
/// inside a container's root first and must not look it up again by path.
pub fn apply_layer_at<R: Read>(
    tar_stream: R,
    dest: BorrowedFd<'_>,
    opts: &ApplyOptions,
) -> Result<LayerStats, ExtractError> {
    let root = rustix::fs::openat(
        dest,
        ".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ExtractError::Dest {
        path: PathBuf::from("."),
        source: e.into(),
    })?;
    apply_at(tar_stream, root, opts)
}

fn apply_at<R: Read>(
    tar_stream: R,
    root: OwnedFd,
    opts: &ApplyOptions,
) -> Result<LayerStats, ExtractError> {
    let mut layer = Extractor {
        root,
        opts,
        touched: HashSet::new(),
        whited_out: HashSet::new(),
        dirs: Vec::new(),
        parent_cache: None,
        buf: vec![0; 256 * 1024],
        stats: LayerStats::default(),
    };
    let mut archive = tar::Archive::new(tar_stream);
    for entry in archive.entries().map_err(ExtractError::Read)? {
        let mut entry = entry.map_err(ExtractError::Read)?;
        layer.apply_entry(&mut entry)?;
    }
    layer.finish_dirs()?;
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(ExtractError::Read)?;
    Ok(layer.stats)
}

/// Turns the error of an operation on an entry into an [`ExtractError`].
trait EntryOp<T> {
    fn op(self, entry: &Path, op: &'static str) -> Result<T, ExtractError>;
}

impl<T, E: Into<io::Error>> EntryOp<T> for Result<T, E> {
    fn op(self, entry: &Path, op: &'static str) -> Result<T, ExtractError> {
        self.map_err(|e| ExtractError::Entry {
            entry: entry.to_owned(),
            op,
            source: e.into(),
        })
    }
}

fn refuse(entry: &Path, reason: impl Into<String>) -> ExtractError {
    ExtractError::Unsafe {
        entry: entry.to_owned(),
        reason: reason.into(),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn child_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        [dir, b"/", name].concat()
    }
}

/// The metadata of one entry that outlives reading its header.
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: Timespec,
    atime: Option<Timespec>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
        let header = entry.header();
        // The tar crate has already applied PAX uid/gid to the header.
        let mut meta = Meta {
            mode: header.mode()? & 0o7777,
            uid: header.uid()?,
            gid: header.gid()?,
            mtime: Timespec {
                tv_sec: i64::try_from(header.mtime()?).unwrap_or(i64::MAX),
                tv_nsec: 0,
            },
            atime: None,
            xattrs: Vec::new(),
        };
        if let Some(extensions) = entry.pax_extensions()? {
            // The tar crate splits records at newlines, so a record whose
            // value holds one (a binary xattr can) comes back as an error:
            // such a record is lost rather than failing the layer.
            for ext in extensions.flatten() {
                match ext.key_bytes() {
                    b"mtime" => meta.mtime = pax_time(ext.value_bytes()).unwrap_or(meta.mtime),
                    b"atime" => meta.atime = pax_time(ext.value_bytes()),
                    key => {
                        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                            meta.xattrs
                                .push((name.to_vec(), ext.value_bytes().to_vec()));
                        }
                    }
                }
            }
        }
        Ok(meta)
    }

    fn times(&self) -> Timestamps {
        Timestamps {
            last_access: self.atime.unwrap_or(self.mtime),
            last_modification: self.mtime,
        }
    }
}

/// A PAX time, `SECONDS[.FRACTION]`, possibly negative.
fn pax_time(value: &[u8]) -> Option<Timespec> {
    let text = std::str::from_utf8(value).ok()?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut tv_sec: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = frac.bytes().chain(std::iter::repeat(b'0')).take(9);
    let mut tv_nsec = digits.try_fold(0i64, |n, d| Some(n * 10 + i64::from(d - b'0')))?;
    if secs.starts_with('-') && tv_nsec > 0 {
        tv_sec -= 1;
        tv_nsec = 1_000_000_000 - tv_nsec;
    }
    Some(Timespec { tv_sec, tv_nsec })
}

/// A directory whose mode and times are set once every entry is in: its
/// children change its mtime, and a read-only mode would keep its non-root
/// owner from adding them.
struct DirFixup {
    entry: PathBuf,
    path: Vec<u8>,
    mode: u32,
    times: Timestamps,
}

struct Extractor<'o> {
    /// `O_PATH` fd of the layer directory; every lookup starts here.
    root: OwnedFd,
    opts: &'o ApplyOptions,
    /// Paths this layer wrote, with their ancestors: what survives a
    /// whiteout or opaque marker of the same layer.
    touched: HashSet<Vec<u8>>,
    /// Paths this layer made overlay whiteouts for.
    whited_out: HashSet<Vec<u8>>,
    dirs: Vec<DirFixup>,
    /// The last parent directory resolved: consecutive entries mostly share
    /// one. Dropped whenever a directory is removed.
    parent_cache: Option<(Vec<u8>, Rc<OwnedFd>)>,
    buf: Vec<u8>,
    stats: LayerStats,
}

impl Extractor<'_> {
    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ExtractError> {
        let raw = entry.path_bytes().into_owned();
        let name = PathBuf::from(OsString::from_vec(raw.clone()));
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        self.stats.entries += 1;
        let parts = components(&raw).map_err(|reason| refuse(&name, reason))?;
        let meta = Meta::read(entry).op(&name, "reading the tar header")?;

        // Old (v7) archives mark directories only by a trailing slash.
        let is_dir = kind == EntryType::Directory
            || (matches!(kind, EntryType::Regular | EntryType::Continuous) && raw.ends_with(b"/"));
        let Some((leaf, dir_parts)) = parts.split_last() else {
            return match is_dir {
                true => self.directory(&name, &parts, &meta),
                false => Err(refuse(&name, "entry would replace the layer root")),
            };
        };
        if leaf.starts_with(WHITEOUT_PREFIX) && self.opts.whiteouts != WhiteoutFormat::Literal {
            return self.whiteout(&name, dir_parts, leaf);
        }
        if is_dir {
            self.directory(&name, &parts, &meta)?;
            self.touch(&parts);
            return Ok(());
        }
        let parent = self.parent(&name, dir_parts)?;
        let parent = parent.as_fd();
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(&name, parent, leaf, &meta, entry)?
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
                    .op(&name, "reading the symlink target")?;
                self.clear(&name, parent, leaf)?;
                symlinkat(os(&target), parent, os(leaf)).op(&name, "creating the symlink")?;
                self.chown(&meta, |u, g| {
                    rustix::fs::chownat(parent, os(leaf), u, g, AtFlags::SYMLINK_NOFOLLOW)
                })
                .op(&name, "changing the owner")?;
                utimensat(parent, os(leaf), &meta.times(), AtFlags::SYMLINK_NOFOLLOW)
                    .op(&name, "setting the times")?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
                    .op(&name, "reading the hardlink target")?;
                self.hardlink(&name, parent, leaf, &target)?;
            }
            EntryType::Char | EntryType::Block if self.opts.skip_devices => {
                self.stats.skipped_devices += 1;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let header = entry.header();
                let (file_type, dev) = match kind {
                    EntryType::Fifo => (FileType::Fifo, makedev(0, 0)),
                    _ => {
                        let major = header.device_major().op(&name, "reading the header")?;
                        let minor = header.device_minor().op(&name, "reading the header")?;
                        let file_type = match kind {
                            EntryType::Char => FileType::CharacterDevice,
                            _ => FileType::BlockDevice,
                        };
                        (file_type, makedev(major.unwrap_or(0), minor.unwrap_or(0)))
                    }
                };
                self.special(&name, parent, leaf, &meta, file_type, dev)?;
            }
            other => {
                return Err(ExtractError::Unsupported {
                    entry: name,
                    kind: other,
                });
            }
        }
        self.touch(&parts);
        Ok(())
    }

    /// Records `parts` and its ancestors as written by this layer.
    fn touch(&mut self, parts: &[&[u8]]) {
        for depth in (1..=parts.len()).rev() {
            // Ancestors of a recorded path are recorded too, so stop at the
            // first one already there.
            if !self.touched.insert(join(&parts[..depth])) {
                break;
            }
        }
    }

    /// The parent directory of an entry, made if missing.
    fn parent(&mut self, entry: &Path, dir_parts: &[&[u8]]) -> Result<Rc<OwnedFd>, ExtractError> {
        let path = join(dir_parts);
        if let Some((cached, fd)) = &self.parent_cache
            && *cached == path
        {
            return Ok(Rc::clone(fd));
        }
        let fd = match fsops::resolve_dir(self.root.as_fd(), dir_parts, true) {
            Ok(Some(fd)) => Rc::new(fd),
            Ok(None) => {
                return Err(io::Error::from(io::ErrorKind::NotFound))
                    .op(entry, "resolving the parent directory");
            }
            Err(ResolveError::Unsafe(reason)) => return Err(refuse(entry, reason)),
            Err(ResolveError::Io(op, e)) => return Err(e).op(entry, op),
        };
        self.parent_cache = Some((path, Rc::clone(&fd)));
        Ok(fd)
    }

    /// Removes what is at `leaf` so that a new node can take its place: never
    /// writing into an existing file keeps hardlinked copies and symlink
    /// targets untouched.
    fn clear(
        &mut self,
        entry: &Path,
        dir: BorrowedFd<'_>,
        leaf: &[u8],
    ) -> Result<(), ExtractError> {
        if clear(dir, leaf).op(entry, "removing the existing path")? {
            self.parent_cache = None;
        }
        Ok(())
    }

    fn chown(
        &self,
        meta: &Meta,
        chown: impl FnOnce(Option<Uid>, Option<Gid>) -> rustix::io::Result<()>,
    ) -> io::Result<()> {
        if self.opts.ownership == Ownership::Ignore {
            return Ok(());
        }
        if let Ownership::Fixed { uid, gid } = self.opts.ownership {
            return chown(Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).map_err(Into::into);
        }
        let result = match (u32::try_from(meta.uid), u32::try_from(meta.gid)) {
            // -1 means "leave unchanged" to chown; no namespace maps it.
            (Ok(uid), Ok(gid)) if uid != u32::MAX && gid != u32::MAX => {
                chown(Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
            }
            _ => Err(Errno::INVAL),
        };
        match result {
            Ok(()) => Ok(()),
            // With a single id mapped, every other owner is unmapped (EINVAL)
            // or not ours to give (EPERM): the file stays the user's.
            Err(Errno::INVAL | Errno::PERM) if self.opts.ownership == Ownership::Collapse => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn set_xattrs(
        &self,
        entry: &Path,
        fd: BorrowedFd<'_>,
        meta: &Meta,
    ) -> Result<(), ExtractError> {
        for (key, value) in &meta.xattrs {
            // An image must not forge whiteouts or opaque directories, and
            // SELinux labels are the runtime's to set, as Podman does.
            // Overlay and fuse-overlayfs metadata would let an image forge
            // whiteouts, opaque directories or owners.
            if key.starts_with(b"trusted.overlay.")
                || key.starts_with(b"user.overlay.")
                || key.starts_with(b"user.fuseoverlayfs.")
                || key.starts_with(b"user.containers.")
                || key.as_slice() == b"security.selinux"
            {
                continue;
            }
            match fsetxattr(fd, os(key), value, XattrFlags::empty()) {
                // Where xattrs are not allowed (trusted.* rootless, a
                // filesystem without user xattrs) the layer still applies.
                Ok(()) | Err(Errno::PERM | Errno::ACCESS | Errno::NOTSUP) => {}
                Err(e) => return Err(e).op(entry, "setting an xattr"),
            }
        }
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        entry: &Path,
        dir: BorrowedFd<'_>,
        leaf: &[u8],
        meta: &Meta,
        data: &mut R,
    ) -> Result<(), ExtractError> {
        self.clear(entry, dir, leaf)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = openat(dir, os(leaf), flags, Mode::from_raw_mode(0o600))
            .op(entry, "creating the file")?;
        let mut file = File::from(fd);
        let written = copy(data, &mut file, &mut self.buf).op(entry, "writing the file")?;
        self.stats.bytes += written;
        // chown clears setuid/setgid and file capabilities, and user xattrs
        // need write permission: chown, xattrs, then the mode.
        self.chown(meta, |u, g| fchown(&file, u, g))
            .op(entry, "changing the owner")?;
        self.set_xattrs(entry, file.as_fd(), meta)?;
        fchmod(&file, Mode::from_raw_mode(meta.mode)).op(entry, "setting the mode")?;
        futimens(&file, &meta.times()).op(entry, "setting the times")
    }

    fn directory(
        &mut self,
        entry: &Path,
        parts: &[&[u8]],
        meta: &Meta,
    ) -> Result<(), ExtractError> {
        let path = join(parts);
        let fd = match parts.split_last() {
            None => open_dir(self.root.as_fd(), b".").op(entry, "opening the layer directory")?,
            Some((leaf, dir_parts)) => {
                let parent = self.parent(entry, dir_parts)?;
                let parent = parent.as_fd();
                let existing = lstat_at(parent, leaf).op(entry, "inspecting the existing path")?;
                if !existing.is_some_and(|st| file_type(&st) == FileType::Directory) {
                    self.clear(entry, parent, leaf)?;
                    rustix::fs::mkdirat(parent, os(leaf), Mode::from_raw_mode(0o700))
                        .op(entry, "creating the directory")?;
                }
                let fd = open_dir(parent, leaf).op(entry, "opening the directory")?;
                if existing.is_none() {
                    // Whatever the umask, the owner must be able to fill it.
                    fchmod(&fd, Mode::from_raw_mode(0o700)).op(entry, "setting the mode")?;
                }
                fd
            }
        };
        self.chown(meta, |u, g| fchown(&fd, u, g))
            .op(entry, "changing the owner")?;
        self.set_xattrs(entry, fd.as_fd(), meta)?;
        if let WhiteoutFormat::Overlay { opaque_xattr } = self.opts.whiteouts
            && self.whited_out.contains(&path)
        {
            // `.wh.d` then `d/` in one layer: the new directory must hide the
            // lower one instead of merging with it.
            fsetxattr(&fd, opaque_xattr, b"y", XattrFlags::empty())
                .op(entry, "setting the opaque xattr")?;
        }
        self.dirs.push(DirFixup {
            entry: entry.to_owned(),
            path,
            mode: meta.mode,
            times: meta.times(),
        });
        Ok(())
    }

    fn hardlink(
        &mut self,
        entry: &Path,
        dir: BorrowedFd<'_>,
        leaf: &[u8],
        target: &[u8],
    ) -> Result<(), ExtractError> {
        let shown = lossy(target);
        let target_parts = components(target)
            .map_err(|reason| refuse(entry, format!("hardlink target `{shown}`: {reason}")))?;
        let Some((target_leaf, target_dir)) = target_parts.split_last() else {
            return Err(refuse(entry, "hardlink to the layer root"));
        };
        let target_parent = match fsops::resolve_dir(self.root.as_fd(), target_dir, false) {
            Ok(Some(fd)) => fd,
            Ok(None) => {
                return Err(io::Error::from(io::ErrorKind::NotFound))
                    .op(entry, "finding the hardlink target");
            }
            Err(ResolveError::Unsafe(reason)) => {
                return Err(refuse(
                    entry,
                    format!("hardlink target `{shown}`: {reason}"),
                ));
            }
            Err(ResolveError::Io(op, e)) => return Err(e).op(entry, op),
        };
        let target_stat = lstat_at(target_parent.as_fd(), target_leaf)
            .op(entry, "finding the hardlink target")?
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
            .op(entry, "finding the hardlink target")?;
        if file_type(&target_stat) == FileType::Directory {
            return Err(refuse(
                entry,
                format!("hardlink target `{shown}` is a directory"),
            ));
        }
        if let Some(st) = lstat_at(dir, leaf).op(entry, "inspecting the existing path")?
            && (st.st_dev, st.st_ino) == (target_stat.st_dev, target_stat.st_ino)
        {
            return Ok(());
        }
        self.clear(entry, dir, leaf)?;
        // No AT_SYMLINK_FOLLOW: a symlink target is linked as the symlink.
        linkat(
            &target_parent,
            os(target_leaf),
            dir,
            os(leaf),
            AtFlags::empty(),
        )
        .op(entry, "creating the hardlink")
    }

    /// FIFOs and device nodes, which are never opened.
    fn special(
        &mut self,
        entry: &Path,
        dir: BorrowedFd<'_>,
        leaf: &[u8],
        meta: &Meta,
        file_type: FileType,
        dev: rustix::fs::Dev,
    ) -> Result<(), ExtractError> {
        self.clear(entry, dir, leaf)?;
        mknodat(dir, os(leaf), file_type, Mode::from_raw_mode(0o600), dev)
            .op(entry, "creating the node")?;
        self.chown(meta, |u, g| {
            rustix::fs::chownat(dir, os(leaf), u, g, AtFlags::SYMLINK_NOFOLLOW)
        })
        .op(entry, "changing the owner")?;
        fsops::chmod_nofollow(dir, leaf, meta.mode).op(entry, "setting the mode")?;
        utimensat(dir, os(leaf), &meta.times(), AtFlags::SYMLINK_NOFOLLOW)
            .op(entry, "setting the times")
    }

    /// Sets directory modes and times, deepest first so that a directory
    /// made read-only does not stop its children from being reached.
    fn finish_dirs(&mut self) -> Result<(), ExtractError> {
        let mut dirs = std::mem::take(&mut self.dirs);
        // Stable: of two entries for one directory the later wins.
        dirs.sort_by_key(|d| match d.path.is_empty() {
            true => Reverse(0),
            false => Reverse(d.path.split(|b| *b == b'/').count()),
        });
        for d in dirs {
            let parts: Vec<&[u8]> = d
                .path
                .split(|b| *b == b'/')
                .filter(|c| !c.is_empty())
                .collect();
            let fd = match parts.split_last() {
                None => {
                    open_dir(self.root.as_fd(), b".").op(&d.entry, "opening the layer directory")?
                }
                Some((leaf, dir_parts)) => {
                    // A later entry may have replaced or removed it.
                    let Ok(Some(parent)) = fsops::resolve_dir(self.root.as_fd(), dir_parts, false)
                    else {
                        continue;
                    };
                    match open_dir(parent.as_fd(), leaf) {
                        Ok(fd) => fd,
                        Err(e)
                            if matches!(
                                e.raw_os_error(),
                                Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
                            ) =>
                        {
                            continue;
                        }
                        Err(e) => return Err(e).op(&d.entry, "opening the directory"),
                    }
                }
            };
            fchmod(&fd, Mode::from_raw_mode(d.mode)).op(&d.entry, "setting the mode")?;
            futimens(&fd, &d.times).op(&d.entry, "setting the times")?;
        }
        Ok(())
    }
}

/// Copies file content, seeking over blocks of zeros instead of writing
/// them (as `cp --sparse=auto` does): a sparse tar entry, which the tar
/// reader expands to zeros, then costs no disk, so a tiny hostile layer
/// cannot fill it.
fn copy<R: Read>(from: &mut R, to: &mut File, buf: &mut [u8]) -> io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut total = 0;
    let mut hole = false;
    loop {
        let n = match from.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf[..n].iter().all(|b| *b == 0) {
            to.seek(SeekFrom::Current(n as i64))?;
            hole = true;
        } else {
            to.write_all(&buf[..n])?;
            hole = false;
        }
        total += n as u64;
    }
    if hole {
        // A trailing hole needs the length set, or the file ends early.
        to.set_len(total)?;
    }
    Ok(total)
}
