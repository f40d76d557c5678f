//! One conversation with one repository: the configured `oci-client`, the
//! credentials it presents, the validated names it builds URLs from, and the
//! sorting of its errors into [`RegistryError`]s.

use oci_client::RegistryOperation;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use hutch_storage::digest::Digest;

use super::token;
use super::{Credentials, Endpoint, RegistryError};

const USER_AGENT: &str = concat!("hutch/", env!("CARGO_PKG_VERSION"));

pub(super) struct Session {
    pub client: Client,
    pub auth: RegistryAuth,
    pub registry: String,
    pub repository: String,
    with_credentials: bool,
    /// For the requests whose bodies hutch reads itself, bounded
    /// (manifests): oci-client reads whole bodies.
    http: reqwest::Client,
    /// `scheme://host` of the registry's API.
    base_url: String,
    /// The bearer token oci-client obtained for pulling, once asked for
    /// (`Some(None)`: the registry wants none).
    pull_token: std::sync::Mutex<Option<Option<String>>>,
}

impl Session {
    pub async fn open(
        ep: &Endpoint,
        repository: &str,
        creds: Option<&Credentials>,
    ) -> Result<Session, RegistryError> {
        check_registry(&ep.registry)?;
        check_repository(repository).map_err(|reason| RegistryError::BadRepository {
            registry: ep.registry.clone(),
            repository: repository.to_owned(),
            reason,
        })?;
        install_crypto_provider();
        let protocol = protocol_for(ep).await;
        let base_url = format!("{}://{}", scheme(&protocol), api_host(&ep.registry));
        let http = http_client(ep.insecure).map_err(|source| RegistryError::Client {
            registry: ep.registry.clone(),
            source: Box::new(source.into()),
        })?;
        let config = ClientConfig {
            protocol,
            accept_invalid_certificates: ep.insecure,
            // One streamed PUT per blob: every registry accepts it, while
            // oci-client's chunked upload sends one PATCH per stream item.
            use_monolithic_push: true,
            // Lists are resolved here, by `platform::choose`.
            platform_resolver: None,
            user_agent: USER_AGENT,
            ..ClientConfig::default()
        };
        // oci-client 0.18 also builds a default reqwest client (its
        // `..Default::default()`), which panics where no CA certificate
        // can be loaded (a host without ca-certificates), even for a plain
        // HTTP registry: an error that says so rather than a panic.
        if let Err(e) = reqwest::Client::builder().build() {
            let mut why = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                why = format!("{why}: {c}");
                cause = c.source();
            }
            return Err(RegistryError::Client {
                registry: ep.registry.clone(),
                source: Box::new(OciDistributionError::GenericError(Some(format!(
                    "{why} (install ca-certificates, or point SSL_CERT_FILE at a CA bundle)"
                )))),
            });
        }
        let client = Client::try_from(config).map_err(|source| RegistryError::Client {
            registry: ep.registry.clone(),
            source: Box::new(source),
        })?;
        let auth = match creds {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        };
        let session = Session {
            client,
            auth,
            registry: ep.registry.clone(),
            repository: repository.to_owned(),
            with_credentials: creds.is_some(),
            http,
            base_url,
            pull_token: std::sync::Mutex::new(None),
        };
        // Blob and upload calls use whatever auth the client holds for the
        // registry and never take it as an argument, so store it up front,
        // under the host a `Reference` resolves to (docker.io is served
        // elsewhere), which is the key oci-client looks it up by.
        let any = session.reference_by_digest(&Digest::of(b""));
        session
            .client
            .store_auth_if_needed(any.resolve_registry(), &session.auth)
            .await;
        Ok(session)
    }

    pub fn reference_by_tag(&self, tag: &str) -> Result<Reference, RegistryError> {
        check_tag(tag).map_err(|reason| RegistryError::BadReference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            reference: tag.to_owned(),
            reason,
        })?;
        Ok(Reference::with_tag(
            self.registry.clone(),
            self.repository.clone(),
            tag.to_owned(),
        ))
    }

    pub fn reference_by_digest(&self, digest: &Digest) -> Reference {
        Reference::with_digest(
            self.registry.clone(),
            self.repository.clone(),
            digest.to_string(),
        )
    }

    /// A tag, or a digest when it starts with `sha256:`.
    pub fn reference(&self, reference: &str) -> Result<(Reference, Option<Digest>), RegistryError> {
        if reference.contains(':') {
            let digest: Digest = reference.parse().map_err(|_| RegistryError::BadReference {
                registry: self.registry.clone(),
                repository: self.repository.clone(),
                reference: reference.to_owned(),
                reason: "a digest must be sha256: followed by 64 lowercase hex digits",
            })?;
            Ok((self.reference_by_digest(&digest), Some(digest)))
        } else {
            Ok((self.reference_by_tag(reference)?, None))
        }
    }

    /// GETs the manifest `target` names, reading at most `limit` bytes of
    /// it: a registry that sends more (declared or not: a body without
    /// Content-Length is read until the limit, no further) is refused
    /// with [`RegistryError::TooLarge`]. Authenticates as oci-client does
    /// (its bearer token for pulling, or basic credentials); an error
    /// status is sorted as oci-client's are. Returns the body and the
    /// registry's `Docker-Content-Digest`, if it sent one.
    pub async fn get_manifest(
        &self,
        target: &Reference,
        accepted: &[&str],
        limit: u64,
        what: &str,
    ) -> Result<(Vec<u8>, Option<String>), RegistryError> {
        let token = self.pull_token(target, what).await?;
        let name = target
            .digest()
            .or(target.tag())
            .unwrap_or("latest")
            .to_owned();
        let url = format!(
            "{}/v2/{}/manifests/{name}",
            self.base_url,
            target.repository()
        );
        let mut req = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, accepted.join(", "));
        req = match (&token, &self.auth) {
            (Some(t), _) => req.bearer_auth(t),
            (None, RegistryAuth::Basic(user, password)) => req.basic_auth(user, Some(password)),
            (None, _) => req,
        };
        let request_failed = |e: reqwest::Error| (self.fail(what))(e.into());
        let mut res = req.send().await.map_err(request_failed)?;
        let status = res.status();
        let too_large = || RegistryError::TooLarge {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            what: what.to_owned(),
            limit,
        };
        // An error's body is only a message: a little of it is enough.
        let cap = if status.is_success() { limit } else { 4096 };
        if status.is_success() && res.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let digest = res
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(request_failed)? {
            if (body.len() + chunk.len()) as u64 > cap {
                if status.is_success() {
                    return Err(too_large());
                }
                break;
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let e = OciDistributionError::ServerError {
                code: status.as_u16(),
                url,
                message: String::from_utf8_lossy(&body).into_owned(),
            };
            return Err((self.fail(what))(e));
        }
        Ok((body, digest))
    }

    /// The bearer token for pulling from this repository, asked of
    /// oci-client once (which keeps it for the blob requests too).
    async fn pull_token(
        &self,
        target: &Reference,
        what: &str,
    ) -> Result<Option<String>, RegistryError> {
        if let Ok(held) = self.pull_token.lock()
            && let Some(token) = held.as_ref()
        {
            return Ok(token.clone());
        }
        let token = self
            .bounded_token(target, RegistryOperation::Pull, what)
            .await?;
        if let Ok(mut held) = self.pull_token.lock() {
            *held = Some(token.clone());
        }
        Ok(token)
    }

    /// Asks the token service for `op` with a bounded read
    /// ([`token::fetch`]) and gives the token to oci-client, which then uses
    /// it for every request of that kind instead of fetching one itself
    /// (unbounded). Basic and anonymous access stay oci-client's.
    pub async fn bounded_token(
        &self,
        target: &Reference,
        op: RegistryOperation,
        what: &str,
    ) -> Result<Option<String>, RegistryError> {
        let req = token::TokenRequest {
            http: &self.http,
            base_url: &self.base_url,
            registry: &self.registry,
            repository: &self.repository,
            auth: &self.auth,
            with_credentials: self.with_credentials,
        };
        let Some(bearer) = token::fetch(&req, op).await? else {
            return self
                .client
                .auth(target, &self.auth, op)
                .await
                .map_err(self.fail(what));
        };
        let auth = RegistryAuth::Bearer(bearer);
        // A push token (scope pull,push) serves the pulls a push makes too
        // (blob checks, mounts).
        let ops: &[RegistryOperation] = match op {
            RegistryOperation::Pull => &[RegistryOperation::Pull],
            RegistryOperation::Push => &[RegistryOperation::Pull, RegistryOperation::Push],
        };
        let mut held = None;
        for op in ops {
            held = self
                .client
                .auth(target, &auth, *op)
                .await
                .map_err(self.fail(what))?;
        }
        Ok(held)
    }

    /// Sorts an `oci-client` error from doing `what` into what a user can act on.
    pub fn fail(
        &self,
        what: impl Into<String>,
    ) -> impl FnOnce(OciDistributionError) -> RegistryError {
        let registry = self.registry.clone();
        let repository = self.repository.clone();
        let with_credentials = self.with_credentials;
        let what = what.into();
        move |e| match classify(&e) {
            Kind::Unauthorized => RegistryError::Unauthorized {
                registry,
                repository,
                what,
                with_credentials,
            },
            Kind::BadPassword if with_credentials => RegistryError::InvalidCredentials { registry },
            Kind::BadPassword => RegistryError::Unauthorized {
                registry,
                repository,
                what,
                with_credentials,
            },
            Kind::Denied => RegistryError::Denied {
                registry,
                repository,
                what,
            },
            Kind::NotFound => RegistryError::NotFound {
                registry,
                repository,
                what,
            },
            Kind::Digest { expected, actual } => RegistryError::DigestMismatch {
                registry,
                repository,
                what,
                expected,
                actual,
            },
            Kind::Other => RegistryError::Request {
                registry,
                repository,
                what,
                source: Box::new(e),
            },
        }
    }
}

