//! `--sysctl` and containers.conf's `default_sysctls`: only kernel
//! parameters that live in a namespace of the container's own may be set
//! (Podman's list), and none in a namespace shared with the host. Defaults
//! that would touch a host namespace are left out, as Podman leaves them.

use std::collections::BTreeMap;

use crate::engine::{Error, Result};

/// IPC-namespaced parameters by exact name (Podman's `validSysctlMap`).
const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace a parameter belongs to; `None`: not namespaced.
fn namespace(key: &str) -> Option<&'static str> {
    if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        Some("IPC")
    } else if key.starts_with("net.") {
        Some("Network")
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some("UTS")
    } else {
        None
    }
}

/// Which of the container's namespaces are the host's.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostNamespaces {
    pub net: bool,
    pub ipc: bool,
    pub uts: bool,
    /// Whether containers.conf's `net.*` defaults can be written (false
    /// where the network namespace's owner is not the container's user
    /// namespace; an explicit `--sysctl` is still passed on).
    pub net_defaults: bool,
}

impl HostNamespaces {
    fn shares(&self, ns: &str) -> bool {
        match ns {
            "Network" => self.net,
            "IPC" => self.ipc,
            "UTS" => self.uts,
            _ => false,
        }
    }
}

/// The parameters to set: `defaults` (`KEY=VALUE` strings from
/// containers.conf) under the ones asked for; errors name the parameter as
/// Podman's do (exit 125).
pub fn resolve(
    defaults: &[String],
    asked: &BTreeMap<String, String>,
    host: HostNamespaces,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for d in defaults {
        let Some((k, v)) = d.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if namespace(k).is_some_and(|ns| !host.shares(ns) && (ns != "Network" || host.net_defaults))
        {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    for (k, v) in asked {
        let Some(ns) = namespace(k) else {
            return Err(Error::bad_input(format!("sysctl '{k}' is not allowed")));
        };
        if host.shares(ns) {
            return Err(Error::bad_input(format!(
                "sysctl {k}={v} can't be set since {ns} Namespace set to host: invalid argument"
            )));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_under_asked_and_host_namespaces_respected() {
        let defaults = vec!["net.ipv4.ping_group_range=0 0".to_owned()];
        let own = HostNamespaces {
            net_defaults: true,
            ..Default::default()
        };
        let got = resolve(&defaults, &asked(&[("kernel.msgmax", "9000")]), own).unwrap();
        assert_eq!(got["net.ipv4.ping_group_range"], "0 0");
        assert_eq!(got["kernel.msgmax"], "9000");
        assert!(
            resolve(&defaults, &BTreeMap::new(), HostNamespaces::default())
                .unwrap()
                .is_empty()
        );
        let host_net = HostNamespaces {
            net: true,
            net_defaults: true,
            ..Default::default()
        };
        assert!(
            resolve(&defaults, &BTreeMap::new(), host_net)
                .unwrap()
                .is_empty()
        );
        let e = resolve(&[], &asked(&[("net.ipv4.ip_forward", "1")]), host_net).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host: invalid argument"
        );
        let e = resolve(&[], &asked(&[("foo.bar", "1")]), HostNamespaces::default()).unwrap_err();
        assert_eq!(e.to_string(), "sysctl 'foo.bar' is not allowed");
    }
}
