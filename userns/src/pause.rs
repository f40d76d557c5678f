//! The pause process: a sleeping process that holds the user and mount
//! namespace between commands, and its record in `pause.pid`.
//!
//! The record's first line is the pid alone (what Podman's `pause.pid`
//! holds, so tools that read it keep working); the lines after it carry what
//! a pid alone cannot prove: the process start time (a pid can be reused by
//! an unrelated process after a crash or reboot) and the identity of
//! /etc/subuid and /etc/subgid when the maps were written (to notice range
//! changes without re-reading the files on every command).

use std::ffi::CStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::idmap::{self, IdMappings};

/// The name the pause process shows in `ps` and `/proc/PID/comm`; also part
/// of the check that a recorded pid is still ours.
pub const PAUSE_COMM: &str = "hutch-pause";

/// Errors creating or inspecting the pause process.
#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    #[error("creating the user namespace: {what}: {source}")]
    Create {
        what: &'static str,
        source: io::Error,
    },
    #[error(
        "creating the user namespace: unprivileged user namespaces are disabled on this host ({source}); \
         {hint}"
    )]
    Disabled { source: io::Error, hint: String },
    #[error("writing the {kind} map of the pause process {pid} with {helper}: {detail}")]
    Map {
        kind: &'static str,
        pid: i32,
        helper: String,
        detail: String,
    },
    #[error("writing {path}: {source}")]
    Record { path: PathBuf, source: io::Error },
}

/// Identity of a file at one moment: enough to tell that it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i128,
    pub size: u64,
}

impl FileStamp {
    /// A missing file has the all-zero stamp, so creating it counts as a change.
    pub fn of(path: &Path) -> FileStamp {
        match fs::metadata(path) {
            Ok(m) => FileStamp {
                dev: m.dev(),
                ino: m.ino(),
                mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
                size: m.size(),
            },
            Err(_) => FileStamp::default(),
        }
    }

    pub(crate) fn encode(&self) -> String {
        format!("{}:{}:{}:{}", self.dev, self.ino, self.mtime_ns, self.size)
    }

    pub(crate) fn decode(s: &str) -> Option<FileStamp> {
        let mut it = s.split(':');
        let stamp = FileStamp {
            dev: it.next()?.parse().ok()?,
            ino: it.next()?.parse().ok()?,
            mtime_ns: it.next()?.parse().ok()?,
            size: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(stamp)
    }
}

/// What `pause.pid` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseRecord {
    pub pid: i32,
    pub start_time: u64,
    pub subuid: FileStamp,
    pub subgid: FileStamp,
}

impl PauseRecord {
    pub fn encode(&self) -> String {
        format!(
            "{}\nstart_time {}\nsubuid {}\nsubgid {}\n",
            self.pid,
            self.start_time,
            self.subuid.encode(),
            self.subgid.encode()
        )
    }

    /// `None` for anything that is not a complete record: a torn or foreign
    /// file is treated as no record, and the namespace is re-created.
    pub fn decode(s: &str) -> Option<PauseRecord> {
        let mut lines = s.lines();
        let pid: i32 = lines.next()?.trim().parse().ok()?;
        if pid <= 1 {
            return None;
        }
        let (mut start_time, mut subuid, mut subgid) = (None, None, None);
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "start_time" => start_time = value.parse().ok(),
                "subuid" => subuid = FileStamp::decode(value),
                "subgid" => subgid = FileStamp::decode(value),
                _ => {}
            }
        }
        Some(PauseRecord {
            pid,
            start_time: start_time?,
            subuid: subuid?,
            subgid: subgid?,
        })
    }

    /// Reads the record, trusting it only when the file belongs to `uid`.
    pub fn read(path: &Path, uid: u32) -> Option<PauseRecord> {
        PauseRecord::decode(&crate::record::read_owned(path, uid)?)
    }

    /// Write-then-rename (see `record::write_atomic`).
    pub fn write(&self, path: &Path) -> Result<(), PauseError> {
        crate::record::write_atomic(path, &self.encode())
    }
}

/// What /proc/PID/stat says about a process, as far as we need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub comm: String,
    pub state: char,
    pub start_time: u64,
}

