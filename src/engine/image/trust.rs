//! Image trust in the engine: the policy in force (policy.json and
//! registries.d, read once per pull), its enforcement before a registry
//! pull moves any layer, signing on push, and `image trust show|set`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::Context;
use crate::config::policy::{self, Policy, Requirement};
use crate::config::registries_d::{self, RegistriesD};
use crate::engine::{Error, Result, ResultExt};
use crate::image::registry::{self, Credentials, Endpoint};
use crate::image::trust::sigstore::{self, Attachment, PAYLOAD_MEDIA_TYPE};
use crate::image::trust::{ImageUnderReview, Refusal, judge, verdict};

/// The policy and signature-store configuration a pull is judged by.
pub struct Trust {
    pub policy: Policy,
    pub registries_d: RegistriesD,
    /// The lookaside store used where registries.d names none.
    pub default_lookaside: String,
}

/// Loads the policy in force for `ctx`'s user (`policy_override`:
/// `--signature-policy`). A missing or invalid file is an error naming
/// it: Podman refuses to pull without a policy too.
pub fn load(ctx: &Context, policy_override: Option<&Path>) -> Result<Trust> {
    let path = policy_override
        .map(Path::to_path_buf)
        .unwrap_or_else(|| policy::policy_path(Some(&ctx.home)));
    // No policy file at all (a host without containers-common): accept,
    // as containers-common's own default file does. Podman errors here
    // instead; a hutch installed alone should still pull. A file that
    // exists but cannot be read or parsed is still an error.
    let policy = if policy_override.is_none() && !path.exists() {
        tracing::debug!(path = %path.display(), "no policy.json: accepting any image");
        Policy {
            path: path.clone(),
            default: vec![Requirement::InsecureAcceptAnything],
            transports: Default::default(),
        }
    } else {
        policy::load(&path).map_err(|e| Error::bad_input(e.to_string()))?
    };
    let registries_d = registries_d::load(&registries_d::dir(Some(&ctx.home)))
        .map_err(|e| Error::bad_input(e.to_string()))?;
    Ok(Trust {
        policy,
        registries_d,
        default_lookaside: super::sign::default_lookaside(ctx),
    })
}

/// What a policy check decided for one source of a pull.
pub enum Decision {
    /// Pull `reference` as asked.
    AsAsked,
    /// Pull exactly this manifest digest: the one whose signatures were
    /// verified (a tag moved in between cannot slip another image in).
    Verified(hutch_storage::Digest),
}

/// Judges `name` (the full reference being pulled, `registry/repo:tag`)
/// from `ep`/`repository` before anything but manifests and signatures is
/// fetched. `Err(Ok(refusal))` is the policy's refusal; `Err(Err(e))` a
/// failure to find out.
pub fn check_pull(
    trust: &Trust,
    name: &str,
    ep: &Endpoint,
    repository: &str,
    reference: &str,
    creds: Option<&Credentials>,
) -> std::result::Result<Decision, std::result::Result<Refusal, Error>> {
    let reqs = trust.policy.for_docker(name).requirements;
    let transport_name = format!("docker://{name}");
    if verdict::rejects_outright(reqs) || !verdict::needs_signatures(reqs) {
        let image = ImageUnderReview {
            transport_name: &transport_name,
            reference: name,
            manifest_digest: "",
        };
        return judge(reqs, &image, &[], &[])
            .map(|()| Decision::AsAsked)
            .map_err(Ok);
    }
    let digest =
        registry::top_digest(ep, repository, reference, creds).map_err(|e| Err(Error::from(e)))?;
    let signatures = if trust.registries_d.use_sigstore_attachments(name) {
        registry::signatures(ep, repository, &digest, creds).map_err(|e| Err(Error::from(e)))?
    } else {
        Vec::new()
    };
    let digest_text = digest.to_string();
    let simple = if verdict::needs_lookaside(reqs) {
        super::sign::lookaside_signatures(
            &trust.registries_d,
            &trust.default_lookaside,
            name,
            &digest_text,
        )
        .map_err(Err)?
    } else {
        Vec::new()
    };
    let image = ImageUnderReview {
        transport_name: &transport_name,
        reference: name,
        manifest_digest: &digest_text,
    };
    judge(reqs, &image, &signatures, &simple).map_err(Ok)?;
    Ok(Decision::Verified(digest))
}

