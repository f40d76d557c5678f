//! `import`: a root file system tarball becomes a one-layer image, with
//! Dockerfile-style `--change` instructions applied to its config.

use std::io::{self, Read};

use crate::engine::{Error, Result, ResultExt};
use hutch_storage::Store;
use hutch_storage::digest::DigestReader;
use hutch_storage::extract::{self, Compression};
use hutch_storage::images::ImageRecord;
use hutch_storage::store::LayerBlob;
use serde_json::{Map, Value, json};

use crate::engine::info;
use crate::host::time;
use crate::image::reference;

pub struct ImportRequest {
    pub source: Box<dyn Read>,
    /// What the user named the source, for history and errors.
    pub source_name: String,
    pub reference: Option<String>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    /// `--arch`, `--os`, `--variant`: the platform written in the config
    /// (the host's when `None`); the layer itself is not checked.
    pub arch: Option<String>,
    pub os: Option<String>,
    pub variant: Option<String>,
    /// The manifest's annotations (a checkpoint image's, as Podman's
    /// `checkpoint --create-image` writes them).
    pub annotations: Map<String, Value>,
}

pub fn import(store: &Store, req: ImportRequest) -> Result<ImageRecord> {
    let result = import_adding(store, req);
    super::sweep_after_refusal(store, &result);
    result
}

fn import_adding(store: &Store, req: ImportRequest) -> Result<ImageRecord> {
    let names = match &req.reference {
        Some(r) => vec![
            reference::local_name(r)
                .with_context(|| format!("import: invalid image name {r:?}"))?,
        ],
        None => Vec::new(),
    };
    let mut container_config = Map::new();
    for change in &req.changes {
        apply_change(&mut container_config, change)?;
    }

    let _adding = store.adding()?;
    let (blob, _) = store
        .blobs
        .put(req.source, None)
        .with_context(|| format!("reading {}", req.source_name))?;
    let mut head = [0u8; 8];
    let mut file = store.blobs.open_blob(&blob)?;
    let n =
        read_up_to(&mut file, &mut head).with_context(|| format!("reading {}", req.source_name))?;
    let media_type = match extract::detect_compression(&head[..n]) {
        Compression::None => "application/vnd.oci.image.layer.v1.tar",
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    };
    // The diff id is the digest of the uncompressed stream: one pass to
    // learn it, before the layer store verifies it during extraction.
    let decompressed = extract::decompress(io::BufReader::new(store.blobs.open_blob(&blob)?))
        .with_context(|| format!("decompressing {}", req.source_name))?;
    let mut hashed = DigestReader::new(decompressed);
    io::copy(&mut hashed, &mut io::sink())
        .with_context(|| format!("reading {}", req.source_name))?;
    let (diff_id, _) = hashed.finish();

    let created = time::rfc3339(time::now());
    // Podman's comment where no --message is given.
    let comment = req.message.as_deref().unwrap_or("imported from tarball");
    let history = json!({
        "created": created,
        "created_by": format!("/bin/sh -c #(nop) ADD file:{} in /", diff_id.hex()),
        "comment": comment,
    });
    let mut config = json!({
        "created": created,
        "architecture": req.arch.as_deref().unwrap_or(info::go_arch()),
        "os": req.os.as_deref().unwrap_or("linux"),
        "config": Value::Object(container_config),
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        "history": [history],
    });
    if let Some(v) = &req.variant {
        config["variant"] = json!(v);
    }
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = store.blobs.put_bytes(&config_bytes, None)?;
    let blob_size = std::fs::metadata(store.blobs.path(&blob))?.len();
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config_bytes.len()},
        "layers": [{"mediaType": media_type, "digest": blob.to_string(), "size": blob_size}],
    });
    if !req.annotations.is_empty() {
        manifest["annotations"] = Value::Object(req.annotations.clone());
    }
    let manifest_digest = store
        .blobs
        .put_bytes(&serde_json::to_vec(&manifest)?, None)?;
    let (record, skipped) = store
        .commit_image_counted(
            &manifest_digest,
            "application/vnd.oci.image.manifest.v1+json",
            &config_digest,
            &[LayerBlob {
                digest: blob,
                media_type: media_type.to_owned(),
            }],
            &names,
        )
        .with_context(|| format!("importing {}", req.source_name))?;
    super::warn_skipped_devices(&req.source_name, skipped);
    Ok(record)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Applies one `--change` instruction (`CMD ["sh"]`, `ENV A=b`,
/// `WORKDIR=/app`: Podman accepts `=` after the keyword too).
pub fn apply_change(config: &mut Map<String, Value>, change: &str) -> Result<()> {
    let change = change.trim();
    let split = change.find([' ', '=', '\t']).unwrap_or(change.len());
    let (keyword, rest) = change.split_at(split);
    let value = rest.get(1..).unwrap_or("").trim();
    let bad = |why: &str| Error::bad_input(format!("invalid change {change:?}: {why}"));
    match keyword.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), json!(command_form(value)));
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), json!(command_form(value)));
        }
        "ENV" => {
            let (k, v) = value
                .split_once('=')
                .or_else(|| value.split_once(' '))
                .ok_or_else(|| bad("ENV needs NAME=VALUE"))?;
            let env = config.entry("Env").or_insert_with(|| json!([]));
            if let Some(list) = env.as_array_mut() {
                list.retain(|e| e.as_str().is_none_or(|s| !s.starts_with(&format!("{k}="))));
                list.push(json!(format!("{}={}", k.trim(), v.trim())));
            }
        }
        "EXPOSE" => {
            let ports = config.entry("ExposedPorts").or_insert_with(|| json!({}));
            for p in value.split_whitespace() {
                let p = if p.contains('/') {
                    p.to_owned()
                } else {
                    format!("{p}/tcp")
                };
                ports[p.as_str()] = json!({});
            }
        }
        "LABEL" => {
            let (k, v) = value
                .split_once('=')
                .ok_or_else(|| bad("LABEL needs KEY=VALUE"))?;
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            labels[k.trim()] = json!(v.trim().trim_matches('"'));
        }
        "USER" => {
            config.insert("User".into(), json!(value));
        }
        "WORKDIR" => {
            config.insert("WorkingDir".into(), json!(value));
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), json!(value));
        }
        "VOLUME" => {
            let vols = config.entry("Volumes").or_insert_with(|| json!({}));
            for v in command_form(value) {
                vols[v.as_str()] = json!({});
            }
        }
        "" => crate::fail!(BadInput, "invalid change {change:?}: empty instruction"),
        other => crate::fail!(
            BadInput,
            "invalid change {change:?}: {other} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL"
        ),
    }
    Ok(())
}

