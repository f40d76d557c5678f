//! Just enough of the manifest formats to move an image: which blobs an
//! image manifest references, and which platform manifests a list or index
//! offers. The bytes themselves are never re-serialised (that would change
//! the digest); callers keep what the registry or store gave them.
//!
//! Docker v2 schema 2 and OCI share one shape, so one parser serves both.
//! Docker schema 1 is refused: it carries no config blob and so no image id.

use hutch_storage::digest::{BadDigest, Digest};
use serde::Deserialize;

use super::platform::Platform;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What hutch asks registries for, in order of preference.
pub(super) const ACCEPTED: &[&str] = &[
    OCI_IMAGE_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_IMAGE_MANIFEST,
    DOCKER_MANIFEST,
];

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a valid manifest: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "schema version {0} is not supported (only Docker v2 schema 2 and OCI; schema 1 images must be converted)"
    )]
    SchemaVersion(u64),
    #[error("media type {0:?} is not a Docker v2 schema 2 or OCI manifest or list")]
    MediaType(String),
    #[error("neither an image manifest nor a manifest list: it has no config and no manifests")]
    Shapeless,
    #[error("{field}: {source}")]
    Digest {
        field: String,
        #[source]
        source: BadDigest,
    },
    #[error("declared as {declared} but pushed as {given}")]
    MediaTypeMismatch { declared: String, given: String },
    #[error("manifest list entry {0} is itself a manifest list, which hutch does not follow")]
    NestedList(Digest),
}

/// A content descriptor with a validated digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Descriptor {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListEntry {
    pub descriptor: Descriptor,
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Manifest {
    Image {
        media_type: String,
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    List {
        media_type: String,
        entries: Vec<ListEntry>,
    },
}

impl Manifest {
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image { media_type, .. } | Manifest::List { media_type, .. } => media_type,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<u64>,
    media_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// Parses a manifest or list. Its media type comes from the body's
/// `mediaType`, or, where OCI lets that be absent, from its shape.
pub(super) fn parse(body: &[u8]) -> Result<Manifest, ManifestError> {
    let raw: Raw = serde_json::from_slice(body)?;
    match raw.schema_version {
        Some(2) => {}
        Some(other) => return Err(ManifestError::SchemaVersion(other)),
        None => return Err(ManifestError::SchemaVersion(0)),
    }
    let is_list = match raw.media_type.as_deref() {
        Some(OCI_IMAGE_INDEX | DOCKER_MANIFEST_LIST) => true,
        Some(OCI_IMAGE_MANIFEST | DOCKER_MANIFEST) => false,
        Some(other) => return Err(ManifestError::MediaType(other.to_owned())),
        None if raw.manifests.is_some() => true,
        None if raw.config.is_some() => false,
        None => return Err(ManifestError::Shapeless),
    };
    if is_list {
        let media_type = raw.media_type.unwrap_or_else(|| OCI_IMAGE_INDEX.to_owned());
        let entries = raw
            .manifests
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let platform = d.platform.as_ref().map(|p| Platform {
                    os: p.os.clone(),
                    architecture: p.architecture.clone(),
                    variant: p.variant.clone().filter(|v| !v.is_empty()),
                });
                Ok(ListEntry {
                    descriptor: descriptor(d, || format!("manifests[{i}]"))?,
                    platform,
                })
            })
            .collect::<Result<_, ManifestError>>()?;
        Ok(Manifest::List {
            media_type,
            entries,
        })
    } else {
        let media_type = raw
            .media_type
            .unwrap_or_else(|| OCI_IMAGE_MANIFEST.to_owned());
        let config = raw.config.ok_or(ManifestError::Shapeless)?;
        let config = descriptor(config, || "config".to_owned())?;
        let layers = raw
            .layers
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, d)| descriptor(d, || format!("layers[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Manifest::Image {
            media_type,
            config,
            layers,
        })
    }
}

fn descriptor(raw: RawDescriptor, field: impl Fn() -> String) -> Result<Descriptor, ManifestError> {
    let digest = raw.digest.parse().map_err(|source| ManifestError::Digest {
        field: field(),
        source,
    })?;
    Ok(Descriptor {
        digest,
        size: raw.size,
        media_type: raw.media_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn docker_image_manifest() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}",
            "config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"{D1}"}},
            "layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":9,"digest":"{D2}"}}]}}"#
        );
        let Manifest::Image {
            media_type,
            config,
            layers,
        } = parse(body.as_bytes()).unwrap()
        else {
            panic!("not an image")
        };
        assert_eq!(media_type, DOCKER_MANIFEST);
        assert_eq!(config.digest.to_string(), D1);
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].size, 9);
    }

    #[test]
    fn oci_without_media_type_is_recognised_by_shape() {
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[
            {{"mediaType":"{OCI_IMAGE_MANIFEST}","size":1,"digest":"{D1}","platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
            {{"mediaType":"{OCI_IMAGE_MANIFEST}","size":1,"digest":"{D2}"}}]}}"#
        );
        let Manifest::List {
            media_type,
            entries,
        } = parse(index.as_bytes()).unwrap()
        else {
            panic!("not a list")
        };
        assert_eq!(media_type, OCI_IMAGE_INDEX);
        assert_eq!(
            entries[0].platform.as_ref().unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(entries[1].platform, None);

        let image = format!(r#"{{"schemaVersion":2,"config":{{"size":1,"digest":"{D1}"}}}}"#);
        assert_eq!(
            parse(image.as_bytes()).unwrap().media_type(),
            OCI_IMAGE_MANIFEST
        );
    }

    #[test]
    fn refuses_schema1_foreign_types_and_bad_digests() {
        let schema1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
        assert!(matches!(
            parse(schema1),
            Err(ManifestError::SchemaVersion(1))
        ));
        let helm = br#"{"schemaVersion":2,"mediaType":"application/vnd.cncf.helm.chart","config":{"size":1,"digest":"sha256:00"}}"#;
        assert!(matches!(parse(helm), Err(ManifestError::MediaType(_))));
        let bad = format!(
            r#"{{"schemaVersion":2,"config":{{"size":1,"digest":"{D1}"}},"layers":[{{"size":1,"digest":"sha256:../../etc"}}]}}"#
        );
        let err = parse(bad.as_bytes()).unwrap_err();
        assert!(err.to_string().starts_with("layers[0]:"), "{err}");
        assert!(matches!(parse(b"{}"), Err(ManifestError::SchemaVersion(0))));
        assert!(matches!(
            parse(br#"{"schemaVersion":2}"#),
            Err(ManifestError::Shapeless)
        ));
    }
}
