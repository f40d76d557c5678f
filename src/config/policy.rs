//! policy.json (containers-policy.json(5)): which images may be pulled, and
//! what signatures they need. The user's `$HOME/.config/containers/
//! policy.json` is used when it exists, else `/etc/containers/policy.json`,
//! as containers/image does. A typed view, strict as containers/image is
//! (unknown keys and empty requirement lists are errors), and the scope
//! lookup that picks the requirements for one image.
//!
//! It does not verify anything: `image::trust` judges signatures against
//! the requirements found here.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The system policy, used when the user has none.
pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";
/// Below `$HOME` (containers/image uses the home directory, not
/// `$XDG_CONFIG_HOME`).
pub const USER_POLICY: &str = ".config/containers/policy.json";
/// The most hutch reads of a policy file: real ones are a few KiB; a
/// larger file is refused rather than parsed.
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("reading policy {path:?}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid policy in {path:?}: the file is larger than {MAX_POLICY_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("invalid policy in {path:?}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// One requirement of a scope; an image must satisfy all of a scope's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    InsecureAcceptAnything,
    Reject,
    /// GPG simple signing.
    SignedBy {
        key_type: String,
        key_paths: Vec<PathBuf>,
        key_data: Option<Vec<u8>>,
        signed_identity: SignedIdentity,
    },
    /// A sigstore (cosign) signature by a public key, or by a Fulcio
    /// certificate; with a Rekor key, its log entry is required too.
    SigstoreSigned {
        key_path: Option<PathBuf>,
        key_data: Option<Vec<u8>>,
        fulcio: Option<Fulcio>,
        rekor_key_path: Option<PathBuf>,
        rekor_key_data: Option<Vec<u8>>,
        signed_identity: SignedIdentity,
    },
    SignedBaseLayer,
}

impl Requirement {
    /// The name `image trust show` gives it (Podman's).
    pub fn show_type(&self) -> &'static str {
        match self {
            Requirement::InsecureAcceptAnything => "accept",
            Requirement::Reject => "reject",
            Requirement::SignedBy { .. } => "signed",
            Requirement::SigstoreSigned { .. } => "sigstoreSigned",
            Requirement::SignedBaseLayer => "signedBaseLayer",
        }
    }
}

/// A `sigstoreSigned` requirement's `fulcio` object: the CA certificates
/// (exactly one of a path and base64 data) and the identity a signing
/// certificate must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulcio {
    pub ca_path: Option<PathBuf>,
    pub ca_data: Option<Vec<u8>>,
    pub oidc_issuer: String,
    pub subject_email: String,
}

/// Which references a signature may claim for the image being pulled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SignedIdentity {
    MatchExact,
    #[default]
    MatchRepoDigestOrExact,
    MatchRepository,
    ExactReference(String),
    ExactRepository(String),
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub path: PathBuf,
    pub default: Vec<Requirement>,
    /// transport → scope → requirements (`""` is the transport's default).
    pub transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

/// Where the policy in force lives: the user's file when it exists.
pub fn policy_path(home: Option<&Path>) -> PathBuf {
    if let Some(home) = home {
        let user = home.join(USER_POLICY);
        if user.exists() {
            return user;
        }
    }
    PathBuf::from(SYSTEM_POLICY)
}

/// The user's policy path (existing or not): where `image trust set`
/// writes when the user has none yet and cannot write the system file.
pub fn user_policy_path(home: &Path) -> PathBuf {
    home.join(USER_POLICY)
}

/// Reads `path`, bounded. A missing file is an error, as in Podman: a
/// pull without any policy is refused rather than let through.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, PolicyError> {
    let read = |source| PolicyError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut text = Vec::new();
    file.take(MAX_POLICY_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(text)
}

pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    parse(path, &read_bounded(path)?)
}

