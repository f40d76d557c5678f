//! `cp` through the remote client: the libpod archive routes (`GET`,
//! `HEAD` and `PUT /containers/{id}/archive?path=`), with the local
//! command's meaning of the two paths. The tar the service sends is named
//! after the source; where the copy takes another name (a destination
//! that does not exist yet, or a file replaced) its first component is
//! renamed on the way. Host files are written by the storage crate's
//! extractor, which never writes outside the destination directory
//! (absolute names, `..`, symlinked parents, hard links out), and owned by
//! the user running the client.

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use hutch_storage::extract::{self, ApplyOptions, Ownership, WhiteoutFormat};

use super::http::{self, Body};
use super::{API_PREFIX, Service, enc};
use crate::engine::container::copy::Location;

/// Go's `os.ModeDir`, in the stat header's `mode`.
const GO_MODE_DIR: u64 = 1 << 31;

/// Longest stat header taken (base64 JSON of one path's stat).
const MAX_STAT: usize = 16 * 1024;

/// The stat the service sends for a container path.
struct Stat {
    name: String,
    is_dir: bool,
}

fn parse_stat(b64: &str) -> anyhow::Result<Stat> {
    if b64.len() > MAX_STAT {
        bail!("the service's path stat is longer than {MAX_STAT} bytes");
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .context("decoding the service's path stat")?;
    let v: serde_json::Value =
        serde_json::from_slice(&raw).context("decoding the service's path stat")?;
    Ok(Stat {
        name: v["name"].as_str().unwrap_or("").to_owned(),
        is_dir: v["mode"].as_u64().is_some_and(|m| m & GO_MODE_DIR != 0),
    })
}

fn archive_path(container: &str, path: &str) -> String {
    format!(
        "{API_PREFIX}/containers/{}/archive?path={}",
        enc(container),
        enc(path)
    )
}

/// A host path as the local `cp` takes it: relative to the working
/// directory.
fn absolute(p: &str) -> anyhow::Result<String> {
    if p.starts_with('/') {
        return Ok(p.to_owned());
    }
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let trailing = if p.ends_with('/') { "/" } else { "" };
    Ok(format!("{}{trailing}", cwd.join(p).display()))
}

fn not_found(p: &str, place: &str) -> anyhow::Error {
    anyhow::anyhow!("{p:?} could not be found on {place}: no such file or directory")
}

pub fn cp(svc: &Service, a: &crate::cli::container::CpArgs) -> anyhow::Result<ExitCode> {
    match (Location::parse(&a.source), Location::parse(&a.dest)) {
        (Location::Container { container, path }, Location::Host(dest)) => {
            from_container(svc, &container, &path, &absolute(&dest)?)?
        }
        (Location::Container { container, path }, Location::Stream) => {
            let r = http::send(&svc.socket, "GET", &archive_path(&container, &path), None)?;
            let mut body = r.stream()?;
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut body, &mut out).context("writing the archive to stdout")?;
            out.flush()?;
        }
        (Location::Host(src), Location::Container { container, path }) => {
            to_container(svc, &absolute(&src)?, &container, &path, a)?
        }
        (Location::Stream, Location::Container { container, path }) => {
            let mut q = archive_path(&container, &path);
            q.push_str(&format!(
                "&noOverwriteDirNonDir={}&copyUIDGID={}",
                !a.overwrite, !a.archive
            ));
            let mut stdin = std::io::stdin().lock();
            http::send(&svc.socket, "PUT", &q, Some(Body::Tar(&mut stdin)))?.json()?;
        }
        _ => bail!(
            "invalid arguments {}, {} you must use just one container",
            a.source,
            a.dest
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `cp CTR:PATH HOSTPATH`.
fn from_container(svc: &Service, container: &str, path: &str, dest: &str) -> anyhow::Result<()> {
    let r = http::send(&svc.socket, "GET", &archive_path(container, path), None)?;
    let stat = match r.header("x-docker-container-path-stat") {
        Some(h) if r.status < 400 => Some(parse_stat(h)?),
        _ => None,
    };
    let body = r.stream()?;
    let stat = stat.context("the service sent no stat of the path")?;
    let contents_only = path.ends_with("/.") && stat.is_dir;
    let dest_path = Path::new(dest);
    // Where the tar is applied, and the name its first component takes.
    let (target, rename): (PathBuf, Option<Vec<u8>>) = match std::fs::metadata(dest_path) {
        Ok(m) if m.is_dir() => (dest_path.to_owned(), None),
        Ok(_) if stat.is_dir => {
            bail!("destination must be a directory when copying a directory")
        }
        Ok(_) => (parent_of(dest_path, dest)?, Some(leaf_of(dest_path, dest)?)),
        Err(_) if dest.ends_with('/') => return Err(not_found(dest, "the host")),
        Err(_) => {
            let parent = parent_of(dest_path, dest)?;
            if !parent.is_dir() {
                return Err(not_found(dest, "the host"));
            }
            if contents_only {
                // The directory's contents into a new directory.
                std::fs::create_dir(dest_path).with_context(|| format!("creating {dest}"))?;
                (dest_path.to_owned(), None)
            } else {
                (parent, Some(leaf_of(dest_path, dest)?))
            }
        }
    };
    let dir =
        std::fs::File::open(&target).with_context(|| format!("opening {}", target.display()))?;
    let opts = ApplyOptions {
        whiteouts: WhiteoutFormat::Literal,
        // Copies out belong to the user who runs the client, as Podman's.
        ownership: Ownership::Ignore,
        skip_devices: true,
    };
    let applied = match rename {
        None => extract::apply_layer_at(body, std::os::fd::AsFd::as_fd(&dir), &opts)
            .map(|_| ())
            .map_err(anyhow::Error::from),
        Some(new) => {
            let (reader, writer) = std::io::pipe().context("making a pipe")?;
            let old = stat.name.clone().into_bytes();
            let applier = std::thread::spawn(move || {
                extract::apply_layer_at(reader, std::os::fd::AsFd::as_fd(&dir), &opts)
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            });
            // The writer goes when this returns: the extractor sees the end.
            let renamed = renamed(body, writer, &old, &new);
            let applied = applier
                .join()
                .map_err(|_| anyhow::anyhow!("the archive's extractor failed"))?;
            applied.and(renamed)
        }
    };
    applied.with_context(|| format!("copying to {dest:?} on the host"))
}

fn parent_of(p: &Path, shown: &str) -> anyhow::Result<PathBuf> {
    Ok(p.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| not_found(shown, "the host"))?
        .to_owned())
}

fn leaf_of(p: &Path, shown: &str) -> anyhow::Result<Vec<u8>> {
    Ok(p.file_name()
        .ok_or_else(|| not_found(shown, "the host"))?
        .as_bytes()
        .to_vec())
}

/// `path` with its first component `old` replaced by `new`.
fn rename_path(path: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let path = path.strip_prefix(b"./").unwrap_or(path);
    let (first, rest) = match path.iter().position(|b| *b == b'/') {
        Some(i) => (&path[..i], &path[i..]),
        None => (path, &b""[..]),
    };
    if first == old {
        [new, rest].concat()
    } else {
        path.to_vec()
    }
}

/// Copies the tar `from` to `to` with the first component of each name
/// (and of each hard link's target) `old` renamed `new`.
fn renamed(from: impl Read, to: impl Write, old: &[u8], new: &[u8]) -> anyhow::Result<()> {
    let mut archive = tar::Archive::new(from);
    let mut out = tar::Builder::new(to);
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let path = rename_path(&entry.path_bytes(), old, new);
        let path = std::ffi::OsStr::from_bytes(&path).to_owned();
        let mut header = entry.header().clone();
        let kind = header.entry_type();
        if kind.is_hard_link() || kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            let target = if kind.is_hard_link() {
                rename_path(&target, old, new)
            } else {
                target
            };
            out.append_link(&mut header, &path, std::ffi::OsStr::from_bytes(&target))
                .context("writing the archive")?;
        } else {
            out.append_data(&mut header, &path, &mut entry)
                .context("writing the archive")?;
        }
    }
    out.finish().context("writing the archive")
}