enum Kind {
    /// A token service refused the credentials themselves.
    BadPassword,
    Unauthorized,
    Denied,
    NotFound,
    Digest {
        expected: String,
        actual: String,
    },
    Other,
}

fn classify(e: &OciDistributionError) -> Kind {
    use OciDistributionError as E;
    let by_status = |status: u16| match status {
        401 => Kind::Unauthorized,
        403 => Kind::Denied,
        404 => Kind::NotFound,
        _ => Kind::Other,
    };
    match e {
        E::AuthenticationFailure(_) => Kind::BadPassword,
        E::UnauthorizedError { .. } => Kind::Unauthorized,
        E::RegistryError { envelope, .. } => {
            let has =
                |code: fn(&OciErrorCode) -> bool| envelope.errors.iter().any(|e| code(&e.code));
            if has(|c| matches!(c, OciErrorCode::Unauthorized)) {
                Kind::Unauthorized
            } else if has(|c| matches!(c, OciErrorCode::Denied)) {
                Kind::Denied
            } else if has(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                Kind::NotFound
            } else {
                Kind::Other
            }
        }
        E::ServerError { code, .. } => by_status(*code),
        E::RequestError(r) => r.status().map_or(Kind::Other, |s| by_status(s.as_u16())),
        E::DigestError(DigestError::VerificationError { expected, actual }) => Kind::Digest {
            expected: expected.clone(),
            actual: actual.clone(),
        },
        _ => Kind::Other,
    }
}

