//! The registry transport: pulls an image (manifest, config, layers) from a
//! Docker or OCI registry into a [`BlobStore`], pushes one from it, and checks
//! credentials for `hutch login`. It speaks the distribution protocol through
//! `oci-client` (bearer and basic auth, Docker v2 schema 2, OCI manifests,
//! manifest lists and indexes) and verifies every byte it stores against its
//! digest.
//!
//! It deliberately knows nothing of registries.conf, auth.json, short names,
//! mirrors or image records: the caller resolves a name into an [`Endpoint`],
//! a repository and [`Credentials`], and records the [`Pulled`] image itself.
//! The API is synchronous; each call builds its own small runtime.

mod attachments;
mod error;
pub mod fetch;
mod login;
mod manifest;
mod platform;
mod pull;
mod push;
pub mod search;
mod session;
mod token;
mod transfer;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::future::Future;

use hutch_storage::blobs::BlobStore;
use hutch_storage::digest::Digest;

pub use error::RegistryError;
pub use manifest::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, ManifestError, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST,
};
pub use platform::{BadPlatform, Platform};
pub use search::SearchResult;

/// Where a registry is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]`, as in an image name (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// registries.conf `insecure = true`: TLS certificates are not verified
    /// and plain HTTP is used when the registry does not speak TLS at all.
    pub insecure: bool,
}

impl Endpoint {
    /// Whether plain HTTP is allowed when the registry speaks no TLS:
    /// registries.conf says `insecure`, or the registry is on the loopback
    /// (127.0.0.0/8, `::1`, `localhost`), which dockerd treats as insecure
    /// by default: a local registry rarely has a certificate, and nothing
    /// crosses the wire. A loopback registry that does speak TLS still has
    /// its certificate checked unless registries.conf says otherwise.
    pub fn allows_plain_http(&self) -> bool {
        self.insecure || is_loopback(&self.registry)
    }
}

/// `host[:port]` naming a loopback address.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(h, _)| h)
    } else if registry.matches(':').count() > 1 {
        // A bare IPv6 address has no port.
        registry
    } else {
        registry.split_once(':').map_or(registry, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Credentials for one registry: the same type auth.json holds.
pub use crate::image::auth::Credentials;

/// What a transfer reports while it runs, for the CLI to draw (Podman's
/// "Copying blob ... done" lines). Events of concurrent layers interleave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A layer starts moving; `size` is what the manifest declares.
    LayerStart { digest: Digest, size: u64 },
    /// `done` bytes of the layer have moved so far.
    LayerBytes { digest: Digest, done: u64 },
    /// The layer is stored (pull) or accepted by the registry (push).
    LayerDone { digest: Digest },
    /// The layer was already there (locally on pull, remotely on push).
    LayerSkipped { digest: Digest },
    /// The config blob was transferred and verified.
    ConfigCopied { digest: Digest },
    /// The config blob was already there.
    ConfigSkipped { digest: Digest },
    /// A manifest is stored (pull) or written to the registry (push); for a
    /// pushed manifest list this comes once per platform and once for the list.
    ManifestDone { digest: Digest },
}

/// An image now complete in the [`BlobStore`]: its manifest, config and
/// layers are all stored under their verified digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The image manifest exactly as the registry served it.
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    /// When the reference named a manifest list or index: its digest (what
    /// Podman shows among RepoDigests). The list itself is not stored.
    pub list_digest: Option<Digest>,
    /// The config digest, which is the image id.
    pub config: Digest,
    /// Layers in manifest order: digest, size, media type.
    pub layers: Vec<(Digest, u64, String)>,
}

