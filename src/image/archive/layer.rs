//! Layer content: which compression a stream uses (by its magic bytes, not
//! by a media type, because a Docker archive has no media types and a
//! manifest may lie), undoing it, checking that a layer's uncompressed
//! content hashes to the config's `rootfs.diff_ids` entry, and a reader
//! that refuses content other than the digest and size it was promised.

use std::io::{self, Read};

use hutch_storage::blobs::{BlobError, BlobStore};
use hutch_storage::digest::{Digest, DigestReader};
use oci_spec::image::RootFs;
use serde::Deserialize;

use super::error::{ArchiveError, blob_err, json_err};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
    /// Recognised but not supported, with its name for the error.
    Other(&'static str),
}

fn sniff_bytes(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Other("xz")
    } else if head.starts_with(b"BZh") {
        Compression::Other("bzip2")
    } else {
        Compression::None
    }
}

/// Reads the first bytes of `reader` to tell its compression, and gives
/// back a reader of the whole stream (those bytes included).
pub(crate) fn sniff<R: Read>(mut reader: R) -> io::Result<(Compression, impl Read)> {
    let mut head = [0u8; 6];
    let mut filled = 0;
    // A pipe may deliver fewer bytes than asked; only EOF ends the peek.
    while filled < head.len() {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let kind = sniff_bytes(&head[..filled]);
    Ok((
        kind,
        io::Cursor::new(head).take(filled as u64).chain(reader),
    ))
}

/// The uncompressed content of `reader`, whatever of none, gzip or zstd it
/// uses. `what` names the stream in errors.
pub(crate) fn decompressed<'a>(
    reader: impl Read + 'a,
    what: &str,
) -> Result<Box<dyn Read + 'a>, ArchiveError> {
    let read_err = |source| ArchiveError::Read {
        what: what.to_owned(),
        source,
    };
    let (kind, stream) = sniff(reader).map_err(read_err)?;
    Ok(match kind {
        Compression::None => Box::new(stream),
        // Multi-member: pigz and some registries concatenate gzip members.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(stream).map_err(read_err)?),
        Compression::Other(kind) => {
            return Err(ArchiveError::UnsupportedCompression {
                layer: what.to_owned(),
                kind,
            });
        }
    })
}

/// The digest and size of `reader`'s uncompressed content.
pub(crate) fn uncompressed_digest(
    reader: impl Read,
    what: &str,
) -> Result<(Digest, u64), ArchiveError> {
    let mut hashing = DigestReader::new(decompressed(reader, what)?);
    io::copy(&mut hashing, &mut io::sink()).map_err(|source| ArchiveError::Read {
        what: what.to_owned(),
        source,
    })?;
    Ok(hashing.finish())
}

/// Checks that the stored layer blob `digest` is, uncompressed, `diff_id`.
/// An uncompressed blob is its own diff_id, so only compressed ones are read.
pub(crate) fn verify_diff_id(
    blobs: &BlobStore,
    digest: &Digest,
    diff_id: &Digest,
) -> Result<(), ArchiveError> {
    let what = format!("layer {digest}");
    let file = blobs.open_blob(digest).map_err(blob_err(&what))?;
    let (kind, stream) = sniff(file).map_err(|source| ArchiveError::Read {
        what: what.clone(),
        source,
    })?;
    let actual = if kind == Compression::None {
        digest.clone()
    } else {
        uncompressed_digest(stream, &what)?.0
    };
    if actual != *diff_id {
        return Err(ArchiveError::DiffIdMismatch {
            layer: digest.to_string(),
            expected: diff_id.clone(),
            actual,
        });
    }
    Ok(())
}

/// Turns a blob mismatch met while storing a layer's uncompressed content
/// into the diff_id error that says what was expected of it.
pub(crate) fn as_diff_id_error(err: ArchiveError, layer: &str) -> ArchiveError {
    match err {
        ArchiveError::Blob {
            source: BlobError::Mismatch {
                expected, actual, ..
            },
            ..
        } => ArchiveError::DiffIdMismatch {
            layer: layer.to_owned(),
            expected,
            actual,
        },
        other => other,
    }
}

/// The part of an image config this module needs. Not
/// `oci_spec::image::ImageConfiguration`: it requires fields (architecture,
/// os) and types that Docker-era configs do not always honour, and the
/// image id is the digest of the config's bytes, which stay untouched.
#[derive(Deserialize)]
struct ConfigRootFs {
    rootfs: RootFs,
}

