//! `search TERM`: the registries a term names, their results filtered and
//! shaped as Podman's (libimage `Search`) are, for the CLI and both APIs.
//!
//! `host[:port]/rest` searches that registry for `rest` (everything before
//! the first slash is the registry, as in Podman, which does not parse the
//! term as a reference: it may hold anything); a term without a slash is
//! searched in every unqualified-search registry of registries.conf.
//! `--list-tags` lists the tags of the repository the term names instead.

use crate::config::registries;
use crate::engine::{Result, ResultExt};
use crate::image::reference::Reference;
use crate::image::registry::{self, RegistryError, SearchResult};

use super::pull::{RegistryOptions, auth_file, credentials, endpoint_for};

/// Results asked of a registry and shown when `--limit` is not given
/// (Podman's `searchMaxQueries`).
pub const DEFAULT_LIMIT: usize = 25;

/// How long a description may be before `...` replaces the rest.
pub const DESCRIPTION_LIMIT: usize = 44;

/// `--filter is-official[=BOOL]`, `is-automated[=BOOL]`, `stars=N`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Results with at least this many stars.
    pub stars: i64,
    pub is_official: Option<bool>,
    pub is_automated: Option<bool>,
}

impl SearchFilter {
    /// Podman's parser, its messages included (the whole list quoted as Go
    /// prints a `[]string` with `%q`).
    pub fn parse(filters: &[String]) -> Result<SearchFilter> {
        let mut f = SearchFilter::default();
        for item in filters {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item.as_str(), None),
            };
            match key {
                "stars" => {
                    let Some(v) = value else {
                        let quoted: Vec<String> =
                            filters.iter().map(|f| format!("{f:?}")).collect();
                        crate::fail!(
                            BadInput,
                            "invalid filter [{}], should be stars=<value>",
                            quoted.join(" ")
                        );
                    };
                    f.stars = go_atoi(v).map_err(|why| {
                        crate::engine::Error::new(
                            crate::engine::ErrorKind::BadInput,
                            format!(
                                "incorrect value type for stars filter: strconv.Atoi: parsing {v:?}: {why}"
                            ),
                        )
                    })?;
                }
                "is-automated" => f.is_automated = Some(value != Some("false")),
                "is-official" => f.is_official = Some(value != Some("false")),
                _ => crate::fail!(BadInput, "invalid filter type {item:?}"),
            }
        }
        Ok(f)
    }

    fn matches(&self, r: &SearchResult) -> bool {
        self.is_official.is_none_or(|o| o == r.is_official)
            && self.is_automated.is_none_or(|a| a == r.is_automated)
            && i64::try_from(r.star_count).unwrap_or(i64::MAX) >= self.stars
    }
}

/// Go's `strconv.Atoi` errors: the two reasons it gives.
fn go_atoi(v: &str) -> std::result::Result<i64, &'static str> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    v.parse::<i64>().map_err(|_| "value out of range")
}

/// What `search` takes besides the term.
#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    pub registry: RegistryOptions,
    /// `--limit`: 0 for none given (then [`DEFAULT_LIMIT`]); a negative
    /// one shows nothing, as in Podman.
    pub limit: i64,
    /// `--filter` as given, parsed by [`SearchFilter::parse`] after the
    /// checks Podman makes first.
    pub filters: Vec<String>,
    /// `--list-tags`: the tags of the repository the term names.
    pub list_tags: bool,
    /// `--no-trunc`: descriptions whole.
    pub no_trunc: bool,
}

/// One row: Podman's `ImageSearchReport`, its field names as JSON keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchReport {
    /// The registry searched (`127.0.0.1:5000`, `docker.io`).
    pub index: String,
    pub name: String,
    pub description: String,
    pub stars: u64,
    /// `[OK]` or empty.
    pub official: String,
    /// `[OK]` or empty.
    pub automated: String,
    /// With `--list-tags` only.
    pub tag: String,
}

