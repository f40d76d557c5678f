//! The kinds of the image side's module errors, so that a `?` in an image
//! operation keeps "bad reference" a bad request and "manifest unknown" a
//! not found for the REST API, as `engine::error` does for the state's.

use crate::config::registries::RegistriesError;
use crate::config::storage::StorageConfError;
use crate::engine::{Error, ErrorKind};
use crate::image::archive::ArchiveError;
use crate::image::auth::AuthError;
use crate::image::reference::ReferenceError;
use crate::image::registry::RegistryError;
use hutch_storage::blobs::BlobError;
use hutch_storage::digest::BadDigest;
use hutch_storage::images::ImageError;

fn typed(e: impl std::error::Error + Send + Sync + 'static, kind: ErrorKind) -> Error {
    Error::from(anyhow::Error::new(e)).with_kind(kind)
}

impl From<ReferenceError> for Error {
    fn from(e: ReferenceError) -> Error {
        typed(e, ErrorKind::BadInput)
    }
}

impl From<RegistriesError> for Error {
    fn from(e: RegistriesError) -> Error {
        let kind = match &e {
            RegistriesError::Reference(_)
            | RegistriesError::NotFullyQualified { .. }
            | RegistriesError::Blocked { .. }
            | RegistriesError::NoSearchRegistries { .. }
            | RegistriesError::Ambiguous { .. } => ErrorKind::BadInput,
            _ => ErrorKind::Internal,
        };
        typed(e, kind)
    }
}

impl From<RegistryError> for Error {
    fn from(e: RegistryError) -> Error {
        let kind = match &e {
            RegistryError::BadRegistry { .. }
            | RegistryError::BadRepository { .. }
            | RegistryError::BadReference { .. }
            | RegistryError::NoMatchingPlatform { .. } => ErrorKind::BadInput,
            RegistryError::NotFound { .. } => ErrorKind::NotFound,
            _ => ErrorKind::Internal,
        };
        typed(e, kind)
    }
}

impl From<ArchiveError> for Error {
    fn from(e: ArchiveError) -> Error {
        typed(e, ErrorKind::Internal)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Error {
        typed(e, ErrorKind::Internal)
    }
}

impl From<BlobError> for Error {
    fn from(e: BlobError) -> Error {
        typed(e, ErrorKind::Internal)
    }
}

impl From<ImageError> for Error {
    fn from(e: ImageError) -> Error {
        typed(e, ErrorKind::Internal)
    }
}

impl From<BadDigest> for Error {
    fn from(e: BadDigest) -> Error {
        typed(e, ErrorKind::BadInput)
    }
}

impl From<StorageConfError> for Error {
    fn from(e: StorageConfError) -> Error {
        typed(e, ErrorKind::Internal)
    }
}
