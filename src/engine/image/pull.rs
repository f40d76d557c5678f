//! `pull` and `push` against registries: short names resolved through
//! registries.conf, mirrors tried before the registry, credentials from
//! auth.json, then the registry client moves the blobs and the store makes
//! the image visible.

use crate::engine::{Error, Result, ResultExt};
use hutch_storage::Store;
use hutch_storage::images::ImageRecord;
use hutch_storage::store::LayerBlob;

use crate::config::registries::{self, Registries};
use crate::image::auth::AuthFile;
use crate::image::reference::{self, Reference};
use crate::image::registry::{self, Credentials, Endpoint, Platform, ProgressEvent};

/// What the user passed besides the name.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `--tls-verify=false`: plain HTTP and unverified TLS allowed.
    pub tls_verify: Option<bool>,
    /// `--creds user:password`.
    pub creds: Option<String>,
    /// `--authfile`.
    pub authfile: Option<std::path::PathBuf>,
}

impl RegistryOptions {
    /// Whether to talk plain HTTP / skip verification: `--tls-verify` when
    /// given (either way: `=true` overrides registries.conf's `insecure`, as
    /// Podman's does), else registries.conf's word.
    pub fn insecure_over(&self, configured: bool) -> bool {
        match self.tls_verify {
            Some(verify) => !verify,
            None => configured,
        }
    }
}

pub struct PullRequest {
    pub name: String,
    pub platform: Platform,
    pub options: RegistryOptions,
}

/// Where auth.json lives for this context: `$XDG_RUNTIME_DIR` or hutch's
/// fallback runtime dir.
pub fn auth_file(ctx: &crate::config::Context, explicit: Option<&std::path::Path>) -> AuthFile {
    if let Some(p) = explicit {
        return AuthFile::new(p);
    }
    if ctx.rootful {
        // Root shares Podman's file, which lives under /run/containers/0.
        return AuthFile::locate(std::path::Path::new("/run/containers/0"));
    }
    let base = if ctx.run_dir_from_xdg {
        ctx.run_dir
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| ctx.run_dir.clone())
    } else {
        ctx.run_dir.clone()
    };
    AuthFile::locate(&base)
}

pub(crate) fn credentials(
    opts: &RegistryOptions,
    auth: &AuthFile,
    registry: &str,
) -> Result<Option<Credentials>> {
    if let Some(c) = &opts.creds {
        let (u, p) = c.split_once(':').unwrap_or((c.as_str(), ""));
        return Ok(Some(Credentials {
            username: u.to_owned(),
            password: p.to_owned(),
        }));
    }
    // A file named with --authfile must be there (Podman stats it first);
    // the default one may not be.
    if let Some(f) = &opts.authfile
        && !f.exists()
    {
        crate::fail!(NotFound, "stat {}: no such file or directory", f.display());
    }
    auth.get(registry)
        .with_context(|| format!("reading credentials for {registry}"))
}

/// Pulls `req.name` (a registry reference, `docker://` optional) and
/// returns the stored image and the name it got.
pub fn pull(
    ctx: &crate::config::Context,
    store: &Store,
    req: &PullRequest,
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> Result<ImageRecord> {
    let result = pull_adding(ctx, store, req, progress);
    super::sweep_after_refusal(store, &result);
    result
}

fn pull_adding(
    ctx: &crate::config::Context,
    store: &Store,
    req: &PullRequest,
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> Result<ImageRecord> {
    let regs = registries::load().context("reading registries.conf")?;
    let candidates = regs.resolve_short_name(&req.name)?.into_pull_candidates()?;
    let auth = auth_file(ctx, req.options.authfile.as_deref());
    let trust = super::trust::load(ctx, None)?;
    let mut failures = Vec::new();
    let mut refusal = None;
    for candidate in &candidates {
        match pull_candidate(store, &regs, &auth, &trust, candidate, req, progress) {
            Ok(record) => return Ok(record),
            Err(Candidate::Refused(r)) => {
                failures.push(format!("{candidate}: {r}"));
                refusal = Some(r);
            }
            Err(Candidate::Failed(e)) => failures.push(format!("{candidate}: {}", e.text())),
        }
    }
    // A policy refusal is said as Podman says it: "Source image rejected: ...".
    if let (1, Some(r)) = (failures.len(), refusal) {
        return Err(Error::from_any(anyhow::Error::new(r)));
    }
    if failures.len() == 1 {
        crate::fail!(Internal, "{}", failures.remove(0));
    }
    crate::fail!(
        Internal,
        "pulling {} failed:\n  {}",
        req.name,
        failures.join("\n  ")
    )
}

/// Why one candidate name did not pull.
enum Candidate {
    Refused(crate::image::trust::Refusal),
    Failed(Error),
}

/// `?` on anything the engine's error takes.
macro_rules! failed_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Candidate {
            fn from(e: $t) -> Candidate {
                Candidate::Failed(e.into())
            }
        }
    )*};
}
failed_from!(
    Error,
    crate::image::reference::ReferenceError,
    crate::config::registries::RegistriesError,
    hutch_storage::StoreError
);

