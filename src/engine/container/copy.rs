//! `cp`: files between a container and the host (or another container),
//! or a tar stream on stdin/stdout, with Podman's (Docker's) rules for
//! what the destination becomes.
//!
//! The source is written as a tar stream by one thread and applied to the
//! destination by the storage crate's extractor, the same code that
//! applies image layers: it never writes through a symlink, and inside a
//! container the destination directory itself was resolved with the
//! container's `/` as root (see [`super::inroot`]), so a link planted in
//! the container (`/escape -> /`) leads back into the container.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::engine::{Error, Result, ResultExt};
use hutch_storage::Store;
use hutch_storage::extract::{self, ApplyOptions, Ownership, WhiteoutFormat};

use super::inroot::{self, Resolved, file_type};
use super::rootfs::MountedRoot;
use super::tree::TreeWriter;
use crate::engine::state::{Container, State};

/// One side of a copy, as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Host(String),
    Container {
        container: String,
        path: String,
    },
    /// `-`: a tar stream on stdin (source) or stdout (destination).
    Stream,
}

impl Location {
    /// Podman's parsing: `CTR:PATH` unless the argument starts with `.` or
    /// `/` (then it is a host path even with a colon in it).
    pub fn parse(arg: &str) -> Location {
        if arg == "-" {
            return Location::Stream;
        }
        if !arg.starts_with(['.', '/'])
            && let Some((c, p)) = arg.split_once(':')
        {
            return Location::Container {
                container: c.to_owned(),
                path: p.to_owned(),
            };
        }
        Location::Host(arg.to_owned())
    }
}

pub struct CopyRequest {
    pub source: Location,
    pub dest: Location,
    /// Podman's `--archive` (default true): files copied into a container
    /// belong to the container's user; false keeps the archive's owners.
    pub archive: bool,
    /// Let a directory replace a non-directory and the reverse.
    pub overwrite: bool,
}

/// What the source stream holds.
struct Source<'a> {
    tree: Tree,
    is_dir: bool,
    /// `SRC/.`: the directory's contents, not the directory.
    contents_only: bool,
    /// The name the copy takes in a destination directory.
    base: Vec<u8>,
    _root: Option<ContainerView<'a>>,
}

/// The directory holding the source, and the source's name in it;
/// `None`: the source is `dir` itself (a container's `/`).
struct Tree {
    dir: OwnedFd,
    leaf: Option<Vec<u8>>,
}

/// Where the stream is applied.
struct Dest<'a> {
    dir: OwnedFd,
    ownership: Ownership,
    _root: Option<ContainerView<'a>>,
}

/// Where a container path is for `cp`, as the container sees it: relative
/// paths start at its working directory; in a running container the
/// lookup starts at its init's `/proc/PID/root`, so the container's mounts
/// (volumes, binds, tmpfs) are crossed as inside it, not written under
/// them into the root file system; in a container that does not run, a
/// path under a volume or bind mount goes to the mount's source directory.
struct ContainerView<'a> {
    /// The root file system, mounted for as long as the copy lasts (the
    /// container's own /etc/passwd is read there).
    pin: MountedRoot<'a>,
    /// `O_PATH` fd every lookup of `path` starts from.
    fd: OwnedFd,
    /// The path to look up below `fd`, absolute.
    path: String,
}

impl<'a> ContainerView<'a> {
    fn open(store: &'a Store, state: &'a State, c: &Container, path: &str) -> Result<Self> {
        let pin = MountedRoot::mount(store, state, c)?;
        let abs = if path.starts_with('/') {
            path.to_owned()
        } else {
            let wd = c
                .spec
                .workdir
                .clone()
                .or_else(|| super::workdir::image_workdir(store, c))
                .unwrap_or_default();
            format!("{}/{path}", wd.trim_end_matches('/'))
        };
        let running = matches!(
            c.state,
            crate::engine::state::ContainerState::Running
                | crate::engine::state::ContainerState::Paused
        );
        if running
            && let Some(pid) = c.pid
            && let Some(fd) = process_root(pid)
        {
            return Ok(ContainerView { pin, fd, path: abs });
        }
        let userdata = store.root().join("containers").join(&c.id).join("userdata");
        if let Some((source, rest)) = mount_source(&userdata, &abs)
            && let Ok(fd) = inroot::open_root(&source)
        {
            return Ok(ContainerView {
                pin,
                fd,
                path: rest,
            });
        }
        let fd = pin
            .fd
            .try_clone()
            .context("duplicating the root file system's fd")?;
        Ok(ContainerView { pin, fd, path: abs })
    }
}

