//! `ADD <url>`: each URL fetched into a private directory under the graph
//! root, which COPY's machinery then reads as its source root. The file
//! gets mode 0600 and the `Last-Modified` time, as buildah gives it; it
//! is never unpacked, whatever it holds (Docker's rule). A download is
//! bounded by [`MAX_DOWNLOAD`] and checked against `--checksum`.

use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::engine::{Error, ErrorKind, Result, ResultExt};
use crate::image::build::ignore::IgnoreRules;
use crate::image::registry::fetch;
use hutch_storage::Store;

use super::sources::{self, SourceRoot};

/// Bytes of one `ADD <url>` at most (Docker and buildah have no bound;
/// hutch holds the file on disk before it becomes a layer).
pub const MAX_DOWNLOAD: u64 = 1 << 30;

/// Downloaded files, removed when dropped.
pub struct Downloads {
    pub root: SourceRoot,
    /// The file names in `root`, one per URL, in order.
    pub names: Vec<String>,
    dir: PathBuf,
}

impl Drop for Downloads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The name a URL's file gets: the last segment of its path (buildah's
/// rule), made safe to be one path component.
pub fn file_name(url: &str) -> String {
    let path = url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(url)
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let last = path
        .split_once('/')
        .map(|(_, p)| p)
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default();
    match last {
        "" | "." | ".." => "download".to_owned(),
        n => n.to_owned(),
    }
}

/// Fetches `urls`; `checksum` (`sha256:HEX`) checks the only one.
pub fn fetch_all(store: &Store, urls: &[String], checksum: Option<&str>) -> Result<Downloads> {
    if checksum.is_some() && urls.len() != 1 {
        crate::fail!(BadInput, "ADD --checksum takes exactly one URL source");
    }
    let want = match checksum {
        None => None,
        Some(c) => {
            let hex = c.strip_prefix("sha256:").ok_or_else(|| {
                Error::bad_input(format!(
                    "ADD --checksum={c}: only sha256:<64 hex digits> is supported"
                ))
            })?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                crate::fail!(BadInput, "ADD --checksum={c}: not a sha256 digest");
            }
            Some(hex.to_ascii_lowercase())
        }
    };
    let dir = super::runmounts::private_dir(&store.root().join("build-mounts/tmp"))?;
    let mut names: Vec<String> = Vec::new();
    let done = |dir: PathBuf, names: Vec<String>| -> Result<Downloads> {
        let root = SourceRoot::open(&dir, IgnoreRules::default(), "the downloads".into())?;
        Ok(Downloads { root, names, dir })
    };
    let result = (|| -> Result<()> {
        for url in urls {
            let mut name = file_name(url);
            // Two URLs with one file name: the later one is kept apart.
            while names.contains(&name) {
                name.push('_');
            }
            let path = dir.join(&name);
            let file = std::fs::File::create(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut w = Hashing {
                inner: std::io::BufWriter::new(file),
                hash: Sha256::new(),
            };
            let got = fetch::fetch(url, MAX_DOWNLOAD, &mut w).map_err(|e| {
                let kind = match e {
                    fetch::FetchError::TooLarge { .. } => ErrorKind::BadInput,
                    fetch::FetchError::Status { status: 404, .. } => ErrorKind::NotFound,
                    _ => ErrorKind::Internal,
                };
                Error::new(kind, e)
            })?;
            let file = w.inner.into_inner().map_err(|e| e.into_error())?;
            if let Some(want) = &want {
                let have = sources::hex(&w.hash.finalize());
                if &have != want {
                    crate::fail!(
                        BadInput,
                        "ADD --checksum: {url} has digest sha256:{have}, not sha256:{want}"
                    );
                }
            }
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            if let Some(t) = got.last_modified.and_then(|t| u64::try_from(t).ok()) {
                file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))?;
            }
            names.push(name);
        }
        Ok(())
    })();
    match result {
        Ok(()) => done(dir, names),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn names_from_urls() {
        assert_eq!(file_name("http://h/a/b.tar.gz?x=1#f"), "b.tar.gz");
        assert_eq!(file_name("https://h:8/x"), "x");
        assert_eq!(file_name("https://h/"), "download");
        assert_eq!(file_name("https://h"), "download");
        assert_eq!(file_name("http://h/a/.."), "download");
    }
}