impl ProcStat {
    pub fn parse(stat: &str) -> Option<ProcStat> {
        // comm may itself contain spaces and parentheses: it ends at the last ')'.
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = stat.get(open + 1..close)?.to_owned();
        let mut rest = stat.get(close + 1..)?.split_whitespace();
        let state = rest.next()?.chars().next()?;
        // Field 22 overall; after comm (field 2) and state (field 3) it is the 19th.
        let start_time = rest.nth(18)?.parse().ok()?;
        Some(ProcStat {
            comm,
            state,
            start_time,
        })
    }

    pub fn read(pid: i32) -> Option<ProcStat> {
        ProcStat::parse(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }
}

/// Whether `record` still names our live pause process: same start time (not
/// a reused pid), our name, our uid, not a zombie.
pub fn is_alive(record: &PauseRecord, uid: u32) -> bool {
    let Some(stat) = ProcStat::read(record.pid) else {
        return false;
    };
    if stat.start_time != record.start_time || stat.comm != PAUSE_COMM {
        return false;
    }
    if matches!(stat.state, 'Z' | 'X' | 'x') {
        return false;
    }
    fs::metadata(format!("/proc/{}", record.pid)).is_ok_and(|m| m.uid() == uid)
}

/// How the maps get written: through the setuid helpers, or directly for the
/// single-id case that needs no privilege.
#[derive(Debug, Clone)]
pub struct MapWriter {
    pub newuidmap: Option<PathBuf>,
    pub newgidmap: Option<PathBuf>,
}

/// Creates the pause process and writes its maps. Must be called while the
/// process is single-threaded (it forks).
///
/// Returns the pause process pid and start time.
pub fn spawn(
    maps: &IdMappings,
    uid: u32,
    gid: u32,
    writer: &MapWriter,
    record: impl FnOnce(i32, u64) -> Result<(), PauseError>,
) -> Result<(i32, u64), PauseError> {
    let (pid, start_time, p2c_write) = start(maps, uid, gid, writer)?;
    // Recorded before the pause process is released: if this command dies
    // in between, the pause process reads EOF and exits, so there is never a
    // live pause process without a record (a second one would follow).
    record(pid, start_time)?;

    let mut p2c = fs::File::from(p2c_write);
    p2c.write_all(b"G").map_err(|source| PauseError::Create {
        what: "releasing the pause process",
        source,
    })?;
    Ok((pid, start_time))
}

/// A namespace seed: the process that created the user and mount namespace
/// and holds them until it is dropped, for a command that joins them and
/// then holds them itself (no pause process, see `nsfs`).
#[derive(Debug)]
pub struct Seed {
    pub pid: i32,
    /// Dropping this ends the seed: it reads EOF where a pause process
    /// would read its go-ahead, and exits.
    _release: OwnedFd,
}

/// Creates the namespaces in a short-lived child and writes its maps; the
/// child lives until the returned [`Seed`] is dropped. Must be called while
/// the process is single-threaded (it forks).
pub fn spawn_seed(
    maps: &IdMappings,
    uid: u32,
    gid: u32,
    writer: &MapWriter,
) -> Result<Seed, PauseError> {
    let (pid, _, release) = start(maps, uid, gid, writer)?;
    Ok(Seed {
        pid,
        _release: release,
    })
}

/// Forks the process that unshares the namespaces, writes its maps, and
/// returns its pid, start time and the pipe end that releases it.
fn start(
    maps: &IdMappings,
    uid: u32,
    gid: u32,
    writer: &MapWriter,
) -> Result<(i32, u64, OwnedFd), PauseError> {
    let (c2p_read, c2p_write) = pipe()?;
    let (p2c_read, p2c_write) = pipe()?;

    // SAFETY: the caller guarantees a single thread, so the child may run
    // ordinary code; it never returns into the caller's stack frames.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(PauseError::Create {
            what: "fork",
            source: io::Error::last_os_error(),
        });
    }
    if child == 0 {
        drop(c2p_read);
        drop(p2c_write);
        intermediate(c2p_write, p2c_read);
    }
    drop(c2p_write);
    drop(p2c_read);
    // The intermediate child exits as soon as the pause process exists, so
    // the pause process is re-parented away from us: a long-lived command
    // (`hutch unshare sleep 1d`) would otherwise keep it as a zombie after a
    // `system migrate`.
    let mut status = 0;
    // SAFETY: plain waitpid on our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };

    let mut msg = [0u8; 8];
    let mut c2p = fs::File::from(c2p_read);
    c2p.read_exact(&mut msg)
        .map_err(|source| PauseError::Create {
            what: "waiting for the pause process",
            source,
        })?;
    let code = i32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);
    let value = i32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]);
    if code != 0 {
        let source = io::Error::from_raw_os_error(value);
        return Err(unshare_error(source));
    }
    let pid = value;
    let start_time =
        ProcStat::read(pid)
            .map(|s| s.start_time)
            .ok_or_else(|| PauseError::Create {
                what: "reading the pause process start time",
                source: io::Error::other(format!("/proc/{pid}/stat is unreadable")),
            })?;

    // On failure the pipe is dropped unwritten: the pause process reads EOF
    // and exits, so no half-configured namespace lingers.
    write_maps(pid, maps, uid, gid, writer)?;
    Ok((pid, start_time, p2c_write))
}

