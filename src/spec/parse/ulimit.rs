//! `--ulimit name=soft[:hard]` (docker's `units.ParseUlimit`, which Podman
//! uses), or `host`.

use crate::runtime::spec::SpecError;
use crate::runtime::spec::limits::NAMES;
use crate::spec::{Ulimit, Ulimits};

/// "-1" and "unlimited" mean RLIM_INFINITY, as Podman accepts them.
fn parse_value(text: &str, spec: &str) -> Result<u64, SpecError> {
    match text {
        "-1" | "unlimited" => Ok(u64::MAX),
        _ => text.parse::<u64>().map_err(|_| SpecError::BadUlimit {
            value: spec.to_string(),
            reason: "limits must be non-negative integers, -1 or unlimited",
        }),
    }
}

pub fn ulimit(spec: &str) -> Result<Ulimit, SpecError> {
    let (name, values) = spec.split_once('=').ok_or_else(|| SpecError::BadUlimit {
        value: spec.to_string(),
        reason: "expected name=soft[:hard]",
    })?;
    let kind = NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, k)| *k)
        .ok_or_else(|| SpecError::UnknownUlimit(name.to_string()))?;
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (parse_value(s, spec)?, parse_value(h, spec)?),
        None => {
            let v = parse_value(values, spec)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(SpecError::BadUlimit {
            value: spec.to_string(),
            reason: "the soft limit is above the hard limit",
        });
    }
    Ok(Ulimit { kind, soft, hard })
}

/// Every `--ulimit` of a command line.
pub fn ulimits(list: &[String]) -> Result<Ulimits, SpecError> {
    if list.iter().any(|u| u == "host") {
        if list.len() > 1 {
            return Err(SpecError::BadUlimit {
                value: "host".to_string(),
                reason: "--ulimit host cannot be combined with other ulimits",
            });
        }
        return Ok(Ulimits {
            host: true,
            limits: Vec::new(),
        });
    }
    Ok(Ulimits {
        host: false,
        limits: list.iter().map(|u| ulimit(u)).collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::PosixRlimitType;

    use super::*;

    #[test]
    fn parses_soft_and_hard() {
        let u = ulimit("nofile=1024:2048").expect("parses");
        assert_eq!(
            (u.kind, u.soft, u.hard),
            (PosixRlimitType::RlimitNofile, 1024, 2048)
        );
        let u = ulimit("core=0").expect("parses");
        assert_eq!((u.soft, u.hard), (0, 0));
        let u = ulimit("memlock=-1:unlimited").expect("parses");
        assert_eq!((u.soft, u.hard), (u64::MAX, u64::MAX));
    }

    #[test]
    fn errors_name_the_value() {
        let err = ulimit("nofiles=10").expect_err("unknown name");
        assert!(
            matches!(&err, SpecError::UnknownUlimit(n) if n == "nofiles"),
            "{err}"
        );
        let err = ulimit("nofile=2048:1024").expect_err("soft above hard");
        assert!(err.to_string().contains("nofile=2048:1024"), "{err}");
        let err = ulimit("nofile=many").expect_err("not a number");
        assert!(err.to_string().contains("nofile=many"), "{err}");
        assert!(ulimit("nofile").is_err());
        let err = ulimit("nofile=9999999999999999999999").expect_err("overflow");
        assert!(err.to_string().contains("nofile=9999"), "{err}");
    }

    #[test]
    fn host_stands_alone() {
        assert!(ulimits(&["host".into()]).unwrap().host);
        assert!(ulimits(&["host".into(), "nofile=1".into()]).is_err());
    }
}
