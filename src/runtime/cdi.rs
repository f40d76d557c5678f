//! CDI, the Container Device Interface (cncf-tags/container-device-interface,
//! spec versions 0.5 to 0.8): vendors describe devices in JSON or YAML
//! files under /etc/cdi and /var/run/cdi (the later directory wins for a
//! name both define), and `--device vendor.com/class=name` asks for one.
//! A device's `containerEdits` and the spec's own (applied once per spec
//! used) add device nodes, mounts, environment variables and OCI hooks.
//!
//! This module reads and resolves; the engine turns the [`Edits`] into
//! the container's devices, binds, environment and hooks. Deliberately left
//! out: `intelRdt` and `netDevices` (0.7/0.8 edits that need root) are
//! refused with a clear error rather than silently dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A spec file is a few kilobytes; a larger one is not read.
pub const MAX_SPEC_SIZE: u64 = 1 << 20;
/// The spec directories in the CDI specification's order (later wins).
pub const DEFAULT_SPEC_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];

#[derive(Debug, thiserror::Error)]
pub enum CdiError {
    #[error("{0:?} is not a CDI device name: expected vendor.com/class=name")]
    BadName(String),
    #[error(
        "CDI device {name} is not defined by any spec in {dirs}{}",
        if .known.is_empty() { String::new() } else { format!(" (known: {})", .known.join(", ")) }
    )]
    Unknown {
        name: String,
        dirs: String,
        known: Vec<String>,
    },
    #[error("CDI spec {path}: {reason}")]
    BadSpec { path: PathBuf, reason: String },
}

/// Whether `--device VALUE` names a CDI device rather than a host path.
pub fn is_qualified_name(value: &str) -> bool {
    parse_name(value).is_some()
}