pub fn parse(path: &Path, text: &[u8]) -> Result<Policy, PolicyError> {
    let invalid = |reason: String| PolicyError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let value: Value = serde_json::from_slice(text).map_err(|e| invalid(e.to_string()))?;
    let Value::Object(top) = value else {
        return Err(invalid("the policy is not a JSON object".into()));
    };
    let mut default = None;
    let mut transports = BTreeMap::new();
    for (key, v) in &top {
        match key.as_str() {
            "default" => default = Some(requirements(v).map_err(invalid)?),
            "transports" => {
                let Value::Object(ts) = v else {
                    return Err(invalid("\"transports\" is not an object".into()));
                };
                for (transport, scopes) in ts {
                    let Value::Object(scopes) = scopes else {
                        return Err(invalid(format!(
                            "transport {transport:?} is not an object of scopes"
                        )));
                    };
                    let mut parsed = BTreeMap::new();
                    for (scope, reqs) in scopes {
                        if transport == "docker" {
                            check_docker_scope(scope).map_err(invalid)?;
                        }
                        let reqs = requirements(reqs)
                            .map_err(|e| invalid(format!("scope {scope:?}: {e}")))?;
                        parsed.insert(scope.clone(), reqs);
                    }
                    transports.insert(transport.clone(), parsed);
                }
            }
            other => return Err(invalid(format!("unknown key {other:?}"))),
        }
    }
    let default = default.ok_or_else(|| invalid("\"default\" is missing".into()))?;
    Ok(Policy {
        path: path.to_owned(),
        default,
        transports,
    })
}

fn requirements(v: &Value) -> Result<Vec<Requirement>, String> {
    let Value::Array(items) = v else {
        return Err("a requirement list must be a JSON array".into());
    };
    if items.is_empty() {
        return Err("no policy requirements in a requirement list".into());
    }
    items.iter().map(requirement).collect()
}

fn requirement(v: &Value) -> Result<Requirement, String> {
    let Value::Object(m) = v else {
        return Err("a requirement must be a JSON object".into());
    };
    let ty = string(m, "type")?.ok_or("a requirement has no \"type\"")?;
    let allow = |keys: &[&str]| -> Result<(), String> {
        match m
            .keys()
            .find(|k| k.as_str() != "type" && !keys.contains(&k.as_str()))
        {
            Some(k) => Err(format!("unknown key {k:?} in a {ty:?} requirement")),
            None => Ok(()),
        }
    };
    match ty.as_str() {
        "insecureAcceptAnything" => allow(&[]).map(|()| Requirement::InsecureAcceptAnything),
        "reject" => allow(&[]).map(|()| Requirement::Reject),
        "signedBaseLayer" => allow(&["baseLayerIdentity"]).map(|()| Requirement::SignedBaseLayer),
        "signedBy" => {
            allow(&[
                "keyType",
                "keyPath",
                "keyPaths",
                "keyData",
                "signedIdentity",
            ])?;
            let key_type = string(m, "keyType")?.ok_or("signedBy has no \"keyType\"")?;
            if !matches!(key_type.as_str(), "GPGKeys" | "signedByGPGKeys") {
                return Err(format!("unsupported keyType {key_type:?} in signedBy"));
            }
            let mut key_paths: Vec<PathBuf> = string(m, "keyPath")?
                .map(PathBuf::from)
                .into_iter()
                .collect();
            if let Some(Value::Array(ps)) = m.get("keyPaths") {
                for p in ps {
                    let p = p.as_str().ok_or("\"keyPaths\" must hold strings")?;
                    key_paths.push(PathBuf::from(p));
                }
            }
            let key_data = key_data(m)?;
            if key_paths.is_empty() == key_data.is_none() {
                return Err("signedBy needs exactly one of keyPath, keyPaths and keyData".into());
            }
            Ok(Requirement::SignedBy {
                key_type,
                key_paths,
                key_data,
                signed_identity: signed_identity(m)?,
            })
        }
        "sigstoreSigned" => {
            allow(&[
                "keyPath",
                "keyData",
                "fulcio",
                "rekorPublicKeyPath",
                "rekorPublicKeyData",
                "signedIdentity",
            ])?;
            let key_path = string(m, "keyPath")?.map(PathBuf::from);
            let key_data = key_data(m)?;
            let fulcio = m.get("fulcio").map(fulcio).transpose()?;
            let sources = usize::from(key_path.is_some())
                + usize::from(key_data.is_some())
                + usize::from(fulcio.is_some());
            if sources != 1 {
                return Err(
                    "sigstoreSigned needs exactly one of keyPath, keyData and fulcio".into(),
                );
            }
            let rekor_key_path = string(m, "rekorPublicKeyPath")?.map(PathBuf::from);
            let rekor_key_data = base64_field(m, "rekorPublicKeyData")?;
            if rekor_key_path.is_some() && rekor_key_data.is_some() {
                return Err(
                    "rekorPublicKeyPath and rekorPublicKeyData cannot be used simultaneously"
                        .into(),
                );
            }
            if fulcio.is_some() && rekor_key_path.is_none() && rekor_key_data.is_none() {
                return Err(
                    "At least one of rekorPublicKeyPath and rekorPublicKeyData must be specified if fulcio is used"
                        .into(),
                );
            }
            Ok(Requirement::SigstoreSigned {
                key_path,
                key_data,
                fulcio,
                rekor_key_path,
                rekor_key_data,
                signed_identity: signed_identity(m)?,
            })
        }
        other => Err(format!("unknown policy requirement type {other:?}")),
    }
}

