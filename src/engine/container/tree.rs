//! A directory tree as a tar stream: what `cp` out of a container, `export`
//! and `commit` write. Every node is opened relative to its parent's fd
//! without following a symlink, so a running container that swaps a
//! directory for a link cannot make hutch read outside its root. Owners are
//! the ids as this process sees them: inside the user namespace, the
//! container's own.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Dir, FileType, Mode, OFlags, Stat, openat};
use tar::{EntryType, Header};

use super::inroot::{file_type, lstat_at};

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn os(b: &[u8]) -> &std::ffi::OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(b)
}

/// Opens directory `name` in `dir` for listing, refusing a symlink.
pub fn open_dir_nofollow(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    openat(dir, os(name), flags, Mode::empty()).map_err(errno)
}

/// The names in a directory, sorted (archives come out the same twice).
pub fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let fd = openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)?;
    let mut names = Vec::new();
    let mut entries = Dir::read_from(&fd).map_err(errno)?;
    while let Some(e) = entries.read() {
        let e = e.map_err(errno)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    names.sort();
    Ok(names)
}

/// Writes tar entries from directory fds.
pub struct TreeWriter<W: Write> {
    builder: tar::Builder<W>,
    /// (dev, ino) of files with several links → the name first written,
    /// so later ones become hardlink entries.
    links: HashMap<(u64, u64), Vec<u8>>,
    /// Rewrites each entry's (uid, gid): a shifted container's upper
    /// directory holds its own ids, a layer the image's.
    owners: Option<Box<OwnerMap>>,
}

/// (uid, gid) on disk → (uid, gid) in the archive.
type OwnerMap = dyn Fn(u32, u32) -> (u32, u32);

impl<W: Write> TreeWriter<W> {
    pub fn new(out: W) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        TreeWriter {
            builder,
            links: HashMap::new(),
            owners: None,
        }
    }

    /// Entries' owners through `f` (see the field).
    pub fn with_owners(mut self, f: impl Fn(u32, u32) -> (u32, u32) + 'static) -> Self {
        self.owners = Some(Box::new(f));
        self
    }

    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }

    /// `name` in `dir` as `as_name`, and for a directory everything below.
    pub fn add_tree(&mut self, dir: BorrowedFd<'_>, name: &[u8], as_name: &[u8]) -> io::Result<()> {
        let is_dir = self.add_entry(dir, name, as_name)?;
        if is_dir == Some(true) {
            let sub = open_dir_nofollow(dir, name)?;
            self.add_children(sub.as_fd(), as_name)?;
        }
        Ok(())
    }

    /// Everything below directory `dir`, named `prefix/...` (no prefix:
    /// names relative to `dir`).
    pub fn add_children(&mut self, dir: BorrowedFd<'_>, prefix: &[u8]) -> io::Result<()> {
        for child in list(dir)? {
            let name = if prefix.is_empty() {
                child.clone()
            } else {
                [prefix, b"/", &child].concat()
            };
            self.add_tree(dir, &child, &name)?;
        }
        Ok(())
    }

    /// One node, not what is below it. `Some(true)` for a directory,
    /// `None` for what a tar cannot hold (a socket) or what vanished.
    pub fn add_entry(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        as_name: &[u8],
    ) -> io::Result<Option<bool>> {
        let Some(st) = lstat_at(dir, name)? else {
            return Ok(None);
        };
        self.add_stat(dir, name, as_name, &st)
    }

    fn add_stat(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        as_name: &[u8],
        st: &Stat,
    ) -> io::Result<Option<bool>> {
        let mut h = Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        let (uid, gid) = match &self.owners {
            Some(f) => f(st.st_uid, st.st_gid),
            None => (st.st_uid, st.st_gid),
        };
        h.set_uid(u64::from(uid));
        h.set_gid(u64::from(gid));
        h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
        h.set_size(0);
        let path = os(as_name);
        match file_type(st) {
            FileType::Directory => {
                h.set_entry_type(EntryType::Directory);
                let with_slash = [as_name, b"/"].concat();
                self.builder
                    .append_data(&mut h, os(&with_slash), io::empty())?;
                return Ok(Some(true));
            }
            FileType::RegularFile => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        h.set_entry_type(EntryType::Link);
                        let first = first.clone();
                        self.builder.append_link(&mut h, path, os(&first))?;
                        return Ok(Some(false));
                    }
                    self.links.insert(key, as_name.to_vec());
                }
                let fd = openat(
                    dir,
                    os(name),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
                    Mode::empty(),
                )
                .map_err(errno)?;
                let size = st.st_size as u64;
                h.set_entry_type(EntryType::Regular);
                h.set_size(size);
                let body = Exact {
                    inner: File::from(fd),
                    left: size,
                };
                self.builder.append_data(&mut h, path, body)?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, os(name), Vec::new()).map_err(errno)?;
                h.set_entry_type(EntryType::Symlink);
                self.builder
                    .append_link(&mut h, path, os(target.as_bytes()))?;
            }
            kind @ (FileType::CharacterDevice | FileType::BlockDevice) => {
                h.set_entry_type(match kind {
                    FileType::CharacterDevice => EntryType::Char,
                    _ => EntryType::Block,
                });
                h.set_device_major(rustix::fs::major(st.st_rdev))?;
                h.set_device_minor(rustix::fs::minor(st.st_rdev))?;
                self.builder.append_data(&mut h, path, io::empty())?;
            }
            FileType::Fifo => {
                h.set_entry_type(EntryType::Fifo);
                self.builder.append_data(&mut h, path, io::empty())?;
            }
            _ => return Ok(None),
        }
        Ok(Some(false))
    }

    /// An OCI whiteout for `as_name` (`dir/.wh.name`).
    pub fn add_whiteout(&mut self, as_name: &[u8]) -> io::Result<()> {
        let (dir, leaf) = match as_name.iter().rposition(|b| *b == b'/') {
            Some(i) => (&as_name[..=i], &as_name[i + 1..]),
            None => (&b""[..], as_name),
        };
        let name = [dir, b".wh.", leaf].concat();
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        h.set_mtime(0);
        self.builder.append_data(&mut h, os(&name), io::empty())
    }

    /// The opaque marker of directory `as_name`.
    pub fn add_opaque(&mut self, as_name: &[u8]) -> io::Result<()> {
        self.add_whiteout(&[as_name, b"/.wh..wh..opq"].concat())
    }
}

/// Exactly `left` bytes of `inner`: a file that shrinks while it is read
/// is padded with zeros, one that grows is cut, so the tar stays valid.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_with_links_and_whiteouts() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/a"), b"hello").unwrap();
        std::fs::hard_link(r.join("etc/a"), r.join("etc/b")).unwrap();
        std::os::unix::fs::symlink("/etc/a", r.join("etc/l")).unwrap();
        let root = super::super::inroot::open_root(r).unwrap();
        let mut w = TreeWriter::new(Vec::new());
        w.add_tree(root.as_fd(), b"etc", b"x").unwrap();
        w.add_whiteout(b"x/gone").unwrap();
        let bytes = w.finish().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let got: Vec<(String, EntryType)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().entry_type(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("x/".to_owned(), EntryType::Directory),
                ("x/a".to_owned(), EntryType::Regular),
                ("x/b".to_owned(), EntryType::Link),
                ("x/l".to_owned(), EntryType::Symlink),
                ("x/.wh.gone".to_owned(), EntryType::Regular),
            ]
        );
    }
}