/// Pulls `repository` at `reference` (a tag or `sha256:...`) into `blobs`,
/// choosing `platform` from a manifest list. Blobs already in the store are
/// not downloaded again; up to three layers download at once. Credentials
/// `None` means anonymous access.
pub fn pull(
    ep: &Endpoint,
    repository: &str,
    reference: &str,
    platform: &Platform,
    creds: Option<&Credentials>,
    blobs: &BlobStore,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<Pulled, RegistryError> {
    block_on(async {
        let session = session::Session::open(ep, repository, creds).await?;
        transfer::reporting(progress, |events| {
            pull::pull(&session, reference, platform, blobs, events)
        })
        .await
    })?
}

/// The digest of the image manifest `repository` at `reference` names for
/// `platform` (see [`pull`]), fetching only the manifest: how
/// `auto-update` tells whether the registry has a newer image.
pub fn resolve_digest(
    ep: &Endpoint,
    repository: &str,
    reference: &str,
    platform: &Platform,
    creds: Option<&Credentials>,
) -> Result<Digest, RegistryError> {
    block_on(async {
        let session = session::Session::open(ep, repository, creds).await?;
        pull::resolve(&session, reference, platform).await
    })?
}

/// Pushes the manifest (an image manifest, or a manifest list / index whose
/// platform manifests are blobs in `blobs`) and every blob it needs to
/// `repository:tag`. Blobs the registry already has are not uploaded.
/// Returns the digest of the pushed manifest.
#[allow(clippy::too_many_arguments)] // mirrors `pull`; a struct would only rename them
pub fn push(
    ep: &Endpoint,
    repository: &str,
    tag: &str,
    manifest: &[u8],
    manifest_media_type: &str,
    blobs: &BlobStore,
    creds: Option<&Credentials>,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<Digest, RegistryError> {
    block_on(async {
        let session = session::Session::open(ep, repository, creds).await?;
        transfer::reporting(progress, |events| {
            push::push(&session, tag, manifest, manifest_media_type, blobs, events)
        })
        .await
    })?
}

/// The digest of the manifest (or manifest list) `reference` names, as
/// the registry serves it, before any platform is chosen: what a
/// signature vouches for. Only the manifest is read (bounded, verified).
pub fn top_digest(
    ep: &Endpoint,
    repository: &str,
    reference: &str,
    creds: Option<&Credentials>,
) -> Result<Digest, RegistryError> {
    block_on(async {
        let session = session::Session::open(ep, repository, creds).await?;
        pull::top_digest(&session, reference).await
    })?
}

/// [`top_digest`] with the manifest's bytes (`image sign --all` reads a
/// list's instances from them).
pub fn top_manifest(
    ep: &Endpoint,
    repository: &str,
    reference: &str,
    creds: Option<&Credentials>,
) -> Result<(Vec<u8>, Digest), RegistryError> {
    block_on(async {
        let session = session::Session::open(ep, repository, creds).await?;
        pull::top_manifest(&session, reference).await
    })?
}

/// The sigstore signatures attached to manifest `digest` in `repository`
/// (none when nothing is attached).
pub fn signatures(
    ep: &Endpoint,
    repository: &str,
    digest: &Digest,
    creds: Option<&Credentials>,
) -> Result<Vec<crate::image::trust::sigstore::Attachment>, RegistryError> {
    block_on(async {
        let session = session::Session::open(ep, repository, creds).await?;
        attachments::fetch(&session, digest).await
    })?
}

/// Attaches one more sigstore signature to manifest `digest`.
pub fn attach_signature(
    ep: &Endpoint,
    repository: &str,
    digest: &Digest,
    signature: &crate::image::trust::sigstore::Attachment,
    creds: Option<&Credentials>,
) -> Result<(), RegistryError> {
    block_on(async {
        let session = session::Session::open(ep, repository, creds).await?;
        attachments::add(&session, digest, signature).await
    })?
}

/// Most tags `list_tags` returns (over all pages, each read up to
/// [`search::MAX_ANSWER_BYTES`]), bounded so that a repository with a huge
/// tag list cannot make `pull --all-tags` pull without end.
pub const MAX_TAGS: usize = 10_000;

/// The tags of `repository` (the registry's `/v2/NAME/tags/list`), as
/// `pull --all-tags` pulls them; at most [`MAX_TAGS`].
pub fn list_tags(
    ep: &Endpoint,
    repository: &str,
    creds: Option<&Credentials>,
) -> Result<Vec<String>, RegistryError> {
    // Read by hutch itself, page by page and bounded (oci-client reads a
    // tag list whole, in one request).
    block_on(search::tags(ep, repository, creds, MAX_TAGS))?
}

/// Searches the registry for `term`: its `/v1/search` where it has one,
/// else its `/v2/_catalog` filtered by the term (bounded, see
/// [`search::MAX_ANSWER_BYTES`]); at most `limit` results.
pub fn search(
    ep: &Endpoint,
    term: &str,
    limit: usize,
    creds: Option<&Credentials>,
) -> Result<Vec<SearchResult>, RegistryError> {
    block_on(search::search(ep, term, limit, creds))?
}

/// Checks `creds` against the registry the way `podman login` does, without
/// touching any repository. A rejected password is
/// [`RegistryError::InvalidCredentials`].
pub fn check_login(ep: &Endpoint, creds: &Credentials) -> Result<(), RegistryError> {
    block_on(login::check(ep, creds))?
}

/// The registry client's runtime: built on first use and shared by every
/// call after it, from any thread (a long-running server pulls on many at
/// once; a CLI command pays for it only when it talks to a registry).
///
/// Lazily, on purpose: the CLI joins the user namespace with `setns`,
/// which the kernel refuses to a multi-threaded process, so no thread may
/// exist before that; the first registry call comes after the join.
static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();

fn runtime() -> Result<&'static tokio::runtime::Runtime, RegistryError> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    // Two workers: layer downloads are I/O-bound (up to three at once) and
    // blob writes go to the blocking pool.
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hutch-registry")
        .on_thread_start(block_signals)
        .enable_all()
        .build()
        .map_err(RegistryError::Runtime)?;
    // A runtime built by a thread that lost the race is dropped here,
    // outside any async context, which is allowed.
    Ok(RUNTIME.get_or_init(|| built))
}

/// The runtime's threads outlive the call that built them: a signal sent
/// to the process (Ctrl-C during `run -it` after a pull) must reach the
/// thread that waits for it in a signalfd, never a worker, whose default
/// action would end the process.
fn block_signals() {
    // SAFETY: sigset_t is plain data initialised by sigfillset; the mask
    // changes for this (new, runtime-owned) thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Runs `fut` to completion on the shared runtime. Must not be called from
/// inside an async task (a server calls the engine from `spawn_blocking`).
fn block_on<F: Future>(fut: F) -> Result<F::Output, RegistryError> {
    let writers = std::sync::Arc::new(transfer::Writers::default());
    let out = runtime()?.block_on(transfer::WRITERS.scope(writers.clone(), fut));
    writers.wait_idle();
    Ok(out)
}