fn pull_candidate(
    store: &Store,
    regs: &Registries,
    auth: &AuthFile,
    trust: &super::trust::Trust,
    candidate: &str,
    req: &PullRequest,
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> std::result::Result<ImageRecord, Candidate> {
    let parsed = Reference::parse(candidate)?
        .normalized_docker_hub()
        .with_default_tag();
    let name = parsed.to_string();
    let target = parsed
        .digest
        .clone()
        .or(parsed.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let mut errors = Vec::new();
    for source in regs.pull_sources(&name)? {
        let endpoint = Endpoint {
            registry: source.endpoint.clone(),
            insecure: req.options.insecure_over(source.insecure),
        };
        let creds = credentials(&req.options, auth, &source.endpoint)?;
        // The policy is judged before any layer moves; a verified image is
        // then pulled by the digest its signatures vouch for.
        let target = match super::trust::check_pull(
            trust,
            &name,
            &endpoint,
            &source.repository,
            &target,
            creds.as_ref(),
        ) {
            Ok(super::trust::Decision::AsAsked) => target.clone(),
            Ok(super::trust::Decision::Verified(d)) => d.to_string(),
            Err(Ok(refusal)) => return Err(Candidate::Refused(refusal)),
            Err(Err(e)) => {
                errors.push(format!("{}: {}", source.endpoint, e.text()));
                continue;
            }
        };
        let mut report = |e: ProgressEvent| progress(&name, e);
        let _adding = store.adding()?;
        match registry::pull(
            &endpoint,
            &source.repository,
            &target,
            &req.platform,
            creds.as_ref(),
            &store.blobs,
            &mut report,
        ) {
            Ok(pulled) => {
                let layers: Vec<LayerBlob> = pulled
                    .layers
                    .iter()
                    .map(|(digest, _, media_type)| LayerBlob {
                        digest: digest.clone(),
                        media_type: media_type.clone(),
                    })
                    .collect();
                // A pull by digest has no tag to record; Podman names such
                // images `<none>` and shows the digest.
                let names: Vec<String> = if parsed.digest.is_some() {
                    Vec::new()
                } else {
                    vec![name.clone()]
                };
                let (record, skipped) = store
                    .commit_image_counted(
                        &pulled.manifest_digest,
                        &pulled.manifest_media_type,
                        &pulled.config,
                        &layers,
                        &names,
                    )
                    .with_context(|| format!("storing {name}"))?;
                super::warn_skipped_devices(&name, skipped);
                return Ok(record);
            }
            Err(e) => errors.push(format!("{}: {e}", source.endpoint)),
        }
    }
    Err(Candidate::Failed(Error::internal(errors.join("; "))))
}

pub struct PushRequest {
    pub image: String,
    /// `docker://registry/repo:tag`, or a registry reference; default the
    /// image's own name.
    pub destination: Option<String>,
    pub options: RegistryOptions,
}

/// Pushes a stored image to a registry; returns the manifest digest.
pub fn push(
    ctx: &crate::config::Context,
    store: &Store,
    req: &PushRequest,
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> Result<hutch_storage::Digest> {
    push_signed(ctx, store, req, None, None, progress)
}

/// [`push`], then (with `signer`) a sigstore signature of the pushed
/// manifest attached beside it (`push --sign-by-sigstore-private-key`),
/// and (with `gpg`) a simple signing signature written to the lookaside
/// store (`push --sign-by`).
pub fn push_signed(
    ctx: &crate::config::Context,
    store: &Store,
    req: &PushRequest,
    signer: Option<&super::trust::SigstoreSigner>,
    gpg: Option<&super::sign::GpgSigner>,
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> Result<hutch_storage::Digest> {
    push_as(ctx, store, req, None, signer, gpg, progress)
}

/// [`push_signed`] with `push --format`: the manifest rewritten into that
/// format first where it is the other one.
pub fn push_as(
    ctx: &crate::config::Context,
    store: &Store,
    req: &PushRequest,
    format: Option<super::manifest_list::ManifestFormat>,
    signer: Option<&super::trust::SigstoreSigner>,
    gpg: Option<&super::sign::GpgSigner>,
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> Result<hutch_storage::Digest> {
    let record = super::lookup(store, &req.image)?;
    let dest = match &req.destination {
        Some(d) => d.strip_prefix("docker://").unwrap_or(d).to_owned(),
        None => record
            .names
            .iter()
            .find(|n| reference::matches_stored_name(&req.image, n))
            .or(record.names.first())
            .cloned()
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "{}: image has no name; give a destination",
                    req.image
                ))
            })?,
    };
    // A converted manifest is a blob no record names until it is pushed.
    let _adding = store.adding()?;
    let (manifest, media_type) = match format {
        Some(f) if !super::manifest_list::is_list(&record) => {
            let (d, _, t) = super::manifest_list::convert_image_manifest(
                store,
                &record.digest,
                &record.manifest_media_type,
                f,
            )?;
            (store.read_blob(&d)?, t)
        }
        _ => (
            store.read_blob(&record.digest)?,
            record.manifest_media_type.clone(),
        ),
    };
    let target = Destination::resolve(ctx, &dest, &req.options)?;
    let name = target.name.clone();
    let digest = target.push(&manifest, &media_type, store, progress)?;
    sign_at(ctx, &target, &name, &digest, signer, gpg)?;
    Ok(digest)
}

/// Signs the manifest `digest` pushed to `target` as `name`: a sigstore
/// signature attached in the registry, a GPG one in the lookaside store.
fn sign_at(
    ctx: &crate::config::Context,
    target: &Destination,
    name: &str,
    digest: &hutch_storage::Digest,
    signer: Option<&super::trust::SigstoreSigner>,
    gpg: Option<&super::sign::GpgSigner>,
) -> Result<()> {
    if let Some(signer) = signer {
        super::trust::sign_pushed(
            ctx,
            signer,
            name,
            &target.endpoint,
            &target.repository,
            digest,
            target.creds.as_ref(),
        )?;
    }
    if let Some(gpg) = gpg {
        super::sign::sign_and_store(ctx, gpg, name, &digest.to_string(), None)?;
    }
    Ok(())
}

/// The signers of a push (`--sign-by-sigstore-private-key`, `--sign-by`).
#[derive(Clone, Copy, Default)]
pub struct Signers<'a> {
    pub sigstore: Option<&'a super::trust::SigstoreSigner>,
    pub gpg: Option<&'a super::sign::GpgSigner>,
}

