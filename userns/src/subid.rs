//! Subordinate id ranges from /etc/subuid and /etc/subgid.
//!
//! Parsing is strict: a line that is not `name_or_uid:start:count` is an error
//! naming the file and line, never skipped, because a silently dropped range
//! turns into a container that mysteriously has fewer ids than the admin
//! granted. [`SubIdFile::diagnose`] goes further and reports ranges that parse
//! but would make a mapping wrong or unsafe. This module does not decide how
//! the ranges are laid out in a namespace (that is [`crate::idmap`]) and never
//! writes to the files.

use std::fmt;
use std::fs;
use std::io::{self, Read};

use std::path::{Path, PathBuf};

/// The largest id the kernel accepts; `u32::MAX` is `(uid_t)-1`, the invalid id.
pub const MAX_ID: u32 = u32::MAX - 1;

/// Real entries are a user name and two numbers; anything this long is not a
/// subid line, and bounding it keeps error messages and memory sane.
const MAX_LINE_BYTES: usize = 4096;

/// Hundreds of thousands of users fit in a few MiB; past this the path is
/// almost certainly not a subid file (a device, a log, a hostile bind mount).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// One `start:count` range, with the line it came from for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubIdRange {
    pub start: u32,
    pub count: u32,
    /// 1-based line number in the file.
    pub line: usize,
}

impl SubIdRange {
    /// One past the last id; u64 because `start + count` may be 2^32.
    fn end(&self) -> u64 {
        u64::from(self.start) + u64::from(self.count)
    }

    fn contains(&self, id: u32) -> bool {
        self.start <= id && u64::from(id) < self.end()
    }

    fn overlaps(&self, other: &SubIdRange) -> bool {
        u64::from(self.start) < other.end() && u64::from(other.start) < self.end()
    }
}

