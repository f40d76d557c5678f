//! Image references as users type them: `busybox`, `quay.io/org/app:1.2`,
//! `localhost:5000/x@sha256:…`, parsed by the grammar of Docker's
//! `distribution/reference` and normalised the way Podman does (Docker Hub's
//! `library/` namespace, `localhost/` for images made here, `latest` when
//! nothing else is said). Also the matcher behind local lookups (`hutch run
//! busybox` finding `docker.io/library/busybox:latest`) and the transport
//! prefixes (`docker://`, `oci-archive:`, …) that precede a reference.
//!
//! Pure string logic: it knows nothing of registries.conf (short-name
//! resolution lives in `config::registries`) nor of what is in storage.

use std::fmt;

/// The tag a reference gets when it names neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// The registry Docker Hub references are normalised to.
pub const DOCKER_HUB: &str = "docker.io";
/// Older spelling of Docker Hub, still found in scripts and auth files.
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// Docker Hub's namespace for its official images (`busybox` is
/// `library/busybox` there).
const OFFICIAL_NAMESPACE: &str = "library";
/// Registry Podman gives images that never came from one (import, commit,
/// build, tag with a short name).
pub const LOCAL_REGISTRY: &str = "localhost";
/// distribution/reference's limit on `registry/repository`.
const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// A tag is one word character then up to 127 more.
const TAG_LENGTH_MAX: usize = 128;

/// Transports hutch recognises in front of a reference, longest first so
/// that `oci-archive:` is not taken for `oci:`.
const TRANSPORTS: &[(&str, &str)] = &[
    ("containers-storage:", "containers-storage"),
    ("docker-archive:", "docker-archive"),
    ("oci-archive:", "oci-archive"),
    ("docker://", "docker"),
    ("oci:", "oci"),
    ("dir:", "dir"),
];

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("empty image reference")]
    Empty,
    #[error("invalid reference {input:?}: repository name must be lowercase")]
    Uppercase { input: String },
    #[error(
        "invalid reference {input:?}: repository name is {len} characters long, the limit is {NAME_TOTAL_LENGTH_MAX}"
    )]
    TooLong { input: String, len: usize },
    #[error(
        "invalid reference {input:?}: invalid tag {tag:?} (1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-')"
    )]
    BadTag { input: String, tag: String },
    #[error(
        "invalid reference {input:?}: invalid digest {digest:?} (expected sha256: and 64 lowercase hex digits, or sha512: and 128)"
    )]
    BadDigest { input: String, digest: String },
    #[error("invalid reference {input:?}: invalid registry {registry:?}")]
    BadRegistry { input: String, registry: String },
    #[error("invalid reference {input:?}: invalid repository name {repository:?}: {reason}")]
    BadRepository {
        input: String,
        repository: String,
        reason: &'static str,
    },
    #[error(
        "invalid reference {input:?}: a 64-character hexadecimal string is an image ID, not a repository name"
    )]
    LooksLikeId { input: String },
    #[error("{input:?}: an image created locally cannot be named by digest")]
    DigestNotAllowed { input: String },
}

