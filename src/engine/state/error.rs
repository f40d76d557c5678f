//! The one error type of the state database. Texts that Podman users see
//! (name in use, no such container, volume in use) match Podman's own, so
//! scripts that grep for them keep working.

use std::path::PathBuf;

use super::ContainerState;

/// Entries of a directory that the state database tracks.
#[derive(Debug)]
pub struct Held {
    /// What they are, plural: "containers", "volumes".
    pub what: &'static str,
    pub dir: PathBuf,
    pub count: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("creating state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("creating state database {path}: {source}")]
    CreateFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("locking {path} to set up the state database: {source}")]
    InitLock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("opening state database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The database file is empty (or missing) while what it tracked is
    /// still on disk.
    #[error(
        "state database {path} is {}, but the store still has {}, recorded in it: \
         a new database would forget them. Restore {path} from a backup; or, to give them up, \
         move {} aside{}",
        if *missing { "missing" } else { "empty (0 bytes)" },
        held.iter().map(|h| format!("{} {} (in {})", h.count, h.what, h.dir.display())).collect::<Vec<_>>().join(" and "),
        held.iter().map(|h| h.dir.display().to_string()).collect::<Vec<_>>().join(" and "),
        if *missing { String::new() } else { format!(", with {} and its -wal and -shm files", path.display()) }
    )]
    Emptied {
        path: PathBuf,
        /// Not there at all, rather than zero bytes.
        missing: bool,
        held: Vec<Held>,
    },
    #[error(
        "state database {path} has schema version {found}, newer than version {supported} that this hutch understands: upgrade hutch"
    )]
    FutureSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// Any other SQLite failure, with what was being done; a lock that stays
    /// busy past the busy timeout ends here as "database is locked".
    #[error("{op}: {source}")]
    Sqlite {
        op: &'static str,
        source: rusqlite::Error,
    },
    #[error("{what} in the state database: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },

    #[error(
        "invalid {kind} name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
    )]
    InvalidName { kind: &'static str, name: String },
    #[error("invalid {kind} ID {id:?}: IDs are 64 lowercase hexadecimal characters")]
    InvalidId { kind: &'static str, id: String },
    #[error(
        "the container name {name:?} is already in use by {id}. You have to remove that container to be able to reuse that name: that name is already in use"
    )]
    NameInUse { name: String, id: String },
    #[error("no free container name after {attempts} random tries")]
    NoFreeName { attempts: u32 },
    #[error("container ID {id} is already in use: container already exists")]
    IdInUse { id: String },
    #[error("no container with name or ID {query:?} found: no such container")]
    NoSuchContainer { query: String },
    #[error("more than one result for container {query:?}: {}: container already exists", matches.join(", "))]
    AmbiguousContainer { query: String, matches: Vec<String> },
    #[error("container {id} is {from}: it cannot become {to}: container state improper")]
    IllegalTransition {
        id: String,
        from: ContainerState,
        to: ContainerState,
    },
    #[error(
        "cannot remove container {id} as it is {state} - running or paused containers cannot be removed without force: container state improper"
    )]
    RemoveActive { id: String, state: ContainerState },

    #[error("no pod with name or ID {query} found: no such pod")]
    NoSuchPod { query: String },
    #[error("more than one result for pod {query:?}: pod already exists")]
    AmbiguousPod { query: String },
    #[error("adding pod to state: name {name:?} is in use: pod already exists")]
    PodNameInUse { name: String },
    #[error("pod {id} still has {count} containers: remove them first")]
    PodHasContainers { id: String, count: i64 },

    #[error("no volume with name {name:?} found: no such volume")]
    NoSuchVolume { name: String },
    #[error("volume with name {name} already exists: volume already exists")]
    VolumeExists { name: String },
    #[error("volume {name} is being used by the following container(s): {}: volume is being used", users.join(", "))]
    VolumeInUse { name: String, users: Vec<String> },

    #[error("no exec session with ID {id} found: no such exec session")]
    NoSuchExec { id: String },
    #[error("exec session ID {id} is already in use")]
    ExecExists { id: String },
    #[error("exec session {id} is {from}: it cannot become {to}")]
    IllegalExecTransition {
        id: String,
        from: super::ExecState,
        to: super::ExecState,
    },

    #[error("locking container {id} ({path}): {source}")]
    Lock {
        id: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StateError {
    /// Wraps a SQLite failure with what was being done, for `map_err`.
    pub(super) fn sql(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StateError {
        move |source| StateError::Sqlite { op, source }
    }
}
