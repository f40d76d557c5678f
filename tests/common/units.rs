//! Generated units read as systemd reads them, for tests that run a
//! unit's commands on a host without systemd.

use std::path::Path;

use super::{TestEnv, stderr, stdout};

/// Every value of `key=` in a unit, continuation lines joined.
pub fn values(unit: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = unit.lines();
    while let Some(l) = lines.next() {
        if let Some(v) = l.strip_prefix(&format!("{key}=")) {
            let mut v = v.to_owned();
            while v.ends_with('\\') {
                v.pop();
                v.push_str(lines.next().unwrap_or("").trim_start());
            }
            out.push(v);
        }
    }
    out
}

/// The value of `key=` in a unit, continuation lines joined.
pub fn unit_value(unit: &str, key: &str) -> Option<String> {
    let mut lines = unit.lines();
    while let Some(l) = lines.next() {
        if let Some(v) = l.strip_prefix(&format!("{key}=")) {
            let mut v = v.to_owned();
            while v.ends_with('\\') {
                v.pop();
                v.push_str(lines.next().unwrap_or("").trim_start());
            }
            return Some(v);
        }
    }
    None
}

/// A unit's command line as systemd splits it (quotes, `\"`, `%%`, `$$`),
/// with `%t` and `%n` given.
pub fn split_command(line: &str, t: &str, n: &str) -> Vec<String> {
    let line = line.replace("%t", t).replace("%n", n);
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    cur.push(next);
                }
                any = true;
            }
            '"' => {
                in_quotes = !in_quotes;
                any = true;
            }
            '%' if chars.peek() == Some(&'%') => {
                chars.next();
                cur.push('%');
            }
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                cur.push('$');
            }
            ' ' | '\t' if !in_quotes => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// The services of `hutch quadlet --dryrun`, by name.
pub fn services(out: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = out.split("---").collect();
    parts[1..]
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].to_owned(), c[1].to_owned()))
        .collect()
}

/// Runs services' commands as systemd would, with `%t` a directory of the
/// test's.
pub struct Runner<'a> {
    pub env: &'a TestEnv,
    pub services: Vec<(String, String)>,
    pub t: String,
}

impl Runner<'_> {
    pub fn unit(&self, name: &str) -> &str {
        &self
            .services
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} among {:?}", self.names()))
            .1
    }

    pub fn names(&self) -> Vec<&str> {
        self.services.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Every `key=` line of `service`, as argument lists (a leading `-`,
    /// "failure ignored", dropped).
    pub fn commands(&self, service: &str, key: &str) -> Vec<Vec<String>> {
        let unit = self.unit(service);
        let stem = service.trim_end_matches(".service");
        values(unit, key)
            .iter()
            .map(|line| {
                let line = line.trim_start_matches('-').replace("%N", stem);
                split_command(&line, &self.t, service)
            })
            .collect()
    }

    /// Runs every `key=` command of `service`, in `dir` when given, and
    /// requires success.
    pub fn run(&self, service: &str, key: &str, dir: Option<&Path>) {
        for words in self.commands(service, key) {
            // The container services' `/bin/rm -f %t/%N.cid`.
            if !words[0].ends_with("/hutch") {
                assert_eq!(words[..2], ["/bin/rm", "-f"], "{words:?}");
                let _ = std::fs::remove_file(&words[2]);
                continue;
            }
            let args = &words[1..];
            let mut cmd = self.env.hutch(args);
            if let Some(d) = dir {
                cmd.current_dir(d);
            }
            let out = cmd.output().expect("start hutch");
            assert!(
                out.status.success(),
                "{service} {key}: hutch {args:?}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
    }

    pub fn start(&self, service: &str) {
        self.run(service, "ExecStartPre", None);
        self.run(service, "ExecStart", None);
    }

    pub fn stop(&self, service: &str) {
        self.run(service, "ExecStop", None);
        self.run(service, "ExecStopPost", None);
    }
}