/// Pushes `body` (an image manifest or a list whose platform manifests
/// are blobs in the store) to `dest`, then signs it by `signers`, and
/// each of `instances` (a list's entries, already pushed with it), as
/// containers/image signs every image of a list it copies and the list.
#[allow(clippy::too_many_arguments)]
pub(super) fn push_manifest_signed(
    ctx: &crate::config::Context,
    store: &Store,
    dest: &str,
    body: &[u8],
    media_type: &str,
    options: &RegistryOptions,
    signers: Signers<'_>,
    instances: &[hutch_storage::Digest],
    progress: &mut dyn FnMut(&str, ProgressEvent),
) -> Result<hutch_storage::Digest> {
    let dest = dest.strip_prefix("docker://").unwrap_or(dest);
    let target = Destination::resolve(ctx, dest, options)?;
    let digest = target.push(body, media_type, store, progress)?;
    if signers.sigstore.is_some() || signers.gpg.is_some() {
        let name = target.name.clone();
        for d in instances.iter().chain(std::iter::once(&digest)) {
            sign_at(ctx, &target, &name, d, signers.sigstore, signers.gpg)?;
        }
    }
    Ok(digest)
}

/// The manifest (or list) a fully qualified `name` points to in its
/// registry, bytes as served (bounded by the registry client).
pub(super) fn remote_manifest(
    ctx: &crate::config::Context,
    name: &str,
    options: &RegistryOptions,
) -> Result<Vec<u8>> {
    let parsed = Reference::parse(name)?
        .normalized_docker_hub()
        .with_default_tag();
    let Some(host) = parsed.registry.clone() else {
        crate::fail!(BadInput, "{name}: no registry in the name");
    };
    let endpoint = endpoint_for(&host, options)?;
    let auth = auth_file(ctx, options.authfile.as_deref());
    let creds = credentials(options, &auth, &host)?;
    let target = parsed
        .digest
        .clone()
        .or(parsed.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let (body, _) = registry::top_manifest(&endpoint, &parsed.repository, &target, creds.as_ref())?;
    Ok(body)
}

/// A push destination resolved: registry, repository, tag, credentials.
struct Destination {
    name: String,
    endpoint: Endpoint,
    repository: String,
    tag: String,
    creds: Option<Credentials>,
}

impl Destination {
    fn resolve(
        ctx: &crate::config::Context,
        dest: &str,
        options: &RegistryOptions,
    ) -> Result<Destination> {
        let parsed = Reference::parse(dest)
            .with_context(|| format!("invalid destination {dest:?}"))?
            .normalized_docker_hub()
            .with_default_tag();
        let Some(registry_host) = parsed.registry.clone() else {
            crate::fail!(
                BadInput,
                "{dest}: a push destination needs a registry (for example localhost:5000/{dest})"
            );
        };
        if registry_host == reference::LOCAL_REGISTRY {
            crate::fail!(
                BadInput,
                "{dest}: localhost/ names local images; push to a registry such as localhost:5000/{}",
                parsed.repository
            );
        }
        let regs = registries::load().context("reading registries.conf")?;
        let insecure =
            options.insecure_over(regs.find(&parsed.to_string()).is_some_and(|r| r.insecure));
        if regs.find(&parsed.to_string()).is_some_and(|r| r.blocked) {
            crate::fail!(
                Internal,
                "registry {registry_host} is blocked in registries.conf"
            );
        }
        let auth = auth_file(ctx, options.authfile.as_deref());
        let creds = credentials(options, &auth, &registry_host)?;
        Ok(Destination {
            name: parsed.to_string(),
            endpoint: Endpoint {
                registry: registry_host,
                insecure,
            },
            repository: parsed.repository.clone(),
            tag: parsed.tag.clone().unwrap_or_else(|| "latest".into()),
            creds,
        })
    }

    fn push(
        &self,
        body: &[u8],
        media_type: &str,
        store: &Store,
        progress: &mut dyn FnMut(&str, ProgressEvent),
    ) -> Result<hutch_storage::Digest> {
        let mut report = |e: ProgressEvent| progress(&self.name, e);
        Ok(registry::push(
            &self.endpoint,
            &self.repository,
            &self.tag,
            body,
            media_type,
            &store.blobs,
            self.creds.as_ref(),
            &mut report,
        )?)
    }
}

/// `login`: checks the credentials against the registry, then stores them.
pub fn login(
    ctx: &crate::config::Context,
    registry_host: &str,
    creds: Credentials,
    options: &RegistryOptions,
) -> Result<std::path::PathBuf> {
    let host = check_login(registry_host, &creds, options)?;
    let auth = auth_file(ctx, options.authfile.as_deref());
    auth.set(&host, &creds)?;
    Ok(auth.path().to_owned())
}

/// Checks credentials against a registry without storing them (the REST
/// API's `POST /auth`: Docker clients keep their own credentials). Returns
/// the registry as normalised.
pub fn check_login(
    registry_host: &str,
    creds: &Credentials,
    options: &RegistryOptions,
) -> Result<String> {
    let host = normalize_registry(registry_host);
    let endpoint = endpoint_for(&host, options)?;
    registry::check_login(&endpoint, creds).with_context(|| format!("logging into {host:?}"))?;
    Ok(host)
}

/// How to reach registry `host`: registries.conf's `insecure`, or
/// `--tls-verify=false`.
pub(super) fn endpoint_for(host: &str, options: &RegistryOptions) -> Result<Endpoint> {
    let regs = registries::load().context("reading registries.conf")?;
    let insecure =
        options.insecure_over(regs.find(&format!("{host}/x")).is_some_and(|r| r.insecure));
    Ok(Endpoint {
        registry: host.to_owned(),
        insecure,
    })
}

/// `docker://`, `https://` and paths stripped: `login` takes a registry.
pub fn normalize_registry(input: &str) -> String {
    let s = input
        .trim_start_matches("docker://")
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    if host == "index.docker.io" {
        "docker.io".to_owned()
    } else {
        host.to_owned()
    }
}

/// `pull --all-tags`: the tags of the repository `name` names (no tag or
/// digest in it), from its first source (mirrors first) that answers.
pub fn list_tags(
    ctx: &crate::config::Context,
    name: &str,
    options: &RegistryOptions,
) -> Result<Vec<String>> {
    let regs = registries::load().context("reading registries.conf")?;
    let parsed =
        Reference::parse(name.strip_prefix("docker://").unwrap_or(name))?.normalized_docker_hub();
    if parsed.tag.is_some() || parsed.digest.is_some() {
        crate::fail!(BadInput, "{name}: tag can't be used with --all-tags/-a");
    }
    let full = parsed.with_default_tag().to_string();
    let auth = auth_file(ctx, options.authfile.as_deref());
    let mut errors = Vec::new();
    for source in regs.pull_sources(&full)? {
        let endpoint = Endpoint {
            registry: source.endpoint.clone(),
            insecure: options.insecure_over(source.insecure),
        };
        let creds = credentials(options, &auth, &source.endpoint)?;
        match registry::list_tags(&endpoint, &source.repository, creds.as_ref()) {
            Ok(tags) => return Ok(tags),
            Err(e) => errors.push(format!("{}: {e}", source.endpoint)),
        }
    }
    crate::fail!(Internal, "{}", errors.join("; "))
}

/// The digest of the manifest a fully qualified `name` (tag, no digest)
/// points to in its registry for `platform`, asked of its mirrors first as
/// a pull would: what `auto-update` compares with the local image. Only
/// the manifest is read (bounded, see the registry client).
pub fn remote_digest(
    ctx: &crate::config::Context,
    name: &str,
    platform: &Platform,
    options: &RegistryOptions,
) -> Result<hutch_storage::digest::Digest> {
    let regs = registries::load().context("reading registries.conf")?;
    let parsed = Reference::parse(name.strip_prefix("docker://").unwrap_or(name))?
        .normalized_docker_hub()
        .with_default_tag();
    let full = parsed.to_string();
    let target = parsed.tag.clone().unwrap_or_else(|| "latest".into());
    let auth = auth_file(ctx, options.authfile.as_deref());
    let mut errors = Vec::new();
    for source in regs.pull_sources(&full)? {
        let endpoint = Endpoint {
            registry: source.endpoint.clone(),
            insecure: options.insecure_over(source.insecure),
        };
        let creds = credentials(options, &auth, &source.endpoint)?;
        match registry::resolve_digest(
            &endpoint,
            &source.repository,
            &target,
            platform,
            creds.as_ref(),
        ) {
            Ok(digest) => return Ok(digest),
            Err(e) => errors.push(format!("{}: {e}", source.endpoint)),
        }
    }
    crate::fail!(Internal, "{}", errors.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_for_login() {
        assert_eq!(
            normalize_registry("https://index.docker.io/v1/"),
            "docker.io"
        );
        assert_eq!(normalize_registry("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(normalize_registry("docker://quay.io/org"), "quay.io");
    }
}
