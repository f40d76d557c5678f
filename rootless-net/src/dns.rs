//! hutch's own name server for user networks (aardvark-dns's job in
//! Podman 4, which Debian 12 does not package): it listens on port 53 of
//! the rootless network namespace, so every bridge's gateway answers,
//! resolves the names, aliases and short ids of the containers on the
//! querying container's network, and forwards every other question to the
//! upstream resolver (slirp4netns's built-in one).
//!
//! The wire format is parsed by hand: one question of type A or AAAA is all
//! a container's stub resolver asks; anything else goes upstream as is.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::usernet::{Endpoint, Records};

/// The search domain written into containers' resolv.conf (Podman's).
pub const SEARCH_DOMAIN: &str = "dns.podman";

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TTL: u32 = 60;

/// One question: lower-cased name without the trailing dot, its type, and
/// where the question section ends in the packet.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub end: usize,
}

/// Parses the (single) question of a query; `None` for anything else.
pub fn parse_query(pkt: &[u8]) -> Option<Question> {
    if pkt.len() < 12 {
        return None;
    }
    let flags = u16::from_be_bytes([pkt[2], pkt[3]]);
    let qdcount = u16::from_be_bytes([pkt[4], pkt[5]]);
    // A query (QR=0) with a standard opcode and exactly one question.
    if flags & 0x8000 != 0 || (flags >> 11) & 0xf != 0 || qdcount != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = *pkt.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        // Compression pointers never appear in a question we accept.
        if len & 0xc0 != 0 {
            return None;
        }
        let label = pkt.get(i..i + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*pkt.get(i)?, *pkt.get(i + 1)?]);
    let qclass = u16::from_be_bytes([*pkt.get(i + 2)?, *pkt.get(i + 3)?]);
    if qclass != 1 {
        return None;
    }
    Some(Question {
        name: labels.join("."),
        qtype,
        end: i + 4,
    })
}

/// The answer to `q` (raw query `pkt`) with these addresses: the question
/// echoed, one A record per address (none for other types: "this name
/// exists, without that kind of address").
pub fn response(pkt: &[u8], q: &Question, addrs: &[Ipv4Addr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.end + 16 * addrs.len());
    out.extend_from_slice(&pkt[..2]);
    // QR, AA, the query's RD, RA; NOERROR.
    let rd = pkt[2] & 0x01;
    out.push(0x84 | rd);
    out.push(0x80);
    let answers: &[Ipv4Addr] = if q.qtype == TYPE_A { addrs } else { &[] };
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&pkt[12..q.end]);
    for a in answers {
        // A pointer to the question's name at offset 12.
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&a.octets());
    }
    out
}

/// The addresses `name` has on the network of the container at `from`:
/// container names, `--network-alias` aliases and ids (12 characters at
/// least), with or without the search domain. Empty: not ours.
pub fn lookup(records: &Records, from: Ipv4Addr, name: &str) -> Vec<Ipv4Addr> {
    let Some(network) = network_of(&records.endpoints, from) else {
        return Vec::new();
    };
    // The default network has no name resolution (Podman's dns_enabled
    // false): its containers ask the host's servers through forwarding.
    if network == crate::networks::DEFAULT_NETWORK {
        return Vec::new();
    }
    let short = name
        .strip_suffix(SEARCH_DOMAIN)
        .and_then(|n| n.strip_suffix('.'))
        .unwrap_or(name);
    let mut out = Vec::new();
    for e in records.endpoints.iter().filter(|e| e.network == network) {
        let hit = [name, short].iter().any(|n| {
            e.name.eq_ignore_ascii_case(n)
                || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(n))
                || (n.len() >= 12 && e.id.starts_with(*n))
        });
        if hit
            && let Ok(ip) = e.ip.parse::<Ipv4Addr>()
            && !out.contains(&ip)
        {
            out.push(ip);
        }
    }
    out
}

/// The network a querying address belongs to: the endpoint with that
/// address, else the network whose subnet holds it.
fn network_of(endpoints: &[Endpoint], from: Ipv4Addr) -> Option<String> {
    let ip = from.to_string();
    if let Some(e) = endpoints.iter().find(|e| e.ip == ip) {
        return Some(e.network.clone());
    }
    endpoints
        .iter()
        .find(|e| {
            e.gateway.parse::<Ipv4Addr>().is_ok_and(|gw| {
                let mask = if e.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - e.prefix.min(32))
                };
                u32::from(gw) & mask == u32::from(from) & mask
            })
        })
        .map(|e| e.network.clone())
}

