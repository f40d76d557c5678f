//! One HTTP(S) GET for `ADD <url>`: the body streamed to a writer, up to a
//! bound, on the same runtime and TLS policy as registry access.

use std::io::Write;

use super::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Runtime(Box<RegistryError>),
    #[error("reading {url:?}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("reading {url:?}: invalid response status code {status}")]
    Status { url: String, status: u16 },
    #[error("reading {url:?}: the download is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("reading {url:?}: {source}")]
    Write {
        url: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a download told about itself.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub size: u64,
    /// `Last-Modified`, seconds since the epoch (buildah gives the file
    /// this time).
    pub last_modified: Option<i64>,
}

/// GETs `url` into `out`, refusing a body of more than `limit` bytes
/// (checked against `Content-Length` first, then as it streams).
pub fn fetch(url: &str, limit: u64, out: &mut dyn Write) -> Result<Fetched, FetchError> {
    let request = |source| FetchError::Request {
        url: url.to_owned(),
        source,
    };
    super::block_on(async {
        super::session::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(request)?;
        let mut resp = client.get(url).send().await.map_err(request)?;
        if !resp.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: resp.status().as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_owned(),
            limit,
        };
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let last_modified = resp
            .headers()
            .get(reqwest::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(http_date);
        let mut size = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(request)? {
            size += chunk.len() as u64;
            if size > limit {
                return Err(too_large());
            }
            out.write_all(&chunk).map_err(|source| FetchError::Write {
                url: url.to_owned(),
                source,
            })?;
        }
        Ok(Fetched {
            size,
            last_modified,
        })
    })
    .map_err(|e| FetchError::Runtime(Box::new(e)))?
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, the only form servers
/// send today) as seconds since the epoch.
pub fn http_date(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace().skip(1);
    let day: u32 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = it.next()?.parse().ok()?;
    let time = it.next()?;
    crate::host::time::parse_rfc3339(&format!("{year:04}-{month:02}-{day:02}T{time}Z"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates() {
        assert_eq!(
            super::http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(super::http_date("yesterday"), None);
    }
}
