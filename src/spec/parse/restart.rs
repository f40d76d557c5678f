//! `--restart` and signal names (`--stop-signal`, and `kill --signal`).

use anyhow::{Context as _, bail};

use crate::spec::RestartPolicy;

/// `no`, `on-failure[:N]`, `always`, `unless-stopped`.
pub fn restart(s: &str) -> anyhow::Result<RestartPolicy> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (s, None),
    };
    let policy = match name {
        "" | "no" => RestartPolicy::No,
        "on-failure" => RestartPolicy::OnFailure(match count {
            Some(c) => c
                .parse()
                .with_context(|| format!("invalid restart policy {s:?}: bad retry count"))?,
            None => 0,
        }),
        "always" => RestartPolicy::Always,
        "unless-stopped" => RestartPolicy::UnlessStopped,
        _ => bail!(
            "invalid restart policy {s:?}: must be one of no, on-failure[:N], always, unless-stopped"
        ),
    };
    if count.is_some() && !matches!(policy, RestartPolicy::OnFailure(_)) {
        bail!("restart policy {name:?} takes no retry count: only on-failure does");
    }
    Ok(policy)
}

const SIGNALS: [(&str, i32); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// A signal by number (`9`), name (`KILL`, `SIGKILL`, `sigkill`) or
/// real-time name (`RTMIN+3`).
pub fn signal(s: &str) -> anyhow::Result<i32> {
    let invalid = || anyhow::anyhow!("invalid signal: {s}");
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = SIGNALS.iter().find(|(n, _)| *n == name) {
        return Ok(*n);
    }
    match name {
        "IOT" => return Ok(libc::SIGABRT),
        "CLD" => return Ok(libc::SIGCHLD),
        "POLL" => return Ok(libc::SIGIO),
        _ => {}
    }
    let rt = |base: i32, off: &str| -> anyhow::Result<i32> {
        let off: i32 = if off.is_empty() {
            0
        } else {
            off.parse().map_err(|_| invalid())?
        };
        let n = base + off;
        if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        }
    };
    if let Some(off) = name.strip_prefix("RTMIN") {
        return rt(libc::SIGRTMIN(), off.trim_start_matches('+'));
    }
    if let Some(off) = name.strip_prefix("RTMAX") {
        return rt(libc::SIGRTMAX(), off);
    }
    Err(invalid())
}

/// `SIGTERM` for 15.
pub fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(name, _)| format!("SIG{name}"))
        .unwrap_or_else(|| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert_eq!(restart("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            restart("on-failure:2").unwrap(),
            RestartPolicy::OnFailure(2)
        );
        assert_eq!(restart("on-failure").unwrap(), RestartPolicy::OnFailure(0));
        assert_eq!(restart("always").unwrap(), RestartPolicy::Always);
        assert!(restart("sometimes").is_err());
        assert!(restart("always:3").is_err());
        assert!(restart("on-failure:x").is_err());
    }
}
