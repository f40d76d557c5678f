//! `hutch login`'s check, done the way `docker login` and Podman do it: ask
//! `/v2/` what authentication it wants, then present the credentials to it
//! (basic) or to its token service (bearer), touching no repository.
//! oci-client cannot do this: with basic auth it never checks a password
//! until some repository request fails.

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;

use super::session::{
    api_host, check_registry, http_client, install_crypto_provider, protocol_for, scheme,
};
use super::{Credentials, Endpoint, RegistryError};

pub(super) async fn check(ep: &Endpoint, creds: &Credentials) -> Result<(), RegistryError> {
    check_registry(&ep.registry)?;
    install_crypto_provider();
    let registry = ep.registry.clone();
    let http_error = |what: &str| {
        let registry = registry.clone();
        let what = what.to_owned();
        move |source| RegistryError::Http {
            registry,
            what,
            source,
        }
    };
    let http = http_client(ep.insecure).map_err(http_error("setting up the HTTP client"))?;
    let url = format!(
        "{}://{}/v2/",
        scheme(&protocol_for(ep).await),
        api_host(&ep.registry)
    );
    let what = format!("checking {url}");
    let answer = http.get(&url).send().await.map_err(http_error(&what))?;
    let status = answer.status();
    if status.is_success() {
        // The registry wants no credentials; Podman calls that a success too.
        return Ok(());
    }
    if status != StatusCode::UNAUTHORIZED {
        return Err(RegistryError::Status {
            registry,
            what,
            status: status.as_u16(),
        });
    }
    let challenge = answer
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .map(Challenge::parse)
        .unwrap_or(Challenge::Basic);
    let (what, request) = match challenge {
        Challenge::Basic => (what, http.get(&url)),
        Challenge::Bearer { realm, service } => {
            let mut token_url = reqwest::Url::parse(&realm).map_err(|_| RegistryError::Status {
                registry: registry.clone(),
                what: format!("unusable token service {realm:?} named by {url}"),
                status: status.as_u16(),
            })?;
            {
                let mut query = token_url.query_pairs_mut();
                query.append_pair("account", &creds.username);
                if let Some(service) = &service {
                    query.append_pair("service", service);
                }
            }
            (format!("asking {realm} for a token"), http.get(token_url))
        }
    };
    let answer = request
        .basic_auth(&creds.username, Some(&creds.password))
        .send()
        .await
        .map_err(http_error(&what))?;
    match answer.status() {
        s if s.is_success() => Ok(()),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Err(RegistryError::InvalidCredentials { registry })
        }
        s => Err(RegistryError::Status {
            registry,
            what,
            status: s.as_u16(),
        }),
    }
}

/// The parts of a `WWW-Authenticate` header that login needs.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

impl Challenge {
    /// `Bearer realm="https://auth.example/token",service="registry.example"`.
    /// Anything that is not a usable bearer challenge is treated as basic,
    /// which is what a registry behind a plain reverse proxy asks for.
    pub(super) fn parse(header: &str) -> Challenge {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Challenge::Basic;
        }
        let params = auth_params(params);
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        };
        match get("realm") {
            Some(realm) => Challenge::Bearer {
                realm,
                service: get("service"),
            },
            None => Challenge::Basic,
        }
    }
}

/// `key=value` or `key="quoted, value"` pairs separated by commas.
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            return out;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            }
        );
        assert_eq!(
            Challenge::parse(r#"bearer realm=https://t.example/token"#),
            Challenge::Bearer {
                realm: "https://t.example/token".into(),
                service: None,
            }
        );
        assert_eq!(Challenge::parse(r#"Basic realm="test""#), Challenge::Basic);
        assert_eq!(Challenge::parse("Bearer service=x"), Challenge::Basic);
        assert_eq!(
            auth_params(r#"a="x\"y", b=2,,c"#),
            [("a".into(), "x\"y".into()), ("b".into(), "2".into())]
        );
    }
}
