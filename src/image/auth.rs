//! Registry credentials in the auth file Podman, Buildah and Skopeo share
//! (containers-auth.json(5)): `{"auths": {"quay.io": {"auth":
//! base64("user:password")}}}`. `hutch login` writes the same file that
//! `podman login` does, so either tool's login serves both.
//!
//! Lookups also read, but never write, `$XDG_CONFIG_HOME/containers/auth.json`
//! and Docker's `config.json`, whose keys may be old-style URLs such as
//! `https://index.docker.io/v1/`. Credential helpers (`credHelpers`,
//! `credsStore`) and identity tokens are not supported: such entries are
//! skipped, and left untouched when the file is rewritten.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

/// Names the auth file to use instead of the default, as in Podman.
pub const AUTH_FILE_ENV: &str = "REGISTRY_AUTH_FILE";
/// Below the runtime directory (`$XDG_RUNTIME_DIR` for rootless users).
const RUNTIME_AUTH_FILE: &str = "containers/auth.json";

/// Docker and Go write padded base64, but hand-made files sometimes are
/// not; both decode.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("malformed auth file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("malformed auth file {path}: {what}")]
    Shape { path: PathBuf, what: String },
    #[error("creating directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("invalid registry {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
}

/// A user name and password (or token used as one).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    // Debug output ends up in logs and error reports; the password must not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The auth file written by `login`, plus the files only read as
/// fallbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFile {
    path: PathBuf,
    fallbacks: Vec<PathBuf>,
}

impl AuthFile {
    /// Exactly this file, no fallbacks (`--authfile`).
    pub fn new(path: impl Into<PathBuf>) -> AuthFile {
        AuthFile {
            path: path.into(),
            fallbacks: Vec::new(),
        }
    }

    /// Podman's choice: `$REGISTRY_AUTH_FILE`, else
    /// `<runtime_dir>/containers/auth.json`, where `runtime_dir` is
    /// `$XDG_RUNTIME_DIR` or the caller's fallback when it is unset. Read
    /// also `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/…`), then
    /// `$DOCKER_CONFIG/config.json` or, without it, `~/.docker/config.json`.
    pub fn locate(runtime_dir: &Path) -> AuthFile {
        AuthFile::locate_with(|name| std::env::var_os(name), runtime_dir)
    }

    fn locate_with(
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
        runtime_dir: &Path,
    ) -> AuthFile {
        let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let path = var(AUTH_FILE_ENV).unwrap_or_else(|| runtime_dir.join(RUNTIME_AUTH_FILE));
        let home = var("HOME");
        let mut fallbacks = Vec::new();
        if let Some(config_home) =
            var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")))
        {
            fallbacks.push(config_home.join("containers/auth.json"));
        }
        if let Some(docker) = var("DOCKER_CONFIG") {
            fallbacks.push(docker.join("config.json"));
        } else if let Some(home) = &home {
            fallbacks.push(home.join(".docker/config.json"));
        }
        fallbacks.retain(|f| f != &path);
        AuthFile { path, fallbacks }
    }

    /// The file `set` and `remove` change.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Files only read, in lookup order after `path`.
    pub fn fallbacks(&self) -> &[PathBuf] {
        &self.fallbacks
    }