/// `/proc/PID/root` of a container's init, when that process is ours (its
/// /proc directory owned by the caller: never a pid reused by another
/// user's process).
fn process_root(pid: i32) -> Option<OwnedFd> {
    use std::os::unix::fs::MetadataExt;
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let me = rustix::process::geteuid().as_raw();
    (std::fs::metadata(&dir).ok()?.uid() == me)
        .then(|| inroot::open_root(&dir.join("root")).ok())
        .flatten()
}

/// The source directory of the bind (or volume) mount holding `abs` in the
/// container's OCI config, and `abs` below it: the longest destination
/// wins, as mounts stack.
fn mount_source(userdata: &Path, abs: &str) -> Option<(PathBuf, String)> {
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(userdata.join("config.json")).ok()?).ok()?;
    let clean = abs.trim_end_matches('/');
    spec["mounts"]
        .as_array()?
        .iter()
        .filter(|m| m["type"] == "bind")
        .filter_map(|m| {
            let dest = m["destination"].as_str()?.trim_end_matches('/');
            let source = PathBuf::from(m["source"].as_str()?);
            let rest = if clean == dest {
                "/".to_owned()
            } else {
                clean
                    .strip_prefix(dest)?
                    .strip_prefix('/')
                    .map(|r| format!("/{r}"))?
            };
            // Files bound over the root (resolv.conf, hosts) stay reached
            // through the root: only directories are redirected.
            source.is_dir().then_some((dest.len(), source, rest))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, source, rest)| {
            // A trailing `/` on the request keeps its meaning below.
            let rest = if abs.ends_with('/') && rest != "/" {
                format!("{rest}/")
            } else {
                rest
            };
            (source, rest)
        })
}

fn not_found(path: &str, place: &str) -> Error {
    Error::not_found(format!(
        "{path:?} could not be found on {place}: no such file or directory"
    ))
}

