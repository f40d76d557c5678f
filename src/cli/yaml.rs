//! A YAML rendering of JSON values for human-facing output (`hutch info`),
//! as Podman prints it. Only what JSON can hold is needed, so a few lines
//! replace a YAML crate (serde_yaml is unmaintained).

use serde_json::Value;

pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    emit(value, 0, &mut out);
    out
}

fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        emit(v, indent + 1, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        emit(v, indent, out);
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(v))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let inner = to_yaml(item);
                        for (i, line) in inner.lines().enumerate() {
                            let lead = if i == 0 { "- " } else { "  " };
                            out.push_str(&format!("{pad}{lead}{line}\n"));
                        }
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        _ => out.push_str(&format!("{pad}{}\n", scalar(value))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) if needs_quotes(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::String(s) => s.clone(),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn needs_quotes(s: &str) -> bool {
    s.contains(": ")
        || s.contains(" #")
        || s.starts_with(|c: char| "!&*?|>'\"%@`{}[],-#".contains(c) || c.is_whitespace())
        || s.ends_with(char::is_whitespace)
        || s.contains('\n')
        || matches!(s, "true" | "false" | "null" | "yes" | "no" | "~")
        || s.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_lists_and_quoting() {
        let v = json!({"host": {"kernel": "6.1.0", "maps": [{"a": 1, "b": 2}], "empty": [], "n": "1.5", "msg": "a: b"}});
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "host:\n  kernel: 6.1.0\n  maps:\n  - a: 1\n    b: 2\n  empty: []\n  n: \"1.5\"\n  msg: \"a: b\"\n"
        );
    }
}
