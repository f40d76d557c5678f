//! Exec session rows (`hutch exec`): one per session, deleted with their
//! container by the schema's cascade. The session's request is stored as
//! opaque JSON, like a container's.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::names::check_id;
use super::{State, StateError, container};

/// Podman's exec session states, minus `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecState {
    Created,
    Running,
    Stopped,
}

impl ExecState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecState::Created => "created",
            ExecState::Running => "running",
            ExecState::Stopped => "stopped",
        }
    }
}

impl fmt::Display for ExecState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for ExecState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ExecState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "created" => Ok(ExecState::Created),
            "running" => Ok(ExecState::Running),
            "stopped" => Ok(ExecState::Stopped),
            other => Err(FromSqlError::Other(
                format!("unknown exec session state {other:?}").into(),
            )),
        }
    }
}

/// What `create_exec_session` records.
#[derive(Debug, Clone)]
pub struct NewExecSession {
    pub id: String,
    pub container_id: String,
    pub config: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecSession {
    pub id: String,
    pub container_id: String,
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub config: String,
    pub state: ExecState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecTransition {
    Started { pid: i32 },
    Exited { code: i32 },
}

impl ExecTransition {
    fn target(self) -> ExecState {
        match self {
            ExecTransition::Started { .. } => ExecState::Running,
            ExecTransition::Exited { .. } => ExecState::Stopped,
        }
    }

    fn allowed(self, from: ExecState) -> bool {
        match self {
            ExecTransition::Started { .. } => from == ExecState::Created,
            // A session whose process never started can still fail.
            ExecTransition::Exited { .. } => from != ExecState::Stopped,
        }
    }
}

const COLUMNS: &str = "id, container_id, pid, exit_code, config, state";

fn from_row(row: &Row<'_>) -> rusqlite::Result<ExecSession> {
    Ok(ExecSession {
        id: row.get(0)?,
        container_id: row.get(1)?,
        pid: row.get(2)?,
        exit_code: row.get(3)?,
        config: row.get(4)?,
        state: row.get(5)?,
    })
}

fn by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<ExecSession>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM exec_sessions WHERE id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()
}

impl State {
    pub fn create_exec_session(&self, new: &NewExecSession) -> Result<ExecSession, StateError> {
        check_id("exec session", &new.id)?;
        let op = "creating exec session";
        self.write(op, |tx| {
            if container::by_id(tx, &new.container_id)
                .map_err(StateError::sql(op))?
                .is_none()
            {
                return Err(StateError::NoSuchContainer {
                    query: new.container_id.clone(),
                });
            }
            if by_id(tx, &new.id).map_err(StateError::sql(op))?.is_some() {
                return Err(StateError::ExecExists { id: new.id.clone() });
            }
            tx.execute(
                "INSERT INTO exec_sessions (id, container_id, config, state) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![new.id, new.container_id, new.config, ExecState::Created],
            )
            .map_err(StateError::sql(op))?;
            Ok(ExecSession {
                id: new.id.clone(),
                container_id: new.container_id.clone(),
                pid: None,
                exit_code: None,
                config: new.config.clone(),
                state: ExecState::Created,
            })
        })
    }

    pub fn exec_session(&self, id: &str) -> Result<ExecSession, StateError> {
        by_id(&self.conn, id)
            .map_err(StateError::sql("looking up exec session"))?
            .ok_or_else(|| StateError::NoSuchExec { id: id.to_string() })
    }

