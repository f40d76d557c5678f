//! Parsing of the create flags' text (`-v`, `--mount`, `--userns`,
//! `--add-host`, `--log-opt`, ...) into typed values, with Podman's error
//! wording where scripts may match on it. Pure functions: nothing here looks
//! at the host, so every rule is unit-tested, and the engine runs all of
//! them before it creates anything.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::engine::state::names;
use crate::runtime::spec::IdMap;

/// Where a `-v`/`--mount` takes its data from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A host path (made absolute against the caller's working directory).
    Bind(PathBuf),
    /// A named volume, created when missing.
    Named(String),
    /// A fresh volume of the container's own (`-v /path`).
    Anonymous,
    Tmpfs,
}

/// One `-v` or `--mount`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: Source,
    /// Absolute, as written.
    pub destination: String,
    /// Options in the `-v` spelling (`ro`, `U`, `z`, `size=...`), checked
    /// in detail by the spec generator.
    pub options: Vec<String>,
}

impl MountSpec {
    /// Whether the user asked not to copy the image's files into a new
    /// volume.
    pub fn nocopy(&self) -> bool {
        self.options.iter().any(|o| o == "nocopy")
    }
}

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
pub fn parse_volume(spec: &str, cwd: &Path) -> anyhow::Result<MountSpec> {
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
        None => Source::Anonymous,
        Some(s) if s.starts_with('/') || s.starts_with('.') => Source::Bind(absolute(s, cwd)),
        Some(s) => {
            names::validate("volume", s).with_context(|| format!("volume {spec:?}"))?;
            Source::Named(s.to_string())
        }
    };
    Ok(MountSpec {
        source,
        destination: dest.to_string(),
        options,
    })
}

/// `--mount type=bind|volume|tmpfs,source=...,destination=...,...`.
pub fn parse_mount(spec: &str, cwd: &Path) -> anyhow::Result<MountSpec> {
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
            Source::Bind(absolute(&s, cwd))
        }
        Some("volume") => match src {
            None => Source::Anonymous,
            Some(s) => {
                names::validate("volume", &s).with_context(|| format!("--mount {spec:?}"))?;
                Source::Named(s)
            }
        },
        Some("tmpfs") => {
            if src.is_some() {
                bail!("--mount {spec:?}: a tmpfs mount takes no source");
            }
            Source::Tmpfs
        }
        Some(other) => bail!("invalid filesystem type {other:?} in --mount {spec:?}"),
        None => bail!("--mount {spec:?}: type must be specified (bind, volume or tmpfs)"),
    };
    if source != Source::Tmpfs
        && let Some(o) = options
            .iter()
            .find(|o| o.starts_with("size=") || o.starts_with("mode="))
    {
        bail!("--mount {spec:?}: {o} is for tmpfs mounts only");
    }
    Ok(MountSpec {
        source,
        destination: dest,
        options,
    })
}

/// `--userns`, with `--uidmap`/`--gidmap`. Allocation for `auto` needs the
/// other containers and is the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Userns {
    Host,
    KeepId {
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u32>,
    },
    NoMap,
    Auto {
        size: Option<u32>,
    },
    Explicit {
        uid_map: Vec<IdMap>,
        gid_map: Vec<IdMap>,
    },
}

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

pub fn parse_userns(
    mode: Option<&str>,
    uidmap: &[String],
    gidmap: &[String],
) -> anyhow::Result<Userns> {
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

/// `--pid`/`--ipc`/`--uts` before `container:` is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsSpec {
    Private,
    Host,
    Container(String),
    Path(PathBuf),
}

pub fn parse_namespace(flag: &str, value: Option<&str>) -> anyhow::Result<NsSpec> {
    Ok(match value.unwrap_or("") {
        "" | "private" => NsSpec::Private,
        "host" => NsSpec::Host,
        v => match v.split_once(':') {
            Some(("container", id)) if !id.is_empty() => NsSpec::Container(id.to_string()),
            Some(("ns", path)) if path.starts_with('/') => NsSpec::Path(PathBuf::from(path)),
            _ => bail!("invalid --{flag} {v:?}: expected host, private, container:ID or ns:PATH"),
        },
    })
}

