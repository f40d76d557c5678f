//! `volume export` and `volume import`: a volume's contents as a tar
//! stream, as Podman writes and reads them (names relative to the volume's
//! `_data`, no `./` prefix; owners as the user namespace sees them).
//!
//! Import goes through the storage crate's extractor, the code that applies
//! image layers and `cp` archives: it never writes through a symlink, so an
//! archive cannot reach outside the volume. A gzip or zstd stream is taken
//! as well (Podman's DecompressStream). No size bound beyond the
//! filesystem's: the data is the user's own, going into the user's own
//! volume, as with `cp`.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use hutch_storage::extract::{self, ApplyOptions, Ownership, WhiteoutFormat};

use crate::engine::container::tree::TreeWriter;
use crate::engine::state::State;
use crate::engine::{Error, Result, ResultExt};

/// Opens the `_data` directory of volume `name` (not following a link in
/// its place).
fn open_data(state: &State, name: &str) -> Result<OwnedFd> {
    let v = state.volume(name)?;
    rustix::fs::open(
        v.mountpoint.as_str(),
        rustix::fs::OFlags::DIRECTORY
            | rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("opening the data of volume {name} ({})", v.mountpoint))
}

/// Writes volume `name`'s contents to `out` as a tar stream.
pub fn export(state: &State, name: &str, out: &mut dyn Write) -> Result<()> {
    let dir = open_data(state, name)?;
    let mut w = TreeWriter::new(std::io::BufWriter::new(out));
    w.add_children(dir.as_fd(), b"")
        .and_then(|()| w.finish())
        .and_then(|mut b| b.flush())
        .with_context(|| format!("exporting volume {name}"))?;
    Ok(())
}

/// Unpacks the tar stream `input` into volume `name`, over what it holds.
/// In a user namespace of one id, owners the archive names that cannot be
/// had stay as they are (as for image layers), and devices are skipped.
pub fn import(state: &State, name: &str, input: &mut dyn Read) -> Result<()> {
    let dir = open_data(state, name)?;
    let rootless_single_id = crate::engine::image::single_id_namespace();
    let opts = ApplyOptions {
        whiteouts: WhiteoutFormat::Literal,
        ownership: if rootless_single_id {
            Ownership::Collapse
        } else {
            Ownership::Preserve
        },
        skip_devices: rootless_single_id,
    };
    let mut tar =
        extract::decompress(input).with_context(|| format!("importing into volume {name}"))?;
    extract::apply_layer_at(&mut tar, dir.as_fd(), &opts)
        .map(|_| ())
        .map_err(|e| Error::from(anyhow::Error::from(e)))
        .with_context(|| format!("importing into volume {name}"))
}
