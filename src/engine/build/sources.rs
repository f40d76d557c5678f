//! What COPY and ADD read: paths in the build context (or in another
//! stage's image), resolved with that directory as `/` so a symlink can
//! never lead out of it, globs expanded, `.containerignore` applied, and
//! written as one tar stream whose names are relative to the destination.
//! The same stream, with times zeroed, is hashed for the layer cache.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};

use crate::engine::container::inroot;
use crate::engine::{Error, Result, ResultExt};
use crate::image::build::glob;
use crate::image::build::ignore::IgnoreRules;

/// A directory COPY reads from.
pub struct SourceRoot {
    pub path: PathBuf,
    fd: OwnedFd,
    pub ignore: IgnoreRules,
    /// How errors name it: `the build context "/src"`, `stage build`.
    pub shown: String,
}

/// One source found: its components below the root.
#[derive(Debug, Clone)]
pub struct Found {
    pub parts: Vec<String>,
    pub is_dir: bool,
}

impl SourceRoot {
    pub fn open(path: &Path, ignore: IgnoreRules, shown: String) -> Result<SourceRoot> {
        let fd = inroot::open_root(path).with_context(|| format!("opening {shown}"))?;
        Ok(SourceRoot {
            path: path.to_owned(),
            fd,
            ignore,
            shown,
        })
    }

    fn real(&self, parts: &[String]) -> PathBuf {
        let mut p = self.path.clone();
        p.extend(parts);
        p
    }

    /// The sources one COPY argument names. `COPY ../x` is refused: Podman
    /// and Docker would read the root's `x` instead, which hides a typo.
    pub fn find(&self, arg: &str) -> Result<Vec<Found>> {
        let Some(clean) = glob::clean(arg) else {
            crate::fail!(
                BadInput,
                "COPY/ADD source {arg:?} is outside {}: paths above the context are not allowed",
                self.shown
            );
        };
        if clean.iter().any(|c| glob::is_glob(c)) {
            let mut found = Vec::new();
            self.glob_walk(&clean, &mut Vec::new(), &mut found)?;
            if found.is_empty() {
                crate::fail!(
                    NotFound,
                    "COPY/ADD source {arg:?}: no file in {} matches",
                    self.shown
                );
            }
            return Ok(found);
        }
        let rel = clean.join("/");
        let missing = || {
            Error::not_found(format!(
                "checking on sources under {:?}: copier: stat: \"/{}\": no such file or directory",
                self.path.display().to_string(),
                clean.join("/")
            ))
        };
        if !rel.is_empty() && self.ignore.excluded(&rel) {
            return Err(missing());
        }
        let r = match inroot::resolve(self.fd.as_fd(), rel.as_bytes()) {
            Ok(r) if r.exists => r,
            Ok(_) => return Err(missing()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Err(missing());
            }
            Err(e) => {
                return Err(e).with_context(|| format!("resolving {arg:?} in {}", self.shown));
            }
        };
        let parts: Vec<String> = r
            .parts
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        let meta = std::fs::symlink_metadata(self.real(&parts)).map_err(|_| missing())?;
        Ok(vec![Found {
            parts,
            is_dir: meta.is_dir(),
        }])
    }

    fn glob_walk(
        &self,
        pattern: &[&str],
        at: &mut Vec<String>,
        out: &mut Vec<Found>,
    ) -> Result<()> {
        let Some((first, rest)) = pattern.split_first() else {
            let meta = std::fs::symlink_metadata(self.real(at))?;
            out.push(Found {
                parts: at.clone(),
                is_dir: meta.is_dir(),
            });
            return Ok(());
        };
        let dir = self.real(at);
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => return Ok(()),
        };
        names.sort();
        for n in names {
            if !glob::component_match(first, &n) {
                continue;
            }
            at.push(n);
            let rel = at.join("/");
            let meta = std::fs::symlink_metadata(self.real(at));
            let descend = rest.is_empty() || meta.as_ref().is_ok_and(|m| m.is_dir());
            if !self.ignore.excluded(&rel) && descend {
                self.glob_walk(rest, at, out)?;
            }
            at.pop();
        }
        Ok(())
    }
}

