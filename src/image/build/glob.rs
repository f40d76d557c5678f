//! Go's `filepath.Match` for one path component (`*`, `?`, `[a-z]`,
//! `[^x]`, `\` escapes), and whole slash-separated paths with Docker's
//! `**` (any number of components): what `.containerignore` patterns and
//! COPY source globs use.

/// Whether `name` (one component) matches `pattern` (one component).
pub fn component_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    // The last `*` seen and where the name stood then, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class(&p[pi..], n[ni])
                        && ok
                    {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == n[ni] {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` class at the start of `p`: whether `c` is in it, and its
/// length; `None` when the class is not closed (then it matches nothing).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(1), Some('^' | '!'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        let mut lo = p[i];
        if lo == '\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        let mut hi = lo;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hi = p[i + 2];
            i += 2;
        }
        if lo <= c && c <= hi {
            hit = true;
        }
        i += 1;
    }
    None
}

/// Whether a cleaned relative path matches a pattern of components, `**`
/// standing for any number of them (none included).
pub fn path_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| path_match(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((name, tail)) => component_match(first, name) && path_match(rest, tail),
            None => false,
        },
    }
}

/// Whether a pattern has glob characters at all.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// `a/./b/../c` → `["a", "c"]`; `None` when `..` climbs above the start.
pub fn clean(path: &str) -> Option<Vec<&str>> {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_match_as_go_does() {
        assert!(component_match("*.txt", "a.txt"));
        assert!(!component_match("*.txt", "a.txt.bak"));
        assert!(component_match("a?c", "abc"));
        assert!(component_match("[a-c]x", "bx"));
        assert!(!component_match("[^a-c]x", "bx"));
        assert!(component_match("*", ""));
        assert!(component_match("a*b*c", "aXbYc"));
        assert!(!component_match("a[", "a["));
        assert!(component_match("\\*", "*"));
    }

    #[test]
    fn paths_match_with_double_star() {
        assert!(path_match(&["**", "*.go"], &["a", "b", "c.go"]));
        assert!(path_match(&["**", "*.go"], &["c.go"]));
        assert!(path_match(&["a", "**"], &["a", "b"]));
        assert!(!path_match(&["a", "*"], &["a", "b", "c"]));
        assert_eq!(clean("./a/../b//c/."), Some(vec!["b", "c"]));
        assert_eq!(clean("../x"), None);
    }
}
