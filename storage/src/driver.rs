//! Storage drivers: how a stack of layers becomes one root file system.
//!
//! - `overlay`: the kernel's overlayfs, mounted inside the user namespace
//!   with `userxattr` (Linux 5.11+); the fastest, no copies.
//! - `fuse-overlayfs`: the same layer format through FUSE, for kernels that
//!   refuse a rootless overlay mount.
//! - `vfs`: a full copy of the layers per container, whiteouts applied while
//!   copying; always works, costs disk and time.
//!
//! Layers are stored in one format for all three (whiteouts as 0:0
//! character devices, opaque directories marked by xattr), so the driver
//! can change without re-pulling. The automatic choice test-mounts overlay
//! once and caches the verdict per kernel release in `<root>/driver`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::extract::{TRUSTED_OVERLAY_OPAQUE, USER_OVERLAY_OPAQUE};

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("mounting {driver} at {target}: {detail}")]
    Mount {
        driver: &'static str,
        target: PathBuf,
        detail: String,
    },
    #[error("unknown storage driver {0:?} (expected overlay or vfs)")]
    Unknown(String),
    #[error(
        "overlay mount options for {target} are {len} bytes, over the kernel's one-page limit; this image has too many layers for the overlay driver (use vfs)"
    )]
    TooManyLayers { target: PathBuf, len: usize },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DriverError + 'a {
    move |source| DriverError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    Overlay,
    FuseOverlayfs { program: PathBuf },
    Vfs,
}

impl Driver {
    /// The name Podman reports (`fuse-overlayfs` is "overlay" with a mount
    /// program there too).
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Overlay | Driver::FuseOverlayfs { .. } => "overlay",
            Driver::Vfs => "vfs",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Driver::Overlay => "overlay (native, userxattr)".to_owned(),
            Driver::FuseOverlayfs { program } => {
                format!("overlay (fuse-overlayfs: {})", program.display())
            }
            Driver::Vfs => "vfs".to_owned(),
        }
    }
}

/// What storage.conf asks for.
#[derive(Debug, Clone, Default)]
pub struct DriverConfig {
    pub driver: Option<String>,
    pub mount_program: Option<PathBuf>,
}

/// The chosen driver and why.
#[derive(Debug, Clone)]
pub struct Choice {
    pub driver: Driver,
    pub reason: String,
}

/// Picks the driver for a store at `root`. Must run inside the user
/// namespace (for the overlay test mount) when rootless.
pub fn choose(config: &DriverConfig, root: &Path, rootless: bool) -> Result<Choice, DriverError> {
    match config.driver.as_deref() {
        Some("vfs") => {
            return Ok(Choice {
                driver: Driver::Vfs,
                reason: "storage.conf sets driver = \"vfs\"".into(),
            });
        }
        Some("overlay") | Some("overlay2") | None | Some("") => {}
        Some(other) => return Err(DriverError::Unknown(other.to_owned())),
    }
    if let Some(program) = &config.mount_program {
        return Ok(Choice {
            driver: Driver::FuseOverlayfs {
                program: program.clone(),
            },
            reason: "storage.conf sets mount_program".into(),
        });
    }
    let kernel = kernel_release();
    let cache = root.join("driver");
    if let Ok(text) = fs::read_to_string(&cache)
        && let Some((verdict, release)) = text.trim().split_once(' ')
        && release == kernel
        && let Some(choice) = from_verdict(verdict)
    {
        return Ok(choice);
    }
    let choice = match test_overlay(root, rootless) {
        Ok(()) => Choice {
            driver: Driver::Overlay,
            reason: "native overlay test mount succeeded".into(),
        },
        Err(why) => {
            match find_program("fuse-overlayfs").filter(|_| Path::new("/dev/fuse").exists()) {
                Some(program) => Choice {
                    driver: Driver::FuseOverlayfs { program },
                    reason: format!("native overlay unusable ({why}); fuse-overlayfs found"),
                },
                None => Choice {
                    driver: Driver::Vfs,
                    reason: format!(
                        "native overlay unusable ({why}) and no fuse-overlayfs with /dev/fuse"
                    ),
                },
            }
        }
    };
    let verdict = match &choice.driver {
        Driver::Overlay => "overlay".to_owned(),
        Driver::FuseOverlayfs { program } => format!("fuse:{}", program.display()),
        Driver::Vfs => "vfs".to_owned(),
    };
    let _ = fs::write(&cache, format!("{verdict} {kernel}\n"));
    Ok(choice)
}

