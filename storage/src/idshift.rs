//! Containers whose user namespace maps ids differently from the store's
//! own (`--userns=auto`, `nomap`, `--uidmap`, `keep-id`): how their root
//! file system shows the image's files with the image's owners.
//!
//! Layers are stored with the ids of the store's namespace (rootless:
//! hutch's user namespace, where image uid 0 is the user and uid n is the
//! n-th subordinate id). A container with a namespace of its own maps its
//! ids elsewhere, so without a shift the image's root-owned files show as
//! `nobody` (auto, nomap) or as the user (keep-id). Three ways, in order:
//!
//! 1. **Idmapped lower layers**: `open_tree(OPEN_TREE_CLONE)` of each layer,
//!    `mount_setattr(MOUNT_ATTR_IDMAP)` with a user namespace carrying the
//!    container's map, overlay on top (Linux 5.19+). No copy, no daemon.
//!    The kernel allows it only to a caller with `CAP_SYS_ADMIN` in the user
//!    namespace that owns the layer's file system: root, or a rootless
//!    store on a file system mounted inside hutch's namespace (a tmpfs).
//!    Rootless on ext4 mounted by the host, `mount_setattr` fails with EPERM
//!    (measured on Linux 6.18.44; a tmpfs made in hutch's namespace works).
//!    The verdict is cached per kernel in `<root>/idmapped-mounts`, so a
//!    refused attempt costs one probe per kernel, not one per start.
//! 2. **fuse-overlayfs `uidmapping=`/`gidmapping=`** (Podman's rootless path
//!    with fuse-overlayfs): the FUSE daemon shows each file's owner through
//!    the container's map. The upper directory keeps the store's ids.
//! 3. **A chowned copy** (containers/storage's fallback): the image
//!    flattened once per (top layer, map) under `<root>/idshift-copies`,
//!    every owner shifted; removed with the last container using it.
//!
//! The method is chosen at a container's first mount and recorded in its
//! directory (`idshift-method`) before anything is mounted, so later
//! mounts use the same one: the upper directory's owners depend on it.
//!
//! Test hook: `HUTCH_TEST_ID_SHIFT=idmapped|fuse-overlayfs|copy` forces a
//! method (read here and nowhere else), so the fallbacks are tested on a
//! host where an earlier one works.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The documented test hook (see the module comment).
pub const TEST_ID_SHIFT_ENV: &str = "HUTCH_TEST_ID_SHIFT";

/// One extent of a container's map: container ids
/// `container_id..container_id+size` are the store namespace's
/// `host_id..host_id+size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// A container's uid and gid maps, relative to the store's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdShift {
    pub uids: Vec<IdMapping>,
    pub gids: Vec<IdMapping>,
}

/// At most this many extents per map: the kernel's limit for uid_map.
const MAX_EXTENTS: usize = 340;

impl IdShift {
    /// Whether the map changes nothing (the default mapping's fast path).
    pub fn is_identity(&self) -> bool {
        self.uids
            .iter()
            .chain(&self.gids)
            .all(|m| m.container_id == m.host_id)
    }

    fn valid(&self) -> bool {
        !self.uids.is_empty()
            && !self.gids.is_empty()
            && self.uids.len() <= MAX_EXTENTS
            && self.gids.len() <= MAX_EXTENTS
    }

    pub fn map_uid(&self, id: u32) -> Option<u32> {
        map_one(&self.uids, id)
    }

    pub fn map_gid(&self, id: u32) -> Option<u32> {
        map_one(&self.gids, id)
    }

    /// The container id a store id stands for (the map read backwards).
    pub fn unmap_uid(&self, id: u32) -> Option<u32> {
        unmap_one(&self.uids, id)
    }

    pub fn unmap_gid(&self, id: u32) -> Option<u32> {
        unmap_one(&self.gids, id)
    }

    /// fuse-overlayfs's options, in containers/storage's spelling.
    pub fn fuse_options(&self) -> String {
        let list = |maps: &[IdMapping]| {
            maps.iter()
                .map(|m| format!("{}:{}:{}", m.container_id, m.host_id, m.size))
                .collect::<Vec<_>>()
                .join(":")
        };
        format!(
            "uidmapping={},gidmapping={}",
            list(&self.uids),
            list(&self.gids)
        )
    }

    /// A short, stable name for the map (part of a copy's name).
    pub fn key(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let sum = Sha256::digest(text.as_bytes());
        sum.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// `uid_map`/`gid_map` text: container id inside, store id outside.
    fn proc_map(maps: &[IdMapping]) -> String {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
            .collect()
    }
}

fn unmap_one(maps: &[IdMapping], id: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.host_id)?;
        (off < m.size).then(|| m.container_id + off)
    })
}