/// `--add-host host[;host...]:ip`.
pub fn parse_add_host(spec: &str) -> anyhow::Result<(Vec<String>, IpAddr)> {
    let (hosts, ip) = spec
        .split_once(':')
        .or_else(|| spec.split_once('='))
        .ok_or_else(|| anyhow::anyhow!("invalid --add-host {spec:?}: expected host:ip"))?;
    let names: Vec<String> = hosts
        .split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        bail!("invalid --add-host {spec:?}: no host name");
    }
    // [::1] as Docker writes IPv6 addresses.
    let ip_text = ip.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = ip_text
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid IP address in add-host: {ip:?}"))?;
    Ok((names, ip))
}

/// `KEY=VALUE` flags (`--label`, `--annotation`); a bare key has an empty
/// value.
pub fn parse_key_values(flag: &str, list: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in list {
        let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
        if k.is_empty() {
            bail!("invalid {flag} {item:?}: empty key");
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Lines of an `--env-file`: `KEY=VALUE`, or `KEY` alone to take the value
/// from `host_env` (skipped when the host has none); blank lines and `#`
/// comments are skipped, as in Podman's `envlib.ParseFile`.
pub fn parse_env_file(text: &str, host_env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some(_) => out.push(line.to_string()),
            None => {
                let key = line.trim_end();
                if let Some(v) = host_env(key) {
                    out.push(format!("{key}={v}"));
                }
            }
        }
    }
    out
}

/// `--log-driver` and `--log-opt`, as the monitor and `logs` read them
/// back from the stored request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogConfig {
    /// `k8s-file` (also for `json-file`, which Podman writes as k8s-file)
    /// or `none`.
    pub driver: String,
    pub path: Option<PathBuf>,
    pub max_size: Option<u64>,
}

pub fn parse_log(driver: Option<&str>, opts: &[String]) -> anyhow::Result<LogConfig> {
    let driver = match driver.unwrap_or("") {
        "" | "k8s-file" | "json-file" => "k8s-file",
        "none" => "none",
        other => bail!("invalid log driver {other:?}: hutch supports k8s-file, json-file and none"),
    };
    let mut cfg = LogConfig {
        driver: driver.to_string(),
        ..LogConfig::default()
    };
    for o in opts {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid log option {o:?}: expected key=value"))?;
        match k {
            "max-size" => {
                let size =
                    parse_size(v).with_context(|| format!("invalid log option {o:?}: bad size"))?;
                // Podman's minimum: smaller sizes would rotate on every line.
                cfg.max_size = (size > 0).then_some(size.max(8192));
            }
            "path" => {
                if !v.starts_with('/') {
                    bail!("invalid log option {o:?}: the path must be absolute");
                }
                cfg.path = Some(PathBuf::from(v));
            }
            // Accepted for compatibility; hutch keeps one rotated file.
            "tag" | "max-file" | "mode" => {}
            _ => bail!("invalid log option {o:?}"),
        }
    }
    Ok(cfg)
}

