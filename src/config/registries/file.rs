//! One registries.conf file read and checked on its own: the TOML shapes
//! of the v2 format and of the v1 `[registries.*]` tables, and the same
//! validation containers/image applies (locations without URL schemes,
//! wildcard prefixes, mirror settings, aliases). Merging files and answering
//! lookups is the parent module's job.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{Alias, Mirror, PullFromMirror, RegistriesError, Registry, ShortNameMode};
use crate::image::reference::{self, Reference};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<RawRegistry>,
    aliases: Option<BTreeMap<String, String>>,
    /// The v1 format: `[registries.search]`, `[registries.insecure]`,
    /// `[registries.block]`, each with a `registries` list.
    registries: Option<RawV1>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawRegistry {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    pull_from_mirror: Option<String>,
    #[serde(default)]
    mirror: Vec<RawMirror>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMirror {
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawV1 {
    search: Option<RawV1List>,
    insecure: Option<RawV1List>,
    block: Option<RawV1List>,
}

#[derive(Debug, Default, Deserialize)]
struct RawV1List {
    #[serde(default)]
    registries: Vec<String>,
}

/// One file, validated, not yet merged.
#[derive(Debug, Default)]
pub(super) struct FileConfig {
    /// `None` when the file does not set it, so that it does not replace an
    /// earlier file's list (an explicit `[]` does).
    pub(super) search: Option<Vec<String>>,
    pub(super) short_name_mode: Option<ShortNameMode>,
    pub(super) registries: Vec<Registry>,
    pub(super) aliases: BTreeMap<String, Alias>,
}

pub(super) fn parse_file(path: &Path, text: &str) -> Result<FileConfig, RegistriesError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| RegistriesError::Parse {
        path: path.to_path_buf(),
        position: e.span().map(|span| line_column(text, span.start)),
        message: e.message().trim_end().to_string(),
    })?;
    let invalid = |reason: String| RegistriesError::Invalid {
        path: path.to_path_buf(),
        reason,
    };

    let v1 = raw.registries.unwrap_or_default();
    let list = |l: Option<RawV1List>| l.map(|l| l.registries).unwrap_or_default();
    let (v1_search, v1_insecure, v1_block) = (list(v1.search), list(v1.insecure), list(v1.block));
    let v1_used = !(v1_search.is_empty() && v1_insecure.is_empty() && v1_block.is_empty());
    let v2_used = !raw.registry.is_empty()
        || raw
            .unqualified_search_registries
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        || raw.short_name_mode.is_some()
        || raw.aliases.as_ref().is_some_and(|a| !a.is_empty());
    if v1_used && v2_used {
        return Err(invalid(
            "mixes the v1 [registries.*] tables with v2 keys; use only the v2 format".to_string(),
        ));
    }

    let mut config = FileConfig::default();
    let mut raw_registries = raw.registry;
    let mut search = raw.unqualified_search_registries;
    if v1_used {
        search = Some(v1_search);
        raw_registries = v1_registries(&v1_block, &v1_insecure);
    }

    if let Some(search) = search {
        let mut cleaned = Vec::with_capacity(search.len());
        for entry in search {
            let entry = parse_location(&entry).map_err(invalid)?;
            if !reference::valid_registry(&entry) {
                return Err(invalid(format!(
                    "unqualified-search-registries entry {entry:?} is not a host[:port]"
                )));
            }
            cleaned.push(entry);
        }
        config.search = Some(cleaned);
    }

    config.short_name_mode = match raw.short_name_mode.as_deref() {
        None => None,
        Some("enforcing") => Some(ShortNameMode::Enforcing),
        Some("permissive") => Some(ShortNameMode::Permissive),
        Some("disabled") => Some(ShortNameMode::Disabled),
        Some(other) => {
            return Err(invalid(format!(
                "short-name-mode {other:?} is not one of enforcing, permissive, disabled"
            )));
        }
    };

    // Security settings per location must agree across tables of one file,
    // or which one applies would depend on the reference's prefix.
    let mut settings: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for raw in raw_registries {
        let registry = validate_registry(path, raw).map_err(invalid)?;
        let key = if registry.location.is_empty() {
            registry.prefix.clone()
        } else {
            registry.location.clone()
        };
        let flags = (registry.insecure, registry.blocked);
        if let Some(&(insecure, blocked)) = settings.get(&key) {
            if insecure != flags.0 {
                return Err(invalid(format!(
                    "registry {key:?} is defined several times with conflicting 'insecure' settings"
                )));
            }
            if blocked != flags.1 {
                return Err(invalid(format!(
                    "registry {key:?} is defined several times with conflicting 'blocked' settings"
                )));
            }
        }
        settings.insert(key, flags);
        // Within one file the first table for a prefix wins; a later one
        // could never be chosen (containers/image ignores it the same way).
        if !config
            .registries
            .iter()
            .any(|r| r.prefix == registry.prefix)
        {
            config.registries.push(registry);
        }
    }

    for (name, value) in raw.aliases.unwrap_or_default() {
        let alias = validate_alias(&name, &value).map_err(invalid)?;
        config.aliases.insert(
            name,
            Alias {
                value: alias,
                origin: path.to_path_buf(),
            },
        );
    }
    Ok(config)
}

