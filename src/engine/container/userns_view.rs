//! A root the container's own user namespace can reach (`--userns=auto`,
//! `nomap`, `--uidmap`).
//!
//! The runtime mounts the root file system and the /etc files after it has
//! entered the container's user namespace, as the container's root: a
//! subordinate id that is neither the owner of the user's home nor of
//! hutch's storage. On a default Debian host the home is 0700, and the
//! storage below it 0700 as well, so the lookup of
//! `~/.local/share/hutch/storage/containers/ID/merged` fails ("make ...
//! private: Permission denied"); Podman fails the same way, and for
//! `nomap` quietly chmods the home to 0711 (podman#25189), which hutch will
//! not do to a user's home.
//!
//! An idmapped mount does not help here: it changes the owners seen below
//! the mount, not the permission to walk the directories above it. So the
//! layout changes instead: in hutch's own mount namespace, the container's
//! directory (with its overlay mount) is bind-mounted at
//! `/tmp/hutch-views-UID/ID`, below a directory of the user's that others
//! may traverse but not list (0711), and the runtime is given a copy of
//! config.json whose root and mount sources point there. The bind exists
//! only in the user's mount namespace; on the host the directory stays
//! empty. Everything else (inspect, cp, the stored config.json) keeps the
//! real paths.
//!
//! The image's files are stored with the owners of hutch's own mapping;
//! the store shows them through the container's map ([`id_shift`], the
//! storage crate's `idshift`: idmapped layers, fuse-overlayfs or a chowned
//! copy), so the container's root owns the image's root-owned files.

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::Paths;
use crate::config::Context;

/// The runtime bundle (with the rewritten config.json) below userdata.
const BUNDLE_DIR: &str = "userns-view";

/// The container's directory below the graph root (userdata's parent).
fn container_dir(paths: &Paths) -> Option<&Path> {
    paths.userdata.parent()
}

/// `/tmp/hutch-views-UID`: the view directory of this user.
fn views_root(ctx: &Context) -> PathBuf {
    PathBuf::from(format!("/tmp/hutch-views-{}", ctx.identity.uid))
}

fn view_dir(ctx: &Context, id: &str) -> PathBuf {
    views_root(ctx).join(id)
}

/// Whether config.json makes a user namespace of the container's own
/// (one without a path, with uid mappings).
fn own_user_namespace(config: &Value) -> bool {
    let linux = &config["linux"];
    let new_userns = linux["namespaces"].as_array().is_some_and(|ns| {
        ns.iter()
            .any(|n| n["type"] == "user" && n.get("path").is_none_or(Value::is_null))
    });
    new_userns
        && linux["uidMappings"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
}

/// The map the store must shift a container's root through: the maps of
/// a user namespace of the container's own (none for the default mapping,
/// which runs in hutch's namespace itself, nor for a joined namespace).
pub fn id_shift(spec: &oci_spec::runtime::Spec) -> Option<hutch_storage::idshift::IdShift> {
    use hutch_storage::idshift::{IdMapping, IdShift};
    use oci_spec::runtime::LinuxNamespaceType;
    let linux = spec.linux().as_ref()?;
    let own = linux
        .namespaces()
        .as_ref()?
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    if !own {
        return None;
    }
    let maps = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<IdMapping> {
        m.iter()
            .flatten()
            .map(|m| IdMapping {
                container_id: m.container_id(),
                host_id: m.host_id(),
                size: m.size(),
            })
            .collect()
    };
    let shift = IdShift {
        uids: maps(linux.uid_mappings()),
        gids: maps(linux.gid_mappings()),
    };
    (!shift.uids.is_empty() && !shift.gids.is_empty()).then_some(shift)
}

/// The /etc files hutch writes for a container and binds over the image's
/// (`/etc/passwd` with keep-id's user, `/etc/hosts`, ...) belong to the
/// container's root, as the image's own do and as Podman makes them:
/// otherwise keep-id's user could rewrite /etc/passwd and auto's root
/// would see `nobody`.
pub fn chown_etc_files(
    paths: &Paths,
    shift: &hutch_storage::idshift::IdShift,
) -> anyhow::Result<()> {
    let (Some(uid), Some(gid)) = (shift.map_uid(0), shift.map_gid(0)) else {
        return Ok(());
    };
    for name in ["passwd", "group", "hosts", "hostname", "resolv.conf"] {
        let path = paths.userdata.join(name);
        match std::os::unix::fs::lchown(&path, Some(uid), Some(gid)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("chown {}", path.display())),
        }
    }
    Ok(())
}

