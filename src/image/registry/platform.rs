//! Platforms as OCI and Go name them (`linux/amd64`, `linux/arm/v7`), the
//! host's own, and the choice of one entry from a manifest list — with
//! containerd's normalisation, so that `arm64` and `arm64/v8` are the same.

use std::fmt;
use std::str::FromStr;

use super::manifest::ListEntry;

/// An OS, architecture and optional variant, in Go's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid platform {value:?}: expected os/arch or os/arch/variant, e.g. linux/arm64")]
pub struct BadPlatform {
    pub value: String,
}

impl Platform {
    /// The platform this binary was built for, as the registry names it.
    pub fn host() -> Platform {
        let (architecture, variant) = go_arch(std::env::consts::ARCH);
        Platform {
            os: std::env::consts::OS.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// The variant a manifest list means when it gives none, as containerd
    /// reads it; `None` where the architecture has no variants.
    fn normalized_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None | Some("8" | "v8")) => Some("v8"),
            ("arm", None | Some("7" | "v7")) => Some("v7"),
            ("arm", Some("6")) => Some("v6"),
            ("arm", Some("5")) => Some("v5"),
            ("amd64", None | Some("v1")) => Some("v1"),
            (_, v) => v,
        }
    }

    fn same_machine(&self, other: &Platform) -> bool {
        self.os == other.os && self.architecture == other.architecture
    }
}

impl Default for Platform {
    fn default() -> Platform {
        Platform::host()
    }
}

/// Rust's architecture names into Go's, which is what manifest lists use.
fn go_arch(rust: &str) -> (&str, Option<&str>) {
    match rust {
        "x86_64" => ("amd64", None),
        "x86" => ("386", None),
        "aarch64" => ("arm64", None),
        // 32-bit ARM hosts that still run containers are overwhelmingly
        // ARMv7; Podman reads /proc/cpuinfo for the rare v6.
        "arm" => ("arm", Some("v7")),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
        "powerpc64" => ("ppc64", None),
        "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
        "loongarch64" => ("loong64", None),
        other => (other, None),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = BadPlatform;

    /// Parses `--platform` values: `os/arch[/variant]`.
    fn from_str(s: &str) -> Result<Platform, BadPlatform> {
        let bad = || BadPlatform {
            value: s.to_owned(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts[..] {
            [os, architecture] => Ok(Platform {
                os: os.to_owned(),
                architecture: architecture.to_owned(),
                variant: None,
            }),
            [os, architecture, variant] => Ok(Platform {
                os: os.to_owned(),
                architecture: architecture.to_owned(),
                variant: Some(variant.to_owned()),
            }),
            _ => Err(bad()),
        }
    }
}

/// The entry of a manifest list for `wanted`: an exact (normalised) variant
/// match first; when no variant was asked for, any variant of the same
/// machine after that.
pub(super) fn choose<'a>(entries: &'a [ListEntry], wanted: &Platform) -> Option<&'a ListEntry> {
    let candidates = || {
        entries.iter().filter(|e| {
            e.platform
                .as_ref()
                .is_some_and(|platform| platform.same_machine(wanted))
        })
    };
    candidates()
        .find(|e| {
            e.platform.as_ref().and_then(Platform::normalized_variant)
                == wanted.normalized_variant()
        })
        .or_else(|| candidates().find(|_| wanted.variant.is_none()))
}

/// The platforms a list offers, for the error when none fits. Entries
/// without one, or for `unknown/unknown` (build attestations), are no images.
pub(super) fn available(entries: &[ListEntry]) -> Vec<String> {
    let mut names: Vec<String> = entries
        .iter()
        .filter_map(|e| e.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(Platform::to_string)
        .collect();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::super::manifest::Descriptor;
    use super::*;
    use hutch_storage::digest::Digest;

    fn entry(n: u8, platform: &str) -> ListEntry {
        ListEntry {
            descriptor: Descriptor {
                digest: Digest::of(&[n]),
                size: 1,
                media_type: String::new(),
            },
            platform: Some(platform.parse().unwrap()),
        }
    }

    fn chosen(entries: &[ListEntry], wanted: &str) -> Option<u8> {
        let wanted: Platform = wanted.parse().unwrap();
        choose(entries, &wanted).map(|e| {
            (0..=255u8)
                .find(|n| Digest::of(&[*n]) == e.descriptor.digest)
                .unwrap()
        })
    }

    #[test]
    fn parses_and_prints() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert_eq!("linux/amd64".parse::<Platform>().unwrap().variant, None);
        for bad in ["", "linux", "linux/", "/amd64", "a/b/c/d"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn host_uses_go_names() {
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        assert!(!["x86_64", "aarch64"].contains(&host.architecture.as_str()));
    }

    #[test]
    fn chooses_with_normalised_variants() {
        let list = [
            entry(1, "linux/amd64"),
            entry(2, "linux/arm/v6"),
            entry(3, "linux/arm/v7"),
            entry(4, "linux/arm64/v8"),
            entry(5, "unknown/unknown"),
        ];
        assert_eq!(chosen(&list, "linux/amd64"), Some(1));
        assert_eq!(chosen(&list, "linux/arm"), Some(3));
        assert_eq!(chosen(&list, "linux/arm/v6"), Some(2));
        assert_eq!(chosen(&list, "linux/arm64"), Some(4));
        assert_eq!(chosen(&list, "linux/arm64/v8"), Some(4));
        assert_eq!(chosen(&list, "linux/arm/v5"), None);
        assert_eq!(chosen(&list, "linux/riscv64"), None);
        assert_eq!(chosen(&list, "windows/amd64"), None);
        // With no default-variant entry, any variant of the machine will do.
        assert_eq!(
            chosen(&[entry(6, "linux/amd64/v3")], "linux/amd64"),
            Some(6)
        );
        assert_eq!(
            available(&list),
            [
                "linux/amd64",
                "linux/arm/v6",
                "linux/arm/v7",
                "linux/arm64/v8"
            ]
        );
    }
}
