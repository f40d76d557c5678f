//! The container's /etc/resolv.conf: the host's, minus what cannot work in
//! a private namespace, with `--dns`, `--dns-search`, `--dns-option` and
//! the helper's own DNS forwarder, as Podman's libnetwork/resolvconf.

use serde::{Deserialize, Serialize};

/// `--dns`, `--dns-search`, `--dns-option`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsConfig {
    pub servers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// Podman's fallback when nothing usable is left.
const FALLBACK: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

fn is_loopback(server: &str) -> bool {
    server
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The content of resolv.conf. `forwarder`: the helper's DNS address, put
/// first (pasta's forwarder, slirp4netns's 10.0.2.3); `host_net`: the
/// container shares the host's namespace, so loopback servers still work.
pub fn generate(host: &str, dns: &DnsConfig, forwarder: Option<&str>, host_net: bool) -> String {
    let mut servers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.next().map(String::from)),
            Some("search") | Some("domain") => {
                search = words.map(String::from).collect();
            }
            Some("options") => options.extend(words.map(String::from)),
            _ => {}
        }
    }
    if !host_net {
        // A loopback resolver (systemd-resolved's 127.0.0.53) is not
        // reachable from another namespace.
        servers.retain(|s| !is_loopback(s));
    }
    if !dns.servers.is_empty() {
        servers = dns.servers.clone();
    } else if let Some(f) = forwarder {
        servers.retain(|s| s != f);
        servers.insert(0, f.to_owned());
    }
    if servers.is_empty() {
        servers = FALLBACK.map(String::from).to_vec();
    }
    if !dns.search.is_empty() {
        // "--dns-search=." means no search domains at all.
        search = dns.search.iter().filter(|s| *s != ".").cloned().collect();
    }
    if !dns.options.is_empty() {
        options = dns.options.clone();
    }
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.com\noptions edns0\n";

    #[test]
    fn host_file_without_loopback_and_forwarder_first() {
        let r = generate(HOST, &DnsConfig::default(), Some("169.254.1.1"), false);
        assert_eq!(
            r,
            "search example.com\nnameserver 169.254.1.1\nnameserver 192.0.2.53\noptions edns0\n"
        );
        let r = generate(HOST, &DnsConfig::default(), None, true);
        assert!(r.contains("nameserver 127.0.0.53\n"));
    }

    #[test]
    fn flags_replace_host_values() {
        let dns = DnsConfig {
            servers: vec!["1.1.1.1".into()],
            search: vec!["a.test".into(), "b.test".into()],
            options: vec!["ndots:2".into()],
        };
        let r = generate(HOST, &dns, Some("169.254.1.1"), false);
        assert_eq!(
            r,
            "search a.test b.test\nnameserver 1.1.1.1\noptions ndots:2\n"
        );
        let none = DnsConfig {
            search: vec![".".into()],
            ..DnsConfig::default()
        };
        assert!(!generate(HOST, &none, None, false).contains("search"));
        assert_eq!(
            generate("", &DnsConfig::default(), None, false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }
}