fn map_one(maps: &[IdMapping], id: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id)?;
        (off < m.size).then(|| m.host_id + off)
    })
}

/// How a container's root shows the image's owners through its map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShiftMethod {
    Idmapped,
    FuseOverlayfs {
        program: PathBuf,
    },
    /// A chowned copy, named by its directory below `idshift-copies`.
    Copy {
        name: String,
    },
    /// vfs: the container's own full copy, chowned once at create.
    InPlace,
}

impl ShiftMethod {
    pub fn name(&self) -> &'static str {
        match self {
            ShiftMethod::Idmapped => "idmapped",
            ShiftMethod::FuseOverlayfs { .. } => "fuse-overlayfs",
            ShiftMethod::Copy { .. } => "copy",
            ShiftMethod::InPlace => "copy",
        }
    }

    /// Whether the container's upper directory holds the container's own
    /// ids (its files are written natively), rather than the store's
    /// (fuse-overlayfs maps them back as it writes).
    pub fn upper_has_container_ids(&self) -> bool {
        !matches!(self, ShiftMethod::FuseOverlayfs { .. })
    }

    pub(crate) fn record(&self) -> String {
        match self {
            ShiftMethod::Idmapped => "idmapped".into(),
            ShiftMethod::FuseOverlayfs { program } => {
                format!("fuse-overlayfs {}", program.display())
            }
            ShiftMethod::Copy { name } => format!("copy {name}"),
            ShiftMethod::InPlace => "in-place".into(),
        }
    }

    pub(crate) fn parse(text: &str) -> Option<ShiftMethod> {
        let line = text.lines().next()?.trim();
        let (kind, arg) = line.split_once(' ').unwrap_or((line, ""));
        match kind {
            "idmapped" => Some(ShiftMethod::Idmapped),
            "in-place" => Some(ShiftMethod::InPlace),
            "fuse-overlayfs" if arg.starts_with('/') => Some(ShiftMethod::FuseOverlayfs {
                program: PathBuf::from(arg),
            }),
            "copy" if valid_copy_name(arg) => Some(ShiftMethod::Copy {
                name: arg.to_owned(),
            }),
            _ => None,
        }
    }
}

/// A copy's name is `<top layer hex>-<map key>`: nothing that walks out of
/// the copies directory.
fn valid_copy_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The forced method from the test hook, if set to a known name.
pub(crate) fn forced() -> Option<String> {
    std::env::var(TEST_ID_SHIFT_ENV)
        .ok()
        .filter(|v| matches!(v.as_str(), "idmapped" | "fuse-overlayfs" | "copy"))
}

