//! Generated units read as systemd reads them, for tests that run a
//! unit's commands on a host without systemd.

/// The value of `key=` in a unit, continuation lines joined.
pub fn unit_value(unit: &str, key: &str) -> Option<String> {
    let mut lines = unit.lines();
    while let Some(l) = lines.next() {
        if let Some(v) = l.strip_prefix(&format!("{key}=")) {
            let mut v = v.to_owned();
            while v.ends_with('\\') {
                v.pop();
                v.push_str(lines.next().unwrap_or("").trim_start());
            }
            return Some(v);
        }
    }
    None
}

/// A unit's command line as systemd splits it (quotes, `\"`, `%%`, `$$`),
/// with `%t` and `%n` given.
pub fn split_command(line: &str, t: &str, n: &str) -> Vec<String> {
    let line = line.replace("%t", t).replace("%n", n);
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    cur.push(next);
                }
                any = true;
            }
            '"' => {
                in_quotes = !in_quotes;
                any = true;
            }
            '%' if chars.peek() == Some(&'%') => {
                chars.next();
                cur.push('%');
            }
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                cur.push('$');
            }
            ' ' | '\t' if !in_quotes => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}
