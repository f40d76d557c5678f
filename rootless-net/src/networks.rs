//! User networks as records: one JSON file per network under
//! `<graphroot>/networks/NAME.json` (Podman's netavark layout), subnets
//! chosen from 10.89.0.0/16 so that none overlaps another network or a
//! route of the host. Containers join them through [`crate::usernet`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::NetError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: String,
    pub gateway: String,
}

/// One network, with Podman's JSON keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub network_interface: String,
    pub created: String,
    pub subnets: Vec<Subnet>,
    pub ipv6_enabled: bool,
    pub internal: bool,
    pub dns_enabled: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// An IPv4 network as (address, prefix length).
fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('/')?;
    let a: Ipv4Addr = a.parse().ok()?;
    let bits: u32 = b.parse().ok()?;
    (bits <= 32).then(|| {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        (u32::from(a) & mask, bits)
    })
}

fn overlaps((a, abits): (u32, u32), (b, bbits): (u32, u32)) -> bool {
    let bits = abits.min(bbits);
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    a & mask == b & mask
}

/// The host's IPv4 routes other than the default one, leaving out routes
/// through no device (`unreachable`, `blackhole`, `prohibit`: `*` as the
/// interface, or the RTF_REJECT flag): they say where packets must not go,
/// not a subnet in use, and a host with `unreachable 0.0.0.0/1` would
/// otherwise have no free subnet (Podman looks at interface addresses).
pub fn host_routes() -> Vec<(u32, u32)> {
    parse_routes(&std::fs::read_to_string("/proc/net/route").unwrap_or_default())
}

fn parse_routes(text: &str) -> Vec<(u32, u32)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            const RTF_REJECT: u32 = 0x0200;
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            if *f.first()? == "*" || flags & RTF_REJECT != 0 {
                return None;
            }
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // /proc/net/route prints addresses as little-endian words.
            let dest = u32::from_be_bytes(dest.to_le_bytes());
            let mask = u32::from_be_bytes(mask.to_le_bytes());
            (mask != 0).then(|| (dest & mask, mask.count_ones()))
        })
        .collect()
}

/// The first 10.89.N.0/24 clear of `taken`.
pub fn free_subnet(taken: &[(u32, u32)]) -> Option<Subnet> {
    (0u32..=255).find_map(|n| {
        let net = (u32::from(Ipv4Addr::new(10, 89, n as u8, 0)), 24);
        (!taken.iter().any(|t| overlaps(*t, net))).then(|| Subnet {
            subnet: format!("{}/24", Ipv4Addr::from(net.0)),
            gateway: Ipv4Addr::from(net.0 + 1).to_string(),
        })
    })
}

/// The name of the network that always exists, as Podman's default one
/// (`--network bridge` rootless joins it too).
pub const DEFAULT_NETWORK: &str = "podman";
/// Podman's fixed id for it, so scripts that match on it keep working.
pub const DEFAULT_NETWORK_ID: &str =
    "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";