/// `push --sign-by-sigstore-private-key`: the key, opened.
pub struct SigstoreSigner {
    pub key: p256::ecdsa::SigningKey,
}

impl SigstoreSigner {
    /// Opens the private key file's bytes with the passphrase (the front
    /// end reads both files).
    pub fn open(key_pem: &[u8], passphrase: &[u8], key_file: &Path) -> Result<SigstoreSigner> {
        let key = crate::image::trust::keys::private_key(key_pem, passphrase).map_err(|e| {
            Error::bad_input(format!(
                "Error creating signature: initializing private key {}: {e}",
                key_file.display()
            ))
        })?;
        Ok(SigstoreSigner { key })
    }
}

/// Signs the manifest `digest` just pushed as `name` and attaches the
/// signature in the registry. Podman writes sigstore signatures only where
/// registries.d enables attachments; so does hutch.
pub fn sign_pushed(
    ctx: &Context,
    signer: &SigstoreSigner,
    name: &str,
    ep: &Endpoint,
    repository: &str,
    digest: &hutch_storage::Digest,
    creds: Option<&Credentials>,
) -> Result<()> {
    let regs_d = registries_d::load(&registries_d::dir(Some(&ctx.home)))
        .map_err(|e| Error::bad_input(e.to_string()))?;
    if !regs_d.use_sigstore_attachments(name) {
        crate::fail!(
            BadInput,
            "writing sigstore attachments is disabled by configuration: set use-sigstore-attachments: true for {name} in registries.d ({})",
            registries_d::dir(Some(&ctx.home)).display()
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let payload = sigstore::payload(name, &digest.to_string(), now);
    let signature = sigstore::sign(&signer.key, &payload);
    let att = Attachment {
        media_type: PAYLOAD_MEDIA_TYPE.to_owned(),
        payload,
        annotations: [(sigstore::SIGNATURE_ANNOTATION.to_owned(), signature)].into(),
    };
    registry::attach_signature(ep, repository, digest, &att, creds)
        .with_context(|| format!("storing the signature of {name}"))?;
    Ok(())
}

/// One row of `image trust show`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrustRow {
    pub transport: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub repo_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty", rename = "keys")]
    pub keys: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sigstore: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gpg_id: String,
}

/// `image trust show`: the policy in force (or `policy_path`) as Podman
/// lists it: the default, each docker scope (sorted), then each other
/// transport's scopes.
pub fn show(ctx: &Context, policy_path: Option<&Path>) -> Result<(PathBuf, Vec<TrustRow>)> {
    let path = policy_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| policy::policy_path(Some(&ctx.home)));
    let pol = policy::load(&path).map_err(|e| Error::bad_input(e.to_string()))?;
    let regs_d = registries_d::load(&registries_d::dir(Some(&ctx.home)))
        .map_err(|e| Error::bad_input(e.to_string()))?;
    let mut rows = Vec::new();
    let row = |transport: &str, name: &str, repo: &str, reqs: &[Requirement], store: String| {
        let first = reqs.first();
        TrustRow {
            transport: transport.to_owned(),
            name: name.to_owned(),
            repo_name: repo.to_owned(),
            keys: Vec::new(),
            sigstore: store,
            kind: first.map_or("", Requirement::show_type).to_owned(),
            gpg_id: match first {
                Some(Requirement::SigstoreSigned { .. }) => "N/A".to_owned(),
                _ => String::new(),
            },
        }
    };
    rows.push(row(
        "all",
        "* (default)",
        "default",
        &pol.default,
        String::new(),
    ));
    if let Some(docker) = pol.transports.get("docker") {
        for (scope, reqs) in docker {
            let store = if matches!(reqs.first(), Some(Requirement::SignedBy { .. })) {
                regs_d.lookaside(scope).unwrap_or_default()
            } else {
                String::new()
            };
            rows.push(row("repository", scope, scope, reqs, store));
        }
    }
    for (transport, scopes) in &pol.transports {
        if transport == "docker" {
            continue;
        }
        for (scope, reqs) in scopes {
            rows.push(row(transport, scope, scope, reqs, String::new()));
        }
    }
    Ok((path, rows))
}

