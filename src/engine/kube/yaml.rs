//! YAML text for `kube generate`, written as Podman writes it: Podman
//! marshals its Kubernetes objects to JSON and then to YAML with go-yaml
//! v2 (through ghodss/yaml), so keys come out in go-yaml's order (a
//! natural sort, see [`key_less`]), strings that would read back as
//! another type are double-quoted, strings plain YAML cannot hold are
//! single-quoted, multi-line strings are literal blocks, and long plain
//! strings fold at column 80. Matching that byte for byte keeps diffs
//! against Podman's files empty; the rules are libyaml's emitter, reduced
//! to block style (the only style go-yaml writes by default).

use serde_json::Value;

/// go-yaml's line width: plain and quoted scalars break at a space once a
/// line is longer.
const BEST_WIDTH: usize = 80;

/// One document (no `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut e = Emitter::default();
    match value {
        Value::Object(m) if !m.is_empty() => e.mapping(value, 0),
        Value::Array(a) if !a.is_empty() => e.sequence(value, 0),
        other => {
            e.scalar(other, 0, false);
        }
    }
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    e.out
}

#[derive(Default)]
struct Emitter {
    out: String,
    /// Characters on the current line (go-yaml counts characters).
    column: usize,
}

impl Emitter {
    fn write(&mut self, s: &str) {
        for c in s.chars() {
            self.out.push(c);
            if c == '\n' {
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
    }

    fn newline_indent(&mut self, indent: usize) {
        self.write("\n");
        self.write(&" ".repeat(indent));
    }

    fn pad_to(&mut self, indent: usize) {
        while self.column < indent {
            self.write(" ");
        }
    }

    /// A block mapping whose keys start at `indent` (the first key may
    /// follow a `- ` already written).
    fn mapping(&mut self, value: &Value, indent: usize) {
        let Value::Object(map) = value else { return };
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by(|a, b| {
            if key_less(a, b) {
                std::cmp::Ordering::Less
            } else if key_less(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        for (i, k) in keys.into_iter().enumerate() {
            if i > 0 {
                self.write("\n");
            }
            self.pad_to(indent);
            self.scalar(&Value::String(k.clone()), indent, true);
            self.write(":");
            let v = &map[k];
            match v {
                Value::Object(m) if !m.is_empty() => {
                    self.write("\n");
                    self.mapping(v, indent + 2);
                }
                // go-yaml does not indent a sequence under a mapping key.
                Value::Array(a) if !a.is_empty() => {
                    self.write("\n");
                    self.sequence(v, indent);
                }
                _ => {
                    self.write(" ");
                    self.scalar(v, indent + 2, false);
                }
            }
        }
    }

    /// A block sequence whose dashes start at `indent`.
    fn sequence(&mut self, value: &Value, indent: usize) {
        let Value::Array(items) = value else { return };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.write("\n");
            }
            self.pad_to(indent);
            self.write("- ");
            match item {
                Value::Object(m) if !m.is_empty() => self.mapping(item, indent + 2),
                Value::Array(a) if !a.is_empty() => self.sequence(item, indent + 2),
                _ => self.scalar(item, indent + 2, false),
            }
        }
    }

    /// A scalar or an empty collection; `indent` is where continuation
    /// lines start.
    fn scalar(&mut self, v: &Value, indent: usize, key: bool) {
        match v {
            Value::Null => self.write("null"),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Number(n) => self.write(&n.to_string()),
            Value::Object(_) => self.write("{}"),
            Value::Array(_) => self.write("[]"),
            Value::String(s) => self.string(s, indent, key),
        }
    }

    fn string(&mut self, s: &str, indent: usize, key: bool) {
        let a = analyze(s);
        let style = if s.contains('\n') {
            Style::Literal
        } else if resolves_to_string(s) {
            Style::Plain
        } else {
            Style::Double
        };
        let style = match style {
            _ if key && a.multiline => Style::Double,
            Style::Plain if !a.block_plain_allowed || (s.is_empty() && key) => {
                if a.single_quoted_allowed {
                    Style::Single
                } else {
                    Style::Double
                }
            }
            Style::Literal if !a.block_allowed || key => Style::Double,
            other => other,
        };
        let breaks = !key;
        match style {
            Style::Plain => self.plain(s, indent, breaks),
            Style::Single => self.single(s, indent, breaks),
            Style::Double => self.double(s, indent, breaks),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1).is_some_and(|n| *n != ' ')
                {
                    self.newline_indent(indent);
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                self.out.push(c);
                self.column += 1;
                spaces = false;
            }
        }
    }

    fn single(&mut self, s: &str, indent: usize, breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.write("'");
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                    && chars.get(i + 1).is_some_and(|n| *n != ' ')
                {
                    self.newline_indent(indent);
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.write("'");
                }
                self.out.push(c);
                self.column += 1;
                spaces = false;
            }
        }
        self.write("'");
    }

