//! Quadlet: `.container` and `.volume` files in Podman 5's format turned
//! into systemd services that run hutch. A front end of its own: it reads
//! text and writes text, and knows nothing of the engine (the services it
//! writes call the hutch command line, as Podman's call podman).
//!
//! Run as a systemd generator (`hutch-quadlet NORMAL [EARLY LATE]`, a
//! symlink to hutch in a generator directory) it writes the services into
//! NORMAL and enables them through `[Install]`'s `WantedBy=`/`RequiredBy=`
//! (symlinks in `TARGET.wants/` and `.requires/`); `hutch quadlet
//! --dryrun` prints them instead. See docs/systemd.md for the search
//! directories and the keys.
//!
//! Not here yet: `.network`, `.kube`, `.pod`, `.image`, `.build` files
//! and the `Pod=` key (refused with the file, line and key), template
//! units (`foo@.container`), drop-in directories.

pub mod container;
pub mod unit_file;
pub mod volume;

use std::path::{Path, PathBuf};

pub use unit_file::{UnitError, UnitFile};

/// How the services call hutch.
#[derive(Debug, Clone)]
pub struct Options {
    /// The hutch binary (and global flags), escaped for a unit.
    pub hutch: String,
    /// The runtime directory the services need mounted (`%t/hutch`).
    pub run_dir: String,
}

/// One service made from one Quadlet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `web.service`, `data-volume.service`.
    pub name: String,
    pub content: String,
    /// `[Install]`'s `WantedBy=` and `RequiredBy=` targets.
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
}

/// The file kinds this generator reads.
pub const EXTENSIONS: [&str; 2] = ["container", "volume"];

/// Kinds of Podman's that hutch does not translate yet.
const LATER: [&str; 5] = ["network", "kube", "pod", "image", "build"];

/// Translates the file `name` (its base name, `web.container`) whose text
/// is `text`; `source` is its path (for `SourcePath=` and messages).
pub fn translate(
    name: &str,
    source: &str,
    text: &str,
    opts: &Options,
) -> Result<Service, UnitError> {
    let file = UnitFile::parse(source, text)?;
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    match ext {
        "container" => container::translate(&file, stem, opts),
        "volume" => volume::translate(&file, stem, opts),
        e if LATER.contains(&e) => Err(UnitError {
            file: source.to_owned(),
            line: 0,
            key: String::new(),
            message: format!(".{e} files are not supported by hutch yet"),
        }),
        e => Err(UnitError {
            file: source.to_owned(),
            line: 0,
            key: String::new(),
            message: format!("unsupported file type {e:?}"),
        }),
    }
}

/// Where Quadlet files are looked for, first match of a name wins.
/// Rootless: `$XDG_CONFIG_HOME/hutch/systemd` (else `~/.config/...`),
/// `/etc/hutch/systemd/users/UID`, `/etc/hutch/systemd/users`; as root:
/// `/etc/hutch/systemd`, `/usr/share/hutch/systemd`. `HUTCH_QUADLET_DIRS`
/// (colon-separated) replaces the list. hutch's own directories, not
/// Podman's: both generators may be installed, and each must not start
/// the other's services.
pub fn search_dirs(
    rootful: bool,
    uid: u32,
    config_home: Option<&Path>,
    override_dirs: Option<&str>,
) -> Vec<PathBuf> {
    if let Some(list) = override_dirs.filter(|l| !l.is_empty()) {
        return list
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    if rootful {
        return vec![
            PathBuf::from("/etc/hutch/systemd"),
            PathBuf::from("/usr/share/hutch/systemd"),
        ];
    }
    let mut dirs = Vec::new();
    if let Some(c) = config_home {
        dirs.push(c.join("hutch/systemd"));
    }
    dirs.push(PathBuf::from(format!("/etc/hutch/systemd/users/{uid}")));
    dirs.push(PathBuf::from("/etc/hutch/systemd/users"));
    dirs
}

/// The service name a Quadlet file becomes.
pub fn service_name(stem: &str, ext: &str) -> String {
    match ext {
        "container" => format!("{stem}.service"),
        _ => format!("{stem}-{ext}.service"),
    }
}

/// The `[Install]` section's targets, and the section to copy.
pub(crate) fn install(file: &UnitFile) -> (Vec<String>, Vec<String>, String) {
    let mut wanted = Vec::new();
    let mut required = Vec::new();
    let mut text = String::new();
    for e in file.section("Install") {
        match e.key.as_str() {
            "WantedBy" => wanted.extend(e.value.split_whitespace().map(String::from)),
            "RequiredBy" => required.extend(e.value.split_whitespace().map(String::from)),
            _ => {}
        }
        text.push_str(&format!("{}={}\n", e.key, e.value));
    }
    (wanted, required, text)
}

/// A section copied as written (`[Unit]`, `[Service]`), or the original
/// keys under `X-Container` (systemd ignores `X-` sections; kept for the
/// reader, as Podman does).
pub(crate) fn copy_section(file: &UnitFile, name: &str) -> String {
    file.section(name)
        .map(|e| format!("{}={}\n", e.key, e.value))
        .collect()
}

/// The header of every generated file.
pub(crate) const HEADER: &str = "# Automatically generated by hutch-quadlet\n#\n";

/// A boolean key as systemd spells them.
pub(crate) fn boolean(file: &UnitFile, e: &unit_file::Entry) -> Result<bool, UnitError> {
    match e.value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Ok(true),
        "0" | "no" | "false" | "off" => Ok(false),
        _ => Err(file.error(e, format!("invalid boolean {:?}", e.value))),
    }
}

/// The words of a value (systemd's quoting), or an error at its line.
pub(crate) fn words(file: &UnitFile, e: &unit_file::Entry) -> Result<Vec<String>, UnitError> {
    unit_file::split_words(&e.value).map_err(|m| file.error(e, m))
}

#[cfg(test)]
mod tests;
