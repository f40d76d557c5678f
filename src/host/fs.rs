//! Which file system a path lives on, by statfs magic number, and whether
//! that file system is a network or parallel one where rootless storage
//! does not work (no user-namespace ownership, no overlay upper dirs,
//! root squash: Podman's #7091, #20551).
//!
//! Test hook: `HUTCH_TEST_FSTYPE=PREFIX=TYPE[,PREFIX=TYPE...]` makes every
//! path at or below PREFIX report TYPE (a name from [`KNOWN`], such as
//! `nfs` or `lustre`). An NFS server cannot run on the CI host; this is how
//! the tests make a home "NFS". It is read here and nowhere else.

use std::path::Path;

use serde::Serialize;

/// The documented test hook (see the module comment).
pub const TEST_FSTYPE_ENV: &str = "HUTCH_TEST_FSTYPE";

/// A file system type as statfs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FsType {
    pub magic: i64,
    pub name: &'static str,
    /// Shared over the network (or a cluster file system): no place for a
    /// rootless graph root.
    pub network: bool,
}

/// (magic, name, network). Magic numbers from linux/magic.h and the
/// vendors' headers (Lustre, GPFS, BeeGFS, PanFS, OrangeFS).
const KNOWN: [(i64, &str, bool); 24] = [
    (0x6969, "nfs", true),
    (0x0BD0_0BD0, "lustre", true),
    (0x4750_4653, "gpfs", true),
    (0x00C3_6400, "cephfs", true),
    (0xFF53_4D42, "cifs", true),
    (0xFE53_4D42, "smb2", true),
    (0x517B, "smb", true),
    (0x1983_0326, "beegfs", true),
    (0x5346_414F, "afs", true),
    (0x6B41_4653, "kafs", true),
    (0x0102_1997, "9p", true),
    (0xAAD7_AAEA, "panfs", true),
    (0x2003_0528, "orangefs", true),
    (0x7363_6673, "ncp", true),
    (0xEF53, "ext4", false),
    (0x5846_5342, "xfs", false),
    (0x9123_683E, "btrfs", false),
    (0x2FC1_2FC1, "zfs", false),
    (0x0102_1994, "tmpfs", false),
    (0x794C_7630, "overlay", false),
    (0x6573_5546, "fuse", false),
    (0xF2F5_2010, "f2fs", false),
    (0x4d44, "vfat", false),
    (0x6367_7270, "cgroup2", false),
];

impl FsType {
    fn from_magic(magic: i64) -> FsType {
        KNOWN
            .iter()
            .find(|(m, _, _)| *m == magic)
            .map(|&(magic, name, network)| FsType {
                magic,
                name,
                network,
            })
            .unwrap_or(FsType {
                magic,
                name: "unknown",
                network: false,
            })
    }

    fn from_name(name: &str) -> Option<FsType> {
        KNOWN
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(magic, name, network)| FsType {
                magic,
                name,
                network,
            })
    }
}

/// The file system under `path`, or under its nearest existing ancestor
/// (a graph root that does not exist yet will be made there). None when
/// not even `/` can be examined.
pub fn fs_type(path: &Path) -> Option<FsType> {
    if let Some(t) = std::env::var(TEST_FSTYPE_ENV)
        .ok()
        .and_then(|hook| hooked(&hook, path))
    {
        return Some(t);
    }
    let existing = path.ancestors().find(|p| p.exists())?;
    let st = rustix::fs::statfs(existing).ok()?;
    #[allow(
        clippy::unnecessary_cast,
        reason = "f_type's width differs between architectures"
    )]
    Some(FsType::from_magic(st.f_type as i64))
}

/// The hook's answer for `path`: the longest matching prefix wins.
fn hooked(hook: &str, path: &Path) -> Option<FsType> {
    hook.split(',')
        .filter_map(|entry| entry.split_once('='))
        .filter(|(prefix, _)| !prefix.is_empty() && path.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .and_then(|(_, name)| FsType::from_name(name.trim()))
}

/// Bytes free for an unprivileged user under `path`, 0 when unknown.
pub fn available_bytes(path: &Path) -> u64 {
    rustix::fs::statvfs(path)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0)
}

/// Makes `path` a private directory (0700) of this process's user or
/// checks that it is one: a directory in a world-writable parent (/var/tmp)
/// may have been made, or replaced by a symlink, by another user to catch
/// what is written there. Never follows a symlink at `path`. The owner is
/// compared with the effective uid as this process sees it, which is 0
/// inside the user namespace for the user's own files.
pub fn ensure_private_dir(path: &Path) -> Result<(), String> {
    let owner = rustix::process::geteuid().as_raw();
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("creating {}: {e}", path.display())),
    }
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| format!("inspecting {}: {e}", path.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} exists and is not a directory", path.display()));
    }
    if meta.uid() != owner {
        return Err(format!(
            "{} belongs to uid {}, not to you",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("securing {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_name_network_filesystems() {
        assert!(FsType::from_magic(0x6969).network);
        assert_eq!(FsType::from_magic(0x1983_0326).name, "beegfs");
        assert!(!FsType::from_magic(0xEF53).network);
        assert_eq!(FsType::from_magic(0x1234).name, "unknown");
    }

    #[test]
    fn hook_matches_longest_prefix_and_whole_components() {
        let hook = "/home=nfs,/home/a/local=ext4";
        assert_eq!(
            hooked(hook, Path::new("/home/b/x")).map(|t| t.name),
            Some("nfs")
        );
        assert_eq!(
            hooked(hook, Path::new("/home/a/local/s")).map(|t| t.name),
            Some("ext4")
        );
        assert_eq!(hooked(hook, Path::new("/homeward")), None);
        assert_eq!(hooked("/x=nosuchfs", Path::new("/x")), None);
    }
}
