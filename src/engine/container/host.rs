//! What `create` reads from the host for the spec generator: rlimits,
//! subordinate id counts, the bounding set, device nodes, bind sources'
//! mount flags, the init binary; and the one change it makes to the host
//! for a request, the `U` volume option's chown.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use oci_spec::runtime::Spec;

use crate::config::Context;
use crate::runtime::spec::{
    self, ContainerConfig, Defaults, DeviceKind, DeviceNode, HostDevice, MountRequest, SourceFlags,
};

/// Where Podman's packages put the init; tini as the fallback.
pub const INIT_CANDIDATES: [&str; 4] = [
    "/usr/libexec/podman/catatonit",
    "/usr/bin/catatonit",
    "/usr/bin/tini",
    "/usr/libexec/podman/tini",
];

/// `OP PATH: reason` in Go's lower-case wording ("statfs /x: no such file
/// or directory"), which Podman users and scripts know.
pub fn io_error(op: &str, path: &Path, e: &std::io::Error) -> anyhow::Error {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    anyhow::anyhow!("{op} {}: {reason}", path.display())
}

/// The nosuid/nodev/noexec flags of the filesystem holding `path`; fails
/// when `path` does not exist, as Podman's bind check does.
pub fn source_flags(path: &Path) -> anyhow::Result<SourceFlags> {
    use rustix::fs::StatVfsMountFlags as F;
    let st = rustix::fs::statvfs(path)
        .map_err(|e| io_error("statfs", path, &std::io::Error::from(e)))?;
    Ok(SourceFlags {
        nosuid: st.f_flag.contains(F::NOSUID),
        nodev: st.f_flag.contains(F::NODEV),
        noexec: st.f_flag.contains(F::NOEXEC),
    })
}

/// The device numbers of the per-device block-I/O limits, with Podman's
/// message for a path that is not there.
pub fn resolve_device_limits(
    resources: &mut crate::runtime::spec::resources::ResourceRequest,
) -> crate::engine::Result<()> {
    for (flag, d) in resources.device_limits_mut() {
        // Given by number (the libpod API's OCI resources): nothing to
        // resolve.
        if d.path.is_empty() {
            continue;
        }
        let path = std::path::Path::new(&d.path);
        if let Err(e) = std::fs::metadata(path) {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
                _ => e.to_string(),
            };
            // Podman's two wordings: the weight's from its own stat, the
            // throttles' from its throttle parser.
            if flag == "--blkio-weight-device" {
                crate::fail!(BadInput, "failed to inspect '{}' in {flag}: {why}", d.path);
            }
            crate::fail!(
                BadInput,
                "could not parse throttle device at {}: {why}",
                d.path
            );
        }
        let node =
            device_node(path).map_err(|e| crate::engine::Error::bad_input(format!("{e:#}")))?;
        d.major = node.major;
        d.minor = node.minor;
    }
    Ok(())
}

pub fn device_node(path: &Path) -> anyhow::Result<DeviceNode> {
    let meta = std::fs::metadata(path).map_err(|e| io_error("stat", path, &e))?;
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        DeviceKind::Char
    } else if ft.is_block_device() {
        DeviceKind::Block
    } else if ft.is_fifo() {
        DeviceKind::Fifo
    } else {
        bail!("{} is not a device node", path.display());
    };
    let rdev = meta.rdev();
    Ok(DeviceNode {
        kind,
        major: i64::from(libc::major(rdev)),
        minor: i64::from(libc::minor(rdev)),
        file_mode: Some(meta.mode() & 0o777),
        uid: Some(meta.uid()),
        gid: Some(meta.gid()),
    })
}

