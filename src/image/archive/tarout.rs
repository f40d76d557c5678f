//! Writing archive members. Headers are plain ustar with owner 0, mtime 0
//! and fixed modes, as c/image writes them, so that saving the same image
//! twice gives the same bytes. Blob content is checked against its digest
//! while it is copied: a store corrupted on disk must not be exported as if
//! it were sound.

use std::io::{Read, Write};

use hutch_storage::blobs::{BlobError, BlobStore};
use hutch_storage::digest::Digest;

use super::error::{ArchiveError, blob_err};
use super::layer::Verifying;

pub(crate) struct TarOut<W: Write> {
    builder: tar::Builder<W>,
    file_mode: u32,
}

/// A ustar header laid out as Go's archive/tar writes one, so that hutch's
/// docker-archives are byte-identical to Podman's: device numbers written
/// as zero octal fields, and the checksum as six digits, NUL, space.
/// Names are hutch's own (at most 77 bytes), so ustar's 100 always suffice.
fn header(
    kind: tar::EntryType,
    mode: u32,
    size: u64,
    name: &str,
    link: Option<&str>,
) -> std::io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_device_major(0)?;
    h.set_device_minor(0)?;
    h.set_path(name)?;
    if let Some(link) = link {
        h.set_link_name(link)?;
    }
    let bytes = h.as_mut_bytes();
    bytes[148..156].fill(b' ');
    let sum: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
    bytes[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

impl<W: Write> TarOut<W> {
    /// `file_mode`: 0o444 for docker-archive (c/image's fixed mode), 0o644
    /// for oci-archive (a layout directory's files as tarred by Podman).
    pub(crate) fn new(out: W, file_mode: u32) -> Self {
        TarOut {
            builder: tar::Builder::new(out),
            file_mode,
        }
    }

    fn write_err(name: &str) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
        move |source| ArchiveError::Write {
            member: name.to_owned(),
            source,
        }
    }

    pub(crate) fn dir(&mut self, name: &str) -> Result<(), ArchiveError> {
        header(tar::EntryType::Directory, 0o755, 0, name, None)
            .and_then(|h| self.builder.append(&h, std::io::empty()))
            .map_err(Self::write_err(name))
    }

    pub(crate) fn bytes(&mut self, name: &str, data: &[u8]) -> Result<(), ArchiveError> {
        header(
            tar::EntryType::Regular,
            self.file_mode,
            data.len() as u64,
            name,
            None,
        )
        .and_then(|h| self.builder.append(&h, data))
        .map_err(Self::write_err(name))
    }

    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> Result<(), ArchiveError> {
        // Mode 0, as Go's tar.FileInfoHeader gives c/image's symlinks.
        header(tar::EntryType::Symlink, 0, 0, name, Some(target))
            .and_then(|h| self.builder.append(&h, std::io::empty()))
            .map_err(Self::write_err(name))
    }

    /// Copies `reader` as member `name`, which must be exactly `size` bytes
    /// hashing to `expected`; `what` names the content in errors.
    pub(crate) fn verified(
        &mut self,
        name: &str,
        reader: impl Read,
        expected: &Digest,
        size: u64,
        what: &str,
    ) -> Result<(), ArchiveError> {
        let h = header(tar::EntryType::Regular, self.file_mode, size, name, None)
            .map_err(Self::write_err(name))?;
        let mut checked = Verifying::new(reader, expected, size);
        let result = self.builder.append(&h, &mut checked);
        if let Some((actual, actual_size)) = checked.failure() {
            return Err(if actual_size == &size {
                ArchiveError::Blob {
                    what: what.to_owned(),
                    source: BlobError::Mismatch {
                        expected: expected.clone(),
                        actual: actual.clone(),
                        size,
                    },
                }
            } else {
                ArchiveError::SizeMismatch {
                    what: what.to_owned(),
                    expected: size,
                    actual: *actual_size,
                }
            });
        }
        result.map_err(Self::write_err(name))
    }

    /// Copies the stored blob `digest` verbatim as member `name`.
    pub(crate) fn blob(
        &mut self,
        name: &str,
        blobs: &BlobStore,
        digest: &Digest,
    ) -> Result<(), ArchiveError> {
        let what = format!("blob {digest}");
        let file = blobs.open_blob(digest).map_err(blob_err(&what))?;
        let size = file
            .metadata()
            .map_err(|source| ArchiveError::Io {
                op: "inspecting",
                path: blobs.path(digest),
                source,
            })?
            .len();
        self.verified(name, file, digest, size, &what)
    }

    pub(crate) fn finish(mut self) -> Result<W, ArchiveError> {
        self.builder
            .finish()
            .map_err(Self::write_err("end of archive"))?;
        self.builder
            .into_inner()
            .map_err(Self::write_err("end of archive"))
    }
}
