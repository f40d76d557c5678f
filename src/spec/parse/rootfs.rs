//! `--rootfs PATH[:O][:idmap]`: the container's root is a directory.

use std::path::Path;

use crate::spec::RootfsSpec;

/// Longest `--rootfs` value taken (the kernel's PATH_MAX).
const MAX_LEN: usize = 4096;

/// Parses `PATH[:O][:idmap[=MAPS]]`, the options in either order after
/// the path as Podman reads them; a relative path is taken from `cwd`.
pub fn rootfs(value: &str, cwd: &Path) -> anyhow::Result<RootfsSpec> {
    if value.len() > MAX_LEN {
        anyhow::bail!("--rootfs: the path is longer than {MAX_LEN} bytes");
    }
    let mut rest = value;
    let (mut overlay, mut idmap) = (false, false);
    loop {
        if let Some(p) = rest.strip_suffix(":O") {
            overlay = true;
            rest = p;
        } else if let Some((p, opt)) = rest.rsplit_once(':')
            && (opt == "idmap" || opt.starts_with("idmap="))
        {
            idmap = true;
            rest = p;
        } else {
            break;
        }
    }
    if rest.is_empty() {
        anyhow::bail!("--rootfs {value:?}: no path given");
    }
    Ok(RootfsSpec {
        path: cwd.join(rest),
        overlay,
        idmap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_follow_the_path() {
        let cwd = Path::new("/home/a");
        let r = rootfs("/srv/root", cwd).unwrap();
        assert_eq!(
            (r.path.to_str(), r.overlay, r.idmap),
            (Some("/srv/root"), false, false)
        );
        let r = rootfs("root:O", cwd).unwrap();
        assert_eq!(
            (r.path.to_str(), r.overlay, r.idmap),
            (Some("/home/a/root"), true, false)
        );
        let r = rootfs("/r:idmap:O", cwd).unwrap();
        assert_eq!(
            (r.path.to_str(), r.overlay, r.idmap),
            (Some("/r"), true, true)
        );
        let r = rootfs("/a:b", cwd).unwrap();
        assert_eq!(
            r.path.to_str(),
            Some("/a:b"),
            "other colons belong to the path"
        );
        assert!(rootfs(":O", cwd).is_err());
        assert!(rootfs(&"x".repeat(MAX_LEN + 1), cwd).is_err());
    }
}
