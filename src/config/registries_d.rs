//! registries.d (containers-registries.d(5)): where the signatures of a
//! registry's images are kept. Each `*.yaml` file of the directory maps
//! docker namespaces (`default-docker`, `docker: {NAMESPACE: ...}`) to a
//! lookaside store (`lookaside`, or its old name `sigstore`) and to
//! `use-sigstore-attachments`. The user's `$HOME/.config/containers/
//! registries.d` is used when it exists, else `/etc/containers/
//! registries.d`, as containers/image does. Lookups go from the most
//! specific namespace to `default-docker`, field by field.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const SYSTEM_DIR: &str = "/etc/containers/registries.d";
pub const USER_DIR: &str = ".config/containers/registries.d";
/// The most hutch reads of one file, and the most files of one directory:
/// real ones are a few lines and a handful of files.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
pub const MAX_FILES: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum RegistriesDError {
    #[error("reading registries.d {path:?}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid registries.d file {path:?}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// One namespace's settings; `None` falls through to a less specific one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Namespace {
    pub lookaside: Option<String>,
    pub lookaside_staging: Option<String>,
    /// The old name of `lookaside`.
    pub sigstore: Option<String>,
    pub sigstore_staging: Option<String>,
    pub use_sigstore_attachments: Option<bool>,
}

impl Namespace {
    fn read_url(&self) -> Option<&str> {
        self.lookaside.as_deref().or(self.sigstore.as_deref())
    }

    fn write_url(&self) -> Option<&str> {
        self.lookaside_staging
            .as_deref()
            .or(self.sigstore_staging.as_deref())
            .or(self.read_url())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    default_docker: Option<Namespace>,
    docker: Option<BTreeMap<String, Namespace>>,
}

/// The merged directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesD {
    pub default_docker: Option<Namespace>,
    pub docker: BTreeMap<String, Namespace>,
}

pub fn dir(home: Option<&Path>) -> PathBuf {
    if let Some(home) = home {
        let user = home.join(USER_DIR);
        if user.is_dir() {
            return user;
        }
    }
    PathBuf::from(SYSTEM_DIR)
}

/// Reads every `*.yaml` file of `dir` (none when it does not exist). A
/// namespace or `default-docker` defined in two files is an error, as in
/// containers/image.
pub fn load(dir: &Path) -> Result<RegistriesD, RegistriesDError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistriesD::default()),
        Err(source) => {
            return Err(RegistriesDError::Read {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RegistriesDError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml") && path.is_file() {
            files.push(path);
        }
        if files.len() > MAX_FILES {
            return Err(RegistriesDError::Invalid {
                path: dir.to_owned(),
                reason: format!("more than {MAX_FILES} files"),
            });
        }
    }
    files.sort();
    let mut merged = RegistriesD::default();
    for path in files {
        let text = read_bounded(&path)?;
        merge(&mut merged, &path, &text)?;
    }
    Ok(merged)
}

fn read_bounded(path: &Path) -> Result<String, RegistriesDError> {
    let read = |source| RegistriesDError::Read {
        path: path.to_owned(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(RegistriesDError::Invalid {
            path: path.to_owned(),
            reason: format!("larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    Ok(text)
}

fn merge(into: &mut RegistriesD, path: &Path, text: &str) -> Result<(), RegistriesDError> {
    let invalid = |reason: String| RegistriesDError::Invalid {
        path: path.to_owned(),
        reason,
    };
    if text.trim().is_empty() {
        return Ok(());
    }
    let file: File = serde_saphyr::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if let Some(d) = file.default_docker {
        if into.default_docker.is_some() {
            return Err(invalid(
                "default-docker is defined in more than one file".into(),
            ));
        }
        into.default_docker = Some(d);
    }
    for (ns, v) in file.docker.unwrap_or_default() {
        if into.docker.contains_key(&ns) {
            return Err(invalid(format!(
                "docker namespace {ns:?} is defined in more than one file"
            )));
        }
        into.docker.insert(ns, v);
    }
    Ok(())
}

impl RegistriesD {
    /// Namespaces that apply to a docker reference, most specific first
    /// (the policy's scopes), then `default-docker`.
    fn chain<'a>(&'a self, full_reference: &str) -> impl Iterator<Item = &'a Namespace> {
        let scopes = super::policy::docker_scopes(full_reference);
        let specific: Vec<&Namespace> = scopes.iter().filter_map(|s| self.docker.get(s)).collect();
        specific.into_iter().chain(self.default_docker.as_ref())
    }

    /// Whether signatures of `full_reference` are sigstore attachments in
    /// the registry.
    pub fn use_sigstore_attachments(&self, full_reference: &str) -> bool {
        self.chain(full_reference)
            .find_map(|ns| ns.use_sigstore_attachments)
            .unwrap_or(false)
    }

    /// The lookaside store to read signatures from, if any.
    pub fn lookaside(&self, full_reference: &str) -> Option<String> {
        self.chain(full_reference)
            .find_map(|ns| ns.read_url())
            .map(str::to_owned)
    }

    /// The lookaside store to write signatures to, if any.
    pub fn lookaside_for_writing(&self, full_reference: &str) -> Option<String> {
        self.chain(full_reference)
            .find_map(|ns| ns.write_url())
            .map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_namespace_per_field() {
        let mut d = RegistriesD::default();
        merge(
            &mut d,
            Path::new("/a.yaml"),
            "default-docker:\n  lookaside: file:///var/lib/sigs\ndocker:\n  127.0.0.1:5000:\n    use-sigstore-attachments: true\n  127.0.0.1:5000/off:\n    use-sigstore-attachments: false\n  127.0.0.1:5000/x:\n    lookaside: file:///x\n",
        )
        .unwrap();
        assert!(d.use_sigstore_attachments("127.0.0.1:5000/a:latest"));
        assert!(d.use_sigstore_attachments("127.0.0.1:5000/x:latest"));
        assert!(!d.use_sigstore_attachments("127.0.0.1:5000/off:latest"));
        assert!(!d.use_sigstore_attachments("quay.io/a:latest"));
        assert_eq!(
            d.lookaside("127.0.0.1:5000/x:1").as_deref(),
            Some("file:///x")
        );
        assert_eq!(
            d.lookaside("quay.io/a:1").as_deref(),
            Some("file:///var/lib/sigs")
        );
    }

    #[test]
    fn duplicates_and_unknown_keys_are_errors() {
        let mut d = RegistriesD::default();
        merge(
            &mut d,
            Path::new("/a.yaml"),
            "docker:\n  q.io:\n    lookaside: file:///a\n",
        )
        .unwrap();
        let e = merge(
            &mut d,
            Path::new("/b.yaml"),
            "docker:\n  q.io:\n    lookaside: file:///b\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/b.yaml") && e.contains("q.io"), "{e}");
        let e = merge(
            &mut d,
            Path::new("/c.yaml"),
            "docker:\n  r.io:\n    bogus: 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/c.yaml"), "{e}");
    }
}