/// `["a","b"]` (exec form) or `a b` (shell form, run by /bin/sh -c).
fn command_form(value: &str) -> Vec<String> {
    if value.starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(value)
    {
        return list;
    }
    if value.is_empty() {
        return Vec::new();
    }
    vec!["/bin/sh".into(), "-c".into(), value.to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_map_to_config_fields() {
        let mut c = Map::new();
        apply_change(&mut c, "CMD=/bin/sh").unwrap();
        apply_change(&mut c, r#"ENTRYPOINT ["/bin/busybox"]"#).unwrap();
        apply_change(&mut c, "ENV A=1").unwrap();
        apply_change(&mut c, "ENV A=2").unwrap();
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply_change(&mut c, "WORKDIR /srv").unwrap();
        apply_change(&mut c, "LABEL org.x=\"y\"").unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "/bin/sh"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/busybox"]));
        assert_eq!(c["Env"], json!(["A=2"]));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(c["WorkingDir"], json!("/srv"));
        assert_eq!(c["Labels"], json!({"org.x": "y"}));
    }

    #[test]
    fn bad_changes_are_named() {
        let mut c = Map::new();
        let err = apply_change(&mut c, "FROB x").unwrap_err().to_string();
        assert!(err.contains("FROB"), "{err}");
        assert!(apply_change(&mut c, "ENV novalue").is_err());
    }
}
