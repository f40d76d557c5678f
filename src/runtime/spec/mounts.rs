//! The container's mount list: the default /proc, /dev, /sys ... mounts
//! (runtime-tools `generate.New("linux")` as Podman adjusts them in
//! `SpecGenToOCI`), the user's binds, volumes and tmpfs with their options
//! normalised as Podman's `util.ProcessOptions` does, and the order the
//! runtime mounts them in.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

use super::SpecError;
use super::config::{MountRequest, SourceFlags};

/// Podman's `define.ContainerInitPath`.
pub const INIT_PATH: &str = "/run/podman-init";

/// Podman's `--shm-size` default, 64 MiB (containers.conf `shm_size`
/// "65536k").
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// Directories `--read-only` covers with a tmpfs while `--read-only-tmpfs`
/// is on, as Podman's specgenutil does.
pub const READ_ONLY_TMPFS: [&str; 3] = ["/tmp", "/var/tmp", "/run"];

pub fn mount(destination: &Path, typ: &str, source: Option<&Path>, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(destination.to_path_buf());
    m.set_typ(Some(typ.to_string()));
    m.set_source(source.map(Path::to_path_buf));
    m.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

fn m(destination: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    mount(
        Path::new(destination),
        typ,
        Some(Path::new(source)),
        options,
    )
}

/// What decides the shape of the default mounts.
#[derive(Debug, Clone, Copy)]
pub struct DefaultMountFacts {
    pub privileged: bool,
    pub rootless: bool,
    pub new_userns: bool,
    /// Whether a fresh sysfs can be mounted: Podman's `canMountSys`.
    pub can_mount_sys: bool,
    pub ipc_host: bool,
    pub pid_host: bool,
    pub gid5: bool,
    /// "ro" or "rw" for the cgroup filesystem.
    pub cgroup_rw: bool,
    pub shm_size: u64,
}

/// The mounts every container gets before the user's.
pub fn default_mounts(f: &DefaultMountFacts, proc_opts: Option<&[String]>) -> Vec<Mount> {
    let in_userns = f.rootless || f.new_userns;
    let mut out = Vec::new();

    if in_userns && f.pid_host {
        // A user namespace cannot mount a procfs for a pid namespace it
        // does not own.
        out.push(m(
            "/proc",
            "bind",
            "/proc",
            &["rbind", "nosuid", "noexec", "nodev", "rprivate"],
        ));
    } else {
        let mut proc = m("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]);
        if let Some(opts) = proc_opts {
            proc.set_options(Some(opts.to_vec()));
        }
        out.push(proc);
    }
    out.push(m(
        "/dev",
        "tmpfs",
        "tmpfs",
        &["nosuid", "strictatime", "mode=755", "size=65536k"],
    ));
    if f.gid5 {
        out.push(m(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ));
    } else {
        // Without gid 5 in the namespace the kernel refuses gid=5.
        out.push(m(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "rprivate",
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
            ],
        ));
    }
    if in_userns && f.ipc_host {
        out.push(m(
            "/dev/mqueue",
            "bind",
            "/dev/mqueue",
            &["bind", "nosuid", "noexec", "nodev", "private"],
        ));
    } else {
        out.push(m(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ));
    }
    if f.ipc_host {
        out.push(m(
            "/dev/shm",
            "bind",
            "/dev/shm",
            &["rbind", "nosuid", "noexec", "nodev", "rprivate"],
        ));
    } else {
        let size = format!("size={}k", f.shm_size.div_ceil(1024));
        out.push(m(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &size],
        ));
    }

    if !f.can_mount_sys {
        // A sysfs belongs to the network namespace; a user namespace that
        // does not own it may only bind the host's.
        let r = if f.privileged { "rw" } else { "ro" };
        out.push(m(
            "/sys",
            "bind",
            "/sys",
            &["rprivate", "nosuid", "noexec", "nodev", r, "rbind"],
        ));
        out.push(m(
            "/sys/fs/cgroup",
            "bind",
            "/sys/fs/cgroup",
            &["rprivate", "nosuid", "noexec", "nodev", r, "rbind"],
        ));
    } else {
        if f.privileged {
            out.push(m(
                "/sys",
                "sysfs",
                "sysfs",
                &["rprivate", "nosuid", "noexec", "nodev", "rw"],
            ));
        } else {
            out.push(m(
                "/sys",
                "sysfs",
                "sysfs",
                &["nosuid", "noexec", "nodev", "ro"],
            ));
        }
        let perm = if f.cgroup_rw { "rw" } else { "ro" };
        out.push(m(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["rprivate", "nosuid", "noexec", "nodev", "relatime", perm],
        ));
    }
    out
}