/// How entries are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryOptions {
    /// `--chmod`: every entry's permission bits.
    pub chmod: Option<u32>,
    /// For the cache key: no times, so that touching a file without
    /// changing it keeps the cache.
    pub zero_times: bool,
}

/// Writes tar entries from a source root.
pub struct SourceWriter<'a, W: Write> {
    root: &'a SourceRoot,
    builder: tar::Builder<W>,
    links: HashMap<(u64, u64), String>,
    opts: EntryOptions,
}

impl<'a, W: Write> SourceWriter<'a, W> {
    pub fn new(root: &'a SourceRoot, out: W, opts: EntryOptions) -> Self {
        SourceWriter {
            root,
            builder: tar::Builder::new(out),
            links: HashMap::new(),
            opts,
        }
    }

    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }

    /// A directory entry that the source does not hold (a destination's
    /// missing parent): root-owned, 0755.
    pub fn add_plain_dir(&mut self, name: &str) -> io::Result<()> {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        self.builder
            .append_data(&mut h, format!("{name}/"), io::empty())
    }

    /// A regular file from memory (a heredoc source).
    pub fn add_bytes(&mut self, name: &str, data: &[u8], mode: u32) -> io::Result<()> {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(self.opts.chmod.unwrap_or(mode));
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        self.builder.append_data(&mut h, name, data)
    }

    /// `src` as `name` (empty: its contents at the top, for a directory),
    /// and for a directory everything below it not ignored.
    pub fn add(&mut self, src: &Found, name: &str) -> io::Result<()> {
        let rel = src.parts.join("/");
        if src.is_dir {
            if !name.is_empty() {
                self.entry(&rel, name)?;
            }
            self.children(&rel, name)
        } else {
            self.entry(&rel, name)
        }
    }

    fn children(&mut self, rel: &str, name: &str) -> io::Result<()> {
        let dir = self.root.path.join(rel);
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for n in names {
            let n = n.to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                n.clone()
            } else {
                format!("{rel}/{n}")
            };
            let child_name = if name.is_empty() {
                n.clone()
            } else {
                format!("{name}/{n}")
            };
            let excluded = self.root.ignore.excluded(&child_rel);
            let meta = std::fs::symlink_metadata(self.root.path.join(&child_rel))?;
            if excluded && !(meta.is_dir() && self.root.ignore.has_exceptions()) {
                continue;
            }
            if !excluded {
                self.entry(&child_rel, &child_name)?;
            }
            if meta.is_dir() {
                self.children(&child_rel, &child_name)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, rel: &str, name: &str) -> io::Result<()> {
        let path = self.root.path.join(rel);
        let meta = std::fs::symlink_metadata(&path)?;
        let ft = meta.file_type();
        let mut h = Header::new_gnu();
        let mode = match self.opts.chmod {
            Some(m) => m,
            None => meta.mode() & 0o7777,
        };
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(if self.opts.zero_times {
            0
        } else {
            meta.mtime().max(0) as u64
        });
        h.set_size(0);
        if ft.is_file() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                h.set_entry_type(EntryType::Link);
                return self.builder.append_link(&mut h, name, first.clone());
            }
            self.links.insert(key, name.to_owned());
        }
        if ft.is_dir() {
            h.set_entry_type(EntryType::Directory);
            self.builder
                .append_data(&mut h, format!("{name}/"), io::empty())
        } else if ft.is_symlink() {
            h.set_entry_type(EntryType::Symlink);
            let target = std::fs::read_link(&path)?;
            self.builder.append_link(&mut h, name, &target)
        } else if ft.is_file() {
            h.set_entry_type(EntryType::Regular);
            h.set_size(meta.len());
            // The file is opened without following a link swapped in since.
            let f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)?;
            self.builder.append_data(&mut h, name, f.take(meta.len()))
        } else {
            // Sockets, fifos and devices are not copied (Docker skips
            // sockets; a rootless user cannot make devices).
            Ok(())
        }
    }
}

use std::os::unix::fs::OpenOptionsExt;

