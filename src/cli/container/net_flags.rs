//! The network flags of `create` and `run` (turned into the spec's
//! network part by `CreateFlags::spec`).

use hutch_rootless_net::DnsConfig;

use crate::spec::NetworkSpec;
use crate::spec::parse;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct NetworkFlags {
    /// Connect the container to a network: pasta[:OPTIONS], slirp4netns[:OPTIONS], none, host, container:ID, ns:PATH, or user networks NAME[,NAME...]
    // Repeatable: each further value joins one more user network, with
    // Podman's per-network options (`NAME:alias=A`).
    #[arg(long = "network", visible_alias = "net", value_name = "MODE")]
    pub network: Vec<String>,
    /// Publish a container's port to the host ([ip:][hostport:]containerport[/tcp|udp])
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Publish every exposed port of the image to random host ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Set a custom DNS server
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// Set a custom DNS search domain ("." for none)
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set a custom DNS option
    #[arg(long = "dns-option", visible_alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a network-scoped alias for the container (user networks)
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
}

impl NetworkFlags {
    /// The spec's network part. The first `--network` value is the mode;
    /// each further one joins one more user network.
    pub fn spec(&self) -> anyhow::Result<NetworkSpec> {
        let mut spec = parse::network(&parse::NetworkFlags {
            mode: self.network.first().map(String::as_str),
            publish: &self.publish,
            publish_all: self.publish_all,
            dns: DnsConfig {
                servers: self.dns.clone(),
                search: self.dns_search.clone(),
                options: self.dns_option.clone(),
            },
            aliases: &self.network_alias,
        })?;
        parse::more_networks(&mut spec, self.network.get(1..).unwrap_or_default())?;
        Ok(spec)
    }
}
