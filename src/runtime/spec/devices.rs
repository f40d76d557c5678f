//! The device entries of the spec (`--device` is parsed by
//! `spec::parse::device`).
//!
//! Rootful containers get device nodes (`linux.devices`) and device cgroup
//! rules, as Podman's `addDevice`; rootless ones cannot create nodes, so
//! Podman bind-mounts the host node instead, read-only unless the
//! permissions ask for writing, and so does hutch. Rootful, the six
//! standard nodes are listed too, with device cgroup rules allowing them:
//! the runtime spec requires runtimes to provide them anyway, and listing
//! them keeps crun and runc in step. In a user namespace they are left to
//! the runtime, which bind-mounts its own set (crun would bind them twice).

use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, Mount};

use super::SpecError;
use super::config::{DeviceKind, DeviceNode, DeviceRequest, HostDevice};

/// /dev/null, zero, full, random, urandom and tty with their fixed numbers.
pub const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Podman's `IsValidDeviceMode`: one to three of r, w, m, each once.
pub fn valid_mode(mode: &str) -> bool {
    !mode.is_empty()
        && mode.len() <= 3
        && mode.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && mode
            .chars()
            .enumerate()
            .all(|(i, c)| !mode[..i].contains(c))
}

fn oci_type(kind: DeviceKind) -> LinuxDeviceType {
    match kind {
        DeviceKind::Char => LinuxDeviceType::C,
        DeviceKind::Block => LinuxDeviceType::B,
        DeviceKind::Fifo => LinuxDeviceType::P,
    }
}

pub fn node(path: &Path, n: &DeviceNode) -> LinuxDevice {
    let mut d = LinuxDevice::default();
    d.set_path(path.to_path_buf());
    d.set_typ(oci_type(n.kind));
    d.set_major(n.major);
    d.set_minor(n.minor);
    d.set_file_mode(n.file_mode);
    d.set_uid(n.uid);
    d.set_gid(n.gid);
    d
}

pub fn cgroup_rule(
    allow: bool,
    kind: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(kind);
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

pub fn default_nodes() -> Vec<LinuxDevice> {
    DEFAULT_DEVICES
        .iter()
        .map(|(path, major, minor)| {
            node(
                Path::new(path),
                &DeviceNode {
                    kind: DeviceKind::Char,
                    major: *major,
                    minor: *minor,
                    file_mode: Some(0o666),
                    uid: Some(0),
                    gid: Some(0),
                },
            )
        })
        .collect()
}

pub fn default_rules() -> Vec<LinuxDeviceCgroup> {
    DEFAULT_DEVICES
        .iter()
        .map(|(_, major, minor)| {
            cgroup_rule(
                true,
                Some(LinuxDeviceType::C),
                Some(*major),
                Some(*minor),
                "rwm",
            )
        })
        .collect()
}

fn bind(source: &Path, destination: &Path, perm: &str) -> Mount {
    super::mounts::mount(
        destination,
        "bind",
        Some(source),
        &["slave", "nosuid", "noexec", perm, "rbind"],
    )
}

/// What the user's `--device`s add: bind mounts rootless, nodes and rules
/// rootful.
#[derive(Debug, Default)]
pub struct UserDevices {
    pub mounts: Vec<Mount>,
    pub nodes: Vec<LinuxDevice>,
    pub rules: Vec<LinuxDeviceCgroup>,
}

pub fn user_devices(requests: &[DeviceRequest], rootless: bool) -> Result<UserDevices, SpecError> {
    let mut out = UserDevices::default();
    for req in requests {
        if !valid_mode(&req.permissions) {
            return Err(SpecError::BadDevice {
                value: req.host_path.display().to_string(),
                reason: "the permissions must be some of r, w and m",
            });
        }
        if rootless {
            let perm = if req.permissions.contains('w') {
                "rw"
            } else {
                "ro"
            };
            out.mounts
                .push(bind(&req.host_path, &req.container_path, perm));
            continue;
        }
        let n = req
            .node
            .as_ref()
            .ok_or_else(|| SpecError::DeviceNotResolved(req.host_path.clone()))?;
        out.nodes.push(node(&req.container_path, n));
        out.rules.push(cgroup_rule(
            true,
            Some(oci_type(n.kind)),
            Some(n.major),
            Some(n.minor),
            &req.permissions,
        ));
    }
    Ok(out)
}

/// `/dev/ttyN` virtual consoles, which Podman never hands to a rootless
/// privileged container.
fn is_virtual_console(path: &Path) -> bool {
    path.to_str()
        .and_then(|p| p.strip_prefix("/dev/tty"))
        .is_some_and(|n| !n.is_empty() && n.parse::<u16>().is_ok())
}

/// `--privileged`: every host device. Rootless they are bind-mounted (except
/// /dev/ptmx, /dev/tty and the virtual consoles, and any path already
/// mounted), rootful they become nodes with an allow-all cgroup rule.
pub fn privileged_devices(host: &[HostDevice], rootless: bool, mounted: &[String]) -> UserDevices {
    let mut out = UserDevices::default();
    for d in host {
        if rootless {
            let p = d.path.display().to_string();
            if p == "/dev/ptmx" || p == "/dev/tty" || is_virtual_console(&d.path) {
                continue;
            }
            if mounted.contains(&p) {
                continue;
            }
            out.mounts.push(bind(&d.path, &d.path, "rw"));
        } else {
            out.nodes.push(node(&d.path, &d.node));
        }
    }
    if !rootless {
        out.rules.push(cgroup_rule(true, None, None, None, "rwm"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn rootless_binds_rootful_needs_nodes() {
        let mut req = DeviceRequest {
            host_path: PathBuf::from("/dev/fuse"),
            container_path: PathBuf::from("/dev/fuse"),
            permissions: "r".to_string(),
            node: None,
        };
        let out = user_devices(std::slice::from_ref(&req), true).expect("rootless");
        assert_eq!(out.mounts.len(), 1);
        let opts = out.mounts[0].options().clone().expect("options");
        assert!(opts.contains(&"ro".to_string()));

        let err = user_devices(std::slice::from_ref(&req), false).expect_err("no node");
        assert!(err.to_string().contains("/dev/fuse"), "{err}");
        req.node = Some(DeviceNode {
            kind: DeviceKind::Char,
            major: 10,
            minor: 229,
            file_mode: Some(0o666),
            uid: Some(0),
            gid: Some(0),
        });
        let out = user_devices(&[req], false).expect("rootful");
        assert_eq!(out.nodes[0].major(), 10);
        assert_eq!(out.rules[0].access().as_deref(), Some("r"));
    }

    #[test]
    fn privileged_rootless_skips_consoles() {
        let dev = |p: &str| HostDevice {
            path: PathBuf::from(p),
            node: DeviceNode {
                kind: DeviceKind::Char,
                major: 4,
                minor: 1,
                file_mode: None,
                uid: None,
                gid: None,
            },
        };
        let host = vec![
            dev("/dev/tty1"),
            dev("/dev/ptmx"),
            dev("/dev/tty"),
            dev("/dev/ttyS0"),
            dev("/dev/kvm"),
        ];
        let out = privileged_devices(&host, true, &["/dev/kvm".to_string()]);
        let dests: Vec<_> = out.mounts.iter().map(|m| m.destination().clone()).collect();
        assert_eq!(dests, vec![PathBuf::from("/dev/ttyS0")]);
        let out = privileged_devices(&host, false, &[]);
        assert_eq!(out.nodes.len(), 5);
        assert!(out.rules[0].allow());
    }
}
