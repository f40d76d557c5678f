//! What can go wrong while reading or writing an archive or a layout
//! directory. Every variant names the member, file, layer or digest at
//! fault, because "digest mismatch" alone does not tell a user which of a
//! hundred files in a tarball to distrust.

use std::io;
use std::path::{Path, PathBuf};

use hutch_storage::blobs::BlobError;
use hutch_storage::digest::Digest;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("reading archive{}: {source}", member_suffix(.member))]
    Tar {
        member: Option<String>,
        source: io::Error,
    },
    #[error("reading {what}: {source}")]
    Read { what: String, source: io::Error },
    #[error("writing archive member {member}: {source}")]
    Write { member: String, source: io::Error },
    #[error("archive member {member:?}: {reason}; refusing the archive")]
    HostileName {
        member: String,
        reason: &'static str,
    },
    #[error("{member}: symbolic links nest too deeply or loop")]
    LinkLoop { member: String },
    #[error("{name} is not in the archive or directory (referenced by {referenced_by})")]
    MissingMember { name: String, referenced_by: String },
    #[error("{what}: {source}")]
    Blob { what: String, source: BlobError },
    #[error(
        "layer {layer}: uncompressed content has digest {actual}, but the config's rootfs.diff_ids says {expected}"
    )]
    DiffIdMismatch {
        layer: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{what}: descriptor says {expected} bytes, content has {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{what}: {size} bytes is more than the {limit} allowed for metadata")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("parsing {what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("{what}: invalid digest {value:?} (only sha256 is supported)")]
    BadDigest { what: String, value: String },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("config {config}: {layers} layers but {diff_ids} rootfs.diff_ids")]
    LayerCount {
        config: Digest,
        layers: usize,
        diff_ids: usize,
    },
    #[error("layer {layer}: {kind} compression is not supported (only gzip and zstd)")]
    UnsupportedCompression { layer: String, kind: &'static str },
    #[error("{what}: media type {media_type} is not an image manifest or index hutch can read")]
    UnsupportedMediaType { what: String, media_type: String },
    #[error("not an image archive: it has neither manifest.json nor index.json")]
    UnknownFormat,
    #[error("{layout}: no image named {reference:?} (it has: {available})")]
    NoSuchReference {
        layout: String,
        reference: String,
        available: String,
    },
    #[error("{layout}: holds {count} images; name one with :REFERENCE (it has: {available})")]
    AmbiguousReference {
        layout: String,
        count: usize,
        available: String,
    },
    #[error("{layout}: no image for this platform ({platform}) in the index")]
    NoMatchingPlatform { layout: String, platform: String },
    #[error(
        "{dir}: not empty and not a dir: transport directory (no version file); refusing to write into it"
    )]
    NotDirTransport { dir: PathBuf },
}

fn member_suffix(member: &Option<String>) -> String {
    member
        .as_ref()
        .map(|m| format!(" member {m}"))
        .unwrap_or_default()
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> ArchiveError + 'a {
    move |source| ArchiveError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

pub(crate) fn blob_err(what: impl Into<String>) -> impl FnOnce(BlobError) -> ArchiveError {
    let what = what.into();
    move |source| ArchiveError::Blob { what, source }
}

pub(crate) fn json_err(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> ArchiveError {
    let what = what.into();
    move |source| ArchiveError::Json { what, source }
}
