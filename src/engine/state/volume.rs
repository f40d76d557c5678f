//! Volume rows and the container ↔ volume links. A volume that a container
//! uses cannot be removed: checked here for Podman's error text, and
//! enforced by the schema (`ON DELETE RESTRICT`) as a backstop. Creating
//! the volume's directory is the caller's job, outside any transaction.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{State, StateError, map_from_json, names, to_json};

/// A volume row; also what `create_volume` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub name: String,
    /// `local` for hutch's own volumes.
    pub driver: String,
    pub mountpoint: String,
    /// Unix nanoseconds.
    pub created: i64,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// Made for one container's `-v /path`; removed with it by `rm -v`.
    pub anonymous: bool,
}

const COLUMNS: &str = "name, driver, mountpoint, created, labels, options, anonymous";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Volume> {
    Ok(Volume {
        name: row.get(0)?,
        driver: row.get(1)?,
        mountpoint: row.get(2)?,
        created: row.get(3)?,
        labels: map_from_json(4, row.get_ref(4)?.as_str()?)?,
        options: map_from_json(5, row.get_ref(5)?.as_str()?)?,
        anonymous: row.get(6)?,
    })
}

fn by_name(conn: &Connection, name: &str) -> rusqlite::Result<Option<Volume>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM volumes WHERE name = ?1"))?
        .query_row([name], from_row)
        .optional()
}

/// Inserts `v` within the caller's transaction.
pub(super) fn insert(conn: &Connection, v: &Volume) -> Result<(), StateError> {
    let op = "creating volume";
    if by_name(conn, &v.name)
        .map_err(StateError::sql(op))?
        .is_some()
    {
        return Err(StateError::VolumeExists {
            name: v.name.clone(),
        });
    }
    let labels = to_json("volume labels", &v.labels)?;
    let options = to_json("volume options", &v.options)?;
    conn.prepare_cached(
        "INSERT INTO volumes (name, driver, mountpoint, created, labels, options, anonymous) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            v.name,
            v.driver,
            v.mountpoint,
            v.created,
            labels,
            options,
            v.anonymous,
        ])
    })
    .map_err(StateError::sql(op))?;
    Ok(())
}

/// Links container `id` to volume `name` within the caller's transaction.
pub(super) fn link(conn: &Connection, id: &str, name: &str) -> Result<(), StateError> {
    let op = "linking container to volume";
    if by_name(conn, name).map_err(StateError::sql(op))?.is_none() {
        return Err(StateError::NoSuchVolume {
            name: name.to_string(),
        });
    }
    // OR IGNORE: the same volume mounted at two paths is one link.
    conn.prepare_cached(
        "INSERT OR IGNORE INTO container_volumes (container_id, volume) VALUES (?1, ?2)",
    )
    .and_then(|mut s| s.execute([id, name]))
    .map_err(StateError::sql(op))?;
    Ok(())
}

/// The anonymous volumes of container `id` that no other container uses.
pub(super) fn orphaned_anonymous(conn: &Connection, id: &str) -> Result<Vec<Volume>, StateError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM volumes WHERE anonymous = 1 AND name IN \
         (SELECT volume FROM container_volumes WHERE container_id = ?1) \
         AND NOT EXISTS (SELECT 1 FROM container_volumes o \
                         WHERE o.volume = volumes.name AND o.container_id != ?1) \
         ORDER BY name"
    ))
    .and_then(|mut s| s.query_map([id], from_row)?.collect())
    .map_err(StateError::sql("finding anonymous volumes"))
}

fn users(conn: &Connection, name: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT container_id FROM container_volumes WHERE volume = ?1 ORDER BY container_id",
    )?
    .query_map([name], |r| r.get(0))?
    .collect()
}

impl State {
    pub fn create_volume(&self, v: &Volume) -> Result<(), StateError> {
        names::validate("volume", &v.name)?;
        self.write("creating volume", |tx| insert(tx, v))
    }

    pub fn volume(&self, name: &str) -> Result<Volume, StateError> {
        by_name(&self.conn, name)
            .map_err(StateError::sql("looking up volume"))?
            .ok_or_else(|| StateError::NoSuchVolume {
                name: name.to_string(),
            })
    }