    fn double(&mut self, s: &str, indent: usize, breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.write("\"");
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                let esc = match c {
                    '\0' => "\\0".to_owned(),
                    '\u{7}' => "\\a".to_owned(),
                    '\u{8}' => "\\b".to_owned(),
                    '\t' => "\\t".to_owned(),
                    '\n' => "\\n".to_owned(),
                    '\u{b}' => "\\v".to_owned(),
                    '\u{c}' => "\\f".to_owned(),
                    '\r' => "\\r".to_owned(),
                    '\u{1b}' => "\\e".to_owned(),
                    '"' => "\\\"".to_owned(),
                    '\\' => "\\\\".to_owned(),
                    '\u{85}' => "\\N".to_owned(),
                    '\u{a0}' => "\\_".to_owned(),
                    '\u{2028}' => "\\L".to_owned(),
                    '\u{2029}' => "\\P".to_owned(),
                    c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.write(&esc);
                spaces = false;
            } else if c == ' ' {
                if breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != chars.len() - 1 {
                    self.newline_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.write("\\");
                    }
                } else {
                    self.write(" ");
                }
                spaces = true;
            } else {
                self.out.push(c);
                self.column += 1;
                spaces = false;
            }
            i += 1;
        }
        self.write("\"");
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.write("|");
        let first = s.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.write("2");
        }
        let chars: Vec<char> = s.chars().collect();
        match chars.last() {
            Some(c) if !is_break(*c) => self.write("-"),
            None => self.write("-"),
            Some(_) if chars.len() == 1 || !is_break(chars[chars.len() - 2]) => {}
            Some(_) => self.write("+"),
        }
        self.write("\n");
        let mut at_line_start = true;
        for c in chars {
            if is_break(c) {
                self.write("\n");
                at_line_start = true;
            } else {
                if at_line_start {
                    self.write(&" ".repeat(indent));
                    at_line_start = false;
                }
                self.out.push(c);
                self.column += 1;
            }
        }
        // The emitter's next write starts a fresh line after a trailing break.
        if self.out.ends_with('\n') {
            self.out.pop();
            self.column = 1;
        }
    }
}

enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

#[derive(Default)]
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_end(c: Option<&char>) -> bool {
    match c {
        None => true,
        Some(c) => *c == ' ' || *c == '\t' || is_break(*c),
    }
}

/// libyaml's `is_printable` (go-yaml emits in unicode mode).
fn printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0a
        || (0x20..=0x7e).contains(&u)
        || (0xa0..=0xd7ff).contains(&u)
        || ((0xe000..=0xfffd).contains(&u) && u != 0xfeff)
}

