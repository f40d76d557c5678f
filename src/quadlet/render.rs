//! The parts every generated service shares: the command line of a hutch
//! call, references to other Quadlet files, and the layout of the
//! service file (the original keys under `[X-Group]`, `[Unit]` with
//! `SourcePath=` and the dependencies, `[Service]`, `[Install]`, and any
//! other section copied as written).

use super::refs::{UnitInfo, group_of};
use super::unit_file::Entry;
use super::{Cx, HEADER, Service, UnitError, copy_section, install, words};
use crate::engine::container::systemd_unit::escape_arg;

/// `[Unit]` keys whose values may name Quadlet files (`After=db.container`
/// means `After=db.service`), as Podman translates them.
const DEPENDENCY_KEYS: [&str; 15] = [
    "After",
    "Before",
    "BindsTo",
    "Conflicts",
    "OnFailure",
    "OnSuccess",
    "PartOf",
    "PropagatesReloadTo",
    "PropagatesStopTo",
    "ReloadPropagatedFrom",
    "Requires",
    "Requisite",
    "StopPropagatedFrom",
    "Upholds",
    "Wants",
];

/// One hutch command line of a service.
#[derive(Debug, Clone)]
pub struct Cmd {
    /// Escaped for the unit, ready to join.
    words: Vec<String>,
}

impl Cmd {
    /// `hutch [GlobalArgs...]`: the group's `GlobalArgs=` go between the
    /// binary and the command, as in Podman.
    pub fn new(cx: &Cx, group: &str) -> Result<Cmd, UnitError> {
        let mut c = Cmd {
            words: vec![cx.opts.hutch.clone()],
        };
        for e in cx.file.section(group).filter(|e| e.key == "GlobalArgs") {
            for w in words(cx.file, e)? {
                c.arg(&w);
            }
        }
        Ok(c)
    }

    pub fn arg(&mut self, a: &str) -> &mut Cmd {
        self.words.push(escape_arg(a));
        self
    }

    pub fn args<'a>(&mut self, a: impl IntoIterator<Item = &'a str>) -> &mut Cmd {
        for w in a {
            self.arg(w);
        }
        self
    }

    /// A word with systemd specifiers (`%t/%N.pid`), written as is.
    pub fn raw(&mut self, a: &str) -> &mut Cmd {
        self.words.push(a.to_owned());
        self
    }

    pub fn flag(&mut self, f: &str, v: &str) -> &mut Cmd {
        self.arg(f).arg(v)
    }

    pub fn line(&self) -> String {
        self.words.join(" ")
    }
}