pub fn copy(
    store: &Store,
    state: &State,
    rootless: bool,
    req: &CopyRequest,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<()> {
    match (&req.source, &req.dest) {
        (Location::Container { .. }, _) | (_, Location::Container { .. }) => {}
        _ => crate::fail!(
            BadInput,
            "invalid arguments {}, {} you must use just one container",
            shown(&req.source),
            shown(&req.dest)
        ),
    }
    let source = match &req.source {
        Location::Stream => None,
        Location::Host(p) => Some(host_source(p)?),
        Location::Container { container, path } => {
            let c = lookup(state, container)?;
            Some(container_source(store, state, &c, path)?)
        }
    };
    if let Location::Stream = req.dest {
        let source = source.ok_or_else(|| Error::bad_input("cannot copy from stdin to stdout"))?;
        let name = (!source.contents_only).then(|| source.base.clone());
        write_source(&source.tree, name.as_deref(), &mut *stdout)?;
        stdout.flush()?;
        return Ok(());
    }
    let (place, resolved, dest_dir_of) = match &req.dest {
        Location::Host(p) => {
            let (r, dir) = host_dest(p)?;
            (Place::Host, r, dir)
        }
        Location::Container { container, path } => {
            let c = lookup(state, container)?;
            let root = ContainerView::open(store, state, &c, path)?;
            let r = match inroot::resolve(root.fd.as_fd(), root.path.as_bytes()) {
                Ok(r) => r,
                Err(e) if is_missing(&e) => {
                    return Err(not_found(path, &format!("container {}", c.name)));
                }
                Err(e) => return Err(e).with_context(|| format!("resolving {path} in {}", c.name)),
            };
            if !r.exists && path.ends_with('/') {
                return Err(not_found(path, &format!("container {}", c.name)));
            }
            let ownership = match req.archive {
                true => {
                    let (uid, gid) = container_user(store, &c, root.pin.fd.as_fd())?;
                    Ownership::Fixed { uid, gid }
                }
                false => Ownership::Preserve,
            };
            (
                Place::Container {
                    root,
                    ownership,
                    name: c.name.clone(),
                },
                r,
                None,
            )
        }
        Location::Stream => unreachable!("handled above"),
    };
    let dest_path = match &req.dest {
        Location::Host(p) | Location::Container { path: p, .. } => p.clone(),
        Location::Stream => String::new(),
    };
    let (dir_parts, leaf_name) = match resolved.parts.split_last() {
        Some((leaf, dir)) => (dir.to_vec(), Some(leaf.clone())),
        None => (Vec::new(), None),
    };
    let open = |parts: &[Vec<u8>]| -> Result<OwnedFd> {
        match (&place, &dest_dir_of) {
            (Place::Container { root, .. }, _) => inroot::open_dir(root.fd.as_fd(), parts)
                .with_context(|| format!("opening {dest_path}")),
            (Place::Host, Some(base)) => open_host_dir(&base.join(join_parts(parts)))
                .with_context(|| format!("opening {dest_path}")),
            (Place::Host, None) => unreachable!("a host destination has a base"),
        }
    };
    let dest_kind = match resolved.exists {
        false => None,
        true => {
            let dir = open(&dir_parts)?;
            match &leaf_name {
                None => Some(true),
                Some(l) => inroot::lstat_at(dir.as_fd(), l)?
                    .map(|st| file_type(&st) == rustix::fs::FileType::Directory),
            }
        }
    };
    // Where the stream goes, and under which name.
    let (target_parts, name): (Vec<Vec<u8>>, Option<Vec<u8>>) = match (&source, dest_kind) {
        (None, Some(true)) => (resolved.parts.clone(), None),
        (None, _) => crate::fail!(
            BadInput,
            "destination must be a directory when copying from stdin"
        ),
        (Some(s), Some(true)) if s.contents_only => (resolved.parts.clone(), None),
        (Some(s), Some(true)) => (resolved.parts.clone(), Some(s.base.clone())),
        (Some(s), Some(false)) if s.is_dir => {
            crate::fail!(
                BadInput,
                "destination must be a directory when copying a directory"
            )
        }
        (Some(_), _) => {
            let Some(leaf) = leaf_name.clone() else {
                crate::fail!(BadInput, "cannot copy onto the root directory itself")
            };
            (dir_parts.clone(), Some(leaf))
        }
    };
    let target = open(&target_parts)?;
    if let (Some(s), Some(n)) = (&source, &name)
        && !req.overwrite
        && let Some(st) = inroot::lstat_at(target.as_fd(), n)?
    {
        let existing_dir = file_type(&st) == rustix::fs::FileType::Directory;
        let shown_target = format!("{}/{}", display_parts(&target_parts), lossy(n));
        if existing_dir && !s.is_dir {
            crate::fail!(
                BadInput,
                "cannot overwrite directory {shown_target:?} with non-directory {:?}",
                shown(&req.source)
            );
        }
        if !existing_dir && s.is_dir {
            crate::fail!(
                BadInput,
                "cannot overwrite non-directory {shown_target:?} with directory {:?}",
                shown(&req.source)
            );
        }
    }
    let (ownership, where_) = match &place {
        Place::Container {
            ownership, name, ..
        } => (*ownership, format!("container {name}")),
        // Copies out belong to the user who runs hutch, as in Podman.
        Place::Host => (Ownership::Ignore, "the host".to_owned()),
    };
    let dest = Dest {
        dir: target,
        ownership,
        _root: match place {
            Place::Container { root, .. } => Some(root),
            Place::Host => None,
        },
    };
    let opts = ApplyOptions {
        whiteouts: WhiteoutFormat::Literal,
        ownership: dest.ownership,
        skip_devices: rootless,
    };
    let applied = match &source {
        // A compressed tar on stdin (gzip, zstd) is taken as Podman takes
        // it (its DecompressStream).
        None => extract::decompress(&mut *stdin)
            .context("reading the tar stream")
            .and_then(|mut tar| {
                extract::apply_layer_at(&mut tar, dest.dir.as_fd(), &opts)
                    .map(|_| ())
                    .map_err(|e| Error::from(anyhow::Error::from(e)))
            }),
        Some(s) => pump(s, name.as_deref(), dest.dir.as_fd(), &opts),
    };
    applied.with_context(|| format!("copying to {dest_path:?} on {where_}"))
}

enum Place<'a> {
    Host,
    Container {
        root: ContainerView<'a>,
        ownership: Ownership,
        name: String,
    },
}