/// A mount destination must be absolute; it is compared and written
/// without a trailing slash.
pub fn clean_destination(dest: &str) -> Result<String, SpecError> {
    if !dest.starts_with('/') {
        return Err(SpecError::RelativeMountDestination(dest.to_string()));
    }
    let mut parts = Vec::new();
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Podman's `processOptionsInternal`: validates the options of a bind or
/// tmpfs mount, rejects duplicates, drops the ones only the engine acts on
/// (z, Z, U, relabel, copy/nocopy, notmpcopyup), and adds the defaults:
/// (r)private propagation, the source filesystem's nosuid/nodev/noexec
/// (all three for tmpfs), tmpcopyup for tmpfs, rbind for binds.
pub fn process_options(
    destination: &str,
    options: &[String],
    tmpfs: bool,
    source: SourceFlags,
) -> Result<Vec<String>, SpecError> {
    let bad = |option: &str, reason: &'static str| SpecError::BadMountOption {
        destination: destination.to_string(),
        option: option.to_string(),
        reason,
    };
    #[derive(Default)]
    struct Seen {
        write: bool,
        size: bool,
        prop: bool,
        mode: bool,
        exec: bool,
        suid: bool,
        dev: bool,
        copyup: bool,
        bind: bool,
        z: bool,
        u: bool,
        idmap: bool,
        copy: bool,
    }
    let mut seen = Seen::default();
    let mut recursive = true;
    let mut out = Vec::with_capacity(options.len() + 4);
    for opt in options {
        let key = opt.split_once('=').map_or(opt.as_str(), |(k, _)| k);
        let once = |flag: &mut bool| {
            if std::mem::replace(flag, true) {
                Err(SpecError::DuplicateMountOption {
                    destination: destination.to_string(),
                    option: opt.clone(),
                })
            } else {
                Ok(())
            }
        };
        match key {
            "idmap" => {
                once(&mut seen.idmap)?;
            }
            "copy" | "nocopy" => {
                once(&mut seen.copy)?;
                continue;
            }
            "exec" | "noexec" => once(&mut seen.exec)?,
            "suid" | "nosuid" => once(&mut seen.suid)?,
            "dev" | "nodev" => once(&mut seen.dev)?,
            "rw" | "ro" => once(&mut seen.write)?,
            "private" | "rprivate" | "slave" | "rslave" | "shared" | "rshared" | "unbindable"
            | "runbindable" => once(&mut seen.prop)?,
            "size" | "mode" | "tmpcopyup" | "notmpcopyup" | "noatime" if !tmpfs => {
                return Err(bad(opt, "only tmpfs mounts take it"));
            }
            "size" => once(&mut seen.size)?,
            "mode" => once(&mut seen.mode)?,
            "tmpcopyup" => once(&mut seen.copyup)?,
            "notmpcopyup" => {
                once(&mut seen.copyup)?;
                continue;
            }
            "noatime" => {}
            "consistency" => continue,
            "bind" | "rbind" if tmpfs => return Err(bad(opt, "tmpfs mounts cannot be binds")),
            "bind" | "rbind" => {
                if key == "bind" {
                    recursive = false;
                }
                once(&mut seen.bind)?;
            }
            "z" | "Z" | "relabel" if tmpfs => {
                return Err(bad(opt, "tmpfs mounts cannot be relabeled"));
            }
            "z" | "Z" | "relabel" => {
                once(&mut seen.z)?;
                continue;
            }
            "U" => {
                once(&mut seen.u)?;
                continue;
            }
            "O" | "subpath" | "volume-opt" | "no-dereference" => {
                return Err(bad(opt, "not supported by hutch yet"));
            }
            _ => return Err(bad(opt, "unknown mount option")),
        }
        out.push(opt.clone());
    }
    if !seen.prop {
        out.push(if recursive { "rprivate" } else { "private" }.to_string());
    }
    // Podman's getDefaultMountOptions: tmpfs has no source and gets all
    // three; a bind copies its source filesystem's flags.
    let defaults = if tmpfs {
        SourceFlags {
            noexec: true,
            nosuid: true,
            nodev: true,
        }
    } else {
        source
    };
    if !seen.exec && defaults.noexec {
        out.push("noexec".to_string());
    }
    if !seen.suid && defaults.nosuid {
        out.push("nosuid".to_string());
    }
    if !seen.dev && defaults.nodev {
        out.push("nodev".to_string());
    }
    if tmpfs && !seen.copyup {
        out.push("tmpcopyup".to_string());
    }
    if !tmpfs && !seen.bind {
        out.push("rbind".to_string());
    }
    Ok(out)
}

