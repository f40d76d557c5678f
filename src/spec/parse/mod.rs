//! The flag parsers: text as a user types it (`-v ./src:/src:ro`,
//! `--ulimit nofile=1024`, `--restart on-failure:3`) into the typed values
//! of [`ContainerSpec`](super::ContainerSpec). One function per flag, each
//! the only place that flag is parsed; the CLI calls them, the REST API
//! will call the few whose text its bodies carry. Pure: nothing here looks
//! at the host, the process's environment or its working directory (a
//! caller passes those in), so every rule is unit-tested.
//!
//! Error wording is Podman's where scripts may match on it.

pub mod device;
pub mod env;
pub mod health;
pub mod hosts;
pub mod log;
pub mod mount;
pub mod name;
pub mod restart;
pub mod rootfs;
pub use rootfs::rootfs;
pub mod security;
pub mod setup;
pub mod ulimit;
pub mod userns;

use anyhow::bail;
use hutch_rootless_net::{DnsConfig, NetworkMode, PortMapping};

use crate::runtime::spec::caps;
use crate::spec::NetworkSpec;

/// Checks `--cap-add`/`--cap-drop` as the spec generator will merge them
/// (unknown names, a capability both added and dropped).
pub fn capabilities(add: &[String], drop: &[String]) -> anyhow::Result<()> {
    let all: Vec<String> = caps::ALL_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    let default_caps: Vec<String> = caps::DEFAULT_CAPABILITIES
        .iter()
        .map(|c| c.to_string())
        .collect();
    caps::merge(&default_caps, add, drop, &all)?;
    Ok(())
}

/// The network flags of `create`/`run`, as given.
#[derive(Debug, Clone, Default)]
pub struct NetworkFlags<'a> {
    pub mode: Option<&'a str>,
    pub publish: &'a [String],
    pub publish_all: bool,
    pub dns: DnsConfig,
    pub aliases: &'a [String],
}

/// `--mac-address` (and the API's `static_mac`): an Ethernet address in the forms Go's ParseMAC takes
/// for six bytes (`aa:bb:…`, `aa-bb-…`, `aabb.ccdd.eeff`), as Podman
/// prints it back (lowercase, colons). The longer EUI-64 and InfiniBand
/// forms ParseMAC also takes cannot be an Ethernet interface's.
pub fn mac_address(m: &str) -> anyhow::Result<String> {
    let hex: Option<Vec<&str>> = if m.len() == 14 && m.matches('.').count() == 2 {
        Some(
            m.split('.')
                .flat_map(|g| [g.get(..2), g.get(2..)])
                .collect::<Option<Vec<&str>>>()
                .unwrap_or_default(),
        )
    } else if m.len() == 17 {
        let sep = if m.contains(':') { ':' } else { '-' };
        Some(m.split(sep).collect())
    } else {
        None
    };
    match hex {
        Some(parts)
            if parts.len() == 6
                && parts
                    .iter()
                    .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit())) =>
        {
            Ok(parts.join(":").to_ascii_lowercase())
        }
        _ => anyhow::bail!("address {m}: invalid MAC address"),
    }
}

/// `--network` (with `a,b` joining several user networks), `-p`, `-P`,
/// `--dns*`, `--network-alias`.
pub fn network(f: &NetworkFlags<'_>) -> anyhow::Result<NetworkSpec> {
    // The default mode is the engine's (containers.conf, pasta): kept as
    // `None` here, for the empty and the default spellings alike.
    let default = NetworkMode::None;
    let mut connected = Vec::new();
    let mut aliases = f.aliases.to_vec();
    let mode = match f.mode {
        None | Some("" | "private" | "default") => None,
        Some(m) if user_network_options(m).is_some() => {
            let (name, more) = user_network(m)?;
            aliases.extend(more);
            Some(NetworkMode::Network { name })
        }
        Some(m) => match NetworkMode::parse(m, &default)? {
            NetworkMode::Network { name } if name.contains(',') => {
                let mut names = name.split(',').filter(|n| !n.is_empty());
                let first = names.next().unwrap_or_default().to_owned();
                for n in names {
                    if NetworkMode::parse(n, &default)? != (NetworkMode::Network { name: n.into() })
                    {
                        bail!("--network {name}: only user networks can be combined");
                    }
                    connected.push(n.to_owned());
                }
                Some(NetworkMode::Network { name: first })
            }
            m => Some(m),
        },
    };
    let ports: Vec<PortMapping> = f
        .publish
        .iter()
        .map(|p| PortMapping::parse(p))
        .collect::<Result<_, _>>()?;
    Ok(NetworkSpec {
        mode,
        connected,
        ports,
        publish_all: f.publish_all,
        dns: f.dns.clone(),
        aliases,
        ..NetworkSpec::default()
    })
}