fn unshare_error(source: io::Error) -> PauseError {
    if source.raw_os_error() == Some(libc::EPERM) || source.raw_os_error() == Some(libc::ENOSPC) {
        let hint = if Path::new("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").exists()
            && fs::read_to_string("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
                .is_ok_and(|v| v.trim() == "1")
        {
            "AppArmor restricts them (kernel.apparmor_restrict_unprivileged_userns=1); an administrator can \
             run: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
                .to_owned()
        } else if fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone")
            .is_ok_and(|v| v.trim() == "0")
        {
            "an administrator can run: sysctl -w kernel.unprivileged_userns_clone=1".to_owned()
        } else if fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .is_ok_and(|v| v.trim() == "0")
        {
            "an administrator can run: sysctl -w user.max_user_namespaces=15000".to_owned()
        } else {
            "check kernel.unprivileged_userns_clone, user.max_user_namespaces and any seccomp or AppArmor \
             policy that blocks unshare(CLONE_NEWUSER)"
                .to_owned()
        };
        return PauseError::Disabled { source, hint };
    }
    PauseError::Create {
        what: "unshare(CLONE_NEWUSER|CLONE_NEWNS)",
        source,
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), PauseError> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| PauseError::Create {
        what: "pipe",
        source: e.into(),
    })
}

/// The first child: leaves the caller's session and forks the pause process.
fn intermediate(c2p: OwnedFd, p2c: OwnedFd) -> ! {
    // A Ctrl-C or hang-up aimed at the command that happened to create the
    // namespace must not reach the process that holds it.
    let _ = rustix::process::setsid();
    // SAFETY: single-threaded child of a single-threaded parent.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        pause_main(c2p, p2c);
    }
    if pid < 0 {
        send(
            &c2p,
            1,
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EAGAIN),
        );
    }
    // SAFETY: leave without running the parent's destructors or atexit hooks.
    unsafe { libc::_exit(0) }
}

fn send(fd: &OwnedFd, code: i32, value: i32) {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&code.to_le_bytes());
    msg[4..].copy_from_slice(&value.to_le_bytes());
    let _ = rustix::io::write(fd, &msg);
}

