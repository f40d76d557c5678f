//! The engine's state database: containers, volumes, exec sessions and
//! events in one SQLite file (WAL mode), shared by every hutch process of
//! the user. Many short CLI processes open it at once, so every change is
//! one short `BEGIN IMMEDIATE` transaction that does no I/O of its own
//! beyond SQLite's: the write lock is taken (and waited for) up front, held
//! for microseconds, and never across the caller's work. Lifecycle
//! operations that do I/O (start, stop, remove) serialise on a per-container
//! `flock` instead ([`ContainerLock`]), which costs other containers nothing.
//!
//! What this module does not do: decide lifecycle policy (the engine does;
//! this module only refuses transitions that can never be right), interpret
//! a container's create request (stored as opaque JSON), or touch storage,
//! the runtime or the network. [`State::recover`] only reports what a dead
//! process left half done; the caller finishes it.

mod container;
mod error;
pub mod event;
mod exec;
mod legacy;
mod lock;
pub mod names;
mod pod;
mod recover;
mod schema;
mod transition;
mod volume;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use container::{Container, NewContainer};
pub use error::{Held, StateError};
pub use event::{Event, EventFilter, EventType};
pub use exec::{ExecSession, ExecState, ExecTransition, NewExecSession};
pub use lock::ContainerLock;
pub use pod::PodRow;
pub use recover::{Monitor, Recovery, process_start_time};
pub use schema::SCHEMA_VERSION;
pub use transition::{ContainerState, Transition};
pub use volume::Volume;

/// How long a write waits for another process's transaction. Transactions
/// here last microseconds, so hitting this means a stuck process, not load.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite's busy handler: called while another connection holds the lock
/// this one needs, with how often it was called in this wait; returns
/// whether to try again. It replaces `sqlite3_busy_timeout`, whose sleeps
/// grow to 100 ms while the transactions here hold the lock for well under
/// one: with sixteen processes queueing, waiters slept far longer than
/// holders worked (the pattern of Podman #29163). Short, jittered sleeps
/// keep a waiter within about a millisecond of the lock coming free, and
/// the jitter keeps waiters from retrying in step.
fn busy_wait() -> impl FnMut(i32) -> bool + Send + 'static {
    let mut since = std::time::Instant::now();
    move |count| {
        let now = std::time::Instant::now();
        if count == 0 {
            since = now;
        }
        if now.duration_since(since) >= BUSY_TIMEOUT {
            return false;
        }
        let ceiling_us = (50u64 << count.clamp(0, 5)).min(1000);
        let sleep_us = ceiling_us / 2 + names::random_u64() % (ceiling_us / 2 + 1);
        std::thread::sleep(Duration::from_micros(sleep_us));
        true
    }
}

/// An open state database. One per process (or per thread: a `State` is
/// `Send` but not `Sync`); opening is cheap.
pub struct State {
    conn: Connection,
    path: PathBuf,
    dir: PathBuf,
    /// containers.conf `events_logfile_max_size` in bytes (0: unbounded):
    /// the recorded events are cut to half of it when they grow past it.
    events_max: u64,
}

/// How many containers the database at `path` holds: (all, running,
/// paused, stopped or exited), read without opening the state (`info`
/// neither creates the database nor joins the namespace); `None` where
/// there is no database or it cannot be read.
pub fn container_counts(path: &Path) -> Option<(u64, u64, u64, u64)> {
    let conn =
        Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let mut stmt = conn
        .prepare("SELECT state, count(*) FROM containers GROUP BY state")
        .ok()?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .ok()?;
    let (mut all, mut running, mut paused, mut stopped) = (0, 0, 0, 0);
    for row in rows {
        let (state, n) = row.ok()?;
        let n = u64::try_from(n).unwrap_or(0);
        all += n;
        match state.as_str() {
            "running" => running += n,
            "paused" => paused += n,
            "stopped" | "exited" => stopped += n,
            _ => {}
        }
    }
    Some((all, running, paused, stopped))
}

impl State {
    /// Opens the database at `path`, creating its directory (0700), the
    /// file (0600) and the schema as needed.
    pub fn open(path: impl AsRef<Path>) -> Result<State, StateError> {
        State::open_tracking(path, &[])
    }

