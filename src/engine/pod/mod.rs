//! Pods (libpod's role): a group of containers that share namespaces
//! with one infra container (network, IPC and UTS by default, as
//! Podman's `--share`), and are started, stopped and removed together.
//!
//! One file per operation; every one resolves the pod here, then acts on
//! its containers through the container operations. The pod's settings
//! ([`PodConfig`]) are stored as JSON in its row; its containers are the
//! container rows that carry its id. Where the host delegates cgroups the
//! pod has one (`cgroups::pod`) holding its containers' and the pod's
//! limits.

pub mod clone;
pub mod create;
pub mod infra_image;
pub mod inspect;
pub mod lifecycle;
pub mod list;
pub mod remove;
pub mod stats;
pub mod systemd_unit;
pub mod top;

use crate::engine::state::{Container, ContainerState, PodRow, State};
use crate::engine::{Error, Result};
pub use crate::spec::pod::{DEFAULT_SHARE, ExitPolicy, PodConfig, SHAREABLE, parse_share};

/// A pod: its row and its configuration.
#[derive(Debug, Clone)]
pub struct Pod {
    pub id: String,
    pub name: String,
    pub created: i64,
    pub infra_id: Option<String>,
    pub config: PodConfig,
}

impl Pod {
    fn from_row(row: PodRow) -> Result<Pod> {
        let config: PodConfig = serde_json::from_str(&row.config).map_err(|e| {
            Error::internal(format!("the stored configuration of pod {}: {e}", row.id))
        })?;
        Ok(Pod {
            id: row.id,
            name: row.name,
            created: row.created,
            infra_id: row.infra_id,
            config,
        })
    }

    /// The pod's containers, oldest first (the infra container first).
    pub fn containers(&self, state: &State) -> Result<Vec<Container>> {
        Ok(state.pod_containers(&self.id)?)
    }

    /// Whether `c` is this pod's infra container.
    pub fn is_infra(&self, c: &Container) -> bool {
        self.infra_id.as_deref() == Some(c.id.as_str())
    }
}

/// Records a pod event (`create`, `start`, `stop`, `kill`, `pause`,
/// `unpause`, `remove`), as Podman's event log has them; a failure to
/// record is logged, not the operation's.
pub fn record(state: &State, id: &str, name: &str, action: &str) {
    let event = crate::engine::state::Event {
        id: 0,
        time: crate::host::time::now_ns(),
        kind: crate::engine::state::EventType::Pod,
        action: action.to_owned(),
        actor_id: id.to_owned(),
        actor_name: name.to_owned(),
        attributes: [("name".to_owned(), name.to_owned())].into_iter().collect(),
    };
    if let Err(e) = state.append_event(&event) {
        tracing::warn!(pod = %id, action, "recording event: {e}");
    }
}

/// The pod `query` names (id, name or unique id prefix).
pub fn lookup(state: &State, query: &str) -> Result<Pod> {
    Pod::from_row(state.pod(query)?)
}

/// Every pod, oldest first.
pub fn all(state: &State) -> Result<Vec<Pod>> {
    state.list_pods()?.into_iter().map(Pod::from_row).collect()
}

/// Podman's pod status from its containers' states
/// (libpod's `createPodStatusResults`).
pub fn status(containers: &[Container]) -> &'static str {
    let total = containers.len();
    if total == 0 {
        return "Created";
    }
    let count =
        |f: &dyn Fn(ContainerState) -> bool| containers.iter().filter(|c| f(c.state)).count();
    let running = count(&|s| s == ContainerState::Running);
    let paused = count(&|s| s == ContainerState::Paused);
    let stopped = count(&|s| s == ContainerState::Stopped);
    let exited = count(&|s| s == ContainerState::Exited);
    let created = count(&|s| matches!(s, ContainerState::Created | ContainerState::Configured));
    match () {
        _ if running == total => "Running",
        _ if running > 0 => "Degraded",
        _ if paused == total => "Paused",
        _ if stopped == total => "Stopped",
        _ if exited == total => "Exited",
        _ if created == total => "Created",
        _ if stopped > 0 => "Stopped",
        _ if exited > 0 => "Exited",
        _ if paused > 0 => "Degraded",
        _ => "Error",
    }
}