/// `vendor.com/class=name` as (kind, name).
pub fn parse_name(value: &str) -> Option<(&str, &str)> {
    let (kind, name) = value.split_once('=')?;
    let (vendor, class) = kind.split_once('/')?;
    let ok_vendor = !vendor.is_empty()
        && vendor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    let ok_class = !class.is_empty()
        && class
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    let ok_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    (ok_vendor && ok_class && ok_name).then_some((kind, name))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecFile {
    cdi_version: String,
    kind: String,
    #[serde(default)]
    devices: Vec<DeviceSpec>,
    #[serde(default)]
    container_edits: ContainerEdits,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceSpec {
    name: String,
    #[serde(default)]
    container_edits: ContainerEdits,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct ContainerEdits {
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    device_nodes: Vec<DeviceNodeSpec>,
    #[serde(default)]
    mounts: Vec<MountSpec>,
    #[serde(default)]
    hooks: Vec<HookSpec>,
    #[serde(default, rename = "additionalGIDs")]
    additional_gids: Vec<u32>,
    #[serde(default)]
    intel_rdt: Option<serde_json::Value>,
    #[serde(default)]
    net_devices: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct DeviceNodeSpec {
    path: String,
    host_path: Option<String>,
    permissions: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct MountSpec {
    host_path: String,
    container_path: String,
    #[serde(default)]
    options: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct HookSpec {
    hook_name: String,
    path: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<String>,
    timeout: Option<i64>,
}

/// A device node to give the container: the host node at `host_path`
/// shown at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEdit {
    pub path: PathBuf,
    pub host_path: PathBuf,
    pub permissions: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEdit {
    pub host_path: PathBuf,
    pub container_path: String,
    pub options: Vec<String>,
}

/// An OCI hook at one of the runtime's stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// prestart, createRuntime, createContainer, startContainer, poststart
    /// or poststop.
    pub stage: String,
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    pub timeout: Option<i64>,
}

/// Everything the requested devices add, in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    pub env: Vec<String>,
    pub nodes: Vec<NodeEdit>,
    pub mounts: Vec<MountEdit>,
    pub hooks: Vec<Hook>,
    pub additional_gids: Vec<u32>,
}

const HOOK_STAGES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The specs found in some directories.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    dirs: Vec<PathBuf>,
    /// kind → (spec-level edits, devices by name, the file).
    kinds: BTreeMap<String, KindEntry>,
    /// Files that could not be used, with why (shown by `info`).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct KindEntry {
    spec_edits: BTreeMap<PathBuf, ContainerEdits>,
    devices: BTreeMap<String, (PathBuf, ContainerEdits)>,
}

impl Registry {
    /// Reads every `*.json`, `*.yaml` and `*.yml` in `dirs`, in order, by
    /// file name within a directory; a later definition of a device
    /// replaces an earlier one. A malformed file is recorded and skipped.
    pub fn load(dirs: &[PathBuf]) -> Registry {
        let mut reg = Registry {
            dirs: dirs.to_vec(),
            ..Registry::default()
        };
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| matches!(x, "json" | "yaml" | "yml"))
                })
                .collect();
            files.sort();
            for path in files {
                match read_spec(&path) {
                    Ok(spec) => reg.add(path, spec),
                    Err(e) => reg.errors.push(e.to_string()),
                }
            }
        }
        reg
    }

    fn add(&mut self, path: PathBuf, spec: SpecFile) {
        let entry = self.kinds.entry(spec.kind.clone()).or_default();
        entry.spec_edits.insert(path.clone(), spec.container_edits);
        for d in spec.devices {
            entry
                .devices
                .insert(d.name.clone(), (path.clone(), d.container_edits));
        }
    }

    /// Every device's qualified name, sorted.
    pub fn device_names(&self) -> Vec<String> {
        self.kinds
            .iter()
            .flat_map(|(k, e)| e.devices.keys().map(move |n| format!("{k}={n}")))
            .collect()
    }

    /// The edits of the named devices. `kind=all` means the spec's device
    /// named "all" when there is one (as nvidia-ctk writes), else every
    /// device of that kind. Each spec's own edits apply once.
    pub fn resolve(&self, names: &[String]) -> Result<Edits, CdiError> {
        let mut edits = Edits::default();
        let mut specs_used: Vec<PathBuf> = Vec::new();
        let mut apply = |edits: &mut Edits, file: &Path, kind: &KindEntry, e: &ContainerEdits| {
            if !specs_used.iter().any(|p| p == file) {
                specs_used.push(file.to_path_buf());
                if let Some(s) = kind.spec_edits.get(file) {
                    merge(edits, s);
                }
            }
            merge(edits, e);
        };
        for q in names {
            let (kind_name, dev) = parse_name(q).ok_or_else(|| CdiError::BadName(q.clone()))?;
            let unknown = || CdiError::Unknown {
                name: q.clone(),
                dirs: self
                    .dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                known: self.device_names(),
            };
            let kind = self.kinds.get(kind_name).ok_or_else(unknown)?;
            match kind.devices.get(dev) {
                Some((file, e)) => apply(&mut edits, file, kind, e),
                None if dev == "all" && !kind.devices.is_empty() => {
                    for (file, e) in kind.devices.values() {
                        apply(&mut edits, file, kind, e);
                    }
                }
                None => return Err(unknown()),
            }
        }
        Ok(edits)
    }
}

fn merge(out: &mut Edits, e: &ContainerEdits) {
    out.env.extend(e.env.iter().cloned());
    for n in &e.device_nodes {
        let node = NodeEdit {
            path: PathBuf::from(&n.path),
            host_path: PathBuf::from(n.host_path.as_deref().unwrap_or(&n.path)),
            permissions: n.permissions.clone().unwrap_or_else(|| "rwm".to_owned()),
        };
        if !out.nodes.contains(&node) {
            out.nodes.push(node);
        }
    }
    for m in &e.mounts {
        out.mounts.push(MountEdit {
            host_path: PathBuf::from(&m.host_path),
            container_path: m.container_path.clone(),
            options: m.options.clone(),
        });
    }
    for h in &e.hooks {
        out.hooks.push(Hook {
            stage: h.hook_name.clone(),
            path: PathBuf::from(&h.path),
            args: h.args.clone(),
            env: h.env.clone(),
            timeout: h.timeout,
        });
    }
    for g in &e.additional_gids {
        if !out.additional_gids.contains(g) {
            out.additional_gids.push(*g);
        }
    }
}