fn pause_main(c2p: OwnedFd, p2c: OwnedFd) -> ! {
    // Named before anything else so that a concurrent command validating the
    // fresh record already sees the right name.
    let name: &CStr = c"hutch-pause";
    let _ = rustix::thread::set_name(name);
    retitle(b"hutch-pause");
    // SAFETY: single-threaded process; unshare only affects this process.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) };
    if rc != 0 {
        send(
            &c2p,
            1,
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EPERM),
        );
        // SAFETY: see intermediate().
        unsafe { libc::_exit(1) }
    }
    send(&c2p, 0, std::process::id() as i32);
    let mut go = [0u8; 1];
    if !matches!(rustix::io::read(&p2c, &mut go), Ok(1)) {
        // SAFETY: see intermediate().
        unsafe { libc::_exit(1) }
    }
    // Drop every inherited descriptor: above all the creator's flock on
    // pause.lock, which would otherwise be held for the pause process's life.
    // SAFETY: close_range on our own descriptor table.
    let closed = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) } == 0;
    if !closed {
        // Kernels before 5.9 (or a seccomp filter) refuse close_range:
        // close what /proc lists, collected first so the directory's own
        // descriptor is not closed under the iterator.
        let fds: Vec<i32> = fs::read_dir("/proc/self/fd")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        for fd in fds.into_iter().filter(|fd| *fd > 2) {
            // SAFETY: closing our own descriptors; a stale number fails harmlessly.
            unsafe { libc::close(fd) };
        }
    }
    // SAFETY: plain syscalls on this process's own state.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
        libc::chdir(c"/".as_ptr());
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        loop {
            libc::pause();
        }
    }
}

/// Rewrites the process's own argument area so `ps` shows `hutch-pause`
/// rather than the command line of whichever command forked it (the
/// setproctitle technique; only the pause process does this).
fn retitle(title: &[u8]) {
    let Ok(stat) = fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else {
        return;
    };
    // arg_start and arg_end are fields 48 and 49; `rest` starts at field 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|v| v.parse::<usize>().ok()),
        fields.get(46).and_then(|v| v.parse::<usize>().ok()),
    ) else {
        return;
    };
    if end <= start || end - start <= title.len() {
        return;
    }
    // SAFETY: [start, end) is this process's own argv area, mapped and
    // writable for its whole life; nothing reads argv in the pause process.
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, end - start);
        area.fill(0);
        area[..title.len()].copy_from_slice(title);
    }
}

fn write_maps(
    pid: i32,
    maps: &IdMappings,
    uid: u32,
    gid: u32,
    writer: &MapWriter,
) -> Result<(), PauseError> {
    let uid_single = maps.uid.len() == 1 && maps.uid[0].size == 1;
    let gid_single = maps.gid.len() == 1 && maps.gid[0].size == 1;
    // Order matters: setgroups must be denied before an unprivileged gid_map
    // write, and newgidmap refuses a process whose setgroups is denied.
    if gid_single {
        write_proc(pid, "setgroups", "deny")?;
        write_proc(pid, "gid_map", &format!("0 {gid} 1\n"))?;
    } else {
        run_helper(
            pid,
            "gid",
            writer.newgidmap.as_deref(),
            &maps.newgidmap_args(),
        )?;
    }
    if uid_single {
        write_proc(pid, "uid_map", &format!("0 {uid} 1\n"))?;
    } else {
        run_helper(
            pid,
            "uid",
            writer.newuidmap.as_deref(),
            &maps.newuidmap_args(),
        )?;
    }
    Ok(())
}

fn write_proc(pid: i32, file: &'static str, content: &str) -> Result<(), PauseError> {
    let path = format!("/proc/{pid}/{file}");
    fs::write(&path, content).map_err(|e| PauseError::Map {
        kind: if file == "uid_map" { "uid" } else { "gid" },
        pid,
        helper: format!("a direct write of {path}"),
        detail: e.to_string(),
    })
}

