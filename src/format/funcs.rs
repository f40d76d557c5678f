//! The template functions hutch adds to gotmpl's built-ins: Podman's
//! (`json`, `lower`, `upper`, `title`, `split`, `join`, `truncate`, `pad`,
//! from containers/common `pkg/report`) and the hidden field lookup that
//! every `.Field` in a template is rewritten into (see `rewrite.rs`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{FuncMap, TemplateError, Value};

use super::value;

/// Name of the field-lookup function. It is put into the syntax tree by
/// `rewrite.rs`, never parsed, so it is chosen to be impossible to write in
/// a template (`#` cannot start an identifier).
pub(super) const FIELD_FN: &str = "#field";

/// Names a template may call: gotmpl's built-ins (Go's) and Podman's. Used
/// to reject an unknown function when the template is parsed, as Go does,
/// rather than when the first item is rendered.
pub(super) const KNOWN_FUNCS: &[&str] = &[
    // Go text/template built-ins, provided by gotmpl.
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
    // containers/common pkg/report DefaultFuncs.
    "join", "json", "lower", "pad", "split", "title", "truncate", "upper",
];

/// Why a field lookup failed, kept for the render that triggered it:
/// gotmpl hands a function's error back unchanged but has no variant to
/// carry these details, and the render needs them to build
/// `FormatError::MissingField`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FieldFailure {
    pub line: usize,
    pub col: usize,
    pub expr: String,
    pub field: String,
    pub kind: &'static str,
}

thread_local! {
    // Per thread because a render runs start to end on the calling thread,
    // which keeps concurrent renders of one template apart.
    static FIELD_FAILURE: RefCell<Option<FieldFailure>> = const { RefCell::new(None) };
}

/// Forgets an earlier failure before a render starts.
pub(super) fn clear_field_failure() {
    FIELD_FAILURE.with(|f| f.borrow_mut().take());
}

/// The failure recorded by the render that just failed, if a field lookup
/// caused it.
pub(super) fn take_field_failure() -> Option<FieldFailure> {
    FIELD_FAILURE.with(|f| f.borrow_mut().take())
}

/// All functions hutch registers on top of gotmpl's built-ins.
pub(super) fn all() -> FuncMap {
    let mut m = FuncMap::new();
    m.insert(FIELD_FN.to_string(), Arc::new(field));
    m.insert("json".to_string(), Arc::new(json));
    m.insert(
        "lower".to_string(),
        Arc::new(|a: &[Value]| map_str("lower", a, str::to_lowercase)),
    );
    m.insert(
        "upper".to_string(),
        Arc::new(|a: &[Value]| map_str("upper", a, str::to_uppercase)),
    );
    m.insert(
        "title".to_string(),
        Arc::new(|a: &[Value]| map_str("title", a, title)),
    );
    m.insert("split".to_string(), Arc::new(split));
    m.insert("join".to_string(), Arc::new(join));
    m.insert("truncate".to_string(), Arc::new(truncate));
    m.insert("pad".to_string(), Arc::new(pad));
    m
}

/// `#field LINE COL EXPR BASE NAME...`: looks `NAME...` up in `BASE` one
/// after the other. Podman's data are Go structs whose field names
/// (`.Host.IDMappings`) differ in case from the JSON keys hutch's data carry
/// (`host.idMappings`), so an exact key wins and otherwise a near match
/// (see `lookup`) is taken.
fn field(args: &[Value]) -> Result<Value, TemplateError> {
    let [line, col, expr, base, names @ ..] = args else {
        return Err(arg_count(FIELD_FN, 4, args));
    };
    let mut current = base.clone();
    for name in names {
        let name = name.as_str().unwrap_or_default();
        current = match &current {
            Value::Map(map) => match lookup(map, name) {
                Some(v) => v.clone(),
                None => return Err(missing(line, col, expr, name, "map")),
            },
            // A field of a JSON null (a nil pointer or empty interface in
            // Podman's structs) has no value, as in gotmpl's own lookup.
            Value::Nil => Value::Nil,
            other => return Err(missing(line, col, expr, name, other.type_name())),
        };
    }
    Ok(current)
}

