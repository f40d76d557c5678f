//! `--add-host`, `--label`/`--annotation` lists.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::bail;

use crate::spec::AddHost;

/// `--add-host host[;host...]:ip`.
pub fn add_host(spec: &str) -> anyhow::Result<AddHost> {
    let (hosts, ip) = spec
        .split_once(':')
        .or_else(|| spec.split_once('='))
        .ok_or_else(|| anyhow::anyhow!("invalid --add-host {spec:?}: expected host:ip"))?;
    let names: Vec<String> = hosts
        .split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        bail!("invalid --add-host {spec:?}: no host name");
    }
    // [::1] as Docker writes IPv6 addresses.
    let ip_text = ip.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = ip_text
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid IP address in add-host: {ip:?}"))?;
    Ok(AddHost { names, ip })
}

/// `KEY=VALUE` flags (`--label`, `--annotation`); a bare key has an empty
/// value.
pub fn key_values(flag: &str, list: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in list {
        let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
        if k.is_empty() {
            bail!("invalid {flag} {item:?}: empty key");
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_labels() {
        let h = add_host("a;b:10.0.0.1").unwrap();
        assert_eq!(h.names, vec!["a", "b"]);
        assert_eq!(h.ip.to_string(), "10.0.0.1");
        assert_eq!(add_host("six:[::1]").unwrap().ip.to_string(), "::1");
        assert!(add_host("x:notanip").is_err());
        let l = key_values("--label", &["a=b".into(), "c".into()]).unwrap();
        assert_eq!(l.get("c").map(String::as_str), Some(""));
        assert!(key_values("--label", &["=v".into()]).is_err());
    }
}