fn v1_registries(block: &[String], insecure: &[String]) -> Vec<RawRegistry> {
    let mut out: Vec<RawRegistry> = Vec::new();
    let mut entry = |location: &str| -> usize {
        match out
            .iter()
            .position(|r| r.location.as_deref() == Some(location))
        {
            Some(i) => i,
            None => {
                out.push(RawRegistry {
                    location: Some(location.to_string()),
                    ..RawRegistry::default()
                });
                out.len() - 1
            }
        }
    };
    let blocked: Vec<usize> = block
        .iter()
        .map(|l| entry(l.trim_end_matches('/')))
        .collect();
    let insecured: Vec<usize> = insecure
        .iter()
        .map(|l| entry(l.trim_end_matches('/')))
        .collect();
    for i in blocked {
        out[i].blocked = true;
    }
    for i in insecured {
        out[i].insecure = true;
    }
    out
}

/// Trailing slashes dropped; URL schemes refused, since a location is a
/// reference prefix, not a URL (whether TLS is used is `insecure`'s job).
fn parse_location(input: &str) -> Result<String, String> {
    let trimmed = input.trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Err(format!(
            "location {input:?}: URL schemes are not supported, write host[:port][/path]"
        ));
    }
    Ok(trimmed.to_string())
}

fn parse_pull_from_mirror(value: Option<&str>, location: &str) -> Result<PullFromMirror, String> {
    match value {
        None | Some("") | Some("all") => Ok(PullFromMirror::All),
        Some("digest-only") => Ok(PullFromMirror::DigestOnly),
        Some("tag-only") => Ok(PullFromMirror::TagOnly),
        Some(other) => Err(format!(
            "pull-from-mirror {other:?} of mirror {location:?} is not one of all, digest-only, tag-only"
        )),
    }
}

fn validate_registry(path: &Path, raw: RawRegistry) -> Result<Registry, String> {
    let location = parse_location(raw.location.as_deref().unwrap_or(""))?;
    let prefix = match raw.prefix.as_deref() {
        None | Some("") => {
            if location.is_empty() {
                return Err("a [[registry]] table sets neither prefix nor location".to_string());
            }
            location.clone()
        }
        Some(prefix) => {
            let prefix = parse_location(prefix)?;
            if let Some(domain) = prefix.strip_prefix("*.") {
                if domain.is_empty() || domain.contains(['/', '@', ':', '*']) {
                    return Err(format!(
                        "wildcard prefix {prefix:?} must have the form *.example.com (no namespace, port or further wildcard)"
                    ));
                }
            } else if location.is_empty() {
                return Err(format!(
                    "registry prefix {prefix:?} has no location; only a wildcard prefix (*.example.com) may omit it"
                ));
            }
            prefix
        }
    };
    if raw.pull_from_mirror.is_some() {
        return Err(format!(
            "pull-from-mirror is set on registry {prefix:?}; it belongs in its [[registry.mirror]] tables"
        ));
    }
    let mut mirrors = Vec::with_capacity(raw.mirror.len());
    for mirror in raw.mirror {
        let location = parse_location(mirror.location.as_deref().unwrap_or(""))?;
        if location.is_empty() {
            return Err(format!("a mirror of registry {prefix:?} has no location"));
        }
        if raw.mirror_by_digest_only && mirror.pull_from_mirror.is_some() {
            return Err(format!(
                "registry {prefix:?} sets mirror-by-digest-only and its mirror {location:?} sets pull-from-mirror; use one or the other"
            ));
        }
        let pull_from_mirror =
            parse_pull_from_mirror(mirror.pull_from_mirror.as_deref(), &location)?;
        mirrors.push(Mirror {
            location,
            insecure: mirror.insecure,
            pull_from_mirror,
        });
    }
    Ok(Registry {
        prefix,
        location,
        insecure: raw.insecure,
        blocked: raw.blocked,
        mirror_by_digest_only: raw.mirror_by_digest_only,
        mirrors,
        origin: path.to_path_buf(),
    })
}