fn shown(l: &Location) -> String {
    match l {
        Location::Host(p) => p.clone(),
        Location::Container { container, path } => format!("{container}:{path}"),
        Location::Stream => "-".to_owned(),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn join_parts(parts: &[Vec<u8>]) -> PathBuf {
    parts.iter().map(|p| OsStr::from_bytes(p)).collect()
}

fn display_parts(parts: &[Vec<u8>]) -> String {
    Resolved {
        parts: parts.to_vec(),
        exists: true,
    }
    .display()
    .trim_end_matches('/')
    .to_owned()
}

fn is_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR))
}

fn open_host_dir(path: &Path) -> io::Result<OwnedFd> {
    inroot::open_root(path)
}

/// The source stream goes through a pipe: one thread writes the tar, this
/// one applies it.
fn pump(
    source: &Source<'_>,
    name: Option<&[u8]>,
    dest: BorrowedFd<'_>,
    opts: &ApplyOptions,
) -> Result<()> {
    let (reader, writer) = io::pipe().context("creating a pipe")?;
    std::thread::scope(|s| {
        let tree = &source.tree;
        let producer = s.spawn(move || write_source(tree, name, writer));
        let applied = extract::apply_layer_at(io::BufReader::new(reader), dest, opts);
        let produced = producer
            .join()
            .map_err(|_| Error::internal("the archive writer panicked"))?;
        // The extractor's error explains a writer's broken pipe, not the
        // reverse.
        applied.map_err(|e| Error::from(anyhow::Error::from(e)))?;
        produced
    })
}

fn write_source(source: &Tree, name: Option<&[u8]>, out: impl Write) -> Result<()> {
    let mut w = TreeWriter::new(io::BufWriter::new(out));
    let dir = source.dir.as_fd();
    match (&source.leaf, name) {
        (Some(leaf), Some(n)) => w.add_tree(dir, leaf, n)?,
        (Some(leaf), None) => {
            let sub = super::tree::open_dir_nofollow(dir, leaf)?;
            w.add_children(sub.as_fd(), b"")?;
        }
        (None, Some(n)) => {
            w.add_entry(dir, b".", n)?;
            w.add_children(dir, n)?;
        }
        (None, None) => w.add_children(dir, b"")?,
    }
    w.finish()?.flush()?;
    Ok(())
}

fn host_source(p: &str) -> Result<Source<'static>> {
    let meta = std::fs::metadata(p).map_err(|_| not_found(p, "the host"))?;
    // A host symlink is copied as its target, as Podman does.
    let real = std::fs::canonicalize(p).map_err(|_| not_found(p, "the host"))?;
    let contents_only = p.ends_with("/.");
    let given = Path::new(p.trim_end_matches('/'));
    let base = given
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .or_else(|| real.file_name())
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_else(|| b"root".to_vec());
    let (dir, leaf) = match (real.parent(), real.file_name()) {
        (Some(parent), Some(leaf)) => (parent.to_owned(), Some(leaf.as_bytes().to_vec())),
        _ => (real.clone(), None),
    };
    Ok(Source {
        tree: Tree {
            dir: open_host_dir(&dir).with_context(|| format!("opening {}", dir.display()))?,
            leaf,
        },
        is_dir: meta.is_dir(),
        contents_only: contents_only && meta.is_dir(),
        base,
        _root: None,
    })
}

fn container_source<'a>(
    store: &'a Store,
    state: &'a State,
    c: &Container,
    path: &str,
) -> Result<Source<'a>> {
    let root = ContainerView::open(store, state, c, path)?;
    let missing = || not_found(path, &format!("container {}", c.name));
    let r = match inroot::resolve(root.fd.as_fd(), root.path.as_bytes()) {
        Ok(r) if r.exists => r,
        Ok(_) => return Err(missing()),
        Err(e) if is_missing(&e) => return Err(missing()),
        Err(e) => return Err(e).with_context(|| format!("resolving {path} in {}", c.name)),
    };
    let (dir, leaf, is_dir) = match r.parts.split_last() {
        None => (inroot::open_dir(root.fd.as_fd(), &[])?, None, true),
        Some((leaf, parent)) => {
            let dir = inroot::open_dir(root.fd.as_fd(), parent)?;
            let st = inroot::lstat_at(dir.as_fd(), leaf)?.ok_or_else(missing)?;
            let is_dir = file_type(&st) == rustix::fs::FileType::Directory;
            (dir, Some(leaf.clone()), is_dir)
        }
    };
    Ok(Source {
        // A mount's own directory (resolved as its view's root) is named as
        // the request names it.
        base: leaf.clone().unwrap_or_else(|| {
            Path::new(path.trim_end_matches(['/', '.']))
                .file_name()
                .map_or_else(|| b"rootfs".to_vec(), |n| n.as_bytes().to_vec())
        }),
        tree: Tree { dir, leaf },
        is_dir,
        contents_only: is_dir && (path.ends_with("/.") || (r.parts.is_empty() && path == "/")),
        _root: Some(root),
    })
}