/// Searches every registry the term names (at once, as Podman does) and
/// gives their results in registry order. Results from any registry win
/// over errors from others; only when none answered with a result are the
/// errors reported, all of them, in Podman's words.
pub fn search(
    ctx: &crate::config::Context,
    term: &str,
    opts: &SearchOptions,
) -> Result<Vec<SearchReport>> {
    if opts.list_tags && !opts.filters.is_empty() {
        crate::fail!(BadInput, "filters are not applicable to list tags result");
    }
    if let Some(f) = &opts.registry.authfile
        && !f.exists()
    {
        crate::fail!(NotFound, "stat {}: no such file or directory", f.display());
    }
    let filter = SearchFilter::parse(&opts.filters)?;
    let filter = &filter;
    let (registries, query) = match term.split_once('/') {
        Some((host, rest)) => (vec![host.to_owned()], rest),
        None => (
            registries::load()
                .context("reading registries.conf")?
                .search_registries()
                .to_vec(),
            term,
        ),
    };
    tracing::debug!(term = query, ?registries, "searching");
    let answers: Vec<std::result::Result<Vec<SearchReport>, String>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = registries
                .iter()
                .map(|r| scope.spawn(move || search_one(ctx, r, query, opts, filter)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("searching panicked".to_owned()))
                })
                .collect()
        });
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for a in answers {
        match a {
            Ok(r) => results.extend(r),
            Err(e) => errors.push(e),
        }
    }
    if results.is_empty() && !errors.is_empty() {
        crate::fail!(Internal, "{}", multi_error(&errors));
    }
    Ok(results)
}

/// go-multierror's list, which Podman prints as it is.
fn multi_error(errors: &[String]) -> String {
    if let [one] = errors {
        return format!("1 error occurred:\n\t* {one}\n\n");
    }
    let points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    format!(
        "{} errors occurred:\n\t{}\n\n",
        errors.len(),
        points.join("\n\t")
    )
}

/// How many of `found` results Podman shows for `limit`.
fn shown(found: usize, limit: i64) -> usize {
    match limit {
        0 => found.min(DEFAULT_LIMIT),
        l if l < 0 => 0,
        l => found.min(usize::try_from(l).unwrap_or(usize::MAX)),
    }
}

fn search_one(
    ctx: &crate::config::Context,
    registry: &str,
    term: &str,
    opts: &SearchOptions,
    filter: &SearchFilter,
) -> std::result::Result<Vec<SearchReport>, String> {
    let endpoint = endpoint_for(registry, &opts.registry).map_err(|e| e.to_string())?;
    let auth = auth_file(ctx, opts.registry.authfile.as_deref());
    let creds = credentials(&opts.registry, &auth, registry).map_err(|e| e.to_string())?;
    if opts.list_tags {
        return list_tags(&endpoint, registry, term, opts, creds.as_ref());
    }
    let ask = match opts.limit {
        l if l > 0 => usize::try_from(l).unwrap_or(usize::MAX),
        _ => DEFAULT_LIMIT,
    };
    let found = registry::search(&endpoint, term, ask, creds.as_ref())
        .map_err(|e| format!("couldn't search registry {registry:?}: {e}"))?;
    let take = shown(found.len(), opts.limit);
    Ok(found
        .into_iter()
        .take(take)
        .filter(|r| filter.matches(r))
        .map(|r| report(registry, r, opts.no_trunc))
        .collect())
}

/// One registry result as Podman shows it: the registry before the name,
/// and Docker Hub's official images (listed without `library/`) under
/// `docker.io/library/`.
fn report(registry: &str, r: SearchResult, no_trunc: bool) -> SearchReport {
    let index = {
        let parts: Vec<&str> = registry.split('.').collect();
        if parts.len() > 2 {
            parts[parts.len() - 2..].join(".")
        } else {
            registry.to_owned()
        }
    };
    let ok = |b: bool| if b { "[OK]".to_owned() } else { String::new() };
    let name = if index == "docker.io" && !r.name.contains('/') {
        format!("{index}/library/{}", r.name)
    } else {
        format!("{registry}/{}", r.name)
    };
    SearchReport {
        index: registry.to_owned(),
        name,
        description: truncate(&r.description.replace('\n', " "), no_trunc),
        stars: r.star_count,
        official: ok(r.is_official),
        automated: ok(r.is_automated),
        tag: String::new(),
    }
}

