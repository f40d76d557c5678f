//! Join the user's namespace, creating it when it does not exist.
//!
//! The fast path reads `pause.pid`, checks the process and two file stamps,
//! and joins: no lock, no parsing of /etc/subuid. Everything else (no record,
//! a dead or reused pid, changed subuid/subgid files) happens under an
//! exclusive `flock` on `pause.lock`, re-checked after the lock is taken, so
//! that any number of first commands started together end with one pause
//! process.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::helper;
use crate::idmap::{self, IdMappings};
use crate::join::{self, JoinError};
use crate::nsfs::{self, HandleJoinError, HandleRecord};
use crate::nss;
use crate::pause::{self, FileStamp, MapWriter, PauseError, PauseRecord};
use crate::rundir::{self, RunDirError};
use crate::subid::{SubIdError, SubIdFile};

pub const SUBUID_PATH: &str = "/etc/subuid";
pub const SUBGID_PATH: &str = "/etc/subgid";

/// Who we are on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub user_name: Option<String>,
}

impl Identity {
    /// The calling process's real ids and login name (through NSS, so LDAP
    /// users on HPC nodes resolve too).
    pub fn current() -> Identity {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        Identity {
            uid,
            gid,
            user_name: user_name(uid),
        }
    }
}

fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: zeroed passwd is a valid out-parameter; buf outlives the call
    // and the returned pointers are only read before buf is dropped.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Errors of [`enter`].
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error(transparent)]
    SubId(#[from] SubIdError),
    #[error("{0}")]
    Helper(String),
    #[error(transparent)]
    Pause(#[from] PauseError),
    #[error(transparent)]
    Join(#[from] JoinError),
    #[error("locking {path}: {source}")]
    Lock { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Handles(#[from] HandleJoinError),
}

/// The outcome of [`enter`].
#[derive(Debug, Clone)]
pub struct Entered {
    /// The pause process holding the namespace; 0 when none does (the
    /// namespace is held by its members, see `nsfs`).
    pub pause_pid: i32,
    /// This command created the namespace.
    pub created: bool,
    /// Things the user should be told once, already worded.
    pub warnings: Vec<String>,
}

/// The maps this user should get, how to write them, and what to warn about.
#[derive(Debug, Clone)]
pub struct Plan {
    pub maps: IdMappings,
    pub writer: MapWriter,
    pub warnings: Vec<String>,
}

/// Reads /etc/subuid and /etc/subgid and decides the maps. Fatal problems
/// (a malformed file, ranges but no usable newuidmap) are errors naming the
/// fix; the rest become warnings.
pub fn plan(id: &Identity) -> Result<Plan, NamespaceError> {
    plan_from(
        id,
        Path::new(SUBUID_PATH),
        Path::new(SUBGID_PATH),
        &nss::HostSource,
    )
}

/// With an nsswitch `subid:` source other than the files (SSSD, FreeIPA),
/// the ranges come from it through `getsubids`, as newuidmap takes them,
/// and the files are not read.
fn plan_from(
    id: &Identity,
    subuid_path: &Path,
    subgid_path: &Path,
    source: &dyn nss::RangeSource,
) -> Result<Plan, NamespaceError> {
    let name = id.user_name.as_deref();
    let who = name.map_or_else(|| format!("uid {}", id.uid), str::to_owned);
    let directory = source.directory();
    let (uid_ranges, gid_ranges, mut warnings) = match &directory {
        Some(dir) => {
            let uid = source.ranges(&who, false);
            let gid = source.ranges(&who, true);
            let mut warnings = Vec::new();
            if uid.is_none() || gid.is_none() {
                warnings.push(format!(
                    "{} names the subid source {dir:?}, but `getsubids {who}` did not answer: install \
                     getsubids (the uidmap package, or shadow-utils) so that hutch can read your ranges",
                    nss::NSSWITCH_PATH
                ));
            }
            (uid.unwrap_or_default(), gid.unwrap_or_default(), warnings)
        }
        None => {
            let subuid = SubIdFile::load(subuid_path)?;
            let subgid = SubIdFile::load(subgid_path)?;
            let warnings: Vec<String> = subuid
                .diagnose(name, id.uid)
                .iter()
                .chain(subgid.diagnose_with_id(name, id.uid, id.gid).iter())
                .map(|d| d.to_string())
                .collect();
            (
                subuid.ranges_for(name, id.uid),
                subgid.ranges_for(name, id.uid),
                warnings,
            )
        }
    };
    let maps = idmap::build(id.uid, id.gid, &uid_ranges, &gid_ranges);
    if maps.single_id
        && let Some(dir) = &directory
    {
        warnings.push(format!(
            "the subid source {dir:?} ({}) has no range for {who}: using a single-id mapping \
             (container root is you, no other ids); ask the directory's administrator for a range",
            nss::NSSWITCH_PATH
        ));
    } else if maps.single_id {
        let missing = match (maps.uid.len() == 1, maps.gid.len() == 1) {
            (true, true) => format!("{SUBUID_PATH} and {SUBGID_PATH} have"),
            (true, false) => format!("{SUBUID_PATH} has"),
            _ => format!("{SUBGID_PATH} has"),
        };
        warnings.push(format!(
            "{missing} no range for {who}: using a single-id mapping (container root is you, no other ids). \
             Files that images give to other users will belong to you, and programs that switch users \
             (su, setuid, useradd) will fail. An administrator can add ranges with: \
             usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {who}"
        ));
    }
    let writer = MapWriter {
        newuidmap: helper_for(&maps.uid, "newuidmap")?,
        newgidmap: helper_for(&maps.gid, "newgidmap")?,
    };
    Ok(Plan {
        maps,
        writer,
        warnings,
    })
}

/// A helper is only needed when the map is more than the user's own id.
fn helper_for(maps: &[idmap::IdMap], name: &str) -> Result<Option<PathBuf>, NamespaceError> {
    if maps.len() == 1 && maps[0].size == 1 {
        return Ok(None);
    }
    let path = helper::find_helper(name).ok_or_else(|| {
        NamespaceError::Helper(format!(
            "{name} not found, but you have subordinate id ranges that need it: install the uidmap package \
             (apt-get install uidmap, or dnf install shadow-utils)"
        ))
    })?;
    helper::check_helper(&path).map_err(|p| NamespaceError::Helper(p.to_string()))?;
    Ok(Some(path))
}

fn pid_path(run_dir: &Path) -> PathBuf {
    run_dir.join("pause.pid")
}

/// Joins the namespace recorded in `run_dir`, creating it first if needed.
/// Must run while the process has one thread.
pub fn enter(id: &Identity, run_dir: &Path) -> Result<Entered, NamespaceError> {
    enter_shared(id, run_dir, None)
}

/// [`enter`], with `shared`: a second record of the user's pause process
/// that does not depend on the runtime directory (hutch keeps it in the
/// user's data directory). A command whose runtime directory has no live
/// record (`$XDG_RUNTIME_DIR` unset under su or cron, so `/tmp/hutch-run-$UID`
/// instead, or the other way round) joins the namespace recorded there
/// instead of making a second one: one user, one namespace, whichever
/// directory a command picked. Two first commands racing in two different
/// runtime directories can still make two (their locks differ); the later
/// record wins for every command after them.
pub fn enter_shared(
    id: &Identity,
    run_dir: &Path,
    shared: Option<&Path>,
) -> Result<Entered, NamespaceError> {
    enter_holding(id, run_dir, shared, || false)
}

/// [`enter_shared`], where `no_pause_process` says (asked only when the
/// namespace must be created) whether to hold it without a pause process,
/// through nsfs file handles (see `nsfs`), on kernels that have them. A
/// live namespace of either kind is joined whatever it says.
pub fn enter_holding(
    id: &Identity,
    run_dir: &Path,
    shared: Option<&Path>,
    no_pause_process: impl Fn() -> bool,
) -> Result<Entered, NamespaceError> {
    rundir::ensure(run_dir, id.uid)?;
    let pid_file = pid_path(run_dir);
    let handles_file = run_dir.join(nsfs::RECORD_FILE);
    let stamps = (
        FileStamp::of(Path::new(SUBUID_PATH)),
        FileStamp::of(Path::new(SUBGID_PATH)),
    );
    if let Some(rec) = HandleRecord::read(&handles_file, id.uid) {
        match nsfs::join(&rec, id.uid) {
            Ok(route) => {
                return Ok(Entered {
                    pause_pid: 0,
                    created: false,
                    warnings: after_handle_join(id, &handles_file, rec, route, stamps),
                });
            }
            Err(HandleJoinError::Gone) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(rec) = PauseRecord::read(&pid_file, id.uid)
        && (rec.subuid, rec.subgid) == stamps
        && pause::is_alive(&rec, id.uid)
    {
        match join::join(&rec, id.uid) {
            Ok(()) => {
                return Ok(Entered {
                    pause_pid: rec.pid,
                    created: false,
                    warnings: Vec::new(),
                });
            }
            // Died between the check and the join: take the slow path.
            Err(JoinError::Gone { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Twice at most: the pause process may die between the locked check
    // and the join (a concurrent `system migrate`); the second round
    // re-creates it.
    let mut attempt = 0;
    loop {
        let lock = lock(run_dir)?;
        if let Some(entered) = enter_by_handles_locked(
            id,
            &pid_file,
            &handles_file,
            stamps,
            shared,
            &no_pause_process,
        )? {
            return Ok(entered);
        }
        let (rec, created, warnings) = ensure_shared(id, &pid_file, stamps, shared)?;
        drop(lock);
        match join::join(&rec, id.uid) {
            Ok(()) => {
                return Ok(Entered {
                    pause_pid: rec.pid,
                    created,
                    warnings,
                });
            }
            Err(JoinError::Gone { .. }) if attempt == 0 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Under the lock: joins the namespace that `ns.handles` records if it is
/// still alive, else creates one held without a pause process when that is
/// asked for and no pause process is alive. `None`: the pause process path
/// decides.
fn enter_by_handles_locked(
    id: &Identity,
    pid_file: &Path,
    handles_file: &Path,
    stamps: (FileStamp, FileStamp),
    shared: Option<&Path>,
    no_pause_process: &dyn Fn() -> bool,
) -> Result<Option<Entered>, NamespaceError> {
    if let Some(rec) = HandleRecord::read(handles_file, id.uid) {
        match nsfs::join(&rec, id.uid) {
            Ok(route) => {
                return Ok(Some(Entered {
                    pause_pid: 0,
                    created: false,
                    warnings: after_handle_join(id, handles_file, rec, route, stamps),
                }));
            }
            // Stale: gone, so the fast path need not try it again.
            Err(HandleJoinError::Gone) => {
                let _ = fs::remove_file(handles_file);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let pause_alive =
        |path: &Path| PauseRecord::read(path, id.uid).is_some_and(|r| pause::is_alive(&r, id.uid));
    if pause_alive(pid_file)
        || shared.is_some_and(pause_alive)
        || !no_pause_process()
        || !nsfs::supported()
    {
        return Ok(None);
    }
    let plan = plan(id)?;
    // The seed holds the new namespaces until this command has joined
    // them; from then on this command holds them, and after it whatever it
    // starts (monitors) or whoever joins meanwhile.
    let seed = pause::spawn_seed(&plan.maps, id.uid, id.gid, &plan.writer)?;
    let (user, mnt) = nsfs::join_process(seed.pid)?;
    HandleRecord {
        user,
        mnt,
        subuid: stamps.0,
        subgid: stamps.1,
        hint: None,
    }
    .write(handles_file)?;
    drop(seed);
    tracing::debug!("created the user namespace, held without a pause process");
    Ok(Some(Entered {
        pause_pid: 0,
        created: true,
        warnings: plan.warnings,
    }))
}

/// After a join by handles: remember the member that served it (the next
/// command tries it first), and handle changed subuid/subgid files as the
/// pause process path does, except that a namespace held by handles is
/// alive only while members use it, so it is never ended here: a change
/// that matters is a warning, and `system migrate` starts a fresh one.
fn after_handle_join(
    id: &Identity,
    handles_file: &Path,
    rec: HandleRecord,
    route: nsfs::Route,
    stamps: (FileStamp, FileStamp),
) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut updated = rec.clone();
    if let nsfs::Route::Member { pid, start_time } = route {
        updated.hint = Some((pid, start_time));
    }
    if (rec.subuid, rec.subgid) != stamps
        && let Ok(plan) = plan(id)
    {
        let current =
            idmap::parse_proc_map(&fs::read_to_string("/proc/self/uid_map").unwrap_or_default())
                .ok()
                .zip(
                    idmap::parse_proc_map(
                        &fs::read_to_string("/proc/self/gid_map").unwrap_or_default(),
                    )
                    .ok(),
                );
        if current.as_ref() == Some(&(plan.maps.uid.clone(), plan.maps.gid.clone())) {
            (updated.subuid, updated.subgid) = stamps;
        } else {
            warnings.push(format!(
                "{SUBUID_PATH} or {SUBGID_PATH} changed since your user namespace was created, but \
                 processes still run in it, so it was kept with the old ranges; stop them and run \
                 `hutch system migrate` to apply the new ranges"
            ));
        }
    }
    if updated != rec
        && let Err(e) = updated.write(handles_file)
    {
        tracing::debug!("updating {}: {e}", handles_file.display());
    }
    warnings
}

/// [`ensure_locked`], first adopting the live pause process of `shared`
/// when the runtime directory records none, and leaving `shared` naming
/// the result.
fn ensure_shared(
    id: &Identity,
    pid_file: &Path,
    stamps: (FileStamp, FileStamp),
    shared: Option<&Path>,
) -> Result<(PauseRecord, bool, Vec<String>), NamespaceError> {
    let alive =
        |path: &Path| PauseRecord::read(path, id.uid).filter(|r| pause::is_alive(r, id.uid));
    if let Some(shared) = shared
        && alive(pid_file).is_none()
        && let Some(rec) = alive(shared)
    {
        tracing::debug!(pid = rec.pid, record = %shared.display(), "joining the namespace recorded elsewhere");
        rec.write(pid_file)?;
    }
    let result = ensure_locked(id, pid_file, stamps)?;
    if let Some(shared) = shared
        && PauseRecord::read(shared, id.uid).as_ref() != Some(&result.0)
        && let Err(e) = shared
            .parent()
            .map_or(Ok(()), |dir| {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
            })
            .map_err(|source| PauseError::Record {
                path: shared.to_owned(),
                source,
            })
            .and_then(|()| result.0.write(shared))
    {
        // Only the sharing across runtime directories is lost.
        tracing::debug!("recording the pause process in {}: {e}", shared.display());
    }
    Ok(result)
}

fn ensure_locked(
    id: &Identity,
    pid_file: &Path,
    stamps: (FileStamp, FileStamp),
) -> Result<(PauseRecord, bool, Vec<String>), NamespaceError> {
    let existing = PauseRecord::read(pid_file, id.uid).filter(|r| pause::is_alive(r, id.uid));
    if let Some(rec) = existing {
        if (rec.subuid, rec.subgid) == stamps {
            return Ok((rec, false, Vec::new()));
        }
        let plan = plan(id)?;
        let current = pause::current_maps(rec.pid);
        if current.as_ref() == Some(&(plan.maps.uid.clone(), plan.maps.gid.clone())) {
            // The files changed but not for us: remember the new stamps so
            // the fast path applies again.
            let rec = PauseRecord {
                subuid: stamps.0,
                subgid: stamps.1,
                ..rec
            };
            rec.write(pid_file)?;
            return Ok((rec, false, Vec::new()));
        }
        let members = pause::namespace_members(rec.pid, id.uid);
        if !members.is_empty() {
            let warning = format!(
                "{SUBUID_PATH} or {SUBGID_PATH} changed since your user namespace was created, but {} \
                 process(es) still run in it (pid {}), so it was kept with the old ranges; stop them and \
                 run `hutch system migrate` to apply the new ranges",
                members.len(),
                members
                    .iter()
                    .take(5)
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok((rec, false, vec![warning]));
        }
        tracing::debug!(
            pid = rec.pid,
            "subordinate ids changed; re-creating the namespace"
        );
        pause::terminate(&rec, id.uid);
        return create(id, pid_file, stamps, plan);
    }
    let plan = plan(id)?;
    create(id, pid_file, stamps, plan)
}

fn create(
    id: &Identity,
    pid_file: &Path,
    stamps: (FileStamp, FileStamp),
    plan: Plan,
) -> Result<(PauseRecord, bool, Vec<String>), NamespaceError> {
    let (pid, start_time) = pause::spawn(
        &plan.maps,
        id.uid,
        id.gid,
        &plan.writer,
        |pid, start_time| {
            PauseRecord {
                pid,
                start_time,
                subuid: stamps.0,
                subgid: stamps.1,
            }
            .write(pid_file)
        },
    )?;
    let rec = PauseRecord {
        pid,
        start_time,
        subuid: stamps.0,
        subgid: stamps.1,
    };
    tracing::debug!(pid, "created the user namespace");
    Ok((rec, true, plan.warnings))
}

fn lock(run_dir: &Path) -> Result<OwnedFd, NamespaceError> {
    let path = run_dir.join("pause.lock");
    let err = |source: io::Error| NamespaceError::Lock {
        path: path.clone(),
        source,
    };
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(err)?;
    let fd = OwnedFd::from(file);
    rustix::fs::flock(&fd, rustix::fs::FlockOperation::LockExclusive).map_err(|e| err(e.into()))?;
    Ok(fd)
}

/// The live pause process recorded in `run_dir`, if any.
pub fn current(id: &Identity, run_dir: &Path) -> Option<PauseRecord> {
    rundir::verify(run_dir, id.uid).ok()?;
    PauseRecord::read(&pid_path(run_dir), id.uid).filter(|r| pause::is_alive(r, id.uid))
}

/// Ends the pause process so that the next command re-creates the namespace
/// from the current subuid/subgid files. Returns the pid that was ended.
pub fn migrate(id: &Identity, run_dir: &Path) -> Result<Option<i32>, NamespaceError> {
    if !run_dir.exists() {
        return Ok(None);
    }
    rundir::verify(run_dir, id.uid)?;
    let _lock = lock(run_dir)?;
    let pid_file = pid_path(run_dir);
    let ended = PauseRecord::read(&pid_file, id.uid).filter(|rec| pause::terminate(rec, id.uid));
    // A namespace held by handles cannot be ended from here (its members
    // hold it); forgetting it makes the next command create a fresh one.
    match fs::remove_file(run_dir.join(nsfs::RECORD_FILE)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PauseError::Record {
                path: run_dir.join(nsfs::RECORD_FILE),
                source,
            }
            .into());
        }
    }
    match fs::remove_file(&pid_file) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PauseError::Record {
                path: pid_file,
                source,
            }
            .into());
        }
    }
    Ok(ended.map(|r| r.pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hutch-plan-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn alice() -> Identity {
        Identity {
            uid: 1000,
            gid: 1000,
            user_name: Some("alice".into()),
        }
    }

    #[test]
    fn no_ranges_plans_single_id_with_one_warning() {
        let dir = scratch("single");
        let (u, g) = (dir.join("subuid"), dir.join("subgid"));
        fs::write(&u, "bob:100000:65536\n").unwrap();
        fs::write(&g, "bob:100000:65536\n").unwrap();
        let plan = plan_from(&alice(), &u, &g, &nss::FilesOnly).unwrap();
        assert!(plan.maps.single_id);
        assert_eq!(plan.warnings.len(), 1);
        assert!(plan.warnings[0].contains("single-id"));
        assert!(plan.warnings[0].contains("usermod --add-subuids"));
        assert!(plan.writer.newuidmap.is_none() && plan.writer.newgidmap.is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A directory source that answers like `getsubids` would.
    struct Directory(Option<Vec<(u32, u32)>>);

    impl nss::RangeSource for Directory {
        fn directory(&self) -> Option<String> {
            Some("sss".into())
        }
        fn ranges(&self, user: &str, _groups: bool) -> Option<Vec<crate::subid::SubIdRange>> {
            assert_eq!(user, "alice");
            self.0.as_ref().map(|r| {
                r.iter()
                    .map(|&(start, count)| crate::subid::SubIdRange {
                        start,
                        count,
                        line: 1,
                    })
                    .collect()
            })
        }
    }

    #[test]
    fn directory_ranges_replace_the_files() {
        let dir = scratch("nss");
        let (u, g) = (dir.join("subuid"), dir.join("subgid"));
        // No line for alice in the files, and a malformed one that must not
        // matter: libsubid does not read them when nsswitch names sss.
        fs::write(&u, "bob:100000:65536\nalice:x:1\n").unwrap();
        fs::write(&g, "").unwrap();
        match plan_from(&alice(), &u, &g, &Directory(Some(vec![(700000, 65536)]))) {
            Ok(plan) => {
                assert!(!plan.maps.single_id);
                assert_eq!(
                    plan.maps.uid[1],
                    idmap::IdMap {
                        container_id: 1,
                        host_id: 700000,
                        size: 65536
                    }
                );
                assert_eq!(plan.maps.gid[1].host_id, 700000);
                assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
            }
            Err(NamespaceError::Helper(msg)) => assert!(msg.contains("uidmap"), "{msg}"),
            Err(e) => panic!("unexpected error {e}"),
        }
        // No range there: single-id, said in terms of the directory.
        let plan = plan_from(&alice(), &u, &g, &Directory(Some(vec![]))).unwrap();
        assert!(plan.maps.single_id);
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("\"sss\"") && w.contains("single-id"))
        );
        // getsubids missing: single-id, and the fix is named.
        let plan = plan_from(&alice(), &u, &g, &Directory(None)).unwrap();
        assert!(plan.maps.single_id);
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("install getsubids")),
            "{:?}",
            plan.warnings
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_file_is_fatal_and_named() {
        let dir = scratch("bad");
        let (u, g) = (dir.join("subuid"), dir.join("subgid"));
        fs::write(&u, "alice:100000:65536\nalice:x:1\n").unwrap();
        fs::write(&g, "").unwrap();
        let err = plan_from(&alice(), &u, &g, &nss::FilesOnly)
            .unwrap_err()
            .to_string();
        assert!(err.contains(":2"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ranges_plan_container_root_then_ranges() {
        let dir = scratch("ranges");
        let (u, g) = (dir.join("subuid"), dir.join("subgid"));
        fs::write(&u, "alice:100000:65536\n").unwrap();
        fs::write(&g, "1000:200000:1000\n").unwrap();
        // Without newuidmap on the machine the plan is refused with the fix;
        // with it, the maps are Podman's layout.
        match plan_from(&alice(), &u, &g, &nss::FilesOnly) {
            Ok(plan) => {
                assert!(!plan.maps.single_id);
                assert_eq!(
                    plan.maps.uid[0],
                    idmap::IdMap {
                        container_id: 0,
                        host_id: 1000,
                        size: 1
                    }
                );
                assert_eq!(
                    plan.maps.uid[1],
                    idmap::IdMap {
                        container_id: 1,
                        host_id: 100000,
                        size: 65536
                    }
                );
                assert_eq!(
                    plan.maps.gid[1],
                    idmap::IdMap {
                        container_id: 1,
                        host_id: 200000,
                        size: 1000
                    }
                );
            }
            Err(NamespaceError::Helper(msg)) => assert!(msg.contains("uidmap"), "{msg}"),
            Err(e) => panic!("unexpected error {e}"),
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