fn string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key:?} must be a string")),
    }
}

fn key_data(m: &Map<String, Value>) -> Result<Option<Vec<u8>>, String> {
    base64_field(m, "keyData")
}

/// A `[]byte` field of containers/image's: base64 in JSON.
fn base64_field(m: &Map<String, Value>, key: &str) -> Result<Option<Vec<u8>>, String> {
    use base64::Engine as _;
    string(m, key)?
        .map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map_err(|e| format!("{key:?} is not base64: {e}"))
        })
        .transpose()
}

/// A `fulcio` object, strict as containers/image's.
fn fulcio(v: &Value) -> Result<Fulcio, String> {
    let Value::Object(f) = v else {
        return Err("\"fulcio\" must be an object".into());
    };
    if let Some(k) = f
        .keys()
        .find(|k| !["caPath", "caData", "oidcIssuer", "subjectEmail"].contains(&k.as_str()))
    {
        return Err(format!("unknown key {k:?} in \"fulcio\""));
    }
    let ca_path = string(f, "caPath")?.map(PathBuf::from);
    let ca_data = base64_field(f, "caData")?;
    match (&ca_path, &ca_data) {
        (Some(_), Some(_)) => return Err("caPath and caData cannot be used simultaneously".into()),
        (None, None) => return Err("At least one of caPath and caData must be specified".into()),
        _ => {}
    }
    let oidc_issuer = string(f, "oidcIssuer")?
        .filter(|s| !s.is_empty())
        .ok_or("oidcIssuer not specified")?;
    let subject_email = string(f, "subjectEmail")?
        .filter(|s| !s.is_empty())
        .ok_or("subjectEmail not specified")?;
    Ok(Fulcio {
        ca_path,
        ca_data,
        oidc_issuer,
        subject_email,
    })
}

fn signed_identity(m: &Map<String, Value>) -> Result<SignedIdentity, String> {
    let Some(v) = m.get("signedIdentity") else {
        return Ok(SignedIdentity::default());
    };
    let Value::Object(si) = v else {
        return Err("\"signedIdentity\" must be an object".into());
    };
    let ty = string(si, "type")?.ok_or("signedIdentity has no \"type\"")?;
    let need = |key: &str| -> Result<String, String> {
        string(si, key)?.ok_or_else(|| format!("signedIdentity {ty:?} needs {key:?}"))
    };
    Ok(match ty.as_str() {
        "matchExact" => SignedIdentity::MatchExact,
        "matchRepoDigestOrExact" => SignedIdentity::MatchRepoDigestOrExact,
        "matchRepository" => SignedIdentity::MatchRepository,
        "exactReference" => SignedIdentity::ExactReference(need("dockerReference")?),
        "exactRepository" => SignedIdentity::ExactRepository(need("dockerRepository")?),
        "remapIdentity" => SignedIdentity::RemapIdentity {
            prefix: need("prefix")?,
            signed_prefix: need("signedPrefix")?,
        },
        other => return Err(format!("unknown signedIdentity type {other:?}")),
    })
}

