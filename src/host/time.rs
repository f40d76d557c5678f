//! Timestamps as Podman prints them: RFC 3339 in UTC for inspect output,
//! "2 minutes ago" for listings, and parsing of the RFC 3339 strings image
//! configs carry.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Nanoseconds since the epoch, the unit of the state database: two events
/// in the same second must still sort in the order they happened.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm), so
/// no date crate is needed for formatting alone.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-28T13:46:29Z`.
pub fn rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Parses RFC 3339 (`2024-01-02T03:04:05.123456789Z`, or with `+hh:mm`),
/// to whole seconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once(['T', 't', ' '])?;
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    let (time, offset) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let pos = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (
            t,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
        )
    };
    let time = time.split('.').next()?;
    let mut tp = time.split(':');
    let hh: i64 = tp.next()?.parse().ok()?;
    let mm: i64 = tp.next()?.parse().ok()?;
    let ss: i64 = tp.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

/// Go's units.HumanDuration, as Podman's CREATED column uses it, plus " ago".
pub fn ago(secs: i64, now: i64) -> String {
    let d = (now - secs).max(0);
    let text = if d < 1 {
        "Less than a second".to_owned()
    } else if d == 1 {
        "1 second".to_owned()
    } else if d < 60 {
        format!("{d} seconds")
    } else if d / 60 == 1 {
        "About a minute".to_owned()
    } else if d < 3600 {
        format!("{} minutes", d / 60)
    } else if (d as f64 / 3600.0).round() as i64 == 1 {
        "About an hour".to_owned()
    } else if d < 48 * 3600 {
        format!("{} hours", (d as f64 / 3600.0).round() as i64)
    } else if d < 7 * 24 * 3600 * 2 {
        format!("{} days", d / 86_400)
    } else if d < 30 * 24 * 3600 * 3 {
        format!("{} weeks", d / (7 * 86_400))
    } else if d < 365 * 24 * 3600 * 2 {
        format!("{} months", d / (30 * 86_400))
    } else {
        format!("{} years", d / (365 * 86_400))
    };
    format!("{text} ago")
}

/// Go's units.HumanSizeWithPrecision(size, 3): decimal units, three
/// significant digits ("2.01 MB", "842 kB").
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{} {}", significant(size, 3), UNITS[i])
}

/// go-units' `HumanSize` (Podman's inspect `LogConfig.Size`): decimal
/// units, 4 significant digits, no space ("3.097MB", "0B").
pub fn human_size_compact(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", significant(size, 4), UNITS[i])
}

/// Go's %.3g for the values human_size produces (0 <= v < 1000).
fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_873_589), "2026-11-28T13:46:29Z");
        assert_eq!(parse_rfc3339("2026-11-28T13:46:29Z"), Some(1_795_873_589));
        assert_eq!(
            parse_rfc3339("2026-11-28T13:46:29.123456789Z"),
            Some(1_795_873_589)
        );
        assert_eq!(
            parse_rfc3339("2026-11-28T14:46:29+01:00"),
            Some(1_795_873_589)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(5), "5 B");
        assert_eq!(human_size(842_000), "842 kB");
        assert_eq!(human_size(2_014_000), "2.01 MB");
        assert_eq!(human_size(1_500_000_000), "1.5 GB");
    }

    #[test]
    fn durations_like_go_units() {
        assert_eq!(ago(100, 100), "Less than a second ago");
        assert_eq!(ago(0, 30), "30 seconds ago");
        assert_eq!(ago(0, 150), "2 minutes ago");
        assert_eq!(ago(0, 3 * 86_400), "3 days ago");
    }
}
