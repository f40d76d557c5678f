//! OCI whiteouts: `.wh.NAME` hides NAME of the layers below, `.wh..wh..opq`
//! hides everything below in its directory. Per the image spec they apply
//! to lower layers only, so what this layer itself wrote stays.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{FileType, Mode, XattrFlags, fsetxattr, makedev, mknodat};

use super::fsops::{self, ResolveError, file_type, join, lstat_at, open_dir, os};
use super::{
    EntryOp, ExtractError, Extractor, OPAQUE_MARKER, WHITEOUT_PREFIX, WhiteoutFormat, child_path,
    refuse,
};

impl Extractor<'_> {
    /// `.wh.NAME` and `.wh..wh..opq` in the directory `dir_parts`.
    pub(super) fn whiteout(
        &mut self,
        entry: &Path,
        dir_parts: &[&[u8]],
        leaf: &[u8],
    ) -> Result<(), ExtractError> {
        let dir = match self.opts.whiteouts {
            // The upper layer needs the directory to hold the whiteout.
            WhiteoutFormat::Overlay { .. } => self.parent(entry, dir_parts)?,
            // Nothing below to hide if the directory is not there.
            WhiteoutFormat::Naive | WhiteoutFormat::Literal => {
                match fsops::resolve_dir(self.root.as_fd(), dir_parts, false) {
                    Ok(Some(fd)) => Rc::new(fd),
                    Ok(None) => return Ok(()),
                    Err(ResolveError::Unsafe(reason)) => return Err(refuse(entry, reason)),
                    Err(ResolveError::Io(op, e)) => return Err(e).op(entry, op),
                }
            }
        };
        let dir = dir.as_fd();
        self.touch(dir_parts);
        let dir_path = join(dir_parts);
        if leaf == OPAQUE_MARKER {
            return self.opaque(entry, dir, &dir_path);
        }
        let name = &leaf[WHITEOUT_PREFIX.len()..];
        if name.starts_with(WHITEOUT_PREFIX) {
            // aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): Docker and
            // containerd skip it too.
            return Ok(());
        }
        if name.is_empty() || name == b"." || name == b".." {
            return Err(refuse(entry, "whiteout of `.` or `..`"));
        }
        let path = child_path(&dir_path, name);
        match self.opts.whiteouts {
            WhiteoutFormat::Overlay { opaque_xattr } => {
                let existing = lstat_at(dir, name).op(entry, "inspecting the whited-out path")?;
                if let Some(st) = existing
                    && self.touched.contains(&path)
                {
                    // Whiteouts hide lower layers only: this layer's own entry
                    // stays, and a directory stops merging with the lower one.
                    if file_type(&st) == FileType::Directory {
                        let fd = open_dir(dir, name).op(entry, "opening the directory")?;
                        fsetxattr(&fd, opaque_xattr, b"y", XattrFlags::empty())
                            .op(entry, "setting the opaque xattr")?;
                    }
                    return Ok(());
                }
                self.clear(entry, dir, name)?;
                mknodat(
                    dir,
                    os(name),
                    FileType::CharacterDevice,
                    Mode::empty(),
                    makedev(0, 0),
                )
                .map_err(|e| ExtractError::Whiteout {
                    entry: entry.to_owned(),
                    source: e.into(),
                })?;
                self.whited_out.insert(path);
            }
            WhiteoutFormat::Naive | WhiteoutFormat::Literal => {
                self.parent_cache = None;
                prune(&self.touched, dir, name, &path).op(entry, "removing the whited-out path")?;
            }
        }
        Ok(())
    }

    fn opaque(
        &mut self,
        entry: &Path,
        dir: BorrowedFd<'_>,
        dir_path: &[u8],
    ) -> Result<(), ExtractError> {
        let fd = open_dir(dir, b".").op(entry, "opening the opaque directory")?;
        match self.opts.whiteouts {
            WhiteoutFormat::Overlay { opaque_xattr } => {
                fsetxattr(&fd, opaque_xattr, b"y", XattrFlags::empty())
                    .op(entry, "setting the opaque xattr")?;
            }
            WhiteoutFormat::Naive | WhiteoutFormat::Literal => {
                // The marker may come after siblings from this same layer:
                // only what was there before the layer goes.
                self.parent_cache = None;
                let children =
                    fsops::list_dir(fd.as_fd()).op(entry, "listing the opaque directory")?;
                for child in children {
                    prune(
                        &self.touched,
                        fd.as_fd(),
                        &child,
                        &child_path(dir_path, &child),
                    )
                    .op(entry, "emptying the opaque directory")?;
                }
            }
        }
        Ok(())
    }
}

/// For a vfs whiteout: removes `name` in `dir` unless this layer wrote it;
/// a directory this layer wrote keeps only what this layer put in it.
fn prune(
    touched: &HashSet<Vec<u8>>,
    dir: BorrowedFd<'_>,
    name: &[u8],
    path: &[u8],
) -> io::Result<()> {
    if !touched.contains(path) {
        return fsops::remove_all_at(dir, name);
    }
    if let Some(st) = lstat_at(dir, name)?
        && file_type(&st) == FileType::Directory
    {
        let sub = open_dir(dir, name)?;
        for child in fsops::list_dir(sub.as_fd())? {
            prune(touched, sub.as_fd(), &child, &child_path(path, &child))?;
        }
    }
    Ok(())
}
