//! What can go wrong talking to a registry, each variant naming the registry,
//! repository, manifest or blob involved. `oci-client`'s errors are sorted
//! into these (by `Session::fail`) so that the CLI can say "invalid
//! username/password" or "not found" instead of printing an HTTP dump.

use hutch_storage::blobs::BlobError;
use hutch_storage::digest::Digest;
use oci_client::errors::OciDistributionError;

use super::manifest::ManifestError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("starting the I/O runtime for registry access: {0}")]
    Runtime(#[source] std::io::Error),

    #[error("{registry}: setting up the HTTP client: {source}")]
    Client {
        registry: String,
        #[source]
        source: Box<OciDistributionError>,
    },

    #[error("invalid registry {registry:?}: expected host[:port]")]
    BadRegistry { registry: String },

    #[error("{registry}: invalid repository name {repository:?}: {reason}")]
    BadRepository {
        registry: String,
        repository: String,
        reason: &'static str,
    },

    #[error("{registry}/{repository}: invalid reference {reference:?}: {reason}")]
    BadReference {
        registry: String,
        repository: String,
        reference: String,
        reason: &'static str,
    },

    /// The registry rejected the username or password outright.
    #[error("{registry}: invalid username/password")]
    InvalidCredentials { registry: String },

    /// A request came back 401: anonymous access is not allowed, or the
    /// credentials given do not grant it.
    #[error("{registry}/{repository}: {what}: {}", if *.with_credentials {
        "unauthorized: invalid username/password or no access to this repository"
    } else {
        "unauthorized: authentication required"
    })]
    Unauthorized {
        registry: String,
        repository: String,
        what: String,
        with_credentials: bool,
    },

    #[error("{registry}/{repository}: {what}: access denied")]
    Denied {
        registry: String,
        repository: String,
        what: String,
    },

    #[error("{registry}/{repository}: {what}: not found")]
    NotFound {
        registry: String,
        repository: String,
        what: String,
    },

    /// Content did not hash to the digest it was asked for by.
    #[error(
        "{registry}/{repository}: {what}: digest mismatch: expected {expected}, got {actual}; the registry served corrupt or tampered data"
    )]
    DigestMismatch {
        registry: String,
        repository: String,
        what: String,
        expected: String,
        actual: String,
    },

    #[error(
        "{registry}/{repository}: blob {digest} is larger than the {size} bytes its manifest declares"
    )]
    BlobTooLarge {
        registry: String,
        repository: String,
        digest: Digest,
        size: u64,
    },

    /// More than hutch reads of one manifest, index or config (see
    /// `pull::MAX_MANIFEST_BYTES`, `pull::MAX_CONFIG_BYTES`).
    #[error(
        "{registry}/{repository}: {what}: larger than {limit} bytes, the most hutch accepts for it; the registry served an oversized or hostile document"
    )]
    TooLarge {
        registry: String,
        repository: String,
        what: String,
        limit: u64,
    },

    #[error("{registry}/{repository}: manifest {digest}: {source}")]
    BadManifest {
        registry: String,
        repository: String,
        digest: Digest,
        #[source]
        source: Box<ManifestError>,
    },

    #[error(
        "{registry}/{repository}:{reference}: no image found in manifest list for platform {wanted} (available: {})",
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )]
    NoMatchingPlatform {
        registry: String,
        repository: String,
        reference: String,
        wanted: String,
        available: Vec<String>,
    },

    #[error("{registry}/{repository}: blob {digest}: {source}")]
    Store {
        registry: String,
        repository: String,
        digest: Digest,
        #[source]
        source: Box<BlobError>,
    },

    #[error("{registry}/{repository}: {what}: {source}")]
    Request {
        registry: String,
        repository: String,
        what: String,
        #[source]
        source: Box<OciDistributionError>,
    },

    /// A request outside any repository (`/v2/`, the token service) failed.
    #[error("{registry}: {what}: {source}")]
    Http {
        registry: String,
        what: String,
        #[source]
        source: reqwest::Error,
    },

    /// The image's sigstore attachments could not be read (issue 18).
    #[error("{registry}/{repository}: reading signatures: {reason}")]
    Signatures {
        registry: String,
        repository: String,
        reason: String,
    },

    #[error("{registry}: {what}: unexpected HTTP status {status}")]
    Status {
        registry: String,
        what: String,
        status: u16,
    },
}
