//! Rootless networking for hutch: a network namespace per container held by
//! a bind mount under the runtime dir, pasta or slirp4netns attached to it,
//! published ports, and the container's resolv.conf.
//!
//! What it does not do: decide anything from flags of the command line (the
//! CLI parses, the engine resolves container names), or touch the state
//! database. Processes it starts are children of the caller (the container
//! monitor) and die with it.
//!
//! Public API: [`NetworkMode`], [`PortMapping`], [`NetworkPlan`],
//! [`netns`] (create/remove), [`Helper`] (start/stop pasta or slirp4netns),
//! [`resolv::generate`].

pub mod dns;
pub mod helper;
pub mod mode;
pub mod netns;
pub mod networks;
pub mod pasta;
pub mod ports;
pub mod resolv;
pub mod slirp;
pub mod usernet;

pub use helper::{Helper, HelperRecord, NetPaths};
pub use mode::NetworkMode;
pub use ports::{PortMapping, Protocol};
pub use resolv::DnsConfig;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Errors of this crate; each names what failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid network mode {0:?}: {1}")]
    Mode(String, String),
    #[error("invalid port specification {0:?}: {1}")]
    Port(String, String),
    #[error("port {proto} {addr}:{port} is already in use on the host: {source}")]
    PortInUse {
        proto: Protocol,
        addr: String,
        port: u16,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Helper(String),
    /// No network by that name or id (a front end's "not found").
    #[error("unable to find network with name or ID {0}: network not found")]
    NoSuchNetwork(String),
    /// A static address (`--ip`, `--ip6`) outside the network or in use.
    #[error("{0}")]
    Address(String),
}

impl NetError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> NetError {
        NetError::Io {
            what: what.into(),
            source,
        }
    }
}

/// What the engine decided at create time, stored beside the container's
/// spec (userdata/network.json) for the monitor and `hutch port`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkPlan {
    pub mode: NetworkMode,
    /// Host ports already chosen (random ones included).
    pub ports: Vec<PortMapping>,
    /// The bind-mounted namespace file, for modes where hutch creates it.
    pub netns: Option<PathBuf>,
    /// `--network-alias`: more names on user networks.
    pub aliases: Vec<String>,
    /// User networks besides the mode's (`--network a,b`, `network
    /// connect`).
    pub connected: Vec<Attachment>,
    /// `--network-cmd-path`: the pasta or slirp4netns executable to run
    /// instead of the one found in $PATH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helper_path: Option<PathBuf>,
    /// `--ip`, `--ip6`, `--mac-address`: asked for on the mode's network.
    pub static_ip: Option<std::net::IpAddr>,
    pub static_ip6: Option<std::net::IpAddr>,
    pub static_mac: Option<String>,
}

/// A user network a container is on, with its aliases there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    pub name: String,
    pub aliases: Vec<String>,
    /// A static address or MAC asked for on this network.
    pub ip: Option<std::net::IpAddr>,
    pub ip6: Option<std::net::IpAddr>,
    pub mac: Option<String>,
}

impl NetworkPlan {
    /// Every user network of the container, the mode's first.
    pub fn user_networks(&self) -> Vec<Attachment> {
        let mut out = Vec::new();
        if let NetworkMode::Network { name } = &self.mode {
            out.push(Attachment {
                name: name.clone(),
                aliases: self.aliases.clone(),
                ip: self.static_ip,
                ip6: self.static_ip6,
                mac: self.static_mac.clone(),
            });
        }
        out.extend(self.connected.iter().cloned());
        out
    }

    /// Whether the monitor must create a namespace and attach a helper.
    pub fn needs_helper(&self) -> bool {
        // User networks have no helper of their own: see `usernet`.
        matches!(
            self.mode,
            NetworkMode::Pasta { .. } | NetworkMode::Slirp4netns { .. }
        )
    }
}
