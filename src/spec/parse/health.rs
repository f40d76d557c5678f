//! `--health-cmd`, `--health-interval`, `--health-retries`,
//! `--health-timeout`, `--health-start-period`, `--health-on-failure` and
//! `--no-healthcheck`, as Podman 4.3.1's `makeHealthCheckFromCli` reads
//! them (its error wording too, since scripts match on it).

use anyhow::{Context as _, bail};

use crate::spec::{HealthCheck, HealthOnFailure};

/// Podman's defaults for the flags' text.
pub const DEFAULT_INTERVAL: &str = "30s";
pub const DEFAULT_TIMEOUT: &str = "30s";
pub const DEFAULT_START_PERIOD: &str = "0s";
pub const DEFAULT_RETRIES: u32 = 3;

/// The longest `--health-cmd` accepted (the command is stored with the
/// container and passed to the runtime).
pub const MAX_COMMAND_LEN: usize = 64 * 1024;

/// The health flags as typed.
#[derive(Debug, Clone, Default)]
pub struct HealthFlags<'a> {
    pub cmd: Option<&'a str>,
    pub interval: &'a str,
    pub retries: u32,
    pub timeout: &'a str,
    pub start_period: &'a str,
    pub no_healthcheck: bool,
}

/// The spec's health check: `None` keeps the image's; `Some` with the test
/// `["NONE"]` disables it (`--no-healthcheck`, `--health-cmd none`).
pub fn health(f: &HealthFlags) -> anyhow::Result<Option<HealthCheck>> {
    if f.no_healthcheck {
        if f.cmd.is_some_and(|c| !c.is_empty()) {
            bail!("cannot specify both --no-healthcheck and --health-cmd");
        }
        return Ok(Some(HealthCheck {
            test: vec!["NONE".into()],
            ..HealthCheck::default()
        }));
    }
    let Some(cmd) = f.cmd.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let test = command(cmd)?;
    let interval = if f.interval == "disable" {
        0
    } else {
        duration(f.interval).context("invalid healthcheck-interval")?
    };
    if f.retries < 1 {
        bail!("healthcheck-retries must be greater than 0");
    }
    let timeout = duration(f.timeout).context("invalid healthcheck-timeout")?;
    if timeout < 1 {
        bail!("healthcheck-timeout must be at least 1 second");
    }
    let start_period = duration(f.start_period).context("invalid healthcheck-start-period")?;
    if start_period < 0 {
        bail!("healthcheck-start-period must be 0 seconds or greater");
    }
    // Negative intervals disable the timer, as a zero one does.
    let interval = u64::try_from(interval).unwrap_or(0);
    Ok(Some(HealthCheck {
        test,
        interval_ns: Some(interval),
        timeout_ns: Some(timeout.unsigned_abs()),
        start_period_ns: Some(start_period.unsigned_abs()),
        retries: Some(f.retries),
    }))
}

/// The test of `--health-cmd`: a JSON array is a command and its
/// arguments (`["CMD", ...]`, `["CMD-SHELL", "..."]` kept as they are; a
/// one-element array is a shell command); other text runs under
/// `/bin/sh -c`; `none` disables the check.
///
/// Podman 4.3.1 turns `'["CMD","true"]'` into a test whose one word is
/// the JSON text itself (it splits the raw flag on spaces), which can
/// never run; hutch takes the array, as Docker does.
pub fn command(cmd: &str) -> anyhow::Result<Vec<String>> {
    if cmd.len() > MAX_COMMAND_LEN {
        bail!("--health-cmd is longer than {MAX_COMMAND_LEN} bytes");
    }
    let array: Option<Vec<String>> = serde_json::from_str(cmd).ok();
    let is_array = array.is_some();
    let words = match array {
        Some(a) => a,
        None => cmd.splitn(2, ' ').map(String::from).collect(),
    };
    let Some(first) = words.first() else {
        bail!("must define a healthcheck command for all healthchecks");
    };
    let test = match first.as_str() {
        "none" | "NONE" if words.len() == 1 => vec!["NONE".to_owned()],
        "CMD" if is_array => words,
        "CMD" => cmd.split_whitespace().map(String::from).collect(),
        "CMD-SHELL" if is_array => words,
        "CMD-SHELL" => vec!["CMD-SHELL".to_owned(), words[1..].join(" ")],
        _ if is_array && words.len() > 1 => {
            let mut t = vec!["CMD".to_owned()];
            t.extend(words);
            t
        }
        _ => vec!["CMD-SHELL".to_owned(), words.join(" ")],
    };
    Ok(test)
}

/// `--health-on-failure`.
pub fn on_failure(s: &str) -> anyhow::Result<HealthOnFailure> {
    Ok(match s {
        "" | "none" => HealthOnFailure::None,
        "kill" => HealthOnFailure::Kill,
        "restart" => HealthOnFailure::Restart,
        "stop" => HealthOnFailure::Stop,
        _ => bail!(
            "invalid on-failure action {s:?} for health check: supported actions are none,kill,restart,stop"
        ),
    })
}

