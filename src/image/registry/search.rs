//! `search`: Docker's `/v1/search` where the registry has it (Docker Hub and
//! a few others), else the distribution protocol's `/v2/_catalog` filtered
//! by the term, as Podman's (containers/image `SearchRegistry`) does: a
//! repository matches when its name contains the term, and one equal to the
//! term is listed first.
//!
//! Every answer is read with a bound: [`MAX_ANSWER_BYTES`] per page (search
//! page or catalog page) and at most [`MAX_CATALOG_PAGES`] catalog pages
//! followed through `Link` headers, so a hostile registry cannot make hutch
//! read without end.

use oci_client::secrets::RegistryAuth;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, LINK, WWW_AUTHENTICATE};

use super::login::Challenge;
use super::session::{
    api_host, check_registry, check_repository, http_client, install_crypto_provider, protocol_for,
    scheme,
};
use super::token::{TokenRequest, fetch_scope};
use super::{Credentials, Endpoint, RegistryError};

/// The most bytes read of one answer: a search page is a few kilobytes, a
/// catalog page of 100 names a few more.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The most catalog pages followed (the distribution registry serves 100
/// or 1000 names a page): enough for any registry someone searches by
/// hand, and a bound on a registry that links pages in a circle.
pub const MAX_CATALOG_PAGES: usize = 64;

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

#[derive(serde::Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Vec<String>,
}

/// The HTTP client for `ep`'s registry and the base of its API
/// (`SCHEME://HOST`, the scheme found as pulls find it).
async fn api(ep: &Endpoint) -> Result<(reqwest::Client, String), RegistryError> {
    install_crypto_provider();
    let http = http_client(ep.insecure).map_err(|source| RegistryError::Http {
        registry: ep.registry.clone(),
        what: "setting up the HTTP client".into(),
        source,
    })?;
    let base = format!(
        "{}://{}",
        scheme(&protocol_for(ep).await),
        api_host(&ep.registry)
    );
    Ok((http, base))
}

/// At most `limit` results for `term` in the registry `ep` names.
pub(super) async fn search(
    ep: &Endpoint,
    term: &str,
    limit: usize,
    creds: Option<&Credentials>,
) -> Result<Vec<SearchResult>, RegistryError> {
    check_registry(&ep.registry)?;
    let registry = ep.registry.clone();
    let (http, base) = api(ep).await?;
    // Docker Hub finds `library/foo` only as `foo` (docker does the same
    // client-side).
    let term = if ep.registry == "docker.io" {
        term.strip_prefix("library/").unwrap_or(term)
    } else {
        term
    };
    // An empty term goes straight to the catalog, as in Podman.
    if !term.is_empty()
        && let Some(found) = v1(&http, &base, term, limit).await
    {
        return Ok(found.into_iter().take(limit).collect());
    }
    catalog(&http, &base, &registry, term, limit, creds).await
}

/// `/v1/search`, or `None` where the registry has none or it fails in any
/// way (Podman then tries the catalog, logging the failure at debug level).
async fn v1(
    http: &reqwest::Client,
    base: &str,
    term: &str,
    limit: usize,
) -> Option<Vec<SearchResult>> {
    let mut url = reqwest::Url::parse(&format!("{base}/v1/search")).ok()?;
    url.query_pairs_mut()
        .append_pair("q", term)
        .append_pair("n", &limit.to_string());
    let answer = match http.get(url.clone()).send().await {
        Ok(a) if a.status().is_success() => a,
        Ok(a) => {
            tracing::debug!(%url, status = %a.status(), "no v1 search");
            return None;
        }
        Err(e) => {
            tracing::debug!(%url, error = %e, "no v1 search");
            return None;
        }
    };
    let body = read_bounded(answer).await.ok()?;
    let page: Page = serde_json::from_slice(&body).ok()?;
    Some(page.results)
}

/// How catalog requests authenticate, learnt from the first 401.
enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

impl Auth {
    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
            Auth::Bearer(t) => req.header(AUTHORIZATION, format!("Bearer {t}")),
        }
    }
}

