//! The container's /etc/hosts, /etc/hostname and /etc/resolv.conf, written
//! into its userdata dir and bind-mounted over the image's (Podman does the
//! same, so that the container can rewrite them and `--add-host`/`--dns`
//! need not touch the image).
//!
//! [`EtcOptions`] holds every input; the networking code fills in the
//! container's addresses and `--dns*` and calls [`write`] again when they
//! change. The text builders are pure and unit-tested.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;

use anyhow::Context as _;

use crate::runtime::spec::EtcFiles;

/// What goes into the three files.
#[derive(Debug, Clone, Default)]
pub struct EtcOptions {
    pub hostname: String,
    /// The container's name, listed beside its hostname.
    pub name: String,
    /// `--add-host`: names and their address, listed first so that they win.
    pub add_hosts: Vec<(Vec<String>, IpAddr)>,
    /// The image's own /etc/hosts, the base Podman keeps.
    pub image_hosts: Option<String>,
    /// The container's addresses; empty (no network yet, or none): the
    /// hostname resolves to the loopback.
    pub container_ips: Vec<IpAddr>,
    /// The address `host.containers.internal` names; `None` leaves it out.
    pub host_ip: Option<IpAddr>,
    /// The host's resolv.conf, as [`host_resolv_conf`] read it.
    pub host_resolv: Option<String>,
    /// `--dns`, `--dns-search`, `--dns-option`: each replaces the host's.
    pub dns_servers: Vec<IpAddr>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// Whether the container shares the host's network (its loopback
    /// resolvers then work).
    pub host_network: bool,
    /// `--no-hosts`: no /etc/hosts is written (the image's stays).
    pub no_hosts: bool,
}

const LOCALHOST_V4: &str =
    "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4";
const LOCALHOST_V6: &str =
    "::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6";

/// Public resolvers Podman falls back to when the host has none the
/// container can reach.
const FALLBACK_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

pub fn hosts_text(o: &EtcOptions) -> String {
    let mut out = String::new();
    for (names, ip) in &o.add_hosts {
        out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    let base = o.image_hosts.as_deref().unwrap_or("");
    // Podman's rule (libnetwork's etchosts): the localhost lines only when
    // the base names no localhost at all.
    let named = base.lines().any(|l| {
        !l.trim_start().starts_with('#') && l.split_whitespace().skip(1).any(|n| n == "localhost")
    });
    if !named {
        out.push_str(LOCALHOST_V4);
        out.push('\n');
        out.push_str(LOCALHOST_V6);
        out.push('\n');
    }
    // Entries as Podman writes them: address, a tab, the names; comments
    // dropped.
    for line in base.lines() {
        let mut f = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace();
        if let Some(ip) = f.next() {
            let names: Vec<&str> = f.collect();
            if !names.is_empty() {
                out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
            }
        }
    }
    if let Some(ip) = o.host_ip {
        out.push_str(&format!(
            "{ip}\thost.containers.internal host.docker.internal\n"
        ));
    }
    let mut names = vec![o.hostname.clone()];
    if !o.name.is_empty() && o.name != o.hostname {
        names.push(o.name.clone());
    }
    let names = names.join(" ");
    if o.container_ips.is_empty() {
        out.push_str(&format!("127.0.1.1\t{names}\n"));
    }
    for ip in &o.container_ips {
        out.push_str(&format!("{ip}\t{names}\n"));
    }
    out
}

fn is_loopback_server(line: &str) -> bool {
    line.split_whitespace()
        .nth(1)
        .and_then(|a| a.parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback())
}

pub fn resolv_text(o: &EtcOptions) -> String {
    let host = o.host_resolv.as_deref().unwrap_or("");
    let mut servers: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            // The host's loopback resolver is not the container's
            // loopback, unless they share the network.
            Some("nameserver") if o.host_network || !is_loopback_server(line) => {
                servers.extend(f.next().map(str::to_string));
            }
            Some("search") | Some("domain") => search.extend(f.map(str::to_string)),
            Some("options") => options.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    if !o.dns_servers.is_empty() {
        servers = o.dns_servers.iter().map(|s| s.to_string()).collect();
    }
    if servers.is_empty() {
        servers = FALLBACK_DNS.iter().map(|s| s.to_string()).collect();
    }
    if !o.dns_search.is_empty() {
        // "." clears the search list, as in Podman.
        search = o
            .dns_search
            .iter()
            .filter(|s| s.as_str() != ".")
            .cloned()
            .collect();
    }
    if !o.dns_options.is_empty() {
        options = o.dns_options.clone();
    }
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// The host's resolv.conf. When it only points at systemd-resolved's stub
/// (127.0.0.53), the upstream list systemd-resolved keeps is used, as
/// Podman does: the stub is unreachable from the container.
pub fn host_resolv_conf() -> Option<String> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    let stub = text.lines().any(|l| {
        let mut f = l.split_whitespace();
        f.next() == Some("nameserver") && f.next() == Some("127.0.0.53")
    });
    if stub && let Ok(up) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
        return Some(up);
    }
    Some(text)
}

