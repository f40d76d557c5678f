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

/// `--network` (with `a,b` joining several user networks), `-p`, `-P`,
/// `--dns*`, `--network-alias`.
pub fn network(f: &NetworkFlags<'_>) -> anyhow::Result<NetworkSpec> {
    // The default mode is the engine's (containers.conf, pasta): kept as
    // `None` here, for the empty and the default spellings alike.
    let default = NetworkMode::None;
    let mut connected = Vec::new();
    let mode = match f.mode {
        None | Some("" | "private" | "default") => None,
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
        aliases: f.aliases.to_vec(),
    })
}
