//! registries.conf as containers-registries.conf(5) defines it: where short
//! names are searched, which registries are insecure or blocked, how a
//! `prefix` is remapped to another `location` and its mirrors, and short-name
//! aliases. Files are read in Podman's order (one main file, then
//! `registries.conf.d/*.conf` drop-ins) and merged the way containers/image
//! merges them; both the v2 format and the old v1 `[registries.search]`
//! tables are accepted.
//!
//! Pure configuration: it never contacts a registry, never prompts, and
//! never writes (Podman's prompt-and-record of short-name choices is
//! replaced by an error that tells the user what to write). Only commands
//! that pull or push should load it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::image::reference::{self, Reference, ReferenceError};

mod file;

use file::{FileConfig, parse_file};

/// Environment variable naming the only registries.conf to read.
pub const CONFIG_ENV: &str = "CONTAINERS_REGISTRIES_CONF";
pub const SYSTEM_CONFIG: &str = "/etc/containers/registries.conf";
pub const SYSTEM_DROP_IN_DIR: &str = "/etc/containers/registries.conf.d";
/// Below `$HOME` (containers/image uses the home directory here, not
/// `$XDG_CONFIG_HOME`).
const USER_CONFIG: &str = ".config/containers/registries.conf";
const USER_DROP_IN_DIR: &str = ".config/containers/registries.conf.d";

/// Why registries.conf could not be loaded or a name could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum RegistriesError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("listing drop-in directory {dir}: {source}")]
    ReadDir { dir: PathBuf, source: io::Error },
    #[error("${CONFIG_ENV} names {path}, which does not exist")]
    MissingExplicit { path: PathBuf },
    #[error("malformed {path}{}: {message}", at(.position))]
    Parse {
        path: PathBuf,
        /// 1-based line and column, when the TOML parser gave a span.
        position: Option<(usize, usize)>,
        message: String,
    },
    #[error("invalid {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("{reference:?} is a short name; a registry is needed here")]
    NotFullyQualified { reference: String },
    #[error(
        "{reference} cannot be pulled: registry prefix {prefix:?} is blocked in {}",
        .origin.display()
    )]
    Blocked {
        reference: String,
        prefix: String,
        origin: PathBuf,
    },
    #[error(
        "registries.conf rewrites {reference} to {rewritten:?} (prefix {prefix:?} in {}), which is not a valid fully-qualified reference",
        .origin.display()
    )]
    BadRewrite {
        reference: String,
        rewritten: String,
        prefix: String,
        origin: PathBuf,
    },
    #[error(
        "short name {name:?} is not an alias and no unqualified-search registries are configured{}; use a fully-qualified name such as {example}, or set unqualified-search-registries in registries.conf",
        .origin.as_ref().map(|p| format!(" (in {})", p.display())).unwrap_or_default()
    )]
    NoSearchRegistries {
        name: String,
        example: String,
        origin: Option<PathBuf>,
    },
    #[error(
        "short name {name:?} is ambiguous: short-name-mode is enforcing and it could be {}; use a fully-qualified name, or add an alias such as `\"{alias_key}\" = \"{alias_value}\"` to the [aliases] table of a file in ~/.config/containers/registries.conf.d/",
        .candidates.join(" or ")
    )]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
        alias_key: String,
        alias_value: String,
    },
}

fn at(position: &Option<(usize, usize)>) -> String {
    match *position {
        Some((line, column)) => format!(" at line {line}, column {column}"),
        None => String::new(),
    }
}

/// How short names with several candidate registries are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShortNameMode {
    /// Several candidates are an error (Podman would prompt on a TTY).
    Enforcing,
    /// Several candidates are tried in order. containers/image's default
    /// when no file sets a mode.
    #[default]
    Permissive,
    /// Candidates are tried in order, aliases still apply.
    Disabled,
}

/// Which pulls a mirror serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullFromMirror {
    #[default]
    All,
    DigestOnly,
    TagOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub location: String,
    pub insecure: bool,
    pub pull_from_mirror: PullFromMirror,
}

