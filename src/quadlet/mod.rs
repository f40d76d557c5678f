//! Quadlet: `.container`, `.volume`, `.network`, `.pod`, `.kube`,
//! `.image` and `.build` files in Podman 5's format turned into systemd
//! services that run hutch. A front end of its own: it reads text and
//! writes text, and knows nothing of the engine (the services it writes
//! call the hutch command line, as Podman's call podman).
//!
//! Files refer to each other (`Network=db.network`, `Volume=data.volume:/x`,
//! `Pod=web.pod`, `Image=app.build`): [`translate_all`] reads every file
//! first, so that a reference becomes the other file's resource name
//! (`NetworkName=`, `systemd-NAME`, ...) and its service a `Requires=` and
//! `After=` (`BindsTo=` for a pod), as Podman's generator does.
//!
//! Run as a systemd generator (`hutch-quadlet NORMAL [EARLY LATE]`, a
//! symlink to hutch in a generator directory) it writes the services into
//! NORMAL and enables them through `[Install]`'s `WantedBy=`/`RequiredBy=`
//! (symlinks in `TARGET.wants/` and `.requires/`); `hutch quadlet
//! --dryrun` prints them instead. See docs/systemd.md for the search
//! directories and the keys.
//!
//! Not here yet: template units (`foo@.container`), drop-in directories,
//! and keys whose hutch flag does not exist yet (refused with the file,
//! line and key).

mod build;
mod container;
mod image;
mod kube;
mod network;
mod pod;
pub mod refs;
mod render;
pub mod unit_file;
mod volume;

use std::path::{Path, PathBuf};

pub use refs::Units;
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

/// The file kinds this generator reads, in the order Podman resolves
/// their names (images before the volumes, networks and builds that use
/// them, pods last).
pub const EXTENSIONS: [&str; 7] = [
    "container",
    "volume",
    "network",
    "pod",
    "kube",
    "image",
    "build",
];

/// One Quadlet file as read: its base name (`web.container`), its path
/// (for `SourcePath=` and messages) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub path: String,
    pub text: String,
}

/// Translates a set of files that may refer to each other; one result
/// per file, in the order given. A file that does not parse is reported
/// and cannot be referred to; the others are still made.
pub fn translate_all(sources: &[Source], opts: &Options) -> Vec<Result<Service, UnitError>> {
    let parsed: Vec<Result<UnitFile, UnitError>> = sources
        .iter()
        .map(|s| UnitFile::parse(&s.path, &s.text))
        .collect();
    let units = Units::collect(
        sources
            .iter()
            .zip(&parsed)
            .filter_map(|(s, p)| p.as_ref().ok().map(|f| (s.name.as_str(), f))),
    );
    sources
        .iter()
        .zip(parsed)
        .map(|(s, p)| translate_one(&s.name, &p?, opts, &units))
        .collect()
}

/// Translates the one file `name` (its base name) whose text is `text`;
/// `source` is its path. References to other files fail: use
/// [`translate_all`] for a directory.
pub fn translate(
    name: &str,
    source: &str,
    text: &str,
    opts: &Options,
) -> Result<Service, UnitError> {
    let one = [Source {
        name: name.to_owned(),
        path: source.to_owned(),
        text: text.to_owned(),
    }];
    translate_all(&one, opts)
        .pop()
        .unwrap_or_else(|| Err(whole(source, "", "nothing to translate")))
}

fn translate_one(
    name: &str,
    file: &UnitFile,
    opts: &Options,
    units: &Units,
) -> Result<Service, UnitError> {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let cx = Cx {
        file,
        name,
        stem,
        opts,
        units,
    };
    match ext {
        "container" => container::translate(&cx),
        "volume" => volume::translate(&cx),
        "network" => network::translate(&cx),
        "pod" => pod::translate(&cx),
        "kube" => kube::translate(&cx),
        "image" => image::translate(&cx),
        "build" => build::translate(&cx),
        e => Err(whole(
            &file.path,
            "",
            &format!("unsupported file type {e:?}"),
        )),
    }
}

/// What a translator needs: the file, its names, and the other files'.
pub(crate) struct Cx<'a> {
    pub file: &'a UnitFile,
    /// `web.container`.
    pub name: &'a str,
    /// `web`.
    pub stem: &'a str,
    pub opts: &'a Options,
    pub units: &'a Units,
}

impl Cx<'_> {
    /// The service file name of this file (`ServiceName=` or the default).
    pub fn service_name(&self) -> String {
        self.units
            .get(self.name)
            .map(|u| u.service_file())
            .unwrap_or_else(|| format!("{}.service", self.stem))
    }
}

/// An error about the file as a whole (line 0), optionally naming a key.
pub(crate) fn whole(file: &str, key: &str, message: &str) -> UnitError {
    UnitError {
        file: file.to_owned(),
        line: 0,
        key: key.to_owned(),
        message: message.to_owned(),
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