/// libyaml's `yaml_emitter_analyze_scalar`, block context only.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut special = false;
    let mut line_breaks = false;
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = is_blank_or_end(chars.get(i + 1));
        let last = i + 1 == chars.len();
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !printable(c) || c == '\u{feff}' {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_end(Some(&c));
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// Whether go-yaml v2 reads `s`, unquoted, back as a string (not a bool,
/// null, number, timestamp or base-60 float); if not, it quotes it.
fn resolves_to_string(s: &str) -> bool {
    const SPECIAL: [&str; 37] = [
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "-.inf", "<<", "+.Inf",
    ];
    if SPECIAL.contains(&s) || matches!(s, "+.INF" | "-.Inf" | "-.INF") {
        return false;
    }
    let Some(first) = s.chars().next() else {
        return false;
    };
    match first {
        '.' => s.parse::<f64>().is_err(),
        '0'..='9' | '+' | '-' => {
            if timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            !(go_int(&plain) || yaml_float(&plain) || binary(&plain) || base60_float(s))
        }
        _ => true,
    }
}

/// `strconv.ParseInt(s, 0, 64)` or ParseUint: decimal, 0x, 0o, 0b, and a
/// leading 0 for octal.
fn go_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (b, 2)
    } else if let Some(o) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (o, 8)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    !digits.is_empty() && u128::from_str_radix(digits, radix).is_ok_and(|v| v <= u64::MAX as u128)
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_float(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'.') {
        i = 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn binary(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    body.strip_prefix("0b")
        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c == '0' || c == '1'))
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$` (YAML 1.1's
/// sexagesimal numbers, which go-yaml quotes).
fn base60_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit() || c == '_')) {
        return false;
    }
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    if !head.starts_with(|c: char| c.is_ascii_digit())
        || !head.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && rest.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
}

/// go-yaml's timestamp forms: `2006-1-2`, optionally followed by `T`, `t`
/// or a space and `15:4:5` with fraction and zone.
fn timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, min: usize, max: usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        *i - start >= min
    };
    if !num(&mut i, 4, 4) || b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    if !num(&mut i, 1, 2) || b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    if !num(&mut i, 1, 2) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    if !matches!(b[i], b'T' | b't' | b' ') {
        return false;
    }
    i += 1;
    for sep in [b':', b':'] {
        if !num(&mut i, 1, 2) || b.get(i) != Some(&sep) {
            return false;
        }
        i += 1;
    }
    if !num(&mut i, 1, 2) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !num(&mut i, 1, 9) {
            return false;
        }
    }
    let zone = &s[i..];
    zone.is_empty()
        || zone == "Z"
        || (zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':')
}

/// go-yaml v2's map key order: letters after other characters, runs of
/// digits compared as numbers, otherwise by code point.
pub fn key_less(a: &str, b: &str) -> bool {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .saturating_mul(10)
                .saturating_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .saturating_mul(10)
                .saturating_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn podmans_layout_and_quoting() {
        let v = json!({
            "spec": {
                "containers": [{
                    "name": "c2",
                    "command": ["sh", "-c", "echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb ccccccccccccccccccccccc dddd"],
                    "env": [
                        {"name": "A", "value": "2"},
                        {"name": "Q", "value": "yes"},
                        {"name": "COLON", "value": "a: b"},
                        {"name": "LONG", "value": "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq"},
                        {"name": "ML", "value": "line1\nline2"},
                        {"name": "T", "value": "a\tb"},
                    ],
                    "ports": [{"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"}],
                    "resources": {},
                }],
                "enableServiceLinks": false,
            },
            "metadata": {"creationTimestamp": "2026-12-07T00:06:57Z", "annotations": {"io.podman.annotations.init/c2": "FALSE"}},
            "apiVersion": "v1",
        });
        let want = r#"apiVersion: v1
metadata:
  annotations:
    io.podman.annotations.init/c2: "FALSE"
  creationTimestamp: "2026-12-07T00:06:57Z"
spec:
  containers:
  - command:
    - sh
    - -c
    - echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      ccccccccccccccccccccccc dddd
    env:
    - name: A
      value: "2"
    - name: Q
      value: "yes"
    - name: COLON
      value: 'a: b'
    - name: LONG
      value: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn
        oooo pppp qqqq
    - name: ML
      value: |-
        line1
        line2
    - name: T
      value: "a\tb"
    name: c2
    ports:
    - containerPort: 80
      hostIP: 127.0.0.1
      hostPort: 8080
    resources: {}
  enableServiceLinks: false
"#;
        assert_eq!(to_yaml(&v), want);
    }

    #[test]
    fn strings_that_read_back_as_other_types_are_quoted() {
        for s in [
            "1000",
            "0x1F",
            "1e3",
            "1.5",
            ".5",
            "true",
            "FALSE",
            "on",
            "~",
            "",
            "12:30",
            "2026-12-07",
            "1_000",
            "-1",
        ] {
            assert!(!resolves_to_string(s), "{s}");
        }
        for s in [
            "v1",
            "localhost/bb:latest",
            "1.2.3",
            "-c",
            "CAP_MKNOD",
            "0.5x",
            "500m",
        ] {
            assert!(resolves_to_string(s), "{s}");
        }
    }

    #[test]
    fn keys_sort_as_go_yaml_sorts_them() {
        let mut keys = vec![
            "b",
            "a10",
            "a9",
            "B",
            "a",
            "_x",
            "io.kubernetes.cri-o.TTY/c1",
        ];
        keys.sort_by(|a, b| {
            if key_less(a, b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        assert_eq!(
            keys,
            [
                "_x",
                "B",
                "a",
                "a9",
                "a10",
                "b",
                "io.kubernetes.cri-o.TTY/c1"
            ]
        );
    }

    #[test]
    fn literal_blocks_keep_their_ends() {
        assert_eq!(to_yaml(&json!({"k": "a\nb\n"})), "k: |\n  a\n  b\n");
        assert_eq!(to_yaml(&json!({"k": "a\n\nb"})), "k: |-\n  a\n\n  b\n");
        assert_eq!(to_yaml(&json!({"k": " a\nb"})), "k: |2-\n   a\n  b\n");
        assert_eq!(to_yaml(&json!({"k": "a \nb"})), "k: \"a \\nb\"\n");
    }
}