/// One `[[registry]]` table, with `prefix` defaulted to `location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// `host[:port][/namespace…]` or a wildcard `*.example.com`.
    pub prefix: String,
    /// Where the prefix really lives. Empty only for a wildcard prefix,
    /// which then means "the reference as written".
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
    /// Mirrors only for pulls by digest (registry-wide form of
    /// `pull-from-mirror = "digest-only"`).
    pub mirror_by_digest_only: bool,
    pub mirrors: Vec<Mirror>,
    /// The file this table came from, for error messages.
    pub origin: PathBuf,
}

/// One place to try when pulling: mirrors come first, the primary location
/// last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSource {
    /// `host[:port]` to contact.
    pub endpoint: String,
    /// Repository on that endpoint, after prefix remapping.
    pub repository: String,
    pub insecure: bool,
}

/// What a name given to `pull` or `run` resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShortNameResolution {
    /// Not a short name: this normalised reference, nothing to resolve.
    FullyQualified(String),
    /// An `[aliases]` entry named the image.
    Alias { reference: String, origin: PathBuf },
    /// One candidate per unqualified-search registry, in order.
    /// `ambiguous` is set when there are several and short-name-mode is
    /// enforcing: Podman would prompt; hutch refuses (see
    /// [`ShortNameResolution::into_pull_candidates`]).
    Search {
        name: String,
        candidates: Vec<String>,
        ambiguous: bool,
        origin: Option<PathBuf>,
    },
}

impl ShortNameResolution {
    /// The references to try, in order, or the error explaining why the
    /// name cannot be pulled as it is.
    pub fn into_pull_candidates(self) -> Result<Vec<String>, RegistriesError> {
        match self {
            ShortNameResolution::FullyQualified(reference)
            | ShortNameResolution::Alias { reference, .. } => Ok(vec![reference]),
            ShortNameResolution::Search {
                name,
                candidates,
                ambiguous,
                origin,
            } => {
                if candidates.is_empty() {
                    let example = Reference::parse(&name)
                        .map(|r| r.fully_qualified(reference::DOCKER_HUB))
                        .unwrap_or_else(|_| format!("docker.io/library/{name}"));
                    return Err(RegistriesError::NoSearchRegistries {
                        name,
                        example,
                        origin,
                    });
                }
                if ambiguous {
                    let alias_key = Reference::parse(&name)
                        .map(|r| r.repository)
                        .unwrap_or_else(|_| name.clone());
                    let alias_value = Reference::parse(&candidates[0])
                        .map(|r| r.name())
                        .unwrap_or_else(|_| candidates[0].clone());
                    return Err(RegistriesError::Ambiguous {
                        name,
                        candidates,
                        alias_key,
                        alias_value,
                    });
                }
                Ok(candidates)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Alias {
    /// `None` when a later file set the alias to "" to cancel it.
    value: Option<String>,
    origin: PathBuf,
}

/// The merged configuration of every registries.conf file read.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    search: Vec<String>,
    search_origin: Option<PathBuf>,
    short_name_mode: ShortNameMode,
    /// Unique by prefix, sorted by prefix as containers/image keeps them,
    /// which decides ties between equally long matching prefixes.
    registries: Vec<Registry>,
    aliases: BTreeMap<String, Alias>,
    files: Vec<PathBuf>,
}

/// Which files make up the configuration, decided from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSources {
    pub main: PathBuf,
    /// The main file was named explicitly, so its absence is an error.
    pub main_required: bool,
    /// Drop-in directories, read in this order.
    pub drop_in_dirs: Vec<PathBuf>,
}

impl ConfigSources {
    pub fn from_env() -> ConfigSources {
        ConfigSources::decide(|name| std::env::var_os(name), |path| path.exists())
    }

    /// containers/image's order, except that `$CONTAINERS_REGISTRIES_CONF`
    /// stands alone (no drop-ins), so that a test or a user can pin the
    /// whole configuration with one variable. A user file replaces the
    /// system file *and* the system drop-ins, as in Podman.
    fn decide(
        env: impl Fn(&str) -> Option<OsString>,
        exists: impl Fn(&Path) -> bool,
    ) -> ConfigSources {
        if let Some(path) = env(CONFIG_ENV).filter(|v| !v.is_empty()) {
            return ConfigSources {
                main: PathBuf::from(path),
                main_required: true,
                drop_in_dirs: Vec::new(),
            };
        }
        let home = env("HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(home) = &home {
            let user_file = home.join(USER_CONFIG);
            if exists(&user_file) {
                return ConfigSources {
                    main: user_file,
                    main_required: false,
                    drop_in_dirs: vec![home.join(USER_DROP_IN_DIR)],
                };
            }
        }
        let mut drop_in_dirs = vec![PathBuf::from(SYSTEM_DROP_IN_DIR)];
        drop_in_dirs.extend(home.map(|h| h.join(USER_DROP_IN_DIR)));
        ConfigSources {
            main: PathBuf::from(SYSTEM_CONFIG),
            main_required: false,
            drop_in_dirs,
        }
    }

    /// The main file, then each directory's `*.conf` files in lexical
    /// order.
    pub fn files(&self) -> Result<Vec<PathBuf>, RegistriesError> {
        let mut files = vec![self.main.clone()];
        for dir in &self.drop_in_dirs {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(RegistriesError::ReadDir {
                        dir: dir.clone(),
                        source,
                    });
                }
            };
            let mut found = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|source| RegistriesError::ReadDir {
                    dir: dir.clone(),
                    source,
                })?;
                let path = entry.path();
                let is_conf = path.extension().is_some_and(|e| e == "conf");
                // Sub-directories are not descended into, as in Podman.
                if is_conf && !path.is_dir() {
                    found.push(path);
                }
            }
            found.sort();
            files.extend(found);
        }
        Ok(files)
    }
}

