//! `.containerignore` / `.dockerignore`: which context paths COPY and ADD
//! never see. Docker's rules: one pattern a line, `#` comments, paths
//! cleaned and taken from the context root, `**` for any depth, `!` to
//! re-include; the last pattern that matches a path or one of its parents
//! decides.

use super::glob::{self, path_match};

/// Patterns read at most; a file past this is refused, not cut short (a
/// silently shortened ignore list would copy secrets it meant to hide).
pub const MAX_PATTERNS: usize = 100_000;

#[derive(Debug, Clone)]
struct Rule {
    parts: Vec<String>,
    exclude: bool,
}

/// The parsed rules; empty when the context has no ignore file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
    /// Whether any rule re-includes: then an excluded directory must still
    /// be walked for what is re-included below it.
    has_exceptions: bool,
}

impl IgnoreRules {
    pub fn parse(text: &str) -> Result<IgnoreRules, String> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if rules.len() == MAX_PATTERNS {
                return Err(format!(
                    "the ignore file has more than {MAX_PATTERNS} patterns"
                ));
            }
            let (exclude, pat) = match line.strip_prefix('!') {
                Some(p) => (false, p.trim()),
                None => (true, line),
            };
            // Cleaned as Go's filepath.Clean: a leading `/` or `../` says
            // nothing more than the root.
            let parts: Vec<String> = glob::clean(pat)
                .unwrap_or_else(|| {
                    pat.split('/')
                        .filter(|c| !matches!(*c, "" | "." | ".."))
                        .collect()
                })
                .into_iter()
                .map(String::from)
                .collect();
            if parts.is_empty() {
                continue;
            }
            rules.push(Rule { parts, exclude });
        }
        let has_exceptions = rules.iter().any(|r| !r.exclude);
        Ok(IgnoreRules {
            rules,
            has_exceptions,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn has_exceptions(&self) -> bool {
        self.has_exceptions
    }

    /// Whether `path` (relative to the context root, `/`-separated) is
    /// left out.
    pub fn excluded(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let mut out = false;
        for r in &self.rules {
            let pat: Vec<&str> = r.parts.iter().map(String::as_str).collect();
            // A pattern naming a directory covers what is below it.
            let hit = (1..=parts.len()).any(|n| path_match(&pat, &parts[..n]));
            if hit {
                out = r.exclude;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_match_wins_and_exceptions_reinclude() {
        let r =
            IgnoreRules::parse("# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\n/abs\n").unwrap();
        assert!(r.excluded("a.log"));
        assert!(!r.excluded("keep.log"));
        assert!(r.excluded("secret"));
        assert!(r.excluded("secret/key"));
        assert!(r.excluded("deep/er/x.tmp"));
        assert!(r.excluded("abs/file"));
        assert!(!r.excluded("src/main.rs"));
        assert!(!r.excluded("sub/a.log"), "*.log is the root's only");
        assert!(r.has_exceptions());
    }

    #[test]
    fn a_huge_file_is_refused_not_cut() {
        let big = "x\n".repeat(MAX_PATTERNS + 1);
        assert!(IgnoreRules::parse(&big).is_err());
        let ok = "x\n".repeat(MAX_PATTERNS);
        assert!(IgnoreRules::parse(&ok).is_ok());
    }
}
