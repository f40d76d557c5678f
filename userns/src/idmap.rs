//! The uid and gid maps written into the user namespace.
//!
//! The layout matches Podman's so that storage created by one tool reads
//! correctly under the other: container id 0 is the user's own id, and
//! container ids from 1 up are the user's subordinate ranges, back to back,
//! in host order. This module only computes maps and converts them to and
//! from the text forms `newuidmap`, `newgidmap` and /proc/PID/uid_map use; it
//! neither reads /etc/subuid (that is [`crate::subid`]) nor runs the helpers.

use std::fmt::Write as _;

use crate::subid::{MAX_ID, SubIdRange};

/// Lines the kernel accepts in one uid_map or gid_map since Linux 4.15.
pub const MAX_EXTENTS: usize = 340;

/// One line of a map: `size` ids starting at `container_id` inside the
/// namespace are `host_id..` outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMappings {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
    /// True when either side has nothing beyond the user's own id, so
    /// images that chown to other ids cannot be used as-is.
    pub single_id: bool,
}

/// Builds the maps for a user with the given own ids and subordinate ranges.
///
/// The ranges are sorted, merged where they overlap or touch (the kernel
/// rejects overlapping extents), the user's own id is cut out of any range
/// holding it (it is already container id 0, and a host id may appear only
/// once), and extents past [`MAX_EXTENTS`] are dropped with a warning.
pub fn build(
    uid: u32,
    gid: u32,
    uid_ranges: &[SubIdRange],
    gid_ranges: &[SubIdRange],
) -> IdMappings {
    let uid = layout("uid", uid, uid_ranges);
    let gid = layout("gid", gid, gid_ranges);
    let single_id = uid.len() == 1 || gid.len() == 1;
    IdMappings {
        uid,
        gid,
        single_id,
    }
}

impl IdMappings {
    /// Arguments for `newuidmap PID ...`, after the pid.
    pub fn newuidmap_args(&self) -> Vec<String> {
        helper_args(&self.uid)
    }

    /// Arguments for `newgidmap PID ...`, after the pid.
    pub fn newgidmap_args(&self) -> Vec<String> {
        helper_args(&self.gid)
    }