/// The host's address on its default route: what `host.containers.internal`
/// names when the container reaches the host through it (pasta). Found by
/// connecting a UDP socket, which sends nothing.
pub fn host_address() -> Option<IpAddr> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    sock.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// A hosts file of the host's (containers.conf `base_hosts_file`, Podman's
/// default /etc/hosts), read up to [`MAX_BASE_HOSTS`] bytes; unreadable:
/// none.
pub fn read_base_hosts(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_BASE_HOSTS)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// A base hosts file is a few lines; a larger one is cut here.
pub const MAX_BASE_HOSTS: u64 = 1 << 20;

/// The line that names the container before its address is known (at
/// create) is given the address once the network is set up, as Podman's
/// hosts file has it.
pub fn set_container_ip(dir: &Path, ip: IpAddr) -> anyhow::Result<()> {
    let path = dir.join("hosts");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let placeholder = format!("{}\t", Ipv4Addr::new(127, 0, 1, 1));
    if !text.lines().any(|l| l.starts_with(&placeholder)) {
        return Ok(());
    }
    let new: String = text
        .lines()
        .map(|l| match l.strip_prefix(&placeholder) {
            Some(names) => format!("{ip}\t{names}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    // In place: a container restarted keeps the inode bind-mounted.
    std::fs::write(&path, new).with_context(|| format!("writing {}", path.display()))
}

/// Writes (or rewrites) the three files in `dir`. They are rewritten in
/// place, not renamed over: a running container has the inode bind-mounted
/// and would never see a new one.
pub fn write(dir: &Path, o: &EtcOptions) -> anyhow::Result<EtcFiles> {
    let files = EtcFiles {
        hosts: (!o.no_hosts).then(|| dir.join("hosts")),
        hostname: Some(dir.join("hostname")),
        resolv_conf: Some(dir.join("resolv.conf")),
        containerenv: Some(dir.join(".containerenv")),
        passwd: None,
        group: None,
    };
    let texts = [
        (&files.hosts, hosts_text(o)),
        (&files.hostname, format!("{}\n", o.hostname)),
        (&files.resolv_conf, resolv_text(o)),
        (&files.containerenv, String::new()),
    ];
    for (path, text) in texts {
        if let Some(path) = path {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(files)
}

/// An /etc/passwd line that `--userns=keep-id` or `--hostuser` adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    /// Podman's: the container's working directory.
    pub home: String,
}

/// The image's /etc/passwd with `add` appended (Podman's line shape:
/// `name:*:uid:gid:gecos:home:/bin/sh`), each unless the image already
/// has that name or uid; `None` when nothing is added, so the image's
/// file stays as it is.
pub fn passwd_text(image: Option<&str>, add: &[PasswdEntry]) -> Option<String> {
    let image = image.unwrap_or("");
    let known = |name: &str, uid: u32| {
        image.lines().any(|l| {
            let mut f = l.split(':');
            let n = f.next();
            let u = f.nth(1).and_then(|u| u.parse::<u32>().ok());
            n == Some(name) || u == Some(uid)
        })
    };
    let mut text = image.to_owned();
    let mut added = false;
    for e in add {
        if known(&e.name, e.uid) || text.lines().any(|l| l.starts_with(&format!("{}:", e.name))) {
            continue;
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text += &format!(
            "{}:*:{}:{}:{}:{}:/bin/sh\n",
            e.name, e.uid, e.gid, e.gecos, e.home
        );
        added = true;
    }
    added.then_some(text)
}

/// The image's /etc/group with a group `name` (gid, one member) appended
/// unless it has that name or gid (keep-id's, as Podman adds it).
pub fn group_text(image: Option<&str>, name: &str, gid: u32, member: &str) -> Option<String> {
    let image = image.unwrap_or("");
    let taken = image.lines().any(|l| {
        let mut f = l.split(':');
        f.next() == Some(name) || f.nth(1).and_then(|g| g.parse::<u32>().ok()) == Some(gid)
    });
    if taken {
        return None;
    }
    let mut text = image.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text += &format!("{name}:x:{gid}:{member}\n");
    Some(text)
}

/// Writes the account files that have something added; their paths, for
/// [`EtcFiles`]'s `passwd` and `group`.
pub fn write_accounts(
    dir: &Path,
    passwd: Option<String>,
    group: Option<String>,
) -> anyhow::Result<(Option<std::path::PathBuf>, Option<std::path::PathBuf>)> {
    let mut out = (None, None);
    for (text, name, slot) in [(passwd, "passwd", &mut out.0), (group, "group", &mut out.1)] {
        if let Some(text) = text {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            *slot = Some(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_added_once_and_only_when_missing() {
        let image = "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1::/:/bin/false";
        let me = PasswdEntry {
            name: "me".into(),
            uid: 1001,
            gid: 1001,
            gecos: String::new(),
            home: "/".into(),
        };
        let text = passwd_text(Some(image), &[me.clone(), me.clone()]).expect("added");
        assert!(
            text.ends_with("bin:x:1:1::/:/bin/false\nme:*:1001:1001::/:/bin/sh\n"),
            "{text}"
        );
        assert_eq!(text.matches("me:*").count(), 1);
        let root = PasswdEntry {
            name: "other".into(),
            uid: 0,
            ..me.clone()
        };
        assert_eq!(passwd_text(Some(image), &[root]), None, "uid 0 is there");
        assert_eq!(
            passwd_text(None, &[me]).as_deref(),
            Some("me:*:1001:1001::/:/bin/sh\n")
        );
        let g = group_text(Some("root:x:0:\n"), "me", 1001, "me").expect("added");
        assert_eq!(g, "root:x:0:\nme:x:1001:me\n");
        assert_eq!(
            group_text(Some("root:x:0:\nx:x:1001:\n"), "me", 1001, "me"),
            None
        );
    }

    fn opts() -> EtcOptions {
        EtcOptions {
            hostname: "box".into(),
            name: "web".into(),
            ..EtcOptions::default()
        }
    }

    #[test]
    fn hosts_has_localhost_added_hosts_hostname_and_host() {
        let mut o = opts();
        o.add_hosts = vec![(vec!["db".into(), "db2".into()], "10.1.1.1".parse().unwrap())];
        o.host_ip = Some("192.168.1.5".parse().unwrap());
        let t = hosts_text(&o);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "10.1.1.1\tdb db2");
        assert!(lines.contains(&LOCALHOST_V4));
        assert_eq!(
            lines[lines.len() - 2],
            "192.168.1.5\thost.containers.internal host.docker.internal"
        );
        assert_eq!(*lines.last().unwrap(), "127.0.1.1\tbox web");
    }

    #[test]
    fn hosts_keeps_image_base_without_duplicating_localhost() {
        let mut o = opts();
        o.image_hosts = Some("127.0.0.1 localhost\n10.9.9.9 extra\n".into());
        o.container_ips = vec!["10.88.0.2".parse().unwrap()];
        let t = hosts_text(&o);
        assert!(!t.contains(LOCALHOST_V4), "{t}");
        assert!(!t.contains(LOCALHOST_V6), "{t}");
        assert!(t.contains("10.9.9.9\textra\n"), "{t}");
        assert!(t.contains("10.88.0.2\tbox web\n"));
        assert!(!t.contains("127.0.1.1"));
    }

    #[test]
    fn the_address_replaces_the_placeholder_in_place() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &opts()).unwrap();
        let before = std::fs::metadata(dir.path().join("hosts")).unwrap();
        set_container_ip(dir.path(), "10.0.2.100".parse().unwrap()).unwrap();
        let t = std::fs::read_to_string(dir.path().join("hosts")).unwrap();
        assert!(t.contains("10.0.2.100\tbox web\n"), "{t}");
        assert!(!t.contains("127.0.1.1"), "{t}");
        use std::os::unix::fs::MetadataExt as _;
        let after = std::fs::metadata(dir.path().join("hosts")).unwrap();
        assert_eq!(before.ino(), after.ino());
    }

    #[test]
    fn resolv_drops_loopback_and_falls_back() {
        let mut o = opts();
        o.host_resolv = Some("nameserver 127.0.0.53\nsearch example.com\noptions edns0\n".into());
        let t = resolv_text(&o);
        assert_eq!(
            t,
            "search example.com\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0\n"
        );
        o.host_network = true;
        assert!(resolv_text(&o).contains("nameserver 127.0.0.53"));
        o.dns_servers = vec!["1.1.1.1".parse().unwrap()];
        o.dns_search = vec![".".into()];
        assert_eq!(resolv_text(&o), "nameserver 1.1.1.1\noptions edns0\n");
    }
}