/// The modes whose `NAME:OPTIONS` spelling is not a user network's.
const MODES_WITH_OPTIONS: [&str; 11] = [
    "",
    "private",
    "default",
    "none",
    "host",
    "pasta",
    "slirp4netns",
    "container",
    "ns",
    "bridge",
    "cni",
];

/// `NAME:OPTIONS` of a user network (Podman's `--network net:alias=a`), or
/// None for any other spelling.
fn user_network_options(value: &str) -> Option<(&str, &str)> {
    value
        .split_once(':')
        .filter(|(name, _)| !MODES_WITH_OPTIONS.contains(name))
}

/// One user network with Podman's per-network options: its name and the
/// aliases `alias=` gives. hutch's aliases hold on every network the
/// container joins, so they are pooled with `--network-alias`; `ip=`,
/// `ip6=`, `mac=` and `interface_name=` are refused (user networks hand out
/// addresses themselves and name interfaces eth0, eth1...).
pub fn user_network(value: &str) -> anyhow::Result<(String, Vec<String>)> {
    let Some((name, options)) = user_network_options(value) else {
        if value.contains(',')
            || NetworkMode::parse(value, &NetworkMode::None)?
                != (NetworkMode::Network { name: value.into() })
        {
            bail!("--network {value}: only user networks can be given more than once");
        }
        return Ok((value.to_owned(), Vec::new()));
    };
    if name.contains(',') {
        bail!("--network {value}: options go with one network (--network NAME:alias=A)");
    }
    let mut aliases = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o.split_once('=') {
            Some(("alias", a)) if !a.is_empty() => aliases.push(a.to_owned()),
            Some(("ip" | "ip6" | "mac" | "interface_name", _)) => bail!(
                "--network {value}: {o:?} is not supported: hutch's user networks choose addresses and interface names themselves"
            ),
            _ => bail!("--network {value}: unknown network option {o:?}"),
        }
    }
    Ok((name.to_owned(), aliases))
}

/// `--network` given more than once: each further value joins one more
/// user network (Podman's repeated flag, as podman-compose writes it).
pub fn more_networks(spec: &mut NetworkSpec, values: &[String]) -> anyhow::Result<()> {
    if values.is_empty() {
        return Ok(());
    }
    if !matches!(spec.mode, Some(NetworkMode::Network { .. })) {
        bail!("--network given more than once: only user networks can be combined");
    }
    for v in values {
        let (name, aliases) = user_network(v)?;
        spec.connected.push(name);
        spec.aliases.extend(aliases);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(mode: &str) -> NetworkFlags<'_> {
        NetworkFlags {
            mode: Some(mode),
            ..NetworkFlags::default()
        }
    }

    #[test]
    fn user_network_options_give_aliases() {
        let n = network(&flags("proj_default:alias=db,alias=database")).expect("parse");
        assert_eq!(
            n.mode,
            Some(NetworkMode::Network {
                name: "proj_default".into()
            })
        );
        assert_eq!(n.aliases, ["db", "database"]);
        assert!(network(&flags("net:ip=10.89.0.5")).is_err());
        assert!(network(&flags("net:bogus=1")).is_err());
        assert!(network(&flags("a,b:alias=x")).is_err());
        // Other modes keep their own option syntax.
        assert!(matches!(
            network(&flags("pasta:--map-gw")).expect("pasta").mode,
            Some(NetworkMode::Pasta { .. })
        ));
    }

    #[test]
    fn repeated_network_flags_join_user_networks() {
        let mut n = network(&flags("front:alias=web")).expect("parse");
        more_networks(&mut n, &["back:alias=api".into(), "extra".into()]).expect("more");
        assert_eq!(n.connected, ["back", "extra"]);
        assert_eq!(n.aliases, ["web", "api"]);
        let mut host = network(&flags("host")).expect("host");
        assert!(more_networks(&mut host, &["back".into()]).is_err());
        let mut n = network(&flags("front")).expect("parse");
        assert!(more_networks(&mut n, &["pasta".into()]).is_err());
    }
}