/// The service's `[Unit]` dependencies on other files' services.
#[derive(Debug, Clone, Default)]
pub struct Deps(Vec<(&'static str, String)>);

impl Deps {
    /// `Requires=` and `After=`: the other service must have run first.
    pub fn require(&mut self, service: String) {
        self.0.push(("Requires", service.clone()));
        self.0.push(("After", service));
    }

    pub fn add(&mut self, key: &'static str, service: String) {
        self.0.push((key, service));
    }
}

/// The service file's parts that differ between kinds.
pub struct Parts {
    /// `Container`, `Volume`, ...: copied as `[X-Container]`.
    pub group: &'static str,
    pub deps: Deps,
    /// `[Service]` lines before the file's own `[Service]` keys (which
    /// then win where systemd takes the last value).
    pub service: Vec<String>,
    /// `[Service]` lines after the file's own (the `ExecStart=`).
    pub service_after: Vec<String>,
}

impl Cx<'_> {
    /// The file `target` refers to (`db.network`), which must be one of
    /// the files read.
    pub fn reference(&self, e: &Entry, target: &str) -> Result<&UnitInfo, UnitError> {
        self.units.get(target).ok_or_else(|| {
            self.file
                .error(e, format!("requested Quadlet unit {target} was not found"))
        })
    }

    /// `reference`'s resource name, which it must have.
    pub fn resource_of(&self, e: &Entry, target: &str) -> Result<(String, String), UnitError> {
        let u = self.reference(e, target)?;
        let Some(r) = u.resource.clone() else {
            return Err(self
                .file
                .error(e, format!("cannot get the resource name of {target}")));
        };
        Ok((r, u.service_file()))
    }

    /// A key Podman has whose hutch flag does not exist yet.
    pub fn not_yet(&self, e: &Entry) -> UnitError {
        self.file.error(e, "not supported by hutch yet")
    }

    pub fn unknown(&self, e: &Entry, group: &str) -> UnitError {
        self.file
            .error(e, format!("unsupported key {:?} in group {group:?}", e.key))
    }

    /// The group's section must be there.
    pub fn require_group(&self, group: &str) -> Result<(), UnitError> {
        if self.file.has_section(group) {
            Ok(())
        } else {
            Err(super::whole(
                &self.file.path,
                "",
                &format!("no [{group}] section"),
            ))
        }
    }

    /// A network reference: `NAME.network[:OPTS]` is that file's network,
    /// `NAME.container` that container's network namespace (`container:`),
    /// anything else as written.
    pub fn network(&self, e: &Entry, deps: &mut Deps) -> Result<String, UnitError> {
        let v = e.value.as_str();
        let (name, opts) = match v.split_once(':') {
            Some((n, o)) => (n, Some(o)),
            None => (v, None),
        };
        let is_net = name.ends_with(".network");
        let is_ctr = name.ends_with(".container");
        if !is_net && !is_ctr {
            return Ok(v.to_owned());
        }
        let (resource, service) = self.resource_of(e, name)?;
        deps.require(service);
        match (is_ctr, opts) {
            (true, Some(_)) => Err(self.file.error(
                e,
                "extra options are not supported when joining another container's network",
            )),
            (true, None) => Ok(format!("container:{resource}")),
            (false, Some(o)) => Ok(format!("{resource}:{o}")),
            (false, None) => Ok(resource),
        }
    }

    /// A volume: `SRC:DEST[:OPTS]` whose `NAME.volume` source is that
    /// file's volume; a path starting with `.` is the unit file's
    /// directory's.
    pub fn volume(&self, e: &Entry, deps: &mut Deps) -> Result<String, UnitError> {
        let v = e.value.as_str();
        if v.is_empty() {
            return Err(self.file.error(e, "empty volume"));
        }
        let Some((src, rest)) = v.split_once(':') else {
            return Ok(v.to_owned());
        };
        if src.ends_with(".volume") {
            let (resource, service) = self.resource_of(e, src)?;
            deps.require(service);
            return Ok(format!("{resource}:{rest}"));
        }
        if src.starts_with('.') {
            return Ok(format!("{}:{rest}", self.relative(src)));
        }
        Ok(v.to_owned())
    }

    /// An image: `NAME.image` or `NAME.build` is the image that file
    /// pulls or builds.
    pub fn image(&self, e: &Entry, deps: &mut Deps) -> Result<String, UnitError> {
        let v = e.value.as_str();
        if v.ends_with(".image") || v.ends_with(".build") {
            let (resource, service) = self.resource_of(e, v)?;
            deps.require(service);
            return Ok(resource);
        }
        Ok(v.to_owned())
    }

    /// A path relative to the unit file's directory (Podman's rule: not
    /// one that starts with a systemd specifier).
    pub fn relative(&self, p: &str) -> String {
        if p.starts_with('/') || (p.starts_with('%') && !p.starts_with("%%")) {
            return p.to_owned();
        }
        let dir = std::path::Path::new(&self.file.path)
            .parent()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        let p = p.strip_prefix("./").unwrap_or(p);
        if dir.is_empty() {
            p.to_owned()
        } else {
            format!("{dir}/{p}")
        }
    }

    /// The `[Unit]` section with references to Quadlet files translated
    /// to their services.
    fn unit_section(&self) -> Result<String, UnitError> {
        let mut out = String::new();
        for e in self.file.section("Unit") {
            if !DEPENDENCY_KEYS.contains(&e.key.as_str()) {
                out.push_str(&format!("{}={}\n", e.key, e.value));
                continue;
            }
            let mut names = Vec::new();
            for w in e.value.split_whitespace() {
                let ext = w.rsplit_once('.').map(|(_, x)| x).unwrap_or("");
                if group_of(ext).is_some() {
                    names.push(self.reference(e, w)?.service_file());
                } else {
                    names.push(w.to_owned());
                }
            }
            out.push_str(&format!("{}={}\n", e.key, names.join(" ")));
        }
        Ok(out)
    }

    /// The service file.
    pub fn render(&self, parts: Parts) -> Result<Service, UnitError> {
        let mut s = String::from(HEADER);
        s.push_str(&format!("[X-{}]\n", parts.group));
        s.push_str(&copy_section(self.file, parts.group));
        s.push_str("\n[Unit]\n");
        s.push_str(&self.unit_section()?);
        s.push_str(&format!("SourcePath={}\n", self.file.path));
        s.push_str(&format!("RequiresMountsFor={}\n", self.opts.run_dir));
        for (k, v) in &parts.deps.0 {
            s.push_str(&format!("{k}={v}\n"));
        }
        s.push_str("\n[Service]\n");
        for l in &parts.service {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(&copy_section(self.file, "Service"));
        for l in &parts.service_after {
            s.push_str(l);
            s.push('\n');
        }
        let (wanted_by, required_by, install_text) = install(self.file);
        if !install_text.is_empty() {
            s.push_str("\n[Install]\n");
            s.push_str(&install_text);
        }
        // Other sections (`[Socket]` would be wrong here, but `[X-...]`
        // notes and `[Quadlet]` are kept for the reader, as Podman does).
        for sec in &self.file.sections {
            let known = ["Unit", "Service", "Install", parts.group];
            if known.contains(&sec.name.as_str()) {
                continue;
            }
            let name = if sec.name == "Quadlet" {
                "X-Quadlet".to_owned()
            } else {
                sec.name.clone()
            };
            s.push_str(&format!("\n[{name}]\n"));
            for e in &sec.entries {
                s.push_str(&format!("{}={}\n", e.key, e.value));
            }
        }
        Ok(Service {
            name: self.service_name(),
            content: s,
            wanted_by,
            required_by,
        })
    }
}
