//! The database schema and its migrations. `PRAGMA user_version` holds the
//! number of migrations applied; each entry of `MIGRATIONS` takes the
//! schema one version further and is never edited once released, so a
//! database written by any older hutch can be brought forward. A database
//! from a newer hutch is refused rather than guessed at.

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::StateError;

/// Version 1. Tables are STRICT so a wrong type is an error at write time
/// rather than a surprise at read time; JSON columns are checked with
/// `json_valid` for the same reason.
const V1: &str = r#"
CREATE TABLE containers (
    id                 TEXT PRIMARY KEY NOT NULL
                       CHECK (length(id) = 64 AND id NOT GLOB '*[^0-9a-f]*'),
    name               TEXT NOT NULL UNIQUE,
    image_id           TEXT NOT NULL,
    image_name         TEXT NOT NULL,
    created            INTEGER NOT NULL,
    state              TEXT NOT NULL CHECK (state IN
                       ('configured','created','running','paused','stopped','exited','removing')),
    pid                INTEGER,
    exit_code          INTEGER,
    exited_at          INTEGER,
    started_at         INTEGER,
    oom_killed         INTEGER NOT NULL DEFAULT 0 CHECK (oom_killed IN (0, 1)),
    restart_count      INTEGER NOT NULL DEFAULT 0,
    config             TEXT NOT NULL CHECK (json_valid(config)),
    pod_id             TEXT,
    health             TEXT,
    runtime            TEXT NOT NULL,
    monitor_pid        INTEGER,
    monitor_start_time INTEGER
) STRICT;
CREATE INDEX containers_by_state ON containers(state);

CREATE TABLE volumes (
    name       TEXT PRIMARY KEY NOT NULL,
    driver     TEXT NOT NULL,
    mountpoint TEXT NOT NULL,
    created    INTEGER NOT NULL,
    labels     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    options    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options)),
    anonymous  INTEGER NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1))
) STRICT;

CREATE TABLE container_volumes (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    volume       TEXT NOT NULL REFERENCES volumes(name) ON DELETE RESTRICT,
    PRIMARY KEY (container_id, volume)
) STRICT, WITHOUT ROWID;
CREATE INDEX container_volumes_by_volume ON container_volumes(volume);

CREATE TABLE exec_sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    pid          INTEGER,
    exit_code    INTEGER,
    config       TEXT NOT NULL CHECK (json_valid(config)),
    state        TEXT NOT NULL CHECK (state IN ('created','running','stopped'))
) STRICT;
CREATE INDEX exec_sessions_by_container ON exec_sessions(container_id);

-- AUTOINCREMENT so that ids are never reused after a prune: a follower
-- that remembers the last id it printed never skips or repeats an event.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time       INTEGER NOT NULL,
    type       TEXT NOT NULL CHECK (type IN
               ('container','image','volume','network','pod','system')),
    action     TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes))
) STRICT;
CREATE INDEX events_by_time ON events(time);
CREATE TRIGGER events_append_only BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
"#;

