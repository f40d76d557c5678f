//! The checkpoint archive (`checkpoint --export FILE`, `restore --import
//! FILE`), laid out as Podman's: a tar (plain, gzip or zstd) holding
//!
//! | entry | what |
//! |---|---|
//! | `config.dump` | the container's config: hutch's stored ContainerSpec with its name and image (Podman keeps libpod's config here) |
//! | `spec.dump` | the OCI runtime spec (config.json) the container ran with |
//! | `checkpoint/` | CRIU's images |
//! | `rootfs-diff.tar` | what the container changed in its image, as a layer tar (whiteouts for deletions) |
//! | `deleted.files` | the deleted paths, a JSON list (Podman's file; the whiteouts carry them too) |
//! | `stats-dump` | CRIU's dump statistics, when kept |
//! | `pre-checkpoint/` | instead of `checkpoint/` in the archive of a `--pre-checkpoint` |
//! | `volumes/NAME.tar` | each volume's contents (not with `--ignore-volumes`) |
//!
//! `--ignore-rootfs` leaves `rootfs-diff.tar` and `deleted.files` out.
//!
//! An archive is the user's own file, read as such but bounded: only
//! regular files and directories are taken (and the `checkpoint/parent`
//! link of a `--with-previous` dump, made anew to `../pre-checkpoint`),
//! every name must stay inside the archive's directory, at most
//! [`MAX_ENTRIES`] entries, and the two JSON files at most [`MAX_CONFIG`]
//! bytes each. Archives of Podman and
//! hutch are not interchangeable (the configs differ).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use hutch_storage::Store;
use serde::{Deserialize, Serialize};

use super::Paths;
use crate::engine::state::{Container, State};
use crate::engine::{Error, Result, ResultExt};
use crate::spec::ContainerSpec;

pub const MAX_ENTRIES: usize = 200_000;
pub const MAX_CONFIG: u64 = 16 << 20;

pub const CONFIG_DUMP: &str = "config.dump";
pub const SPEC_DUMP: &str = "spec.dump";
pub const ROOTFS_DIFF: &str = "rootfs-diff.tar";
pub const DELETED_FILES: &str = "deleted.files";
pub const VOLUMES: &str = "volumes";
/// Where a `--with-previous` dump's `parent` link points.
pub const PARENT_LINK: &str = "../pre-checkpoint";

/// What goes into an archive beside the configs (Podman's export options).
#[derive(Debug, Clone, Copy, Default)]
pub struct Parts {
    /// The pre-dump (`pre-checkpoint/`) instead of the dump.
    pub pre_checkpoint: bool,
    pub ignore_rootfs: bool,
    pub ignore_volumes: bool,
}

/// `--compress`: Podman's choices, zstd its default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    #[default]
    Zstd,
}

impl Compression {
    pub fn parse(s: &str) -> Result<Compression> {
        Ok(match s {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            _ => crate::fail!(
                BadInput,
                "selected compression algorithm ({s:?}) not supported. Please select one from: gzip, none, zstd"
            ),
        })
    }
}

/// `config.dump`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigDump {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub image_name: String,
    pub runtime: String,
    pub spec: ContainerSpec,
}