/// Replaces the container directory prefix of a path with the view's.
fn rewrite(path: &str, from: &Path, to: &Path) -> Option<String> {
    let rest = Path::new(path).strip_prefix(from).ok()?;
    Some(to.join(rest).to_string_lossy().into_owned())
}

/// Before a start: the bundle the runtime is to use. For a rootless
/// container with its own user namespace, a copy of config.json whose
/// paths point into the view (written into `userdata/userns-view`);
/// otherwise userdata itself.
pub fn bundle(ctx: &Context, id: &str, paths: &Paths) -> anyhow::Result<PathBuf> {
    if ctx.rootful {
        return Ok(paths.userdata.clone());
    }
    let file = paths.userdata.join("config.json");
    let mut config: Value = serde_json::from_slice(
        &fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
    )
    .with_context(|| format!("parsing {}", file.display()))?;
    let Some(from) = container_dir(paths).filter(|_| own_user_namespace(&config)) else {
        return Ok(paths.userdata.clone());
    };
    let to = view_dir(ctx, id);
    if let Some(root) = config["root"]["path"]
        .as_str()
        .and_then(|p| rewrite(p, from, &to))
    {
        config["root"]["path"] = Value::String(root);
    }
    if let Some(mounts) = config["mounts"].as_array_mut() {
        for m in mounts {
            if let Some(src) = m["source"].as_str().and_then(|s| rewrite(s, from, &to)) {
                m["source"] = Value::String(src);
            }
        }
    }
    let dir = paths.userdata.join(BUNDLE_DIR);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join("config.json.tmp");
    fs::write(&tmp, serde_json::to_vec(&config)?)
        .and_then(|()| fs::rename(&tmp, dir.join("config.json")))
        .with_context(|| format!("writing {}/config.json", dir.display()))?;
    Ok(dir)
}

/// After the root file system is mounted and before the runtime runs:
/// binds the container's directory at its view, when [`bundle`] chose one.
pub fn attach(ctx: &Context, id: &str, paths: &Paths) -> anyhow::Result<()> {
    if ctx.rootful || !paths.userdata.join(BUNDLE_DIR).join("config.json").exists() {
        return Ok(());
    }
    let Some(from) = container_dir(paths) else {
        return Ok(());
    };
    let root = views_root(ctx);
    ensure_views_root(&root)?;
    let to = view_dir(ctx, id);
    // A view left by an earlier run holds that run's overlay: a fresh one.
    detach(ctx, id);
    match fs::DirBuilder::new().mode(0o711).create(&to) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", to.display())),
    }
    precreate_mount_points(paths, &from.join("merged"))?;
    rustix::mount::mount_bind_recursive(from, &to)
        .map_err(std::io::Error::from)
        .with_context(|| {
            format!(
                "binding {} at {} (a root the container's user namespace can reach)",
                from.display(),
                to.display()
            )
        })?;
    Ok(())
}

