//! OpenPGP framing (RFC 4880 §4, RFC 9580 §4): ASCII armor, packet headers
//! in the old and the new format (partial body lengths included), and
//! multiprecision integers. Every length is checked against the bytes that
//! are there; nothing here allocates more than its input.

use base64::Engine as _;

use super::PgpError;

/// Packet tags hutch reads.
pub const TAG_SIGNATURE: u8 = 2;
pub const TAG_ONE_PASS_SIGNATURE: u8 = 4;
pub const TAG_PUBLIC_KEY: u8 = 6;
pub const TAG_COMPRESSED: u8 = 8;
pub const TAG_MARKER: u8 = 10;
pub const TAG_LITERAL: u8 = 11;
pub const TAG_USER_ID: u8 = 13;
pub const TAG_PUBLIC_SUBKEY: u8 = 14;

/// One packet: its tag and its body (partial chunks joined).
#[derive(Debug)]
pub struct Packet {
    pub tag: u8,
    pub body: Vec<u8>,
}

/// The binary form of `input`: armored text is decoded (every armored
/// block, concatenated, so that `gpg --export --armor` of several keys
/// reads whole); anything else is taken as binary.
pub fn dearmor(input: &[u8]) -> Result<Vec<u8>, PgpError> {
    let Some(first) = find(input, b"-----BEGIN PGP ") else {
        return Ok(input.to_vec());
    };
    // Binary packets never start with '-' (a tag byte has bit 7 set).
    if input.first().is_some_and(|b| b & 0x80 != 0) {
        return Ok(input.to_vec());
    }
    let text = std::str::from_utf8(&input[first..])
        .map_err(|_| PgpError::Armor("armored text is not UTF-8".into()))?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN PGP ") {
        let block = &rest[start..];
        let mut lines = block.lines();
        let begin = lines.next().unwrap_or_default();
        let label = begin
            .trim_start_matches("-----BEGIN ")
            .trim_end()
            .trim_end_matches("-----");
        // Armor headers (`Version: ...`, `Comment: ...`) end at a blank line.
        let mut body = String::new();
        let mut in_headers = true;
        let mut ended = false;
        let mut consumed = begin.len() + 1;
        for line in lines {
            consumed += line.len() + 1;
            let line = line.trim_end();
            if line.starts_with("-----END ") {
                if line
                    .trim_start_matches("-----END ")
                    .trim_end_matches("-----")
                    != label
                {
                    return Err(PgpError::Armor(format!("END line does not match {label}")));
                }
                ended = true;
                break;
            }
            if in_headers {
                if line.is_empty() {
                    in_headers = false;
                    continue;
                }
                if line.contains(": ") {
                    continue;
                }
                in_headers = false;
            }
            // The CRC24 checksum line (`=abcd`) is optional and not needed:
            // the signatures themselves are what is verified.
            if line.starts_with('=') {
                continue;
            }
            body.push_str(line);
        }
        if !ended {
            return Err(PgpError::Armor(format!("no END line for {label}")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| PgpError::Armor(format!("{label}: {e}")))?;
        out.extend_from_slice(&bytes);
        rest = block.get(consumed.min(block.len())..).unwrap_or_default();
    }
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads packets one after another from a byte slice.
pub struct Packets<'a> {
    data: &'a [u8],
}

impl<'a> Packets<'a> {
    pub fn new(data: &'a [u8]) -> Packets<'a> {
        Packets { data }
    }
}

impl Iterator for Packets<'_> {
    type Item = Result<Packet, PgpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let r = read_packet(self.data);
        match r {
            Ok((packet, used)) => {
                self.data = &self.data[used..];
                Some(Ok(packet))
            }
            Err(e) => {
                // One error ends the stream: what follows cannot be framed.
                self.data = &[];
                Some(Err(e))
            }
        }
    }
}

fn truncated(what: &str) -> PgpError {
    PgpError::Malformed(format!("truncated {what}"))
}

