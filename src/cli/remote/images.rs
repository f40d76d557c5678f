//! Image commands of the remote client beyond pull, images, tag and rmi:
//! `push`, as `podman --remote push` does it: the service pushes from its
//! store, the client sends the credentials (`--creds`, else its own auth
//! file's entry for the destination, else none, and the service's own
//! auth.json applies) and prints the service's progress lines on stderr.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::json;

use super::{API_PREFIX, Service, enc, http};
use crate::cli::registry::PushArgs;

/// The repository part of a registry reference (no transport, tag or
/// digest), which auth files are keyed by.
fn repository(reference: &str) -> &str {
    let r = reference.strip_prefix("docker://").unwrap_or(reference);
    let r = r.split_once('@').map_or(r, |(n, _)| n);
    match r.rfind(':') {
        Some(i) if !r[i..].contains('/') => &r[..i],
        _ => r,
    }
}

/// `X-Registry-Auth` for `destination`, if the client has credentials.
fn registry_auth(a: &PushArgs, destination: &str) -> anyhow::Result<Option<String>> {
    use base64::Engine as _;
    let (user, pass) = if let Some(c) = &a.common.creds {
        let (u, p) = c.split_once(':').unwrap_or((c, ""));
        if u.is_empty() {
            bail!("invalid --creds: the username is empty");
        }
        (u.to_owned(), p.to_owned())
    } else {
        let file = match &a.common.authfile {
            Some(f) => crate::image::auth::AuthFile::new(f),
            None => {
                let run = std::env::var_os("XDG_RUNTIME_DIR")
                    .filter(|x| !x.is_empty())
                    .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
                crate::image::auth::AuthFile::locate(&run)
            }
        };
        match file
            .get(repository(destination))
            .context("reading the auth file")?
        {
            Some(c) => (c.username, c.password),
            None => return Ok(None),
        }
    };
    let v = json!({"username": user, "password": pass});
    Ok(Some(
        base64::engine::general_purpose::URL_SAFE.encode(v.to_string()),
    ))
}

pub fn push(svc: &Service, a: &PushArgs) -> anyhow::Result<ExitCode> {
    if a.sign_by_sigstore_private_key.is_some() {
        bail!(
            "--sign-by-sigstore-private-key is not supported by hutch's remote client: the key is the client's"
        );
    }
    let destination = a.destination.clone().unwrap_or_else(|| a.image.clone());
    let mut q = format!(
        "{API_PREFIX}/images/{}/push?destination={}&quiet={}",
        enc(&a.image),
        enc(&destination),
        a.quiet
    );
    if let Some(t) = a.common.tls_verify {
        q.push_str(&format!("&tlsVerify={t}"));
    }
    let auth = registry_auth(a, &destination)?;
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|v| vec![("X-Registry-Auth", v)])
        .unwrap_or_default();
    let r = http::send_with(&svc.socket, "POST", &q, None, &headers)?;
    let digest = super::commands::follow_progress(r.stream()?, a.quiet, "push", "manifestdigest")?;
    if let Some(f) = &a.digestfile {
        let d = digest.context("the service's push reported no digest")?;
        std::fs::write(f, d).with_context(|| format!("writing {}", f.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::repository;

    #[test]
    fn auth_keys_are_repositories() {
        assert_eq!(repository("localhost:5000/a/b:1"), "localhost:5000/a/b");
        assert_eq!(repository("docker://quay.io/x@sha256:00"), "quay.io/x");
        assert_eq!(repository("localhost:5000/a"), "localhost:5000/a");
    }
}