async fn catalog(
    http: &reqwest::Client,
    base: &str,
    registry: &str,
    term: &str,
    limit: usize,
    creds: Option<&Credentials>,
) -> Result<Vec<SearchResult>, RegistryError> {
    let mut found: Vec<SearchResult> = Vec::new();
    let listing = Listing {
        first: "/v2/_catalog".into(),
        scope: "registry:catalog:*".into(),
        repository: "_catalog",
        doing: "searching",
    };
    list_pages(http, base, registry, &listing, creds, &mut |what, body| {
        let page: Catalog = serde_json::from_slice(body).map_err(|_| RegistryError::Status {
            registry: registry.to_owned(),
            what: format!("{what}: the answer is not a catalog"),
            status: 200,
        })?;
        for repo in page.repositories {
            if found.len() >= limit {
                break;
            }
            if repo.contains(term) {
                let hit = SearchResult {
                    name: repo.clone(),
                    description: String::new(),
                    star_count: 0,
                    is_official: false,
                    is_automated: false,
                };
                // Podman lists an exact match first (RHBZ#1976283).
                if repo == term {
                    found.insert(0, hit);
                } else {
                    found.push(hit);
                }
            }
        }
        Ok(found.len() < limit)
    })
    .await?;
    Ok(found)
}

/// The tags of `repository`, from `/v2/NAME/tags/list` page by page
/// (bounded as the catalog is), at most `max`.
pub(super) async fn tags(
    ep: &Endpoint,
    repository: &str,
    creds: Option<&Credentials>,
    max: usize,
) -> Result<Vec<String>, RegistryError> {
    check_registry(&ep.registry)?;
    check_repository(repository).map_err(|reason| RegistryError::BadRepository {
        registry: ep.registry.clone(),
        repository: repository.to_owned(),
        reason,
    })?;
    let registry = ep.registry.clone();
    let (http, base) = api(ep).await?;
    #[derive(serde::Deserialize)]
    struct TagList {
        #[serde(default)]
        tags: Option<Vec<String>>,
    }
    let mut tags = Vec::new();
    let listing = Listing {
        first: format!("/v2/{repository}/tags/list"),
        scope: format!("repository:{repository}:pull"),
        repository,
        doing: "listing the tags",
    };
    list_pages(
        &http,
        &base,
        &registry,
        &listing,
        creds,
        &mut |what, body| {
            let page: TagList =
                serde_json::from_slice(body).map_err(|_| RegistryError::Status {
                    registry: registry.clone(),
                    what: format!("{what}: the answer is not a tag list"),
                    status: 200,
                })?;
            for t in page.tags.unwrap_or_default() {
                if tags.len() >= max {
                    break;
                }
                tags.push(t);
            }
            Ok(tags.len() < max)
        },
    )
    .await?;
    Ok(tags)
}

/// Gets what was asked (for errors) and one page's body; says whether more
/// pages are wanted.
type PageReader<'a> = dyn FnMut(&str, &[u8]) -> Result<bool, RegistryError> + 'a;

/// A list the registry serves in pages linked by `Link` headers.
struct Listing<'a> {
    /// Path and query of the first page.
    first: String,
    /// The token scope it needs behind a token service.
    scope: String,
    /// Named in errors.
    repository: &'a str,
    /// What hutch is doing, for errors ("searching").
    doing: &'static str,
}