/// Writes the archive of `c`'s checkpoint (its dump must be complete).
/// Through a temporary file beside `file` and a rename: a killed export
/// leaves no half archive under the name asked for.
pub fn export(
    store: &Store,
    state: &State,
    c: &Container,
    paths: &Paths,
    file: &Path,
    compression: Compression,
    parts: Parts,
) -> Result<()> {
    let (dump, dump_name) = if parts.pre_checkpoint {
        (
            super::checkpoint::pre_image_dir(paths),
            super::checkpoint::PRE_CHECKPOINT,
        )
    } else {
        (super::checkpoint::image_dir(paths), "checkpoint")
    };
    // A pre-dump is memory pages only: its directory is what there is.
    let there = if parts.pre_checkpoint {
        dump.is_dir()
    } else {
        super::checkpoint::is_complete(&dump)
    };
    if !there {
        crate::fail!(
            InvalidState,
            "container {} has no complete checkpoint to export",
            c.name
        );
    }
    let part = {
        let mut p = file.as_os_str().to_owned();
        p.push(format!(".part-{}", std::process::id()));
        PathBuf::from(p)
    };
    let written = (|| -> Result<()> {
        let out = BufWriter::new(
            File::create(&part).with_context(|| format!("creating {}", part.display()))?,
        );
        let out: Box<dyn Write> = match compression {
            Compression::None => Box::new(out),
            Compression::Gzip => Box::new(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::fast(),
            )),
            Compression::Zstd => Box::new(
                zstd::Encoder::new(out, 3)
                    .context("starting zstd")?
                    .auto_finish(),
            ),
        };
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        let config = ConfigDump {
            id: c.id.clone(),
            name: c.name.clone(),
            image_id: c.image_id.clone(),
            image_name: c.image_name.clone(),
            runtime: c.runtime.clone(),
            spec: c.spec.clone(),
        };
        append_bytes(&mut tar, CONFIG_DUMP, &serde_json::to_vec_pretty(&config)?)?;
        let spec = std::fs::read(paths.userdata.join("config.json"))
            .context("reading the container's config.json")?;
        append_bytes(&mut tar, SPEC_DUMP, &spec)?;
        tar.append_dir_all(dump_name, &dump)
            .context("adding the CRIU images")?;
        if !parts.ignore_rootfs {
            // The file system changes, collected in memory: a container's
            // changes are small beside its dump, and the tar entry needs
            // its size first.
            let mut diff = Vec::new();
            super::commit::write_diff(store, c, &mut diff)?;
            append_bytes(&mut tar, ROOTFS_DIFF, &diff)?;
            let deleted: Vec<String> = super::changes::of_container(store, c)?
                .into_iter()
                .filter(|(_, k)| *k == super::changes::Kind::Deleted)
                .map(|(p, _)| format!("/{}", String::from_utf8_lossy(&p)))
                .collect();
            append_bytes(&mut tar, DELETED_FILES, &serde_json::to_vec(&deleted)?)?;
        }
        if !parts.ignore_volumes {
            for name in state.container_volumes(&c.id)? {
                // Through a file in the userdata: a volume may be large,
                // and the entry needs its size first.
                let scratch = paths.userdata.join("volume-export.tar");
                let mut tmp = File::options()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&scratch)
                    .with_context(|| format!("creating {}", scratch.display()))?;
                let _ = std::fs::remove_file(&scratch);
                crate::engine::volume_archive::export(state, &name, &mut tmp)?;
                let size = tmp
                    .seek(std::io::SeekFrom::End(0))
                    .and_then(|n| tmp.rewind().map(|()| n))
                    .context("reading a volume's scratch file")?;
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(size);
                h.set_mode(0o600);
                h.set_mtime(now_secs());
                tar.append_data(&mut h, format!("{VOLUMES}/{name}.tar"), &mut tmp)
                    .with_context(|| format!("adding volume {name}"))?;
            }
        }
        let stats = paths.userdata.join("stats-dump");
        if stats.is_file() {
            tar.append_path_with_name(&stats, "stats-dump")
                .context("adding stats-dump")?;
        }
        let mut out = tar.into_inner().context("finishing the archive")?;
        out.flush().context("writing the archive")?;
        drop(out);
        std::fs::rename(&part, file)
            .with_context(|| format!("renaming {} to {}", part.display(), file.display()))?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    written.map_err(|e| e.context(format!("exporting the checkpoint to {}", file.display())))
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(0o600);
    h.set_mtime(now_secs());
    tar.append_data(&mut h, name, data)
        .with_context(|| format!("adding {name}"))
}

fn now_secs() -> u64 {
    u64::try_from(crate::host::time::now_ns() / 1_000_000_000).unwrap_or_default()
}

/// Fills volume `name` from `volumes/NAME.tar` of an unpacked archive, if
/// the archive has it (an archive made with `--ignore-volumes` has none).
pub fn import_volume(state: &State, dir: &Path, name: &str) -> Result<()> {
    let file = dir.join(VOLUMES).join(format!("{name}.tar"));
    let Ok(mut f) = File::open(&file) else {
        return Ok(());
    };
    crate::engine::volume_archive::import(state, name, &mut f)
}

/// The archive's compression, from its first bytes.
fn open_archive(file: &Path) -> Result<Box<dyn Read>> {
    let mut f =
        BufReader::new(File::open(file).with_context(|| format!("opening {}", file.display()))?);
    let head = std::io::BufRead::fill_buf(&mut f)
        .with_context(|| format!("reading {}", file.display()))?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(f))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::with_buffer(f).context("starting zstd")?)
    } else {
        Box::new(f)
    })
}