/// A parsed image reference. `registry` is `None` for a short name
/// (`busybox`, `library/busybox`): which registry it means is decided later,
/// by local lookup or registries.conf.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`, as typed (not normalised by `parse`).
    pub registry: Option<String>,
    /// Path components joined by `/`, without registry.
    pub repository: String,
    pub tag: Option<String>,
    /// `algorithm:hex`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `[registry/]repository[:tag][@digest]`. The first path
    /// component is a registry only when it contains `.` or `:` or is
    /// `localhost`, as in Docker and Podman: `library/busybox` is a short
    /// name, `registry.local/busybox` is not.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let owned = || input.to_string();
        // Docker refuses a bare image ID where a name is expected, so that
        // `run <id>` is never mistaken for a repository of that name.
        if input.len() == 64 && is_lower_hex(input) {
            return Err(ReferenceError::LooksLikeId { input: owned() });
        }

        let (name_tag, digest) = match input.split_once('@') {
            Some((before, digest)) => {
                if !valid_digest(digest) {
                    return Err(ReferenceError::BadDigest {
                        input: owned(),
                        digest: digest.to_string(),
                    });
                }
                (before, Some(digest.to_string()))
            }
            None => (input, None),
        };

        // A ':' after the last '/' starts a tag; one before it is a port.
        let last_slash = name_tag.rfind('/');
        let (name, tag) = match name_tag.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                let tag = &name_tag[colon + 1..];
                if !valid_tag(tag) {
                    return Err(ReferenceError::BadTag {
                        input: owned(),
                        tag: tag.to_string(),
                    });
                }
                (&name_tag[..colon], Some(tag.to_string()))
            }
            _ => (name_tag, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::BadRepository {
                input: owned(),
                repository: String::new(),
                reason: "it is empty",
            });
        }

        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if looks_like_registry(first) => (Some(first), rest),
            _ => (None, name),
        };
        if let Some(registry) = registry
            && !valid_registry(registry)
        {
            return Err(ReferenceError::BadRegistry {
                input: owned(),
                registry: registry.to_string(),
            });
        }
        if repository.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase { input: owned() });
        }
        if let Err(reason) = check_repository(repository) {
            return Err(ReferenceError::BadRepository {
                input: owned(),
                repository: repository.to_string(),
                reason,
            });
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::TooLong {
                input: owned(),
                len: name.len(),
            });
        }

        Ok(Reference {
            registry: registry.map(str::to_string),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// No registry: the name needs local lookup or short-name resolution.
    pub fn is_short_name(&self) -> bool {
        self.registry.is_none()
    }

    /// `registry/repository` without tag or digest (the repository alone for
    /// a short name).
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// Docker Hub's spellings made canonical: `index.docker.io` becomes
    /// `docker.io`, and a one-component repository there gets `library/`
    /// (`docker.io/busybox` is `docker.io/library/busybox`). Other registries
    /// and short names are left alone.
    pub fn normalized_docker_hub(mut self) -> Reference {
        let on_hub = matches!(
            self.registry.as_deref(),
            Some(DOCKER_HUB) | Some(DOCKER_HUB_LEGACY)
        );
        if on_hub {
            self.registry = Some(DOCKER_HUB.to_string());
            if !self.repository.contains('/') {
                self.repository = format!("{OFFICIAL_NAMESPACE}/{}", self.repository);
            }
        }
        self
    }

    /// Adds the `latest` tag when neither tag nor digest is given, as every
    /// pull and every lookup does.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The full name to pull or store: `registry` is used only when this
    /// reference has none; Docker Hub is normalised and the tag defaulted
    /// (`busybox` with `docker.io` is `docker.io/library/busybox:latest`).
    pub fn fully_qualified(&self, registry: &str) -> String {
        let mut full = self.clone();
        if full.registry.is_none() {
            full.registry = Some(registry.to_string());
        }
        full.normalized_docker_hub().with_default_tag().to_string()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}

/// The name Podman gives an image created here (import, tag, commit,
/// build): a short name goes under `localhost/`, Docker Hub is normalised
/// and the tag defaults to `latest` (`podman tag img foo` makes
/// `localhost/foo:latest`). A digest is refused: it would claim content
/// that no registry vouched for.
pub fn local_name(input: &str) -> Result<String, ReferenceError> {
    let mut reference = Reference::parse(input)?;
    if reference.digest.is_some() {
        return Err(ReferenceError::DigestNotAllowed {
            input: input.to_string(),
        });
    }
    if reference.registry.is_none() {
        reference.registry = Some(LOCAL_REGISTRY.to_string());
    }
    Ok(reference
        .normalized_docker_hub()
        .with_default_tag()
        .to_string())
}

/// Whether `user_input` names the stored image name `stored`, by Podman's
/// local lookup rules:
/// - a fully-qualified input matches only itself (Docker Hub normalised,
///   tag defaulting to `latest`): `localhost/busybox` matches
///   `localhost/busybox:latest` and nothing else;
/// - a short name matches any stored name whose repository path ends with
///   it at a `/` boundary, with the same tag: `busybox` matches
///   `localhost/busybox:latest` and `docker.io/library/busybox:latest`,
///   `library/busybox` the latter only;
/// - with a digest, the digest must match and the tag is ignored, as Docker
///   does.
///
/// Several stored names may match a short name; Podman prefers
/// `localhost/`, then the unqualified-search registries in order, then
/// `docker.io`. That order is the caller's, as are aliases and image IDs.
pub fn matches_stored_name(user_input: &str, stored: &str) -> bool {
    let (Ok(want), Ok(have)) = (Reference::parse(user_input), Reference::parse(stored)) else {
        return false;
    };
    let have = have.normalized_docker_hub();
    let version_matches = match &want.digest {
        Some(digest) => have.digest.as_deref() == Some(digest),
        None => {
            let tag = want.tag.as_deref().unwrap_or(DEFAULT_TAG);
            have.tag.as_deref().unwrap_or(DEFAULT_TAG) == tag && have.digest.is_none()
        }
    };
    if !version_matches {
        return false;
    }
    if want.is_short_name() {
        let stored_name = have.name();
        stored_name == want.repository
            || stored_name
                .strip_suffix(want.repository.as_str())
                .is_some_and(|head| head.ends_with('/'))
    } else {
        want.normalized_docker_hub().name() == have.name()
    }
}

/// Splits a transport prefix off an image argument: `docker://quay.io/x`
/// gives `(Some("docker"), "quay.io/x")`, `oci-archive:/tmp/a.tar` gives
/// `(Some("oci-archive"), "/tmp/a.tar")`, and a plain reference comes back
/// whole with `None`.
pub fn strip_transport(s: &str) -> (Option<&str>, &str) {
    for (prefix, name) in TRANSPORTS {
        if let Some(rest) = s.strip_prefix(prefix) {
            return (Some(name), rest);
        }
    }
    (None, s)
}

fn looks_like_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == LOCAL_REGISTRY
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == expected_len && is_lower_hex(hex)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            is_word(*first)
                && bytes.len() <= TAG_LENGTH_MAX
                && rest.iter().all(|&b| is_word(b) || b == b'.' || b == b'-')
        }
        None => false,
    }
}

