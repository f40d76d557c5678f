//! Container logs in the k8s-file format Podman writes by default
//! (`2024-01-02T03:04:05.123456789Z stdout F text`): the writer, used by the
//! monitor. `hutch logs` reads them back (`hutch::runtime::logfile`).
//!
//! A line is tagged `F` when it ended in a newline and `P` when the
//! container wrote part of a line (a prompt, a progress bar) before more
//! output came; readers join partials. Rotation by `--log-opt max-size`
//! keeps one previous file, `<path>.1`, so a noisy container cannot fill the
//! disk and `logs` still shows the recent past.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// `2024-01-02T03:04:05.123456789Z`, nanoseconds always printed (RFC 3339
/// nano as Go writes it for k8s-file, fixed width so lines sort as text).
pub fn timestamp(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000) as i64;
    let nanos = ns.rem_euclid(1_000_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm); a
/// copy of `hutch::host::time`'s, which this crate cannot depend on.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Appends container output to a k8s-file log.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
}

impl LogWriter {
    pub fn open(path: &Path, max_size: Option<u64>) -> io::Result<LogWriter> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_owned(),
            file,
            size,
            max_size,
        })
    }

    /// Writes what one read from the container's pipe returned: every
    /// complete line as `F`, a trailing fragment as `P`.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        self.write_at(stream, data, now_ns())
    }

    /// As [`LogWriter::write`], at a given time (tests write fixed stamps).
    pub fn write_at(&mut self, stream: Stream, data: &[u8], ns: i128) -> io::Result<()> {
        let stamp = timestamp(ns);
        let mut out = Vec::with_capacity(data.len() + 48);
        for piece in data.split_inclusive(|b| *b == b'\n') {
            let (text, tag) = match piece.strip_suffix(b"\n") {
                Some(t) => (t, "F"),
                None => (piece, "P"),
            };
            out.extend_from_slice(format!("{stamp} {} {tag} ", stream.name()).as_bytes());
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        if let Some(max) = self.max_size
            && self.size + out.len() as u64 > max
            && self.size > 0
        {
            self.rotate()?;
        }
        self.file.write_all(&out)?;
        self.size += out.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let old = rotated(&self.path);
        fs::rename(&self.path, &old)?;
        *self = LogWriter::open(&self.path, self.max_size)?;
        Ok(())
    }
}

/// The previous file kept by rotation.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_nanoseconds() {
        assert_eq!(
            timestamp(1_795_873_589_000_000_042),
            "2026-11-28T13:46:29.000000042Z"
        );
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn rotation_keeps_one_previous_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ctr.log");
        let mut w = LogWriter::open(&path, Some(200)).expect("open");
        for i in 0..20 {
            w.write_at(Stream::Stdout, format!("line {i}\n").as_bytes(), i)
                .expect("write");
        }
        assert!(fs::metadata(&path).expect("stat").len() <= 200);
        assert!(rotated(&path).exists());
        let last = fs::read_to_string(&path).expect("read");
        assert!(last.ends_with("stdout F line 19\n"), "{last}");
    }
}
