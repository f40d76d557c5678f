//! How the build stores an image, in one place: the history entry, and
//! what `--env`, `--unsetenv`, `--timestamp`, `--omit-history` and
//! `--annotation` ask of every image it commits; `--squash` and
//! `--squash-all` at the end.

use std::io::{Read, Write};
use std::os::fd::AsFd;

use serde_json::{Value, json};

use super::step::{Process, StepContainer};
use super::{Builder, Squash, image};
use crate::engine::container::inroot;
use crate::engine::container::tree::TreeWriter;
use crate::engine::{Error, Result, ResultExt};
use crate::host::time;
use hutch_storage::images::ImageRecord;
use hutch_storage::{Digest, Store};

/// A tar header's size, in bytes (a layer is read in such blocks).
const BLOCK: usize = 512;

impl Builder<'_> {
    /// The part of every cache key that the build-wide image settings
    /// make: empty without them, so keys made before they existed stay.
    pub(super) fn settings_key(&self) -> String {
        let o = self.opts;
        if o.env.is_empty()
            && o.unsetenv.is_empty()
            && o.annotations.is_empty()
            && o.timestamp.is_none()
            && !o.omit_history
        {
            return String::new();
        }
        json!([
            o.env,
            o.unsetenv,
            o.annotations,
            o.timestamp,
            o.omit_history
        ])
        .to_string()
    }

    /// Stores an image on `parent` with `config` and `layer` (a blob in
    /// the store; the caller holds the adding lock), its history entry
    /// `created_by` (`None`: none, for an empty scratch stage).
    pub(super) fn store_image(
        &self,
        parent: Option<&ImageRecord>,
        mut config: Value,
        layer: Option<(Digest, u64)>,
        created_by: Option<&str>,
    ) -> Result<ImageRecord> {
        let o = self.opts;
        config["created"] = json!(time::rfc3339(o.timestamp.unwrap_or_else(time::now)));
        if let Some(c) = created_by {
            image::add_history(&mut config, c, layer.is_none());
        }
        let mut running = config.clone();
        if !o.env.is_empty() || !o.unsetenv.is_empty() {
            let cc = &mut config["config"];
            if !cc.is_object() {
                *cc = json!({});
            }
            let mut env = crate::image::build::config::strings(cc.get("Env"));
            for e in &o.env {
                crate::spec::parse::env::set(&mut env, e.clone());
            }
            env.retain(|e| {
                let name = e.split('=').next().unwrap_or_default();
                !o.unsetenv.iter().any(|u| u == name)
            });
            cc["Env"] = json!(env);
        }
        if o.omit_history
            && let Some(m) = config.as_object_mut()
        {
            m.remove("history");
        }
        let layer = match (layer, o.timestamp) {
            (Some(l), Some(ts)) => Some(retime_layer(self.store, &l.0, ts)?),
            (l, _) => l,
        };
        let img = image::commit_layers(
            self.store,
            parent,
            None,
            &mut config,
            layer,
            &[],
            &o.annotations,
        )?;
        // The layers are the committed ones (diff ids included).
        running["rootfs"] = config["rootfs"].clone();
        *self.running_config.borrow_mut() = Some(running);
        Ok(img)
    }

    /// `--squash` (`base`: the final stage's base; its layers stay) or
    /// `--squash-all` (`base` is `None`): the final image with the layers
    /// above the base as one.
    pub(super) fn squash(
        &mut self,
        base: Option<&ImageRecord>,
        img: &ImageRecord,
    ) -> Result<ImageRecord> {
        let mut config = crate::engine::image::config(self.store, img)?;
        let keep = match self.opts.squash {
            Squash::No => return Ok(img.clone()),
            Squash::All => 0,
            Squash::New => base
                .map(|b| crate::engine::image::config(self.store, b))
                .transpose()?
                .and_then(|c| c["rootfs"]["diff_ids"].as_array().map(Vec::len))
                .unwrap_or(0),
        };
        let total = config["rootfs"]["diff_ids"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
        let _adding = self.store.adding()?;
        let layer = if total <= keep {
            None
        } else if keep == 0 {
            // Everything: the image's merged root, read as it is.
            let root = self
                .store
                .mount_image(img)
                .context("mounting the image to squash it")?;
            let written = image::put_layer(self.store, |pipe| {
                let fd = inroot::open_root(&root)?;
                let mut w = TreeWriter::new(std::io::BufWriter::new(pipe));
                w.add_children(fd.as_fd(), b"")?;
                w.finish()?.flush()?;
                Ok(())
            });
            let _ = self.store.unmount_image(&img.id);
            Some(written?)
        } else {
            // The new layers applied in order onto a container of the
            // base, whose changes are then one layer with the whiteouts
            // the base needs.
            let base = base.ok_or_else(|| Error::internal("--squash without a base"))?;
            let sc = StepContainer::create(
                self.ctx,
                self.store,
                self.state,
                base,
                &Process {
                    argv: vec!["/".into()],
                    ..Process::default()
                },
            )?;
            let diff_ids: Vec<Digest> = config["rootfs"]["diff_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str()?.parse().ok())
                .collect();
            for d in &diff_ids[keep..] {
                let blob = self
                    .store
                    .blobs
                    .open_blob(d)
                    .with_context(|| format!("opening layer {d}"))?;
                sc.apply_layer(std::io::BufReader::new(blob), self.opts.rootless)?;
            }
            Some(sc.diff()?)
        };
        if let Some(ids) = config["rootfs"]["diff_ids"].as_array_mut() {
            ids.truncate(keep);
        }
        if let Some(h) = config["history"].as_array_mut() {
            // The entries of the squashed layers give way to one.
            let mut layers_seen = 0;
            h.retain(|e| {
                let empty = e["empty_layer"].as_bool().unwrap_or(false);
                if !empty {
                    layers_seen += 1;
                }
                empty || layers_seen <= keep
            });
        }
        let layer = match (layer, self.opts.timestamp) {
            (Some(l), Some(ts)) => Some(retime_layer(self.store, &l.0, ts)?),
            (l, _) => l,
        };
        if layer.is_some() && !self.opts.omit_history {
            config["created"] = json!(time::rfc3339(self.opts.timestamp.unwrap_or_else(time::now)));
            image::add_history(&mut config, "/bin/sh -c #(nop) squashed", false);
        }
        let squashed = image::commit_layers(
            self.store,
            Some(img),
            Some(keep),
            &mut config,
            layer,
            &[],
            &self.opts.annotations,
        )?;
        self.intermediates.push(img.clone());
        Ok(squashed)
    }
}

/// A copy of layer `digest` with every entry's modification time set to
/// `ts` (`--timestamp`), rewritten block by block so that every other
/// byte of every header stays. hutch's layer writers put times in the
/// header only (no PAX `mtime` records), which is what is rewritten.
pub fn retime_layer(store: &Store, digest: &Digest, ts: i64) -> Result<(Digest, u64)> {
    let blob = store
        .blobs
        .open_blob(digest)
        .with_context(|| format!("opening layer {digest}"))?;
    image::put_layer(store, move |pipe| {
        let mut r = std::io::BufReader::new(blob);
        let mut w = std::io::BufWriter::new(pipe);
        retime(&mut r, &mut w, ts)?;
        w.flush()?;
        Ok(())
    })
}

fn retime(r: &mut dyn Read, w: &mut dyn Write, ts: i64) -> std::io::Result<()> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let mut block = [0u8; BLOCK];
    loop {
        if let Err(e) = r.read_exact(&mut block) {
            // A tar may end without its two zero blocks.
            return if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Ok(())
            } else {
                Err(e)
            };
        }
        if block.iter().all(|b| *b == 0) {
            w.write_all(&block)?;
            std::io::copy(r, w)?;
            return Ok(());
        }
        let size = header_size(&block).ok_or_else(|| bad("a layer header with a bad size"))?;
        let mtime = format!("{:011o}\0", ts.max(0));
        block[136..148].copy_from_slice(mtime.as_bytes());
        block[148..156].fill(b' ');
        let sum: u32 = block.iter().map(|b| u32::from(*b)).sum();
        block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        w.write_all(&block)?;
        let data = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let copied = std::io::copy(&mut r.take(data), w)?;
        if copied != data {
            return Err(bad("a layer ends inside an entry"));
        }
    }
}

/// The size field: octal, or GNU base-256 for large files.
fn header_size(h: &[u8; BLOCK]) -> Option<u64> {
    let f = &h[124..136];
    if f[0] & 0x80 != 0 {
        return Some(f[1..].iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)));
    }
    let s = std::str::from_utf8(f).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retime_sets_every_mtime_and_keeps_the_rest() {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("a", &b"hello"[..]), ("dir/b", &[7u8; 1000][..])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o640);
            h.set_mtime(12345);
            b.append_data(&mut h, name, data).unwrap();
        }
        let long = "x".repeat(150);
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mtime(1);
        b.append_data(&mut h, &long, &b"z"[..]).unwrap();
        let tar_bytes = b.into_inner().unwrap();
        let mut out = Vec::new();
        retime(&mut &tar_bytes[..], &mut out, 1_000_000_000).unwrap();
        let mut a = tar::Archive::new(&out[..]);
        let mut names = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            assert_eq!(e.header().mtime().unwrap(), 1_000_000_000);
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            names.push((e.path().unwrap().display().to_string(), data.len()));
        }
        assert_eq!(
            names,
            [("a".to_owned(), 5), ("dir/b".to_owned(), 1000), (long, 1)]
        );
    }
}
