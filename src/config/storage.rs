//! storage.conf, as containers-storage.conf(5) defines it, for the keys
//! hutch honours: driver, graphroot, runroot, rootless_storage_path,
//! mount_program and additionalimagestores.
//!
//! Rootless, Podman reads `$XDG_CONFIG_HOME/containers/storage.conf` when it
//! exists and otherwise the system file, whose graphroot and runroot belong
//! to root and are ignored (its `rootless_storage_path` and options still
//! apply). hutch does the same, so one file configures both tools.
//!
//! hutch's store has its own layout (blobs/, layers/, images.json): a
//! graphroot shared with Podman holds both side by side without clashing,
//! and additional image stores must be hutch stores (made with
//! `hutch --root DIR pull ...`), not Podman's.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum StorageConfError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    storage: Section,
}

#[derive(Debug, Default, Deserialize)]
struct Section {
    driver: Option<String>,
    graphroot: Option<String>,
    runroot: Option<String>,
    rootless_storage_path: Option<String>,
    #[serde(default)]
    options: Options,
}

#[derive(Debug, Default, Deserialize)]
struct Options {
    #[serde(default)]
    additionalimagestores: Vec<String>,
    mount_program: Option<String>,
    #[serde(default)]
    overlay: OverlayOptions,
}

#[derive(Debug, Default, Deserialize)]
struct OverlayOptions {
    mount_program: Option<String>,
}

/// The storage settings in force, with the file they came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConf {
    pub source: Option<PathBuf>,
    pub driver: Option<String>,
    pub graphroot: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    pub mount_program: Option<PathBuf>,
    pub additional_image_stores: Vec<PathBuf>,
}

/// Loads the file that applies to this user.
pub fn load(rootless: bool, uid: u32, home: &Path) -> Result<StorageConf, StorageConfError> {
    let user_file = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"))
        .join("containers/storage.conf");
    let system_file = PathBuf::from("/etc/containers/storage.conf");
    if let Some(p) = std::env::var_os("CONTAINERS_STORAGE_CONF").filter(|v| !v.is_empty()) {
        return load_file(&PathBuf::from(p), true, uid, home);
    }
    if rootless && user_file.exists() {
        return load_file(&user_file, true, uid, home);
    }
    if system_file.exists() {
        return load_file(&system_file, !rootless, uid, home);
    }
    Ok(StorageConf::default())
}

/// `own_roots`: the file's graphroot/runroot apply to this user (a rootless
/// user's own file, or the system file for root).
pub fn load_file(
    path: &Path,
    own_roots: bool,
    uid: u32,
    home: &Path,
) -> Result<StorageConf, StorageConfError> {
    let text = std::fs::read_to_string(path).map_err(|source| StorageConfError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path, own_roots, uid, home)
}

fn parse(
    text: &str,
    path: &Path,
    own_roots: bool,
    uid: u32,
    home: &Path,
) -> Result<StorageConf, StorageConfError> {
    let file: File = toml::from_str(text).map_err(|source| StorageConfError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let s = file.storage;
    let expand = |v: &str| PathBuf::from(expand_vars(v, uid, home));
    let graphroot = if own_roots {
        s.graphroot.as_deref().map(expand)
    } else {
        s.rootless_storage_path.as_deref().map(expand)
    };
    Ok(StorageConf {
        source: Some(path.to_owned()),
        driver: s.driver.filter(|d| !d.is_empty()),
        graphroot,
        runroot: if own_roots {
            s.runroot.as_deref().map(expand)
        } else {
            None
        },
        mount_program: s
            .options
            .overlay
            .mount_program
            .or(s.options.mount_program)
            .filter(|m| !m.is_empty())
            .map(PathBuf::from),
        additional_image_stores: s
            .options
            .additionalimagestores
            .iter()
            .map(|p| expand(p))
            .collect(),
    })
}

/// The `--storage-opt` keys hutch acts on (Podman's names).
const OPT_KEYS: [&str; 4] = [
    "mount_program",
    "overlay.mount_program",
    "additionalimagestore",
    "overlay.additionalimagestore",
];

fn split_opt(opt: &str) -> Option<(&str, &str)> {
    opt.split_once('=')
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| OPT_KEYS.contains(k))
}