/// The device nodes under /dev, for `--privileged` (Podman's
/// `util.GetDevices` skips the per-container filesystems below).
fn host_devices() -> Vec<HostDevice> {
    fn walk(dir: &Path, out: &mut Vec<HostDevice>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                // /dev/stdin, /dev/fd, /dev/core: links, not nodes.
                continue;
            }
            if meta.is_dir() {
                if !matches!(
                    path.to_str(),
                    Some("/dev/pts" | "/dev/shm" | "/dev/mqueue" | "/dev/.lxc" | "/dev/.udev")
                ) {
                    walk(&path, out);
                }
            } else if let Ok(node) = device_node(&path)
                && node.kind != DeviceKind::Fifo
            {
                out.push(HostDevice { path, node });
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The init binary `--init` binds at /run/podman-init.
pub fn find_init(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        std::fs::metadata(p).map_err(|e| io_error("stat", p, &e))?;
        return Ok(p.to_path_buf());
    }
    INIT_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "--init: no container-init binary found (looked for {}): install catatonit or tini, or give --init-path",
                INIT_CANDIDATES.join(", ")
            )
        })
}

/// `rootfs/dest` when every component below the rootfs is a real
/// directory: a symlink in the image could point the copy-up anywhere on
/// the host, so such paths are not copied from.
pub fn inside_rootfs(rootfs: &Path, dest: &str) -> Option<PathBuf> {
    let mut p = rootfs.to_path_buf();
    for part in dest.split('/').filter(|s| !s.is_empty()) {
        if part == ".." {
            return None;
        }
        p.push(part);
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if !meta.is_dir() {
            return None;
        }
    }
    Some(p)
}

fn read_status_field(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let v = l.strip_prefix(field)?.trim();
        u64::from_str_radix(v, 16).ok()
    })
}

fn kernel_version() -> Option<(u32, u32, u32)> {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut nums = r
        .trim()
        .split(['.', '-', '+'])
        .map(|s| s.parse::<u32>().ok());
    Some((
        nums.next()??,
        nums.next()??,
        nums.next().flatten().unwrap_or(0),
    ))
}

/// What the spec generator needs to know about this host and user.
pub fn defaults(ctx: &Context, privileged: bool) -> anyhow::Result<Defaults> {
    let limit = |r| {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills a struct we own.
        unsafe { libc::getrlimit(r, &mut l) };
        (l.rlim_cur, l.rlim_max)
    };
    let map_size = |file: &str| -> u32 {
        std::fs::read_to_string(file)
            .map(|m| {
                m.lines()
                    .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok())
                    .fold(0u32, |a, b| a.saturating_add(b))
            })
            .unwrap_or(1)
    };
    let mut extra_masked = Vec::new();
    if let Ok(cpus) = std::fs::read_dir("/sys/devices/system/cpu") {
        for e in cpus.flatten() {
            let p = e.path().join("thermal_throttle");
            if spec::security::glob_match(
                spec::security::MASKED_PATH_GLOB,
                &p.display().to_string(),
            ) && p.exists()
            {
                extra_masked.push(p.display().to_string());
            }
        }
    }
    extra_masked.sort();
    Ok(Defaults {
        nofile: limit(libc::RLIMIT_NOFILE),
        nproc: limit(libc::RLIMIT_NPROC),
        seccomp_profile: [
            "/etc/containers/seccomp.json",
            "/usr/share/containers/seccomp.json",
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok()),
        cgroup_v2: false,
        cgroup_path_usable: false,
        uid: ctx.identity.uid,
        gid: ctx.identity.gid,
        subuid_size: map_size("/proc/self/uid_map").saturating_sub(1),
        subgid_size: map_size("/proc/self/gid_map").saturating_sub(1),
        bounding_capabilities: read_status_field("CapBnd:").map(spec::caps::from_mask),
        host_devices: if privileged {
            host_devices()
        } else {
            Vec::new()
        },
        extra_masked_paths: extra_masked,
        kernel: kernel_version(),
        ..Defaults::default()
    })
}