/// A user mount turned into the spec's form.
pub fn user_mount(req: &MountRequest) -> Result<Mount, SpecError> {
    let dest = clean_destination(req.destination())?;
    Ok(match req {
        MountRequest::Bind {
            source,
            options,
            source_flags,
            ..
        }
        | MountRequest::Volume {
            source,
            options,
            source_flags,
            ..
        } => {
            let opts = process_options(&dest, options, false, *source_flags)?;
            let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
            mount(Path::new(&dest), "bind", Some(source), &refs)
        }
        MountRequest::Tmpfs { options, .. } => tmpfs(&dest, options)?,
    })
}

/// A tmpfs at `dest` (absolute and cleaned) with the `--tmpfs` options.
pub fn tmpfs(dest: &str, options: &[String]) -> Result<Mount, SpecError> {
    let opts = process_options(dest, options, true, SourceFlags::default())?;
    let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
    Ok(mount(
        Path::new(dest),
        "tmpfs",
        Some(Path::new("tmpfs")),
        &refs,
    ))
}

/// The tmpfs `--read-only` adds (unless the user mounted something there),
/// with Podman's options run through the same processing.
pub fn read_only_tmpfs(dest: &str) -> Result<Mount, SpecError> {
    let opts: Vec<String> = ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    tmpfs(dest, &opts)
}

/// A host file the engine prepared (resolv.conf, hosts, hostname).
pub fn etc_file(source: &Path, destination: &str) -> Mount {
    mount(
        Path::new(destination),
        "bind",
        Some(source),
        &["bind", "rprivate"],
    )
}

pub fn init_binary(source: &Path) -> Mount {
    mount(
        Path::new(INIT_PATH),
        "bind",
        Some(source),
        &["bind", "ro", "private"],
    )
}

pub fn destination_of(m: &Mount) -> String {
    m.destination().display().to_string()
}