/// The value under `name`: the exact key, else one equal ignoring ASCII
/// case, else one equal ignoring case and underscores as well, since some
/// of Podman's JSON keys are snake_case (`host_port` for `.HostPort`,
/// `container_id` for `.ContainerID`).
fn lookup<'m>(map: &'m BTreeMap<Arc<str>, Value>, name: &str) -> Option<&'m Value> {
    if let Some(v) = map.get(name) {
        return Some(v);
    }
    if let Some((_, v)) = map.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)) {
        return Some(v);
    }
    let folded = |s: &str| -> String {
        s.chars()
            .filter(|&c| c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let wanted = folded(name);
    map.iter()
        .find(|(key, _)| folded(key) == wanted)
        .map(|(_, v)| v)
}

fn missing(
    line: &Value,
    col: &Value,
    expr: &Value,
    field: &str,
    kind: &'static str,
) -> TemplateError {
    let failure = FieldFailure {
        line: line
            .as_int()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        col: col
            .as_int()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        expr: expr.as_str().unwrap_or_default().to_string(),
        field: field.to_string(),
        kind,
    };
    let message = format!(
        "at <{}>: can't evaluate field {} in type {}",
        failure.expr, failure.field, failure.kind
    );
    FIELD_FAILURE.with(|f| *f.borrow_mut() = Some(failure));
    TemplateError::Exec(message)
}

/// `json VALUE`: compact JSON without HTML escaping, as Podman's.
fn json(args: &[Value]) -> Result<Value, TemplateError> {
    let [v] = args else {
        return Err(arg_count("json", 1, args));
    };
    let v = value::to_json(v).map_err(TemplateError::Exec)?;
    Ok(Value::String(value::to_json_compact(&v).into()))
}

fn map_str(name: &str, args: &[Value], f: impl Fn(&str) -> String) -> Result<Value, TemplateError> {
    let [s] = args else {
        return Err(arg_count(name, 1, args));
    };
    Ok(Value::String(f(string_arg(name, 1, s)?).into()))
}

/// Go's `strings.Title`: upper-cases the first letter of every word, where
/// a word starts after anything but a letter, digit or underscore; the rest
/// of the word is left alone.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if is_word_separator(prev) {
            let mut upper = c.to_uppercase();
            // Go maps one rune to one rune; a letter whose upper case is
            // several characters (ß) stays as it is.
            match (upper.next(), upper.next()) {
                (Some(u), None) => out.push(u),
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn is_word_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    // Go: other letters and digits join words, and of the rest only
    // spaces separate; no non-ASCII letter or digit is a space.
    c.is_whitespace()
}

/// `split STRING SEP`: Go's `strings.Split`.
fn split(args: &[Value]) -> Result<Value, TemplateError> {
    let [s, sep] = args else {
        return Err(arg_count("split", 2, args));
    };
    let s = string_arg("split", 1, s)?;
    let sep = string_arg("split", 2, sep)?;
    let parts: Vec<Value> = if sep.is_empty() {
        // Go splits into single characters; Rust's split("") would also
        // yield empty strings at both ends.
        s.chars()
            .map(|c| Value::String(c.to_string().into()))
            .collect()
    } else {
        s.split(sep).map(|p| Value::String(p.into())).collect()
    };
    Ok(Value::List(parts.into()))
}

/// `join LIST SEP`: Go's `strings.Join`, so the list must hold strings; a
/// null list (Go's nil slice) joins to the empty string.
fn join(args: &[Value]) -> Result<Value, TemplateError> {
    let [list, sep] = args else {
        return Err(arg_count("join", 2, args));
    };
    let sep = string_arg("join", 2, sep)?;
    let items: &[Value] = match list {
        Value::List(items) => items,
        Value::Nil => &[],
        // Go would reject a string, but a `table` header row hands every
        // field over as its title string, and this lets `{{join .Names ","}}`
        // print that title instead of failing.
        Value::String(_) => return Ok(list.clone()),
        other => return Err(wrong_type("join", 1, "list of strings", other)),
    };
    let strings = items
        .iter()
        .map(|v| string_arg("join", 1, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::String(strings.join(sep).into()))
}

/// `truncate STRING N`: the first N bytes, as Podman's `source[:length]`,
/// shortened further to a character boundary because a Rust string cannot
/// hold half a character.
fn truncate(args: &[Value]) -> Result<Value, TemplateError> {
    let [s, n] = args else {
        return Err(arg_count("truncate", 2, args));
    };
    let s = string_arg("truncate", 1, s)?;
    let n = count_arg("truncate", 2, n)?;
    if s.len() < n {
        return Ok(Value::String(s.into()));
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Ok(Value::String(s[..end].into()))
}

/// `pad STRING PREFIX SUFFIX`: surrounds a non-empty string with spaces,
/// Podman's `padWithSpace`.
fn pad(args: &[Value]) -> Result<Value, TemplateError> {
    let [s, prefix, suffix] = args else {
        return Err(arg_count("pad", 3, args));
    };
    let s = string_arg("pad", 1, s)?;
    let prefix = count_arg("pad", 2, prefix)?;
    let suffix = count_arg("pad", 3, suffix)?;
    if s.is_empty() {
        return Ok(Value::String("".into()));
    }
    Ok(Value::String(
        format!("{}{s}{}", " ".repeat(prefix), " ".repeat(suffix)).into(),
    ))
}

fn string_arg<'a>(func: &str, pos: usize, v: &'a Value) -> Result<&'a str, TemplateError> {
    v.as_str().ok_or_else(|| wrong_type(func, pos, "string", v))
}

/// A non-negative integer argument; Go would panic on a negative one.
fn count_arg(func: &str, pos: usize, v: &Value) -> Result<usize, TemplateError> {
    let n = match v {
        Value::Int(n) => usize::try_from(*n).ok(),
        Value::Uint(n) => usize::try_from(*n).ok(),
        _ => return Err(wrong_type(func, pos, "int", v)),
    };
    n.ok_or_else(|| {
        TemplateError::Exec(format!(
            "error calling {func}: argument {pos} is negative or too large"
        ))
    })
}

fn wrong_type(func: &str, pos: usize, expected: &str, got: &Value) -> TemplateError {
    TemplateError::Exec(format!(
        "error calling {func}: argument {pos}: expected {expected}, got {}",
        got.type_name()
    ))
}

fn arg_count(func: &str, expected: usize, args: &[Value]) -> TemplateError {
    TemplateError::ArgCount {
        name: func.to_string(),
        expected,
        got: args.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Result<Value, TemplateError> {
        let funcs = all();
        let f = funcs.get(name).expect("function registered");
        f(args)
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn string_functions_follow_go() {
        assert_eq!(call("upper", &[s("abc")]).unwrap(), s("ABC"));
        assert_eq!(call("lower", &[s("AbC")]).unwrap(), s("abc"));
        assert_eq!(
            call("title", &[s("hello wORLD-foo_bar")]).unwrap(),
            s("Hello WORLD-Foo_bar")
        );
        assert_eq!(
            call("truncate", &[s("abcdef"), Value::Int(3)]).unwrap(),
            s("abc")
        );
        assert_eq!(
            call("truncate", &[s("ab"), Value::Int(3)]).unwrap(),
            s("ab")
        );
        assert_eq!(call("truncate", &[s("é"), Value::Int(1)]).unwrap(), s(""));
        assert_eq!(
            call("pad", &[s("x"), Value::Int(1), Value::Int(2)]).unwrap(),
            s(" x  ")
        );
        assert_eq!(
            call("pad", &[s(""), Value::Int(1), Value::Int(2)]).unwrap(),
            s("")
        );
    }

    #[test]
    fn split_and_join() {
        let parts = call("split", &[s("a,b,,c"), s(",")]).unwrap();
        assert_eq!(
            parts,
            Value::List(vec![s("a"), s("b"), s(""), s("c")].into())
        );
        assert_eq!(call("join", &[parts, s("-")]).unwrap(), s("a-b--c"));
        assert_eq!(
            call("split", &[s("ab"), s("")]).unwrap(),
            Value::List(vec![s("a"), s("b")].into())
        );
        assert_eq!(call("join", &[Value::Nil, s(",")]).unwrap(), s(""));
    }

    #[test]
    fn every_known_function_exists() {
        // The parse-time check must not reject a function gotmpl or hutch
        // provides, nor accept one neither does.
        for name in KNOWN_FUNCS {
            let result = gotmpl::Template::new("t")
                .funcs(all())
                .parse(&format!("{{{{{name}}}}}"))
                .and_then(|t| t.execute_to_string(&Value::Nil));
            assert!(
                !matches!(result, Err(TemplateError::UndefinedFunction(_))),
                "{name} is not defined"
            );
        }
    }

    #[test]
    fn wrong_arguments_are_errors() {
        assert!(call("upper", &[Value::Int(1)]).is_err());
        assert!(call("upper", &[]).is_err());
        assert!(call("truncate", &[s("abc"), Value::Int(-1)]).is_err());
        assert!(call("join", &[Value::List(vec![Value::Int(1)].into()), s(",")]).is_err());
    }
}
