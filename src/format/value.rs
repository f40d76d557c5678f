//! Moving data between `serde_json` and gotmpl, and writing JSON the way
//! Go's `encoding/json` does, so `--format json` and the `json` template
//! function print what Podman prints.

use std::io;
use std::sync::Arc;

use gotmpl::Value;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Converts JSON data into the value gotmpl renders. Keys are kept as they
/// are: the case-insensitive field lookup happens at execution time (see
/// `funcs::field`), so `{{json .Host}}` and `{{range $k, $v := .Labels}}`
/// see exactly the keys the data has.
pub(super) fn to_template(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        // Integral JSON numbers stay integers so `{{.Size}}` prints `42`
        // and `printf "%d"` accepts them, as it does for Podman's Go ints.
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint(u)
            } else {
                n.as_f64().map_or(Value::Nil, Value::Float)
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::from(s.as_str())),
        serde_json::Value::Array(items) => Value::List(items.iter().map(to_template).collect()),
        serde_json::Value::Object(map) => Value::Map(Arc::new(
            map.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), to_template(v)))
                .collect(),
        )),
    }
}

/// Converts a template value back to JSON for the `json` function. Fails,
/// as Go's encoder does, on values JSON cannot hold.
pub(super) fn to_json(v: &Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Uint(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("json: unsupported value: {f}"))?,
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Value::Map(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.to_string(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Function(_) => return Err("json: unsupported type: func".to_string()),
    })
}

/// One-line JSON as Podman's `json` template function writes it.
pub(super) fn to_json_compact(v: &serde_json::Value) -> String {
    write_json(v, GoFormatter(CompactFormatter))
}

/// Indented JSON as Podman's `inspect` writes it: its encoder indents by
/// five spaces (`enc.SetIndent("", "     ")`), not four.
pub(super) fn to_json_indented(v: &serde_json::Value) -> String {
    write_json(v, GoFormatter(PrettyFormatter::with_indent(b"     ")))
}

/// Four spaces: the indent of the few commands that call
/// `json.MarshalIndent` themselves (`secret inspect`).
pub(super) fn to_json_indented4(v: &serde_json::Value) -> String {
    write_json(v, GoFormatter(PrettyFormatter::with_indent(b"    ")))
}

fn write_json<F: Formatter>(v: &serde_json::Value, formatter: F) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serialising a `serde_json::Value` into memory cannot fail: its keys are
    // strings and its numbers finite.
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return String::new();
    }
    // The formatter only ever writes UTF-8 (it copies `str` fragments and
    // ASCII escapes).
    String::from_utf8(out).unwrap_or_default()
}

/// Wraps a serde_json formatter to print what Go's `encoding/json` prints
/// where the two differ: floats (`42` rather than `42.0`, `1e+21` rather
/// than `1e21`) and U+2028/U+2029, which Go always escapes so the output is
/// safe inside JavaScript. Podman turns HTML escaping off, and so does
/// serde_json, so `<`, `>` and `&` stay as they are.
struct GoFormatter<F>(F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(go_float(value).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(i) = rest.find(['\u{2028}', '\u{2029}']) {
            w.write_all(&rest.as_bytes()[..i])?;
            let escape: &[u8] = if rest[i..].starts_with('\u{2028}') {
                b"\\u2028"
            } else {
                b"\\u2029"
            };
            w.write_all(escape)?;
            // Both separators are three bytes long in UTF-8.
            rest = &rest[i + 3..];
        }
        w.write_all(rest.as_bytes())
    }

    // Everything below only forwards, so the wrapped formatter's layout
    // (indentation for the pretty one) is kept.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Formats a float as Go's `encoding/json` does: shortest round-trip digits,
/// plain notation between 1e-6 and 1e21, exponent notation (`1e+21`,
/// `1.5e-7`) outside it.
fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        // Rust's `Display` for f64 is also shortest round-trip, never with an
        // exponent, and prints integral values without `.0`.
        return format!("{f}");
    }
    // Rust writes `1e21` and `1.5e-7`; Go writes `1e+21` and (after its own
    // clean-up of `e-07`) `1.5e-7`.
    let exp = format!("{f:e}");
    match exp.split_once('e') {
        Some((mantissa, power)) if !power.starts_with('-') => format!("{mantissa}e+{power}"),
        _ => exp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_go_does() {
        assert_eq!(go_float(42.0), "42");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(-0.25), "-0.25");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1.5e-7), "1.5e-7");
        assert_eq!(go_float(0.0), "0");
    }

    #[test]
    fn compact_json_keeps_html_and_escapes_line_separators() {
        // Keys in sorted order, so the test holds whether or not serde_json
        // preserves insertion order.
        let v = json!({"cmd": "a && b <c>", "i": 7, "n": 42.0, "sep": "x\u{2028}y"});
        assert_eq!(
            to_json_compact(&v),
            r#"{"cmd":"a && b <c>","i":7,"n":42,"sep":"x\u2028y"}"#
        );
    }

    #[test]
    fn indented_json_uses_five_spaces() {
        let v = json!([{"Id": "abc"}]);
        assert_eq!(
            to_json_indented(&v),
            "[\n     {\n          \"Id\": \"abc\"\n     }\n]"
        );
    }

    #[test]
    fn round_trip_through_template_values() {
        let v = json!({"a": [1, 2.5, "x", null, true], "b": {"c": 18446744073709551615u64}});
        assert_eq!(to_json(&to_template(&v)), Ok(v));
    }
}
