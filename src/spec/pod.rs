//! A pod's settings as asked for (`pod create`'s flags, later `kube play`):
//! plain data stored with the pod, read by the engine when the pod's infra
//! container is made and when containers join the pod.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AddHost, NetworkSpec, Userns};

/// Namespaces a pod's containers can share with its infra container.
pub const SHAREABLE: [&str; 5] = ["cgroup", "ipc", "net", "pid", "uts"];

/// Podman's default `--share`.
pub const DEFAULT_SHARE: [&str; 4] = ["cgroup", "ipc", "net", "uts"];

/// `--exit-policy`: what the pod does when its last container (other than
/// infra) exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitPolicy {
    #[default]
    Continue,
    /// The infra container is stopped too, so the pod shows as exited.
    Stop,
}

impl ExitPolicy {
    pub fn parse(s: &str) -> anyhow::Result<ExitPolicy> {
        match s {
            "continue" => Ok(ExitPolicy::Continue),
            "stop" => Ok(ExitPolicy::Stop),
            _ => anyhow::bail!("invalid pod exit policy: {s:?}: invalid argument"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExitPolicy::Continue => "continue",
            ExitPolicy::Stop => "stop",
        }
    }
}

/// What a pod was asked to be, stored in its row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodConfig {
    pub labels: BTreeMap<String, String>,
    /// Whether the pod has an infra container (`--infra`, default true).
    pub infra: bool,
    /// `--infra-image`; `None`: hutch's pause image, built locally.
    pub infra_image: Option<String>,
    /// `--infra-command`; `None`: the image's (`/catatonit -P`).
    pub infra_command: Option<Vec<String>>,
    /// `--infra-name`; `None`: the first 12 digits of the pod id, `-infra`.
    pub infra_name: Option<String>,
    /// The namespaces shared with the infra container, from
    /// [`SHAREABLE`].
    pub share: Vec<String>,
    pub exit_policy: ExitPolicy,
    /// `--hostname`; `None`: the pod's name, as Podman does.
    pub hostname: Option<String>,
    /// The infra container's network: mode, published ports, DNS, aliases.
    pub network: NetworkSpec,
    pub add_hosts: Vec<AddHost>,
    pub userns: Userns,
    /// The command line that created the pod (`CreateCommand`).
    pub create_command: Vec<String>,
    /// `--infra-conmon-pidfile`: where each start of the infra container
    /// writes its monitor's pid (a Quadlet `.pod` service's `PIDFile=`).
    pub infra_monitor_pidfile: Option<std::path::PathBuf>,
    /// The pod's limits (`--cpus`, `--memory`) and `--cgroup-parent`,
    /// applied to the pod's cgroup.
    pub resources: super::ResourceRequest,
    /// The pod's cgroup as made at create; `None`: the host gives none
    /// (each container keeps its own, or none).
    pub cgroup: Option<crate::cgroups::pod::PodCgroup>,
    /// `pod create -v`: given to the infra container and to every
    /// container that joins the pod (where it mounts nothing at the same
    /// destination), as Podman does.
    pub mounts: Vec<super::Mount>,
    /// `pod create --shm-size`: the infra container's /dev/shm, which the
    /// pod's containers share with the IPC namespace.
    pub shm_size: Option<u64>,
    /// `pod create --sysctl`: set in the infra container.
    pub sysctls: BTreeMap<String, String>,
    /// `pod create --device`: given to the infra container and to every
    /// container that joins the pod, as Podman does.
    pub devices: Vec<super::DeviceRequest>,
    /// `pod create --security-opt`: the infra container's.
    pub security: super::SecurityOpts,
    /// `pod create --no-hosts`: the infra container (whose /etc/hosts the
    /// containers sharing its network use) gets none.
    pub no_hosts: bool,
    /// `pod create --pid`/`--uts`: the infra container's namespaces.
    pub namespaces: super::Namespaces,
    /// `pod create --volumes-from`: given to the infra container and to
    /// every container that joins the pod.
    pub volumes_from: Vec<String>,
    /// `pod create --share-parent` (default true): the pod's cgroup is the
    /// parent of its containers' cgroups.
    pub share_parent: Option<bool>,
}

impl PodConfig {
    /// Whether containers of this pod share namespace `ns` with the infra
    /// container.
    pub fn shares(&self, ns: &str) -> bool {
        self.infra && self.share.iter().any(|s| s == ns)
    }
}

/// Checks a `--share` list: names from [`SHAREABLE`], `none` alone, or a
/// leading `+` that adds to the default set (Podman 4.3).
pub fn parse_share(value: &str) -> anyhow::Result<Vec<String>> {
    let (mut out, list) = match value.strip_prefix('+') {
        Some(rest) => (DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(), rest),
        None => (Vec::new(), value),
    };
    if list == "none" || list.is_empty() {
        return Ok(out);
    }
    for ns in list.split(',') {
        if !SHAREABLE.contains(&ns) {
            anyhow::bail!(
                "invalid kernel namespace to share: {ns}. Options are: cgroup, ipc, net, pid, uts or none"
            );
        }
        if !out.iter().any(|s| s == ns) {
            out.push(ns.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_lists_parse_as_podman_reads_them() {
        assert_eq!(parse_share("net,ipc").unwrap(), ["net", "ipc"]);
        assert_eq!(parse_share("none").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_share("+pid").unwrap(),
            ["cgroup", "ipc", "net", "uts", "pid"]
        );
        assert!(parse_share("mnt").is_err());
    }

    #[test]
    fn exit_policies_parse() {
        assert_eq!(ExitPolicy::parse("stop").unwrap(), ExitPolicy::Stop);
        assert!(ExitPolicy::parse("halt").is_err());
    }
}