/// A docker scope is a registry, a repository namespace, a repository or
/// a `repo:tag`/`repo@digest`, or a `*.domain` wildcard; never a URL.
fn check_docker_scope(scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Ok(());
    }
    let bad = || format!("invalid docker scope {scope:?}");
    if scope.contains("://") || scope.starts_with('/') || scope.ends_with('/') {
        return Err(bad());
    }
    if let Some(rest) = scope.strip_prefix("*.") {
        return if rest.is_empty() || rest.contains(['/', '*']) {
            Err(bad())
        } else {
            Ok(())
        };
    }
    if scope.contains('*') || scope.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    Ok(())
}

/// The scopes a docker reference is looked up under, most specific first
/// (containers/image's `PolicyConfigurationIdentity` then
/// `PolicyConfigurationNamespaces`): `reg/a/b:tag`, `reg/a/b`, `reg/a`,
/// `reg`, then `*.sub.domain`, `*.domain` wildcards of the host.
pub fn docker_scopes(full_reference: &str) -> Vec<String> {
    let mut out = vec![full_reference.to_owned()];
    // Tag or digest stripped: a ':' after the last '/' starts a tag.
    let name = full_reference
        .split_once('@')
        .map_or(full_reference, |(n, _)| n);
    let name = match (name.rfind(':'), name.rfind('/')) {
        (Some(c), Some(s)) if c > s => &name[..c],
        _ => name,
    };
    let mut ns = name;
    loop {
        if ns != full_reference {
            out.push(ns.to_owned());
        }
        match ns.rfind('/') {
            Some(i) => ns = &ns[..i],
            None => break,
        }
    }
    // `ns` is now the registry host[:port].
    let host = ns.split(':').next().unwrap_or(ns);
    let mut rest = host;
    while let Some((_, tail)) = rest.split_once('.') {
        out.push(format!("*.{tail}"));
        rest = tail;
    }
    out
}

/// The requirements for `transport` and `reference`, and which scope of
/// the policy they came from (`None` for the global default).
pub struct Chosen<'a> {
    pub scope: Option<String>,
    pub requirements: &'a [Requirement],
}