    /// How many uids exist inside the namespace.
    pub fn container_size(&self) -> u32 {
        let total: u64 = self.uid.iter().map(|m| u64::from(m.size)).sum();
        // Only reachable with hand-built maps; built ones stay below 2^32.
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

/// Host ids as half-open u64 intervals: u64 because a range may end at 2^32.
type Span = (u64, u64);

fn layout(kind: &str, own: u32, ranges: &[SubIdRange]) -> Vec<IdMap> {
    let spans = host_spans(own, ranges);
    let mut maps = Vec::with_capacity(spans.len().min(MAX_EXTENTS - 1) + 1);
    maps.push(IdMap {
        container_id: 0,
        host_id: own,
        size: 1,
    });
    let mut next: u64 = 1;
    for (index, &(start, end)) in spans.iter().enumerate() {
        if maps.len() == MAX_EXTENTS {
            tracing::warn!(
                kind,
                dropped = spans.len() - index,
                limit = MAX_EXTENTS,
                "more subordinate ranges than the kernel accepts in one map; ignoring the rest"
            );
            break;
        }
        let size = end - start;
        // The host spans hold at most MAX_ID ids besides `own`, so the
        // container side cannot pass MAX_ID; the conversions only guard
        // against that reasoning being wrong.
        let (Ok(container_id), Ok(host_id), Ok(size)) = (
            u32::try_from(next),
            u32::try_from(start),
            u32::try_from(size),
        ) else {
            break;
        };
        maps.push(IdMap {
            container_id,
            host_id,
            size,
        });
        next += u64::from(size);
    }
    maps
}

/// Sorted, merged, valid host spans of `ranges` with `own` removed.
fn host_spans(own: u32, ranges: &[SubIdRange]) -> Vec<Span> {
    let limit = u64::from(MAX_ID) + 1;
    let mut spans: Vec<Span> = ranges
        .iter()
        .map(|r| {
            let start = u64::from(r.start);
            (start, (start + u64::from(r.count)).min(limit))
        })
        .filter(|(start, end)| start < end)
        .collect();
    spans.sort_unstable();

    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }

    let own = u64::from(own);
    let mut spans = Vec::with_capacity(merged.len() + 1);
    for (start, end) in merged {
        if (start..end).contains(&own) {
            spans.extend(
                [(start, own), (own + 1, end)]
                    .into_iter()
                    .filter(|(s, e)| s < e),
            );
        } else {
            spans.push((start, end));
        }
    }
    spans
}

fn helper_args(maps: &[IdMap]) -> Vec<String> {
    maps.iter()
        .flat_map(|m| [m.container_id, m.host_id, m.size])
        .map(|n| n.to_string())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcMapError {
    #[error("line {line}: {found} field(s) instead of 3 (expected container host size)")]
    FieldCount { line: usize, found: usize },
    #[error("line {line}: {value:?} is not a number")]
    NotANumber { line: usize, value: String },
    #[error("line {line}: extent has size 0")]
    ZeroSize { line: usize },
    #[error("line {line}: extent {start}+{size} goes past {MAX_ID}, the largest valid id")]
    PastIdSpace { line: usize, start: u32, size: u32 },
}

/// Parses the content of /proc/PID/uid_map or gid_map. The kernel pads the
/// columns with spaces, so any whitespace separates fields.
pub fn parse_proc_map(content: &str) -> Result<Vec<IdMap>, ProcMapError> {
    let mut maps = Vec::new();
    for (index, text) in content.lines().enumerate() {
        let line = index + 1;
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let [container, host, size] = fields[..] else {
            return Err(ProcMapError::FieldCount {
                line,
                found: fields.len(),
            });
        };
        let number = |value: &str| {
            value
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| value.parse::<u32>().ok())
                .flatten()
                .ok_or_else(|| ProcMapError::NotANumber {
                    line,
                    value: value.to_string(),
                })
        };
        let map = IdMap {
            container_id: number(container)?,
            host_id: number(host)?,
            size: number(size)?,
        };
        if map.size == 0 {
            return Err(ProcMapError::ZeroSize { line });
        }
        // The last id of an extent may be MAX_ID but not u32::MAX, the
        // invalid id; the initial namespace's "0 0 4294967295" ends right there.
        for start in [map.container_id, map.host_id] {
            if u64::from(start) + u64::from(map.size) > u64::from(MAX_ID) + 1 {
                return Err(ProcMapError::PastIdSpace {
                    line,
                    start,
                    size: map.size,
                });
            }
        }
        maps.push(map);
    }
    Ok(maps)
}

/// Formats maps as written into /proc/PID/uid_map: the kernel wants the whole
/// map in a single write, one `container host size` line per extent.
pub fn format_proc_map(maps: &[IdMap]) -> String {
    let mut out = String::with_capacity(maps.len() * 24);
    for m in maps {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{} {} {}", m.container_id, m.host_id, m.size);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u32, count: u32) -> SubIdRange {
        SubIdRange {
            start,
            count,
            line: 1,
        }
    }

    fn map(container_id: u32, host_id: u32, size: u32) -> IdMap {
        IdMap {
            container_id,
            host_id,
            size,
        }
    }

    #[test]
    fn one_range_follows_the_own_id() {
        let m = build(1000, 1001, &[range(100000, 65536)], &[range(200000, 65536)]);
        assert_eq!(m.uid, vec![map(0, 1000, 1), map(1, 100000, 65536)]);
        assert_eq!(m.gid, vec![map(0, 1001, 1), map(1, 200000, 65536)]);
        assert!(!m.single_id);
        assert_eq!(m.container_size(), 65537);
    }

    #[test]
    fn several_ranges_are_contiguous_inside_and_sorted_by_host() {
        let ranges = [range(300000, 10), range(100000, 65536), range(200000, 5)];
        let m = build(1000, 1000, &ranges, &ranges);
        assert_eq!(
            m.uid,
            vec![
                map(0, 1000, 1),
                map(1, 100000, 65536),
                map(65537, 200000, 5),
                map(65542, 300000, 10),
            ]
        );
        assert_eq!(m.container_size(), 1 + 65536 + 5 + 10);
    }

    #[test]
    fn overlapping_and_adjacent_ranges_are_merged() {
        let ranges = [
            range(100000, 100),
            range(100050, 100), // overlaps
            range(100150, 50),  // adjacent
            range(100000, 10),  // duplicate inside
            range(500000, 1),
        ];
        let m = build(1000, 1000, &ranges, &[]);
        assert_eq!(
            m.uid,
            vec![map(0, 1000, 1), map(1, 100000, 200), map(201, 500000, 1)]
        );
    }

    #[test]
    fn a_range_holding_the_own_id_is_split_around_it() {
        let m = build(
            1000,
            500,
            &[range(0, 65536)],
            &[range(500, 1), range(0, 10)],
        );
        assert_eq!(
            m.uid,
            vec![map(0, 1000, 1), map(1, 0, 1000), map(1001, 1001, 64535)]
        );
        // A range that is only the own id vanishes; the other stays.
        assert_eq!(m.gid, vec![map(0, 500, 1), map(1, 0, 10)]);
        assert!(!m.single_id);

        let edges = build(100, 199, &[range(100, 100)], &[range(100, 100)]);
        assert_eq!(edges.uid, vec![map(0, 100, 1), map(1, 101, 99)]);
        assert_eq!(edges.gid, vec![map(0, 199, 1), map(1, 100, 99)]);
    }

    #[test]
    fn no_ranges_means_single_id() {
        let m = build(1000, 1000, &[], &[]);
        assert_eq!(m.uid, vec![map(0, 1000, 1)]);
        assert_eq!(m.gid, vec![map(0, 1000, 1)]);
        assert!(m.single_id);
        assert_eq!(m.container_size(), 1);

        let only_uid = build(1000, 1000, &[range(100000, 10)], &[]);
        assert_eq!(only_uid.uid.len(), 2);
        assert_eq!(only_uid.gid, vec![map(0, 1000, 1)]);
        assert!(only_uid.single_id);

        let only_own = build(1000, 1000, &[range(1000, 1)], &[range(1000, 1)]);
        assert!(only_own.single_id);
    }

    #[test]
    fn extents_are_capped_at_the_kernel_limit() {
        let ranges: Vec<SubIdRange> = (0..400).map(|i| range(100000 + i * 10, 5)).collect();
        let m = build(1000, 1000, &ranges, &ranges[..3]);
        assert_eq!(m.uid.len(), MAX_EXTENTS);
        assert_eq!(
            m.uid[MAX_EXTENTS - 1],
            map(1 + 338 * 5, 100000 + 338 * 10, 5)
        );
        assert_eq!(m.gid.len(), 4);

        let exact: Vec<SubIdRange> = ranges[..MAX_EXTENTS - 1].to_vec();
        assert_eq!(build(1000, 1000, &exact, &[]).uid.len(), MAX_EXTENTS);
    }

    #[test]
    fn hand_built_ranges_past_max_id_are_clamped() {
        let m = build(1000, 1000, &[range(u32::MAX - 5, 100), range(7, 0)], &[]);
        assert_eq!(m.uid, vec![map(0, 1000, 1), map(1, u32::MAX - 5, 5)]);
    }

    #[test]
    fn the_whole_id_space_fits() {
        let m = build(1000, 1000, &[range(0, u32::MAX)], &[]);
        assert_eq!(
            m.uid,
            vec![
                map(0, 1000, 1),
                map(1, 0, 1000),
                map(1001, 1001, MAX_ID - 1000)
            ]
        );
        assert_eq!(m.container_size(), u32::MAX);
    }

    #[test]
    fn helper_args_are_flattened_triplets() {
        let m = build(1000, 1001, &[range(100000, 65536)], &[]);
        assert_eq!(
            m.newuidmap_args(),
            ["0", "1000", "1", "1", "100000", "65536"]
        );
        assert_eq!(m.newgidmap_args(), ["0", "1001", "1"]);
    }

    #[test]
    fn proc_maps_round_trip() {
        let maps = vec![
            map(0, 1000, 1),
            map(1, 100000, 65536),
            map(65537, 200000, 5),
        ];
        let text = format_proc_map(&maps);
        assert_eq!(text, "0 1000 1\n1 100000 65536\n65537 200000 5\n");
        assert_eq!(parse_proc_map(&text).unwrap(), maps);
        assert_eq!(format_proc_map(&[]), "");
        assert_eq!(parse_proc_map("").unwrap(), vec![]);
    }

    #[test]
    fn parses_the_kernels_padded_format() {
        let text = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(
            parse_proc_map(text).unwrap(),
            vec![map(0, 1000, 1), map(1, 100000, 65536)]
        );
        let init = "         0          0 4294967295\n";
        assert_eq!(parse_proc_map(init).unwrap(), vec![map(0, 0, u32::MAX)]);
    }

    #[test]
    fn rejects_malformed_proc_maps() {
        assert_eq!(
            parse_proc_map("0 1000 1\n1 2\n"),
            Err(ProcMapError::FieldCount { line: 2, found: 2 })
        );
        assert_eq!(
            parse_proc_map("0 1000 1 4\n"),
            Err(ProcMapError::FieldCount { line: 1, found: 4 })
        );
        assert_eq!(
            parse_proc_map("0 -1 1\n"),
            Err(ProcMapError::NotANumber {
                line: 1,
                value: "-1".into()
            })
        );
        assert_eq!(
            parse_proc_map("0 1 4294967296\n"),
            Err(ProcMapError::NotANumber {
                line: 1,
                value: "4294967296".into()
            })
        );
        assert_eq!(
            parse_proc_map("0 1 0\n"),
            Err(ProcMapError::ZeroSize { line: 1 })
        );
        assert_eq!(
            parse_proc_map("1 0 4294967295\n"),
            Err(ProcMapError::PastIdSpace {
                line: 1,
                start: 1,
                size: u32::MAX
            })
        );
        assert_eq!(
            parse_proc_map("0 1 4294967295\n").unwrap_err().to_string(),
            "line 1: extent 1+4294967295 goes past 4294967294, the largest valid id"
        );
    }
}