/// A host destination: its parent must exist; the base directory the
/// resolved parts are relative to.
fn host_dest(p: &str) -> Result<(Resolved, Option<PathBuf>)> {
    let path = Path::new(p);
    // The front end resolves a relative path against its own working
    // directory: the engine has none to offer a remote caller.
    if !path.is_absolute() {
        crate::fail!(BadInput, "host path {p:?} must be absolute");
    }
    let abs = path.to_owned();
    match std::fs::metadata(&abs) {
        Ok(m) => {
            let real = std::fs::canonicalize(&abs).map_err(|_| not_found(p, "the host"))?;
            let parts = inroot::split(real.as_os_str().as_bytes());
            let _ = m;
            Ok((
                Resolved {
                    parts,
                    exists: true,
                },
                Some(PathBuf::from("/")),
            ))
        }
        Err(_) if p.ends_with('/') => Err(not_found(p, "the host")),
        Err(_) => {
            let parent = abs.parent().unwrap_or(Path::new("/"));
            let leaf = abs.file_name().ok_or_else(|| not_found(p, "the host"))?;
            let real_parent =
                std::fs::canonicalize(parent).map_err(|_| not_found(p, "the host"))?;
            if !real_parent.is_dir() {
                return Err(not_found(p, "the host"));
            }
            let mut parts = inroot::split(real_parent.as_os_str().as_bytes());
            parts.push(leaf.as_bytes().to_vec());
            Ok((
                Resolved {
                    parts,
                    exists: false,
                },
                Some(PathBuf::from("/")),
            ))
        }
    }
}

/// The container's primary uid and gid, from its `--user` or the image's
/// `USER`, looked up in the container's own /etc/passwd and /etc/group.
fn container_user(store: &Store, c: &Container, root: BorrowedFd<'_>) -> Result<(u32, u32)> {
    let user = match &c.spec.user {
        Some(u) => u.clone(),
        None => crate::engine::image::lookup(store, &c.image_id)
            .ok()
            .and_then(|img| crate::engine::image::config(store, &img).ok())
            .and_then(|cfg| cfg["config"]["User"].as_str().map(String::from))
            .unwrap_or_default(),
    };
    if user.is_empty() || user == "root" || user == "0" {
        return Ok((0, 0));
    }
    let read = |p: &[u8]| -> Option<String> {
        let r = inroot::resolve(root, p).ok().filter(|r| r.exists)?;
        let (leaf, parent) = r.parts.split_last()?;
        let dir = inroot::open_dir(root, parent).ok()?;
        let fd = rustix::fs::openat(
            dir.as_fd(),
            OsStr::from_bytes(leaf),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok()?;
        let mut s = String::new();
        std::fs::File::from(fd).read_to_string(&mut s).ok()?;
        Some(s)
    };
    let passwd = read(b"/etc/passwd");
    let group = read(b"/etc/group");
    let u = crate::runtime::spec::user::resolve(&user, passwd.as_deref(), group.as_deref(), &[])
        .with_context(|| format!("finding user {user:?} of container {}", c.name))?;
    Ok((u.uid, u.gid))
}

/// The container named in a `cp` argument; Podman's words when it is not
/// there.
fn lookup(state: &State, name: &str) -> Result<crate::engine::state::Container> {
    state.container(name).map_err(|e| match e {
        crate::engine::state::StateError::NoSuchContainer { .. } => {
            Error::not_found(format!("container {name:?} does not exist"))
        }
        e => e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_as_podman_does() {
        assert_eq!(Location::parse("-"), Location::Stream);
        assert_eq!(
            Location::parse("ctr:/etc/passwd"),
            Location::Container {
                container: "ctr".into(),
                path: "/etc/passwd".into()
            }
        );
        assert_eq!(
            Location::parse("./file:name"),
            Location::Host("./file:name".into())
        );
        assert_eq!(Location::parse("/abs:x"), Location::Host("/abs:x".into()));
        assert_eq!(Location::parse("plain"), Location::Host("plain".into()));
    }
}
