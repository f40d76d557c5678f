//! Upgrading from the hutch before the typed container spec: a container
//! row written by that release (its create flags' text as JSON, schema
//! version 1; tests/fixtures/legacy-container-v1.json was captured from
//! it) is converted once when the new binary opens the database, and the
//! container is then listed, started and removed as any other.
//!
//! The row is laid into a database the new binary made: its container's
//! layer and userdata (config.json) are real, its stored config is the old
//! release's, and the schema version is set back to 1.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::images::*;
use common::*;

/// The create flags the fixture was captured with.
const FLAGS: [&str; 22] = [
    "create",
    "--name",
    "legacy",
    "-e",
    "A=1",
    "-e",
    "FROM_HOST",
    "-v",
    "./data:/data",
    "--restart",
    "on-failure:2",
    "--label",
    "tier=old",
    "--stop-signal",
    "INT",
    "--ulimit",
    "nofile=100:200",
    "--cap-add",
    "NET_ADMIN",
    "--network",
    "none",
    "busybox",
];

fn fixture() -> serde_json::Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-container-v1.json");
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("fixture json")
}

fn db_path(env: &TestEnv) -> PathBuf {
    env.home.join(".local/share/hutch/storage/state/hutch.db")
}

/// Runs `f` on the state database as the test (root) and gives the files
/// back to the test user.
fn with_db<T>(env: &TestEnv, f: impl FnOnce(&rusqlite::Connection) -> T) -> T {
    let db = db_path(env);
    let conn = rusqlite::Connection::open(&db).expect("open the state database");
    let out = f(&conn);
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            chown(&p, env.user.uid, env.user.gid);
        }
    }
    out
}

fn status(env: &TestEnv) -> String {
    env.ok(["inspect", "--format", "{{.State.Status}}", "legacy"])
        .trim()
        .to_owned()
}

#[test]
fn a_container_of_the_previous_release_survives_the_upgrade() {
    let mut env = busybox_env(&[]);
    let data = env.home.join("data");
    std::fs::create_dir(&data).expect("mkdir data");
    chown(&data, env.user.uid, env.user.gid);
    env.vars.push(("FROM_HOST".into(), "host-value".into()));
    let mut args: Vec<&str> = FLAGS.to_vec();
    args.extend(["sleep", "600"]);
    let id = env.ok(args).trim().to_owned();
    // From here on the caller's environment no longer has the value: the
    // migration must find it in the container's config.json.
    env.vars.clear();

    let old = fixture();
    let old_config = serde_json::to_string(&old["config"]).expect("config");
    let old_version = old["schema_version"].as_i64().expect("schema version");
    with_db(&env, |c| {
        let n = c
            .execute(
                "UPDATE containers SET config = ?1 WHERE id = ?2",
                rusqlite::params![old_config, id],
            )
            .expect("rewrite the row");
        assert_eq!(n, 1);
        c.pragma_update(None, "user_version", old_version)
            .expect("set the old schema version");
    });

    // Listed: the first command converts the row.
    let names = env.ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert!(names.lines().any(|n| n == "legacy"), "{names}");
    let (version, spec): (i64, String) = with_db(&env, |c| {
        let v = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        let s = c
            .query_row("SELECT config FROM containers WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .expect("row");
        (v, s)
    });
    assert!(version > old_version, "schema still at {version}");
    let spec: serde_json::Value = serde_json::from_str(&spec).expect("spec json");
    assert_eq!(spec["version"], 1, "{spec}");
    assert_eq!(
        spec["env"],
        serde_json::json!(["A=1", "FROM_HOST=host-value"]),
        "{spec}"
    );
    // The relative source as the old create resolved it (config.json's),
    // not against the migrating process's directory.
    assert_eq!(
        spec["mounts"][0]["source"]["bind"],
        serde_json::json!(format!("{}/./data", env.home.display())),
        "{spec}"
    );
    assert_eq!(spec["labels"]["tier"], "old", "{spec}");
    let c: serde_json::Value =
        serde_json::from_str(&env.ok(["inspect", "legacy"])).expect("inspect json");
    let c = &c[0];
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(c["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
    assert_eq!(c["Config"]["StopSignal"], 2);

    // Started and removed.
    env.ok(["start", "legacy"]);
    assert!(
        wait_until(Duration::from_secs(20), || status(&env) == "running"),
        "not running: {}",
        status(&env)
    );
    env.ok(["rm", "-f", "legacy"]);
    let names = env.ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!names.lines().any(|n| n == "legacy"), "{names}");
}