/// `cp HOSTPATH CTR:PATH`.
fn to_container(
    svc: &Service,
    src: &str,
    container: &str,
    path: &str,
    a: &crate::cli::container::CpArgs,
) -> anyhow::Result<()> {
    let meta = std::fs::metadata(src).map_err(|_| not_found(src, "the host"))?;
    let real = std::fs::canonicalize(src).map_err(|_| not_found(src, "the host"))?;
    let contents_only = src.ends_with("/.") && meta.is_dir();
    let base = Path::new(src.trim_end_matches('/'))
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .or_else(|| real.file_name())
        .map(|n| n.to_owned())
        .unwrap_or_else(|| "root".into());
    // The destination as the container has it.
    let head = http::send(&svc.socket, "HEAD", &archive_path(container, path), None)?;
    let dest = match head.status {
        200..=299 => Some(
            head.header("x-docker-container-path-stat")
                .map(parse_stat)
                .transpose()?
                .context("the service sent no stat of the path")?,
        ),
        _ => None,
    };
    let trimmed = path.trim_end_matches('/');
    let split = || -> (String, String) {
        match trimmed.rsplit_once('/') {
            Some(("", leaf)) => ("/".to_owned(), leaf.to_owned()),
            Some((dir, leaf)) => (dir.to_owned(), leaf.to_owned()),
            None => (".".to_owned(), trimmed.to_owned()),
        }
    };
    let (put_dir, name): (String, Option<std::ffi::OsString>) = match dest {
        Some(d) if d.is_dir => (path.to_owned(), (!contents_only).then(|| base.clone())),
        Some(_) if meta.is_dir() => {
            bail!("destination must be a directory when copying a directory")
        }
        Some(_) => {
            let (dir, leaf) = split();
            (dir, Some(leaf.into()))
        }
        None if path.ends_with('/') => {
            return Err(not_found(path, &format!("container {container}")));
        }
        None => {
            let (dir, leaf) = split();
            (dir, Some(leaf.into()))
        }
    };
    let (mut reader, writer) = std::io::pipe().context("making a pipe")?;
    let src_path = real.clone();
    let is_dir = meta.is_dir();
    let writer_thread = std::thread::spawn(move || -> anyhow::Result<()> {
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(false);
        match (&name, is_dir) {
            (Some(n), true) => b.append_dir_all(n, &src_path),
            (Some(n), false) => b.append_path_with_name(&src_path, n),
            (None, _) => b.append_dir_all(".", &src_path),
        }
        .with_context(|| format!("reading {}", src_path.display()))?;
        b.finish().context("writing the archive")
    });
    let mut q = archive_path(container, &put_dir);
    q.push_str(&format!(
        "&noOverwriteDirNonDir={}&copyUIDGID={}",
        !a.overwrite, !a.archive
    ));
    let sent = http::send(&svc.socket, "PUT", &q, Some(Body::Tar(&mut reader)))
        .and_then(|r| r.json().map(drop));
    drop(reader);
    let written = writer_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the archive's writer failed"))?;
    sent?;
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_component_renamed() {
        assert_eq!(rename_path(b"a/b/c", b"a", b"x"), b"x/b/c");
        assert_eq!(rename_path(b"./a", b"a", b"x"), b"x");
        assert_eq!(rename_path(b"ab/c", b"a", b"x"), b"ab/c");
    }
}
