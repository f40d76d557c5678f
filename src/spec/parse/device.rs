//! `--device host[:container][:perms]`. The node's type and numbers are
//! the engine's to read.

use std::path::PathBuf;

use crate::runtime::spec::SpecError;
use crate::runtime::spec::devices::valid_mode;
use crate::spec::DeviceRequest;

/// Parses `host[:container][:perms]` (Podman's `ParseDevice`): with two
/// parts the second is a mode when it looks like one, else a path.
pub fn device(spec: &str) -> Result<DeviceRequest, SpecError> {
    let bad = |reason| SpecError::BadDevice {
        value: spec.to_string(),
        reason,
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, x] if valid_mode(x) => (*h, *h, *x),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => {
            if !valid_mode(p) {
                return Err(bad("the permissions must be some of r, w and m"));
            }
            (*h, *c, *p)
        }
        _ => return Err(bad("expected host[:container][:permissions]")),
    };
    if !host.starts_with('/') {
        return Err(bad("the host path must be absolute"));
    }
    if !container.starts_with('/') {
        return Err(bad("the container path must be absolute"));
    }
    Ok(DeviceRequest {
        host_path: PathBuf::from(host),
        container_path: PathBuf::from(container),
        permissions: perms.to_string(),
        node: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let d = device("/dev/fuse").expect("parses");
        assert_eq!(d.container_path, PathBuf::from("/dev/fuse"));
        assert_eq!(d.permissions, "rwm");
        let d = device("/dev/sdc:r").expect("parses");
        assert_eq!(
            (d.container_path.to_str(), d.permissions.as_str()),
            (Some("/dev/sdc"), "r")
        );
        let d = device("/dev/sdc:/dev/xvdc").expect("parses");
        assert_eq!(d.container_path, PathBuf::from("/dev/xvdc"));
        let d = device("/dev/sdc:/dev/xvdc:rw").expect("parses");
        assert_eq!(d.permissions, "rw");
    }

    #[test]
    fn bad_devices_are_named() {
        for bad in [
            "dev/fuse",
            "/dev/sdc:xvdc",
            "/dev/sdc:/dev/x:rwx",
            "/a:/b:r:w",
            "/dev/sdc:/dev/x:rr",
        ] {
            let err = device(bad).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
