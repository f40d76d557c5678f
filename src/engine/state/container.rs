//! Container rows: create (with the container's volume links, in one
//! transaction), lookup by ID, name or unique ID prefix in Podman's order,
//! listing, renaming, state transitions and removal.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::names::{self, check_id};
use super::transition::{ContainerState, Transition};
use super::volume::{self, Volume};
use super::{State, StateError};
use crate::spec::ContainerSpec;

/// What `create_container` records.
#[derive(Debug, Clone)]
pub struct NewContainer {
    /// 64 lowercase hex digits.
    pub id: String,
    /// `None`: a generated `adjective_surname` name.
    pub name: Option<String>,
    pub image_id: String,
    pub image_name: String,
    /// Unix nanoseconds.
    pub created: i64,
    /// The container spec, stored as JSON with its schema version.
    pub spec: ContainerSpec,
    pub pod_id: Option<String>,
    /// OCI runtime name or path (`crun`).
    pub runtime: String,
    /// Existing named volumes the container mounts.
    pub volumes: Vec<String>,
    /// Volumes created with the container (anonymous `-v /path` ones), in
    /// the same transaction, so a crash cannot leave one without the other.
    pub new_volumes: Vec<Volume>,
}

/// A container row. Times are Unix nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub image_name: String,
    pub created: i64,
    pub state: ContainerState,
    /// The container's init process while running or paused.
    pub pid: Option<i32>,
    /// -1 when the exit was not observed ("exited (unknown)").
    pub exit_code: Option<i32>,
    pub exited_at: Option<i64>,
    pub started_at: Option<i64>,
    pub oom_killed: bool,
    pub restart_count: u32,
    /// What the container was asked to be (the `config` column).
    pub spec: ContainerSpec,
    pub pod_id: Option<String>,
    pub health: Option<String>,
    pub runtime: String,
    pub monitor_pid: Option<i32>,
    /// The monitor's start time in clock ticks after boot
    /// (`/proc/PID/stat` field 22), which tells it from a reused PID.
    pub monitor_start_time: Option<i64>,
}

const COLUMNS: &str = "id, name, image_id, image_name, created, state, pid, exit_code, \
    exited_at, started_at, oom_killed, restart_count, config, pod_id, health, runtime, \
    monitor_pid, monitor_start_time";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Container> {
    Ok(Container {
        id: row.get(0)?,
        name: row.get(1)?,
        image_id: row.get(2)?,
        image_name: row.get(3)?,
        created: row.get(4)?,
        state: row.get(5)?,
        pid: row.get(6)?,
        exit_code: row.get(7)?,
        exited_at: row.get(8)?,
        started_at: row.get(9)?,
        oom_killed: row.get(10)?,
        restart_count: row.get(11)?,
        spec: spec_column(row, 12)?,
        pod_id: row.get(13)?,
        health: row.get(14)?,
        runtime: row.get(15)?,
        monitor_pid: row.get(16)?,
        monitor_start_time: row.get(17)?,
    })
}

/// The stored spec; a row a migration could not convert is an error, not a
/// default (a default would start a different container).
fn spec_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<ContainerSpec> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The ID of the container holding `name`, if any.
fn name_holder(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT id FROM containers WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()
}

pub(super) fn by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<Container>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM containers WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

pub(super) fn select(
    conn: &Connection,
    where_clause: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Container>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM containers {where_clause} ORDER BY created, id"
    ))?
    .query_map(params, from_row)?
    .collect()
}