    /// The exec sessions of container `container_id`.
    pub fn exec_sessions(&self, container_id: &str) -> Result<Vec<ExecSession>, StateError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM exec_sessions WHERE container_id = ?1 ORDER BY rowid"
            ))
            .and_then(|mut s| s.query_map([container_id], from_row)?.collect())
            .map_err(StateError::sql("listing exec sessions"))
    }

    pub fn update_exec_session(
        &self,
        id: &str,
        transition: ExecTransition,
    ) -> Result<ExecSession, StateError> {
        let op = "updating exec session";
        self.write(op, |tx| {
            let mut session = by_id(tx, id)
                .map_err(StateError::sql(op))?
                .ok_or_else(|| StateError::NoSuchExec { id: id.to_string() })?;
            if !transition.allowed(session.state) {
                return Err(StateError::IllegalExecTransition {
                    id: id.to_string(),
                    from: session.state,
                    to: transition.target(),
                });
            }
            session.state = transition.target();
            match transition {
                ExecTransition::Started { pid } => session.pid = Some(pid),
                ExecTransition::Exited { code } => {
                    session.pid = None;
                    session.exit_code = Some(code);
                }
            }
            tx.execute(
                "UPDATE exec_sessions SET state = ?2, pid = ?3, exit_code = ?4 WHERE id = ?1",
                params![id, session.state, session.pid, session.exit_code],
            )
            .map_err(StateError::sql(op))?;
            Ok(session)
        })
    }

    pub fn remove_exec_session(&self, id: &str) -> Result<(), StateError> {
        let n = self
            .conn
            .execute("DELETE FROM exec_sessions WHERE id = ?1", [id])
            .map_err(StateError::sql("removing exec session"))?;
        if n == 0 {
            return Err(StateError::NoSuchExec { id: id.to_string() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{id, new_container, temp_state};
    use super::*;

    fn new_exec(id: &str, container_id: &str) -> NewExecSession {
        NewExecSession {
            id: id.to_string(),
            container_id: container_id.to_string(),
            config: r#"{"cmd":["ls"]}"#.into(),
        }
    }

    #[test]
    fn lifecycle() {
        let (_dir, state) = temp_state();
        let cid = id("c", 1);
        state
            .create_container(&new_container(&cid, Some("c")))
            .unwrap();
        let eid = id("e", 1);
        let s = state.create_exec_session(&new_exec(&eid, &cid)).unwrap();
        assert_eq!(s.state, ExecState::Created);
        assert!(matches!(
            state.create_exec_session(&new_exec(&eid, &cid)),
            Err(StateError::ExecExists { .. })
        ));
        let s = state
            .update_exec_session(&eid, ExecTransition::Started { pid: 9 })
            .unwrap();
        assert_eq!((s.state, s.pid), (ExecState::Running, Some(9)));
        assert!(
            state
                .update_exec_session(&eid, ExecTransition::Started { pid: 9 })
                .is_err()
        );
        let s = state
            .update_exec_session(&eid, ExecTransition::Exited { code: 3 })
            .unwrap();
        assert_eq!(
            (s.state, s.pid, s.exit_code),
            (ExecState::Stopped, None, Some(3))
        );
        assert_eq!(state.exec_session(&eid).unwrap(), s);
        let err = state
            .update_exec_session(&eid, ExecTransition::Exited { code: 3 })
            .unwrap_err();
        assert!(err.to_string().contains("stopped"), "{err}");
        state.remove_exec_session(&eid).unwrap();
        assert!(matches!(
            state.exec_session(&eid),
            Err(StateError::NoSuchExec { .. })
        ));
    }

    #[test]
    fn sessions_go_with_their_container() {
        let (_dir, state) = temp_state();
        let cid = id("c", 1);
        state
            .create_container(&new_container(&cid, Some("c")))
            .unwrap();
        for n in 0..3 {
            state
                .create_exec_session(&new_exec(&id("e", n), &cid))
                .unwrap();
        }
        assert_eq!(state.exec_sessions(&cid).unwrap().len(), 3);
        state.remove_container(&cid).unwrap();
        assert!(state.exec_sessions(&cid).unwrap().is_empty());
        let left: i64 = state
            .conn
            .query_row("SELECT count(*) FROM exec_sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
        assert!(matches!(
            state.create_exec_session(&new_exec(&id("e", 9), &cid)),
            Err(StateError::NoSuchContainer { .. })
        ));
    }
}