/// A user namespace that carries `shift`'s maps, for `MOUNT_ATTR_IDMAP`.
/// A forked child unshares it and waits; this process writes its maps
/// (it holds CAP_SETUID/CAP_SETGID over the store's ids), opens the
/// namespace and lets the child go.
fn userns_fd(shift: &IdShift) -> io::Result<OwnedFd> {
    let mut ready = [0i32; 2];
    let mut go = [0i32; 2];
    // SAFETY: pipe2 fills the arrays on success.
    if unsafe { libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; the fds are owned and closed below.
    if unsafe { libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        let e = io::Error::last_os_error();
        unsafe {
            libc::close(ready[0]);
            libc::close(ready[1]);
        }
        return Err(e);
    }
    // SAFETY: the child calls only async-signal-safe functions and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            // This process's copies of the other ends: kept open, the read
            // below would never see the parent's close.
            libc::close(ready[0]);
            libc::close(go[1]);
            let ok: u8 = if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                1
            } else {
                0
            };
            libc::write(ready[1], (&ok as *const u8).cast(), 1);
            let mut b = 0u8;
            libc::read(go[0], (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    // SAFETY: the parent owns its ends from here on.
    let (ready_r, go_w) = unsafe {
        libc::close(ready[1]);
        libc::close(go[0]);
        (OwnedFd::from_raw_fd(ready[0]), OwnedFd::from_raw_fd(go[1]))
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = (|| {
        let mut ok = [0u8; 1];
        let n = rustix::io::read(&ready_r, &mut ok).map_err(io::Error::from)?;
        if n != 1 || ok[0] != 1 {
            return Err(io::Error::other(
                "unshare(CLONE_NEWUSER) failed in the helper",
            ));
        }
        fs::write(
            format!("/proc/{pid}/uid_map"),
            IdShift::proc_map(&shift.uids),
        )?;
        fs::write(
            format!("/proc/{pid}/gid_map"),
            IdShift::proc_map(&shift.gids),
        )?;
        let ns = fs::File::open(format!("/proc/{pid}/ns/user"))?;
        Ok(OwnedFd::from(ns))
    })();
    drop(go_w);
    let mut status = 0;
    // SAFETY: reaps the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// A detached copy of the mount at `path` whose owners show through
/// `userns`'s maps.
fn idmapped_tree(path: &Path, userns: &OwnedFd) -> io::Result<OwnedFd> {
    use rustix::mount::OpenTreeFlags;
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        path,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: mount_setattr reads `attr` (size given) and the empty path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(tree)
}

/// Mounts each lower, idmapped through `shift`, at `dir/N` (N counting
/// from 0 in the order given) and returns the mount points.
pub(crate) fn mount_idmapped_lowers(
    shift: &IdShift,
    lowers: &[PathBuf],
    dir: &Path,
) -> io::Result<Vec<PathBuf>> {
    if !shift.valid() {
        return Err(io::Error::other("empty or oversized id map"));
    }
    let userns = userns_fd(shift)?;
    let mut out = Vec::with_capacity(lowers.len());
    for (i, lower) in lowers.iter().enumerate() {
        let target = dir.join(i.to_string());
        fs::create_dir_all(&target)?;
        let tree = idmapped_tree(lower, &userns)?;
        rustix::mount::move_mount(
            &tree,
            "",
            rustix::fs::CWD,
            &target,
            rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )?;
        out.push(target);
    }
    Ok(out)
}

/// Unmounts what [`mount_idmapped_lowers`] left in `dir` (after the overlay
/// above them is gone, or left by a command killed half way) and removes
/// the mount points.
pub(crate) fn unmount_idmapped_lowers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        while rustix::mount::unmount(&p, rustix::mount::UnmountFlags::DETACH).is_ok() {}
        let _ = fs::remove_dir(&p);
    }
    let _ = fs::remove_dir(dir);
}

/// Whether idmapped mounts work for layers at `probe` (a layer directory),
/// from the verdict cached in `cache` for this kernel, else by trying.
/// Returns the reason when they do not.
pub(crate) fn idmapped_usable(cache: &Path, probe: &Path, shift: &IdShift) -> Result<(), String> {
    let kernel = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    // Line one: `yes|no RELEASE`; line two: why not.
    if let Ok(text) = fs::read_to_string(cache) {
        let mut lines = text.lines();
        if let Some((verdict, release)) = lines.next().and_then(|l| l.split_once(' '))
            && release == kernel
        {
            return match verdict {
                "yes" => Ok(()),
                _ => Err(format!(
                    "{} (cached for this kernel)",
                    lines.next().unwrap_or("refused")
                )),
            };
        }
    }
    let result = userns_fd(shift).and_then(|ns| idmapped_tree(probe, &ns).map(drop));
    let verdict = match &result {
        Ok(()) => format!("yes {kernel}\n"),
        Err(e) => format!("no {kernel}\nmount_setattr(MOUNT_ATTR_IDMAP): {e}\n"),
    };
    // The cache is a hint: the next start probes again if it is lost.
    let _ = fs::write(cache, verdict);
    result.map_err(|e| format!("mount_setattr(MOUNT_ATTR_IDMAP): {e}"))
}

/// Shifts every owner below `root` (itself included) through `shift`, once
/// per inode (hard links share one). Ids outside the map stay as they are:
/// the container shows them as `nobody` either way. chown clears set-id
/// bits, which are put back.
pub(crate) fn chown_tree(root: &Path, shift: &IdShift) -> io::Result<()> {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path)?;
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        let uid = shift.map_uid(meta.uid()).unwrap_or(meta.uid());
        let gid = shift.map_gid(meta.gid()).unwrap_or(meta.gid());
        if (uid, gid) != (meta.uid(), meta.gid()) {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            let mode = meta.permissions().mode();
            if !meta.file_type().is_symlink() && mode & 0o6000 != 0 {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777))?;
            }
        }
        if meta.is_dir() {
            for e in fs::read_dir(&path)? {
                stack.push(e?.path());
            }
        }
    }
    Ok(())
}