/// Loads the configuration in Podman's order. No file at all is fine: the
/// result has no search registries, so a short name that is neither local
/// nor an alias is an error asking for a fully-qualified name.
pub fn load() -> Result<Registries, RegistriesError> {
    let sources = ConfigSources::from_env();
    if sources.main_required && !sources.main.exists() {
        return Err(RegistriesError::MissingExplicit { path: sources.main });
    }
    load_from(&sources.files()?)
}

/// Merges `files` in order; later files win for scalar keys and replace
/// `[[registry]]` tables with the same prefix. Missing files are skipped.
pub fn load_from(files: &[PathBuf]) -> Result<Registries, RegistriesError> {
    let mut merged = Registries::default();
    for path in files {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(RegistriesError::Read {
                    path: path.clone(),
                    source,
                });
            }
        };
        let file = parse_file(path, &text)?;
        merged.merge(path, file);
    }
    Ok(merged)
}

impl Registries {
    /// Registries tried for a short name, in order (`host[:port]`).
    pub fn search_registries(&self) -> &[String] {
        &self.search
    }

    pub fn short_name_mode(&self) -> ShortNameMode {
        self.short_name_mode
    }

    pub fn registries(&self) -> &[Registry] {
        &self.registries
    }

    /// The fully-qualified name (without tag) an alias stands for.
    pub fn alias(&self, short_name: &str) -> Option<&str> {
        self.aliases.get(short_name)?.value.as_deref()
    }

    /// Files that were read, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The `[[registry]]` table with the longest prefix matching a
    /// fully-qualified reference, repository or registry name (Docker Hub
    /// spellings are normalised first). Prefixes match at a `/`, `:` or `@`
    /// boundary; `*.example.com` matches any subdomain of example.com.
    pub fn find(&self, reference_without_transport: &str) -> Option<&Registry> {
        let normalized = match Reference::parse(reference_without_transport) {
            Ok(r) if !r.is_short_name() => r.normalized_docker_hub().to_string(),
            _ => reference_without_transport.to_string(),
        };
        self.find_normalized(&normalized).map(|(r, _)| r)
    }