    pub fn list_volumes(&self) -> Result<Vec<Volume>, StateError> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM volumes ORDER BY name"))
            .and_then(|mut s| s.query_map([], from_row)?.collect())
            .map_err(StateError::sql("listing volumes"))
    }

    /// IDs of the containers that use volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>, StateError> {
        users(&self.conn, name).map_err(StateError::sql("listing volume users"))
    }

    /// Deletes the row of an unused volume; the caller deletes its data
    /// afterwards (a crash in between leaves a directory, never a row
    /// pointing at nothing).
    pub fn remove_volume(&self, name: &str) -> Result<(), StateError> {
        let op = "removing volume";
        self.write(op, |tx| {
            let users = users(tx, name).map_err(StateError::sql(op))?;
            if !users.is_empty() {
                return Err(StateError::VolumeInUse {
                    name: name.to_string(),
                    users,
                });
            }
            let n = tx
                .execute("DELETE FROM volumes WHERE name = ?1", [name])
                .map_err(StateError::sql(op))?;
            if n == 0 {
                return Err(StateError::NoSuchVolume {
                    name: name.to_string(),
                });
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{id, new_container, temp_state};
    use super::*;

    pub(crate) fn volume(name: &str, anonymous: bool) -> Volume {
        Volume {
            name: name.to_string(),
            driver: "local".into(),
            mountpoint: format!("/data/volumes/{name}/_data"),
            created: 1,
            labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
            options: BTreeMap::new(),
            anonymous,
        }
    }

    #[test]
    fn crud() {
        let (_dir, state) = temp_state();
        let v = volume("data", false);
        state.create_volume(&v).unwrap();
        assert_eq!(state.volume("data").unwrap(), v);
        assert!(matches!(
            state.create_volume(&v),
            Err(StateError::VolumeExists { .. })
        ));
        assert!(state.create_volume(&volume("/etc", false)).is_err());
        assert_eq!(state.list_volumes().unwrap(), vec![v]);
        state.remove_volume("data").unwrap();
        assert_eq!(
            state.volume("data").unwrap_err().to_string(),
            "no volume with name \"data\" found: no such volume"
        );
        assert!(matches!(
            state.remove_volume("data"),
            Err(StateError::NoSuchVolume { .. })
        ));
    }

    #[test]
    fn volume_in_use_cannot_be_removed() {
        let (_dir, state) = temp_state();
        state.create_volume(&volume("data", false)).unwrap();
        let cid = id("a", 1);
        let mut new = new_container(&cid, Some("web"));
        new.volumes = vec!["data".into(), "data".into()];
        state.create_container(&new).unwrap();
        assert_eq!(state.volume_users("data").unwrap(), vec![cid.clone()]);
        assert_eq!(state.container_volumes(&cid).unwrap(), vec!["data"]);
        let err = state.remove_volume("data").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "volume data is being used by the following container(s): {cid}: volume is being used"
            )
        );
        // The schema refuses it too, whatever the code above does.
        let fk = state
            .conn
            .execute("DELETE FROM volumes WHERE name = 'data'", [])
            .unwrap_err();
        assert!(fk.to_string().contains("FOREIGN KEY"), "{fk}");

        state.remove_container(&cid).unwrap();
        assert!(state.volume_users("data").unwrap().is_empty());
        state.remove_volume("data").unwrap();
    }

    #[test]
    fn missing_volume_fails_the_whole_create() {
        let (_dir, state) = temp_state();
        let mut new = new_container(&id("a", 1), Some("web"));
        new.new_volumes = vec![volume(&"f".repeat(64), true)];
        new.volumes = vec!["nothere".into()];
        let err = state.create_container(&new).unwrap_err();
        assert!(matches!(err, StateError::NoSuchVolume { .. }), "{err}");
        assert!(state.list_containers(true).unwrap().is_empty());
        assert!(state.list_volumes().unwrap().is_empty());
    }

    #[test]
    fn removal_cascades_and_reports_anonymous_volumes() {
        let (_dir, state) = temp_state();
        state.create_volume(&volume("shared", false)).unwrap();
        let anon = "f".repeat(64);
        let a = id("a", 1);
        let mut new = new_container(&a, Some("one"));
        new.volumes = vec!["shared".into()];
        new.new_volumes = vec![volume(&anon, true)];
        state.create_container(&new).unwrap();
        assert_eq!(state.volume_users(&anon).unwrap(), vec![a.clone()]);

        let orphans = state.remove_container(&a).unwrap();
        assert_eq!(
            orphans.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            vec![anon.as_str()]
        );
        let links: i64 = state
            .conn
            .query_row("SELECT count(*) FROM container_volumes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(links, 0);
        assert!(matches!(
            state.remove_container(&a),
            Err(StateError::NoSuchContainer { .. })
        ));
    }
}
