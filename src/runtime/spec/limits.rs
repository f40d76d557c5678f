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

pub const NAMES: [(&str, PosixRlimitType); 16] = [
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

/// One parsed `--ulimit` (parsed by `spec::parse::ulimits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ulimit {
    pub kind: PosixRlimitType,
    pub soft: u64,
    pub hard: u64,
}

fn rlimit(kind: PosixRlimitType, soft: u64, hard: u64) -> Result<PosixRlimit, SpecError> {
    PosixRlimitBuilder::default()
        .typ(kind)
        .soft(soft)
        .hard(hard)
        .build()
        .map_err(SpecError::Build)
}

/// The rlimits for a container. `None` for `--ulimit host` (`host`): the
/// process then inherits the runtime's limits, which are the host's.
pub fn rlimits(
    ulimits: &[Ulimit],
    host: bool,
    rootless: bool,
    nofile: (u64, u64),
    nproc: (u64, u64),
) -> Result<Option<Vec<PosixRlimit>>, SpecError> {
    if host {
        return Ok(None);
    }
    let mut out: Vec<PosixRlimit> = Vec::new();
    for u in ulimits {
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
    fn defaults_rootful_and_rootless() {
        let rootful = rlimits(&[], false, false, (1024, 4096), (100, 200))
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

        let rootless = rlimits(&[], false, true, (1024, 524_288), (u64::MAX, u64::MAX))
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
        let ten = Ulimit {
            kind: PosixRlimitType::RlimitNofile,
            soft: 10,
            hard: 20,
        };
        let l = rlimits(&[ten], false, true, (1024, 4096), (1, 1))
            .expect("ok")
            .expect("limits");
        assert_eq!(find(&l, PosixRlimitType::RlimitNofile), (10, 20));
        assert_eq!(l.len(), 2);
        assert_eq!(rlimits(&[], true, true, (1, 1), (1, 1)).expect("ok"), None);
    }
}