/// Refuses a `--storage-opt` hutch would not act on, naming it. An empty
/// value is Podman's way to clear storage.conf's options.
pub fn check_opts(opts: &[String]) -> Result<(), String> {
    for opt in opts.iter().filter(|o| !o.is_empty()) {
        if split_opt(opt).is_none() {
            return Err(format!(
                "storage option {opt:?} is not supported by hutch (it takes {})",
                OPT_KEYS.map(|k| format!("{k}=VALUE")).join(", ")
            ));
        }
    }
    Ok(())
}

/// `--storage-opt` given: its options replace the file's, as in Podman.
pub fn apply_opts(conf: &mut StorageConf, opts: &[String]) {
    if opts.is_empty() {
        return;
    }
    conf.mount_program = None;
    conf.additional_image_stores.clear();
    for (k, v) in opts.iter().filter_map(|o| split_opt(o)) {
        match k {
            "mount_program" | "overlay.mount_program" => {
                conf.mount_program = Some(PathBuf::from(v)).filter(|p| !p.as_os_str().is_empty())
            }
            _ => conf.additional_image_stores.push(PathBuf::from(v)),
        }
    }
}

/// `$HOME`, `$UID` and `$USER` as storage.conf allows them.
fn expand_vars(v: &str, uid: u32, home: &Path) -> String {
    let user = std::env::var("USER").unwrap_or_default();
    v.replace("$HOME", &home.to_string_lossy())
        .replace("${HOME}", &home.to_string_lossy())
        .replace("$UID", &uid.to_string())
        .replace("${UID}", &uid.to_string())
        .replace("$USER", &user)
        .replace("${USER}", &user)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[storage]
driver = "overlay"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
rootless_storage_path = "/scratch/$UID/storage"

[storage.options]
additionalimagestores = ["/opt/shared/hutch"]

[storage.options.overlay]
mount_program = "/usr/bin/fuse-overlayfs"
"#;

    #[test]
    fn users_own_file_sets_roots() {
        let c = parse(FILE, Path::new("u.conf"), true, 1000, Path::new("/home/a")).unwrap();
        assert_eq!(
            c.graphroot,
            Some(PathBuf::from("/var/lib/containers/storage"))
        );
        assert_eq!(c.runroot, Some(PathBuf::from("/run/containers/storage")));
        assert_eq!(
            c.mount_program,
            Some(PathBuf::from("/usr/bin/fuse-overlayfs"))
        );
        assert_eq!(
            c.additional_image_stores,
            vec![PathBuf::from("/opt/shared/hutch")]
        );
        assert_eq!(c.driver.as_deref(), Some("overlay"));
    }

    #[test]
    fn system_file_uses_rootless_storage_path_for_users() {
        let c = parse(FILE, Path::new("/etc/x"), false, 1000, Path::new("/home/a")).unwrap();
        assert_eq!(c.graphroot, Some(PathBuf::from("/scratch/1000/storage")));
        assert_eq!(c.runroot, None);
    }

    #[test]
    fn malformed_file_names_file_and_line() {
        let err = parse(
            "[storage\ndriver = 1",
            Path::new("/etc/containers/storage.conf"),
            true,
            0,
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/etc/containers/storage.conf"), "{err}");
        assert!(err.contains("line 1") || err.contains("1:"), "{err}");
    }

    #[test]
    fn storage_opts_replace_the_files_options() {
        let mut conf = StorageConf {
            mount_program: Some("/usr/bin/fuse-overlayfs".into()),
            additional_image_stores: vec!["/a".into()],
            ..StorageConf::default()
        };
        assert!(check_opts(&["overlay.mount_program=/x".into(), String::new()]).is_ok());
        let err = check_opts(&["overlay.mountopt=nodev".into()]).unwrap_err();
        assert!(err.contains("overlay.mountopt"), "{err}");
        apply_opts(&mut conf, &["additionalimagestore=/b".into()]);
        assert_eq!(conf.mount_program, None);
        assert_eq!(conf.additional_image_stores, vec![PathBuf::from("/b")]);
        apply_opts(&mut conf, &["mount_program=/m".into()]);
        assert_eq!(conf.mount_program, Some(PathBuf::from("/m")));
        assert!(conf.additional_image_stores.is_empty());
    }
}
