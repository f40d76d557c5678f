//! Layer compression, recognised from the first bytes of the blob rather than
//! from the media type, because registries and archives mislabel layers often
//! enough that Podman and Docker both sniff too.

use std::io::{self, Read};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// zstd, possibly several frames (zstd:chunked adds skippable ones).
    Zstd,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Recognises the compression from the first bytes of a blob (at least four
/// are needed to recognise zstd; fewer mean no compression).
pub fn detect_compression(first_bytes: &[u8]) -> Compression {
    if first_bytes.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if first_bytes.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps `r` in the decompressor its first bytes call for.
///
/// The bytes read to recognise the format are replayed, so a plain tar comes
/// out unchanged. The gzip decoder checks the trailing CRC and length only
/// once the stream is read to its end: `apply_layer` does read it to the end.
pub fn decompress<'a, R: Read + 'a>(mut r: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut magic = [0u8; ZSTD_MAGIC.len()];
    let mut filled = 0;
    // A reader may hand out fewer bytes than asked for; keep going until the
    // longest magic number is in or the stream ends.
    while filled < magic.len() {
        match r.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let kind = detect_compression(&magic[..filled]);
    let stream = io::Cursor::new(magic).take(filled as u64).chain(r);
    Ok(match kind {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(stream)?),
    })
}
