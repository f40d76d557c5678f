//! GPG simple signing in the engine: reading an image's signatures from
//! its lookaside store for a `signedBy` policy, making signatures with the
//! user's `gpg` (`push --sign-by`, `image sign`) and writing them where
//! registries.d says, as containers/image and Podman do.
//!
//! Signing runs the `gpg` binary (`gpg --batch --sign --local-user KEY`),
//! as gpgme does for Podman: the private key stays in the user's keyring
//! and gpg-agent; hutch never reads it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::config::Context;
use crate::config::registries_d::{self, RegistriesD};
use crate::engine::{Error, Result, ResultExt};
use crate::image::reference::Reference;
use crate::image::registry::{self, fetch::FetchError};
use crate::image::trust::openpgp::MAX_SIGNATURE_BYTES;
use crate::image::trust::simple;

/// The most signatures read for one manifest.
pub const MAX_SIGNATURES: usize = 256;

/// containers/image's built-in lookaside store, used when registries.d
/// names none: the user's own directory rootless, the system's as root.
pub fn default_lookaside(ctx: &Context) -> String {
    if ctx.rootful {
        "file:///var/lib/containers/sigstore".to_owned()
    } else {
        format!(
            "file://{}",
            ctx.home.join(".local/share/containers/sigstore").display()
        )
    }
}

/// The simple signing signatures of manifest `digest` of `name` (a full
/// reference) in its lookaside store: `signature-1`, `signature-2`, … until
/// the first missing one. `file://` and `http(s)://` stores are read.
/// `default_base` is [`default_lookaside`]'s answer.
pub fn lookaside_signatures(
    regs_d: &RegistriesD,
    default_base: &str,
    name: &str,
    digest: &str,
) -> Result<Vec<Vec<u8>>> {
    let base = regs_d
        .lookaside(name)
        .unwrap_or_else(|| default_base.to_owned());
    let repo = repository_path(name)?;
    let dir = simple::signature_dir(&base, &repo, digest).ok_or_else(|| {
        Error::bad_input(format!(
            "Unexpected path elements in Docker reference {name} for signature storage"
        ))
    })?;
    let mut out = Vec::new();
    for index in 1..=MAX_SIGNATURES {
        let url = format!("{dir}/signature-{index}");
        let found = if let Some(path) = url.strip_prefix("file://") {
            read_file(Path::new(path))?
        } else if url.starts_with("http://") || url.starts_with("https://") {
            read_http(&url)?
        } else {
            crate::fail!(
                BadInput,
                "Unsupported scheme when reading signatures from {base}"
            );
        };
        match found {
            Some(sig) => out.push(sig),
            None => break,
        }
    }
    tracing::debug!(name, count = out.len(), "lookaside signatures");
    Ok(out)
}

/// `registry/a/b:tag` → `a/b`: containers/image's `reference.Path`.
fn repository_path(name: &str) -> Result<String> {
    let parsed = Reference::parse(name)
        .with_context(|| format!("invalid reference {name:?}"))?
        .normalized_docker_hub();
    Ok(parsed.repository)
}

fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut out = Vec::new();
    file.take(MAX_SIGNATURE_BYTES + 1)
        .read_to_end(&mut out)
        .with_context(|| format!("reading {}", path.display()))?;
    if out.len() as u64 > MAX_SIGNATURE_BYTES {
        crate::fail!(
            BadInput,
            "signature {} is larger than {MAX_SIGNATURE_BYTES} bytes",
            path.display()
        );
    }
    Ok(Some(out))
}

fn read_http(url: &str) -> Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    match registry::fetch::fetch(url, MAX_SIGNATURE_BYTES, &mut out) {
        Ok(_) => Ok(Some(out)),
        // containers/image ends the list at a 404 (some servers say 403).
        Err(FetchError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(Error::internal(e.to_string())),
    }
}

/// `--sign-by KEY`: who signs, through the user's gpg.
#[derive(Debug, Clone)]
pub struct GpgSigner {
    /// A key id, fingerprint or user id gpg accepts for `--local-user`.
    pub key: String,
    /// `--sign-passphrase-file`, absolute: handed to gpg (loopback
    /// pinentry) rather than read by hutch.
    pub passphrase_file: Option<PathBuf>,
}

