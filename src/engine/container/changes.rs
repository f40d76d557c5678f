//! What a container changed in its image (`diff`, and the layer `commit`
//! writes): the overlay upper directory read against the image's merged
//! tree, with Docker's rules (moby `archive/changes.go`): a path in the
//! upper layer is `A` if the image lacks it, `C` if it has it (a directory
//! only if its mode, owner or mtime differ), a whiteout is `D`, and the
//! parent of an added or deleted path is `C`. The files the runtime
//! creates as mount points (`/etc/hosts`, `/proc`, ...) are left out, as
//! Podman does.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::engine::{Result, ResultExt};
use hutch_storage::Store;
use hutch_storage::driver::Driver;
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, Stat};

use super::inroot::{self, file_type, lstat_at};
use super::tree;
use crate::engine::image;
use crate::engine::state::Container;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Added,
    Changed,
    Deleted,
}

impl Kind {
    pub fn letter(self) -> char {
        match self {
            Kind::Added => 'A',
            Kind::Changed => 'C',
            Kind::Deleted => 'D',
        }
    }
}

/// Podman's `initInodes`: what the runtime makes in every container.
const INIT_INODES: [&[u8]; 11] = [
    b"dev",
    b"etc/hostname",
    b"etc/hosts",
    b"etc/resolv.conf",
    b"proc",
    b"run",
    b"run/notify",
    b"run/.containerenv",
    b"run/secrets",
    b"sys",
    b"etc/mtab",
];

/// Changes by path (relative, no leading `/`), in path order.
pub type Changes = BTreeMap<Vec<u8>, Kind>;

/// The changes of container `c`. The image is mounted read-only for the
/// comparison (and left as it was found).
pub fn of_container(store: &Store, c: &Container) -> Result<Changes> {
    if store.driver()?.driver == Driver::Vfs {
        crate::fail!(
            InvalidState,
            "listing the changes of {} needs the overlay storage driver; vfs keeps no separate container layer",
            c.name
        );
    }
    let img = image::lookup(store, &c.image_id)
        .with_context(|| format!("finding the image of container {}", c.name))?;
    let was_mounted = store.mounts_image(&img.id);
    let lower_path = store
        .mount_image(&img)
        .with_context(|| format!("mounting image {}", img.id.short()))?;
    let result = (|| {
        let lower = inroot::open_root(&lower_path)?;
        let upper_path = store.container_upper(&c.id);
        let upper = inroot::open_root(&upper_path)
            .with_context(|| format!("opening {}", upper_path.display()))?;
        let mut out = Changes::new();
        walk(upper.as_fd(), lower.as_fd(), &[], &mut out)?;
        Ok(finish(out))
    })();
    if !was_mounted {
        let _ = store.unmount_image(&img.id);
    }
    result
}

/// What an image's top layer changes in the layers below it (`image diff`,
/// `diff IMAGE`, as Podman's layer diff against its parent): the top
/// layer's tree is read as an upper directory over the parent layers,
/// mounted read-only as an image of their own for the comparison.
pub fn of_image(store: &Store, img: &hutch_storage::images::ImageRecord) -> Result<Changes> {
    let Some((top, below)) = img.layers.split_last() else {
        return Ok(Changes::new());
    };
    let upper_path = store.diff_dir(top);
    let upper = inroot::open_root(&upper_path)
        .with_context(|| format!("opening {}", upper_path.display()))?;
    let Some(parent_top) = below.last() else {
        // A base layer adds everything it holds: compared with an empty
        // directory (made once, never written).
        let empty = store.root().join("empty-lower");
        std::fs::create_dir_all(&empty).with_context(|| format!("creating {}", empty.display()))?;
        let lower =
            inroot::open_root(&empty).with_context(|| format!("opening {}", empty.display()))?;
        let mut out = Changes::new();
        walk(upper.as_fd(), lower.as_fd(), &[], &mut out)?;
        return Ok(out);
    };
    // The parent chain as an image keyed by its top layer's chain id: the
    // store mounts it as it mounts any image, beside the real ones.
    let parent = hutch_storage::images::ImageRecord {
        id: parent_top.clone(),
        layers: below.to_vec(),
        ..img.clone()
    };
    let was_mounted = store.mounts_image(&parent.id);
    let lower_path = store
        .mount_image(&parent)
        .with_context(|| format!("mounting the layers below image {}", img.id.short()))?;
    let result = (|| {
        let lower = inroot::open_root(&lower_path)?;
        let mut out = Changes::new();
        walk(upper.as_fd(), lower.as_fd(), &[], &mut out)?;
        Ok(out)
    })();
    if !was_mounted {
        let _ = store.unmount_image(&parent.id);
    }
    result
}

fn child(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        [dir, b"/", name].concat()
    }
}

fn is_whiteout(st: &Stat) -> bool {
    file_type(st) == FileType::CharacterDevice && st.st_rdev == 0
}

