//! `--userns` with `--uidmap`/`--gidmap`, and `--pid`/`--ipc`/`--uts`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;

use crate::spec::{IdMap, Namespace, Userns};

fn parse_id_map(spec: &str, flag: &str) -> anyhow::Result<IdMap> {
    let nums: Vec<&str> = spec.split(':').collect();
    let bad = || anyhow::anyhow!("invalid {flag} {spec:?}: expected container-id:host-id:size");
    if nums.len() != 3 {
        return Err(bad());
    }
    let n = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let m = IdMap {
        container_id: n(nums[0])?,
        host_id: n(nums[1])?,
        size: n(nums[2])?,
    };
    if m.size == 0 {
        return Err(bad());
    }
    Ok(m)
}

/// `--subuidname`/`--subgidname`: the named entry's ranges as
/// `--uidmap` texts, container ids counting up from 0 across the ranges in
/// file order, as containers/storage's `NewIDMappings` builds them.
pub fn subid_maps(ranges: &[(u32, u32)]) -> Vec<String> {
    let mut next = 0u64;
    ranges
        .iter()
        .map(|&(start, count)| {
            let text = format!("{next}:{start}:{count}");
            next += u64::from(count);
            text
        })
        .collect()
}

/// `--userns` with `--uidmap`/`--gidmap`; `auto`'s ids are allocated by
/// the engine, which knows the other containers.
pub fn userns(mode: Option<&str>, uidmap: &[String], gidmap: &[String]) -> anyhow::Result<Userns> {
    let uid_map = uidmap
        .iter()
        .map(|m| parse_id_map(m, "--uidmap"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let gid_map = gidmap
        .iter()
        .map(|m| parse_id_map(m, "--gidmap"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !uid_map.is_empty() || !gid_map.is_empty() {
        if mode.is_some_and(|m| !m.is_empty()) {
            bail!("--userns and --uidmap/--gidmap cannot be used together");
        }
        // One map given: Podman uses it for both.
        let (u, g) = match (uid_map.is_empty(), gid_map.is_empty()) {
            (false, true) => (uid_map.clone(), uid_map),
            (true, false) => (gid_map.clone(), gid_map),
            _ => (uid_map, gid_map),
        };
        return Ok(Userns::Explicit {
            uid_map: u,
            gid_map: g,
        });
    }
    let Some(mode) = mode.filter(|m| !m.is_empty()) else {
        return Ok(Userns::Host);
    };
    let (kind, opts) = mode.split_once(':').unwrap_or((mode, ""));
    let mut kv = BTreeMap::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid --userns option {o:?} in {mode:?}"))?;
        let v: u32 = v
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid --userns option {o:?}: not a number"))?;
        kv.insert(k.to_string(), v);
    }
    let check = |allowed: &[&str]| -> anyhow::Result<()> {
        match kv.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => bail!("invalid --userns option {k:?} for {kind}"),
            None => Ok(()),
        }
    };
    Ok(match kind {
        "host" | "" if opts.is_empty() => Userns::Host,
        "keep-id" => {
            check(&["uid", "gid", "size"])?;
            Userns::KeepId {
                uid: kv.get("uid").copied(),
                gid: kv.get("gid").copied(),
                size: kv.get("size").copied(),
            }
        }
        "nomap" if opts.is_empty() => Userns::NoMap,
        "auto" | "private" => {
            check(&["size"])?;
            Userns::Auto {
                size: kv.get("size").copied(),
            }
        }
        _ => bail!("invalid --userns {mode:?}: expected host, keep-id[:uid=,gid=], nomap or auto"),
    })
}

/// `--pid`/`--ipc`/`--uts`; `container:` is looked up by the engine.
pub fn namespace(flag: &str, value: Option<&str>) -> anyhow::Result<Namespace> {
    Ok(match value.unwrap_or("") {
        "" | "private" => Namespace::Private,
        "host" => Namespace::Host,
        v => match v.split_once(':') {
            Some(("container", id)) if !id.is_empty() => Namespace::Container(id.to_string()),
            Some(("ns", path)) if path.starts_with('/') => Namespace::Path(PathBuf::from(path)),
            _ => bail!("invalid --{flag} {v:?}: expected host, private, container:ID or ns:PATH"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_ranges_become_consecutive_maps() {
        assert_eq!(
            subid_maps(&[(300000, 65536), (500000, 10)]),
            ["0:300000:65536", "65536:500000:10"]
        );
        assert!(subid_maps(&[]).is_empty());
    }

    #[test]
    fn userns_forms() {
        assert_eq!(userns(None, &[], &[]).unwrap(), Userns::Host);
        assert_eq!(
            userns(Some("keep-id:uid=5,gid=6"), &[], &[]).unwrap(),
            Userns::KeepId {
                uid: Some(5),
                gid: Some(6),
                size: None
            }
        );
        assert_eq!(userns(Some("nomap"), &[], &[]).unwrap(), Userns::NoMap);
        let u = userns(None, &["0:1:100".into()], &[]).unwrap();
        let m = IdMap {
            container_id: 0,
            host_id: 1,
            size: 100,
        };
        assert_eq!(
            u,
            Userns::Explicit {
                uid_map: vec![m],
                gid_map: vec![m]
            }
        );
        assert!(userns(Some("keep-id:foo=1"), &[], &[]).is_err());
        assert!(userns(Some("bogus"), &[], &[]).is_err());
        assert!(userns(None, &["0:1".into()], &[]).is_err());
    }

    #[test]
    fn namespaces() {
        assert_eq!(
            namespace("pid", Some("container:abc")).unwrap(),
            Namespace::Container("abc".into())
        );
        assert_eq!(namespace("ipc", None).unwrap(), Namespace::Private);
        assert!(namespace("pid", Some("bogus")).is_err());
    }
}