    fn find_normalized(&self, reference: &str) -> Option<(&Registry, usize)> {
        let mut best: Option<(&Registry, usize)> = None;
        for registry in &self.registries {
            if let Some(matched) = prefix_match(reference, &registry.prefix) {
                // Strictly longer wins, so among equal lengths the first in
                // prefix order does, as in containers/image.
                if best.is_none_or(|(b, _)| registry.prefix.len() > b.prefix.len()) {
                    best = Some((registry, matched));
                }
            }
        }
        best
    }

    /// Where to pull a fully-qualified reference from: the matching
    /// registry's mirrors that serve this kind of pull (by tag or by
    /// digest), then its location, each with the prefix rewritten to that
    /// location. No matching table means the reference as written.
    pub fn pull_sources(
        &self,
        fully_qualified_ref: &str,
    ) -> Result<Vec<PullSource>, RegistriesError> {
        let reference = Reference::parse(fully_qualified_ref)?;
        if reference.is_short_name() {
            return Err(RegistriesError::NotFullyQualified {
                reference: fully_qualified_ref.to_string(),
            });
        }
        let reference = reference.normalized_docker_hub();
        let text = reference.to_string();
        let Some((registry, matched)) = self.find_normalized(&text) else {
            return Ok(vec![PullSource {
                endpoint: reference.registry.unwrap_or_default(),
                repository: reference.repository,
                insecure: false,
            }]);
        };
        if registry.blocked {
            return Err(RegistriesError::Blocked {
                reference: text,
                prefix: registry.prefix.clone(),
                origin: registry.origin.clone(),
            });
        }
        let by_digest = reference.digest.is_some();
        let mut sources = Vec::new();
        for mirror in &registry.mirrors {
            let serves = if registry.mirror_by_digest_only {
                by_digest
            } else {
                match mirror.pull_from_mirror {
                    PullFromMirror::All => true,
                    PullFromMirror::DigestOnly => by_digest,
                    PullFromMirror::TagOnly => !by_digest,
                }
            };
            if serves {
                sources.push(rewrite(
                    &text,
                    matched,
                    registry,
                    &mirror.location,
                    mirror.insecure,
                )?);
            }
        }
        sources.push(rewrite(
            &text,
            matched,
            registry,
            &registry.location,
            registry.insecure,
        )?);
        Ok(sources)
    }

    /// Resolves a name for pulling. A fully-qualified name is returned
    /// normalised; a short name is looked up in `[aliases]` (tag and digest
    /// carried over), else expanded with each unqualified-search registry.
    /// The tag defaults to `latest` throughout.
    pub fn resolve_short_name(&self, name: &str) -> Result<ShortNameResolution, RegistriesError> {
        let reference = Reference::parse(name)?;
        if !reference.is_short_name() {
            return Ok(ShortNameResolution::FullyQualified(
                reference
                    .normalized_docker_hub()
                    .with_default_tag()
                    .to_string(),
            ));
        }
        if let Some(alias) = self.aliases.get(&reference.repository)
            && let Some(value) = &alias.value
        {
            let mut resolved = Reference::parse(value)?;
            resolved.tag = reference.tag.clone();
            resolved.digest = reference.digest.clone();
            return Ok(ShortNameResolution::Alias {
                reference: resolved.with_default_tag().to_string(),
                origin: alias.origin.clone(),
            });
        }
        let candidates: Vec<String> = self
            .search
            .iter()
            .map(|registry| reference.fully_qualified(registry))
            .collect();
        let ambiguous = candidates.len() > 1 && self.short_name_mode == ShortNameMode::Enforcing;
        Ok(ShortNameResolution::Search {
            name: name.to_string(),
            candidates,
            ambiguous,
            origin: self.search_origin.clone(),
        })
    }

    fn merge(&mut self, path: &Path, file: FileConfig) {
        self.files.push(path.to_path_buf());
        if let Some(search) = file.search {
            self.search = search;
            self.search_origin = Some(path.to_path_buf());
        }
        if let Some(mode) = file.short_name_mode {
            self.short_name_mode = mode;
        }
        for registry in file.registries {
            match self
                .registries
                .iter_mut()
                .find(|r| r.prefix == registry.prefix)
            {
                Some(existing) => *existing = registry,
                None => self.registries.push(registry),
            }
        }
        self.registries.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        self.aliases.extend(file.aliases);
    }
}