impl State {
    /// Records a new container in state `configured`, with its volume
    /// links, and returns the row (with the generated name, if one was
    /// asked for).
    pub fn create_container(&self, new: &NewContainer) -> Result<Container, StateError> {
        check_id("container", &new.id)?;
        if let Some(name) = &new.name {
            names::validate("container", name)?;
        }
        for v in &new.new_volumes {
            names::validate("volume", &v.name)?;
        }
        let op = "creating container";
        let config = serde_json::to_string(&new.spec).map_err(|source| StateError::Json {
            what: "the container spec",
            source,
        })?;
        self.write(op, |tx| {
            if by_id(tx, &new.id).map_err(StateError::sql(op))?.is_some() {
                return Err(StateError::IdInUse { id: new.id.clone() });
            }
            let name = match &new.name {
                Some(name) => {
                    if let Some(id) = name_holder(tx, name).map_err(StateError::sql(op))? {
                        return Err(StateError::NameInUse {
                            name: name.clone(),
                            id,
                        });
                    }
                    name.clone()
                }
                // Under the write lock, a name found free stays free until
                // the insert below.
                None => names::generate_free(|candidate| {
                    Ok(name_holder(tx, candidate)
                        .map_err(StateError::sql(op))?
                        .is_none())
                })?,
            };
            tx.prepare_cached(
                "INSERT INTO containers (id, name, image_id, image_name, created, state, \
                 config, pod_id, runtime) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    new.id,
                    name,
                    new.image_id,
                    new.image_name,
                    new.created,
                    ContainerState::Configured,
                    config,
                    new.pod_id,
                    new.runtime,
                ])
            })
            .map_err(StateError::sql(op))?;
            for v in &new.new_volumes {
                volume::insert(tx, v)?;
            }
            let linked = new
                .volumes
                .iter()
                .chain(new.new_volumes.iter().map(|v| &v.name));
            for name in linked {
                volume::link(tx, &new.id, name)?;
            }
            by_id(tx, &new.id)
                .map_err(StateError::sql(op))?
                .ok_or_else(|| StateError::NoSuchContainer {
                    query: new.id.clone(),
                })
        })
    }

    /// Refuses a name another container holds, as `create_container`
    /// will: create checks it first, before it binds ports or makes
    /// files, so a taken name reads as Podman's "already in use" (125)
    /// whatever else would fail later.
    pub fn check_name_free(&self, name: &str) -> Result<(), StateError> {
        match name_holder(&self.conn, name).map_err(StateError::sql("looking up container"))? {
            Some(id) => Err(StateError::NameInUse {
                name: name.to_owned(),
                id,
            }),
            None => Ok(()),
        }
    }

    /// Finds a container by exact ID, exact name, or unique ID prefix, in
    /// that order (Podman's): a name that happens to be hex still means
    /// that container rather than the start of another one's ID.
    pub fn container(&self, query: &str) -> Result<Container, StateError> {
        let not_found = || StateError::NoSuchContainer {
            query: query.to_string(),
        };
        if query.is_empty() {
            return Err(not_found());
        }
        // GLOB rather than LIKE: case-sensitive, so it can use the primary
        // key index. Only hex input is tried as a prefix, which also keeps
        // glob metacharacters out of the pattern.
        let prefix = (query.len() <= 64
            && query
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| format!("{query}*"));
        let rows = select(
            &self.conn,
            "WHERE id = ?1 OR name = ?1 OR id GLOB ?2",
            params![query, prefix],
        )
        .map_err(StateError::sql("looking up container"))?;
        if let Some(c) = rows.iter().find(|c| c.id == query) {
            return Ok(c.clone());
        }
        if let Some(c) = rows.iter().find(|c| c.name == query) {
            return Ok(c.clone());
        }
        match rows.len() {
            0 => Err(not_found()),
            1 => Ok(rows.into_iter().next().ok_or_else(not_found)?),
            _ => Err(StateError::AmbiguousContainer {
                query: query.to_string(),
                matches: rows.into_iter().map(|c| c.id).collect(),
            }),
        }
    }

    /// All containers (`ps -a`), or only running ones (`ps`, which in
    /// Podman leaves paused containers out too), oldest first.
    pub fn list_containers(&self, all: bool) -> Result<Vec<Container>, StateError> {
        let filter = if all { "" } else { "WHERE state = 'running'" };
        select(&self.conn, filter, []).map_err(StateError::sql("listing containers"))
    }

    /// Every container's id alone: what `recover` compares the store's
    /// container directories with, on every call, without decoding specs.
    pub fn container_ids(&self) -> Result<Vec<String>, StateError> {
        self.conn
            .prepare_cached("SELECT id FROM containers")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(StateError::sql("listing container ids"))
    }

    /// The names of the volumes container `id` mounts.
    pub fn container_volumes(&self, id: &str) -> Result<Vec<String>, StateError> {
        let op = "listing container volumes";
        self.conn
            .prepare_cached(
                "SELECT volume FROM container_volumes WHERE container_id = ?1 ORDER BY volume",
            )
            .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
            .map_err(StateError::sql(op))
    }

    /// Applies `transition` to container `id` (a full ID) if its current
    /// state allows it, and returns the updated row.
    pub fn update_state(&self, id: &str, transition: Transition) -> Result<Container, StateError> {
        let op = "updating container state";
        self.write(op, |tx| {
            let current = by_id(tx, id).map_err(StateError::sql(op))?.ok_or_else(|| {
                StateError::NoSuchContainer {
                    query: id.to_string(),
                }
            })?;
            if !transition.allowed(current.state) {
                return Err(StateError::IllegalTransition {
                    id: id.to_string(),
                    from: current.state,
                    to: transition.target(),
                });
            }
            let to = transition.target();
            let n = match &transition {
                Transition::Created { monitor } | Transition::Restarting { monitor } => {
                    let bump = i64::from(matches!(transition, Transition::Restarting { .. }));
                    tx.execute(
                        "UPDATE containers SET state = ?2, pid = NULL, monitor_pid = ?3, \
                         monitor_start_time = ?4, restart_count = restart_count + ?5 \
                         WHERE id = ?1",
                        params![id, to, monitor.pid, monitor.start_time, bump],
                    )
                }
                Transition::Started { pid, started_at } => tx.execute(
                    "UPDATE containers SET state = ?2, pid = ?3, started_at = ?4, \
                     exit_code = NULL, oom_killed = 0 WHERE id = ?1",
                    params![id, to, pid, started_at],
                ),
                Transition::Stopped { code, at, oom } | Transition::Exited { code, at, oom } => tx
                    .execute(
                        "UPDATE containers SET state = ?2, pid = NULL, exit_code = ?3, \
                         exited_at = ?4, oom_killed = ?5 WHERE id = ?1",
                        params![id, to, code, at, oom],
                    ),
                Transition::Paused
                | Transition::Unpaused
                | Transition::CleanedUp
                | Transition::Removing => tx.execute(
                    "UPDATE containers SET state = ?2 WHERE id = ?1",
                    params![id, to],
                ),
            }
            .map_err(StateError::sql(op))?;
            debug_assert_eq!(n, 1);
            by_id(tx, id)
                .map_err(StateError::sql(op))?
                .ok_or_else(|| StateError::NoSuchContainer {
                    query: id.to_string(),
                })
        })
    }

    /// Records the health check status (`starting`, `healthy`,
    /// `unhealthy`), or clears it.
    pub fn set_health(&self, id: &str, health: Option<&str>) -> Result<(), StateError> {
        let op = "recording container health";
        let n = self
            .conn
            .execute(
                "UPDATE containers SET health = ?2 WHERE id = ?1",
                params![id, health],
            )
            .map_err(StateError::sql(op))?;
        if n == 0 {
            return Err(StateError::NoSuchContainer {
                query: id.to_string(),
            });
        }
        Ok(())
    }

    /// Replaces the stored spec of container `id` (a full ID): `update`'s
    /// merged limits.
    pub fn set_spec(&self, id: &str, spec: &ContainerSpec) -> Result<(), StateError> {
        let op = "recording the container spec";
        let text = serde_json::to_string(spec).map_err(|source| StateError::Json {
            what: "the container spec",
            source,
        })?;
        let n = self
            .conn
            .execute(
                "UPDATE containers SET config = ?2 WHERE id = ?1",
                params![id, text],
            )
            .map_err(StateError::sql(op))?;
        if n == 0 {
            return Err(StateError::NoSuchContainer {
                query: id.to_string(),
            });
        }
        Ok(())
    }

    /// Sets the OCI runtime of container `id` (a full ID): `system migrate
    /// --new-runtime`.
    pub fn set_runtime(&self, id: &str, runtime: &str) -> Result<(), StateError> {
        let n = self
            .conn
            .execute(
                "UPDATE containers SET runtime = ?2 WHERE id = ?1",
                params![id, runtime],
            )
            .map_err(StateError::sql("recording the container runtime"))?;
        if n == 0 {
            return Err(StateError::NoSuchContainer {
                query: id.to_string(),
            });
        }
        Ok(())
    }

    /// Gives container `id` (a full ID) a new name.
    pub fn rename(&self, id: &str, new_name: &str) -> Result<(), StateError> {
        names::validate("container", new_name)?;
        let op = "renaming container";
        self.write(op, |tx| {
            match name_holder(tx, new_name).map_err(StateError::sql(op))? {
                Some(holder) if holder == id => return Ok(()),
                Some(holder) => {
                    return Err(StateError::NameInUse {
                        name: new_name.to_string(),
                        id: holder,
                    });
                }
                None => {}
            }
            let n = tx
                .execute(
                    "UPDATE containers SET name = ?2 WHERE id = ?1",
                    params![id, new_name],
                )
                .map_err(StateError::sql(op))?;
            if n == 0 {
                return Err(StateError::NoSuchContainer {
                    query: id.to_string(),
                });
            }
            Ok(())
        })
    }

    /// Deletes container `id` (a full ID) with its exec sessions and
    /// volume links. Returns the anonymous volumes it used that no other
    /// container uses, for the caller to remove (`rm -v`) with their data.
    pub fn remove_container(&self, id: &str) -> Result<Vec<Volume>, StateError> {
        let op = "removing container";
        self.write(op, |tx| {
            let current = by_id(tx, id).map_err(StateError::sql(op))?.ok_or_else(|| {
                StateError::NoSuchContainer {
                    query: id.to_string(),
                }
            })?;
            if current.state.is_active() {
                return Err(StateError::RemoveActive {
                    id: id.to_string(),
                    state: current.state,
                });
            }
            let orphans = volume::orphaned_anonymous(tx, id)?;
            tx.execute("DELETE FROM containers WHERE id = ?1", [id])
                .map_err(StateError::sql(op))?;
            Ok(orphans)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Monitor;
    use super::super::tests::{id, new_container, temp_state};
    use super::*;

    #[test]
    fn create_and_read_back() {
        let (_dir, state) = temp_state();
        let c = state
            .create_container(&new_container(&id("a", 1), Some("web")))
            .unwrap();
        assert_eq!(c.state, ContainerState::Configured);
        assert_eq!(c.name, "web");
        assert_eq!(state.container("web").unwrap(), c);
        assert_eq!(state.container(&c.id).unwrap(), c);
        let err = state
            .create_container(&new_container(&id("a", 1), Some("other")))
            .unwrap_err();
        assert!(matches!(err, StateError::IdInUse { .. }), "{err}");
    }

    #[test]
    fn name_in_use_names_the_holder() {
        let (_dir, state) = temp_state();
        let first = id("a", 1);
        state
            .create_container(&new_container(&first, Some("web")))
            .unwrap();
        let err = state
            .create_container(&new_container(&id("b", 2), Some("web")))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the container name \"web\" is already in use by {first}. You have to remove \
                 that container to be able to reuse that name: that name is already in use"
            )
        );
        // The failed create left nothing behind.
        assert_eq!(state.list_containers(true).unwrap().len(), 1);

        let err = state
            .create_container(&new_container(&id("b", 2), Some("-bad")))
            .unwrap_err();
        assert!(
            err.to_string().contains("[a-zA-Z0-9][a-zA-Z0-9_.-]*"),
            "{err}"
        );
    }

    #[test]
    fn generated_names() {
        let (_dir, state) = temp_state();
        let c = state
            .create_container(&new_container(&id("a", 1), None))
            .unwrap();
        assert!(c.name.contains('_'), "{}", c.name);
        names::validate("container", &c.name).unwrap();
    }

    #[test]
    fn lookup_by_prefix_and_ambiguity() {
        let (_dir, state) = temp_state();
        let a1 = id("abc1", 1);
        let a2 = id("abc2", 2);
        state
            .create_container(&new_container(&a1, Some("one")))
            .unwrap();
        state
            .create_container(&new_container(&a2, Some("two")))
            .unwrap();
        assert_eq!(state.container("abc1").unwrap().id, a1);
        assert_eq!(state.container("abc2").unwrap().name, "two");

        let err = state.container("abc").unwrap_err();
        match &err {
            StateError::AmbiguousContainer { matches, .. } => {
                assert_eq!(matches, &vec![a1.clone(), a2.clone()])
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains(&a1) && err.to_string().contains(&a2));

        assert_eq!(
            state.container("nothere").unwrap_err().to_string(),
            "no container with name or ID \"nothere\" found: no such container"
        );
        assert!(state.container("").is_err());
        // Glob metacharacters are not patterns.
        assert!(state.container("*").is_err());
        assert!(state.container("abc?").is_err());
    }

    #[test]
    fn exact_name_wins_over_prefix() {
        let (_dir, state) = temp_state();
        let a1 = id("abc1", 1);
        let a2 = id("abc2", 2);
        state
            .create_container(&new_container(&a1, Some("x")))
            .unwrap();
        // A container named like the start of the other's ID.
        state
            .create_container(&new_container(&a2, Some("abc1")))
            .unwrap();
        assert_eq!(state.container("abc1").unwrap().id, a2);
        assert_eq!(state.container(&a1).unwrap().id, a1);
    }

    #[test]
    fn transitions_are_checked_against_the_stored_state() {
        let (_dir, state) = temp_state();
        let cid = id("a", 1);
        state
            .create_container(&new_container(&cid, Some("c")))
            .unwrap();
        let monitor = Monitor {
            pid: 4242,
            start_time: 77,
        };
        let c = state
            .update_state(&cid, Transition::Created { monitor })
            .unwrap();
        assert_eq!(c.state, ContainerState::Created);
        assert_eq!(c.monitor_pid, Some(4242));
        assert_eq!(c.monitor_start_time, Some(77));
        let c = state
            .update_state(
                &cid,
                Transition::Started {
                    pid: 100,
                    started_at: 5,
                },
            )
            .unwrap();
        assert_eq!(
            (c.state, c.pid, c.started_at),
            (ContainerState::Running, Some(100), Some(5))
        );

        let err = state
            .update_state(&cid, Transition::Created { monitor })
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("running") && text.contains("created"),
            "{text}"
        );
        assert_eq!(
            state.container(&cid).unwrap().state,
            ContainerState::Running
        );

        let err = state.remove_container(&cid).unwrap_err();
        assert!(err.to_string().contains("is running"), "{err}");

        let c = state
            .update_state(
                &cid,
                Transition::Stopped {
                    code: 137,
                    at: 9,
                    oom: true,
                },
            )
            .unwrap();
        assert_eq!(
            (c.state, c.pid, c.exit_code, c.exited_at, c.oom_killed),
            (ContainerState::Stopped, None, Some(137), Some(9), true)
        );
        let c = state
            .update_state(&cid, Transition::Restarting { monitor })
            .unwrap();
        assert_eq!((c.state, c.restart_count), (ContainerState::Created, 1));
        state.update_state(&cid, Transition::Removing).unwrap();
        let err = state.update_state(&cid, Transition::Removing).unwrap_err();
        assert!(matches!(
            err,
            StateError::IllegalTransition {
                from: ContainerState::Removing,
                to: ContainerState::Removing,
                ..
            }
        ));
        assert!(matches!(
            state.update_state(&id("f", 9), Transition::Paused),
            Err(StateError::NoSuchContainer { .. })
        ));
    }

    #[test]
    fn rename_checks_names() {
        let (_dir, state) = temp_state();
        let a = id("a", 1);
        let b = id("b", 2);
        state
            .create_container(&new_container(&a, Some("one")))
            .unwrap();
        state
            .create_container(&new_container(&b, Some("two")))
            .unwrap();
        state.rename(&a, "uno").unwrap();
        assert_eq!(state.container("uno").unwrap().id, a);
        assert!(state.container("one").is_err());
        state.rename(&a, "uno").unwrap();
        let err = state.rename(&a, "two").unwrap_err();
        assert!(
            matches!(err, StateError::NameInUse { ref id, .. } if *id == b),
            "{err}"
        );
        assert!(state.rename(&a, "bad name").is_err());
        assert!(matches!(
            state.rename(&id("c", 3), "three"),
            Err(StateError::NoSuchContainer { .. })
        ));
    }

    #[test]
    fn list_running_only() {
        let (_dir, state) = temp_state();
        let a = id("a", 1);
        state
            .create_container(&new_container(&a, Some("one")))
            .unwrap();
        state
            .create_container(&new_container(&id("b", 2), Some("two")))
            .unwrap();
        let monitor = Monitor {
            pid: 1,
            start_time: 1,
        };
        state
            .update_state(&a, Transition::Created { monitor })
            .unwrap();
        state
            .update_state(
                &a,
                Transition::Started {
                    pid: 2,
                    started_at: 3,
                },
            )
            .unwrap();
        let running = state.list_containers(false).unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].id, a);
        assert_eq!(state.list_containers(true).unwrap().len(), 2);
    }

    #[test]
    fn health() {
        let (_dir, state) = temp_state();
        let a = id("a", 1);
        state
            .create_container(&new_container(&a, Some("one")))
            .unwrap();
        state.set_health(&a, Some("healthy")).unwrap();
        assert_eq!(
            state.container(&a).unwrap().health.as_deref(),
            Some("healthy")
        );
        state.set_health(&a, None).unwrap();
        assert_eq!(state.container(&a).unwrap().health, None);
    }

    #[test]
    fn a_spec_of_the_wrong_shape_is_an_error_not_a_default() {
        let (_dir, state) = temp_state();
        let new = new_container(&id("a", 1), Some("one"));
        state.create_container(&new).unwrap();
        state
            .conn
            .execute(
                "UPDATE containers SET config = '{\"command\": 5}' WHERE id = ?1",
                [&new.id],
            )
            .unwrap();
        assert!(state.container(&new.id).is_err());
        let bad = state.conn.execute(
            "UPDATE containers SET config = '{not json' WHERE id = ?1",
            [&new.id],
        );
        assert!(bad.is_err(), "json_valid guards the column");
    }
}