fn is_opaque(dir: BorrowedFd<'_>) -> bool {
    let fd = match rustix::fs::openat(dir, ".", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(_) => return false,
    };
    [
        "user.overlay.opaque",
        "trusted.overlay.opaque",
        "user.fuseoverlayfs.opaque",
    ]
    .iter()
    .any(|x| {
        let mut v = [0u8; 4];
        matches!(rustix::fs::fgetxattr(&fd, *x, &mut v), Ok(n) if n >= 1 && v[0] == b'y')
    })
}

/// `lstat` of `path` in the image without following any symlink: a path
/// that crosses one in the image is not the same path.
fn lower_stat(lower: BorrowedFd<'_>, dir: &[u8], name: &[u8]) -> Option<Stat> {
    let d = lower_dir(lower, dir)?;
    lstat_at(d.as_fd(), name).ok().flatten()
}

fn lower_dir(lower: BorrowedFd<'_>, dir: &[u8]) -> Option<OwnedFd> {
    let path: &[u8] = if dir.is_empty() { b"." } else { dir };
    rustix::fs::openat2(
        lower,
        std::ffi::OsStr::new(std::str::from_utf8(path).ok()?),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
    )
    .ok()
}

fn walk(
    upper: BorrowedFd<'_>,
    lower: BorrowedFd<'_>,
    rel: &[u8],
    out: &mut Changes,
) -> io::Result<()> {
    let names = tree::list(upper)?;
    for name in &names {
        let Some(st) = lstat_at(upper, name)? else {
            continue;
        };
        // fuse-overlayfs writes `.wh.NAME` files where it cannot mknod.
        if let Some(hidden) = name.strip_prefix(b".wh.") {
            if hidden != b".wh..opq" && lower_stat(lower, rel, hidden).is_some() {
                out.insert(child(rel, hidden), Kind::Deleted);
            }
            continue;
        }
        let path = child(rel, name);
        if is_whiteout(&st) {
            if lower_stat(lower, rel, name).is_some() {
                out.insert(path, Kind::Deleted);
            }
            continue;
        }
        let below = lower_stat(lower, rel, name);
        let is_dir = file_type(&st) == FileType::Directory;
        let kind = match &below {
            None => Some(Kind::Added),
            Some(l) if is_dir && file_type(l) == FileType::Directory => {
                let same = l.st_mode == st.st_mode
                    && l.st_uid == st.st_uid
                    && l.st_gid == st.st_gid
                    && l.st_mtime == st.st_mtime
                    && l.st_mtime_nsec == st.st_mtime_nsec;
                (!same).then_some(Kind::Changed)
            }
            Some(_) => Some(Kind::Changed),
        };
        if let Some(k) = kind {
            out.insert(path.clone(), k);
        }
        if is_dir {
            let sub = tree::open_dir_nofollow(upper, name)?;
            let lower_is_dir = below
                .as_ref()
                .is_some_and(|l| file_type(l) == FileType::Directory);
            if lower_is_dir && is_opaque(sub.as_fd()) {
                // An opaque directory hides all the image had in it.
                let upper_names = tree::list(sub.as_fd())?;
                if let Some(ld) = lower_dir(lower, &path) {
                    for n in tree::list(ld.as_fd()).unwrap_or_default() {
                        if !upper_names.contains(&n) {
                            out.insert(child(&path, &n), Kind::Deleted);
                        }
                    }
                }
            }
            walk(sub.as_fd(), lower, &path, out)?;
        }
    }
    Ok(())
}

/// Parents of added and deleted paths are changed; the runtime's mount
/// points are no change of the user's.
fn finish(mut out: Changes) -> Changes {
    let parents: Vec<Vec<u8>> = out
        .iter()
        .filter(|(_, k)| **k != Kind::Changed)
        .filter_map(|(p, _)| {
            let i = p.iter().rposition(|b| *b == b'/')?;
            Some(p[..i].to_vec())
        })
        .collect();
    for p in parents {
        out.entry(p).or_insert(Kind::Changed);
    }
    out.retain(|p, _| !INIT_INODES.contains(&p.as_slice()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_changed_and_mount_points_left_out() {
        let mut c = Changes::new();
        c.insert(b"etc/new".to_vec(), Kind::Added);
        c.insert(b"etc/hosts".to_vec(), Kind::Added);
        c.insert(b"proc".to_vec(), Kind::Added);
        c.insert(b"gone".to_vec(), Kind::Deleted);
        let c = finish(c);
        let got: Vec<(String, char)> = c
            .iter()
            .map(|(p, k)| (String::from_utf8_lossy(p).into_owned(), k.letter()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("etc".to_owned(), 'C'),
                ("etc/new".to_owned(), 'A'),
                ("gone".to_owned(), 'D'),
            ]
        );
    }
}
