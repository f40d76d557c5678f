//! CRIU's statistics files (`stats-dump`, `stats-restore` in the work
//! path), for `--print-stats`: a service image (two magic numbers, a size,
//! then one protobuf `StatsEntry`), read as go-criu's `stats` package
//! does. Only the varint fields are kept; the file is CRIU's, so its size
//! is bounded and anything malformed reads as no statistics.

use std::collections::BTreeMap;
use std::path::Path;

/// Field name to value, as Podman prints them (`freezing_time`, ...).
pub type CriuStats = BTreeMap<&'static str, u64>;

const IMG_SERVICE_MAGIC: u32 = 0x5510_5940;
const STATS_MAGIC: u32 = 0x5709_3306;
/// Far above the few dozen bytes CRIU writes.
const MAX_FILE: u64 = 64 * 1024;

const DUMP_FIELDS: [&str; 14] = [
    "freezing_time",
    "frozen_time",
    "memdump_time",
    "memwrite_time",
    "pages_scanned",
    "pages_skipped_parent",
    "pages_written",
    "irmap_resolve",
    "pages_lazy",
    "page_pipes",
    "page_pipe_bufs",
    "shpages_scanned",
    "shpages_skipped_parent",
    "shpages_written",
];
const RESTORE_FIELDS: [&str; 5] = [
    "pages_compared",
    "pages_skipped_cow",
    "forking_time",
    "restore_time",
    "pages_restored",
];

pub fn read(path: &Path) -> Option<CriuStats> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_FILE {
        return None;
    }
    parse(&std::fs::read(path).ok()?)
}

pub fn parse(buf: &[u8]) -> Option<CriuStats> {
    let word = |at: usize| -> Option<u32> {
        let b = buf.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(0)? != IMG_SERVICE_MAGIC || word(4)? != STATS_MAGIC {
        return None;
    }
    let size = word(8)? as usize;
    let entry = buf.get(12..12usize.checked_add(size)?)?;
    let mut out = CriuStats::new();
    // StatsEntry { dump = 1; restore = 2 }, each a nested message.
    for (field, body) in fields(entry)? {
        let Value::Bytes(body) = body else { continue };
        let names: &[&'static str] = match field {
            1 => &DUMP_FIELDS,
            2 => &RESTORE_FIELDS,
            _ => continue,
        };
        for (n, v) in fields(body)? {
            if let (Value::Varint(v), Some(name)) = (v, names.get((n as usize).wrapping_sub(1))) {
                out.insert(name, v);
            }
        }
    }
    Some(out)
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The top-level fields of one protobuf message; `None` when malformed.
fn fields(buf: &[u8]) -> Option<Vec<(u64, Value<'_>)>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < buf.len() {
        let key = varint(buf, &mut at)?;
        let value = match key & 7 {
            0 => Value::Varint(varint(buf, &mut at)?),
            2 => {
                let len = usize::try_from(varint(buf, &mut at)?).ok()?;
                let body = buf.get(at..at.checked_add(len)?)?;
                at += len;
                Value::Bytes(body)
            }
            // fixed64 / fixed32: skipped.
            1 => {
                at = at.checked_add(8)?;
                continue;
            }
            5 => {
                at = at.checked_add(4)?;
                continue;
            }
            _ => return None,
        };
        out.push((key >> 3, value));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entry: &[u8]) -> Vec<u8> {
        let mut v = IMG_SERVICE_MAGIC.to_le_bytes().to_vec();
        v.extend(STATS_MAGIC.to_le_bytes());
        v.extend((entry.len() as u32).to_le_bytes());
        v.extend(entry);
        v
    }

    #[test]
    fn dump_statistics_are_read_by_field_number() {
        // dump { freezing_time: 300, pages_written: 5 }
        let dump = [0x08, 0xac, 0x02, 0x38, 0x05];
        let mut entry = vec![0x0a, dump.len() as u8];
        entry.extend(dump);
        let s = parse(&image(&entry)).expect("parsed");
        assert_eq!(s.get("freezing_time"), Some(&300));
        assert_eq!(s.get("pages_written"), Some(&5));
        assert_eq!(s.len(), 2);
        // restore { restore_time: 7 }
        let s = parse(&image(&[0x12, 0x02, 0x20, 0x07])).expect("parsed");
        assert_eq!(s.get("restore_time"), Some(&7));
    }

    #[test]
    fn malformed_files_are_no_statistics() {
        assert!(parse(b"short").is_none());
        let mut bad = image(&[0x0a, 0x10, 0x08]);
        assert!(parse(&bad).is_none(), "a nested length past the end");
        bad[0] = 0;
        assert!(parse(&bad).is_none(), "another magic");
    }
}
