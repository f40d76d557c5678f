//! Bearer tokens, asked of the registry's token service by hutch itself so
//! that the answer is read with a bound: oci-client reads a token response
//! whole, and a hostile token service could send gigabytes. The token is
//! then handed to oci-client, which keeps it for the blob and upload
//! requests it makes, so it never asks the token service itself.

use oci_client::RegistryOperation;
use oci_client::secrets::RegistryAuth;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;

use super::RegistryError;
use super::login::Challenge;

/// The most hutch reads of a token service's answer. Real tokens are a few
/// KiB (Docker Hub's JWTs ~1-4 KiB; registries with fine-grained scopes a
/// little more).
pub(super) const MAX_TOKEN_BYTES: u64 = 1 << 20;

/// Where and as whom to ask.
pub(super) struct TokenRequest<'a> {
    pub http: &'a reqwest::Client,
    /// `scheme://host` of the registry's API.
    pub base_url: &'a str,
    pub registry: &'a str,
    pub repository: &'a str,
    pub auth: &'a RegistryAuth,
    pub with_credentials: bool,
}

/// The bearer token for `op` on the repository, or `None` when the
/// registry asks for none (it answers `/v2/` without a challenge) or for
/// basic credentials, which oci-client presents itself.
pub(super) async fn fetch(
    req: &TokenRequest<'_>,
    op: RegistryOperation,
) -> Result<Option<String>, RegistryError> {
    let scope = match op {
        RegistryOperation::Pull => format!("repository:{}:pull", req.repository),
        RegistryOperation::Push => format!("repository:{}:pull,push", req.repository),
    };
    fetch_scope(req, &scope).await
}

/// The bearer token for `scope` (`registry:catalog:*` for `search`), as
/// [`fetch`] does for a repository operation.
pub(super) async fn fetch_scope(
    req: &TokenRequest<'_>,
    scope: &str,
) -> Result<Option<String>, RegistryError> {
    let http_error = |what: String| {
        let registry = req.registry.to_owned();
        move |source| RegistryError::Http {
            registry,
            what,
            source,
        }
    };
    let ping = format!("{}/v2/", req.base_url);
    let answer = req
        .http
        .get(&ping)
        .send()
        .await
        .map_err(http_error(format!("checking {ping}")))?;
    if answer.status() != StatusCode::UNAUTHORIZED {
        return Ok(None);
    }
    let challenge = answer
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .map(Challenge::parse);
    let Some(Challenge::Bearer { realm, service }) = challenge else {
        return Ok(None);
    };
    let what = format!("asking {realm} for a token");
    let mut url = reqwest::Url::parse(&realm).map_err(|_| RegistryError::Status {
        registry: req.registry.to_owned(),
        what: format!("unusable token service {realm:?} named by {ping}"),
        status: StatusCode::UNAUTHORIZED.as_u16(),
    })?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("scope", scope);
        if let Some(service) = &service {
            query.append_pair("service", service);
        }
    }
    let mut get = req.http.get(url);
    if let RegistryAuth::Basic(user, password) = req.auth {
        get = get.basic_auth(user, Some(password));
    }
    let mut answer = get.send().await.map_err(http_error(what.clone()))?;
    match answer.status() {
        s if s.is_success() => {}
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            return Err(RegistryError::Unauthorized {
                registry: req.registry.to_owned(),
                repository: req.repository.to_owned(),
                what,
                with_credentials: req.with_credentials,
            });
        }
        s => {
            return Err(RegistryError::Status {
                registry: req.registry.to_owned(),
                what,
                status: s.as_u16(),
            });
        }
    }
    let too_large = || RegistryError::TooLarge {
        registry: req.registry.to_owned(),
        repository: req.repository.to_owned(),
        what: what.clone(),
        limit: MAX_TOKEN_BYTES,
    };
    if answer.content_length().is_some_and(|n| n > MAX_TOKEN_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(http_error(what.clone()))? {
        if (body.len() + chunk.len()) as u64 > MAX_TOKEN_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    parse(&body).map(Some).ok_or_else(|| RegistryError::Status {
        registry: req.registry.to_owned(),
        what: format!("{what}: the answer holds no token"),
        status: StatusCode::OK.as_u16(),
    })
}

/// `{"token": "..."}` or OAuth2's `{"access_token": "..."}` (the
/// distribution spec allows either; Docker Hub sends both).
fn parse(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
    }
    let a: Answer = serde_json::from_slice(body).ok()?;
    let usable = |t: Option<String>| t.filter(|t| !t.is_empty());
    usable(a.token).or(usable(a.access_token))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn token_or_access_token() {
        assert_eq!(parse(br#"{"token":"a"}"#).as_deref(), Some("a"));
        assert_eq!(parse(br#"{"access_token":"b"}"#).as_deref(), Some("b"));
        assert_eq!(
            parse(br#"{"token":"","access_token":"c"}"#).as_deref(),
            Some("c")
        );
        assert_eq!(parse(br#"{"expires_in":60}"#), None);
        assert_eq!(parse(b"not json"), None);
    }
}
