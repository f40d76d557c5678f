//! Container states and the transitions between them, as pure data: which
//! state a transition leads to and from which states it may start. The
//! database applies a transition only after this check, inside the same
//! write transaction that read the current state, so two processes racing
//! to start and remove the same container cannot both win.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

use super::recover::Monitor;

/// Podman's container states (libpod `define.ContainerStatus`), minus
/// `unknown` and `stopping`, which hutch never records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// Recorded, nothing in the runtime yet (`hutch create`).
    Configured,
    /// Created in the OCI runtime by its monitor, not started.
    Created,
    Running,
    Paused,
    /// Exit recorded, cleanup (unmount, network teardown) not done yet.
    Stopped,
    /// Exited and cleaned up.
    Exited,
    /// Removal under way; the row goes when it finishes.
    Removing,
}

impl ContainerState {
    pub const ALL: [ContainerState; 7] = [
        ContainerState::Configured,
        ContainerState::Created,
        ContainerState::Running,
        ContainerState::Paused,
        ContainerState::Stopped,
        ContainerState::Exited,
        ContainerState::Removing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Configured => "configured",
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Stopped => "stopped",
            ContainerState::Exited => "exited",
            ContainerState::Removing => "removing",
        }
    }

    pub fn parse(s: &str) -> Option<ContainerState> {
        ContainerState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// States in which a process of the container may exist.
    pub fn is_active(self) -> bool {
        matches!(self, ContainerState::Running | ContainerState::Paused)
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for ContainerState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ContainerState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        ContainerState::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown container state {s:?}").into()))
    }
}

/// One lifecycle step. Times are Unix nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The monitor created the container in the OCI runtime; recorded with
    /// the monitor's identity so a dead monitor can be told from a live one.
    Created {
        monitor: Monitor,
    },
    /// Like `Created`, for a restart-policy restart: counts it.
    Restarting {
        monitor: Monitor,
    },
    Started {
        pid: i32,
        started_at: i64,
    },
    Paused,
    Unpaused,
    /// The container process exited; cleanup still to do.
    Stopped {
        code: i32,
        at: i64,
        oom: bool,
    },
    /// The container process exited and nothing is left to clean up (or
    /// it never started: `Created` → `Exited` when `crun start` failed).
    Exited {
        code: i32,
        at: i64,
        oom: bool,
    },
    /// Cleanup after `Stopped` finished; the recorded exit stays.
    CleanedUp,
    Removing,
}

impl Transition {
    pub fn target(&self) -> ContainerState {
        match self {
            Transition::Created { .. } | Transition::Restarting { .. } => ContainerState::Created,
            Transition::Started { .. } | Transition::Unpaused => ContainerState::Running,
            Transition::Paused => ContainerState::Paused,
            Transition::Stopped { .. } => ContainerState::Stopped,
            Transition::Exited { .. } | Transition::CleanedUp => ContainerState::Exited,
            Transition::Removing => ContainerState::Removing,
        }
    }

    /// The states this transition may start from.
    pub fn allowed_from(&self) -> &'static [ContainerState] {
        use ContainerState::*;
        match self {
            // An exited container is started again by re-creating it in the
            // runtime, as Podman's init does for stopped/exited containers.
            Transition::Created { .. } => &[Configured, Stopped, Exited],
            Transition::Restarting { .. } => &[Stopped, Exited],
            Transition::Started { .. } => &[Created],
            Transition::Paused => &[Running],
            Transition::Unpaused => &[Paused],
            Transition::Stopped { .. } => &[Running, Paused],
            Transition::Exited { .. } => &[Created, Running, Paused, Stopped],
            Transition::CleanedUp => &[Stopped],
            // A running container is stopped first: removing it under a
            // live process would leak the process and its mounts.
            Transition::Removing => &[Configured, Created, Stopped, Exited],
        }
    }

    pub fn allowed(&self, from: ContainerState) -> bool {
        self.allowed_from().contains(&from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONITOR: Monitor = Monitor {
        pid: 1,
        start_time: 1,
    };

    #[test]
    fn state_names_round_trip() {
        for st in ContainerState::ALL {
            assert_eq!(ContainerState::parse(st.as_str()), Some(st));
        }
        assert_eq!(ContainerState::parse("stopping"), None);
    }

    #[test]
    fn lifecycle_path_is_legal() {
        use ContainerState::*;
        let steps = [
            (Configured, Transition::Created { monitor: MONITOR }),
            (
                Created,
                Transition::Started {
                    pid: 10,
                    started_at: 1,
                },
            ),
            (Running, Transition::Paused),
            (Paused, Transition::Unpaused),
            (
                Running,
                Transition::Stopped {
                    code: 0,
                    at: 2,
                    oom: false,
                },
            ),
            (Stopped, Transition::Restarting { monitor: MONITOR }),
            (
                Created,
                Transition::Started {
                    pid: 11,
                    started_at: 3,
                },
            ),
            (
                Running,
                Transition::Exited {
                    code: 1,
                    at: 4,
                    oom: false,
                },
            ),
            (Exited, Transition::Removing),
        ];
        for (from, t) in steps {
            assert!(t.allowed(from), "{t:?} from {from}");
        }
    }

    #[test]
    fn illegal_transitions_are_refused() {
        use ContainerState::*;
        assert!(!Transition::Created { monitor: MONITOR }.allowed(Running));
        assert!(
            !Transition::Started {
                pid: 1,
                started_at: 1
            }
            .allowed(Running)
        );
        assert!(!Transition::Paused.allowed(Exited));
        assert!(!Transition::Unpaused.allowed(Running));
        assert!(!Transition::Removing.allowed(Running));
        assert!(!Transition::Removing.allowed(Paused));
        assert!(!Transition::Removing.allowed(Removing));
        assert!(!Transition::CleanedUp.allowed(Running));
        // Nothing leaves `removing` but the row's deletion.
        let all = [
            Transition::Created { monitor: MONITOR },
            Transition::Restarting { monitor: MONITOR },
            Transition::Started {
                pid: 1,
                started_at: 1,
            },
            Transition::Paused,
            Transition::Unpaused,
            Transition::Stopped {
                code: 0,
                at: 0,
                oom: false,
            },
            Transition::Exited {
                code: 0,
                at: 0,
                oom: false,
            },
            Transition::CleanedUp,
            Transition::Removing,
        ];
        assert!(all.iter().all(|t| !t.allowed(Removing)));
    }
}
