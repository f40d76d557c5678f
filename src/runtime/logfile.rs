//! Container logs in the k8s-file format Podman writes by default
//! (`2024-01-02T03:04:05.123456789Z stdout F text`): read back by `logs`.
//! The monitor writes them (`hutch_monitor::logfile`, re-exported here).

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

pub use hutch_monitor::logfile::{LogWriter, Stream, rotated, timestamp};

use crate::host::time;

/// One line read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Nanoseconds since the epoch.
    pub time_ns: i128,
    pub stream: Stream,
    /// Without its newline.
    pub text: String,
}

/// Parses one k8s-file line; `None` for anything else (a torn last line).
pub fn parse_line(line: &str) -> Option<(i128, Stream, bool, &str)> {
    let mut parts = line.splitn(4, ' ');
    let ts = parts.next()?;
    let stream = match parts.next()? {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match parts.next()? {
        "F" => false,
        "P" => true,
        _ => return None,
    };
    let text = parts.next().unwrap_or("");
    let (whole, frac) = ts.strip_suffix('Z')?.split_once('.')?;
    let secs = time::parse_rfc3339(&format!("{whole}Z"))?;
    let nanos: i128 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    Some((
        i128::from(secs) * 1_000_000_000 + nanos,
        stream,
        partial,
        text,
    ))
}

/// Which lines `logs` wants.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub since_ns: Option<i128>,
    pub until_ns: Option<i128>,
    /// The last N lines only.
    pub tail: Option<usize>,
}

/// Reads the rotated file then the current one, joins partial lines and
/// applies the filter.
pub fn read(path: &Path, filter: &LogFilter) -> io::Result<Vec<LogLine>> {
    let mut lines: Vec<LogLine> = Vec::new();
    let mut pending: Option<LogLine> = None;
    for p in [rotated(path), path.to_owned()] {
        let file = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for raw in BufReader::new(file).lines() {
            let raw = raw?;
            let Some((ns, stream, partial, text)) = parse_line(&raw) else {
                continue;
            };
            let line = match pending.take() {
                Some(mut p) if p.stream == stream => {
                    p.text.push_str(text);
                    p
                }
                other => {
                    lines.extend(other);
                    LogLine {
                        time_ns: ns,
                        stream,
                        text: text.to_owned(),
                    }
                }
            };
            if partial {
                pending = Some(line);
            } else {
                lines.push(line);
            }
        }
    }
    lines.extend(pending);
    lines.retain(|l| {
        filter.since_ns.is_none_or(|s| l.time_ns >= s)
            && filter.until_ns.is_none_or(|u| l.time_ns <= u)
    });
    if let Some(n) = filter.tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const T0: i128 = 1_795_873_589_000_000_042;

    #[test]
    fn lines_are_tagged_full_or_partial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&path, None).unwrap();
        w.write_at(Stream::Stdout, b"hello\nprompt> ", T0).unwrap();
        w.write_at(Stream::Stdout, b"answer\n", T0 + 1).unwrap();
        w.write_at(Stream::Stderr, b"oops\n", T0 + 2).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "2026-11-28T13:46:29.000000042Z stdout F hello\n\
             2026-11-28T13:46:29.000000042Z stdout P prompt> \n\
             2026-11-28T13:46:29.000000043Z stdout F answer\n\
             2026-11-28T13:46:29.000000044Z stderr F oops\n"
        );
        let lines = read(&path, &LogFilter::default()).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["hello", "prompt> answer", "oops"]);
        assert_eq!(lines[2].stream, Stream::Stderr);
    }

    #[test]
    fn filters_since_until_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&path, None).unwrap();
        for i in 0..5 {
            w.write_at(
                Stream::Stdout,
                format!("line {i}\n").as_bytes(),
                T0 + i * 1_000_000_000,
            )
            .unwrap();
        }
        let tail = read(
            &path,
            &LogFilter {
                tail: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            tail.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            ["line 3", "line 4"]
        );
        let window = read(
            &path,
            &LogFilter {
                since_ns: Some(T0 + 1_000_000_000),
                until_ns: Some(T0 + 2_000_000_000),
                tail: None,
            },
        )
        .unwrap();
        assert_eq!(
            window.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            ["line 1", "line 2"]
        );
    }

    #[test]
    fn rotation_keeps_one_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&path, Some(200)).unwrap();
        for i in 0..20 {
            w.write_at(Stream::Stdout, format!("line {i}\n").as_bytes(), T0 + i)
                .unwrap();
        }
        assert!(fs::metadata(&path).unwrap().len() <= 200);
        assert!(rotated(&path).exists());
        let lines = read(&path, &LogFilter::default()).unwrap();
        assert_eq!(lines.last().map(|l| l.text.as_str()), Some("line 19"));
        assert!(lines.len() < 20, "older lines rotated away");
    }

    #[test]
    fn torn_or_foreign_lines_are_skipped() {
        assert!(parse_line("garbage").is_none());
        assert!(parse_line("2026-11-28T13:46:29.5Z stdout X text").is_none());
        let (ns, stream, partial, text) =
            parse_line("2026-11-28T13:46:29.5Z stderr F a b").unwrap();
        assert_eq!(
            (ns % 1_000_000_000, stream, partial, text),
            (500_000_000, Stream::Stderr, false, "a b")
        );
    }
}