/// What `image trust set` is asked to do.
pub struct TrustSet {
    /// `default`, or a docker scope (`docker://` and a trailing `/` are
    /// dropped).
    pub scope: String,
    /// `accept`, `reject`, `signedBy` or `sigstoreSigned`.
    pub kind: String,
    /// Absolute key paths.
    pub pubkeys: Vec<PathBuf>,
}

/// `image trust set`: rewrites the policy file (the user's when the
/// system one cannot be written and none is given) with the scope's
/// requirement replaced, as Podman does; keys are sorted on output as
/// Go's encoder sorts map keys.
pub fn set(ctx: &Context, policy_path: Option<&Path>, req: &TrustSet) -> Result<PathBuf> {
    let new_req = match req.kind.as_str() {
        "accept" => serde_json::json!([{"type": "insecureAcceptAnything"}]),
        "reject" => serde_json::json!([{"type": "reject"}]),
        "signedBy" | "sigstoreSigned" => {
            if req.pubkeys.is_empty() {
                crate::fail!(
                    BadInput,
                    "at least one public key must be defined for type '{}'",
                    req.kind
                );
            }
            let list: Vec<Value> = req
                .pubkeys
                .iter()
                .map(|k| {
                    if req.kind == "signedBy" {
                        serde_json::json!({"type": "signedBy", "keyType": "GPGKeys", "keyPath": k})
                    } else {
                        serde_json::json!({"type": "sigstoreSigned", "keyPath": k})
                    }
                })
                .collect();
            Value::Array(list)
        }
        other => crate::fail!(
            BadInput,
            "invalid choice: {other} (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')"
        ),
    };
    let path = policy_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| policy::policy_path(Some(&ctx.home)));
    let mut top: Map<String, Value> = match policy::read_bounded(&path) {
        Ok(text) => {
            // Validate first: an invalid file is not silently rewritten.
            policy::parse(&path, &text).map_err(|e| Error::bad_input(e.to_string()))?;
            serde_json::from_slice(&text).map_err(|e| Error::bad_input(e.to_string()))?
        }
        Err(policy::PolicyError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Map::new()
        }
        Err(e) => return Err(Error::bad_input(e.to_string())),
    };
    let scope = req
        .scope
        .trim_start_matches("docker://")
        .trim_end_matches('/');
    if scope == "default" {
        top.insert("default".into(), new_req);
    } else {
        let transports = top
            .entry("transports")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(transports) = transports else {
            crate::fail!(
                BadInput,
                "{}: \"transports\" is not an object",
                path.display()
            );
        };
        let docker = transports
            .entry("docker")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(docker) = docker else {
            crate::fail!(
                BadInput,
                "{}: transports.docker is not an object",
                path.display()
            );
        };
        docker.insert(scope.to_owned(), new_req);
    }
    top.entry("default")
        .or_insert_with(|| serde_json::json!([{"type": "insecureAcceptAnything"}]));
    // Rootless, the system file is not the user's to write: the edited
    // copy becomes the user's own policy, which pulls then obey (Podman
    // 4.3 fails with "permission denied" here).
    let path = if policy_path.is_none() && !ctx.rootful && path == Path::new(policy::SYSTEM_POLICY)
    {
        policy::user_policy_path(&ctx.home)
    } else {
        path
    };
    let text = go_json(&Value::Object(top));
    policy::parse(&path, text.as_bytes()).map_err(|e| Error::bad_input(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::internal(format!("open {}: {e}", path.display())))?;
    Ok(path)
}

/// JSON as Go's `json.MarshalIndent(v, "", "    ")` writes a map: keys of
/// objects sorted, four-space indents, no final newline.
fn go_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                // Requirements keep their own order ("type" first), as
                // Podman writes them from structs.
                let is_requirement = m.contains_key("type");
                if is_requirement {
                    for (k, v) in m {
                        out.insert(k.clone(), sorted(v));
                    }
                } else {
                    for k in keys {
                        out.insert(k.clone(), sorted(&m[k]));
                    }
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = serde::Serialize::serialize(&sorted(v), &mut ser);
    String::from_utf8(out).unwrap_or_default()
}
