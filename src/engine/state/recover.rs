//! Recovery after a crash: a container whose monitor died (`kill -9`, OOM
//! killer, reboot without a clean shutdown) still reads `running` in the
//! database, and a removal whose process died leaves a `removing` row.
//! [`State::recover`] finds both. It marks the first kind exited with code
//! -1 ("exited (unknown)", as Podman shows it) and reports both, because
//! the work the dead process did not do (runtime delete, unmount, network
//! teardown, deleting the row) is I/O that belongs to the caller.
//!
//! A monitor is identified by PID and start time, so a PID reused by an
//! unrelated process after a reboot does not pass for the monitor.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::container::{self, Container};
use super::{ContainerState, State, StateError};

/// A monitor process as recorded with a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    pub pid: i32,
    /// Clock ticks after boot at which it started (`/proc/PID/stat`
    /// field 22).
    pub start_time: i64,
}

impl Monitor {
    /// The calling process, for a monitor to record itself.
    pub fn current() -> Option<Monitor> {
        Monitor::of(i32::try_from(std::process::id()).ok()?)
    }

    /// Process `pid` as it is now; `None` if there is no such live process.
    pub fn of(pid: i32) -> Option<Monitor> {
        Some(Monitor {
            pid,
            start_time: process_start_time(pid)?,
        })
    }

    pub fn is_alive(&self) -> bool {
        process_start_time(self.pid) == Some(self.start_time)
    }
}

/// The start time of process `pid` in clock ticks after boot, or `None` if
/// it does not exist or is a zombie (dead, only not reaped yet).
pub fn process_start_time(pid: i32) -> Option<i64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself contain
    // spaces and parentheses: fields are counted after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    if matches!(state, "Z" | "X" | "x") {
        return None;
    }
    // Field 3 was the state; field 22 is 19 further on.
    fields.nth(18)?.parse().ok()
}

fn monitor_alive(c: &Container) -> bool {
    match (c.monitor_pid, c.monitor_start_time) {
        (Some(pid), Some(start_time)) => Monitor { pid, start_time }.is_alive(),
        (Some(pid), None) => process_start_time(pid).is_some(),
        // Nothing was ever recorded as watching it.
        (None, _) => false,
    }
}

/// What [`State::recover`] found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Containers now marked exited (code -1, or the code already recorded
    /// if the exit had been seen): the caller still runs the cleanup the
    /// monitor never did, which must be safe to repeat.
    pub exited: Vec<Container>,
    /// Containers whose removal a dead process left half done: the caller
    /// finishes it, under the container lock.
    pub unfinished_removals: Vec<Container>,
}

impl State {
    /// Finds containers that a dead process left in an active state. One
    /// that another process holds the lifecycle lock of is left alone: that
    /// process is working on it and will record the outcome.
    pub fn recover(&self) -> Result<Recovery, StateError> {
        let op = "recovering containers";
        let candidates = container::select(
            &self.conn,
            "WHERE state IN ('created', 'running', 'paused', 'stopped', 'removing')",
            [],
        )
        .map_err(StateError::sql(op))?;
        // /proc is read and locks are taken before the write transaction, so
        // the transaction itself does no I/O beyond SQLite's.
        let mut dead = Vec::new();
        let mut locks = Vec::new();
        for c in candidates {
            if monitor_alive(&c) {
                continue;
            }
            let Some(lock) = self.try_lock_container(&c.id)? else {
                continue;
            };
            locks.push(lock);
            dead.push(c);
        }
        if dead.is_empty() {
            return Ok(Recovery::default());
        }
        let now = crate::host::time::now_ns();
        let report = self.write(op, |tx| {
            let mut report = Recovery::default();
            for c in dead {
                if c.state == ContainerState::Removing {
                    report.unfinished_removals.push(c);
                    continue;
                }
                // Conditional on the row being as it was read: a monitor
                // that recorded its exit in the meantime was alive after
                // all, and its record wins.
                let n = tx
                    .execute(
                        "UPDATE containers SET state = 'exited', pid = NULL, \
                         exit_code = CASE WHEN state = 'stopped' THEN exit_code ELSE -1 END, \
                         exited_at = CASE WHEN state = 'stopped' THEN exited_at ELSE ?3 END \
                         WHERE id = ?1 AND state = ?2 AND monitor_pid IS ?4",
                        params![c.id, c.state, now, c.monitor_pid],
                    )
                    .map_err(StateError::sql(op))?;
                if n == 1
                    && let Some(updated) =
                        container::by_id(tx, &c.id).map_err(StateError::sql(op))?
                {
                    tracing::debug!(container = %c.id, was = %c.state, "monitor gone, marked exited");
                    report.exited.push(updated);
                }
            }
            Ok(report)
        })?;
        drop(locks);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Transition;
    use super::super::tests::{id, new_container, temp_state};
    use super::*;

    /// A monitor that existed and is now dead: a child that was killed and
    /// reaped.
    fn dead_monitor() -> Monitor {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let monitor = Monitor::of(pid).expect("child visible in /proc");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!monitor.is_alive());
        monitor
    }

