//! Subordinate ids that come from somewhere other than /etc/subuid: the
//! nsswitch `subid:` database (libsubid, as FreeIPA/SSSD provide it on
//! HPC clusters) read through shadow-utils' `getsubids`.

use std::process::{Command, Stdio};

/// The `subid:` line of /etc/nsswitch.conf ("sss", "files"), if any.
pub fn nsswitch_subid() -> Option<String> {
    let text = std::fs::read_to_string("/etc/nsswitch.conf").ok()?;
    parse_nsswitch(&text)
}

fn parse_nsswitch(text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .find_map(|l| l.strip_prefix("subid:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `getsubids [-g] USER`'s ranges as (start, count); None when the
/// program is missing or fails. Its output lines read
/// `0: user 100000 65536`.
pub fn getsubids(user: &str, groups: bool) -> Option<Vec<(u32, u32)>> {
    let program = crate::host::tools::find("getsubids")?;
    let mut cmd = Command::new(program);
    if groups {
        cmd.arg("-g");
    }
    let out = cmd
        .arg(user)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(parse_getsubids(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_getsubids(text: &str) -> Vec<(u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                [_, _, start, count] => Some((start.parse().ok()?, count.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nsswitch_and_getsubids() {
        assert_eq!(
            parse_nsswitch("passwd: files\n# subid: sss\nsubid: sss files\n").as_deref(),
            Some("sss files")
        );
        assert_eq!(parse_nsswitch("passwd: files\n"), None);
        assert_eq!(
            parse_getsubids("0: alice 100000 65536\n1: alice 300000 10\n"),
            vec![(100000, 65536), (300000, 10)]
        );
    }
}