/// One packet at the start of `data`, and how many bytes it took.
fn read_packet(data: &[u8]) -> Result<(Packet, usize), PgpError> {
    let head = data[0];
    if head & 0x80 == 0 {
        return Err(PgpError::Malformed(format!(
            "not an OpenPGP packet (header byte {head:#04x})"
        )));
    }
    if head & 0x40 == 0 {
        // Old format: tag in bits 5-2, length type in bits 1-0.
        let tag = (head >> 2) & 0x0f;
        let (len, at): (usize, usize) = match head & 3 {
            0 => (
                usize::from(*data.get(1).ok_or_else(|| truncated("length"))?),
                2,
            ),
            1 => (be(data.get(1..3).ok_or_else(|| truncated("length"))?), 3),
            2 => (be(data.get(1..5).ok_or_else(|| truncated("length"))?), 5),
            // Indeterminate: to the end of the data (gpg writes compressed
            // packets so).
            _ => (data.len() - 1, 1),
        };
        let body = data
            .get(at..at.checked_add(len).ok_or_else(|| truncated("packet"))?)
            .ok_or_else(|| truncated("packet body"))?;
        return Ok((
            Packet {
                tag,
                body: body.to_vec(),
            },
            at + len,
        ));
    }
    let tag = head & 0x3f;
    let mut at = 1;
    let mut body = Vec::new();
    loop {
        let o1 = *data.get(at).ok_or_else(|| truncated("length"))?;
        let (len, partial, width) = match o1 {
            0..=191 => (usize::from(o1), false, 1),
            192..=223 => {
                let o2 = *data.get(at + 1).ok_or_else(|| truncated("length"))?;
                (
                    ((usize::from(o1) - 192) << 8) + usize::from(o2) + 192,
                    false,
                    2,
                )
            }
            255 => (
                be(data
                    .get(at + 1..at + 5)
                    .ok_or_else(|| truncated("length"))?),
                false,
                5,
            ),
            // Partial body length: a power of two, more chunks follow.
            _ => (1usize << (o1 & 0x1f), true, 1),
        };
        at += width;
        let end = at.checked_add(len).ok_or_else(|| truncated("packet"))?;
        body.extend_from_slice(data.get(at..end).ok_or_else(|| truncated("packet body"))?);
        at = end;
        if !partial {
            break;
        }
    }
    Ok((Packet { tag, body }, at))
}

/// A big-endian unsigned number of 1 to 4 bytes.
pub fn be(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
}

/// A cursor over a packet body.
pub struct Reader<'a> {
    pub data: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, at: 0 }
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, PgpError> {
        let b = *self.data.get(self.at).ok_or_else(|| truncated(what))?;
        self.at += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], PgpError> {
        let end = self.at.checked_add(n).ok_or_else(|| truncated(what))?;
        let s = self.data.get(self.at..end).ok_or_else(|| truncated(what))?;
        self.at = end;
        Ok(s)
    }

    pub fn u16(&mut self, what: &str) -> Result<usize, PgpError> {
        Ok(be(self.take(2, what)?))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, PgpError> {
        Ok(be(self.take(4, what)?) as u32)
    }

    /// A multiprecision integer: a 16-bit bit count, then its bytes
    /// (leading zero bytes are dropped, as some writers pad).
    pub fn mpi(&mut self, what: &str) -> Result<&'a [u8], PgpError> {
        let bits = self.u16(what)?;
        let bytes = self.take(bits.div_ceil(8), what)?;
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        Ok(&bytes[first..])
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.data[self.at.min(self.data.len())..];
        self.at = self.data.len();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_new_and_partial_lengths() {
        // Old format, one-byte length, tag 11.
        let p: Vec<_> = Packets::new(&[0xac, 2, b'h', b'i']).collect();
        assert_eq!(p.len(), 1);
        let p = p.into_iter().next().unwrap().unwrap();
        assert_eq!((p.tag, p.body.as_slice()), (11, &b"hi"[..]));
        // New format, partial 1 byte (0xe0) then final 2 bytes.
        let p = Packets::new(&[0xcb, 0xe0, b'a', 2, b'b', b'c'])
            .next()
            .unwrap()
            .unwrap();
        assert_eq!((p.tag, p.body.as_slice()), (11, &b"abc"[..]));
        // Two-octet length 192.
        let mut two = vec![0xcb, 192, 0];
        two.extend(std::iter::repeat_n(7u8, 192));
        let p = Packets::new(&two).next().unwrap().unwrap();
        assert_eq!(p.body.len(), 192);
        // Truncated and non-packet input are errors, not panics.
        assert!(Packets::new(&[0xcb, 5, 1]).next().unwrap().is_err());
        assert!(Packets::new(&[0x01]).next().unwrap().is_err());
        assert!(Packets::new(&[0xcb, 0xff, 0xff]).next().unwrap().is_err());
    }

    #[test]
    fn armor_with_headers_and_checksum() {
        let text = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: x\n\nrAJoaQ==\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n";
        assert_eq!(dearmor(text).unwrap(), [0xac, 2, b'h', b'i']);
        assert!(dearmor(b"-----BEGIN PGP X-----\nrAJoaQ==\n").is_err());
    }
}