    /// Credentials for a registry (`host[:port]`) or a repository within
    /// one (`quay.io/org/app`, which also finds entries for `quay.io/org`
    /// and `quay.io`), from the first file that has them.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>, AuthError> {
        let key = strip_url(registry);
        for path in std::iter::once(&self.path).chain(&self.fallbacks) {
            let Some(root) = read(path)? else { continue };
            let Some(auths) = auths_of(path, &root)? else {
                continue;
            };
            if let Some(found) = find_in(path, auths, &key)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Stores credentials for `registry` (`host[:port]` or a namespace in
    /// it), keeping every other entry and any fields hutch does not know.
    /// The directory is created 0700 and the file replaced atomically with
    /// mode 0600, so a crash leaves the old file or the new one.
    pub fn set(&self, registry: &str, credentials: &Credentials) -> Result<(), AuthError> {
        validate_key(registry)?;
        let mut root = read(&self.path)?.unwrap_or_else(|| Value::Object(Map::new()));
        let Value::Object(top) = &mut root else {
            return Err(not_object(&self.path, "the top level"));
        };
        let auths = top
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(auths) = auths else {
            return Err(not_object(&self.path, "\"auths\""));
        };
        let secret = format!("{}:{}", credentials.username, credentials.password);
        let mut entry = Map::new();
        // The entry is replaced whole: an identity token from an earlier
        // login belongs to the earlier account.
        entry.insert(
            "auth".to_string(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(secret)),
        );
        auths.insert(registry.to_string(), Value::Object(entry));
        write_atomically(&self.path, &root)
    }

    /// Forgets `registry`'s credentials in the writable file (also entries
    /// under URL-style keys for the same host). Returns whether there were
    /// any. Fallback files are never changed.
    pub fn remove(&self, registry: &str) -> Result<bool, AuthError> {
        validate_key(registry)?;
        let Some(mut root) = read(&self.path)? else {
            return Ok(false);
        };
        let Some(Value::Object(auths)) = root.get_mut("auths") else {
            return Ok(false);
        };
        let mut removed = auths.remove(registry).is_some();
        if !registry.contains('/') {
            let host = normalize_registry(registry);
            let before = auths.len();
            auths.retain(|key, _| !(is_url(key) && normalize_key(key) == host));
            removed |= auths.len() != before;
        }
        if removed {
            write_atomically(&self.path, &root)?;
        }
        Ok(removed)
    }

    /// Forgets every credential in the writable file, keeping its other
    /// fields. A missing file stays missing.
    pub fn remove_all(&self) -> Result<(), AuthError> {
        let Some(mut root) = read(&self.path)? else {
            return Ok(());
        };
        let Value::Object(top) = &mut root else {
            return Err(not_object(&self.path, "the top level"));
        };
        top.insert("auths".to_string(), Value::Object(Map::new()));
        write_atomically(&self.path, &root)
    }
}

fn not_object(path: &Path, what: &str) -> AuthError {
    AuthError::Shape {
        path: path.to_path_buf(),
        what: format!("{what} is not a JSON object"),
    }
}

/// `None` for a missing file; an empty file is malformed, as in Podman.
fn read(path: &Path) -> Result<Option<Value>, AuthError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AuthError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|source| AuthError::Parse {
            path: path.to_path_buf(),
            source,
        })
}

fn auths_of<'a>(path: &Path, root: &'a Value) -> Result<Option<&'a Map<String, Value>>, AuthError> {
    let Value::Object(top) = root else {
        return Err(not_object(path, "the top level"));
    };
    match top.get("auths") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(auths)) => Ok(Some(auths)),
        Some(_) => Err(not_object(path, "\"auths\"")),
    }
}