    /// [`State::open`] for a database that tracks what lives in the
    /// directories `tracked` (what they hold, and where: the store's
    /// containers, the volumes): an
    /// empty file (zero bytes: truncated by a user, a full disk, a broken
    /// copy) is refused while any of them has entries, rather than made a
    /// new, empty database that would forget them silently; so is a missing
    /// file (removed, or the state on a disk that is not mounted). A database
    /// SQLite made is never empty (WAL mode writes its first page), so
    /// zero bytes is a new file, or a lost one.
    pub fn open_tracking(
        path: impl AsRef<Path>,
        tracked: &[(&'static str, PathBuf)],
    ) -> Result<State, StateError> {
        let path = path.as_ref().to_path_buf();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|source| StateError::CreateDir {
                path: dir.clone(),
                source,
            })?;
        // Created here rather than by SQLite, which would honour the umask
        // (0644 typically); SQLite gives the -wal and -shm files the mode of
        // the main file, so all three stay private.
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|source| StateError::CreateFile {
                path: path.clone(),
                source,
            })?;
        if file.metadata().is_ok_and(|m| m.len() == 0) {
            let held: Vec<Held> = tracked
                .iter()
                .filter_map(|(what, dir)| {
                    let count = std::fs::read_dir(dir).ok()?.filter(|e| e.is_ok()).count();
                    (count > 0).then(|| Held {
                        what,
                        dir: dir.clone(),
                        count,
                    })
                })
                .collect();
            if !held.is_empty() {
                if !existed {
                    // Made just now: the next command should find it
                    // missing again, not emptied.
                    let _ = std::fs::remove_file(&path);
                }
                return Err(StateError::Emptied {
                    path,
                    missing: !existed,
                    held,
                });
            }
        }
        drop(file);
        let open_err = |source| StateError::Open {
            path: path.clone(),
            source,
        };
        let connect = || -> rusqlite::Result<(Connection, bool)> {
            let mut conn = Connection::open(&path)?;
            conn.busy_handler(Some(busy_wait()))?;
            conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
            // By default the last connection to close checkpoints the WAL
            // into the main file, with fsyncs: 5-15 ms added to every short
            // command. The automatic checkpoint (every 1000 pages, by
            // whichever writer crosses it) keeps the WAL bounded without
            // that.
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
            let ready = schema::ready(&conn)?;
            Ok((conn, ready))
        };
        let locks = dir.join(lock::LOCKS_DIR);
        let init = locks.join("database-init.lock");
        let init_lock = || {
            lock::lock_file(&locks, &init, true).map_err(|source| StateError::InitLock {
                path: init.clone(),
                source,
            })
        };
        let (conn, ready) = match connect() {
            Ok(c) => c,
            // A new database that another process is switching to WAL at
            // this moment can fail a plain read with an I/O error (its
            // rollback journal deleted under this one: SQLITE_IOERR_
            // DELETE_NOENT, seen with an API service and CLI users starting
            // together): once more, after that process is done.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::SystemIoFailure =>
            {
                let _init = init_lock()?;
                connect().map_err(open_err)?
            }
            Err(e) => return Err(open_err(e)),
        };
        if !ready {
            // First use or an upgrade: one process at a time. Two
            // connections switching a new file to WAL at once both hold a
            // shared lock and want an exclusive one; SQLite breaks that
            // deadlock by answering SQLITE_BUSY at once, without the busy
            // handler, so waiting has to happen here.
            let _init = init_lock()?;
            // WAL lets readers run beside the one writer; the mode is
            // stored in the file, so this happens once. NORMAL
            // synchronisation (set above) is crash-safe in WAL mode: a power
            // cut may lose the last commits, never consistency.
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(open_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::debug!(path = %path.display(), mode, "state database not in WAL mode");
            }
            schema::migrate(&conn, &path)?;
        }
        Ok(State {
            conn,
            path,
            dir,
            events_max: event::DEFAULT_EVENTS_MAX,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction: the write lock is
    /// taken before the first read, so the busy wait happens here and never
    /// as a failed upgrade halfway through, and what `f` read cannot change
    /// before it writes. An error from `f` rolls everything back.
    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(StateError::sql(op))?;
        let value = f(&tx)?;
        tx.commit().map_err(StateError::sql(op))?;
        Ok(value)
    }
}

/// Serialises a string map for a JSON column.
fn to_json(
    what: &'static str,
    map: &std::collections::BTreeMap<String, String>,
) -> Result<String, StateError> {
    serde_json::to_string(map).map_err(|source| StateError::Json { what, source })
}

/// Reads a JSON column as a string map inside a row mapper.
fn map_from_json(
    idx: usize,
    text: &str,
) -> rusqlite::Result<std::collections::BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A container request with the given id and name, for tests.
    pub(crate) fn new_container(id: &str, name: Option<&str>) -> NewContainer {
        NewContainer {
            id: id.to_string(),
            name: name.map(str::to_string),
            image_id: "e".repeat(64),
            image_name: "docker.io/library/busybox:latest".into(),
            created: crate::host::time::now_ns(),
            spec: crate::spec::ContainerSpec {
                command: vec!["sh".into()],
                ..Default::default()
            },
            pod_id: None,
            runtime: "crun".into(),
            volumes: Vec::new(),
            new_volumes: Vec::new(),
        }
    }

    /// A 64-hex id made from a small number, so tests can choose prefixes.
    pub(crate) fn id(prefix: &str, n: u32) -> String {
        let tail = format!("{n:08x}");
        let mut id = prefix.to_string();
        while id.len() + tail.len() < 64 {
            id.push('0');
        }
        id.push_str(&tail);
        id
    }

    pub(crate) fn temp_state() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path().join("db").join("hutch.db")).unwrap();
        (dir, state)
    }

    const CHILD_ENV: &str = "HUTCH_STATE_TEST_CHILD_DB";
    const PER_PROCESS: usize = 10;

    /// What one CLI process does: open the database, create containers with
    /// generated names, exit.
    fn child_work(db: &Path) -> std::time::Duration {
        let start = std::time::Instant::now();
        let state = State::open(db).unwrap();
        for _ in 0..PER_PROCESS {
            let id = names::generate_id().unwrap();
            state.create_container(&new_container(&id, None)).unwrap();
        }
        start.elapsed()
    }

    /// A command that runs test `test` of this module alone in a new
    /// process, with `CHILD_ENV` pointing at `db`: the test binary is the
    /// closest thing to a hutch CLI process that a unit test can start.
    fn child_command(test: &str, db: &Path) -> std::process::Command {
        let test_name = format!(
            "{}::{test}",
            module_path!().split_once("::").map_or("", |(_, rest)| rest)
        );
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            test_name.as_str(),
            "--exact",
            "--test-threads=1",
            "--nocapture",
            "-q",
        ])
        .env(CHILD_ENV, db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        cmd
    }

    /// Runs `n` child processes at once; returns the wall time of the
    /// whole run and the longest time one child spent in the database
    /// (process start-up excluded).
    fn spawn_children(db: &Path, n: usize) -> (std::time::Duration, std::time::Duration) {
        let start = std::time::Instant::now();
        let children: Vec<_> = (0..n)
            .map(|_| {
                child_command("concurrent_processes_create_distinct_containers", db)
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut slowest = std::time::Duration::ZERO;
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "child failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("1 passed"), "child ran no test: {stdout}");
            let in_db = stdout
                .lines()
                .find_map(|l| l.strip_prefix("child-db-us: "))
                .and_then(|us| us.trim().parse().ok())
                .map(std::time::Duration::from_micros)
                .unwrap_or_default();
            slowest = slowest.max(in_db);
        }
        (start.elapsed(), slowest)
    }

    #[test]
    fn concurrent_processes_create_distinct_containers() {
        if let Some(db) = std::env::var_os(CHILD_ENV) {
            let took = child_work(Path::new(&db));
            println!("child-db-us: {}", took.as_micros());
            return;
        }
        const PROCESSES: usize = 16;
        let dir = tempfile::tempdir().unwrap();

        // A fresh database: the processes also race to create the file
        // and its schema.
        let db = dir.path().join("fresh").join("hutch.db");
        spawn_children(&db, PROCESSES);
        let state = State::open(&db).unwrap();
        let all = state.list_containers(true).unwrap();
        let names: std::collections::HashSet<_> = all.iter().map(|c| c.name.clone()).collect();
        let ids: std::collections::HashSet<_> = all.iter().map(|c| c.id.clone()).collect();
        assert_eq!(all.len(), PROCESSES * PER_PROCESS);
        assert_eq!(names.len(), PROCESSES * PER_PROCESS);
        assert_eq!(ids.len(), PROCESSES * PER_PROCESS);

        // Timing on an existing database, the everyday case: one process
        // alone, then sixteen at once (the ratio Podman #29163 is about).
        let db = dir.path().join("timed").join("hutch.db");
        State::open(&db).unwrap();
        let (alone, alone_db) = spawn_children(&db, 1);
        let (parallel, slowest_db) = spawn_children(&db, PROCESSES);
        assert_eq!(
            State::open(&db)
                .unwrap()
                .list_containers(true)
                .unwrap()
                .len(),
            (PROCESSES + 1) * PER_PROCESS
        );
        println!(
            "state db, {PER_PROCESS} creates per process: 1 process {alone:?} wall \
             ({alone_db:?} in the database); {PROCESSES} processes {parallel:?} wall ({:.1}x), \
             slowest {slowest_db:?} in the database",
            parallel.as_secs_f64() / alone.as_secs_f64()
        );
    }

    #[test]
    fn threads_share_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hutch.db");
        State::open(&db).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    child_work(&db);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let state = State::open(&db).unwrap();
        assert_eq!(state.list_containers(true).unwrap().len(), 8 * PER_PROCESS);
    }

    /// A writer killed with SIGKILL inside its transaction: the next
    /// process sees none of its changes and gets the write lock at once.
    #[test]
    fn killed_writer_leaves_no_trace() {
        let marker = |db: &Path| db.with_extension("inside");
        if let Some(db) = std::env::var_os(CHILD_ENV) {
            let db = Path::new(&db);
            let state = State::open(db).unwrap();
            let _ = state.write("test", |tx| {
                let new = new_container(&id("dead", 1), Some("half"));
                tx.execute(
                    "INSERT INTO containers (id, name, image_id, image_name, created, state, \
                     config, runtime) VALUES (?1, ?2, ?3, ?4, ?5, 'configured', ?6, ?7)",
                    rusqlite::params![
                        new.id,
                        "half",
                        new.image_id,
                        new.image_name,
                        new.created,
                        serde_json::to_string(&new.spec).unwrap(),
                        new.runtime
                    ],
                )
                .unwrap();
                std::fs::write(marker(db), b"").unwrap();
                std::thread::sleep(Duration::from_secs(60));
                Ok(())
            });
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hutch.db");
        State::open(&db).unwrap();
        let mut child = child_command("killed_writer_leaves_no_trace", &db)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !marker(&db).exists() {
            assert!(std::time::Instant::now() < deadline, "child never wrote");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let state = State::open(&db).unwrap();
        assert!(matches!(
            state.container("half"),
            Err(StateError::NoSuchContainer { .. })
        ));
        let start = std::time::Instant::now();
        state
            .create_container(&new_container(&id("a11ce", 2), Some("half")))
            .unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    /// Issue 17: a database truncated to zero bytes was made a new, empty
    /// one while containers it recorded stayed on disk, untracked.
    #[test]
    fn an_emptied_database_is_refused_while_it_tracked_something() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state").join("hutch.db");
        let containers = dir.path().join("containers");
        let tracked = [("containers", containers.clone())];
        // A new store: an empty directory is nothing to forget.
        std::fs::create_dir_all(&containers).unwrap();
        let state = State::open_tracking(&db, &tracked).unwrap();
        state
            .create_container(&new_container(&id("c0", 1), Some("kept")))
            .unwrap();
        std::fs::create_dir(containers.join(id("c0", 1))).unwrap();
        drop(state);
        // A database in use opens as ever.
        State::open_tracking(&db, &tracked).unwrap();

        std::fs::File::create(&db).unwrap();
        let err = State::open_tracking(&db, &tracked)
            .err()
            .expect("an emptied database was accepted");
        assert!(matches!(err, StateError::Emptied { .. }), "{err:?}");
        let text = err.to_string();
        for part in [
            db.display().to_string(),
            "empty (0 bytes)".to_owned(),
            format!("1 containers (in {})", containers.display()),
            "Restore".to_owned(),
        ] {
            assert!(text.contains(&part), "{part:?} missing from: {text}");
        }
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "left as it was");

        // A missing file is refused alike, and not left behind empty.
        let gone = dir.path().join("elsewhere").join("hutch.db");
        let err = State::open_tracking(&gone, &tracked)
            .err()
            .expect("a missing database was accepted");
        assert!(err.to_string().contains("is missing"), "{err}");
        assert!(!gone.exists());

        // Once the containers are given up, it is a new database again.
        std::fs::remove_dir(containers.join(id("c0", 1))).unwrap();
        let state = State::open_tracking(&db, &tracked).unwrap();
        assert!(state.list_containers(true).unwrap().is_empty());
    }
}