/// Unpacks `file` into the new directory `dest` under the rules above.
pub fn unpack(file: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut archive = tar::Archive::new(open_archive(file)?);
    archive.set_preserve_permissions(false);
    archive.set_overwrite(true);
    let bad = |what: String| Error::bad_input(format!("{}: {what}", file.display()));
    for (n, entry) in archive
        .entries()
        .with_context(|| format!("reading {}", file.display()))?
        .enumerate()
    {
        if n >= MAX_ENTRIES {
            return Err(bad(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut entry = entry.with_context(|| format!("reading {}", file.display()))?;
        let path = entry
            .path()
            .with_context(|| format!("reading {}", file.display()))?
            .into_owned();
        if !path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(bad(format!(
                "the entry {} leaves the archive",
                path.display()
            )));
        }
        let kind = entry.header().entry_type();
        // The one link a dump made `--with-previous` has: CRIU's `parent`,
        // which Podman (and hutch) point at `../pre-checkpoint`. Made here
        // by hand, with that target only, whatever the entry says.
        if kind == tar::EntryType::Symlink
            && path == Path::new("checkpoint/parent")
            && entry
                .link_name()
                .ok()
                .flatten()
                .is_some_and(|t| t == Path::new(PARENT_LINK))
        {
            let at = dest.join("checkpoint");
            std::fs::create_dir_all(&at).with_context(|| format!("creating {}", at.display()))?;
            let link = at.join("parent");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(PARENT_LINK, &link)
                .with_context(|| format!("linking {}", link.display()))?;
            continue;
        }
        if !matches!(kind, tar::EntryType::Regular | tar::EntryType::Directory) {
            return Err(bad(format!(
                "the entry {} is neither a file nor a directory",
                path.display()
            )));
        }
        let top = path.to_str().unwrap_or_default();
        if matches!(top, CONFIG_DUMP | SPEC_DUMP) && entry.size() > MAX_CONFIG {
            return Err(bad(format!("{top} is larger than {MAX_CONFIG} bytes")));
        }
        entry
            .unpack_in(dest)
            .with_context(|| format!("unpacking {} from {}", path.display(), file.display()))?;
    }
    Ok(())
}

/// `config.dump` of an unpacked archive.
pub fn read_config(dir: &Path) -> Result<ConfigDump> {
    let path = dir.join(CONFIG_DUMP);
    let mut text = Vec::new();
    File::open(&path)
        .with_context(|| format!("the archive has no {CONFIG_DUMP}"))?
        .take(MAX_CONFIG)
        .read_to_end(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text)
        .map_err(|e| Error::bad_input(format!("{CONFIG_DUMP} of the archive: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).expect("entry");
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn archives_unpack_in_any_compression() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = tar_with(&[("checkpoint/inventory.img", b"inv"), ("spec.dump", b"{}")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let zst = zstd::encode_all(&plain[..], 3).expect("zstd");
        for (name, bytes) in [("a.tar", &plain), ("a.tar.gz", &gz), ("a.tar.zst", &zst)] {
            let file = dir.path().join(name);
            std::fs::write(&file, bytes).expect("write");
            let dest = dir.path().join(format!("{name}.d"));
            unpack(&file, &dest).expect("unpacked");
            assert_eq!(
                std::fs::read(dest.join("checkpoint/inventory.img")).expect("read"),
                b"inv"
            );
        }
    }

    #[test]
    fn entries_that_leave_the_archive_or_are_links_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The tar crate refuses to write `..`: the name goes in raw.
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(1);
        h.set_mode(0o644);
        h.as_old_mut().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, &b"x"[..]).expect("raw entry");
        let file = dir.path().join("bad.tar");
        std::fs::write(&file, b.into_inner().expect("tar")).expect("write");
        let e = unpack(&file, &dir.path().join("d1")).unwrap_err();
        assert!(e.text().contains("leaves the archive"), "{}", e.text());
        assert!(!dir.path().join("escape").exists());

        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "checkpoint", "/etc").expect("link");
        std::fs::write(&file, b.into_inner().expect("tar")).expect("write");
        let e = unpack(&file, &dir.path().join("d2")).unwrap_err();
        assert!(e.text().contains("neither a file"), "{}", e.text());
    }

    /// The entries of an archive, sorted.
    fn names_in(file: &Path) -> Vec<String> {
        let mut a = tar::Archive::new(open_archive(file).expect("open"));
        let mut names: Vec<String> = a
            .entries()
            .expect("entries")
            .map(|e| {
                let entry = e.expect("entry");
                let name = entry.path().expect("path").display().to_string();
                name.trim_end_matches('/').to_owned()
            })
            .collect();
        names.sort();
        names
    }

    /// `--ignore-rootfs` and `--ignore-volumes` leave their parts out, a
    /// volume goes in as `volumes/NAME.tar` (Podman's layout), and a
    /// pre-checkpoint's archive holds `pre-checkpoint/`.
    #[test]
    fn parts_go_in_as_podman_lays_them_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let store = Store::open(hutch_storage::store::StoreOptions {
            root: root.join("storage"),
            driver: Default::default(),
            rootless: false,
            single_id: false,
            podman_store: None,
            additional: Vec::new(),
        })
        .expect("store");
        let state = State::open(root.join("state.db")).expect("state");
        let data = root.join("vol/_data");
        std::fs::create_dir_all(&data).expect("volume dir");
        std::fs::write(data.join("kept"), b"in the volume").expect("volume file");
        let vol = crate::engine::state::Volume {
            name: "v1".into(),
            driver: "local".into(),
            mountpoint: data.display().to_string(),
            created: 0,
            labels: Default::default(),
            options: Default::default(),
            anonymous: false,
        };
        let mut new = crate::engine::state::tests::new_container(&"a".repeat(64), Some("c"));
        new.new_volumes = vec![vol];
        let c = state.create_container(&new).expect("container");
        let paths = Paths {
            userdata: root.join("userdata"),
            attach: root.join("attach"),
        };
        std::fs::create_dir_all(paths.userdata.join("checkpoint")).expect("dump");
        std::fs::write(paths.userdata.join("checkpoint/inventory.img"), b"i").expect("inv");
        std::fs::create_dir_all(paths.userdata.join("pre-checkpoint")).expect("pre");
        std::fs::write(paths.userdata.join("pre-checkpoint/pages-1.img"), b"p").expect("pages");
        std::fs::write(paths.userdata.join("config.json"), b"{}").expect("spec");
        let parts = Parts {
            ignore_rootfs: true,
            ..Parts::default()
        };
        let file = root.join("a.tar");
        export(&store, &state, &c, &paths, &file, Compression::Gzip, parts).expect("export");
        assert_eq!(
            names_in(&file),
            [
                "checkpoint",
                "checkpoint/inventory.img",
                "config.dump",
                "spec.dump",
                "volumes/v1.tar",
            ]
        );
        let out = root.join("a.d");
        unpack(&file, &out).expect("unpack");
        let vt = out.join("volumes/v1.tar");
        let names = names_in(&vt);
        assert!(names.iter().any(|n| n.ends_with("kept")), "{names:?}");

        let parts = Parts {
            pre_checkpoint: true,
            ignore_rootfs: true,
            ignore_volumes: true,
        };
        let file = root.join("b.tar");
        export(&store, &state, &c, &paths, &file, Compression::None, parts).expect("export");
        assert_eq!(
            names_in(&file),
            [
                "config.dump",
                "pre-checkpoint",
                "pre-checkpoint/pages-1.img",
                "spec.dump",
            ]
        );
    }

    /// A `--with-previous` dump's `parent` link comes through, to
    /// `../pre-checkpoint` only.
    #[test]
    fn the_parent_link_of_a_dump_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (target, ok) in [(PARENT_LINK, true), ("/etc", false)] {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "checkpoint/parent", target)
                .expect("link");
            let file = dir.path().join(format!("{ok}.tar"));
            std::fs::write(&file, b.into_inner().expect("tar")).expect("write");
            let dest = dir.path().join(format!("{ok}.d"));
            let r = unpack(&file, &dest);
            assert_eq!(r.is_ok(), ok, "{target}");
            if ok {
                assert_eq!(
                    std::fs::read_link(dest.join("checkpoint/parent")).expect("link"),
                    Path::new(PARENT_LINK)
                );
            }
        }
    }

    #[test]
    fn compression_names_are_podmans() {
        assert_eq!(Compression::parse("gzip").ok(), Some(Compression::Gzip));
        assert_eq!(Compression::default(), Compression::Zstd);
        assert!(Compression::parse("lz4").is_err());
    }
}
