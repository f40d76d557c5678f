//! The default infra image, built locally and offline as Podman builds its
//! pause image: one layer holding the host's static `catatonit`, whose
//! `-P` mode does nothing but hold the pod's namespaces and reap.
//! Tagged `localhost/hutch-pause:VERSION` and built once per version: the
//! layer is written with fixed times, so two builds are the same image.

use std::io::Cursor;
use std::path::Path;

use hutch_storage::Store;

use crate::engine::image::{self, import};
use crate::engine::{Error, Result, ResultExt};

/// Where Debian (and most distributions) install the static catatonit.
pub const CATATONIT: &str = "/usr/bin/catatonit";

/// catatonit is ~700 KiB; a file far larger is not the tool.
const MAX_CATATONIT: u64 = 16 << 20;

/// The default infra image's name.
pub fn name() -> String {
    format!("localhost/hutch-pause:{}", env!("CARGO_PKG_VERSION"))
}

/// The default infra image: the local one, else built from `catatonit`.
pub fn ensure(store: &Store) -> Result<String> {
    let name = name();
    if image::lookup(store, &name).is_ok() {
        return Ok(name);
    }
    let source = Path::new(CATATONIT);
    let layer = layer(source)?;
    import::import(
        store,
        import::ImportRequest {
            source: Box::new(Cursor::new(layer)),
            source_name: CATATONIT.to_owned(),
            reference: Some(name.clone()),
            changes: vec![r#"ENTRYPOINT ["/catatonit", "-P"]"#.to_owned()],
            message: Some("hutch pod infra image".to_owned()),
            arch: None,
            os: None,
            variant: None,
            annotations: Default::default(),
        },
    )
    .context("building the pod infra image")?;
    Ok(name)
}

/// The layer: `/catatonit` and the directories the runtime mounts on.
fn layer(source: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(source).map_err(|e| {
        Error::runtime(
            125,
            format!(
                "building the pod infra image: {}: {e}: install catatonit (Debian: apt install catatonit), or give --infra-image",
                source.display()
            ),
        )
    })?;
    if meta.len() > MAX_CATATONIT {
        crate::fail!(
            Internal,
            "{} is {} bytes: not the static catatonit binary",
            source.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(source).with_context(|| format!("reading {}", source.display()))?;
    // Every field set: fixed times and owners make the same layer twice.
    let header = |kind, size| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    let mut tar = tar::Builder::new(Vec::new());
    for dir in ["dev/", "etc/", "proc/", "sys/"] {
        let mut h = header(tar::EntryType::Directory, 0);
        tar.append_data(&mut h, dir, std::io::empty())
            .context("writing the infra layer")?;
    }
    let mut h = header(tar::EntryType::Regular, bytes.len() as u64);
    tar.append_data(&mut h, "catatonit", bytes.as_slice())
        .context("writing the infra layer")?;
    tar.into_inner().context("writing the infra layer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_is_the_same_every_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("catatonit");
        std::fs::write(&f, b"\x7fELF not really").expect("write");
        let a = layer(&f).expect("layer");
        let b = layer(&f).expect("layer");
        assert_eq!(a, b);
        let mut ar = tar::Archive::new(a.as_slice());
        let names: Vec<String> = ar
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert!(names.contains(&"catatonit".to_owned()), "{names:?}");
    }
}