/// The default network as Podman 4 describes it: 10.88.0.0/16, no name
/// resolution between its containers (Podman's `dns_enabled: false`).
pub fn default_network(created: String) -> Network {
    Network {
        name: DEFAULT_NETWORK.into(),
        id: DEFAULT_NETWORK_ID.into(),
        driver: "bridge".into(),
        network_interface: "podman0".into(),
        created,
        subnets: vec![Subnet {
            subnet: "10.88.0.0/16".into(),
            gateway: "10.88.0.1".into(),
        }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        labels: BTreeMap::new(),
    }
}

/// The records of one user.
pub struct NetworkStore {
    dir: PathBuf,
    /// `Some(created)`: list the default network, which has no file (its
    /// creation time is the time of asking, as Podman reports it).
    default: Option<String>,
}

impl NetworkStore {
    pub fn new(dir: PathBuf) -> NetworkStore {
        NetworkStore { dir, default: None }
    }

    /// The store with Podman's default network `podman` among its networks.
    pub fn with_default(mut self, created: String) -> NetworkStore {
        self.default = Some(created);
        self
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub fn list(&self) -> Result<Vec<Network>, NetError> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => Some(e),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(NetError::io(format!("reading {}", self.dir.display()), e)),
        };
        for e in entries.into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json")
                && let Ok(bytes) = std::fs::read(&p)
                && let Ok(n) = serde_json::from_slice::<Network>(&bytes)
            {
                out.push(n);
            }
        }
        if let Some(created) = &self.default
            && !out.iter().any(|n| n.name == DEFAULT_NETWORK)
        {
            out.push(default_network(created.clone()));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// By name, full id or unique id prefix.
    pub fn get(&self, query: &str) -> Result<Network, NetError> {
        let all = self.list()?;
        if let Some(n) = all.iter().find(|n| n.name == query || n.id == query) {
            return Ok(n.clone());
        }
        let matches: Vec<&Network> = all.iter().filter(|n| n.id.starts_with(query)).collect();
        match matches.as_slice() {
            [one] if !query.is_empty() => Ok((*one).clone()),
            [] | [_] => Err(NetError::NoSuchNetwork(query.to_owned())),
            _ => Err(NetError::Helper(format!(
                "more than one network matches {query}"
            ))),
        }
    }

    /// Adds a network; `subnet` None picks a free one.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &self,
        name: &str,
        id: String,
        created: String,
        subnet: Option<&str>,
        gateway: Option<&str>,
        internal: bool,
        labels: BTreeMap<String, String>,
    ) -> Result<Network, NetError> {
        let all = self.list()?;
        if all.iter().any(|n| n.name == name) {
            return Err(NetError::Helper(format!(
                "network name {name} already used: network already exists"
            )));
        }
        let mut taken = host_routes();
        for n in &all {
            taken.extend(n.subnets.iter().filter_map(|s| parse_cidr(&s.subnet)));
        }
        let subnet = match subnet {
            Some(s) => {
                let net = parse_cidr(s)
                    .filter(|(_, bits)| *bits < 31)
                    .ok_or_else(|| NetError::Mode(s.into(), "not an IPv4 subnet".into()))?;
                if taken.iter().any(|t| overlaps(*t, net)) {
                    return Err(NetError::Helper(format!(
                        "subnet {s} is already used on the host or by another network"
                    )));
                }
                let gw = match gateway {
                    Some(g) => g.to_owned(),
                    None => Ipv4Addr::from(net.0 + 1).to_string(),
                };
                Subnet {
                    subnet: format!("{}/{}", Ipv4Addr::from(net.0), net.1),
                    gateway: gw,
                }
            }
            None => free_subnet(&taken)
                .ok_or_else(|| NetError::Helper("no free subnet in 10.89.0.0/16".into()))?,
        };
        let n = Network {
            name: name.to_owned(),
            id,
            driver: "bridge".into(),
            // The bridge in the rootless netns: the first hutchN no other
            // network has (Podman's podmanN).
            network_interface: (0..)
                .map(|i| format!("hutch{i}"))
                .find(|b| !all.iter().any(|n| &n.network_interface == b))
                .unwrap_or_default(),
            created,
            subnets: vec![subnet],
            ipv6_enabled: false,
            internal,
            dns_enabled: true,
            labels,
        };
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| NetError::io(format!("creating {}", self.dir.display()), e))?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(&n).unwrap_or_default())
            .and_then(|_| std::fs::rename(&tmp, self.path(name)))
            .map_err(|e| NetError::io(format!("writing network {name}"), e))?;
        Ok(n)
    }

    pub fn remove(&self, name: &str) -> Result<(), NetError> {
        if name == DEFAULT_NETWORK && self.default.is_some() && !self.path(name).exists() {
            return Err(NetError::Helper(format!(
                "default network {DEFAULT_NETWORK} cannot be removed"
            )));
        }
        std::fs::remove_file(self.path(name))
            .map_err(|e| NetError::io(format!("removing network {name}"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_from_proc() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
*\t00000000\t00000000\t0201\t0\t0\t0\t00000080\t0\t0\t0\n\
*\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n";
        let r = parse_routes(text);
        assert_eq!(r, vec![(u32::from(Ipv4Addr::new(192, 0, 2, 0)), 24)]);
    }

    #[test]
    fn subnets_avoid_routes_and_other_networks() {
        let taken = vec![
            parse_cidr("10.89.0.0/24").unwrap(),
            parse_cidr("10.89.1.128/25").unwrap(),
        ];
        assert_eq!(free_subnet(&taken).unwrap().subnet, "10.89.2.0/24");
        assert_eq!(free_subnet(&taken).unwrap().gateway, "10.89.2.1");
        let all = vec![parse_cidr("10.0.0.0/8").unwrap()];
        assert!(free_subnet(&all).is_none());
    }

    #[test]
    fn store_creates_lists_refuses_duplicates_and_clashes() {
        let dir = std::env::temp_dir().join(format!("hutch-nets-{}", std::process::id()));
        let s = NetworkStore::new(dir.clone());
        let a = s
            .create(
                "a",
                "aa11".into(),
                "now".into(),
                None,
                None,
                false,
                BTreeMap::new(),
            )
            .unwrap();
        let b = s
            .create(
                "b",
                "bb22".into(),
                "now".into(),
                None,
                None,
                false,
                BTreeMap::new(),
            )
            .unwrap();
        assert_ne!(a.subnets[0].subnet, b.subnets[0].subnet);
        assert!(
            s.create(
                "a",
                "x".into(),
                "now".into(),
                None,
                None,
                false,
                BTreeMap::new()
            )
            .is_err()
        );
        assert!(
            s.create(
                "c",
                "x".into(),
                "now".into(),
                Some(&a.subnets[0].subnet),
                None,
                false,
                BTreeMap::new()
            )
            .is_err()
        );
        assert_eq!(s.get("bb").unwrap().name, "b");
        assert_eq!(s.list().unwrap().len(), 2);
        s.remove("a").unwrap();
        assert!(s.get("a").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