fn run_helper(
    pid: i32,
    kind: &'static str,
    helper: Option<&Path>,
    args: &[String],
) -> Result<(), PauseError> {
    let name = if kind == "uid" {
        "newuidmap"
    } else {
        "newgidmap"
    };
    let Some(helper) = helper else {
        return Err(PauseError::Map {
            kind,
            pid,
            helper: name.to_owned(),
            detail: format!(
                "{name} is not installed; install the uidmap package (apt-get install uidmap)"
            ),
        });
    };
    let out = Command::new(helper)
        .arg(pid.to_string())
        .args(args)
        .output()
        .map_err(|e| PauseError::Map {
            kind,
            pid,
            helper: helper.display().to_string(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(PauseError::Map {
            kind,
            pid,
            helper: format!("{} {}", helper.display(), args.join(" ")),
            detail: format!(
                "{} ({}); check that /etc/sub{kind} lists these ranges for you",
                String::from_utf8_lossy(&out.stderr).trim(),
                out.status
            ),
        });
    }
    Ok(())
}

/// Reads the maps the kernel actually holds for the pause process.
pub fn current_maps(pid: i32) -> Option<(Vec<idmap::IdMap>, Vec<idmap::IdMap>)> {
    let uid =
        idmap::parse_proc_map(&fs::read_to_string(format!("/proc/{pid}/uid_map")).ok()?).ok()?;
    let gid =
        idmap::parse_proc_map(&fs::read_to_string(format!("/proc/{pid}/gid_map")).ok()?).ok()?;
    Some((uid, gid))
}

/// Processes of `uid`, other than the pause process, that live in its user
/// namespace: containers, monitors, shells from `hutch unshare`.
pub fn namespace_members(pause_pid: i32, uid: u32) -> Vec<i32> {
    let Ok(target) = fs::metadata(format!("/proc/{pause_pid}/ns/user")) else {
        return Vec::new();
    };
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != pause_pid && pid != me)
        .filter(|pid| fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid))
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/ns/user"))
                .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
        })
        .collect()
}

/// Ends the pause process named by `record`, if it is still ours.
pub fn terminate(record: &PauseRecord, uid: u32) -> bool {
    if !is_alive(record, uid) {
        return false;
    }
    // A pidfd pins the process we validated, so a pid reused between the
    // check and the signal cannot receive it.
    let Some(pid) = rustix::process::Pid::from_raw(record.pid) else {
        return false;
    };
    match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => {
            if !is_alive(record, uid) {
                return false;
            }
            rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL).is_ok()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let rec = PauseRecord {
            pid: 4242,
            start_time: 99,
            subuid: FileStamp {
                dev: 1,
                ino: 2,
                mtime_ns: 3,
                size: 4,
            },
            subgid: FileStamp::default(),
        };
        let text = rec.encode();
        assert!(
            text.starts_with("4242\n"),
            "first line is the bare pid, as Podman's"
        );
        assert_eq!(PauseRecord::decode(&text), Some(rec));
    }

    #[test]
    fn torn_or_hostile_records_are_rejected() {
        assert_eq!(PauseRecord::decode(""), None);
        assert_eq!(PauseRecord::decode("12"), None, "no start time");
        assert_eq!(
            PauseRecord::decode("1\nstart_time 5\nsubuid 0:0:0:0\nsubgid 0:0:0:0\n"),
            None,
            "pid 1"
        );
        assert_eq!(PauseRecord::decode("-5\nstart_time 5\n"), None);
        assert_eq!(
            PauseRecord::decode("12\nstart_time x\nsubuid 0:0:0:0\nsubgid 0:0:0:0"),
            None
        );
        assert_eq!(
            PauseRecord::decode("12\nstart_time 5\nsubuid 0:0:0\nsubgid 0:0:0:0"),
            None
        );
    }

    #[test]
    fn proc_stat_with_odd_comm() {
        let line = "123 (a) b (c)) S 1 123 123 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 777 1000 10";
        let st = ProcStat::parse(line).unwrap();
        assert_eq!(st.comm, "a) b (c)");
        assert_eq!(st.state, 'S');
        assert_eq!(st.start_time, 777);
        assert_eq!(ProcStat::parse("garbage"), None);
    }

    #[test]
    fn own_process_is_not_a_pause_process() {
        let me = std::process::id() as i32;
        let st = ProcStat::read(me).unwrap();
        let rec = PauseRecord {
            pid: me,
            start_time: st.start_time,
            subuid: FileStamp::default(),
            subgid: FileStamp::default(),
        };
        // Right pid and start time but the wrong name: a reused pid.
        assert!(!is_alive(&rec, rustix::process::getuid().as_raw()));
    }

    #[test]
    fn missing_file_stamp_is_zero() {
        assert_eq!(
            FileStamp::of(Path::new("/nonexistent/hutch")),
            FileStamp::default()
        );
        assert_ne!(FileStamp::of(Path::new("/proc/self/stat")).ino, 0);
    }
}