/// Docker's `units.RAMInBytes`: a number with an optional b, k, m, g (and
/// "b"-suffixed) unit, powers of 1024.
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {text:?}"))?;
    let mult: u64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => bail!("invalid size {text:?}"),
    };
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> anyhow::Result<MountSpec> {
        parse_volume(s, Path::new("/home/u"))
    }

    #[test]
    fn volume_forms() {
        let m = v("/src:/dst:ro,Z").unwrap();
        assert_eq!(m.source, Source::Bind("/src".into()));
        assert_eq!(m.options, vec!["ro", "Z"]);
        assert_eq!(
            v("./code:/c").unwrap().source,
            Source::Bind("/home/u/./code".into())
        );
        assert_eq!(
            v("data:/data").unwrap().source,
            Source::Named("data".into())
        );
        assert_eq!(v("/data").unwrap().source, Source::Anonymous);
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
        let m = parse_mount(
            "type=bind,src=/a,target=/b,readonly,bind-propagation=rshared",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(m.source, Source::Bind("/a".into()));
        assert_eq!(m.destination, "/b");
        assert_eq!(m.options, vec!["ro", "rshared"]);
        let m = parse_mount(
            "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(m.source, Source::Tmpfs);
        assert_eq!(m.options, vec!["size=1m", "mode=700"]);
        let m = parse_mount("type=volume,destination=/v", Path::new("/")).unwrap();
        assert_eq!(m.source, Source::Anonymous);
        assert!(parse_mount("type=bind,dst=/b", Path::new("/")).is_err());
        assert!(parse_mount("src=/a,dst=/b", Path::new("/")).is_err());
        assert!(parse_mount("type=tmpfs,dst=/t,tmpfs-mode=9", Path::new("/")).is_err());
        assert!(parse_mount("type=bind,src=/a,dst=/b,tmpfs-size=1", Path::new("/")).is_err());
        assert!(parse_mount("type=bind,src=/a,dst=/b,what=1", Path::new("/")).is_err());
    }

    #[test]
    fn userns_forms() {
        assert_eq!(parse_userns(None, &[], &[]).unwrap(), Userns::Host);
        assert_eq!(
            parse_userns(Some("keep-id:uid=5,gid=6"), &[], &[]).unwrap(),
            Userns::KeepId {
                uid: Some(5),
                gid: Some(6),
                size: None
            }
        );
        assert_eq!(
            parse_userns(Some("nomap"), &[], &[]).unwrap(),
            Userns::NoMap
        );
        let u = parse_userns(None, &["0:1:100".into()], &[]).unwrap();
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
        assert!(parse_userns(Some("keep-id:foo=1"), &[], &[]).is_err());
        assert!(parse_userns(Some("bogus"), &[], &[]).is_err());
        assert!(parse_userns(None, &["0:1".into()], &[]).is_err());
    }

    #[test]
    fn namespaces_hosts_labels() {
        assert_eq!(
            parse_namespace("pid", Some("container:abc")).unwrap(),
            NsSpec::Container("abc".into())
        );
        assert!(parse_namespace("pid", Some("bogus")).is_err());
        let (h, ip) = parse_add_host("a;b:10.0.0.1").unwrap();
        assert_eq!(h, vec!["a", "b"]);
        assert_eq!(ip.to_string(), "10.0.0.1");
        assert_eq!(parse_add_host("six:[::1]").unwrap().1.to_string(), "::1");
        assert!(parse_add_host("x:notanip").is_err());
        let l = parse_key_values("--label", &["a=b".into(), "c".into()]).unwrap();
        assert_eq!(l.get("c").map(String::as_str), Some(""));
    }

    #[test]
    fn env_file_lines() {
        let host = |k: &str| (k == "HOSTVAR").then(|| "h".to_string());
        let env = parse_env_file("# c\n\nA=1\n  B = 2\nHOSTVAR\nMISSING\n", &host);
        assert_eq!(env, vec!["A=1", "B = 2", "HOSTVAR=h"]);
    }

    #[test]
    fn log_options() {
        let c = parse_log(Some("json-file"), &["max-size=1m".into()]).unwrap();
        assert_eq!(c.driver, "k8s-file");
        assert_eq!(c.max_size, Some(1 << 20));
        assert!(parse_log(Some("journald"), &[]).is_err());
        assert!(parse_log(None, &["path=rel".into()]).is_err());
        assert_eq!(parse_size("10kb").unwrap(), 10240);
        assert!(parse_size("ten").is_err());
    }
}
