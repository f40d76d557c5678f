//! The environment a front end resolves: `--env-file` lines, `-e KEY`
//! from its own environment. The lookup is passed in, so the engine (and
//! a server behind the REST API) never hands its own environment on.

/// Lines of an `--env-file`: `KEY=VALUE`, or `KEY` alone to take the value
/// from `host_env` (skipped when the host has none); blank lines and `#`
/// comments are skipped, as in Podman's `envlib.ParseFile`.
pub fn env_file(text: &str, host_env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some(_) => out.push(line.to_string()),
            None => {
                let key = line.trim_end();
                if let Some(v) = host_env(key) {
                    out.push(format!("{key}={v}"));
                }
            }
        }
    }
    out
}

/// `-e` values: `KEY=VALUE` as is, `KEY` alone with the value from
/// `host_env` (skipped when it has none), as Podman does.
pub fn env(list: &[String], host_env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    list.iter()
        .filter_map(|e| match e.split_once('=') {
            Some(_) => Some(e.clone()),
            None => host_env(e).map(|v| format!("{e}={v}")),
        })
        .collect()
}

/// Sets `KEY=VALUE` in `env`, replacing an earlier value of the key.
pub fn set(env: &mut Vec<String>, entry: String) {
    let key = entry.split('=').next().unwrap_or(&entry).to_owned();
    env.retain(|x| x.split('=').next() != Some(key.as_str()));
    env.push(entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_lines() {
        let host = |k: &str| (k == "HOSTVAR").then(|| "h".to_string());
        let env = env_file("# c\n\nA=1\n  B = 2\nHOSTVAR\nMISSING\n", &host);
        assert_eq!(env, vec!["A=1", "B = 2", "HOSTVAR=h"]);
    }

    #[test]
    fn bare_keys_take_the_callers_value() {
        let host = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        let list = ["A=1".to_string(), "HOME".into(), "NOPE".into()];
        assert_eq!(env(&list, &host), vec!["A=1", "HOME=/home/u"]);
        let mut e = vec!["A=1".to_string(), "B=2".into()];
        set(&mut e, "A=3".into());
        assert_eq!(e, vec!["B=2", "A=3"]);
    }
}