/// Bytes below `root` (a rough size for the cost note).
pub(crate) fn tree_size(root: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue;
        };
        total += meta.len();
        if meta.is_dir()
            && let Ok(entries) = fs::read_dir(&p)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(container_id: u32, host_id: u32, size: u32) -> IdMapping {
        IdMapping {
            container_id,
            host_id,
            size,
        }
    }

    #[test]
    fn identity_and_lookups() {
        let id = IdShift {
            uids: vec![m(0, 0, 65537)],
            gids: vec![m(0, 0, 65537)],
        };
        assert!(id.is_identity());
        let keep_id = IdShift {
            uids: vec![m(0, 1, 1000), m(1000, 0, 1), m(1001, 1001, 64536)],
            gids: vec![m(0, 1, 1000), m(1000, 0, 1), m(1001, 1001, 64536)],
        };
        assert!(!keep_id.is_identity());
        assert_eq!(keep_id.map_uid(0), Some(1));
        assert_eq!(keep_id.map_uid(999), Some(1000));
        assert_eq!(keep_id.map_uid(1000), Some(0));
        assert_eq!(keep_id.map_uid(2000), Some(2000));
        assert_eq!(keep_id.map_uid(70000), None);
        assert_eq!(keep_id.unmap_uid(0), Some(1000));
        assert_eq!(keep_id.unmap_uid(1), Some(0));
        assert_eq!(
            keep_id.fuse_options(),
            "uidmapping=0:1:1000:1000:0:1:1001:1001:64536,\
             gidmapping=0:1:1000:1000:0:1:1001:1001:64536"
        );
        assert_ne!(keep_id.key(), id.key());
        assert_eq!(keep_id.key().len(), 16);
    }

    #[test]
    fn method_records_round_trip() {
        for m in [
            ShiftMethod::Idmapped,
            ShiftMethod::FuseOverlayfs {
                program: "/usr/bin/fuse-overlayfs".into(),
            },
            ShiftMethod::Copy {
                name: "abc123-0011".into(),
            },
            ShiftMethod::InPlace,
        ] {
            assert_eq!(ShiftMethod::parse(&m.record()), Some(m));
        }
        assert_eq!(ShiftMethod::parse("copy ../../etc"), None);
        assert_eq!(ShiftMethod::parse("fuse-overlayfs relative"), None);
        assert_eq!(ShiftMethod::parse(""), None);
    }

    #[test]
    fn chown_tree_shifts_each_inode_once() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: chown to other ids needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        fs::create_dir(&root).unwrap();
        fs::write(root.join("a"), b"x").unwrap();
        fs::hard_link(root.join("a"), root.join("b")).unwrap();
        fs::write(root.join("s"), b"x").unwrap();
        std::os::unix::fs::chown(root.join("s"), Some(5), Some(5)).unwrap();
        fs::set_permissions(root.join("s"), fs::Permissions::from_mode(0o4755)).unwrap();
        let shift = IdShift {
            uids: vec![m(0, 100, 10)],
            gids: vec![m(0, 200, 10)],
        };
        chown_tree(&root, &shift).unwrap();
        let a = fs::metadata(root.join("a")).unwrap();
        assert_eq!((a.uid(), a.gid()), (100, 200), "not shifted twice");
        let s = fs::metadata(root.join("s")).unwrap();
        assert_eq!((s.uid(), s.gid()), (105, 205));
        assert_eq!(s.permissions().mode() & 0o7777, 0o4755, "setuid kept");
        let r = fs::metadata(&root).unwrap();
        assert_eq!(r.uid(), 100);
    }

    /// As root (CAP_SYS_ADMIN over the host's file systems) an idmapped
    /// mount shows a root-owned file through the map.
    #[test]
    fn idmapped_mount_shows_owners_through_the_map() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: idmapped mounts of the host's file systems need root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        fs::create_dir(&lower).unwrap();
        fs::write(lower.join("f"), b"x").unwrap();
        let shift = IdShift {
            uids: vec![m(0, 300_000, 65536)],
            gids: vec![m(0, 300_000, 65536)],
        };
        // Its own mount namespace, so the test's mounts go with it.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let code = (|| -> io::Result<()> {
                if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                rustix::mount::mount_change(
                    "/",
                    rustix::mount::MountPropagationFlags::PRIVATE
                        | rustix::mount::MountPropagationFlags::REC,
                )?;
                let got = mount_idmapped_lowers(
                    &shift,
                    std::slice::from_ref(&lower),
                    &dir.path().join("m"),
                )?;
                let meta = fs::metadata(got[0].join("f"))?;
                if (meta.uid(), meta.gid()) != (300_000, 300_000) {
                    return Err(io::Error::other(format!("owner {}", meta.uid())));
                }
                unmount_idmapped_lowers(&dir.path().join("m"));
                Ok(())
            })();
            unsafe { libc::_exit(if code.is_ok() { 0 } else { 1 }) };
        }
        let mut status = 0;
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "idmapped mount as root"
        );
    }
}