/// sha256 of what a writer function produces.
pub fn digest_of(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<String> {
    struct Hasher(Sha256);
    impl Write for Hasher {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.update(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hasher(Sha256::new());
    write(&mut h)?;
    Ok(hex(&h.0.finalize()))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The name of a source in a destination directory.
pub fn base_name(f: &Found) -> &str {
    f.parts.last().map(String::as_str).unwrap_or("")
}

pub fn name_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn ctx() -> (tempfile::TempDir, SourceRoot) {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("ctx");
        std::fs::create_dir_all(r.join("dir/sub")).unwrap();
        std::fs::write(r.join("a.txt"), b"a").unwrap();
        std::fs::write(r.join("b.txt"), b"b").unwrap();
        std::fs::write(r.join("x.secret"), b"s").unwrap();
        std::fs::write(r.join("dir/sub/deep.txt"), b"d").unwrap();
        std::fs::write(d.path().join("outside"), b"host").unwrap();
        symlink("../outside", r.join("up")).unwrap();
        symlink("/etc/passwd", r.join("abs")).unwrap();
        symlink("a.txt", r.join("in")).unwrap();
        std::fs::hard_link(r.join("a.txt"), r.join("hard")).unwrap();
        let ignore = IgnoreRules::parse("*.secret\n").unwrap();
        let root = SourceRoot::open(&r, ignore, "the context".into()).unwrap();
        (d, root)
    }

    fn names(found: &[Found]) -> Vec<String> {
        found.iter().map(|f| f.parts.join("/")).collect()
    }

    #[test]
    fn sources_resolve_inside_the_context() {
        let (_d, root) = ctx();
        assert_eq!(
            names(&root.find("in").unwrap()),
            ["a.txt"],
            "a link is followed inside"
        );
        assert!(
            root.find("up").is_err(),
            "../outside is not the host's file"
        );
        assert!(
            root.find("abs").is_err(),
            "/etc/passwd resolves to <ctx>/etc/passwd"
        );
        assert!(root.find("../outside").is_err());
        assert!(
            root.find("x.secret").is_err(),
            "ignored files are not there"
        );
        assert_eq!(names(&root.find("*.txt").unwrap()), ["a.txt", "b.txt"]);
        assert_eq!(
            names(&root.find("dir/*/deep.txt").unwrap()),
            ["dir/sub/deep.txt"]
        );
        assert!(root.find("nothing*").is_err());
    }

    #[test]
    fn streams_keep_links_and_skip_ignored_files() {
        let (_d, root) = ctx();
        let all = root.find(".").unwrap();
        let mut buf = Vec::new();
        let mut w = SourceWriter::new(&root, &mut buf, EntryOptions::default());
        w.add(&all[0], "").unwrap();
        w.finish().unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let mut seen = Vec::new();
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            let kind = e.header().entry_type();
            let link = e.link_name().unwrap().map(|l| l.display().to_string());
            seen.push((e.path().unwrap().display().to_string(), kind, link));
        }
        let find = |n: &str| {
            seen.iter()
                .find(|s| s.0.trim_end_matches('/') == n)
                .cloned()
        };
        assert!(find("x.secret").is_none());
        assert_eq!(find("up").unwrap().2.as_deref(), Some("../outside"));
        assert_eq!(find("abs").unwrap().1, EntryType::Symlink);
        // One of a.txt and hard is a hard link to the other.
        let links = seen.iter().filter(|s| s.1 == EntryType::Link).count();
        assert_eq!(links, 1, "{seen:?}");
        // The cache digest ignores times but not contents.
        let digest = |root: &SourceRoot| {
            digest_of(|w| {
                let mut sw = SourceWriter::new(
                    root,
                    w,
                    EntryOptions {
                        chmod: None,
                        zero_times: true,
                    },
                );
                sw.add(&root.find("a.txt").unwrap()[0], "a.txt")?;
                sw.finish()?;
                Ok(())
            })
            .unwrap()
        };
        let before = digest(&root);
        let f = std::fs::File::options()
            .append(true)
            .open(root.path.join("a.txt"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(digest(&root), before);
        std::fs::write(root.path.join("a.txt"), b"changed").unwrap();
        assert_ne!(digest(&root), before);
    }
}
