//! `-p [ip:][hostport:]containerport[/tcp|udp]` and `-P`, checked against
//! the host before the container starts.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use crate::NetError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One published port range, as Podman's PortMapping: `range` consecutive
/// ports from `host_port` to `container_port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Empty: every address of the host.
    #[serde(default)]
    pub host_ip: String,
    /// 0 until the engine chose a free one.
    pub host_port: u16,
    pub container_port: u16,
    pub range: u16,
    pub protocol: Protocol,
}

impl PortMapping {
    /// Parses one `-p` value.
    pub fn parse(spec: &str) -> Result<PortMapping, NetError> {
        let bad = |why: &str| NetError::Port(spec.to_owned(), why.to_owned());
        let (body, protocol) = match spec.rsplit_once('/') {
            Some((b, "tcp")) => (b, Protocol::Tcp),
            Some((b, "udp")) => (b, Protocol::Udp),
            Some((_, p)) => return Err(bad(&format!("unsupported protocol {p:?}"))),
            None => (spec, Protocol::Tcp),
        };
        // An IPv6 host address is bracketed: [::1]:8080:80.
        let (host_ip, rest) = if let Some(r) = body.strip_prefix('[') {
            let (ip, rest) = r.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let rest = rest
                .strip_prefix(':')
                .ok_or_else(|| bad("an address must be followed by ':'"))?;
            (Some(ip), rest)
        } else {
            (None, body)
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, container) = match (host_ip, parts.as_slice()) {
            (None, [c]) => (None, None, *c),
            (None, [h, c]) => (None, Some(*h), *c),
            (None, [ip, h, c]) => (Some(*ip), Some(*h), *c),
            (Some(ip), [h, c]) => (Some(ip), Some(*h), *c),
            _ => return Err(bad("expected [ip:][hostport:]containerport")),
        };
        let host_ip = match ip {
            None | Some("") => String::new(),
            Some(ip) => ip
                .parse::<IpAddr>()
                .map_err(|_| bad(&format!("{ip:?} is not an IP address")))?
                .to_string(),
        };
        let (container_port, range) = port_range(container).map_err(|e| bad(&e))?;
        let host_port = match host.filter(|h| !h.is_empty()) {
            None => 0,
            Some(h) => {
                let (p, n) = port_range(h).map_err(|e| bad(&e))?;
                if n != range {
                    return Err(bad("host and container port ranges differ in length"));
                }
                p
            }
        };
        Ok(PortMapping {
            host_ip,
            host_port,
            container_port,
            range,
            protocol,
        })
    }

    /// `-P`: every EXPOSEd port ("80/tcp", "53/udp", "8080") to a random
    /// host port.
    pub fn exposed(expose: &str) -> Result<PortMapping, NetError> {
        let mut m = PortMapping::parse(expose)?;
        m.host_port = 0;
        Ok(m)
    }

    fn bind_addr(&self) -> IpAddr {
        self.host_ip
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// The lines of `hutch port`, as Podman: "80/tcp -> 0.0.0.0:8080".
    pub fn lines(&self) -> Vec<String> {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        (0..self.range)
            .map(|i| {
                format!(
                    "{}/{} -> {}:{}",
                    self.container_port + i,
                    self.protocol,
                    ip,
                    self.host_port + i
                )
            })
            .collect()
    }

    /// The PORTS column of `ps`, as Podman: "0.0.0.0:8080->80/tcp", a
    /// range as "0.0.0.0:8080-8081->80-81/tcp".
    pub fn ps_text(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        let span = |p: u16| match self.range {
            0 | 1 => p.to_string(),
            n => format!("{p}-{}", p.saturating_add(n - 1)),
        };
        format!(
            "{ip}:{}->{}/{}",
            span(self.host_port),
            span(self.container_port),
            self.protocol
        )
    }
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    let num = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("{p:?} is not a port number (1-65535)")),
            Ok(n) => Ok(n),
        }
    };
    match s.split_once('-') {
        None => Ok((num(s)?, 1)),
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(format!("range {s:?} ends before it starts"));
            }
            Ok((a, b - a + 1))
        }
    }
}