/// Whether the host has systemd's named cgroup v1 hierarchy mounted (a
/// hybrid or v1 host), which systemd mode binds into the container.
pub fn cgroup_v1_systemd() -> bool {
    /// CGROUP_SUPER_MAGIC: a v1 hierarchy (v2's is another magic).
    const CGROUP_V1: i64 = 0x0027_e0eb;
    #[allow(
        clippy::unnecessary_cast,
        reason = "f_type's width differs between architectures"
    )]
    rustix::fs::statfs("/sys/fs/cgroup/systemd").is_ok_and(|st| st.f_type as i64 == CGROUP_V1)
}

/// The `U` option: the source of each such mount is chowned, recursively,
/// to the container process's uid and gid as the host sees them through
/// the container's id maps.
pub fn chown_requested(cfg: &ContainerConfig, spec: &Spec) -> anyhow::Result<()> {
    let wanted: Vec<&Path> = cfg
        .mounts
        .iter()
        .filter(|m| m.wants_chown())
        .filter_map(|m| match m {
            MountRequest::Bind { source, .. } | MountRequest::Volume { source, .. } => {
                Some(source.as_path())
            }
            MountRequest::Tmpfs { .. } => None,
        })
        .collect();
    chown_sources(&wanted, spec)
}

/// The `U` option again at every start, as Podman applies it: a file
/// created since by another owner is the container user's once more. The
/// sources are the generated config's mounts at the `U` destinations.
pub fn chown_at_start(
    row: &crate::engine::state::Container,
    userdata: &Path,
) -> anyhow::Result<()> {
    let dests: Vec<&str> = row
        .spec
        .mounts
        .iter()
        .filter(|m| m.options.iter().any(|o| o == "U"))
        .map(|m| m.destination.trim_end_matches('/'))
        .collect();
    if dests.is_empty() {
        return Ok(());
    }
    let spec = Spec::load(userdata.join("config.json"))
        .with_context(|| format!("reading {}/config.json", userdata.display()))?;
    let sources: Vec<std::path::PathBuf> = spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| m.typ().as_deref() == Some("bind"))
        .filter(|m| dests.contains(&m.destination().to_string_lossy().trim_end_matches('/')))
        .filter_map(|m| m.source().clone())
        .collect();
    let wanted: Vec<&Path> = sources.iter().map(|p| p.as_path()).collect();
    chown_sources(&wanted, &spec)
}

fn chown_sources(wanted: &[&Path], spec: &Spec) -> anyhow::Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let Some(user) = spec.process().as_ref().map(|p| p.user()) else {
        return Ok(());
    };
    let linux = spec.linux().as_ref();
    let uid =
        super::create::to_host_id(linux.and_then(|l| l.uid_mappings().as_deref()), user.uid());
    let gid =
        super::create::to_host_id(linux.and_then(|l| l.gid_mappings().as_deref()), user.gid());
    let (Some(uid), Some(gid)) = (uid, gid) else {
        bail!(
            "the U option: the container's user {}:{} is not mapped to a host id",
            user.uid(),
            user.gid()
        );
    };
    for source in wanted.iter().copied() {
        chown_tree(source, uid, gid)
            .with_context(|| format!("changing the owner of {}", source.display()))?;
    }
    Ok(())
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for e in std::fs::read_dir(path)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_source_reads_like_podman() {
        let e = source_flags(Path::new("/no/such/dir")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "statfs /no/such/dir: no such file or directory"
        );
        assert!(source_flags(Path::new("/")).is_ok());
    }

    #[test]
    fn copy_up_source_refuses_symlinks() {
        assert_eq!(inside_rootfs(Path::new("/"), "/etc"), Some("/etc".into()));
        assert_eq!(inside_rootfs(Path::new("/"), "/no/such"), None);
        assert_eq!(inside_rootfs(Path::new("/"), "/etc/../x"), None);
    }

    #[test]
    fn dev_null_is_a_char_device() {
        let n = device_node(Path::new("/dev/null")).unwrap();
        assert_eq!((n.kind, n.major, n.minor), (DeviceKind::Char, 1, 3));
        assert!(device_node(Path::new("/etc/passwd")).is_err());
    }
}
