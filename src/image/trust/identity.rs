//! containers-policy.json(5)'s `signedIdentity`: whether the reference a
//! signature claims fits the reference being pulled. Both are compared
//! normalised (`busybox` is `docker.io/library/busybox`), never with a
//! default tag added to the signature's: a signature must name its tag.

use crate::config::policy::SignedIdentity;
use crate::image::reference::Reference;

fn normalized(s: &str) -> Option<Reference> {
    let r = Reference::parse(s).ok()?;
    if r.registry.is_none() {
        // containers/image's ParseNormalizedNamed: a short name is Docker Hub's.
        let mut r = r;
        r.registry = Some(crate::image::reference::DOCKER_HUB.to_owned());
        return Some(r.normalized_docker_hub());
    }
    Some(r.normalized_docker_hub())
}

fn name_only(r: &Reference) -> bool {
    r.tag.is_none() && r.digest.is_none()
}

/// Whether a signature claiming `signed` may vouch for `intended` (the
/// reference being pulled, tag or digest included) under `rule`.
pub fn matches(rule: &SignedIdentity, intended: &str, signed: &str) -> bool {
    let (Some(intended), Some(signed)) = (normalized(intended), normalized(signed)) else {
        return false;
    };
    match rule {
        SignedIdentity::MatchExact => {
            !name_only(&intended) && !name_only(&signed) && intended == signed
        }
        SignedIdentity::MatchRepoDigestOrExact => repo_digest_or_exact(&intended, &signed),
        SignedIdentity::MatchRepository => intended.name() == signed.name(),
        SignedIdentity::ExactReference(given) => {
            normalized(given).is_some_and(|g| !name_only(&g) && !name_only(&signed) && g == signed)
        }
        SignedIdentity::ExactRepository(given) => {
            normalized(given).is_some_and(|g| g.name() == signed.name())
        }
        SignedIdentity::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            let full = intended.to_string();
            let remapped = match full.strip_prefix(prefix.as_str()) {
                // The prefix must end on a component boundary.
                Some(rest) if rest.is_empty() || rest.starts_with(['/', ':', '@']) => {
                    format!("{signed_prefix}{rest}")
                }
                _ => full,
            };
            normalized(&remapped).is_some_and(|r| repo_digest_or_exact(&r, &signed))
        }
    }
}

/// A tagged pull needs the exact name and tag; a pull by digest needs the
/// repository only (the digest itself is checked against the payload's).
fn repo_digest_or_exact(intended: &Reference, signed: &Reference) -> bool {
    if name_only(signed) {
        return false;
    }
    if intended.tag.is_some() {
        return intended == signed;
    }
    if intended.digest.is_some() {
        return intended.name() == signed.name();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_digest_or_exact_rules() {
        let r = SignedIdentity::MatchRepoDigestOrExact;
        assert!(matches(
            &r,
            "127.0.0.1:5000/a:latest",
            "127.0.0.1:5000/a:latest"
        ));
        assert!(!matches(
            &r,
            "127.0.0.1:5000/a:other",
            "127.0.0.1:5000/a:latest"
        ));
        assert!(!matches(
            &r,
            "127.0.0.1:5000/b:latest",
            "127.0.0.1:5000/a:latest"
        ));
        assert!(!matches(&r, "127.0.0.1:5000/a:latest", "127.0.0.1:5000/a"));
        let d = format!("127.0.0.1:5000/a@sha256:{}", "0".repeat(64));
        assert!(matches(&r, &d, "127.0.0.1:5000/a:v1"));
        assert!(matches(&r, "docker.io/library/busybox:1", "busybox:1"));
    }

    #[test]
    fn other_rules() {
        assert!(matches(
            &SignedIdentity::MatchRepository,
            "q.io/a:1",
            "q.io/a:2"
        ));
        assert!(!matches(
            &SignedIdentity::MatchExact,
            "q.io/a:1",
            "q.io/a:2"
        ));
        assert!(matches(
            &SignedIdentity::ExactReference("q.io/a:7".into()),
            "mirror.io/x:1",
            "q.io/a:7"
        ));
        assert!(matches(
            &SignedIdentity::ExactRepository("q.io/a".into()),
            "mirror.io/x:1",
            "q.io/a:9"
        ));
        let remap = SignedIdentity::RemapIdentity {
            prefix: "mirror.io/ns".into(),
            signed_prefix: "q.io/ns".into(),
        };
        assert!(matches(&remap, "mirror.io/ns/a:1", "q.io/ns/a:1"));
        assert!(!matches(&remap, "mirror.io/nsx/a:1", "q.io/ns/a:1"));
    }
}