/// Parents before children: libpod sorts by the number of path components;
/// the sort here is stable so equal depths keep their order.
pub fn sort(mounts: &mut [Mount]) {
    mounts.sort_by_key(|m| {
        PathBuf::from(m.destination())
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .count()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    fn opts_of(m: &Mount) -> Vec<String> {
        m.options().clone().unwrap_or_default()
    }

    #[test]
    fn bind_defaults() {
        let o = process_options("/data", &[], false, SourceFlags::default()).expect("ok");
        assert_eq!(o, s(&["rprivate", "rbind"]));
        let o = process_options("/data", &s(&["ro", "bind"]), false, SourceFlags::default())
            .expect("ok");
        assert_eq!(o, s(&["ro", "bind", "private"]));
    }

    #[test]
    fn bind_copies_source_flags_unless_overridden() {
        let flags = SourceFlags {
            nosuid: true,
            nodev: true,
            noexec: false,
        };
        let o = process_options("/d", &s(&["suid"]), false, flags).expect("ok");
        assert_eq!(o, s(&["suid", "rprivate", "nodev", "rbind"]));
    }

    #[test]
    fn engine_only_options_are_dropped() {
        let o = process_options("/d", &s(&["z", "U", "ro"]), false, SourceFlags::default())
            .expect("ok");
        assert_eq!(o, s(&["ro", "rprivate", "rbind"]));
        let o = process_options("/d", &s(&["Z"]), false, SourceFlags::default()).expect("ok");
        assert!(!o.contains(&"Z".to_string()));
        let o = process_options("/d", &s(&["relabel=shared"]), false, SourceFlags::default())
            .expect("ok");
        assert_eq!(o, s(&["rprivate", "rbind"]));
    }

    #[test]
    fn option_errors_name_mount_and_option() {
        let err = process_options("/d", &s(&["ro", "rw"]), false, SourceFlags::default())
            .expect_err("duplicate");
        assert!(
            err.to_string().contains("/d") && err.to_string().contains("rw"),
            "{err}"
        );
        let err = process_options("/d", &s(&["size=1m"]), false, SourceFlags::default())
            .expect_err("size on bind");
        assert!(err.to_string().contains("size=1m"), "{err}");
        let err = process_options("/d", &s(&["z", "Z"]), false, SourceFlags::default())
            .expect_err("both z and Z");
        assert!(err.to_string().contains('Z'), "{err}");
        let err = process_options("/t", &s(&["bind"]), true, SourceFlags::default())
            .expect_err("bind on tmpfs");
        assert!(err.to_string().contains("bind"), "{err}");
        assert!(process_options("/d", &s(&["bogus"]), false, SourceFlags::default()).is_err());
    }

    #[test]
    fn tmpfs_flag_options() {
        let t = tmpfs("/scratch", &[]).expect("ok");
        assert_eq!(t.typ().as_deref(), Some("tmpfs"));
        assert_eq!(
            opts_of(&t),
            s(&["rprivate", "noexec", "nosuid", "nodev", "tmpcopyup"])
        );
        let t = tmpfs(
            "/scratch",
            &s(&["size=10m", "mode=1777", "exec", "notmpcopyup"]),
        )
        .expect("ok");
        assert_eq!(t.destination(), &PathBuf::from("/scratch"));
        assert_eq!(
            opts_of(&t),
            s(&[
                "size=10m",
                "mode=1777",
                "exec",
                "rprivate",
                "nosuid",
                "nodev"
            ])
        );
        let err = tmpfs("/s", &s(&["size=1m", "size=2m"])).expect_err("duplicate size");
        assert!(err.to_string().contains("size=2m"), "{err}");
    }

    #[test]
    fn destinations_are_cleaned() {
        assert_eq!(clean_destination("/a//b/./c/").expect("ok"), "/a/b/c");
        assert_eq!(clean_destination("/a/../b").expect("ok"), "/b");
        assert!(clean_destination("a/b").is_err());
    }

    #[test]
    fn parents_mount_first() {
        let mut list = vec![
            m("/a/b/c", "bind", "/x", &[]),
            m("/a", "bind", "/y", &[]),
            m("/dev", "tmpfs", "tmpfs", &[]),
            m("/a/b", "bind", "/z", &[]),
        ];
        sort(&mut list);
        let order: Vec<_> = list.iter().map(destination_of).collect();
        assert_eq!(order, s(&["/a", "/dev", "/a/b", "/a/b/c"]));
    }
}