/// `host[:port]` where host is DNS-like components or a bracketed IPv6
/// address. Shared with registries.conf, whose search registries must be
/// exactly that.
pub(crate) fn valid_registry(registry: &str) -> bool {
    let (host_ok, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        let ipv6_ok =
            !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            },
        };
        (ipv6_ok, port)
    } else {
        let (host, port) = match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        };
        (
            !host.is_empty() && host.split('.').all(valid_domain_component),
            port,
        )
    };
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        }
        _ => false,
    }
}

/// Path components of `[a-z0-9]+` joined by a separator of `.`, `_`, `__`
/// or any run of `-`, as distribution/reference defines them.
fn check_repository(repository: &str) -> Result<(), &'static str> {
    if repository.is_empty() {
        return Err("it is empty");
    }
    for component in repository.split('/') {
        check_path_component(component)?;
    }
    Ok(())
}

fn check_path_component(component: &str) -> Result<(), &'static str> {
    let bytes = component.as_bytes();
    if bytes.is_empty() {
        return Err("it has an empty path component");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return Err("path components must start and end with a lowercase letter or digit");
        }
        if i == bytes.len() {
            return Ok(());
        }
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < bytes.len() && bytes[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
            }
            _ => {
                return Err(
                    "only lowercase letters, digits and the separators '.', '_', '__' and '-' are allowed",
                );
            }
        }
        if i == bytes.len() {
            return Err("path components must start and end with a lowercase letter or digit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parse(s: &str) -> Reference {
        match Reference::parse(s) {
            Ok(r) => r,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn short_names() {
        let r = parse("busybox");
        assert_eq!(r.registry, None);
        assert_eq!(r.repository, "busybox");
        assert!(r.is_short_name());
        let r = parse("library/busybox:1.36");
        assert_eq!(r.registry, None);
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.tag.as_deref(), Some("1.36"));
    }

    #[test]
    fn registries_with_port_and_localhost() {
        let r = parse("localhost:5000/foo/bar:v1");
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.repository, "foo/bar");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = parse("localhost/foo");
        assert_eq!(r.registry.as_deref(), Some("localhost"));
        let r = parse("quay.io/podman/stable");
        assert_eq!(r.registry.as_deref(), Some("quay.io"));
        assert_eq!(r.repository, "podman/stable");
        let r = parse("[::1]:5000/x");
        assert_eq!(r.registry.as_deref(), Some("[::1]:5000"));
        let r = parse("127.0.0.1:5000/x");
        assert_eq!(r.registry.as_deref(), Some("127.0.0.1:5000"));
        // No slash: the colon starts a tag, not a port.
        let r = parse("localhost:5000");
        assert_eq!(r.registry, None);
        assert_eq!(r.repository, "localhost");
        assert_eq!(r.tag.as_deref(), Some("5000"));
    }

    #[test]
    fn digests() {
        let input = format!("busybox@sha256:{HEX}");
        let r = parse(&input);
        assert_eq!(r.digest, Some(format!("sha256:{HEX}")));
        assert_eq!(r.tag, None);
        let input = format!("quay.io/a/b:1@sha256:{HEX}");
        let r = parse(&input);
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.to_string(), input);
        for bad in [
            "busybox@sha256:abc".to_string(),
            format!("busybox@sha256:{}", HEX.to_uppercase()),
            format!("busybox@md5:{HEX}"),
            format!("busybox@{HEX}"),
            format!("busybox@sha256:{HEX}@x"),
        ] {
            assert!(
                matches!(
                    Reference::parse(&bad),
                    Err(ReferenceError::BadDigest { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_are_specific() {
        assert_eq!(Reference::parse(""), Err(ReferenceError::Empty));
        assert!(matches!(
            Reference::parse("BusyBox"),
            Err(ReferenceError::Uppercase { .. })
        ));
        assert!(matches!(
            Reference::parse("quay.io/Org/app"),
            Err(ReferenceError::Uppercase { .. })
        ));
        assert!(matches!(
            Reference::parse("busybox:-x"),
            Err(ReferenceError::BadTag { .. })
        ));
        assert!(matches!(
            Reference::parse("busybox:"),
            Err(ReferenceError::BadTag { .. })
        ));
        let long_tag = format!("busybox:{}", "a".repeat(129));
        assert!(matches!(
            Reference::parse(&long_tag),
            Err(ReferenceError::BadTag { .. })
        ));
        assert!(Reference::parse(&format!("busybox:{}", "a".repeat(128))).is_ok());
        let long = format!("quay.io/{}", "a".repeat(250));
        assert!(matches!(
            Reference::parse(&long),
            Err(ReferenceError::TooLong { len: 258, .. })
        ));
        assert!(matches!(
            Reference::parse(HEX),
            Err(ReferenceError::LooksLikeId { .. })
        ));
        assert!(matches!(
            Reference::parse("-bad.io/x"),
            Err(ReferenceError::BadRegistry { .. })
        ));
        assert!(matches!(
            Reference::parse("host:port/x"),
            Err(ReferenceError::BadRegistry { .. })
        ));
        for bad in [
            "a//b", "a/", "/a", "a..b", "a_", "-a", "a/b.", "a$b", ":tag",
        ] {
            assert!(
                matches!(
                    Reference::parse(bad),
                    Err(ReferenceError::BadRepository { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn separators_follow_distribution() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a-b.c_d"] {
            assert!(Reference::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["a___b", "a.-b", "a._b", "a_.b"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn docker_hub_normalisation() {
        let r = parse("docker.io/busybox").normalized_docker_hub();
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        let r = parse("index.docker.io/user/app:1").normalized_docker_hub();
        assert_eq!(r.to_string(), "docker.io/user/app:1");
        let r = parse("quay.io/busybox").normalized_docker_hub();
        assert_eq!(r.to_string(), "quay.io/busybox");
        let r = parse("busybox").normalized_docker_hub();
        assert_eq!(r.to_string(), "busybox");
    }

    #[test]
    fn defaults_and_qualification() {
        assert_eq!(
            parse("busybox").with_default_tag().to_string(),
            "busybox:latest"
        );
        let digested = format!("busybox@sha256:{HEX}");
        assert_eq!(parse(&digested).with_default_tag().to_string(), digested);
        assert_eq!(
            parse("busybox").fully_qualified("docker.io"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(parse("app:2").fully_qualified("quay.io"), "quay.io/app:2");
        assert_eq!(
            parse("registry.local/app").fully_qualified("docker.io"),
            "registry.local/app:latest"
        );
    }

    #[test]
    fn local_names() {
        assert_eq!(local_name("foo").as_deref(), Ok("localhost/foo:latest"));
        assert_eq!(local_name("foo:1").as_deref(), Ok("localhost/foo:1"));
        assert_eq!(
            local_name("library/foo").as_deref(),
            Ok("localhost/library/foo:latest")
        );
        assert_eq!(
            local_name("docker.io/foo").as_deref(),
            Ok("docker.io/library/foo:latest")
        );
        assert_eq!(local_name("quay.io/a/b:c").as_deref(), Ok("quay.io/a/b:c"));
        assert!(matches!(
            local_name(&format!("foo@sha256:{HEX}")),
            Err(ReferenceError::DigestNotAllowed { .. })
        ));
        assert!(local_name("Foo").is_err());
    }

    #[test]
    fn stored_name_matching() {
        let hub = "docker.io/library/busybox:latest";
        let local = "localhost/busybox:latest";
        assert!(matches_stored_name("busybox", hub));
        assert!(matches_stored_name("busybox", local));
        assert!(matches_stored_name("busybox:latest", local));
        assert!(!matches_stored_name("busybox:1.36", hub));
        assert!(matches_stored_name(
            "busybox:1.36",
            "docker.io/library/busybox:1.36"
        ));
        assert!(matches_stored_name("library/busybox", hub));
        assert!(!matches_stored_name("library/busybox", local));
        assert!(!matches_stored_name("ybox", hub));
        assert!(!matches_stored_name(
            "busybox",
            "docker.io/library/busybox2:latest"
        ));
        // Fully qualified: only itself.
        assert!(matches_stored_name("docker.io/library/busybox", hub));
        assert!(matches_stored_name("docker.io/busybox", hub));
        assert!(matches_stored_name("index.docker.io/busybox:latest", hub));
        assert!(!matches_stored_name("localhost/busybox", hub));
        assert!(matches_stored_name("localhost/busybox", local));
        assert!(!matches_stored_name("quay.io/busybox", hub));
        // Digests.
        let pinned = format!("docker.io/library/busybox@sha256:{HEX}");
        assert!(matches_stored_name(
            &format!("busybox@sha256:{HEX}"),
            &pinned
        ));
        assert!(matches_stored_name(
            &format!("busybox:9@sha256:{HEX}"),
            &pinned
        ));
        assert!(!matches_stored_name(&format!("busybox@sha256:{HEX}"), hub));
        assert!(!matches_stored_name("busybox", &pinned));
        // Garbage never matches.
        assert!(!matches_stored_name("Busybox", hub));
        assert!(!matches_stored_name("busybox", "not a name"));
    }

    #[test]
    fn transports() {
        assert_eq!(
            strip_transport("docker://quay.io/x:1"),
            (Some("docker"), "quay.io/x:1")
        );
        assert_eq!(
            strip_transport("oci-archive:/tmp/a.tar:tag"),
            (Some("oci-archive"), "/tmp/a.tar:tag")
        );
        assert_eq!(
            strip_transport("oci:/tmp/layout"),
            (Some("oci"), "/tmp/layout")
        );
        assert_eq!(
            strip_transport("docker-archive:a.tar"),
            (Some("docker-archive"), "a.tar")
        );
        assert_eq!(strip_transport("dir:/tmp/d"), (Some("dir"), "/tmp/d"));
        assert_eq!(
            strip_transport("containers-storage:busybox"),
            (Some("containers-storage"), "busybox")
        );
        assert_eq!(strip_transport("busybox"), (None, "busybox"));
        assert_eq!(
            strip_transport("localhost:5000/x"),
            (None, "localhost:5000/x")
        );
        // `docker:` without `//` is not the docker transport.
        assert_eq!(strip_transport("docker:1"), (None, "docker:1"));
    }
}
