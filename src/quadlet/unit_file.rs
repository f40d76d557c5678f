//! systemd's unit file syntax, as Quadlet reads it: `[Section]` headers,
//! `Key=Value` lines (repeatable; an empty value resets a list), `#` and
//! `;` comments, `\` continuations. Every entry remembers its line, so
//! that errors name the file, line and key.

use std::fmt;

/// Quadlet files are small: a bigger one is refused, not read.
pub const MAX_FILE_SIZE: usize = 1024 * 1024;

/// A problem in one file, at one line and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: the file as a whole (a key that is missing).
        match (self.line, self.key.is_empty()) {
            (0, true) => write!(f, "{}: {}", self.file, self.message),
            (0, false) => write!(f, "{}: {}: {}", self.file, self.key, self.message),
            (n, true) => write!(f, "{}:{n}: {}", self.file, self.message),
            (n, false) => write!(f, "{}:{n}: {}: {}", self.file, self.key, self.message),
        }
    }
}

impl std::error::Error for UnitError {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub entries: Vec<Entry>,
}

/// A parsed unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// The file's name as given (for messages).
    pub path: String,
    pub sections: Vec<Section>,
}

impl UnitFile {
    pub fn parse(path: &str, text: &str) -> Result<UnitFile, UnitError> {
        let err = |line: usize, message: String| UnitError {
            file: path.to_owned(),
            line,
            key: String::new(),
            message,
        };
        if text.len() > MAX_FILE_SIZE {
            return Err(err(0, format!("larger than {MAX_FILE_SIZE} bytes")));
        }
        let mut sections: Vec<Section> = Vec::new();
        let mut lines = text.lines().enumerate();
        while let Some((i, raw)) = lines.next() {
            let line_no = i + 1;
            let mut line = raw.trim().to_owned();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            while line.ends_with('\\') {
                line.pop();
                line.truncate(line.trim_end().len());
                match lines.next() {
                    Some((_, next)) => {
                        let next = next.trim();
                        if next.starts_with('#') || next.starts_with(';') {
                            continue;
                        }
                        line.push(' ');
                        line.push_str(next);
                    }
                    None => break,
                }
            }
            if let Some(name) = line.strip_prefix('[') {
                let Some(name) = name.strip_suffix(']') else {
                    return Err(err(line_no, format!("invalid section header {line:?}")));
                };
                sections.push(Section {
                    name: name.to_owned(),
                    entries: Vec::new(),
                });
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(err(line_no, format!("expected KEY=VALUE, got {line:?}")));
            };
            let Some(section) = sections.last_mut() else {
                return Err(err(line_no, "a key before any [Section]".to_owned()));
            };
            section.entries.push(Entry {
                key: key.trim().to_owned(),
                value: value.trim().to_owned(),
                line: line_no,
            });
        }
        Ok(UnitFile {
            path: path.to_owned(),
            sections,
        })
    }

    pub fn section(&self, name: &str) -> impl Iterator<Item = &Entry> {
        self.sections
            .iter()
            .filter(move |s| s.name == name)
            .flat_map(|s| s.entries.iter())
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|s| s.name == name)
    }

    /// An error at `entry`.
    pub fn error(&self, entry: &Entry, message: impl Into<String>) -> UnitError {
        UnitError {
            file: self.path.clone(),
            line: entry.line,
            key: entry.key.clone(),
            message: message.into(),
        }
    }
}

/// Splits a value into words as systemd does for command lines: blanks
/// separate, `"..."` and `'...'` quote, `\` escapes the next character.
pub fn split_words(value: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => match chars.next() {
                Some('n') => cur.push('\n'),
                Some('t') => cur.push('\t'),
                Some(n) => cur.push(n),
                None => return Err("a trailing backslash".into()),
            },
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            (' ' | '\t', None) => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
                continue;
            }
            _ => cur.push(c),
        }
        any = true;
    }
    if quote.is_some() {
        return Err("an unterminated quote".into());
    }
    if any {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_lines_and_continuations() {
        let text = "# c\n[Unit]\nDescription=web\n\n[Container]\nImage=busybox\nExec=sleep \\\n  1000\n;x\nLabel=a=b\n";
        let f = UnitFile::parse("web.container", text).unwrap();
        let keys: Vec<(&str, &str, usize)> = f
            .section("Container")
            .map(|e| (e.key.as_str(), e.value.as_str(), e.line))
            .collect();
        assert_eq!(
            keys,
            [
                ("Image", "busybox", 6),
                ("Exec", "sleep 1000", 7),
                ("Label", "a=b", 10)
            ]
        );
        let e = UnitFile::parse("x.container", "[Container]\nImage\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.container:2: expected KEY=VALUE, got \"Image\""
        );
        let e = UnitFile::parse("x.container", "Image=a\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(UnitFile::parse("x", "[Bad\n").is_err());
    }

    #[test]
    fn words_as_systemd_splits_them() {
        assert_eq!(
            split_words(r#"sh -c "echo 'a b'" x\ y ''"#).unwrap(),
            ["sh", "-c", "echo 'a b'", "x y", ""]
        );
        assert!(split_words("\"open").is_err());
    }
}
