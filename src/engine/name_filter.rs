//! Podman's `--filter name=PATTERN`: a regular expression searched for in
//! the name (Go's `regexp.MatchString`), for containers, volumes and
//! networks alike. A pattern that does not compile is matched as a plain
//! substring, which is what a user typing a name meant.

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    match regex::Regex::new(pattern) {
        Ok(re) => re.is_match(name),
        Err(_) => name.contains(pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn regular_expressions_as_podman_reads_them() {
        assert!(matches("web", "my-web-1"));
        assert!(matches("^vf.$", "vfa"));
        assert!(!matches("^vf.$", "vfab"));
        assert!(matches("^db$", "db"));
        assert!(!matches("^db$", "db2"));
        assert!(matches("a|b", "b"));
        assert!(matches("(", "x(y"), "an invalid pattern is a substring");
    }
}