    fn running(state: &State, cid: &str, name: &str, monitor: Monitor) {
        state
            .create_container(&new_container(cid, Some(name)))
            .unwrap();
        state
            .update_state(cid, Transition::Created { monitor })
            .unwrap();
        state
            .update_state(
                cid,
                Transition::Started {
                    pid: monitor.pid,
                    started_at: 1,
                },
            )
            .unwrap();
    }

    #[test]
    fn start_time_of_self() {
        let me = Monitor::current().unwrap();
        assert!(me.is_alive());
        assert!(
            !Monitor {
                start_time: me.start_time + 1,
                ..me
            }
            .is_alive()
        );
        assert_eq!(process_start_time(0), None);
        assert_eq!(process_start_time(-5), None);
    }

    #[test]
    fn dead_monitor_means_exited_unknown() {
        let (_dir, state) = temp_state();
        let dead = dead_monitor();
        let alive = Monitor::current().unwrap();

        let gone = id("a", 1);
        running(&state, &gone, "gone", dead);
        let fine = id("b", 2);
        running(&state, &fine, "fine", alive);
        let busy = id("c", 3);
        running(&state, &busy, "busy", dead);
        let _busy_lock = state.lock_container(&busy).unwrap();
        let half_removed = id("d", 4);
        state
            .create_container(&new_container(&half_removed, Some("half")))
            .unwrap();
        state
            .update_state(&half_removed, Transition::Removing)
            .unwrap();
        let idle = id("e", 5);
        state
            .create_container(&new_container(&idle, Some("idle")))
            .unwrap();

        let report = state.recover().unwrap();
        assert_eq!(report.exited.len(), 1);
        let c = &report.exited[0];
        assert_eq!(c.id, gone);
        assert_eq!(
            (c.state, c.exit_code, c.pid),
            (ContainerState::Exited, Some(-1), None)
        );
        assert!(c.exited_at.is_some());
        assert_eq!(state.container(&gone).unwrap(), *c);
        assert_eq!(
            report
                .unfinished_removals
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            vec![half_removed.as_str()]
        );
        assert_eq!(
            state.container(&fine).unwrap().state,
            ContainerState::Running
        );
        assert_eq!(
            state.container(&busy).unwrap().state,
            ContainerState::Running
        );
        assert_eq!(
            state.container(&idle).unwrap().state,
            ContainerState::Configured
        );

        // Nothing more to do the second time.
        let again = state.recover().unwrap();
        assert!(again.exited.is_empty());
    }

    #[test]
    fn recorded_exit_survives_recovery() {
        let (_dir, state) = temp_state();
        let cid = id("a", 1);
        running(&state, &cid, "c", dead_monitor());
        state
            .update_state(
                &cid,
                Transition::Stopped {
                    code: 3,
                    at: 42,
                    oom: false,
                },
            )
            .unwrap();
        let report = state.recover().unwrap();
        let c = &report.exited[0];
        assert_eq!(
            (c.state, c.exit_code, c.exited_at),
            (ContainerState::Exited, Some(3), Some(42))
        );
    }
}