/// An alias maps a short name (no registry, tag or digest) to a
/// fully-qualified name without tag or digest; "" cancels an earlier alias.
fn validate_alias(name: &str, value: &str) -> Result<Option<String>, String> {
    let key = Reference::parse(name).map_err(|e| format!("alias {name:?}: {e}"))?;
    if !key.is_short_name() || key.tag.is_some() || key.digest.is_some() {
        return Err(format!(
            "alias {name:?}: the name must be a short name without registry, tag or digest"
        ));
    }
    if value.is_empty() {
        return Ok(None);
    }
    let target = Reference::parse(value).map_err(|e| format!("alias {name:?}: {e}"))?;
    if target.is_short_name() {
        return Err(format!(
            "alias {name:?} = {value:?}: the value must include a registry"
        ));
    }
    if target.tag.is_some() || target.digest.is_some() {
        return Err(format!(
            "alias {name:?} = {value:?}: the value must not include a tag or digest"
        ));
    }
    Ok(Some(target.normalized_docker_hub().to_string()))
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use super::super::{Registries, load_from};
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
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

    fn load_err(text: &str) -> RegistriesError {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "registries.conf", text);
        match load_from(&[path]) {
            Ok(r) => panic!("should fail: {r:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn debian_default_file_is_comments_only() {
        // What golang-github-containers-image ships in Debian 12, abridged.
        let r = from_text(
            "# unqualified-search-registries = [\"example.com\"]\n# [[registry]]\n# prefix = \"example.com/foo\"\n",
        );
        assert!(r.search_registries().is_empty());
        assert!(r.registries().is_empty());
    }

    #[test]
    fn v1_file() {
        let r = from_text(
            r#"
[registries.search]
registries = ["docker.io", "quay.io"]

[registries.insecure]
registries = ["localhost:5000"]

[registries.block]
registries = ["evil.example.com", "localhost:5000"]
"#,
        );
        assert_eq!(r.search_registries(), ["docker.io", "quay.io"]);
        let local = r.find("localhost:5000/x").unwrap();
        assert!(local.insecure && local.blocked);
        assert!(r.find("evil.example.com/x").unwrap().blocked);
        assert!(!r.find("evil.example.com/x").unwrap().insecure);
    }

    #[test]
    fn mixing_formats_is_an_error() {
        let err = load_err(
            "unqualified-search-registries = [\"docker.io\"]\n[registries.search]\nregistries = [\"quay.io\"]\n",
        );
        assert!(matches!(err, RegistriesError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("v1"), "{err}");
    }

    #[test]
    fn malformed_file_names_file_and_position() {
        let err = load_err(
            "unqualified-search-registries = [\"docker.io\"]\n[[registry]\nlocation = 1\n",
        );
        let RegistriesError::Parse { path, position, .. } = &err else {
            panic!("{err}");
        };
        assert!(path.ends_with("registries.conf"));
        assert_eq!(position.map(|p| p.0), Some(2), "{err}");
        let text = err.to_string();
        assert!(text.contains("registries.conf at line 2, column"), "{text}");

        // A type error is reported at its value too.
        let err = load_err("\n\nshort-name-mode = 3\n");
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn invalid_values_are_explained() {
        for (text, needle) in [
            ("short-name-mode = \"prompt\"", "short-name-mode"),
            (
                "unqualified-search-registries = [\"docker.io/library\"]",
                "host[:port]",
            ),
            (
                "[[registry]]\ninsecure = true",
                "neither prefix nor location",
            ),
            ("[[registry]]\nprefix = \"a.io/x\"", "no location"),
            ("[[registry]]\nlocation = \"https://a.io\"", "URL schemes"),
            ("[[registry]]\nprefix = \"*.a.io/x\"", "wildcard"),
            (
                "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"sometimes\"",
                "pull-from-mirror",
            ),
            (
                "[[registry]]\nlocation = \"a.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"all\"",
                "one or the other",
            ),
            (
                "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\ninsecure = true",
                "no location",
            ),
            (
                "[[registry]]\nprefix = \"x.io\"\nlocation = \"a.io\"\n[[registry]]\nprefix = \"y.io\"\nlocation = \"a.io\"\ninsecure = true",
                "conflicting 'insecure'",
            ),
            ("[aliases]\n\"quay.io/x\" = \"quay.io/x\"", "short name"),
            ("[aliases]\n\"x:1\" = \"quay.io/x\"", "short name"),
            ("[aliases]\n\"x\" = \"x\"", "registry"),
            ("[aliases]\n\"x\" = \"quay.io/x:1\"", "tag or digest"),
        ] {
            let err = load_err(text);
            assert!(
                matches!(err, RegistriesError::Invalid { .. }),
                "{text}: {err}"
            );
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn first_table_for_a_prefix_wins_within_a_file() {
        let r = from_text(
            "[[registry]]\nprefix = \"a.io\"\nlocation = \"one.io\"\n[[registry]]\nprefix = \"a.io\"\nlocation = \"two.io\"\n",
        );
        assert_eq!(r.registries().len(), 1);
        assert_eq!(r.find("a.io/x").unwrap().location, "one.io");
    }

    #[test]
    fn debian_shortnames_conf_loads() {
        // The Debian 12 drop-in, abridged: quoted keys with a '/'.
        let r = from_text(
            "[aliases]\n  # docker\n  \"busybox\" = \"docker.io/library/busybox\"\n  \"opensuse/leap\" = \"registry.opensuse.org/opensuse/leap\"\n",
        );
        assert_eq!(r.alias("busybox"), Some("docker.io/library/busybox"));
        assert_eq!(
            r.resolve_short_name("opensuse/leap:15")
                .unwrap()
                .into_pull_candidates()
                .unwrap(),
            ["registry.opensuse.org/opensuse/leap:15"]
        );
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