/// Makes ring the process-wide rustls crypto provider. reqwest is built
/// without one so that no C toolchain beyond `cc` is needed (aws-lc, its
/// default, wants cmake), and it panics building a client if none is set.
pub(super) fn install_crypto_provider() {
    // An error only says a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The host that serves the API: Docker Hub's images are named `docker.io`
/// but its registry answers elsewhere (oci-client maps it the same way).
pub(super) fn api_host(registry: &str) -> &str {
    if registry == "docker.io" {
        "index.docker.io"
    } else {
        registry
    }
}

/// HTTPS, or for an insecure registry whatever it speaks: Podman tries TLS
/// (without verifying the certificate) first and falls back to plain HTTP
/// only when TLS cannot be spoken at all.
pub(super) async fn protocol_for(ep: &Endpoint) -> ClientProtocol {
    if !ep.allows_plain_http() {
        return ClientProtocol::Https;
    }
    let Ok(probe) = http_client(true) else {
        return ClientProtocol::Http;
    };
    let url = format!("https://{}/v2/", api_host(&ep.registry));
    match probe.get(url).send().await {
        Ok(_) => ClientProtocol::Https,
        Err(_) => ClientProtocol::Http,
    }
}

/// A plain HTTP client for requests outside oci-client's API (`/v2/`
/// probes, login checks), with the same TLS policy.
pub(super) fn http_client(insecure: bool) -> Result<reqwest::Client, reqwest::Error> {
    install_crypto_provider();
    reqwest::Client::builder()
        .danger_accept_invalid_certs(insecure)
        .user_agent(USER_AGENT)
        .build()
}

pub(super) fn scheme(protocol: &ClientProtocol) -> &'static str {
    match protocol {
        ClientProtocol::Http => "http",
        _ => "https",
    }
}