/// Replaces the matched prefix of `reference` by `location`; an empty
/// location (wildcard prefix) keeps the reference as written.
fn rewrite(
    reference: &str,
    matched: usize,
    registry: &Registry,
    location: &str,
    insecure: bool,
) -> Result<PullSource, RegistriesError> {
    let rewritten = if location.is_empty() {
        reference.to_string()
    } else {
        format!("{location}{}", &reference[matched..])
    };
    let bad = || RegistriesError::BadRewrite {
        reference: reference.to_string(),
        rewritten: rewritten.clone(),
        prefix: registry.prefix.clone(),
        origin: registry.origin.clone(),
    };
    let parsed = Reference::parse(&rewritten).map_err(|_| bad())?;
    let parsed = parsed.normalized_docker_hub();
    let Some(endpoint) = parsed.registry else {
        return Err(bad());
    };
    Ok(PullSource {
        endpoint,
        repository: parsed.repository,
        insecure,
    })
}

/// Length of `reference` covered by `prefix`, or `None`. Port of
/// containers/image's `refMatchingPrefix`: a plain prefix must end where
/// the reference does or at `/`, `:` or `@`; a wildcard `*.example.com`
/// matches a host ending in `.example.com`.
fn prefix_match(reference: &str, prefix: &str) -> Option<usize> {
    if let Some(suffix) = prefix.strip_prefix('*') {
        let host_end = reference.find(['/', ':', '@']).unwrap_or(reference.len());
        let host = &reference[..host_end];
        return (host.len() > suffix.len() && host.ends_with(suffix)).then_some(host_end);
    }
    let rest = reference.strip_prefix(prefix)?;
    match rest.as_bytes().first() {
        None | Some(b'/' | b':' | b'@') => Some(prefix.len()),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, text).unwrap();
        path
    }

    fn from_text(text: &str) -> Registries {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "registries.conf", text);
        match load_from(&[path]) {
            Ok(r) => r,
            Err(e) => panic!("should load: {e}"),
        }
    }

    #[test]
    fn nothing_configured_is_fine_but_short_names_need_help() {
        let r = load_from(&[PathBuf::from("/nonexistent/registries.conf")]).unwrap();
        assert!(r.search_registries().is_empty());
        assert_eq!(r.short_name_mode(), ShortNameMode::Permissive);
        let resolution = r.resolve_short_name("busybox").unwrap();
        let err = resolution.into_pull_candidates().unwrap_err().to_string();
        assert!(err.contains("docker.io/library/busybox:latest"), "{err}");
        assert!(err.contains("unqualified-search-registries"), "{err}");
    }

    #[test]
    fn v2_file() {
        let r = from_text(
            r#"
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io/"]
short-name-mode = "enforcing"

[[registry]]
prefix = "example.com/foo"
location = "internal.example.net/bar"
insecure = true

[[registry.mirror]]
location = "mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "mirror-1.local/mirrors/foo"
insecure = true
pull-from-mirror = "digest-only"

[[registry]]
location = "blocked.io"
blocked = true

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"alpine" = "docker.io/alpine"
"#,
        );
        assert_eq!(
            r.search_registries(),
            ["registry.fedoraproject.org", "docker.io"]
        );
        assert_eq!(r.short_name_mode(), ShortNameMode::Enforcing);
        assert_eq!(r.registries().len(), 2);
        let foo = r.find("example.com/foo/app:1").unwrap();
        assert_eq!(foo.location, "internal.example.net/bar");
        assert!(foo.insecure);
        assert_eq!(foo.mirrors.len(), 2);
        assert_eq!(foo.mirrors[1].pull_from_mirror, PullFromMirror::DigestOnly);
        assert_eq!(r.alias("alpine"), Some("docker.io/library/alpine"));
        assert_eq!(r.alias("nope"), None);
    }

    #[test]
    fn drop_ins_merge_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "registries.conf",
            r#"
