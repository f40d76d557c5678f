//! What the metadata instructions do to an image config's `config` object
//! (Docker's field names, as `image inspect` and Podman show them).

use serde_json::{Map, Value, json};

use super::containerfile::{CommandForm, Flag};
use super::expand::{self, ExpandError, Lookup};

/// `K=V K2="V 2"`, or the legacy `K V with spaces` (first word has no
/// `=`), expanded.
pub fn pairs(raw: &str, escape: char, vars: Lookup<'_>) -> Result<Vec<(String, String)>, String> {
    let words = expand::words(raw, escape, vars).map_err(|e| e.to_string())?;
    let Some(first) = words.first() else {
        return Err("needs at least one argument".into());
    };
    if !first.contains('=') {
        // Legacy form: the rest of the line is the value, spaces kept.
        let rest = raw.trim_start()[raw
            .trim_start()
            .find(char::is_whitespace)
            .unwrap_or(raw.trim_start().len())..]
            .trim();
        let value = expand::word(rest, escape, vars).map_err(|e| e.to_string())?;
        return Ok(vec![(first.clone(), value)]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(format!("{w:?}: expected KEY=VALUE")),
        })
        .collect()
}

/// An ARG declaration: names, each with its default when one is given.
pub fn arg_decls(
    raw: &str,
    escape: char,
    vars: Lookup<'_>,
) -> Result<Vec<(String, Option<String>)>, ExpandError> {
    Ok(expand::words(raw, escape, vars)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (w, None),
        })
        .collect())
}

/// Replaces or appends `K=V` in a `KEY=VALUE` list.
pub fn set_env(list: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match list.iter_mut().find(|e| e.split('=').next() == Some(key)) {
        Some(e) => *e = entry,
        None => list.push(entry),
    }
}

pub fn env_list(cc: &Map<String, Value>) -> Vec<String> {
    strings(cc.get("Env"))
}

pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The process a CMD, ENTRYPOINT or RUN runs: the shell form goes to the
/// SHELL (`/bin/sh -c` by default).
pub fn argv(form: &CommandForm, shell: &[String]) -> Vec<String> {
    match form {
        CommandForm::Exec(v) => v.clone(),
        CommandForm::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}

pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

/// `80`, `80/udp`, `8000-8002`: Docker's `ExposedPorts` keys.
pub fn expose(cc: &mut Map<String, Value>, ports: &[String]) -> Result<(), String> {
    let map = cc.entry("ExposedPorts").or_insert_with(|| json!({}));
    if !map.is_object() {
        *map = json!({});
    }
    let Some(map) = map.as_object_mut() else {
        return Ok(());
    };
    for p in ports {
        let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        let proto = proto.to_ascii_lowercase();
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(format!("invalid protocol {proto:?} in EXPOSE {p}"));
        }
        let (lo, hi) = port.split_once('-').unwrap_or((port, port));
        let (lo, hi): (u16, u16) = match (lo.parse(), hi.parse()) {
            (Ok(a), Ok(b)) if a <= b => (a, b),
            _ => return Err(format!("invalid port {p:?} in EXPOSE")),
        };
        for n in lo..=hi {
            map.insert(format!("{n}/{proto}"), json!({}));
        }
    }
    Ok(())
}

pub fn volumes(cc: &mut Map<String, Value>, paths: &[String]) {
    let map = cc.entry("Volumes").or_insert_with(|| json!({}));
    if let Some(m) = map.as_object_mut() {
        for p in paths.iter().filter(|p| !p.is_empty()) {
            m.insert(p.clone(), json!({}));
        }
    }
}

/// A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds.
pub fn go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {s:?}");
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_len);
        let n: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = tail;
    }
    Ok(total as i64)
}

/// HEALTHCHECK's `Healthcheck` object.
pub fn healthcheck(flags: &[Flag], command: Option<&CommandForm>) -> Result<Value, String> {
    let Some(command) = command else {
        return Ok(json!({"Test": ["NONE"]}));
    };
    let test: Vec<String> = match command {
        CommandForm::Exec(v) => std::iter::once("CMD".to_owned())
            .chain(v.iter().cloned())
            .collect(),
        CommandForm::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
    };
    let mut hc = json!({"Test": test});
    for f in flags {
        let v = f.value.as_deref().unwrap_or("");
        let key = match f.name.as_str() {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let n: i64 = v.parse().map_err(|_| format!("invalid --retries {v:?}"))?;
                hc["Retries"] = json!(n);
                continue;
            }
            other => return Err(format!("unknown HEALTHCHECK flag --{other}")),
        };
        hc[key] = json!(go_duration(v)?);
    }
    Ok(hc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn env_forms() {
        assert_eq!(
            pairs("A=1 B=\"two words\"", '\\', &none).unwrap(),
            [("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
        assert_eq!(
            pairs("A  one two", '\\', &none).unwrap(),
            [("A".into(), "one two".into())]
        );
        let mut env = vec!["PATH=/bin".to_owned()];
        set_env(&mut env, "PATH", "/usr/bin");
        set_env(&mut env, "X", "1");
        assert_eq!(env, ["PATH=/usr/bin", "X=1"]);
    }

    #[test]
    fn exposes_health_and_durations() {
        let mut cc = Map::new();
        expose(&mut cc, &["80".into(), "53/udp".into(), "7-8".into()]).unwrap();
        let mut keys: Vec<&String> = cc["ExposedPorts"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["53/udp", "7/tcp", "8/tcp", "80/tcp"]);
        assert!(expose(&mut cc, &["x".into()]).is_err());
        assert_eq!(go_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(go_duration("500ms").unwrap(), 500_000_000);
        let hc = healthcheck(
            &[Flag {
                name: "interval".into(),
                value: Some("5s".into()),
            }],
            Some(&CommandForm::Shell("true".into())),
        )
        .unwrap();
        assert_eq!(
            hc,
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64})
        );
    }
}