/// The runtime creates a missing mount point (`/etc/resolv.conf`, `/run`)
/// as the container's root, which does not own the image's directories
/// (they belong to the user, whom the container's namespace does not map):
/// hutch creates them first, inside the root (symlinks resolved in it,
/// never outside), where the runtime's mounts then cover them. Mount
/// points below another mount (`/dev/pts` under the /dev tmpfs) are the
/// runtime's to make.
fn precreate_mount_points(paths: &Paths, root: &Path) -> anyhow::Result<()> {
    use rustix::fs::{Mode, OFlags};
    let file = paths.userdata.join("config.json");
    let config: Value = serde_json::from_slice(&fs::read(&file)?)?;
    let mounts: Vec<(String, bool)> = config["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let dest = m["destination"].as_str()?.to_owned();
            let is_file = m["source"]
                .as_str()
                .is_some_and(|s| s.starts_with('/') && Path::new(s).is_file());
            Some((dest, is_file))
        })
        .collect();
    let rootfd =
        super::inroot::open_root(root).with_context(|| format!("opening {}", root.display()))?;
    for (dest, is_file) in &mounts {
        let under_another = mounts
            .iter()
            .any(|(other, _)| other != dest && Path::new(dest).starts_with(other) && other != "/");
        if under_another {
            continue;
        }
        // One component at a time, so that each lookup's parent exists.
        let comps = super::inroot::split(dest.as_bytes());
        for n in 1..=comps.len() {
            let prefix = comps[..n].join(&b'/');
            let resolved = super::inroot::resolve(rootfd.as_fd(), &prefix)
                .with_context(|| format!("resolving {dest} in the container's root"))?;
            let Some((leaf, parents)) = resolved.parts.split_last() else {
                continue;
            };
            if resolved.exists {
                continue;
            }
            let dir = super::inroot::open_dir(rootfd.as_fd(), parents)?;
            let made = if n == comps.len() && *is_file {
                rustix::fs::openat(
                    &dir,
                    leaf.as_slice(),
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )
                .map(drop)
            } else {
                rustix::fs::mkdirat(&dir, leaf.as_slice(), Mode::from_raw_mode(0o755))
            };
            match made {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => {
                    return Err(std::io::Error::from(e)).context(format!("creating {dest}"));
                }
            }
        }
    }
    Ok(())
}

/// Ends a container's view, if it has one (cleanup, removal, a new start).
pub fn detach(ctx: &Context, id: &str) {
    if ctx.rootful {
        return;
    }
    let to = view_dir(ctx, id);
    if !to.exists() {
        return;
    }
    // Lazily: the runtime's own copy of the mounts is not affected, and a
    // process still in the directory does not keep the view busy.
    while rustix::mount::unmount(&to, rustix::mount::UnmountFlags::DETACH).is_ok() {}
    let _ = fs::remove_dir(&to);
}

/// The view root must be a real directory of this user, 0711: a directory
/// someone else put there first (in the shared /tmp) is refused.
fn ensure_views_root(root: &Path) -> anyhow::Result<()> {
    match fs::DirBuilder::new().mode(0o711).create(root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", root.display())),
    }
    let meta =
        fs::symlink_metadata(root).with_context(|| format!("checking {}", root.display()))?;
    // Inside the user namespace the user's own files show as owned by 0.
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me {
        bail!(
            "{} is not a directory of yours (someone else created it, or it is a symlink): \
             refusing to put container roots there; remove it",
            root.display()
        );
    }
    if meta.permissions().mode() & 0o7777 != 0o711 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o711))
            .with_context(|| format!("chmod 0711 {}", root.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_user_namespace_needs_a_new_namespace_with_maps() {
        let own: Value = serde_json::json!({"linux": {
            "namespaces": [{"type": "mount"}, {"type": "user"}],
            "uidMappings": [{"hostID": 1, "containerID": 0, "size": 1024}]}});
        assert!(own_user_namespace(&own));
        let joined: Value = serde_json::json!({"linux": {
            "namespaces": [{"type": "user", "path": "/proc/1/ns/user"}],
            "uidMappings": [{"hostID": 1, "containerID": 0, "size": 1024}]}});
        assert!(!own_user_namespace(&joined));
        let none: Value = serde_json::json!({"linux": {"namespaces": [{"type": "mount"}]}});
        assert!(!own_user_namespace(&none));
    }

    #[test]
    fn rewrite_only_below_the_container_dir() {
        let from = Path::new("/home/a/.local/share/hutch/storage/containers/abc");
        let to = Path::new("/tmp/hutch-views-1000/abc");
        assert_eq!(
            rewrite(&format!("{}/merged", from.display()), from, to).as_deref(),
            Some("/tmp/hutch-views-1000/abc/merged")
        );
        assert_eq!(
            rewrite(&format!("{}/userdata/hosts", from.display()), from, to).as_deref(),
            Some("/tmp/hutch-views-1000/abc/userdata/hosts")
        );
        assert_eq!(rewrite("/etc/hosts", from, to), None);
        assert_eq!(
            rewrite(
                "/home/a/.local/share/hutch/storage/containers/abcd/x",
                from,
                to
            ),
            None
        );
    }
}
