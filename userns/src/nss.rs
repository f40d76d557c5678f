//! Subordinate ids from the nsswitch `subid:` database: libsubid, through
//! which SSSD/FreeIPA hand out ranges on HPC clusters and other managed
//! hosts, read with shadow-utils' `getsubids`.
//!
//! When /etc/nsswitch.conf names a `subid:` source other than `files`,
//! libsubid (and so newuidmap/newgidmap built with it) consults that source
//! instead of /etc/subuid and /etc/subgid; the ranges `getsubids` reports
//! are then the ones the helpers accept. Changes there are not noticed by
//! the file stamps the pause record keeps: `hutch system migrate` applies
//! them.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::subid::SubIdRange;

pub const NSSWITCH_PATH: &str = "/etc/nsswitch.conf";

/// `getsubids` prints one line per range; this bounds what is read of it
/// (a user with thousands of ranges is not a case worth more).
const MAX_OUTPUT: u64 = 64 * 1024;

/// The `subid:` source of an nsswitch.conf text ("sss", "files"), if any.
/// Unlike other databases only one source is consulted: shadow's lib/nss.c
/// takes the first word of the first non-empty `subid:` line (matched
/// without regard to case), so `subid: files sss` means the files.
pub fn parse_nsswitch(text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| l.len() > 6 && l.is_char_boundary(6))
        .filter(|l| l[..6].eq_ignore_ascii_case("subid:"))
        .find_map(|l| l[6..].split_whitespace().next())
        .map(str::to_owned)
}

/// The host's `subid:` source when it is not the files: libsubid then
/// ignores /etc/subuid and /etc/subgid.
pub fn directory_source() -> Option<String> {
    let text = std::fs::read_to_string(NSSWITCH_PATH).ok()?;
    parse_nsswitch(&text).filter(|s| s != "files")
}

/// `getsubids [-g] USER`'s ranges; `None` when the program is missing or
/// fails.
pub fn getsubids(user: &str, groups: bool) -> Option<Vec<SubIdRange>> {
    // getsubids reads its arguments by position (shadow 4.13: `-g USER` or
    // `USER`, no `--`: `getsubids -- alice` asks for user "--"), so a name
    // that would read as an option is not passed at all.
    if user.is_empty() || user.starts_with('-') {
        return None;
    }
    let program = crate::helper::find_helper("getsubids")?;
    let mut cmd = Command::new(program);
    if groups {
        cmd.arg("-g");
    }
    let mut child = cmd
        .arg(user)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut text = String::new();
    child
        .stdout
        .take()?
        .take(MAX_OUTPUT)
        .read_to_string(&mut text)
        .ok()?;
    let status = child.wait().ok()?;
    status.success().then(|| parse_getsubids(&text))
}

/// Lines such as `0: alice 100000 65536`.
pub fn parse_getsubids(text: &str) -> Vec<SubIdRange> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                [_, _, start, count] => Some(SubIdRange {
                    start: start.parse().ok()?,
                    count: count.parse().ok()?,
                    line: i + 1,
                }),
                _ => None,
            }
        })
        .filter(|r| r.count > 0)
        .collect()
}

/// Where a plan gets ranges when the directory, not the files, holds them.
pub trait RangeSource {
    /// The source's name as nsswitch.conf gives it, when it is not the files.
    fn directory(&self) -> Option<String>;
    fn ranges(&self, user: &str, groups: bool) -> Option<Vec<SubIdRange>>;
}

/// The host: /etc/nsswitch.conf and `getsubids`.
pub struct HostSource;

impl RangeSource for HostSource {
    fn directory(&self) -> Option<String> {
        directory_source()
    }
    fn ranges(&self, user: &str, groups: bool) -> Option<Vec<SubIdRange>> {
        getsubids(user, groups)
    }
}

/// Only the files (no nsswitch `subid:` source, or tests of the file path).
pub struct FilesOnly;

impl RangeSource for FilesOnly {
    fn directory(&self) -> Option<String> {
        None
    }
    fn ranges(&self, _: &str, _: bool) -> Option<Vec<SubIdRange>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nsswitch_and_getsubids() {
        assert_eq!(
            parse_nsswitch("passwd: files\n# subid: ldap\nsubid:   sss  \n"),
            Some("sss".into())
        );
        assert_eq!(parse_nsswitch("passwd: files\nsubid:\n"), None);
        assert_eq!(
            parse_nsswitch("subid:\nSUBID: files sss\n"),
            Some("files".into())
        );
        assert_eq!(parse_nsswitch("subid:\tsss files\n"), Some("sss".into()));
        let r =
            parse_getsubids("0: alice 100000 65536\n1: alice 300000 10\nbad line\n2: alice 5 0\n");
        assert_eq!(
            r.iter().map(|r| (r.start, r.count)).collect::<Vec<_>>(),
            vec![(100000, 65536), (300000, 10)]
        );
    }
}
