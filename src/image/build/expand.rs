//! BuildKit's word processing for ENV, ARG, LABEL, WORKDIR, USER, COPY
//! and the rest: quotes removed, the escape character honoured, and
//! `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?msg}`, `${VAR#pat}`, `${VAR##pat}`,
//! `${VAR%pat}`, `${VAR%%pat}`, `${VAR/a/b}` and `${VAR//a/b}` expanded.
//! RUN's shell form is not processed here: the shell does its own.

use super::glob::component_match;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("unterminated quote in {0:?}")]
    Quote(String),
    #[error("missing '}}' in {0:?}")]
    Brace(String),
    #[error("bad substitution in {0:?}")]
    Bad(String),
    #[error("{name}: {message}")]
    Unset { name: String, message: String },
}

pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One word: quotes removed, variables expanded, nothing split.
pub fn word(input: &str, escape: char, vars: Lookup<'_>) -> Result<String, ExpandError> {
    Ok(lex(input, escape, vars, false)?.join(""))
}

/// Words split on unquoted white space (ENV/LABEL `k=v` lists, EXPOSE).
pub fn words(input: &str, escape: char, vars: Lookup<'_>) -> Result<Vec<String>, ExpandError> {
    lex(input, escape, vars, true)
}

fn lex(
    input: &str,
    escape: char,
    vars: Lookup<'_>,
    split: bool,
) -> Result<Vec<String>, ExpandError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if split && c.is_whitespace() {
            if started {
                out.push(std::mem::take(&mut cur));
                started = false;
            }
            i += 1;
            continue;
        }
        started = true;
        if c == escape {
            if let Some(n) = chars.get(i + 1) {
                cur.push(*n);
                i += 2;
            } else {
                cur.push(c);
                i += 1;
            }
            continue;
        }
        match c {
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|x| *x == '\'')
                    .ok_or_else(|| ExpandError::Quote(input.to_owned()))?;
                cur.extend(&chars[i + 1..i + 1 + end]);
                i += end + 2;
            }
            '"' => {
                i += 1;
                loop {
                    let Some(&d) = chars.get(i) else {
                        return Err(ExpandError::Quote(input.to_owned()));
                    };
                    if d == '"' {
                        i += 1;
                        break;
                    }
                    if d == escape && matches!(chars.get(i + 1), Some('"' | '$') | Some(&'\\')) {
                        cur.push(chars[i + 1]);
                        i += 2;
                    } else if d == escape && chars.get(i + 1) == Some(&escape) {
                        cur.push(escape);
                        i += 2;
                    } else if d == '$' {
                        i = dollar(&chars, i, escape, vars, &mut cur, input)?;
                    } else {
                        cur.push(d);
                        i += 1;
                    }
                }
            }
            '$' => i = dollar(&chars, i, escape, vars, &mut cur, input)?,
            c => {
                cur.push(c);
                i += 1;
            }
        }
    }
    if started || !split {
        out.push(cur);
    }
    Ok(out)
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands the `$` at `chars[i]`; returns the index after it.
fn dollar(
    chars: &[char],
    i: usize,
    escape: char,
    vars: Lookup<'_>,
    out: &mut String,
    input: &str,
) -> Result<usize, ExpandError> {
    let mut j = i + 1;
    match chars.get(j) {
        Some('{') => {
            // The matching brace, nested `${...}` included.
            let mut depth = 1;
            let mut k = j + 1;
            while k < chars.len() {
                match chars[k] {
                    c if c == escape => k += 1,
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            if k >= chars.len() {
                return Err(ExpandError::Brace(input.to_owned()));
            }
            let body: String = chars[j + 1..k].iter().collect();
            out.push_str(&braced(&body, escape, vars, input)?);
            Ok(k + 1)
        }
        Some(c) if is_name(*c) => {
            while chars.get(j).is_some_and(|c| is_name(*c)) {
                j += 1;
            }
            let name: String = chars[i + 1..j].iter().collect();
            out.push_str(&vars(&name).unwrap_or_default());
            Ok(j)
        }
        _ => {
            out.push('$');
            Ok(i + 1)
        }
    }
}

fn braced(body: &str, escape: char, vars: Lookup<'_>, input: &str) -> Result<String, ExpandError> {
    let name_len = body.find(|c: char| !is_name(c)).unwrap_or(body.len());
    if name_len == 0 {
        return Err(ExpandError::Bad(input.to_owned()));
    }
    let (name, rest) = body.split_at(name_len);
    let value = vars(name);
    let sub = |w: &str| word(w, escape, vars);
    if rest.is_empty() {
        return Ok(value.unwrap_or_default());
    }
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let v = value.clone().unwrap_or_default();
    Ok(if let Some(w) = rest.strip_prefix(":-") {
        if set_nonempty { v } else { sub(w)? }
    } else if let Some(w) = rest.strip_prefix(":+") {
        if set_nonempty { sub(w)? } else { String::new() }
    } else if let Some(w) = rest.strip_prefix(":?") {
        if !set_nonempty {
            return Err(ExpandError::Unset {
                name: name.to_owned(),
                message: sub(w)?,
            });
        }
        v
    } else if let Some(w) = rest.strip_prefix('-') {
        if value.is_some() { v } else { sub(w)? }
    } else if let Some(w) = rest.strip_prefix('+') {
        if value.is_some() {
            sub(w)?
        } else {
            String::new()
        }
    } else if let Some(w) = rest.strip_prefix('?') {
        if value.is_none() {
            return Err(ExpandError::Unset {
                name: name.to_owned(),
                message: sub(w)?,
            });
        }
        v
    } else if let Some(p) = rest.strip_prefix("##") {
        trim_prefix(&v, &sub(p)?, true)
    } else if let Some(p) = rest.strip_prefix('#') {
        trim_prefix(&v, &sub(p)?, false)
    } else if let Some(p) = rest.strip_prefix("%%") {
        trim_suffix(&v, &sub(p)?, true)
    } else if let Some(p) = rest.strip_prefix('%') {
        trim_suffix(&v, &sub(p)?, false)
    } else if let Some(r) = rest.strip_prefix("//") {
        let (a, b) = r.split_once('/').unwrap_or((r, ""));
        let a = sub(a)?;
        if a.is_empty() {
            v
        } else {
            v.replace(&a, &sub(b)?)
        }
    } else if let Some(r) = rest.strip_prefix('/') {
        let (a, b) = r.split_once('/').unwrap_or((r, ""));
        let a = sub(a)?;
        if a.is_empty() {
            v
        } else {
            v.replacen(&a, &sub(b)?, 1)
        }
    } else {
        return Err(ExpandError::Bad(input.to_owned()));
    })
}

fn bounds(s: &str) -> Vec<usize> {
    let mut b: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    b.push(s.len());
    b
}

fn trim_prefix(v: &str, pat: &str, longest: bool) -> String {
    let b = bounds(v);
    let mut order: Vec<usize> = b.clone();
    if longest {
        order.reverse();
    }
    for i in order {
        if component_match(pat, &v[..i]) {
            return v[i..].to_owned();
        }
    }
    v.to_owned()
}

fn trim_suffix(v: &str, pat: &str, longest: bool) -> String {
    let b = bounds(v);
    let mut order: Vec<usize> = b.clone();
    if !longest {
        order.reverse();
    }
    for i in order {
        if component_match(pat, &v[i..]) {
            return v[..i].to_owned();
        }
    }
    v.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(n: &str) -> Option<String> {
        match n {
            "A" => Some("hello".into()),
            "E" => Some(String::new()),
            "P" => Some("/usr/local/bin/tool.tar.gz".into()),
            _ => None,
        }
    }

    fn w(s: &str) -> String {
        word(s, '\\', &vars).unwrap()
    }

    #[test]
    fn buildkit_forms() {
        assert_eq!(w("$A-${A}"), "hello-hello");
        assert_eq!(w("${U:-x}${E:-y}${E-z}"), "xy");
        assert_eq!(w("${A:+set}${U:+no}${E+empty}"), "setempty");
        assert_eq!(w("${P#*/}"), "usr/local/bin/tool.tar.gz");
        assert_eq!(w("${P##*/}"), "tool.tar.gz");
        assert_eq!(w("${P%.*}"), "/usr/local/bin/tool.tar");
        assert_eq!(w("${P%%.*}"), "/usr/local/bin/tool");
        assert_eq!(w("${A/l/L}|${A//l/L}"), "heLlo|heLLo");
        assert_eq!(w("${U:-${A}}"), "hello");
        assert!(matches!(
            word("${U:?needed}", '\\', &vars),
            Err(ExpandError::Unset { .. })
        ));
        assert!(word("${A", '\\', &vars).is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$A' \"$A\" \\$A"), "$A hello $A");
        assert_eq!(
            words("K=\"a b\" L='c d' M=e\\ f", '\\', &vars).unwrap(),
            ["K=a b", "L=c d", "M=e f"]
        );
        assert_eq!(word("C:\\$A`$A", '`', &vars).unwrap(), "C:\\hello$A");
        assert_eq!(w("cost $ 5"), "cost $ 5");
    }
}
