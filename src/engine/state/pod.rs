//! Pod rows: create, lookup by ID, name or unique ID prefix (Podman's
//! order, as for containers), listing, the infra container's id, removal.
//! A pod's containers are the container rows whose `pod_id` names it.
//! The pod's configuration is stored as opaque JSON: the engine reads it.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::container::{self, Container};
use super::names::{self, check_id};
use super::{State, StateError};

/// A pod row. `created` is Unix nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PodRow {
    pub id: String,
    pub name: String,
    pub created: i64,
    /// `None` for `--infra=false`, and between the row and its infra
    /// container's (a crash there leaves a pod without infra, which
    /// `pod rm` removes).
    pub infra_id: Option<String>,
    /// The engine's pod configuration, as JSON.
    pub config: String,
}

const COLUMNS: &str = "id, name, created, infra_id, config";

fn from_row(row: &Row<'_>) -> rusqlite::Result<PodRow> {
    Ok(PodRow {
        id: row.get(0)?,
        name: row.get(1)?,
        created: row.get(2)?,
        infra_id: row.get(3)?,
        config: row.get(4)?,
    })
}

fn select(
    conn: &Connection,
    where_clause: &str,
    p: impl rusqlite::Params,
) -> rusqlite::Result<Vec<PodRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM pods {where_clause} ORDER BY created, id"
    ))?
    .query_map(p, from_row)?
    .collect()
}

impl State {
    /// Records a new pod; its name must be free among pods and containers
    /// (Podman keeps one name space for both). An empty name is replaced
    /// by a generated one.
    pub fn create_pod(&self, new: &PodRow) -> Result<PodRow, StateError> {
        check_id("pod", &new.id)?;
        if !new.name.is_empty() {
            names::validate("pod", &new.name)?;
        }
        let op = "creating pod";
        self.write(op, |tx| {
            let taken = |name: &str| -> Result<bool, StateError> {
                tx.query_row(
                    "SELECT id FROM pods WHERE name = ?1 UNION ALL \
                     SELECT id FROM containers WHERE name = ?1",
                    [name],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map(|h| h.is_some())
                .map_err(StateError::sql(op))
            };
            let mut row = new.clone();
            if row.name.is_empty() {
                row.name = names::generate_free(|c| Ok(!taken(c)?))?;
            } else if taken(&row.name)? {
                return Err(StateError::PodNameInUse {
                    name: row.name.clone(),
                });
            }
            tx.execute(
                "INSERT INTO pods (id, name, created, infra_id, config) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![row.id, row.name, row.created, row.infra_id, row.config],
            )
            .map_err(StateError::sql(op))?;
            Ok(row)
        })
    }

    /// Finds a pod by exact ID, exact name, or unique ID prefix.
    pub fn pod(&self, query: &str) -> Result<PodRow, StateError> {
        let not_found = || StateError::NoSuchPod {
            query: query.to_string(),
        };
        if query.is_empty() {
            return Err(not_found());
        }
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
        .map_err(StateError::sql("looking up pod"))?;
        if let Some(p) = rows.iter().find(|p| p.id == query) {
            return Ok(p.clone());
        }
        if let Some(p) = rows.iter().find(|p| p.name == query) {
            return Ok(p.clone());
        }
        match rows.len() {
            0 => Err(not_found()),
            1 => rows.into_iter().next().ok_or_else(not_found),
            _ => Err(StateError::AmbiguousPod {
                query: query.to_string(),
            }),
        }
    }

    /// Every pod, oldest first.
    pub fn list_pods(&self) -> Result<Vec<PodRow>, StateError> {
        select(&self.conn, "", []).map_err(StateError::sql("listing pods"))
    }

    /// The containers of pod `id`, oldest first.
    pub fn pod_containers(&self, id: &str) -> Result<Vec<Container>, StateError> {
        container::select(&self.conn, "WHERE pod_id = ?1", [id])
            .map_err(StateError::sql("listing the containers of a pod"))
    }

    /// Records the infra container of pod `id`.
    pub fn set_pod_infra(&self, id: &str, infra: &str) -> Result<(), StateError> {
        let op = "recording the infra container of a pod";
        self.write(op, |tx| {
            tx.execute(
                "UPDATE pods SET infra_id = ?2 WHERE id = ?1",
                params![id, infra],
            )
            .map_err(StateError::sql(op))?;
            Ok(())
        })
    }

    /// Deletes the row of pod `id`; refused while containers still name it.
    pub fn delete_pod(&self, id: &str) -> Result<(), StateError> {
        let op = "removing pod";
        self.write(op, |tx| {
            let left: i64 = tx
                .query_row(
                    "SELECT count(*) FROM containers WHERE pod_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .map_err(StateError::sql(op))?;
            if left > 0 {
                return Err(StateError::PodHasContainers {
                    id: id.to_string(),
                    count: left,
                });
            }
            tx.execute("DELETE FROM pods WHERE id = ?1", [id])
                .map_err(StateError::sql(op))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::tests::new_container;

    fn state() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = State::open(dir.path().join("db.sqlite")).expect("open");
        (dir, s)
    }

    fn pod(id: char, name: &str) -> PodRow {
        PodRow {
            id: id.to_string().repeat(64),
            name: name.into(),
            created: 1,
            infra_id: None,
            config: "{}".into(),
        }
    }

    #[test]
    fn pods_are_found_by_id_name_and_prefix_and_names_are_unique() {
        let (_d, s) = state();
        s.create_pod(&pod('a', "web")).expect("create");
        assert_eq!(s.pod("web").expect("by name").id, "a".repeat(64));
        assert_eq!(s.pod("aaa").expect("by prefix").name, "web");
        assert!(matches!(s.pod("bogus"), Err(StateError::NoSuchPod { .. })));
        assert!(matches!(
            s.create_pod(&pod('b', "web")),
            Err(StateError::PodNameInUse { .. })
        ));
        s.create_container(&new_container(&"c".repeat(64), Some("ctr")))
            .expect("container");
        assert!(matches!(
            s.create_pod(&pod('b', "ctr")),
            Err(StateError::PodNameInUse { .. })
        ));
    }

    #[test]
    fn a_pod_with_containers_is_not_deleted() {
        let (_d, s) = state();
        let p = s.create_pod(&pod('a', "web")).expect("create");
        let mut c = new_container(&"c".repeat(64), Some("ctr"));
        c.pod_id = Some(p.id.clone());
        s.create_container(&c).expect("container");
        assert_eq!(s.pod_containers(&p.id).expect("list").len(), 1);
        assert!(matches!(
            s.delete_pod(&p.id),
            Err(StateError::PodHasContainers { .. })
        ));
        s.set_pod_infra(&p.id, &"c".repeat(64)).expect("infra");
        assert_eq!(s.pod("web").expect("pod").infra_id, Some("c".repeat(64)));
    }
}
