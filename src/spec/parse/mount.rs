//! `-v`, `--mount` and `--tmpfs` into [`Mount`]s and [`Tmpfs`], with
//! Podman's error wording where scripts may match on it. Relative bind
//! sources are made absolute against the working directory the front end
//! passes (its own), never the engine's.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::name;
use crate::runtime::spec::mounts;
use crate::spec::{Mount, MountSource, Tmpfs};

/// Podman's `ErrInvalidVolumeFormat` text.
const BAD_VOLUME: &str = "incorrect volume format, should be [host-dir:]ctr-dir[:option]";

/// `-v` options Podman's `ValidateVolumeOpts` knows.
fn known_volume_option(o: &str) -> bool {
    let key = o.split_once('=').map_or(o, |(k, _)| k);
    matches!(
        key,
        "ro" | "rw"
            | "z"
            | "Z"
            | "U"
            | "O"
            | "idmap"
            | "nocopy"
            | "copy"
            | "exec"
            | "noexec"
            | "suid"
            | "nosuid"
            | "dev"
            | "nodev"
            | "bind"
            | "rbind"
            | "private"
            | "rprivate"
            | "shared"
            | "rshared"
            | "slave"
            | "rslave"
            | "unbindable"
            | "runbindable"
            | "relabel"
            | "noatime"
            | "consistency"
            | "delegated"
            | "cached"
    )
}

fn check_destination(dest: &str) -> anyhow::Result<()> {
    if !dest.starts_with('/') {
        bail!("invalid container path {dest:?}, must be an absolute path");
    }
    Ok(())
}

fn absolute(src: &str, cwd: &Path) -> PathBuf {
    let p = Path::new(src);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// `-v [SOURCE:]DEST[:OPTIONS]`. `cwd` anchors relative bind sources
/// (`./dir`), which Podman accepts.
pub fn volume(spec: &str, cwd: &Path) -> anyhow::Result<Mount> {
    let parts: Vec<&str> = spec.split(':').collect();
    if spec.is_empty() || parts.len() > 3 || parts.iter().take(2).any(|p| p.is_empty()) {
        bail!("{BAD_VOLUME}: {spec:?}");
    }
    let (src, dest) = match parts.as_slice() {
        [d] => (None, *d),
        [s, d, ..] => (Some(*s), *d),
        [] => bail!("{BAD_VOLUME}: {spec:?}"),
    };
    check_destination(dest)?;
    let mut options = Vec::new();
    if let Some(opts) = parts.get(2) {
        for o in opts.split(',') {
            if !known_volume_option(o) {
                bail!("invalid option type {o:?} in volume {spec:?}");
            }
            options.push(o.to_string());
        }
    }
    let source = match src {
        None => MountSource::Anonymous,
        Some(s) if s.starts_with('/') || s.starts_with('.') => MountSource::Bind(absolute(s, cwd)),
        Some(s) => {
            name::validate("volume", s).with_context(|| format!("volume {spec:?}"))?;
            MountSource::Named(s.to_string())
        }
    };
    Ok(Mount {
        source,
        destination: dest.to_string(),
        options,
    })
}

/// `--mount type=bind|volume|tmpfs,source=...,destination=...,...`.
pub fn mount(spec: &str, cwd: &Path) -> anyhow::Result<Mount> {
    let mut typ = None;
    let mut src: Option<String> = None;
    let mut dest: Option<String> = None;
    let mut options = Vec::new();
    let bool_value = |v: Option<&str>, key: &str| -> anyhow::Result<bool> {
        match v {
            None | Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(other) => bail!("invalid value {other:?} for mount option {key:?}"),
        }
    };
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        let need = |v: Option<&str>| -> anyhow::Result<String> {
            v.filter(|v| !v.is_empty())
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("mount option {key:?} needs a value in {spec:?}"))
        };
        match key {
            "type" => typ = Some(need(value)?),
            "src" | "source" => src = Some(need(value)?),
            "dst" | "target" | "destination" => dest = Some(need(value)?),
            "ro" | "readonly" => {
                if bool_value(value, key)? {
                    options.push("ro".to_string());
                }
            }
            "rw" => {
                if bool_value(value, key)? {
                    options.push("rw".to_string());
                }
            }
            "bind-propagation" => options.push(need(value)?),
            "bind-nonrecursive" => {
                if bool_value(value, key)? {
                    options.push("bind".to_string());
                }
            }
            "relabel" => match need(value)?.as_str() {
                "shared" => options.push("z".to_string()),
                "private" => options.push("Z".to_string()),
                v => bail!("invalid relabel value {v:?} in {spec:?}"),
            },
            "z" | "Z" | "U" | "idmap" | "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev"
            | "notmpcopyup" | "tmpcopyup" | "noatime" => options.push(field.to_string()),
            "chown" => {
                if bool_value(value, key)? {
                    options.push("U".to_string());
                }
            }
            "volume-nocopy" | "nocopy" => {
                if bool_value(value, key)? {
                    options.push("nocopy".to_string());
                }
            }
            "tmpfs-size" => options.push(format!("size={}", need(value)?)),
            "tmpfs-mode" => {
                let mode = need(value)?;
                u32::from_str_radix(&mode, 8)
                    .with_context(|| format!("invalid tmpfs-mode {mode:?}: not an octal mode"))?;
                options.push(format!("mode={mode}"));
            }
            "consistency" => {}
            _ => bail!("unsupported mount option {key:?} in {spec:?}"),
        }
    }
    let Some(dest) = dest else {
        bail!("--mount {spec:?}: must set a target (dst=, target= or destination=)");
    };
    check_destination(&dest)?;
    let source = match typ.as_deref() {
        Some("bind") => {
            let Some(s) = src else {
                bail!("--mount {spec:?}: a bind mount must set a source");
            };
            MountSource::Bind(absolute(&s, cwd))
        }
        Some("volume") => match src {
            None => MountSource::Anonymous,
            Some(s) => {
                name::validate("volume", &s).with_context(|| format!("--mount {spec:?}"))?;
                MountSource::Named(s)
            }
        },
        Some("tmpfs") => {
            if src.is_some() {
                bail!("--mount {spec:?}: a tmpfs mount takes no source");
            }
            MountSource::Tmpfs
        }
        Some(other) => bail!("invalid filesystem type {other:?} in --mount {spec:?}"),
        None => bail!("--mount {spec:?}: type must be specified (bind, volume or tmpfs)"),
    };
    if source != MountSource::Tmpfs
        && let Some(o) = options
            .iter()
            .find(|o| o.starts_with("size=") || o.starts_with("mode="))
    {
        bail!("--mount {spec:?}: {o} is for tmpfs mounts only");
    }
    Ok(Mount {
        source,
        destination: dest,
        options,
    })
}