/// Exact keys first, from the most specific namespace up to the host; then
/// any key that names the same host once URL decoration and Docker Hub's
/// aliases are normalised away.
fn find_in(
    path: &Path,
    auths: &Map<String, Value>,
    key: &str,
) -> Result<Option<Credentials>, AuthError> {
    let mut candidate = key;
    loop {
        if let Some(entry) = auths.get(candidate)
            && let Some(found) = decode(path, candidate, entry)?
        {
            return Ok(Some(found));
        }
        match candidate.rfind('/') {
            Some(slash) => candidate = &candidate[..slash],
            None => break,
        }
    }
    let host = normalize_registry(key.split('/').next().unwrap_or(key));
    for (stored, entry) in auths {
        if normalize_key(stored) == host
            && let Some(found) = decode(path, stored, entry)?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// `None` for entries without a usable `auth` (Docker writes `{}` for
/// hosts served by a credential helper, and skips `auth` values without a
/// colon).
fn decode(path: &Path, key: &str, entry: &Value) -> Result<Option<Credentials>, AuthError> {
    let Some(auth) = entry.get("auth").and_then(Value::as_str) else {
        return Ok(None);
    };
    if auth.is_empty() {
        return Ok(None);
    }
    let bad = |what: &str| AuthError::Shape {
        path: path.to_path_buf(),
        what: format!("the \"auth\" of {key:?} {what}"),
    };
    let raw = LENIENT_BASE64
        .decode(auth.trim())
        .map_err(|_| bad("is not base64"))?;
    let text = String::from_utf8(raw).map_err(|_| bad("is not UTF-8 once decoded"))?;
    let Some((username, password)) = text.split_once(':') else {
        return Ok(None);
    };
    Ok(Some(Credentials {
        username: username.to_string(),
        password: password.trim_matches('\0').to_string(),
    }))
}

fn is_url(key: &str) -> bool {
    key.starts_with("http://") || key.starts_with("https://")
}

/// `https://host/v1/` style keys reduced to `host`, others unchanged.
fn strip_url(key: &str) -> String {
    match key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
    {
        Some(rest) => rest.split('/').next().unwrap_or(rest).to_string(),
        None => key.to_string(),
    }
}

fn normalize_key(key: &str) -> String {
    normalize_registry(&strip_url(key)).to_string()
}

/// Docker Hub answers to several names; Docker keys it as
/// `https://index.docker.io/v1/`.
fn normalize_registry(registry: &str) -> &str {
    match registry {
        "docker.io" | "registry-1.docker.io" => "index.docker.io",
        other => other,
    }
}

/// The keys Podman accepts for writing: `host[:port]` optionally followed
/// by a namespace, never a URL, tag or digest.
fn validate_key(key: &str) -> Result<(), AuthError> {
    let invalid = |reason| AuthError::InvalidKey {
        key: key.to_string(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("it is empty"));
    }
    if is_url(key) {
        return Err(invalid("give host[:port], not a URL"));
    }
    if key.contains('@') {
        return Err(invalid("it contains a digest"));
    }
    if let Some((_, path)) = key.split_once('/')
        && path.contains(':')
    {
        return Err(invalid("it contains a tag"));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains whitespace"));
    }
    Ok(())
}

/// Write-then-rename in the same directory. Concurrent logins may still
/// lose one update (Podman does not lock either); they never corrupt the
/// file.
fn write_atomically(path: &Path, root: &Value) -> Result<(), AuthError> {
    let write_err = |source| AuthError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| AuthError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;

    let mut text = Vec::new();
    // Tabs, as Podman's json.MarshalIndent writes it.
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
    serde::Serialize::serialize(root, &mut serializer)
        .map_err(|e| write_err(io::Error::other(e)))?;
    text.push(b'\n');

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "auth.json".to_string());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let temp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&temp);
        return Err(write_err(source));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn debug_hides_the_password() {
        let text = format!("{:?}", creds("alice", "hunter2"));
        assert!(text.contains("alice"));
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn set_then_get_round_trips_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/containers/auth.json");
        let file = AuthFile::new(&path);
        assert_eq!(file.get("quay.io").unwrap(), None);
        file.set("quay.io", &creds("alice", "pa:ss")).unwrap();
        assert_eq!(file.get("quay.io").unwrap(), Some(creds("alice", "pa:ss")));
        assert_eq!(
            file.get("quay.io/org/app").unwrap(),
            Some(creds("alice", "pa:ss"))
        );
        assert_eq!(file.get("docker.io").unwrap(), None);

        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("run")), 0o700);
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["auth.json"]);

        let text = fs::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["auths"]["quay.io"]["auth"], b64("alice:pa:ss"));
    }

    #[test]
    fn set_preserves_other_entries_and_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        fs::write(
            &path,
            format!(
                r#"{{"auths": {{"docker.io": {{"auth": "{}"}}, "quay.io": {{"auth": "old", "identitytoken": "t"}}}}, "credHelpers": {{"gcr.io": "gcloud"}}, "x-extra": [1, 2]}}"#,
                b64("bob:pw")
            ),
        )
        .unwrap();
        let file = AuthFile::new(&path);
        file.set("quay.io", &creds("alice", "new")).unwrap();
        let value: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(value["auths"]["docker.io"]["auth"], b64("bob:pw"));
        assert_eq!(value["auths"]["quay.io"]["auth"], b64("alice:new"));
        assert!(value["auths"]["quay.io"].get("identitytoken").is_none());
        assert_eq!(value["credHelpers"]["gcr.io"], "gcloud");
        assert_eq!(value["x-extra"], serde_json::json!([1, 2]));
    }

    #[test]
    fn namespaced_keys_prefer_the_most_specific() {
        let dir = tempfile::tempdir().unwrap();
        let file = AuthFile::new(dir.path().join("auth.json"));
        file.set("quay.io", &creds("host", "1")).unwrap();
        file.set("quay.io/org", &creds("org", "2")).unwrap();
        assert_eq!(
            file.get("quay.io/org/app").unwrap(),
            Some(creds("org", "2"))
        );
        assert_eq!(
            file.get("quay.io/other/app").unwrap(),
            Some(creds("host", "1"))
        );
        assert_eq!(file.get("quay.io").unwrap(), Some(creds("host", "1")));
    }

    #[test]
    fn docker_style_keys_are_normalised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(
            &path,
            format!(
                r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{}"}}, "http://registry.local:5000/v2/": {{"auth": "{}"}}, "helper.io": {{}}}}, "credsStore": "desktop"}}"#,
                b64("hub:pw"),
                b64("loc:pw").trim_end_matches('=')
            ),
        )
        .unwrap();
        let file = AuthFile::new(&path);
        assert_eq!(file.get("docker.io").unwrap(), Some(creds("hub", "pw")));
        assert_eq!(
            file.get("docker.io/library/busybox").unwrap(),
            Some(creds("hub", "pw"))
        );
        assert_eq!(
            file.get("registry-1.docker.io").unwrap(),
            Some(creds("hub", "pw"))
        );
        assert_eq!(
            file.get("https://index.docker.io/v1/").unwrap(),
            Some(creds("hub", "pw"))
        );
        assert_eq!(
            file.get("registry.local:5000").unwrap(),
            Some(creds("loc", "pw"))
        );
        // An empty entry (credential helper marker) is no credential.
        assert_eq!(file.get("helper.io").unwrap(), None);
    }

    #[test]
    fn fallbacks_are_read_in_order_but_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let primary = dir.path().join("run/containers/auth.json");
        let docker = dir.path().join("docker/config.json");
        fs::create_dir_all(docker.parent().unwrap()).unwrap();
        let docker_text = format!(
            r#"{{"auths": {{"ghcr.io": {{"auth": "{}"}}}}}}"#,
            b64("d:1")
        );
        fs::write(&docker, &docker_text).unwrap();
        let file = AuthFile {
            path: primary.clone(),
            fallbacks: vec![dir.path().join("missing.json"), docker.clone()],
        };
        assert_eq!(file.get("ghcr.io").unwrap(), Some(creds("d", "1")));
        assert!(!file.remove("ghcr.io").unwrap());
        file.set("ghcr.io", &creds("p", "2")).unwrap();
        assert_eq!(file.get("ghcr.io").unwrap(), Some(creds("p", "2")));
        assert_eq!(fs::read_to_string(&docker).unwrap(), docker_text);
        assert!(file.remove("ghcr.io").unwrap());
        assert_eq!(file.get("ghcr.io").unwrap(), Some(creds("d", "1")));
    }

    #[test]
    fn remove_and_remove_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        let file = AuthFile::new(&path);
        assert!(!file.remove("quay.io").unwrap());
        file.remove_all().unwrap();
        assert!(!path.exists(), "nothing to forget creates no file");

        fs::write(
            &path,
            format!(
                r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{}"}}, "quay.io": {{"auth": "{}"}}}}, "keep": true}}"#,
                b64("a:b"),
                b64("c:d")
            ),
        )
        .unwrap();
        assert!(file.remove("docker.io").unwrap());
        assert_eq!(file.get("docker.io").unwrap(), None);
        assert_eq!(file.get("quay.io").unwrap(), Some(creds("c", "d")));
        assert!(!file.remove("docker.io").unwrap());
        file.remove_all().unwrap();
        assert_eq!(file.get("quay.io").unwrap(), None);
        let value: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(value["keep"], true);
        assert_eq!(value["auths"], serde_json::json!({}));
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        let file = AuthFile::new(&path);
        for bad in [
            "",
            "{not json",
            "[]",
            r#"{"auths": 3}"#,
            r#"{"auths": {"q.io": {"auth": "!!!"}}}"#,
        ] {
            fs::write(&path, bad).unwrap();
            let err = file.get("q.io").unwrap_err().to_string();
            assert!(err.contains(&path.display().to_string()), "{bad}: {err}");
        }
        fs::write(&path, "[]").unwrap();
        let err = file.set("q.io", &creds("a", "b")).unwrap_err();
        assert!(matches!(err, AuthError::Shape { .. }), "{err}");
        // The malformed file was not replaced.
        assert_eq!(fs::read_to_string(&path).unwrap(), "[]");
    }

    #[test]
    fn keys_are_validated_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let file = AuthFile::new(dir.path().join("auth.json"));
        for bad in [
            "",
            "https://quay.io",
            "quay.io/app@sha256:00",
            "quay.io/app:1",
            "a b",
        ] {
            assert!(
                matches!(
                    file.set(bad, &creds("a", "b")),
                    Err(AuthError::InvalidKey { .. })
                ),
                "{bad}"
            );
        }
        file.set("localhost:5000", &creds("a", "b")).unwrap();
        file.set("localhost:5000/ns", &creds("a", "b")).unwrap();
    }

    #[test]
    fn location_follows_podman() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        let run = Path::new("/run/user/1000");
        let f = AuthFile::locate_with(env(&[("HOME", "/home/u")]), run);
        assert_eq!(f.path(), Path::new("/run/user/1000/containers/auth.json"));
        assert_eq!(
            f.fallbacks(),
            [
                PathBuf::from("/home/u/.config/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json")
            ]
        );
        let f = AuthFile::locate_with(
            env(&[
                ("HOME", "/home/u"),
                (AUTH_FILE_ENV, "/home/u/.config/containers/auth.json"),
                ("DOCKER_CONFIG", "/etc/docker-u"),
            ]),
            run,
        );
        assert_eq!(f.path(), Path::new("/home/u/.config/containers/auth.json"));
        assert_eq!(f.fallbacks(), [PathBuf::from("/etc/docker-u/config.json")]);
        let f = AuthFile::locate_with(env(&[("XDG_CONFIG_HOME", "/cfg")]), run);
        assert_eq!(f.fallbacks(), [PathBuf::from("/cfg/containers/auth.json")]);
    }
}