unqualified-search-registries = ["quay.io", "docker.io"]
short-name-mode = "enforcing"
[[registry]]
location = "a.io"
insecure = true
[[registry]]
location = "b.io"
[aliases]
"x" = "quay.io/x"
"y" = "quay.io/y"
"#,
        );
        let d1 = write(
            dir.path(),
            "d/10-a.conf",
            "[[registry]]\nlocation = \"a.io\"\nblocked = true\n[aliases]\n\"y\" = \"\"\n",
        );
        let d2 = write(
            dir.path(),
            "d/20-b.conf",
            "unqualified-search-registries = [\"docker.io\"]\n[aliases]\n\"x\" = \"docker.io/x\"\n",
        );
        let r = load_from(&[main.clone(), d1, d2.clone()]).unwrap();
        assert_eq!(r.files().len(), 3);
        assert_eq!(r.search_registries(), ["docker.io"]);
        // Not set again: the earlier value stays.
        assert_eq!(r.short_name_mode(), ShortNameMode::Enforcing);
        let a = r.find("a.io/x").unwrap();
        assert!(a.blocked && !a.insecure, "replaced whole: {a:?}");
        assert!(r.find("b.io/x").is_some());
        assert_eq!(r.alias("x"), Some("docker.io/library/x"));
        assert_eq!(r.alias("y"), None, "cancelled by an empty value");
        match r.resolve_short_name("busybox").unwrap() {
            ShortNameResolution::Search { origin, .. } => assert_eq!(origin, Some(d2)),
            other => panic!("{other:?}"),
        }

        // An explicit empty list replaces too.
        let d3 = write(
            dir.path(),
            "d/30-c.conf",
            "unqualified-search-registries = []\n",
        );
        let r = load_from(&[main, d3]).unwrap();
        assert!(r.search_registries().is_empty());
    }

    #[test]
    fn longest_prefix_and_boundaries() {
        let r = from_text(
            r#"
[[registry]]
location = "example.com"
[[registry]]
prefix = "example.com/foo"
location = "example.com/foo"
insecure = true
[[registry]]
prefix = "*.wild.io"
"#,
        );
        assert_eq!(
            r.find("example.com/foo/bar").unwrap().prefix,
            "example.com/foo"
        );
        assert_eq!(
            r.find("example.com/foo:1").unwrap().prefix,
            "example.com/foo"
        );
        assert_eq!(r.find("example.com/foobar").unwrap().prefix, "example.com");
        assert_eq!(r.find("example.com").unwrap().prefix, "example.com");
        assert!(r.find("example.company/x").is_none());
        assert!(r.find("notexample.com/x").is_none());
        assert_eq!(r.find("a.wild.io/x").unwrap().prefix, "*.wild.io");
        assert_eq!(r.find("a.b.wild.io:5000/x").unwrap().prefix, "*.wild.io");
        assert!(r.find("wild.io/x").is_none());
        assert!(r.find("a.wild.io.evil.com/x").is_none());
        assert!(r.find("evil.com/a.wild.io").is_none());
    }

    #[test]
    fn docker_hub_spellings_match_a_hub_prefix() {
        let r = from_text(
            "[[registry]]\nprefix = \"docker.io/library\"\nlocation = \"hub-cache.local/library\"\n",
        );
        assert!(r.find("docker.io/busybox").is_some());
        assert!(r.find("index.docker.io/library/busybox:1").is_some());
        let sources = r.pull_sources("docker.io/busybox:1").unwrap();
        assert_eq!(
            sources,
            [PullSource {
                endpoint: "hub-cache.local".into(),
                repository: "library/busybox".into(),
                insecure: false
            }]
        );
    }

    #[test]
    fn pull_sources_mirrors_then_location() {
        let r = from_text(
            r#"
[[registry]]
prefix = "example.com/foo"
location = "internal.example.net:5000/bar"
[[registry.mirror]]
location = "mirror-0.local/mirror-for-foo"
[[registry.mirror]]
location = "mirror-1.local/mirrors/foo"
insecure = true
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "mirror-2.local"
pull-from-mirror = "tag-only"
"#,
        );
        let by_tag = r.pull_sources("example.com/foo/image:latest").unwrap();
        let got: Vec<(String, String, bool)> = by_tag
            .iter()
            .map(|s| (s.endpoint.clone(), s.repository.clone(), s.insecure))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "mirror-0.local".into(),
                    "mirror-for-foo/image".into(),
                    false
                ),
                ("mirror-2.local".into(), "image".into(), false),
                (
                    "internal.example.net:5000".into(),
                    "bar/image".into(),
                    false
                ),
            ]
        );
        let by_digest = r
            .pull_sources(&format!("example.com/foo/image@sha256:{HEX}"))
            .unwrap();
        let endpoints: Vec<&str> = by_digest.iter().map(|s| s.endpoint.as_str()).collect();
        assert_eq!(
            endpoints,
            [
                "mirror-0.local",
                "mirror-1.local",
                "internal.example.net:5000"
            ]
        );
        assert!(by_digest[1].insecure);

        // Unconfigured registries pull as written.
        let plain = r.pull_sources("quay.io/podman/stable").unwrap();
        assert_eq!(
            plain,
            [PullSource {
                endpoint: "quay.io".into(),
                repository: "podman/stable".into(),
                insecure: false
            }]
        );
        assert!(matches!(
            r.pull_sources("busybox"),
            Err(RegistriesError::NotFullyQualified { .. })
        ));
        assert!(matches!(
            r.pull_sources("Quay.io/x/Y"),
            Err(RegistriesError::Reference(_))
        ));
    }

    #[test]
    fn mirror_by_digest_only() {
        let r = from_text(
            "[[registry]]\nlocation = \"a.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.io\"\n",
        );
        assert_eq!(r.pull_sources("a.io/x:1").unwrap().len(), 1);
        assert_eq!(
            r.pull_sources(&format!("a.io/x@sha256:{HEX}"))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn wildcard_keeps_reference_but_mirrors_rewrite_host() {
        let r = from_text(
            "[[registry]]\nprefix = \"*.corp.io\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"cache.local/corp\"\n",
        );
        let sources = r.pull_sources("eu.corp.io/team/app:2").unwrap();
        assert_eq!(sources[0].endpoint, "cache.local");
        assert_eq!(sources[0].repository, "corp/team/app");
        assert_eq!(sources[1].endpoint, "eu.corp.io");
        assert_eq!(sources[1].repository, "team/app");
        assert!(sources[1].insecure);
    }

    #[test]
    fn blocked_registry_is_an_error_naming_it() {
        let r = from_text("[[registry]]\nlocation = \"evil.io\"\nblocked = true\n");
        let err = r.pull_sources("evil.io/x").unwrap_err();
        assert!(matches!(err, RegistriesError::Blocked { .. }));
        let text = err.to_string();
        assert!(
            text.contains("\"evil.io\"") && text.contains("registries.conf"),
            "{text}"
        );
    }

    #[test]
    fn bad_rewrite_is_reported() {
        // A location without a registry host turns references into short
        // names.
        let r = from_text("[[registry]]\nprefix = \"a.io\"\nlocation = \"nohost\"\n");
        let err = r.pull_sources("a.io/x").unwrap_err();
        assert!(matches!(err, RegistriesError::BadRewrite { .. }), "{err}");
    }

    #[test]
    fn short_name_resolution() {
        let r = from_text(
            r#"
unqualified-search-registries = ["quay.io", "docker.io"]
short-name-mode = "enforcing"
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"#,
        );
        assert_eq!(
            r.resolve_short_name("docker.io/busybox").unwrap(),
            ShortNameResolution::FullyQualified("docker.io/library/busybox:latest".into())
        );
        match r.resolve_short_name("fedora:39").unwrap() {
            ShortNameResolution::Alias { reference, .. } => {
                assert_eq!(reference, "registry.fedoraproject.org/fedora:39")
            }
            other => panic!("{other:?}"),
        }
        let digested = format!("fedora@sha256:{HEX}");
        assert_eq!(
            r.resolve_short_name(&digested)
                .unwrap()
                .into_pull_candidates()
                .unwrap(),
            [format!("registry.fedoraproject.org/fedora@sha256:{HEX}")]
        );
        let resolution = r.resolve_short_name("busybox").unwrap();
        let ShortNameResolution::Search {
            candidates,
            ambiguous,
            ..
        } = &resolution
        else {
            panic!("{resolution:?}");
        };
        assert_eq!(
            candidates,
            &["quay.io/busybox:latest", "docker.io/library/busybox:latest"]
        );
        assert!(ambiguous);
        let err = resolution.into_pull_candidates().unwrap_err().to_string();
        assert!(
            err.contains("quay.io/busybox:latest or docker.io/library/busybox:latest"),
            "{err}"
        );
        assert!(err.contains("\"busybox\" = \"quay.io/busybox\""), "{err}");
        assert!(r.resolve_short_name("Bad").is_err());
    }

    #[test]
    fn permissive_and_single_candidates_are_not_ambiguous() {
        let r = from_text("unqualified-search-registries = [\"quay.io\", \"docker.io\"]\n");
        let candidates = r
            .resolve_short_name("library/busybox:1")
            .unwrap()
            .into_pull_candidates()
            .unwrap();
        assert_eq!(
            candidates,
            ["quay.io/library/busybox:1", "docker.io/library/busybox:1"]
        );
        let r = from_text(
            "unqualified-search-registries = [\"docker.io\"]\nshort-name-mode = \"enforcing\"\n",
        );
        assert_eq!(
            r.resolve_short_name("busybox")
                .unwrap()
                .into_pull_candidates()
                .unwrap(),
            ["docker.io/library/busybox:latest"]
        );
    }

    fn env_of<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn sources_follow_podman_order() {
        let explicit = ConfigSources::decide(
            env_of(&[(CONFIG_ENV, "/tmp/r.conf"), ("HOME", "/home/u")]),
            |_| true,
        );
        assert_eq!(explicit.main, PathBuf::from("/tmp/r.conf"));
        assert!(explicit.main_required);
        assert!(explicit.drop_in_dirs.is_empty());

        let system = ConfigSources::decide(env_of(&[("HOME", "/home/u")]), |_| false);
        assert_eq!(system.main, PathBuf::from(SYSTEM_CONFIG));
        assert!(!system.main_required);
        assert_eq!(
            system.drop_in_dirs,
            [
                PathBuf::from(SYSTEM_DROP_IN_DIR),
                PathBuf::from("/home/u/.config/containers/registries.conf.d")
            ]
        );

        let user = ConfigSources::decide(env_of(&[("HOME", "/home/u")]), |p| {
            p == Path::new("/home/u/.config/containers/registries.conf")
        });
        assert_eq!(
            user.main,
            PathBuf::from("/home/u/.config/containers/registries.conf")
        );
        assert_eq!(
            user.drop_in_dirs,
            [PathBuf::from(
                "/home/u/.config/containers/registries.conf.d"
            )]
        );

        let homeless = ConfigSources::decide(env_of(&[]), |_| true);
        assert_eq!(homeless.drop_in_dirs, [PathBuf::from(SYSTEM_DROP_IN_DIR)]);
    }

    #[test]
    fn drop_in_files_are_sorted_conf_files() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys");
        let user = dir.path().join("user");
        write(&sys, "20-b.conf", "");
        write(&sys, "10-a.conf", "");
        write(&sys, "README", "");
        fs::create_dir_all(sys.join("sub.conf")).unwrap();
        write(&user, "00-u.conf", "");
        let sources = ConfigSources {
            main: dir.path().join("main.conf"),
            main_required: false,
            drop_in_dirs: vec![sys.clone(), dir.path().join("missing"), user.clone()],
        };
        let files = sources.files().unwrap();
        assert_eq!(
            files,
            [
                dir.path().join("main.conf"),
                sys.join("10-a.conf"),
                sys.join("20-b.conf"),
                user.join("00-u.conf"),
            ]
        );
    }
}