/// Holds a host port open so that nothing else takes it between the check
/// and the helper's own bind.
enum Probe {
    Tcp(#[allow(dead_code)] TcpListener),
    Udp(#[allow(dead_code)] UdpSocket),
}

fn probe(proto: Protocol, addr: IpAddr, port: u16) -> Result<Probe, NetError> {
    let sa = SocketAddr::new(addr, port);
    let r = match proto {
        Protocol::Tcp => TcpListener::bind(sa).map(Probe::Tcp),
        Protocol::Udp => UdpSocket::bind(sa).map(Probe::Udp),
    };
    r.map_err(|source| NetError::PortInUse {
        proto,
        addr: addr.to_string(),
        port,
        source,
    })
}

/// Chooses free host ports for mappings without one, and checks that every
/// given one is free: a port in use is an error before anything starts.
pub fn assign_and_check(ports: &mut [PortMapping]) -> Result<(), NetError> {
    let mut held = Vec::new();
    for i in 0..ports.len() {
        // Two mappings of the same host port would fail in the helper with
        // a less clear message.
        let p = &ports[i];
        if p.host_port != 0
            && ports[..i].iter().any(|q| {
                q.protocol == p.protocol
                    && q.host_port != 0
                    && q.host_port < p.host_port + p.range
                    && p.host_port < q.host_port + q.range
            })
        {
            return Err(NetError::Port(
                format!("{}", p.host_port),
                "the host port is published twice".into(),
            ));
        }
        let p = &mut ports[i];
        let addr = p.bind_addr();
        if p.host_port == 0 {
            let mut found = None;
            for _ in 0..32 {
                // The kernel's choice of an ephemeral port, then the rest of
                // the range after it.
                let first = probe(p.protocol, addr, 0)?;
                let port = match &first {
                    Probe::Tcp(l) => l.local_addr().map(|a| a.port()),
                    Probe::Udp(s) => s.local_addr().map(|a| a.port()),
                }
                .map_err(|e| NetError::io("reading a probed port", e))?;
                if u32::from(port) + u32::from(p.range) > 65536 {
                    continue;
                }
                let rest: Result<Vec<_>, _> = (1..p.range)
                    .map(|k| probe(p.protocol, addr, port + k))
                    .collect();
                if let Ok(rest) = rest {
                    held.push(first);
                    held.extend(rest);
                    found = Some(port);
                    break;
                }
            }
            p.host_port = found.ok_or_else(|| {
                NetError::Helper(format!("no {} free host ports in a row", p.range))
            })?;
        } else {
            for k in 0..p.range {
                held.push(probe(p.protocol, addr, p.host_port + k)?);
            }
        }
    }
    Ok(())
}

/// Checks again, at start, that the chosen host ports are still free.
pub fn check_free(ports: &[PortMapping]) -> Result<(), NetError> {
    let mut held = Vec::new();
    for p in ports {
        for k in 0..p.range {
            held.push(probe(p.protocol, p.bind_addr(), p.host_port + k)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ip: &str, host: u16, ctr: u16, range: u16, protocol: Protocol) -> PortMapping {
        PortMapping {
            host_ip: ip.into(),
            host_port: host,
            container_port: ctr,
            range,
            protocol,
        }
    }

    #[test]
    fn parses_podman_forms() {
        use Protocol::*;
        let cases = [
            ("80", m("", 0, 80, 1, Tcp)),
            ("8080:80", m("", 8080, 80, 1, Tcp)),
            ("8080:80/udp", m("", 8080, 80, 1, Udp)),
            ("127.0.0.1:8080:80", m("127.0.0.1", 8080, 80, 1, Tcp)),
            ("127.0.0.1::80/tcp", m("127.0.0.1", 0, 80, 1, Tcp)),
            ("[::1]:8080:80", m("::1", 8080, 80, 1, Tcp)),
            ("8000-8002:80-82", m("", 8000, 80, 3, Tcp)),
            ("80-81/udp", m("", 0, 80, 2, Udp)),
        ];
        for (spec, want) in cases {
            assert_eq!(PortMapping::parse(spec).unwrap(), want, "{spec}");
        }
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "",
            "0",
            "70000",
            "80/sctp",
            "a:80",
            "1.2.3:80:80",
            "8000-8001:80",
            "90-80",
            "1:2:3:4",
            "[::1:80:80",
        ] {
            assert!(PortMapping::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_as_podman_port() {
        let p = m("", 8080, 80, 2, Protocol::Tcp);
        assert_eq!(
            p.lines(),
            vec!["80/tcp -> 0.0.0.0:8080", "81/tcp -> 0.0.0.0:8081"]
        );
        let p = m("127.0.0.1", 5353, 53, 1, Protocol::Udp);
        assert_eq!(p.lines(), vec!["53/udp -> 127.0.0.1:5353"]);
    }

    #[test]
    fn used_port_is_an_error_and_random_ports_are_chosen() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let used = l.local_addr().unwrap().port();
        let mut ports = vec![m("127.0.0.1", used, 80, 1, Protocol::Tcp)];
        let e = assign_and_check(&mut ports).unwrap_err();
        assert!(matches!(e, NetError::PortInUse { port, .. } if port == used));
        let mut ports = vec![m("127.0.0.1", 0, 80, 3, Protocol::Udp)];
        assign_and_check(&mut ports).unwrap();
        assert_ne!(ports[0].host_port, 0);
        let mut twice = vec![
            m("", 9000, 80, 2, Protocol::Tcp),
            m("", 9001, 81, 1, Protocol::Tcp),
        ];
        assert!(assign_and_check(&mut twice).is_err());
    }
}
