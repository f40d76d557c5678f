//! `--network` values, parsed as Podman reads them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::NetError;

/// How a container is networked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum NetworkMode {
    /// A private namespace with only loopback.
    #[default]
    None,
    /// The host's (rootless: the user's) network namespace.
    Host,
    /// pasta attached to a private namespace; `options` are pasta's own
    /// (`pasta:--map-gw,-T,8000`), plus Podman's pseudo option `--map-gw`.
    Pasta { options: Vec<String> },
    /// slirp4netns attached to a private namespace; `options` are Podman's
    /// `key=value` (allow_host_loopback, cidr, enable_ipv6, mtu,
    /// outbound_addr, outbound_addr6, port_handler).
    Slirp4netns { options: Vec<String> },
    /// `container:ID`: the namespace of another container.
    Container { id: String },
    /// `ns:PATH`: an existing namespace file.
    Ns { path: PathBuf },
    /// A user network by name.
    Network { name: String },
}

impl NetworkMode {
    /// Parses a `--network` value; `default` is what an empty value or
    /// `private` means (pasta where installed).
    pub fn parse(value: &str, default: &NetworkMode) -> Result<NetworkMode, NetError> {
        let bad = |why: &str| NetError::Mode(value.to_owned(), why.to_owned());
        let (name, rest) = match value.split_once(':') {
            Some((n, r)) => (n, Some(r)),
            None => (value, None),
        };
        let list = |r: Option<&str>| -> Vec<String> {
            r.map(|r| {
                r.split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
        };
        Ok(match name {
            "" | "private" | "default" if rest.is_none() => default.clone(),
            "none" if rest.is_none() => NetworkMode::None,
            "host" if rest.is_none() => NetworkMode::Host,
            "pasta" => NetworkMode::Pasta {
                options: list(rest),
            },
            "slirp4netns" => {
                let options = list(rest);
                for o in &options {
                    let (k, v) = o.split_once('=').ok_or_else(|| {
                        bad(&format!("slirp4netns option {o:?} is not key=value"))
                    })?;
                    match k {
                        "allow_host_loopback" | "enable_ipv6" if v == "true" || v == "false" => {}
                        "cidr" | "mtu" | "outbound_addr" | "outbound_addr6" => {}
                        "port_handler" if v == "slirp4netns" => {}
                        "port_handler" => {
                            return Err(bad(
                                "port_handler: only slirp4netns is available (rootlessport is Podman's own)",
                            ));
                        }
                        _ => return Err(bad(&format!("unknown slirp4netns option {o:?}"))),
                    }
                }
                NetworkMode::Slirp4netns { options }
            }
            "container" => match rest {
                Some(id) if !id.is_empty() => NetworkMode::Container { id: id.to_owned() },
                _ => return Err(bad("container: needs a container name or id")),
            },
            "ns" => match rest {
                Some(p) if p.starts_with('/') => NetworkMode::Ns {
                    path: PathBuf::from(p),
                },
                _ => return Err(bad("ns: needs an absolute path")),
            },
            // Podman 4 rootless puts `bridge` containers on its default
            // network in the rootless netns: hutch's user networks are that.
            "bridge" if rest.is_none() => NetworkMode::Network {
                name: crate::networks::DEFAULT_NETWORK.into(),
            },
            "bridge" => return Err(bad("bridge options are not supported rootless")),
            _ if rest.is_some() => return Err(bad("unknown network mode")),
            _ => NetworkMode::Network {
                name: value.to_owned(),
            },
        })
    }

    /// The name `inspect` and `info` use.
    pub fn name(&self) -> String {
        match self {
            NetworkMode::None => "none".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::Pasta { .. } => "pasta".into(),
            NetworkMode::Slirp4netns { .. } => "slirp4netns".into(),
            NetworkMode::Container { id } => format!("container:{id}"),
            NetworkMode::Ns { path } => format!("ns:{}", path.display()),
            NetworkMode::Network { name } => name.clone(),
        }
    }

    /// Whether ports can be published in this mode.
    pub fn can_publish(&self) -> bool {
        matches!(
            self,
            NetworkMode::Pasta { .. }
                | NetworkMode::Slirp4netns { .. }
                | NetworkMode::Network { .. }
        )
    }

    /// The value of a slirp4netns option.
    pub fn slirp_option(&self, key: &str) -> Option<&str> {
        match self {
            NetworkMode::Slirp4netns { options } => options
                .iter()
                .filter_map(|o| o.split_once('='))
                .rev()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// The default rootless mode: containers.conf's `default_rootless_network_cmd`
/// when given, else pasta where installed, else slirp4netns, as Podman 5.
pub fn default_mode(configured: Option<&str>) -> NetworkMode {
    match configured {
        Some("slirp4netns") => NetworkMode::Slirp4netns {
            options: Vec::new(),
        },
        Some("pasta") => NetworkMode::Pasta {
            options: Vec::new(),
        },
        _ if find_binary("pasta").is_some() => NetworkMode::Pasta {
            options: Vec::new(),
        },
        _ if find_binary("slirp4netns").is_some() => NetworkMode::Slirp4netns {
            options: Vec::new(),
        },
        _ => NetworkMode::None,
    }
}

/// A program in PATH (or the usual system dirs when PATH is unset).
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/libexec/podman"),
        ])
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pasta() -> NetworkMode {
        NetworkMode::Pasta { options: vec![] }
    }

    #[test]
    fn parses_podman_modes() {
        let d = pasta();
        assert_eq!(NetworkMode::parse("none", &d).unwrap(), NetworkMode::None);
        assert_eq!(NetworkMode::parse("host", &d).unwrap(), NetworkMode::Host);
        assert_eq!(NetworkMode::parse("private", &d).unwrap(), d);
        assert_eq!(
            NetworkMode::parse("pasta:--map-gw,-T,8000", &d).unwrap(),
            NetworkMode::Pasta {
                options: vec!["--map-gw".into(), "-T".into(), "8000".into()]
            }
        );
        let s = NetworkMode::parse("slirp4netns:allow_host_loopback=true", &d).unwrap();
        assert_eq!(s.slirp_option("allow_host_loopback"), Some("true"));
        assert_eq!(
            NetworkMode::parse("container:web", &d).unwrap(),
            NetworkMode::Container { id: "web".into() }
        );
        assert_eq!(
            NetworkMode::parse("ns:/run/netns/x", &d).unwrap(),
            NetworkMode::Ns {
                path: "/run/netns/x".into()
            }
        );
        assert_eq!(
            NetworkMode::parse("mynet", &d).unwrap(),
            NetworkMode::Network {
                name: "mynet".into()
            }
        );
    }

    #[test]
    fn rejects_bad_modes() {
        let d = pasta();
        for bad in [
            "ns:relative",
            "container:",
            "slirp4netns:nokey",
            "slirp4netns:bogus=1",
            "slirp4netns:port_handler=rootlessport",
            "bridge:ip=10.88.0.5",
            "what:ever",
            "none:x",
        ] {
            assert!(NetworkMode::parse(bad, &d).is_err(), "{bad}");
        }
    }
}