/// A description past [`DESCRIPTION_LIMIT`] bytes cut there (at a
/// character boundary, where Go cuts bytes) with `...` after it.
pub fn truncate(description: &str, no_trunc: bool) -> String {
    if no_trunc || description.len() <= DESCRIPTION_LIMIT {
        return description.to_owned();
    }
    let mut end = DESCRIPTION_LIMIT;
    while !description.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &description[..end])
}

fn list_tags(
    endpoint: &registry::Endpoint,
    registry: &str,
    term: &str,
    opts: &SearchOptions,
    creds: Option<&registry::Credentials>,
) -> std::result::Result<Vec<SearchReport>, String> {
    let must_be = || format!("reference {term:?} must be a docker reference");
    let parsed = Reference::parse(&format!("{registry}/{term}"))
        .map_err(|_| must_be())?
        .normalized_docker_hub();
    // A registry word without a dot or a port (`library/x`) is read as
    // part of a short name: no registry to list tags of.
    if parsed.repository.is_empty() || parsed.registry.is_none() {
        return Err(must_be());
    }
    let tags = registry::list_tags(endpoint, &parsed.repository, creds).map_err(|e| match e {
        RegistryError::NotFound { .. } => {
            "getting repository tags: fetching tags list: invalid status code from registry 404 (Not Found)"
                .to_owned()
        }
        e => format!("getting repository tags: {e}"),
    })?;
    let name = parsed.name();
    let take = shown(tags.len(), opts.limit);
    Ok(tags
        .into_iter()
        .take(take)
        .map(|tag| SearchReport {
            name: name.clone(),
            tag,
            ..SearchReport::default()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_podmans() {
        let f = SearchFilter::parse(&["stars=3".into(), "is-official".into()]).unwrap();
        assert_eq!(f.stars, 3);
        assert_eq!(f.is_official, Some(true));
        let f = SearchFilter::parse(&["is-automated=false".into()]).unwrap();
        assert_eq!(f.is_automated, Some(false));
        let e = SearchFilter::parse(&["is-official".into(), "stars".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid filter [\"is-official\" \"stars\"], should be stars=<value>"
        );
        let e = SearchFilter::parse(&["stars=x".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "incorrect value type for stars filter: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        let e = SearchFilter::parse(&["foo".into()]).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter type \"foo\"");
    }

    #[test]
    fn hub_results_are_named_as_podmans() {
        let hit = |name: &str| SearchResult {
            name: name.into(),
            description: "line one\nline two".into(),
            star_count: 7,
            is_official: true,
            is_automated: false,
        };
        let r = report("docker.io", hit("alpine"), false);
        assert_eq!(r.name, "docker.io/library/alpine");
        assert_eq!(r.index, "docker.io");
        assert_eq!(r.description, "line one line two");
        assert_eq!((r.official.as_str(), r.automated.as_str()), ("[OK]", ""));
        assert_eq!(
            report("docker.io", hit("bitnami/redis"), false).name,
            "docker.io/bitnami/redis"
        );
        assert_eq!(report("quay.io", hit("app"), false).name, "quay.io/app");
    }

    #[test]
    fn limits_and_descriptions() {
        assert_eq!(shown(30, 0), 25);
        assert_eq!(shown(3, 0), 3);
        assert_eq!(shown(3, -1), 0);
        assert_eq!(shown(30, 27), 27);
        assert_eq!(truncate(&"a".repeat(44), false), "a".repeat(44));
        assert_eq!(
            truncate(&"a".repeat(45), false),
            format!("{}...", "a".repeat(44))
        );
        assert_eq!(truncate(&"a".repeat(45), true), "a".repeat(45));
        assert_eq!(
            multi_error(&["x".into(), "y".into()]),
            "2 errors occurred:\n\t* x\n\t* y\n\n"
        );
    }
}
