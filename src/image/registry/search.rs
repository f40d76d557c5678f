//! `search`: Docker's `/v1/search` (Docker Hub and a few registries have
//! it; the distribution protocol itself has no search).

use reqwest::StatusCode;

use super::session::{api_host, http_client, protocol_for, scheme};
use super::{Endpoint, RegistryError};

/// The most answer bytes read: a search page is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// One result as the registry lists it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct SearchResult {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    results: Vec<SearchResult>,
}

pub(super) async fn search(
    ep: &Endpoint,
    term: &str,
    limit: usize,
) -> Result<Vec<SearchResult>, RegistryError> {
    super::session::check_registry(&ep.registry)?;
    let registry = ep.registry.clone();
    let http = http_client(ep.insecure).map_err(|source| RegistryError::Http {
        registry: registry.clone(),
        what: "setting up the HTTP client".into(),
        source,
    })?;
    let mut url = reqwest::Url::parse(&format!(
        "{}://{}/v1/search",
        scheme(&protocol_for(ep).await),
        api_host(&ep.registry)
    ))
    .map_err(|_| RegistryError::BadRegistry {
        registry: registry.clone(),
    })?;
    url.query_pairs_mut()
        .append_pair("q", term)
        .append_pair("n", &limit.to_string());
    let what = format!("searching {url}");
    let mut answer = http
        .get(url)
        .send()
        .await
        .map_err(|source| RegistryError::Http {
            registry: registry.clone(),
            what: what.clone(),
            source,
        })?;
    match answer.status() {
        s if s.is_success() => {}
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
            return Err(RegistryError::NoSearch { registry });
        }
        s => {
            return Err(RegistryError::Status {
                registry,
                what,
                status: s.as_u16(),
            });
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(|source| RegistryError::Http {
        registry: registry.clone(),
        what: what.clone(),
        source,
    })? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(RegistryError::Status {
                registry,
                what: format!("{what}: answer larger than {MAX_ANSWER_BYTES} bytes"),
                status: 200,
            });
        }
        body.extend_from_slice(&chunk);
    }
    // A registry that answers 200 with something else has no search either.
    let page: Page =
        serde_json::from_slice(&body).map_err(|_| RegistryError::NoSearch { registry })?;
    Ok(page.results.into_iter().take(limit).collect())
}