impl Policy {
    /// The most specific scope's requirements: containers/image's lookup.
    pub fn for_docker(&self, full_reference: &str) -> Chosen<'_> {
        self.for_transport("docker", &docker_scopes(full_reference))
    }

    pub fn for_transport(&self, transport: &str, scopes: &[String]) -> Chosen<'_> {
        if let Some(t) = self.transports.get(transport) {
            for scope in scopes {
                if let Some(reqs) = t.get(scope) {
                    return Chosen {
                        scope: Some(scope.clone()),
                        requirements: reqs,
                    };
                }
            }
            if let Some(reqs) = t.get("") {
                return Chosen {
                    scope: Some(String::new()),
                    requirements: reqs,
                };
            }
        }
        Chosen {
            scope: None,
            requirements: &self.default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Policy, PolicyError> {
        parse(Path::new("/p.json"), text.as_bytes())
    }

    #[test]
    fn scopes_most_specific_first() {
        assert_eq!(
            docker_scopes("reg.example.com:5000/a/b:v1"),
            [
                "reg.example.com:5000/a/b:v1",
                "reg.example.com:5000/a/b",
                "reg.example.com:5000/a",
                "reg.example.com:5000",
                "*.example.com",
                "*.com"
            ]
        );
        assert_eq!(
            docker_scopes("127.0.0.1:5000/x@sha256:00"),
            [
                "127.0.0.1:5000/x@sha256:00",
                "127.0.0.1:5000/x",
                "127.0.0.1:5000",
                "*.0.0.1",
                "*.0.1",
                "*.1"
            ]
        );
    }

    #[test]
    fn lookup_picks_the_most_specific_scope() {
        let pol = p(r#"{"default":[{"type":"reject"}],"transports":{"docker":{
            "127.0.0.1:5000":[{"type":"reject"}],
            "127.0.0.1:5000/ok":[{"type":"insecureAcceptAnything"}],
            "127.0.0.1:5000/ok:bad":[{"type":"reject"}],
            "":[{"type":"insecureAcceptAnything"}]}}}"#)
        .unwrap();
        let c = pol.for_docker("127.0.0.1:5000/ok:latest");
        assert_eq!(c.scope.as_deref(), Some("127.0.0.1:5000/ok"));
        assert_eq!(c.requirements, [Requirement::InsecureAcceptAnything]);
        let c = pol.for_docker("127.0.0.1:5000/ok:bad");
        assert_eq!(c.requirements, [Requirement::Reject]);
        let c = pol.for_docker("127.0.0.1:5000/other:latest");
        assert_eq!(c.scope.as_deref(), Some("127.0.0.1:5000"));
        let c = pol.for_docker("quay.io/x:latest");
        assert_eq!(c.scope.as_deref(), Some(""));
        assert_eq!(c.requirements, [Requirement::InsecureAcceptAnything]);
    }

    #[test]
    fn errors_name_the_file() {
        for bad in [
            "{",
            "[]",
            r#"{"transports":{}}"#,
            r#"{"default":[]}"#,
            r#"{"default":[{"type":"nope"}]}"#,
            r#"{"default":[{"type":"reject","x":1}]}"#,
            r#"{"default":[{"type":"sigstoreSigned"}]}"#,
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys"}]}"#,
            r#"{"default":[{"type":"reject"}],"extra":1}"#,
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{"https://x/y":[{"type":"reject"}]}}}"#,
        ] {
            let e = p(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("invalid policy in \"/p.json\": "),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn sigstore_requirement_with_identity() {
        let pol = p(r#"{"default":[{"type":"sigstoreSigned","keyData":"aGk=",
            "signedIdentity":{"type":"remapIdentity","prefix":"a.io","signedPrefix":"b.io"}}]}"#)
        .unwrap();
        assert_eq!(
            pol.default,
            [Requirement::SigstoreSigned {
                key_path: None,
                key_data: Some(b"hi".to_vec()),
                fulcio: None,
                rekor_key_path: None,
                rekor_key_data: None,
                signed_identity: SignedIdentity::RemapIdentity {
                    prefix: "a.io".into(),
                    signed_prefix: "b.io".into()
                }
            }]
        );
    }
    #[test]
    fn sigstore_fulcio_requirement_needs_ca_identity_and_rekor() {
        let pol = p(r#"{"default":[{"type":"sigstoreSigned",
            "fulcio":{"caData":"aGk=","oidcIssuer":"https://i","subjectEmail":"a@b"},
            "rekorPublicKeyPath":"/r.pub"}]}"#)
        .unwrap();
        assert_eq!(
            pol.default,
            [Requirement::SigstoreSigned {
                key_path: None,
                key_data: None,
                fulcio: Some(Fulcio {
                    ca_path: None,
                    ca_data: Some(b"hi".to_vec()),
                    oidc_issuer: "https://i".into(),
                    subject_email: "a@b".into(),
                }),
                rekor_key_path: Some("/r.pub".into()),
                rekor_key_data: None,
                signed_identity: SignedIdentity::MatchRepoDigestOrExact,
            }]
        );
        for (bad, why) in [
            (
                r#""fulcio":{"caPath":"/c","oidcIssuer":"i","subjectEmail":"e"}"#,
                "rekorPublicKeyPath",
            ),
            (
                r#""fulcio":{"oidcIssuer":"i","subjectEmail":"e"},"rekorPublicKeyPath":"/r""#,
                "caPath and caData",
            ),
            (
                r#""fulcio":{"caPath":"/c","subjectEmail":"e"},"rekorPublicKeyPath":"/r""#,
                "oidcIssuer not specified",
            ),
            (
                r#""fulcio":{"caPath":"/c","oidcIssuer":"i"},"rekorPublicKeyPath":"/r""#,
                "subjectEmail not specified",
            ),
            (
                r#""fulcio":{"caPath":"/c","oidcIssuer":"i","subjectEmail":"e","x":1},"rekorPublicKeyPath":"/r""#,
                "unknown key",
            ),
            (
                r#""keyPath":"/k","rekorPublicKeyPath":"/r","rekorPublicKeyData":"aGk=""#,
                "simultaneously",
            ),
        ] {
            let e = p(&format!(
                r#"{{"default":[{{"type":"sigstoreSigned",{bad}}}]}}"#
            ))
            .unwrap_err()
            .to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
