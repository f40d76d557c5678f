//! `process.rlimits`: `--ulimit name=soft[:hard]` parsing (docker's
//! `units.ParseUlimit`, which Podman uses) and Podman's defaults from
//! `pkg/specgen/generate/oci.go` `addRlimits`: RLIMIT_NOFILE and
//! RLIMIT_NPROC at 1048576 (`define.RLimitDefaultValue`) unless the user set
//! them; rootless, each capped by the caller's own current soft and hard
//! limits, because an unprivileged process cannot raise its hard limit.

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

use super::SpecError;

/// Podman's `define.RLimitDefaultValue`.
pub const RLIMIT_DEFAULT: u64 = 1_048_576;

const NAMES: [(&str, PosixRlimitType); 16] = [
    ("as", PosixRlimitType::RlimitAs),
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
    ("stack", PosixRlimitType::RlimitStack),
];

/// One parsed `--ulimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub kind: PosixRlimitType,
    pub soft: u64,
    pub hard: u64,
}

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

pub fn parse_ulimit(spec: &str) -> Result<Ulimit, SpecError> {
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

fn rlimit(kind: PosixRlimitType, soft: u64, hard: u64) -> Result<PosixRlimit, SpecError> {
    PosixRlimitBuilder::default()
        .typ(kind)
        .soft(soft)
        .hard(hard)
        .build()
        .map_err(SpecError::Build)
}

/// The rlimits for a container. `None` for `--ulimit host`: the process then
/// inherits the runtime's limits, which are the host's.
pub fn rlimits(
    ulimits: &[String],
    rootless: bool,
    nofile: (u64, u64),
    nproc: (u64, u64),
) -> Result<Option<Vec<PosixRlimit>>, SpecError> {
    if ulimits.iter().any(|u| u == "host") {
        if ulimits.len() > 1 {
            return Err(SpecError::BadUlimit {
                value: "host".to_string(),
                reason: "--ulimit host cannot be combined with other ulimits",
            });
        }
        return Ok(None);
    }
    let mut out: Vec<PosixRlimit> = Vec::new();
    for spec in ulimits {
        let u = parse_ulimit(spec)?;
        out.retain(|r| r.typ() != u.kind);
        out.push(rlimit(u.kind, u.soft, u.hard)?);
    }
    for (kind, (cur_soft, cur_hard)) in [
        (PosixRlimitType::RlimitNofile, nofile),
        (PosixRlimitType::RlimitNproc, nproc),
    ] {
        if out.iter().any(|r| r.typ() == kind) {
            continue;
        }
        let (soft, hard) = if rootless {
            (RLIMIT_DEFAULT.min(cur_soft), RLIMIT_DEFAULT.min(cur_hard))
        } else {
            (RLIMIT_DEFAULT, RLIMIT_DEFAULT)
        };
        out.push(rlimit(kind, soft, hard)?);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(list: &[PosixRlimit], kind: PosixRlimitType) -> (u64, u64) {
        let r = list.iter().find(|r| r.typ() == kind).expect("present");
        (r.soft(), r.hard())
    }

    #[test]
    fn parses_soft_and_hard() {
        let u = parse_ulimit("nofile=1024:2048").expect("parses");
        assert_eq!(
            (u.kind, u.soft, u.hard),
            (PosixRlimitType::RlimitNofile, 1024, 2048)
        );
        let u = parse_ulimit("core=0").expect("parses");
        assert_eq!((u.soft, u.hard), (0, 0));
        let u = parse_ulimit("memlock=-1:unlimited").expect("parses");
        assert_eq!((u.soft, u.hard), (u64::MAX, u64::MAX));
    }

    #[test]
    fn errors_name_the_value() {
        let err = parse_ulimit("nofiles=10").expect_err("unknown name");
        assert!(
            matches!(&err, SpecError::UnknownUlimit(n) if n == "nofiles"),
            "{err}"
        );
        let err = parse_ulimit("nofile=2048:1024").expect_err("soft above hard");
        assert!(err.to_string().contains("nofile=2048:1024"), "{err}");
        let err = parse_ulimit("nofile=many").expect_err("not a number");
        assert!(err.to_string().contains("nofile=many"), "{err}");
        assert!(parse_ulimit("nofile").is_err());
    }

    #[test]
    fn defaults_rootful_and_rootless() {
        let rootful = rlimits(&[], false, (1024, 4096), (100, 200))
            .expect("ok")
            .expect("limits");
        assert_eq!(
            find(&rootful, PosixRlimitType::RlimitNofile),
            (1_048_576, 1_048_576)
        );
        assert_eq!(
            find(&rootful, PosixRlimitType::RlimitNproc),
            (1_048_576, 1_048_576)
        );

        let rootless = rlimits(&[], true, (1024, 524_288), (u64::MAX, u64::MAX))
            .expect("ok")
            .expect("limits");
        assert_eq!(
            find(&rootless, PosixRlimitType::RlimitNofile),
            (1024, 524_288)
        );
        assert_eq!(
            find(&rootless, PosixRlimitType::RlimitNproc),
            (1_048_576, 1_048_576)
        );
    }

    #[test]
    fn user_values_win_and_host_means_inherit() {
        let l = rlimits(&["nofile=10:20".to_string()], true, (1024, 4096), (1, 1))
            .expect("ok")
            .expect("limits");
        assert_eq!(find(&l, PosixRlimitType::RlimitNofile), (10, 20));
        assert_eq!(l.len(), 2);
        assert_eq!(
            rlimits(&["host".to_string()], true, (1, 1), (1, 1)).expect("ok"),
            None
        );
    }
}