/// `host[:port]` and nothing that would change the meaning of a URL built
/// around it.
pub(super) fn check_registry(registry: &str) -> Result<(), RegistryError> {
    let bad = registry.is_empty()
        || registry
            .bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')));
    if bad {
        return Err(RegistryError::BadRegistry {
            registry: registry.to_owned(),
        });
    }
    Ok(())
}

/// The distribution spec's repository grammar: lowercase path components
/// of alphanumerics joined by `.`, `_`, `__` or dashes. Checked here because
/// the name becomes part of every URL.
pub(super) fn check_repository(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 255 {
        return Err("must be 1 to 255 characters");
    }
    for component in name.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
            return Err("each path component must start and end with a lowercase letter or digit");
        }
        if !bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err("only lowercase letters, digits, '.', '_', '-' and '/' are allowed");
        }
        if component.contains("..")
            || component.contains("___")
            || component.contains("._")
            || component.contains("_.")
        {
            return Err("separators other than '__' and dashes cannot repeat");
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), &'static str> {
    let bytes = tag.as_bytes();
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    if bytes.is_empty() || bytes.len() > 128 {
        return Err("a tag must be 1 to 128 characters");
    }
    if !word(&bytes[0]) || !bytes.iter().all(|b| word(b) || matches!(b, b'.' | b'-')) {
        return Err("a tag is letters, digits, '_', '.' and '-', not starting with '.' or '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for good in [
            "busybox",
            "library/busybox",
            "a/b-c/d.e/f__g",
            "x1/2y",
            "a--b",
        ] {
            assert_eq!(check_repository(good), Ok(()), "{good}");
        }
        for bad in [
            "", "Busybox", "a//b", "/a", "a/", "-a", "a-", "a/../b", "a..b", "a b", "a?b", "a%2fb",
        ] {
            assert!(check_repository(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_names() {
        for good in [
            "docker.io",
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "quay.io",
        ] {
            assert!(check_registry(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "user@host",
            "host?x",
            "host#x",
            "ho st",
            "host/../",
        ] {
            assert!(check_registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        for good in ["latest", "v1.2.3", "_x", "A-b_c.d"] {
            assert_eq!(check_tag(good), Ok(()), "{good}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"x".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: "alice".into(),
            password: "hunter2".into(),
        };
        let shown = format!("{c:?}");
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