impl fmt::Display for SubIdRange {
    // Same shape as in the file, so the admin can search for it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.start, self.count)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubIdEntry {
    /// A user name or a decimal uid, exactly as written.
    pub owner: String,
    pub range: SubIdRange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubIdFile {
    pub path: PathBuf,
    pub entries: Vec<SubIdEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubIdError {
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: MalformedReason,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is larger than {limit} bytes, which no subordinate-id file is", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
}

/// Why a line was rejected. Values from the file are shown with `{:?}` so
/// that control characters cannot reach the terminal unescaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedReason {
    #[error("{found} field(s) instead of 3 (expected name:start:count)")]
    FieldCount { found: usize },
    #[error("owner is empty (expected name:start:count)")]
    EmptyOwner,
    #[error("owner {owner:?} contains whitespace or control characters")]
    BadOwner { owner: String },
    #[error("{field} {value:?} is not a number (expected name:start:count)")]
    NotANumber { field: &'static str, value: String },
    #[error("{field} {value:?} is too large (ids end at {MAX_ID})")]
    OutOfRange { field: &'static str, value: String },
    #[error("count is 0; a range must hold at least one id")]
    ZeroCount,
    #[error("range {start}:{count} goes past {MAX_ID}, the largest valid id")]
    PastMaxId { start: u32, count: u32 },
    #[error("line is {len} bytes long, more than the {MAX_LINE_BYTES} allowed")]
    TooLong { len: usize },
    #[error("line contains a NUL byte")]
    NulByte,
    #[error("line is not valid UTF-8")]
    NotUtf8,
}

impl SubIdFile {
    /// Parses file content; `path` is only used in errors and diagnostics.
    pub fn parse(path: &Path, content: &str) -> Result<SubIdFile, SubIdError> {
        let mut entries = Vec::new();
        for (index, raw) in content.lines().enumerate() {
            let line = index + 1;
            if let Some(entry) = parse_line(raw, line).map_err(|reason| SubIdError::Malformed {
                path: path.to_path_buf(),
                line,
                reason,
            })? {
                entries.push(entry);
            }
        }
        Ok(SubIdFile {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Reads and parses `path`. A missing file means nobody has ranges, which
    /// is the normal state of a fresh system, so it is an empty file.
    pub fn load(path: &Path) -> Result<SubIdFile, SubIdError> {
        let read_error = |source| SubIdError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = match fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(SubIdFile {
                    path: path.to_path_buf(),
                    entries: Vec::new(),
                });
            }
            Err(e) => return Err(read_error(e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(SubIdError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_FILE_BYTES,
            });
        }
        let content = String::from_utf8(bytes).map_err(|e| {
            let bytes = e.as_bytes();
            let valid = e.utf8_error().valid_up_to();
            SubIdError::Malformed {
                path: path.to_path_buf(),
                line: 1 + bytes[..valid].iter().filter(|&&b| b == b'\n').count(),
                reason: MalformedReason::NotUtf8,
            }
        })?;
        Self::parse(path, &content)
    }

    /// The ranges of one user, in file order. shadow-utils accepts either
    /// the name or the decimal uid as owner, so both are matched.
    pub fn ranges_for(&self, user_name: Option<&str>, uid: u32) -> Vec<SubIdRange> {
        let uid_text = uid.to_string();
        self.entries
            .iter()
            .filter(|e| is_owner(&e.owner, user_name, &uid_text))
            .map(|e| e.range)
            .collect()
    }

    /// The ranges whose owner field is exactly `name`, in file order
    /// (Podman's `--subuidname`/`--subgidname` match the name only).
    pub fn ranges_named(&self, name: &str) -> Vec<SubIdRange> {
        self.entries
            .iter()
            .filter(|e| e.owner == name)
            .map(|e| e.range)
            .collect()
    }

    /// Problems with the user's ranges, checking containment against `uid`.
    /// For /etc/subgid use [`SubIdFile::diagnose_with_id`] with the gid.
    pub fn diagnose(&self, user_name: Option<&str>, uid: u32) -> Vec<SubIdDiagnostic> {
        self.diagnose_with_id(user_name, uid, uid)
    }

    /// Like [`SubIdFile::diagnose`], but owners are matched by `user_name` or
    /// `uid` while containment is checked against `own_id`: /etc/subgid is
    /// keyed by user, yet the id that must not be mapped twice is the gid.
    pub fn diagnose_with_id(
        &self,
        user_name: Option<&str>,
        uid: u32,
        own_id: u32,
    ) -> Vec<SubIdDiagnostic> {
        let uid_text = uid.to_string();
        let (own, others): (Vec<&SubIdEntry>, Vec<&SubIdEntry>) = self
            .entries
            .iter()
            .partition(|e| is_owner(&e.owner, user_name, &uid_text));
        let path = &self.path;
        let mut found = Vec::new();

        for (i, first) in own.iter().enumerate() {
            for second in &own[i + 1..] {
                if first.range.overlaps(&second.range) {
                    found.push(SubIdDiagnostic::OwnRangesOverlap {
                        path: path.clone(),
                        owner: first.owner.clone(),
                        first: first.range,
                        second: second.range,
                    });
                }
            }
        }
        for mine in &own {
            for other in others.iter().filter(|o| o.range.overlaps(&mine.range)) {
                found.push(SubIdDiagnostic::SharedWithOtherOwner {
                    path: path.clone(),
                    owner: mine.owner.clone(),
                    range: mine.range,
                    other_owner: other.owner.clone(),
                    other_range: other.range,
                });
            }
        }
        for mine in own.iter().filter(|e| e.range.contains(own_id)) {
            found.push(SubIdDiagnostic::ContainsOwnId {
                path: path.clone(),
                owner: mine.owner.clone(),
                range: mine.range,
                id: own_id,
            });
        }
        found
    }
}

fn is_owner(owner: &str, user_name: Option<&str>, uid_text: &str) -> bool {
    owner == uid_text || user_name.is_some_and(|name| owner == name)
}

/// `Ok(None)` for comments and blank lines.
fn parse_line(raw: &str, line: usize) -> Result<Option<SubIdEntry>, MalformedReason> {
    // Checked before the comment test: a megabyte "comment" or an embedded
    // NUL means the file is not what it claims to be.
    if raw.len() > MAX_LINE_BYTES {
        return Err(MalformedReason::TooLong { len: raw.len() });
    }
    if raw.contains('\0') {
        return Err(MalformedReason::NulByte);
    }
    let text = raw.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let fields: Vec<&str> = text.split(':').map(str::trim).collect();
    let [owner, start, count] = fields[..] else {
        return Err(MalformedReason::FieldCount {
            found: fields.len(),
        });
    };
    if owner.is_empty() {
        return Err(MalformedReason::EmptyOwner);
    }
    if owner.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MalformedReason::BadOwner {
            owner: owner.to_string(),
        });
    }
    let start = parse_number("start", start, MAX_ID)?;
    // 0:4294967295 is the whole valid id space, so count may be u32::MAX.
    let count = parse_number("count", count, u32::MAX)?;
    if count == 0 {
        return Err(MalformedReason::ZeroCount);
    }
    let range = SubIdRange { start, count, line };
    if range.end() - 1 > u64::from(MAX_ID) {
        return Err(MalformedReason::PastMaxId { start, count });
    }
    Ok(Some(SubIdEntry {
        owner: owner.to_string(),
        range,
    }))
}

fn parse_number(field: &'static str, value: &str, max: u32) -> Result<u32, MalformedReason> {
    // Digits only: u32::from_str would also take "+5", which shadow-utils'
    // own parser does not document and an admin would not expect to work.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MalformedReason::NotANumber {
            field,
            value: value.to_string(),
        });
    }
    match value.parse::<u32>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(MalformedReason::OutOfRange {
            field,
            value: value.to_string(),
        }),
    }
}