/// Go's `time.ParseDuration` in nanoseconds: a signed sequence of decimal
/// numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), or
/// `0`. Its error text is Go's.
pub fn duration(s: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("time: invalid duration {s:?}");
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        let tail = &rest[num_end..];
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let scale = match &tail[..unit_end] {
            "" => bail!("time: missing unit in duration {s:?}"),
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            u => bail!("time: unknown unit {u:?} in duration {s:?}"),
        };
        total += n * scale;
        rest = &tail[unit_end..];
    }
    if !total.is_finite() || total > i64::MAX as f64 {
        return Err(bad());
    }
    let ns = total.round() as i64;
    Ok(if negative { -ns } else { ns })
}

/// Go's `time.Duration.String()` of `ns` (`30s`, `1m30s`, `500ms`), for
/// messages.
pub fn duration_text(ns: u64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 {
            ("ns", 1)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_float(ns as f64 / div as f64));
    }
    let h = ns / 3_600_000_000_000;
    let m = (ns / 60_000_000_000) % 60;
    let s = (ns % 60_000_000_000) as f64 / 1e9;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", trim_float(s)));
    out
}

fn trim_float(f: f64) -> String {
    let t = format!("{f:.9}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    t.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(cmd: &str) -> HealthFlags<'_> {
        HealthFlags {
            cmd: Some(cmd),
            interval: DEFAULT_INTERVAL,
            retries: DEFAULT_RETRIES,
            timeout: DEFAULT_TIMEOUT,
            start_period: DEFAULT_START_PERIOD,
            no_healthcheck: false,
        }
    }

    #[test]
    fn commands_as_podman_reads_them() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            command("echo hi; exit 1").unwrap(),
            v(&["CMD-SHELL", "echo hi; exit 1"])
        );
        assert_eq!(command("true").unwrap(), v(&["CMD-SHELL", "true"]));
        assert_eq!(command(r#"["true"]"#).unwrap(), v(&["CMD-SHELL", "true"]));
        assert_eq!(command(r#"["ls", "-l"]"#).unwrap(), v(&["CMD", "ls", "-l"]));
        assert_eq!(
            command(r#"["CMD", "ls", "-l"]"#).unwrap(),
            v(&["CMD", "ls", "-l"])
        );
        assert_eq!(command("CMD ls  -l").unwrap(), v(&["CMD", "ls", "-l"]));
        assert_eq!(command("CMD-SHELL a b").unwrap(), v(&["CMD-SHELL", "a b"]));
        assert_eq!(command("none").unwrap(), v(&["NONE"]));
        let empty = command("[]").unwrap_err().to_string();
        assert_eq!(
            empty,
            "must define a healthcheck command for all healthchecks"
        );
    }

    #[test]
    fn flags_become_a_check_with_podmans_errors() {
        let h = health(&flags("true")).unwrap().unwrap();
        assert_eq!(h.interval_ns, Some(30_000_000_000));
        assert_eq!(h.timeout_ns, Some(30_000_000_000));
        assert_eq!(h.start_period_ns, Some(0));
        assert_eq!(h.retries, Some(3));
        let off = health(&HealthFlags {
            interval: "disable",
            ..flags("true")
        })
        .unwrap()
        .unwrap();
        assert_eq!(off.interval_ns, Some(0));
        assert_eq!(health(&HealthFlags::default()).unwrap(), None);
        let none = health(&HealthFlags {
            no_healthcheck: true,
            ..HealthFlags::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(none.test, ["NONE"]);
        let err = |f: HealthFlags| format!("{:#}", health(&f).unwrap_err());
        assert_eq!(
            err(HealthFlags {
                no_healthcheck: true,
                ..flags("true")
            }),
            "cannot specify both --no-healthcheck and --health-cmd"
        );
        assert_eq!(
            err(HealthFlags {
                retries: 0,
                ..flags("true")
            }),
            "healthcheck-retries must be greater than 0"
        );
        assert_eq!(
            err(HealthFlags {
                interval: "xyz",
                ..flags("true")
            }),
            "invalid healthcheck-interval: time: invalid duration \"xyz\""
        );
        assert_eq!(
            err(HealthFlags {
                start_period: "-1s",
                ..flags("true")
            }),
            "healthcheck-start-period must be 0 seconds or greater"
        );
        assert_eq!(
            format!("{:#}", on_failure("bogus").unwrap_err()),
            "invalid on-failure action \"bogus\" for health check: supported actions are none,kill,restart,stop"
        );
        assert_eq!(on_failure("restart").unwrap(), HealthOnFailure::Restart);
    }

    #[test]
    fn go_durations() {
        assert_eq!(duration("0").unwrap(), 0);
        assert_eq!(duration("1s").unwrap(), 1_000_000_000);
        assert_eq!(duration("0.5s").unwrap(), 500_000_000);
        assert_eq!(duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration("-1s").unwrap(), -1_000_000_000);
        assert_eq!(duration("250ms").unwrap(), 250_000_000);
        assert!(duration("5").is_err());
        assert!(duration("").is_err());
        assert!(duration("1x").is_err());
        assert_eq!(duration_text(30_000_000_000), "30s");
        assert_eq!(duration_text(90_000_000_000), "1m30s");
        assert_eq!(duration_text(500_000_000), "500ms");
        assert_eq!(duration_text(3_600_000_000_000), "1h0m0s");
    }
}