/// Reads `listing` page by page, each bounded by [`MAX_ANSWER_BYTES`], at
/// most [`MAX_CATALOG_PAGES`]; `page` gets each body and says whether
/// more are wanted. A 401 is answered once with the credentials the
/// registry's challenge asks for.
async fn list_pages(
    http: &reqwest::Client,
    base: &str,
    registry: &str,
    listing: &Listing<'_>,
    creds: Option<&Credentials>,
    page: &mut PageReader<'_>,
) -> Result<(), RegistryError> {
    let mut path = listing.first.clone();
    let mut auth = Auth::None;
    let mut asked_for_auth = false;
    let mut pages = 0;
    while pages < MAX_CATALOG_PAGES {
        let url = format!("{base}{path}");
        let what = format!("{} {url}", listing.doing);
        let http_error = |source| RegistryError::Http {
            registry: registry.to_owned(),
            what: what.clone(),
            source,
        };
        let mut answer = auth
            .apply(http.get(&url))
            .send()
            .await
            .map_err(http_error)?;
        if answer.status() == StatusCode::UNAUTHORIZED && !asked_for_auth {
            asked_for_auth = true;
            let challenge = answer
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .map_or(Challenge::Basic, Challenge::parse);
            auth = authorize(http, base, registry, listing, challenge, creds).await?;
            continue;
        }
        match answer.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED => {
                return Err(RegistryError::Unauthorized {
                    registry: registry.to_owned(),
                    repository: listing.repository.to_owned(),
                    what,
                    with_credentials: creds.is_some(),
                });
            }
            StatusCode::NOT_FOUND => {
                return Err(RegistryError::NotFound {
                    registry: registry.to_owned(),
                    repository: listing.repository.to_owned(),
                    what,
                });
            }
            s => {
                return Err(RegistryError::Status {
                    registry: registry.to_owned(),
                    what,
                    status: s.as_u16(),
                });
            }
        }
        pages += 1;
        let next = answer
            .headers()
            .get(LINK)
            .and_then(|h| h.to_str().ok())
            .and_then(next_page);
        let body = read_bounded_mut(&mut answer).await.map_err(|e| match e {
            Bounded::Http(source) => RegistryError::Http {
                registry: registry.to_owned(),
                what: what.clone(),
                source,
            },
            Bounded::TooLarge => too_large(registry, listing.repository, &what),
        })?;
        if !page(&what, &body)? {
            break;
        }
        match next {
            Some(p) => path = p,
            None => break,
        }
    }
    Ok(())
}

/// The credentials a 401 asks for: basic ones as they are, or a bearer
/// token for the listing's scope.
async fn authorize(
    http: &reqwest::Client,
    base: &str,
    registry: &str,
    listing: &Listing<'_>,
    challenge: Challenge,
    creds: Option<&Credentials>,
) -> Result<Auth, RegistryError> {
    let basic = creds.map(|c| RegistryAuth::Basic(c.username.clone(), c.password.clone()));
    match challenge {
        Challenge::Basic => Ok(match creds {
            Some(c) => Auth::Basic(c.username.clone(), c.password.clone()),
            None => Auth::None,
        }),
        Challenge::Bearer { .. } => {
            let req = TokenRequest {
                http,
                base_url: base,
                registry,
                repository: listing.repository,
                auth: basic.as_ref().unwrap_or(&RegistryAuth::Anonymous),
                with_credentials: creds.is_some(),
            };
            Ok(match fetch_scope(&req, &listing.scope).await? {
                Some(token) => Auth::Bearer(token),
                None => Auth::None,
            })
        }
    }
}

/// The path and query of the `rel="next"` page a `Link` header names
/// (`</v2/_catalog?last=x&n=100>; rel="next"`), absolute or relative.
fn next_page(link: &str) -> Option<String> {
    let (target, _) = link.split_once(';').unwrap_or((link, ""));
    let target = target.trim().trim_start_matches('<').trim_end_matches('>');
    if target.is_empty() {
        return None;
    }
    if target.starts_with('/') {
        return Some(target.to_owned());
    }
    // An absolute URL: only its path and query are followed, on the same
    // registry (a redirect elsewhere is not).
    let url = reqwest::Url::parse(target).ok()?;
    Some(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    })
}

enum Bounded {
    Http(reqwest::Error),
    TooLarge,
}

async fn read_bounded(mut answer: reqwest::Response) -> Result<Vec<u8>, Bounded> {
    read_bounded_mut(&mut answer).await
}

async fn read_bounded_mut(answer: &mut reqwest::Response) -> Result<Vec<u8>, Bounded> {
    if answer
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(Bounded::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(Bounded::Http)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Bounded::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(registry: &str, repository: &str, what: &str) -> RegistryError {
    RegistryError::TooLarge {
        registry: registry.to_owned(),
        repository: repository.to_owned(),
        what: what.to_owned(),
        limit: MAX_ANSWER_BYTES as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::next_page;

    #[test]
    fn link_headers_name_the_next_page() {
        assert_eq!(
            next_page("</v2/_catalog?last=b&n=2>; rel=\"next\"").as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_page("<https://r.example/v2/_catalog?last=c>; rel=\"next\"").as_deref(),
            Some("/v2/_catalog?last=c")
        );
        assert_eq!(next_page("<>; rel=\"next\""), None);
    }
}