/// The config's `rootfs.diff_ids`, validated.
pub(crate) fn diff_ids(config: &[u8], what: &str) -> Result<Vec<Digest>, ArchiveError> {
    let parsed: ConfigRootFs = serde_json::from_slice(config).map_err(json_err(what))?;
    parsed
        .rootfs
        .diff_ids()
        .iter()
        .map(|d| {
            d.parse().map_err(|_| ArchiveError::BadDigest {
                what: format!("{what} rootfs.diff_ids"),
                value: d.clone(),
            })
        })
        .collect()
}

/// Passes through exactly `size` bytes hashing to `expected`, and fails the
/// read otherwise: a tar header states the size before the content, so a
/// blob that changed or is corrupt must stop the copy rather than produce an
/// archive whose members do not match their headers.
pub(crate) struct Verifying<R> {
    inner: Option<DigestReader<R>>,
    expected: Digest,
    size: u64,
    count: u64,
    failure: Option<(Digest, u64)>,
}

impl<R: Read> Verifying<R> {
    pub(crate) fn new(inner: R, expected: &Digest, size: u64) -> Self {
        Verifying {
            inner: Some(DigestReader::new(inner)),
            expected: expected.clone(),
            size,
            count: 0,
            failure: None,
        }
    }

    /// After the copy failed: the digest and size actually met, if the
    /// content (rather than I/O) was at fault.
    pub(crate) fn failure(&self) -> Option<&(Digest, u64)> {
        self.failure.as_ref()
    }
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        // Never more than one byte past the promised size, so an over-long
        // stream is caught before its excess reaches the archive.
        let room = (self.size - self.count.min(self.size))
            .saturating_add(1)
            .min(buf.len() as u64) as usize;
        let n = inner.read(&mut buf[..room])?;
        self.count += n as u64;
        if n > 0 && self.count <= self.size {
            return Ok(n);
        }
        let done = self.inner.take().map(DigestReader::finish);
        if let Some((digest, count)) = done
            && (digest != self.expected || count != self.size)
        {
            self.failure = Some((digest, count));
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "content does not match its digest or size",
            ));
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn sniffs_and_decompresses() {
        let data = b"plain layer".repeat(100);
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        for (bytes, kind) in [
            (data.clone(), Compression::None),
            (gzip(&data), Compression::Gzip),
            (zst, Compression::Zstd),
        ] {
            let (k, mut whole) = sniff(&bytes[..]).unwrap();
            assert_eq!(k, kind);
            let mut back = Vec::new();
            whole.read_to_end(&mut back).unwrap();
            assert_eq!(back, bytes, "sniff gives back the whole stream");
            let (d, n) = uncompressed_digest(&bytes[..], "t").unwrap();
            assert_eq!((d, n), (Digest::of(&data), data.len() as u64));
        }
        assert_eq!(sniff(&b"a"[..]).unwrap().0, Compression::None);
        let err = decompressed(&b"BZh91AY&SY"[..], "layer x").err().unwrap();
        assert!(err.to_string().contains("bzip2"), "{err}");
    }

    #[test]
    fn verifying_reader_refuses_wrong_content() {
        let good = Digest::of(b"hello");
        let mut out = Vec::new();
        let mut r = Verifying::new(&b"hello"[..], &good, 5);
        io::copy(&mut r, &mut out).unwrap();
        assert_eq!(out, b"hello");

        let mut r = Verifying::new(&b"hellO"[..], &good, 5);
        assert!(io::copy(&mut r, &mut Vec::new()).is_err());
        assert_eq!(r.failure().unwrap().1, 5);

        let mut out = Vec::new();
        let mut r = Verifying::new(&b"hello, world"[..], &good, 5);
        assert!(io::copy(&mut r, &mut out).is_err());
        assert!(out.len() <= 5, "excess reached the output: {}", out.len());
    }

    #[test]
    fn reads_diff_ids() {
        let d = Digest::of(b"x");
        let config = format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{d}"]}}}}"#);
        assert_eq!(diff_ids(config.as_bytes(), "c").unwrap(), vec![d]);
        let bad = r#"{"rootfs":{"type":"layers","diff_ids":["sha256:../x"]}}"#;
        assert!(matches!(
            diff_ids(bad.as_bytes(), "c"),
            Err(ArchiveError::BadDigest { .. })
        ));
    }
}