fn read_spec(path: &Path) -> Result<SpecFile, CdiError> {
    let bad = |reason: String| CdiError::BadSpec {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if meta.len() > MAX_SPEC_SIZE {
        return Err(bad(format!("larger than {MAX_SPEC_SIZE} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let json = path.extension().is_some_and(|x| x == "json");
    let spec = parse_spec(&text, json).map_err(bad)?;
    validate(&spec).map_err(bad)?;
    Ok(spec)
}

fn parse_spec(text: &str, json: bool) -> Result<SpecFile, String> {
    if json {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }
}

fn validate(spec: &SpecFile) -> Result<(), String> {
    let version = spec.cdi_version.trim();
    let minor = version
        .strip_prefix("0.")
        .and_then(|r| r.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    if !matches!(minor, Some(3..=8)) {
        return Err(format!(
            "cdiVersion {version:?} is not supported (0.3 to 0.8 are)"
        ));
    }
    if parse_name(&format!("{}=x", spec.kind)).is_none() {
        return Err(format!("kind {:?} is not vendor.com/class", spec.kind));
    }
    let all_edits = std::iter::once(&spec.container_edits)
        .chain(spec.devices.iter().map(|d| &d.container_edits));
    for e in all_edits {
        if e.intel_rdt.is_some() || !e.net_devices.is_empty() {
            return Err("intelRdt and netDevices edits are not supported by hutch".to_owned());
        }
        for h in &e.hooks {
            if !HOOK_STAGES.contains(&h.hook_name.as_str()) {
                return Err(format!("unknown hook stage {:?}", h.hook_name));
            }
            if !h.path.starts_with('/') {
                return Err(format!("hook path {:?} is not absolute", h.path));
            }
        }
        for n in &e.device_nodes {
            if !n.path.starts_with('/') {
                return Err(format!("device node path {:?} is not absolute", n.path));
            }
        }
        for m in &e.mounts {
            if !m.host_path.starts_with('/') || !m.container_path.starts_with('/') {
                return Err(format!(
                    "mount {} -> {} needs absolute paths",
                    m.host_path, m.container_path
                ));
            }
        }
        if let Some(bad) = e.env.iter().find(|v| !v.contains('=')) {
            return Err(format!("env entry {bad:?} is not KEY=VALUE"));
        }
    }
    for d in &spec.devices {
        if parse_name(&format!("{}={}", spec.kind, d.name)).is_none() {
            return Err(format!("device name {:?} is not valid", d.name));
        }
    }
    Ok(())
}

/// The GPUs a job was given, from the caller's environment in this order:
/// `SLURM_STEP_GPUS`, `SLURM_JOB_GPUS` (host indices, what CDI specs
/// name), then `CUDA_VISIBLE_DEVICES` (indices or GPU-UUIDs). None when
/// none is set: every GPU may be used.
pub fn allocated_gpus(var: impl Fn(&str) -> Option<String>) -> Option<Vec<String>> {
    ["SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES"]
        .iter()
        .find_map(|k| var(k).filter(|v| !v.trim().is_empty()))
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
}

/// `name` with `KIND=all` narrowed to the allocated GPUs when the kind is
/// a GPU class (`*/gpu`) and a job allocation is known.
pub fn narrow_to_allocation(name: &str, allocated: Option<&[String]>) -> Vec<String> {
    match (parse_name(name), allocated) {
        (Some((kind, "all")), Some(ids)) if kind.ends_with("/gpu") => {
            ids.iter().map(|id| format!("{kind}={id}")).collect()
        }
        _ => vec![name.to_owned()],
    }
}

/// Docker's `--gpus` value as CDI names: `all`, a count (the first N of
/// the allocation or of 0..N), or `device=0,2` / `"device=GPU-..."`.
pub fn gpus_flag(value: &str, allocated: Option<&[String]>) -> Result<Vec<String>, CdiError> {
    const KIND: &str = "nvidia.com/gpu";
    let v = value.trim().trim_matches('"');
    let ids: Vec<String> = if v == "all" {
        return Ok(narrow_to_allocation(&format!("{KIND}=all"), allocated));
    } else if let Some(list) = v.strip_prefix("device=") {
        list.split(',').map(|s| s.trim().to_owned()).collect()
    } else if let Ok(n) = v.strip_prefix("count=").unwrap_or(v).parse::<usize>() {
        match allocated {
            Some(ids) => ids.iter().take(n).cloned().collect(),
            None => (0..n).map(|i| i.to_string()).collect(),
        }
    } else {
        return Err(CdiError::BadName(value.to_owned()));
    };
    let names: Vec<String> = ids.iter().map(|id| format!("{KIND}={id}")).collect();
    match names.iter().find(|n| parse_name(n).is_none()) {
        Some(bad) => Err(CdiError::BadName(bad.clone())),
        None => Ok(names),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
cdiVersion: "0.6.0"
kind: "example.com/gpu"
containerEdits:
  env: ["SPEC_LEVEL=1"]
  hooks:
    - hookName: createContainer
      path: /bin/true
devices:
  - name: "0"
    containerEdits:
      env: ["GPU0=yes"]
      deviceNodes:
        - path: /dev/examplegpu0
          hostPath: /dev/null
  - name: "1"
    containerEdits:
      deviceNodes:
        - path: /dev/examplegpu1
          hostPath: /dev/zero
          permissions: rw
"#;

    fn registry() -> Registry {
        let mut r = Registry::default();
        let spec = parse_spec(YAML, false).expect("yaml parses");
        validate(&spec).expect("valid");
        r.add(PathBuf::from("/etc/cdi/example.yaml"), spec);
        r
    }

    #[test]
    fn names_are_recognised() {
        assert!(is_qualified_name("nvidia.com/gpu=0"));
        assert!(is_qualified_name("vendor.com/class=all"));
        assert!(is_qualified_name("nvidia.com/gpu=GPU-4a1b:0"));
        assert!(!is_qualified_name("/dev/fuse"));
        assert!(!is_qualified_name("/dev/a=b"));
        assert!(!is_qualified_name("nvidia.com/gpu="));
    }

    #[test]
    fn resolves_devices_with_spec_edits_once() {
        let r = registry();
        let e = r
            .resolve(&["example.com/gpu=0".into(), "example.com/gpu=1".into()])
            .unwrap();
        assert_eq!(e.env, vec!["SPEC_LEVEL=1", "GPU0=yes"]);
        assert_eq!(e.hooks.len(), 1);
        assert_eq!(e.nodes.len(), 2);
        assert_eq!(e.nodes[1].host_path, PathBuf::from("/dev/zero"));
        assert_eq!(e.nodes[1].permissions, "rw");
        let all = r.resolve(&["example.com/gpu=all".into()]).unwrap();
        assert_eq!(all.nodes.len(), 2);
        let err = r.resolve(&["example.com/gpu=7".into()]).unwrap_err();
        assert!(err.to_string().contains("example.com/gpu=0"), "{err}");
    }

    #[test]
    fn json_specs_and_bad_versions() {
        let j = r#"{"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"env":["A=1"]}}]}"#;
        let s = parse_spec(j, true).unwrap();
        assert!(validate(&s).is_ok());
        let old = r#"{"cdiVersion":"1.0.0","kind":"a.com/b","devices":[]}"#;
        assert!(validate(&parse_spec(old, true).unwrap()).is_err());
        let rdt = r#"{"cdiVersion":"0.7.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"intelRdt":{"closID":"x"}}}]}"#;
        assert!(validate(&parse_spec(rdt, true).unwrap()).is_err());
    }

    #[test]
    fn slurm_allocation_narrows_all_and_gpus() {
        let env = |k: &str| match k {
            "SLURM_JOB_GPUS" => Some("1,3".to_owned()),
            "CUDA_VISIBLE_DEVICES" => Some("0,1".to_owned()),
            _ => None,
        };
        let alloc = allocated_gpus(env).unwrap();
        assert_eq!(alloc, vec!["1", "3"]);
        assert_eq!(
            narrow_to_allocation("nvidia.com/gpu=all", Some(&alloc)),
            vec!["nvidia.com/gpu=1", "nvidia.com/gpu=3"]
        );
        assert_eq!(
            narrow_to_allocation("nvidia.com/gpu=0", Some(&alloc)),
            vec!["nvidia.com/gpu=0"]
        );
        assert_eq!(gpus_flag("all", None).unwrap(), vec!["nvidia.com/gpu=all"]);
        assert_eq!(
            gpus_flag("1", Some(&alloc)).unwrap(),
            vec!["nvidia.com/gpu=1"]
        );
        assert_eq!(
            gpus_flag("\"device=0,2\"", None).unwrap(),
            vec!["nvidia.com/gpu=0", "nvidia.com/gpu=2"]
        );
        assert!(gpus_flag("lots", None).is_err());
    }
}
