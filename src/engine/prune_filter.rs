//! Podman's `--filter` for `container prune`, `image prune`, `network
//! prune` and `system prune`: `until=` (created before a time or a
//! duration ago), `label=KEY[=VALUE]` (every one must match) and
//! `label!=KEY[=VALUE]` (none may).

use crate::engine::container::events::parse_time;
use crate::engine::{Error, Result};

/// Which command reads the filters: each words an unknown key its own
/// way, as Podman does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneKind {
    Container,
    Image,
    Network,
}

#[derive(Debug, Clone, Default)]
pub struct PruneFilters {
    /// Unix nanoseconds: only what was created before it.
    until: Option<i64>,
    labels: Vec<String>,
    not_labels: Vec<String>,
}

impl PruneFilters {
    /// `now_ns` is what a duration counts back from.
    pub fn parse(list: &[String], kind: PruneKind, now_ns: i64) -> Result<PruneFilters> {
        let mut out = PruneFilters::default();
        for f in list {
            let (k, v) = f.split_once('=').unwrap_or((f.as_str(), ""));
            match k {
                "until" => {
                    let t = parse_time(v, now_ns).map_err(|_| {
                        Error::bad_input(format!(
                            "failed to parse value as time or duration: {v:?}"
                        ))
                    })?;
                    out.until = Some(t);
                }
                "label" => out.labels.push(v.to_owned()),
                "label!" => out.not_labels.push(v.to_owned()),
                _ => {
                    return Err(Error::bad_input(match kind {
                        PruneKind::Container => format!("{k} is an invalid filter"),
                        PruneKind::Image => format!("unsupported image filter {k:?}"),
                        PruneKind::Network => format!("invalid filter {k:?}"),
                    }));
                }
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_none() && self.labels.is_empty() && self.not_labels.is_empty()
    }

    /// Whether something created at `created_ns` with `labels` may go.
    pub fn matches<'a>(
        &self,
        created_ns: i64,
        labels: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> bool {
        let has = |spec: &str| {
            let (k, v) = match spec.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (spec, None),
            };
            labels
                .clone()
                .into_iter()
                .any(|(lk, lv)| lk == k && v.is_none_or(|v| v == lv))
        };
        self.until.is_none_or(|u| created_ns < u)
            && self.labels.iter().all(|l| has(l))
            && !self.not_labels.iter().any(|l| has(l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_as_podman_reads_them() {
        let now = 10_000 * 1_000_000_000;
        let e = PruneFilters::parse(&list(&["bogus=1"]), PruneKind::Container, now).unwrap_err();
        assert_eq!(e.to_string(), "bogus is an invalid filter");
        let e = PruneFilters::parse(&list(&["until=soon"]), PruneKind::Network, now).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to parse value as time or duration: \"soon\""
        );
        let f = PruneFilters::parse(
            &list(&["until=1h", "label=a", "label!=b=2"]),
            PruneKind::Image,
            now,
        )
        .unwrap();
        let old = now - 2 * 3600 * 1_000_000_000;
        assert!(f.matches(old, [("a", "x")]));
        assert!(!f.matches(now, [("a", "x")]), "too young");
        assert!(!f.matches(old, [("c", "x")]), "label a missing");
        assert!(
            !f.matches(old, [("a", "x"), ("b", "2")]),
            "label! b=2 present"
        );
        assert!(f.matches(old, [("a", "x"), ("b", "3")]));
    }
}