/// Serves forever on `sock` (bound in the rootless namespace). The
/// records file is read on each question, so answers follow containers
/// joining and leaving without signalling this process.
pub fn serve(sock: UdpSocket, records: PathBuf, upstream: SocketAddr) {
    let mut buf = [0u8; 4096];
    loop {
        let (n, src) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!("dns: receiving: {e}");
                continue;
            }
        };
        let pkt = &buf[..n];
        if let Some(q) = parse_query(pkt)
            && (q.qtype == TYPE_A || q.qtype == TYPE_AAAA)
            && let std::net::IpAddr::V4(from) = src.ip()
        {
            let recs = read_records(&records);
            let addrs = lookup(&recs, from, &q.name);
            if !addrs.is_empty() {
                let _ = sock.send_to(&response(pkt, &q, &addrs), src);
                continue;
            }
        }
        // Not ours: ask upstream on a thread, so a slow upstream does not
        // hold the containers' own names.
        let Ok(reply_sock) = sock.try_clone() else {
            continue;
        };
        let query = pkt.to_vec();
        std::thread::spawn(move || {
            if let Some(answer) = forward(&query, upstream) {
                let _ = reply_sock.send_to(&answer, src);
            }
        });
    }
}

fn read_records(path: &Path) -> Records {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn forward(query: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.send_to(query, upstream).ok()?;
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = s.recv_from(&mut buf).ok()?;
        // Only the upstream's answer to this very question.
        if from == upstream && n >= 2 && buf[..2] == query[..2] {
            buf.truncate(n);
            return Some(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            p.push(l.len() as u8);
            p.extend_from_slice(l.as_bytes());
        }
        p.push(0);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p
    }

    fn ep(id: &str, name: &str, net: &str, ip: &str, aliases: &[&str]) -> Endpoint {
        Endpoint {
            id: id.into(),
            name: name.into(),
            network: net.into(),
            ip: ip.into(),
            gateway: format!("{}.1", ip.rsplit_once('.').unwrap().0),
            prefix: 24,
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            ..Endpoint::default()
        }
    }

    #[test]
    fn parses_and_answers_a_question() {
        let q = query("Web.dns.podman", TYPE_A);
        let parsed = parse_query(&q).unwrap();
        assert_eq!(parsed.name, "web.dns.podman");
        assert_eq!(parsed.qtype, TYPE_A);
        assert_eq!(parsed.end, q.len());
        let r = response(&q, &parsed, &[Ipv4Addr::new(10, 89, 0, 2)]);
        assert_eq!(&r[..2], &[0x12, 0x34]);
        assert_eq!(r[2] & 0x80, 0x80, "a response");
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1, "one answer");
        assert_eq!(&r[r.len() - 4..], &[10, 89, 0, 2]);
        let aaaa = query("web", TYPE_AAAA);
        let p = parse_query(&aaaa).unwrap();
        let r = response(&aaaa, &p, &[Ipv4Addr::new(10, 89, 0, 2)]);
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 0);
        // A response is not a question.
        let mut resp = q.clone();
        resp[2] |= 0x80;
        assert!(parse_query(&resp).is_none());
        assert!(parse_query(&q[..10]).is_none());
    }

    #[test]
    fn names_are_scoped_to_the_querying_network() {
        let recs = Records {
            endpoints: vec![
                ep("aaaaaaaaaaaa1111", "web", "n1", "10.89.0.2", &["www"]),
                ep("bbbbbbbbbbbb2222", "client", "n1", "10.89.0.3", &[]),
                ep("cccccccccccc3333", "other", "n2", "10.89.1.2", &[]),
            ],
            ..Records::default()
        };
        let me = Ipv4Addr::new(10, 89, 0, 3);
        let web = vec![Ipv4Addr::new(10, 89, 0, 2)];
        assert_eq!(lookup(&recs, me, "web"), web);
        assert_eq!(lookup(&recs, me, "www.dns.podman"), web);
        assert_eq!(lookup(&recs, me, "aaaaaaaaaaaa"), web);
        assert!(lookup(&recs, me, "other").is_empty());
        assert!(lookup(&recs, me, "example.com").is_empty());
        let there = Ipv4Addr::new(10, 89, 1, 9);
        assert!(lookup(&recs, there, "web").is_empty());
        assert_eq!(
            lookup(&recs, there, "other"),
            vec![Ipv4Addr::new(10, 89, 1, 2)]
        );
    }
}