/// A range that parses but would make the mapping wrong or unsafe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubIdDiagnostic {
    /// Two of the user's own ranges share ids.
    OwnRangesOverlap {
        path: PathBuf,
        owner: String,
        first: SubIdRange,
        second: SubIdRange,
    },
    /// A range of the user shares ids with another user's range.
    SharedWithOtherOwner {
        path: PathBuf,
        owner: String,
        range: SubIdRange,
        other_owner: String,
        other_range: SubIdRange,
    },
    /// A range of the user contains the user's own id.
    ContainsOwnId {
        path: PathBuf,
        owner: String,
        range: SubIdRange,
        id: u32,
    },
}

impl SubIdDiagnostic {
    /// None is fatal today: overlaps are merged and the own id is cut out by
    /// [`crate::idmap::build`], and a range shared with another user still
    /// maps (the danger is to that user's files, so it is a loud warning).
    pub fn is_fatal(&self) -> bool {
        match self {
            SubIdDiagnostic::OwnRangesOverlap { .. }
            | SubIdDiagnostic::SharedWithOtherOwner { .. }
            | SubIdDiagnostic::ContainsOwnId { .. } => false,
        }
    }
}

impl fmt::Display for SubIdDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubIdDiagnostic::OwnRangesOverlap {
                path,
                owner,
                first,
                second,
            } => write!(
                f,
                "{}:{}: range {first} of {owner:?} overlaps its range {second} on line {}; \
                 hutch merges them, but fix the file so the ranges are disjoint",
                path.display(),
                second.line,
                first.line,
            ),
            SubIdDiagnostic::SharedWithOtherOwner {
                path,
                owner,
                range,
                other_owner,
                other_range,
            } => write!(
                f,
                "{}:{}: range {range} of {owner:?} overlaps range {other_range} of \
                 {other_owner:?} on line {}, so files created by one user's containers \
                 belong to the other's; give each user a disjoint range \
                 (usermod --del-subuids/--add-subuids, or edit the file)",
                path.display(),
                range.line,
                other_range.line,
            ),
            SubIdDiagnostic::ContainsOwnId {
                path,
                owner,
                range,
                id,
            } => write!(
                f,
                "{}:{}: range {range} of {owner:?} contains the user's own id {id}, which \
                 the kernel refuses to map twice; hutch splits the range around it, but \
                 move the range above the regular ids (e.g. start at 100000)",
                path.display(),
                range.line,
            ),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn parse(content: &str) -> Result<SubIdFile, SubIdError> {
        SubIdFile::parse(Path::new("/etc/subuid"), content)
    }

    fn range(start: u32, count: u32, line: usize) -> SubIdRange {
        SubIdRange { start, count, line }
    }

    /// Returns (line, reason) of a Malformed error, panicking otherwise.
    fn malformed(content: &str) -> (usize, MalformedReason) {
        match parse(content) {
            Err(SubIdError::Malformed { line, reason, .. }) => (line, reason),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("hutch-subid-test-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self, name: &str, content: &[u8], mode: u32) -> PathBuf {
            let path = self.0.join(name);
            fs::write(&path, content).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn parses_names_uids_comments_blank_lines_and_whitespace() {
        let file = parse(
            "# managed by useradd\n\
             alice:100000:65536\n\
             \n\
             1001:165536:65536\n\
             \t  bob : 231072 : 65536  \r\n\
             # trailing comment\n",
        )
        .unwrap();
        assert_eq!(file.path, Path::new("/etc/subuid"));
        assert_eq!(
            file.entries,
            vec![
                SubIdEntry {
                    owner: "alice".into(),
                    range: range(100000, 65536, 2)
                },
                SubIdEntry {
                    owner: "1001".into(),
                    range: range(165536, 65536, 4)
                },
                SubIdEntry {
                    owner: "bob".into(),
                    range: range(231072, 65536, 5)
                },
            ]
        );
    }

    #[test]
    fn empty_and_comment_only_files_have_no_entries() {
        assert!(parse("").unwrap().entries.is_empty());
        assert!(parse("\n\n   \n# nothing\n").unwrap().entries.is_empty());
    }

    #[test]
    fn accepts_the_extremes_of_the_id_space() {
        let file = parse("a:0:1\nb:4294967294:1\nc:0:4294967295\n").unwrap();
        assert_eq!(file.entries[1].range, range(MAX_ID, 1, 2));
        assert_eq!(file.entries[2].range, range(0, u32::MAX, 3));
    }

    #[test]
    fn ranges_for_matches_name_or_uid_in_file_order() {
        let file =
            parse("alice:100000:10\nbob:200000:10\n1000:300000:10\nalice:400000:10\n").unwrap();
        assert_eq!(
            file.ranges_for(Some("alice"), 1000),
            vec![
                range(100000, 10, 1),
                range(300000, 10, 3),
                range(400000, 10, 4)
            ]
        );
        assert_eq!(file.ranges_for(None, 1000), vec![range(300000, 10, 3)]);
        assert!(file.ranges_for(Some("carol"), 1002).is_empty());
        // Prefixes do not match.
        assert!(file.ranges_for(Some("bobby"), 100).is_empty());
    }

    #[test]
    fn rejects_wrong_field_count_on_the_right_line() {
        assert_eq!(
            malformed("alice:1:2\n# c\nbob:100000\n"),
            (3, MalformedReason::FieldCount { found: 2 })
        );
        assert_eq!(
            malformed("alice:1:2:3\n"),
            (1, MalformedReason::FieldCount { found: 4 })
        );
        assert_eq!(
            malformed("\n\nalice:1:2:\n"),
            (3, MalformedReason::FieldCount { found: 4 })
        );
        assert_eq!(
            malformed("alice\n"),
            (1, MalformedReason::FieldCount { found: 1 })
        );
        assert_eq!(
            malformed("a::b::c\n"),
            (1, MalformedReason::FieldCount { found: 5 })
        );
    }

    #[test]
    fn rejects_empty_or_odd_owner() {
        assert_eq!(malformed(":1:2\n"), (1, MalformedReason::EmptyOwner));
        assert_eq!(
            malformed("ok:1:1\n  :1:2\n"),
            (2, MalformedReason::EmptyOwner)
        );
        assert_eq!(
            malformed("al ice:1:2\n"),
            (
                1,
                MalformedReason::BadOwner {
                    owner: "al ice".into()
                }
            )
        );
        assert_eq!(
            malformed("a\x1b[2Jb:1:2\n"),
            (
                1,
                MalformedReason::BadOwner {
                    owner: "a\x1b[2Jb".into()
                }
            )
        );
    }

    #[test]
    fn rejects_non_numeric_and_negative_numbers() {
        let not_a_number = |field, value: &str| MalformedReason::NotANumber {
            field,
            value: value.into(),
        };
        assert_eq!(malformed("a:x:1\n"), (1, not_a_number("start", "x")));
        assert_eq!(malformed("a:1:abc\n"), (1, not_a_number("count", "abc")));
        assert_eq!(malformed("a::1\n"), (1, not_a_number("start", "")));
        assert_eq!(malformed("a:1:\n"), (1, not_a_number("count", "")));
        assert_eq!(malformed("a:-1:5\n"), (1, not_a_number("start", "-1")));
        assert_eq!(malformed("a:1:-5\n"), (1, not_a_number("count", "-5")));
        assert_eq!(malformed("a:+1:5\n"), (1, not_a_number("start", "+1")));
        assert_eq!(malformed("a:0x10:5\n"), (1, not_a_number("start", "0x10")));
        assert_eq!(malformed("a:1 0:5\n"), (1, not_a_number("start", "1 0")));
        assert_eq!(malformed("a:1.5:5\n"), (1, not_a_number("start", "1.5")));
        // Non-ASCII digits must not sneak through char::is_numeric.
        assert_eq!(malformed("a:١٢:5\n"), (1, not_a_number("start", "١٢")));
    }

    #[test]
    fn rejects_zero_count() {
        assert_eq!(
            malformed("a:1:1\nb:100000:0\n"),
            (2, MalformedReason::ZeroCount)
        );
    }

    #[test]
    fn rejects_huge_numbers_and_overflow() {
        let out_of_range = |field, value: &str| MalformedReason::OutOfRange {
            field,
            value: value.into(),
        };
        assert_eq!(
            malformed("a:4294967295:1\n"),
            (1, out_of_range("start", "4294967295"))
        );
        assert_eq!(
            malformed("a:4294967296:1\n"),
            (1, out_of_range("start", "4294967296"))
        );
        assert_eq!(
            malformed("a:1:99999999999999999999999999\n"),
            (1, out_of_range("count", "99999999999999999999999999"))
        );
        assert_eq!(
            malformed("a:0:4294967296\n"),
            (1, out_of_range("count", "4294967296"))
        );
        assert_eq!(
            malformed("a:4294967294:2\n"),
            (
                1,
                MalformedReason::PastMaxId {
                    start: 4294967294,
                    count: 2
                }
            )
        );
        assert_eq!(
            malformed("ok:1:1\na:4000000000:400000000\n"),
            (
                2,
                MalformedReason::PastMaxId {
                    start: 4000000000,
                    count: 400000000
                }
            )
        );
        assert_eq!(
            malformed("a:1:4294967295\n"),
            (
                1,
                MalformedReason::PastMaxId {
                    start: 1,
                    count: 4294967295
                }
            )
        );
    }

    #[test]
    fn rejects_nul_bytes_even_in_comments() {
        assert_eq!(malformed("a:1:1\nb\0:1:1\n"), (2, MalformedReason::NulByte));
        assert_eq!(malformed("# \0\n"), (1, MalformedReason::NulByte));
    }

    #[test]
    fn rejects_a_very_long_line() {
        let long = format!("ok:1:1\n{}:1:1\n", "a".repeat(10 * 1024 * 1024));
        let (line, reason) = malformed(&long);
        assert_eq!(line, 2);
        assert!(matches!(reason, MalformedReason::TooLong { len } if len > MAX_LINE_BYTES));
        let comment = format!("#{}\n", " ".repeat(MAX_LINE_BYTES));
        assert!(matches!(
            malformed(&comment),
            (1, MalformedReason::TooLong { .. })
        ));
    }

    #[test]
    fn malformed_display_names_file_line_and_reason() {
        let err = parse("alice:1:1\n\nbob:100000:abc\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"/etc/subuid:3: count "abc" is not a number (expected name:start:count)"#
        );
        let err = parse("a\x07:1:1\n").unwrap_err();
        assert!(!err.to_string().contains('\x07'), "{err}");
    }

    #[test]
    fn load_treats_a_missing_file_as_empty() {
        let dir = TempDir::new();
        let path = dir.0.join("subuid");
        let file = SubIdFile::load(&path).unwrap();
        assert_eq!(file.path, path);
        assert!(file.entries.is_empty());
    }

    #[test]
    fn load_parses_a_real_file() {
        let dir = TempDir::new();
        let path = dir.file("subuid", b"alice:100000:65536\n", 0o644);
        let file = SubIdFile::load(&path).unwrap();
        assert_eq!(
            file.ranges_for(Some("alice"), 1000),
            vec![range(100000, 65536, 1)]
        );
    }

    #[test]
    fn load_reports_non_utf8_with_path_and_line() {
        let dir = TempDir::new();
        let path = dir.file("subuid", b"alice:1:1\nb\xffob:1:1\n", 0o644);
        let err = SubIdFile::load(&path).unwrap_err();
        assert!(
            matches!(&err, SubIdError::Malformed { path: p, line: 2, reason: MalformedReason::NotUtf8 } if *p == path),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("{}:2:", path.display()))
        );
    }

    #[test]
    fn load_reports_other_read_errors_with_the_path() {
        let dir = TempDir::new();
        // Reading a directory fails with EISDIR, not NotFound.
        let err = SubIdFile::load(&dir.0).unwrap_err();
        assert!(
            matches!(&err, SubIdError::Read { path, .. } if *path == dir.0),
            "{err:?}"
        );
        assert!(err.to_string().contains(&dir.0.display().to_string()));
    }

    fn diagnostics(content: &str) -> Vec<SubIdDiagnostic> {
        parse(content).unwrap().diagnose(Some("alice"), 1000)
    }

    #[test]
    fn clean_ranges_have_no_diagnostics() {
        assert!(diagnostics("alice:100000:65536\nbob:165536:65536\n1000:300000:5\n").is_empty());
        assert!(diagnostics("").is_empty());
    }

    #[test]
    fn diagnoses_own_ranges_overlapping() {
        let found = diagnostics("alice:100000:65536\nbob:1:1\n1000:165535:10\n");
        assert_eq!(
            found,
            vec![SubIdDiagnostic::OwnRangesOverlap {
                path: "/etc/subuid".into(),
                owner: "alice".into(),
                first: range(100000, 65536, 1),
                second: range(165535, 10, 3),
            }]
        );
        assert!(!found[0].is_fatal());
        let text = found[0].to_string();
        assert!(text.starts_with("/etc/subuid:3: "), "{text}");
        assert!(text.contains("line 1") && text.contains("merges"), "{text}");
        // Adjacent is not overlapping.
        assert!(diagnostics("alice:100000:10\nalice:100010:10\n").is_empty());
    }

    #[test]
    fn diagnoses_a_range_shared_with_another_user() {
        let found = diagnostics("bob:150000:10\nalice:100000:65536\n");
        assert_eq!(
            found,
            vec![SubIdDiagnostic::SharedWithOtherOwner {
                path: "/etc/subuid".into(),
                owner: "alice".into(),
                range: range(100000, 65536, 2),
                other_owner: "bob".into(),
                other_range: range(150000, 10, 1),
            }]
        );
        assert!(!found[0].is_fatal());
        let text = found[0].to_string();
        assert!(text.starts_with("/etc/subuid:2: "), "{text}");
        assert!(
            text.contains("\"bob\"") && text.contains("line 1"),
            "{text}"
        );
        assert!(text.contains("disjoint"), "{text}");
    }

    #[test]
    fn diagnoses_a_range_containing_the_users_own_id() {
        let found = diagnostics("alice:0:65536\n");
        assert_eq!(
            found,
            vec![SubIdDiagnostic::ContainsOwnId {
                path: "/etc/subuid".into(),
                owner: "alice".into(),
                range: range(0, 65536, 1),
                id: 1000,
            }]
        );
        assert!(!found[0].is_fatal());
        let text = found[0].to_string();
        assert!(text.starts_with("/etc/subuid:1: "), "{text}");
        assert!(text.contains("splits"), "{text}");
        // Only the user's own ranges matter; bob's range around 1000 is bob's problem.
        assert!(diagnostics("bob:0:65536\n").is_empty());
    }

    #[test]
    fn diagnose_with_id_checks_the_gid_for_subgid() {
        let file = SubIdFile::parse(Path::new("/etc/subgid"), "alice:500:10\n").unwrap();
        assert!(file.diagnose(Some("alice"), 1000).is_empty());
        let found = file.diagnose_with_id(Some("alice"), 1000, 505);
        assert!(
            matches!(&found[..], [SubIdDiagnostic::ContainsOwnId { id: 505, .. }]),
            "{found:?}"
        );
        assert!(found[0].to_string().starts_with("/etc/subgid:1: "));
    }
}