/// `--tmpfs DEST[:OPTIONS]`; the options are checked as the spec generator
/// will apply them.
pub fn tmpfs(spec: &str) -> anyhow::Result<Tmpfs> {
    let (dest, opts) = match spec.split_once(':') {
        Some((d, o)) => (
            d,
            o.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        None => (spec, Vec::new()),
    };
    let destination =
        mounts::clean_destination(dest).map_err(|_| crate::runtime::spec::SpecError::BadTmpfs {
            value: spec.to_string(),
            reason: "the destination must be an absolute path",
        })?;
    mounts::tmpfs(&destination, &opts)?;
    Ok(Tmpfs {
        destination,
        options: opts,
    })
}

/// Two of `-v` and `--mount` at one place (with `--tmpfs`, the spec
/// generator refuses them).
pub fn check_duplicates(list: &[Mount]) -> anyhow::Result<()> {
    let mut dests: Vec<String> = Vec::new();
    for d in list.iter().map(|m| m.destination.as_str()) {
        let d = mounts::clean_destination(d)?;
        if dests.contains(&d) {
            bail!("{d}: duplicate mount destination");
        }
        dests.push(d);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> anyhow::Result<Mount> {
        volume(s, Path::new("/home/u"))
    }

    #[test]
    fn volume_forms() {
        let m = v("/src:/dst:ro,Z").unwrap();
        assert_eq!(m.source, MountSource::Bind("/src".into()));
        assert_eq!(m.options, vec!["ro", "Z"]);
        assert_eq!(
            v("./code:/c").unwrap().source,
            MountSource::Bind("/home/u/./code".into())
        );
        assert_eq!(
            v("data:/data").unwrap().source,
            MountSource::Named("data".into())
        );
        assert_eq!(v("/data").unwrap().source, MountSource::Anonymous);
    }

    #[test]
    fn volume_errors() {
        for bad in ["", "a:b:c:d", "/a:", ":/b"] {
            let e = v(bad).unwrap_err().to_string();
            assert!(e.contains("incorrect volume format"), "{bad}: {e}");
        }
        let e = v("/a:rel").unwrap_err().to_string();
        assert!(e.contains("must be an absolute path"), "{e}");
        let e = v("/a:/b:bogus").unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
        assert!(v("bad name!:/b").is_err());
    }

    #[test]
    fn mount_forms() {
        let root = Path::new("/");
        let m = mount(
            "type=bind,src=/a,target=/b,readonly,bind-propagation=rshared",
            root,
        )
        .unwrap();
        assert_eq!(m.source, MountSource::Bind("/a".into()));
        assert_eq!(m.destination, "/b");
        assert_eq!(m.options, vec!["ro", "rshared"]);
        let m = mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700", root).unwrap();
        assert_eq!(m.source, MountSource::Tmpfs);
        assert_eq!(m.options, vec!["size=1m", "mode=700"]);
        let m = mount("type=volume,destination=/v", root).unwrap();
        assert_eq!(m.source, MountSource::Anonymous);
        assert!(mount("type=bind,dst=/b", root).is_err());
        assert!(mount("src=/a,dst=/b", root).is_err());
        assert!(mount("type=tmpfs,dst=/t,tmpfs-mode=9", root).is_err());
        assert!(mount("type=bind,src=/a,dst=/b,tmpfs-size=1", root).is_err());
        assert!(mount("type=bind,src=/a,dst=/b,what=1", root).is_err());
    }

    #[test]
    fn tmpfs_and_duplicates() {
        let t = tmpfs("/scratch/:size=10m").unwrap();
        assert_eq!(t.destination, "/scratch");
        assert_eq!(t.options, vec!["size=10m"]);
        let e = tmpfs("scratch").unwrap_err().to_string();
        assert!(e.contains("invalid --tmpfs"), "{e}");
        assert!(tmpfs("/s:size=1m,size=2m").is_err());
        let two = [v("/a:/x").unwrap(), v("/b:/x/").unwrap()];
        assert!(check_duplicates(&two).is_err());
    }
}