impl GpgSigner {
    /// The signed message (binary, as gpgme makes it) of `payload`.
    pub fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let mut cmd = std::process::Command::new("gpg");
        cmd.args(["--batch", "--no-tty", "--sign", "--local-user", &self.key]);
        if let Some(p) = &self.passphrase_file {
            cmd.args(["--pinentry-mode", "loopback", "--passphrase-file"])
                .arg(p);
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            Error::bad_input(format!(
                "creating signature: running gpg: {e} (install gnupg to sign with --sign-by)"
            ))
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(payload)
                .context("creating signature: writing to gpg")?;
        }
        let out = child
            .wait_with_output()
            .context("creating signature: waiting for gpg")?;
        if !out.status.success() || out.stdout.is_empty() {
            let err = String::from_utf8_lossy(&out.stderr);
            crate::fail!(
                BadInput,
                "creating signature: signing with key {:?} failed: {}",
                self.key,
                err.trim()
            );
        }
        Ok(out.stdout)
    }
}

/// Signs manifest `digest` as `name` (a full reference) and stores the
/// signature in `directory`, else registries.d's `lookaside-staging` /
/// `sigstore-staging` / `lookaside` for `name`, else the built-in store
/// (file:// only, as Podman writes). Returns the file written.
pub fn sign_and_store(
    ctx: &Context,
    signer: &GpgSigner,
    name: &str,
    digest: &str,
    directory: Option<&Path>,
) -> Result<PathBuf> {
    let base = match directory {
        Some(d) => d.to_path_buf(),
        None => {
            let regs_d = registries_d::load(&registries_d::dir(Some(&ctx.home)))
                .map_err(|e| Error::bad_input(e.to_string()))?;
            let url = regs_d
                .lookaside_for_writing(name)
                .unwrap_or_else(|| default_lookaside(ctx));
            match url.strip_prefix("file://") {
                Some(p) => PathBuf::from(p),
                None => crate::fail!(
                    BadInput,
                    "writing to {url} is not supported. Use a supported scheme"
                ),
            }
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let signature = signer.sign(&simple::payload(name, digest, now))?;
    let repo = repository_path(name)?;
    let dir = simple::signature_dir(&base.display().to_string(), &repo, digest)
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::bad_input(format!(
                "Unexpected path elements in Docker reference {name} for signature storage"
            ))
        })?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // The first free index, as Podman's `image sign` picks it; the file is
    // created exclusively so that two signers never overwrite each other.
    for index in 1..=MAX_SIGNATURES {
        let path = dir.join(format!("signature-{index}"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(&signature)
                    .with_context(|| format!("writing {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    crate::fail!(
        BadInput,
        "{} already holds {MAX_SIGNATURES} signatures",
        dir.display()
    )
}

/// `image sign`.
pub struct SignRequest {
    /// Registry references (`docker://` optional).
    pub images: Vec<String>,
    pub signer: GpgSigner,
    /// `--directory`.
    pub directory: Option<PathBuf>,
    /// `--all`: each instance of a manifest list too.
    pub all: bool,
    pub options: super::pull::RegistryOptions,
}

/// `image sign`: signs each image's manifest as the registry serves it
/// (and with `all` each instance of a list), under the name given.
pub fn sign_images(ctx: &Context, req: &SignRequest) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for image in &req.images {
        // Podman signs what a registry serves; local transports have no
        // lookaside store.
        let rest = match crate::image::reference::strip_transport(image) {
            (None | Some("docker"), rest) => rest,
            (Some(t), _) => {
                crate::fail!(
                    BadInput,
                    "{image}: only docker:// images can be signed, not {t}"
                )
            }
        };
        let parsed = Reference::parse(rest)
            .with_context(|| format!("parsing image name {image:?}"))?
            .normalized_docker_hub()
            .with_default_tag();
        let Some(host) = parsed.registry.clone() else {
            crate::fail!(BadInput, "{image}: a registry reference is needed");
        };
        let name = parsed.to_string();
        let endpoint = super::pull::endpoint_for(&host, &req.options)?;
        let auth = super::pull::auth_file(ctx, req.options.authfile.as_deref());
        let creds = super::pull::credentials(&req.options, &auth, &host)?;
        let target = parsed
            .digest
            .clone()
            .or(parsed.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let (manifest, digest) =
            registry::top_manifest(&endpoint, &parsed.repository, &target, creds.as_ref())
                .with_context(|| format!("reading the manifest of {name}"))?;
        let mut digests = vec![digest.to_string()];
        if req.all {
            digests.extend(instances(&manifest));
        }
        for d in digests {
            written.push(sign_and_store(
                ctx,
                &req.signer,
                &name,
                &d,
                req.directory.as_deref(),
            )?);
        }
    }
    Ok(written)
}

/// The instance digests of a manifest list or OCI index (none for an
/// image manifest).
fn instances(manifest: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return Vec::new();
    };
    v.get("manifests")
        .and_then(|m| m.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|m| m.get("digest").and_then(|d| d.as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
