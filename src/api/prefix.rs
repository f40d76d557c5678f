//! API version prefixes: Docker clients call `/v1.47/containers/json` (or
//! no prefix at all), libpod clients `/v4.3.1/libpod/containers/json`. The
//! prefix is checked and stripped before routing, so one route serves every
//! version; the version asked for travels with the request.

use super::{DOCKER_API_VERSION, DOCKER_MIN_API_VERSION};

/// The Docker API version a request asked for (the newest when it gave
/// none), or that it is a libpod request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    Docker(u32, u32),
    Libpod,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PrefixError {
    TooOld(String),
    TooNew(String),
}

impl PrefixError {
    /// Docker's words for a version it does not serve.
    pub fn message(&self) -> String {
        let (min, max) = (DOCKER_MIN_API_VERSION, DOCKER_API_VERSION);
        match self {
            PrefixError::TooOld(v) => format!(
                "client version {v} is too old. Minimum supported API version is {}.{}, please upgrade your client to a newer version",
                min.0, min.1
            ),
            PrefixError::TooNew(v) => format!(
                "client version {v} is too new. Maximum supported API version is {}.{}",
                max.0, max.1
            ),
        }
    }
}

/// Splits `/vX.Y/rest` into the version and `/rest`. Paths without a
/// version prefix are left as they are (Docker serves the newest version
/// there). libpod's `/vX.Y.Z/libpod/...` keeps its `/libpod` part.
pub fn strip(path: &str) -> Result<(String, ApiVersion), PrefixError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((path.to_owned(), flavor_of(path, None)));
    };
    let (version, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let parts: Vec<&str> = version.split('.').collect();
    let nums: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
    let Some(nums) = nums.filter(|n| (2..=3).contains(&n.len())) else {
        // Not a version ("/volumes" starts with "/v" too).
        return Ok((path.to_owned(), flavor_of(path, None)));
    };
    if tail.starts_with("/libpod/") || tail == "/libpod" {
        return Ok((tail.to_owned(), ApiVersion::Libpod));
    }
    let v = (nums[0], nums[1]);
    if v < DOCKER_MIN_API_VERSION {
        return Err(PrefixError::TooOld(version.to_owned()));
    }
    if v > DOCKER_API_VERSION {
        return Err(PrefixError::TooNew(version.to_owned()));
    }
    Ok((tail.to_owned(), flavor_of(tail, Some(v))))
}

fn flavor_of(path: &str, v: Option<(u32, u32)>) -> ApiVersion {
    if path.starts_with("/libpod/") || path == "/libpod" {
        return ApiVersion::Libpod;
    }
    let (major, minor) = v.unwrap_or(DOCKER_API_VERSION);
    ApiVersion::Docker(major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_prefixes() {
        assert_eq!(
            strip("/v1.41/containers/json").unwrap(),
            ("/containers/json".into(), ApiVersion::Docker(1, 41))
        );
        assert_eq!(
            strip("/containers/json").unwrap(),
            ("/containers/json".into(), ApiVersion::Docker(1, 47))
        );
        assert_eq!(
            strip("/volumes").unwrap(),
            ("/volumes".into(), ApiVersion::Docker(1, 47))
        );
        assert_eq!(
            strip("/v1.12/info"),
            Err(PrefixError::TooOld("1.12".into()))
        );
        assert_eq!(
            strip("/v1.99/info"),
            Err(PrefixError::TooNew("1.99".into()))
        );
        assert!(
            PrefixError::TooOld("1.12".into())
                .message()
                .contains("Minimum supported API version is 1.24")
        );
    }

    #[test]
    fn libpod_prefixes() {
        assert_eq!(
            strip("/v4.3.1/libpod/_ping").unwrap(),
            ("/libpod/_ping".into(), ApiVersion::Libpod)
        );
        assert_eq!(
            strip("/v5.0.0/libpod/info").unwrap(),
            ("/libpod/info".into(), ApiVersion::Libpod)
        );
        assert_eq!(
            strip("/libpod/info").unwrap(),
            ("/libpod/info".into(), ApiVersion::Libpod)
        );
    }
}