/// One step of the schema: SQL, or a conversion of stored JSON in Rust.
enum Step {
    Sql(&'static str),
    Rust(fn(&Transaction<'_>, &Path) -> Result<(), StateError>),
}

/// Version 3: pods. A container's pod is its `pod_id` (a column since V1);
/// the pod's own configuration is JSON the engine reads. `IF NOT EXISTS`:
/// a database whose version was set back by hand still migrates.
const V3_PODS: &str = r#"
CREATE TABLE IF NOT EXISTS pods (
    id       TEXT PRIMARY KEY NOT NULL
             CHECK (length(id) = 64 AND id NOT GLOB '*[^0-9a-f]*'),
    name     TEXT NOT NULL UNIQUE,
    created  INTEGER NOT NULL,
    infra_id TEXT,
    config   TEXT NOT NULL CHECK (json_valid(config))
) STRICT;
CREATE INDEX IF NOT EXISTS containers_by_pod ON containers(pod_id);
"#;

/// Version 2: container rows hold the typed, versioned `ContainerSpec`
/// instead of the create flags' text.
const MIGRATIONS: &[Step] = &[
    Step::Sql(V1),
    Step::Rust(super::legacy::migrate),
    Step::Sql(V3_PODS),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Whether the database needs no setup: in WAL mode and at this build's
/// schema version. Reads only, so it never contends for the write lock.
pub(super) fn ready(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    Ok(mode.eq_ignore_ascii_case("wal") && user_version(conn)? == SCHEMA_VERSION)
}

/// Brings the database at `path` to `SCHEMA_VERSION`. The common case, an
/// up-to-date database, costs one pragma read and takes no write lock.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<(), StateError> {
    let future = |found| StateError::FutureSchema {
        path: path.to_path_buf(),
        found,
        supported: SCHEMA_VERSION,
    };
    let version = user_version(conn).map_err(StateError::sql("reading schema version"))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version > SCHEMA_VERSION {
        return Err(future(version));
    }
    let op = "migrating the state database";
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(StateError::sql(op))?;
    // Another process may have migrated while this one waited for the
    // write lock: read again under it.
    let version = user_version(&tx).map_err(StateError::sql(op))?;
    if version > SCHEMA_VERSION {
        return Err(future(version));
    }
    for step in &MIGRATIONS[version as usize..] {
        match step {
            Step::Sql(sql) => tx.execute_batch(sql).map_err(StateError::sql(op))?,
            Step::Rust(convert) => convert(&tx, path)?,
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(StateError::sql(op))?;
    tx.commit().map_err(StateError::sql(op))
}

#[cfg(test)]
mod tests {
    use super::super::State;
    use super::*;

    #[test]
    fn creates_schema_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("hutch.db");
        let state = State::open(&path).unwrap();
        assert_eq!(user_version(&state.conn).unwrap(), SCHEMA_VERSION);
        let mode: String = state
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = state
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        drop(state);

        use std::os::unix::fs::PermissionsExt;
        let meta = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(meta(path.parent().unwrap()), 0o700);
        assert_eq!(meta(&path), 0o600);
        for sidecar in ["hutch.db-wal", "hutch.db-shm"] {
            let p = path.with_file_name(sidecar);
            if p.exists() {
                assert_eq!(meta(&p), 0o600, "{sidecar}");
            }
        }

        let again = State::open(&path).unwrap();
        assert_eq!(user_version(&again.conn).unwrap(), SCHEMA_VERSION);
        let tables: i64 = again
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN
                 ('containers','volumes','container_volumes','exec_sessions','events')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 5);
    }

    #[test]
    fn database_from_the_future_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hutch.db");
        let state = State::open(&path).unwrap();
        state
            .conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 7)
            .unwrap();
        drop(state);
        let err = State::open(&path).err().expect("future schema accepted");
        let text = err.to_string();
        assert!(
            text.contains(&format!("schema version {}", SCHEMA_VERSION + 7))
                && text.contains(&format!("newer than version {SCHEMA_VERSION}")),
            "{text}"
        );
    }

    #[test]
    fn rows_of_schema_1_become_typed_specs() {
        use super::super::tests::{id, new_container};
        let fixture: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/legacy-container-v1.json"
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("hutch.db");
        let state = State::open(&path).unwrap();
        let c = new_container(&id("a", 1), Some("legacy"));
        state.create_container(&c).unwrap();
        state
            .conn
            .execute(
                "UPDATE containers SET config = ?1",
                [fixture["config"].to_string()],
            )
            .unwrap();
        state.conn.pragma_update(None, "user_version", 1).unwrap();
        drop(state);

        let state = State::open(&path).unwrap();
        assert_eq!(user_version(&state.conn).unwrap(), SCHEMA_VERSION);
        let spec = state.container("legacy").unwrap().spec;
        assert_eq!(spec.version, crate::spec::SPEC_VERSION);
        assert_eq!(spec.command, vec!["sleep", "600"]);
        assert_eq!(spec.restart, crate::spec::RestartPolicy::OnFailure(2));
        assert_eq!(spec.labels.get("tier").map(String::as_str), Some("old"));
        // No config.json to take FROM_HOST's value from: dropped.
        assert_eq!(spec.env, vec!["A=1"]);
        assert_eq!(spec.cap_add, vec!["NET_ADMIN"]);
        assert_eq!(
            spec.network.mode,
            Some(hutch_rootless_net::NetworkMode::None)
        );
    }
}