fn from_verdict(verdict: &str) -> Option<Choice> {
    let driver = match verdict {
        "overlay" => Driver::Overlay,
        "vfs" => Driver::Vfs,
        v => Driver::FuseOverlayfs {
            program: PathBuf::from(v.strip_prefix("fuse:")?),
        },
    };
    Some(Choice {
        driver,
        reason: "cached verdict of an earlier test mount".into(),
    })
}

fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Mounts a tiny overlay with a whiteout and checks that the whiteout hides
/// the lower file: a mount that succeeds but ignores whiteouts is no use.
fn test_overlay(root: &Path, rootless: bool) -> Result<(), String> {
    let dir = root.join(format!(".overlay-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let result = (|| -> Result<(), String> {
        for d in ["lower1", "lower2", "upper", "work", "merged"] {
            fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
        }
        fs::write(dir.join("lower1/hidden"), b"x").map_err(|e| e.to_string())?;
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("lower2/hidden"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o600),
            rustix::fs::makedev(0, 0),
        )
        .map_err(|e| format!("whiteout mknod: {e}"))?;
        let lowers = [dir.join("lower2"), dir.join("lower1")];
        mount_overlay(
            &lowers,
            Some((&dir.join("upper"), &dir.join("work"))),
            &dir.join("merged"),
            rootless,
        )
        .map_err(|e| e.to_string())?;
        let hidden = dir.join("merged/hidden").exists();
        let _ = rustix::mount::unmount(dir.join("merged"), rustix::mount::UnmountFlags::DETACH);
        if hidden {
            return Err("whiteouts are not honoured".into());
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&dir);
    result
}

/// Mounts overlayfs: `lowers` top first; without an upper the mount is
/// read-only.
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper_work: Option<(&Path, &Path)>,
    target: &Path,
    rootless: bool,
) -> Result<(), DriverError> {
    mount_overlay_with(lowers, upper_work, target, rootless, false)
}

/// [`mount_overlay`]; `volatile` (Linux 5.10+) skips every sync of the
/// upper file system, unmounting included, which otherwise syncs the
/// whole file system under it. For containers whose changes die with them
/// (`run --rm`), as Podman does.
pub fn mount_overlay_with(
    lowers: &[PathBuf],
    upper_work: Option<(&Path, &Path)>,
    target: &Path,
    rootless: bool,
    volatile: bool,
) -> Result<(), DriverError> {
    let mut opts = overlay_options(lowers, upper_work);
    if rootless {
        opts.push_str(",userxattr");
    }
    if let (true, Some((_, work))) = (volatile, upper_work) {
        // A volatile mount that was never unmounted cleanly leaves this
        // behind, and the kernel refuses to mount over it; the upper may
        // then be inconsistent, which a volatile container accepts. The
        // kernel keeps it under its own `work` directory in the workdir
        // (`$workdir/work/incompat/volatile`); even a clean unmount leaves
        // it, so a restarted `--rm` container needs it gone.
        let _ = fs::remove_dir_all(work.join("work/incompat"));
        let _ = fs::remove_dir_all(work.join("incompat"));
        opts.push_str(",volatile");
    }
    if opts.len() >= 4095 {
        return Err(DriverError::TooManyLayers {
            target: target.to_owned(),
            len: opts.len(),
        });
    }
    // A single lower layer without an upper is refused by older kernels.
    let lowers_only_one = upper_work.is_none() && lowers.len() == 1;
    if lowers_only_one {
        return bind_readonly(&lowers[0], target);
    }
    let flags = if upper_work.is_none() {
        rustix::mount::MountFlags::RDONLY
    } else {
        rustix::mount::MountFlags::empty()
    };
    let data = std::ffi::CString::new(opts).map_err(|_| DriverError::Mount {
        driver: "overlay",
        target: target.to_owned(),
        detail: "a layer path contains a NUL byte".into(),
    })?;
    rustix::mount::mount("overlay", target, "overlay", flags, data.as_c_str()).map_err(|e| {
        DriverError::Mount {
            driver: "overlay",
            target: target.to_owned(),
            detail: e.to_string(),
        }
    })
}

fn bind_readonly(source: &Path, target: &Path) -> Result<(), DriverError> {
    let err = |e: rustix::io::Errno| DriverError::Mount {
        driver: "bind",
        target: target.to_owned(),
        detail: e.to_string(),
    };
    rustix::mount::mount_bind(source, target).map_err(err)?;
    rustix::mount::mount_remount(
        target,
        rustix::mount::MountFlags::BIND | rustix::mount::MountFlags::RDONLY,
        "",
    )
    .map_err(err)
}

/// Mounts through fuse-overlayfs (same options as the kernel's overlay).
pub fn mount_fuse_overlay(
    program: &Path,
    lowers: &[PathBuf],
    upper_work: Option<(&Path, &Path)>,
    target: &Path,
) -> Result<(), DriverError> {
    mount_fuse_overlay_with(program, lowers, upper_work, target, "")
}

/// [`mount_fuse_overlay`] with fuse-overlayfs's own options appended
/// (`extra`, comma-separated, may be empty).
pub fn mount_fuse_overlay_with(
    program: &Path,
    lowers: &[PathBuf],
    upper_work: Option<(&Path, &Path)>,
    target: &Path,
    extra: &str,
) -> Result<(), DriverError> {
    let mut opts = overlay_options(lowers, upper_work);
    if !extra.is_empty() {
        opts.push(',');
        opts.push_str(extra);
    }
    let out = Command::new(program)
        .arg("-o")
        .arg(&opts)
        .arg(target)
        .output()
        .map_err(io_err("running fuse-overlayfs for", target))?;
    if !out.status.success() {
        return Err(DriverError::Mount {
            driver: "fuse-overlayfs",
            target: target.to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// The option string overlayfs and fuse-overlayfs share.
fn overlay_options(lowers: &[PathBuf], upper_work: Option<(&Path, &Path)>) -> String {
    let mut opts = format!(
        "lowerdir={}",
        lowers
            .iter()
            .map(|p| escape(p))
            .collect::<Vec<_>>()
            .join(":")
    );
    if let Some((upper, work)) = upper_work {
        opts.push_str(&format!(
            ",upperdir={},workdir={}",
            escape(upper),
            escape(work)
        ));
    }
    opts
}

/// overlayfs splits options on ',' and lower dirs on ':'; both are escaped
/// with a backslash.
fn escape(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `path` is a mount point in this mount namespace.
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mountinfo(mp) == want)
}

fn unescape_mountinfo(s: &str) -> String {
    // mountinfo encodes space, tab, newline and backslash as \ooo.
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(v) = bytes
                .get(i + 1..i + 4)
                .and_then(|t| std::str::from_utf8(t).ok())
                .and_then(|t| u8::from_str_radix(t, 8).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn unmount(path: &Path) -> Result<(), DriverError> {
    match rustix::mount::unmount(path, rustix::mount::UnmountFlags::empty()) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(rustix::io::Errno::BUSY) => {
            rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH).map_err(|e| {
                DriverError::Mount {
                    driver: "umount",
                    target: path.to_owned(),
                    detail: e.to_string(),
                }
            })
        }
        Err(e) => Err(DriverError::Mount {
            driver: "umount",
            target: path.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// The opaque xattr that layers of this store carry.
pub fn opaque_xattr(rootless: bool) -> &'static str {
    if rootless {
        USER_OVERLAY_OPAQUE
    } else {
        TRUSTED_OVERLAY_OPAQUE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_separators() {
        assert_eq!(escape(Path::new("/a,b:c\\d")), "/a\\,b\\:c\\\\d");
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn explicit_vfs_and_unknown() {
        let dir = std::env::temp_dir();
        let cfg = DriverConfig {
            driver: Some("vfs".into()),
            mount_program: None,
        };
        assert_eq!(choose(&cfg, &dir, true).unwrap().driver, Driver::Vfs);
        let cfg = DriverConfig {
            driver: Some("btrfs".into()),
            mount_program: None,
        };
        assert!(choose(&cfg, &dir, true).is_err());
    }
}
