//! Holding the namespace without a pause process (Linux >= 6.18).
//!
//! Since 6.18 nsfs files have file handles (`name_to_handle_at`, type
//! `FILEID_NSFS`): 16 bytes naming a namespace by its 64-bit id, which the
//! kernel never reuses (an inode number can be). Podman 6 stores the
//! handles of its user and mount namespace and reopens them with
//! `open_by_handle_at(FD_NSFS_ROOT, ...)` instead of keeping a pause
//! process; hutch does the same behind the same kind of opt-in
//! (`HUTCH_NO_PAUSE_PROCESS=1`, Podman's `PODMAN_NO_PAUSE_PROCESS`).
//!
//! Two kernel facts shape this module:
//! - A handle pins nothing. The namespaces live while some process is in
//!   them: this command, a `hutch unshare` shell, and above all the monitor
//!   of every running container. With none left the handles go stale and
//!   the next command creates the namespaces again, as Podman does (the
//!   mounts in the old mount namespace went with it, and nothing that ran
//!   needed them).
//! - Opening a handle is refused (ESTALE) to a caller that is not already
//!   in the namespace unless it has CAP_SYS_ADMIN in the initial user
//!   namespace: the "tighten permission checks for handle opening" change
//!   that stable 6.18 kernels carry (6.18.44 here), even for the
//!   namespace's owner. An unprivileged command therefore cannot join by
//!   handle alone. It uses the handles as the namespace's identity
//!   instead: it finds a live member of the user's own uid (the process
//!   that last served, then a scan of /proc), opens that process's
//!   /proc/PID/ns files, and joins only when their handles equal the
//!   recorded ones, so neither a reused pid nor a reused inode number can
//!   send it into another namespace. The direct open is still tried first,
//!   for kernels and callers that allow it.
//!
//! The record (`ns.handles` in the runtime directory, 0600, trusted only
//! when owned by the user) also carries the subuid/subgid stamps that
//! `pause.pid` carries.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::pause::{FileStamp, PauseError, ProcStat};

/// The record's file name in the runtime directory.
pub const RECORD_FILE: &str = "ns.handles";

/// `FD_NSFS_ROOT` of linux/fcntl.h: the nsfs root as the mount fd of
/// `open_by_handle_at`.
const FD_NSFS_ROOT: i32 = -10003;
/// `FILEID_NSFS` of linux/exportfs.h.
const FILEID_NSFS: i32 = 0xf1;
/// `MAX_HANDLE_SZ`: a bound on what a handle (or a record line) may hold.
const MAX_HANDLE_SZ: usize = 128;

/// One namespace's file handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsHandle {
    pub handle_type: i32,
    pub bytes: Vec<u8>,
}

#[repr(C)]
struct RawHandle {
    handle_bytes: u32,
    handle_type: i32,
    f_handle: [u8; MAX_HANDLE_SZ],
}

impl NsHandle {
    /// The handle of the namespace file open at `fd`.
    pub fn of_fd(fd: impl AsFd) -> io::Result<NsHandle> {
        let mut raw = RawHandle {
            handle_bytes: MAX_HANDLE_SZ as u32,
            handle_type: 0,
            f_handle: [0; MAX_HANDLE_SZ],
        };
        let mut mount_id: i32 = 0;
        // SAFETY: raw is a file_handle with room for MAX_HANDLE_SZ bytes, as
        // handle_bytes says; the path is an empty C string with AT_EMPTY_PATH.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_name_to_handle_at,
                fd.as_fd().as_raw_fd(),
                c"".as_ptr(),
                &mut raw as *mut RawHandle,
                &mut mount_id as *mut i32,
                libc::AT_EMPTY_PATH,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let len = (raw.handle_bytes as usize).min(MAX_HANDLE_SZ);
        Ok(NsHandle {
            handle_type: raw.handle_type,
            bytes: raw.f_handle[..len].to_vec(),
        })
    }

    /// The handle of a namespace file such as /proc/self/ns/user.
    pub fn of_path(path: &Path) -> io::Result<NsHandle> {
        NsHandle::of_fd(open_ns(path)?)
    }

    /// Opens the namespace by handle. ESTALE means gone, or (see the module
    /// comment) not openable by this caller.
    pub fn open(&self) -> io::Result<OwnedFd> {
        let mut raw = RawHandle {
            handle_bytes: self.bytes.len() as u32,
            handle_type: self.handle_type,
            f_handle: [0; MAX_HANDLE_SZ],
        };
        raw.f_handle[..self.bytes.len()].copy_from_slice(&self.bytes);
        // SAFETY: raw is a valid file_handle; the fd returned is new and ours.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_open_by_handle_at,
                FD_NSFS_ROOT,
                &mut raw as *mut RawHandle,
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor to us.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    fn encode(&self) -> String {
        let hex: String = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{} {hex}", self.handle_type)
    }

    fn decode(s: &str) -> Option<NsHandle> {
        let (ty, hex) = s.split_once(' ')?;
        if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 2 * MAX_HANDLE_SZ {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(NsHandle {
            handle_type: ty.parse().ok()?,
            bytes,
        })
    }
}

fn open_ns(path: &Path) -> io::Result<OwnedFd> {
    Ok(fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)?
        .into())
}

/// Whether the kernel gives namespaces file handles (Linux >= 6.18).
pub fn supported() -> bool {
    NsHandle::of_path(Path::new("/proc/self/ns/user")).is_ok_and(|h| h.handle_type == FILEID_NSFS)
}

/// What `ns.handles` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleRecord {
    pub user: NsHandle,
    pub mnt: NsHandle,
    pub subuid: FileStamp,
    pub subgid: FileStamp,
    /// A member that served a join before (pid, start time): tried before
    /// a scan of /proc. Only a hint; the handles decide.
    pub hint: Option<(i32, u64)>,
}

impl HandleRecord {
    pub fn encode(&self) -> String {
        let mut text = format!(
            "user {}\nmnt {}\nsubuid {}\nsubgid {}\n",
            self.user.encode(),
            self.mnt.encode(),
            self.subuid.encode(),
            self.subgid.encode()
        );
        if let Some((pid, start)) = self.hint {
            text.push_str(&format!("hint {pid} {start}\n"));
        }
        text
    }

    /// `None` for anything but a complete record.
    pub fn decode(s: &str) -> Option<HandleRecord> {
        let (mut user, mut mnt, mut subuid, mut subgid, mut hint) = (None, None, None, None, None);
        for line in s.lines() {
            let (key, value) = line.split_once(' ')?;
            match key {
                "user" => user = NsHandle::decode(value),
                "mnt" => mnt = NsHandle::decode(value),
                "subuid" => subuid = FileStamp::decode(value),
                "subgid" => subgid = FileStamp::decode(value),
                "hint" => {
                    let (pid, start) = value.split_once(' ')?;
                    hint = Some((pid.parse().ok()?, start.parse().ok()?));
                }
                _ => {}
            }
        }
        Some(HandleRecord {
            user: user?,
            mnt: mnt?,
            subuid: subuid?,
            subgid: subgid?,
            hint,
        })
    }

    /// Reads the record, trusting it only when the file belongs to `uid`
    /// (and is small: 4 KiB bounds a record several times over).
    pub fn read(path: &Path, uid: u32) -> Option<HandleRecord> {
        HandleRecord::decode(&crate::record::read_owned(path, uid)?)
    }

    /// Write-then-rename (see `record::write_atomic`).
    pub fn write(&self, path: &Path) -> Result<(), PauseError> {
        crate::record::write_atomic(path, &self.encode())
    }

    /// The handles of the namespaces this process is in.
    pub fn of_self(subuid: FileStamp, subgid: FileStamp) -> io::Result<HandleRecord> {
        Ok(HandleRecord {
            user: NsHandle::of_path(Path::new("/proc/self/ns/user"))?,
            mnt: NsHandle::of_path(Path::new("/proc/self/ns/mnt"))?,
            subuid,
            subgid,
            hint: None,
        })
    }
}

/// Errors joining by handle.
#[derive(Debug, thiserror::Error)]
pub enum HandleJoinError {
    /// No process holds the namespaces any more (or none that this caller
    /// may open): they are to be created again.
    #[error("the namespaces recorded in {} are gone", RECORD_FILE)]
    Gone,
    #[error("joining the user namespace by its file handle: {what}: {source}")]
    Setns {
        what: &'static str,
        source: io::Error,
    },
}

/// How a join found the namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `open_by_handle_at` opened them.
    Handle,
    /// Through this member process's /proc/PID/ns files.
    Member { pid: i32, start_time: u64 },
}

/// Joins the namespaces named by `record`. Must run while the process has
/// one thread. On `Gone` nothing was joined.
pub fn join(record: &HandleRecord, uid: u32) -> Result<Route, HandleJoinError> {
    let (user, mnt, route) = match (record.user.open(), record.mnt.open()) {
        (Ok(user), Ok(mnt)) => (user, mnt, Route::Handle),
        _ => find_member(record, uid).ok_or(HandleJoinError::Gone)?,
    };
    enter(&user, &mnt)?;
    Ok(route)
}

/// Joins the namespaces of process `pid` (the seed that just created them)
/// and returns their handles, taken from the descriptors that were joined.
pub fn join_process(pid: i32) -> Result<(NsHandle, NsHandle), HandleJoinError> {
    let open = |ns: &str, what| {
        let fd = open_ns(Path::new(&format!("/proc/{pid}/ns/{ns}")))
            .map_err(|source| HandleJoinError::Setns { what, source })?;
        let handle =
            NsHandle::of_fd(&fd).map_err(|source| HandleJoinError::Setns { what, source })?;
        Ok::<_, HandleJoinError>((fd, handle))
    };
    let (user, user_handle) = open("user", "name_to_handle_at(user)")?;
    let (mnt, mnt_handle) = open("mnt", "name_to_handle_at(mnt)")?;
    enter(&user, &mnt)?;
    Ok((user_handle, mnt_handle))
}

fn enter(user: &OwnedFd, mnt: &OwnedFd) -> Result<(), HandleJoinError> {
    let setns = |fd: &OwnedFd, kind, what| {
        rustix::thread::move_into_link_name_space(fd.as_fd(), Some(kind)).map_err(|e| {
            HandleJoinError::Setns {
                what,
                source: e.into(),
            }
        })
    };
    // The open descriptors pin both namespaces, so the second setns cannot
    // miss even if the process they came from exits now.
    setns(user, rustix::thread::LinkNameSpaceType::User, "setns(user)")?;
    setns(mnt, rustix::thread::LinkNameSpaceType::Mount, "setns(mnt)")
}

/// A live process of `uid` whose user and mount namespaces have the
/// recorded handles, with its namespace files open. The hint first, then
/// every process of the user.
fn find_member(record: &HandleRecord, uid: u32) -> Option<(OwnedFd, OwnedFd, Route)> {
    let me = std::process::id() as i32;
    let hinted = record
        .hint
        .filter(|(pid, start)| ProcStat::read(*pid).is_some_and(|s| s.start_time == *start))
        .map(|(pid, _)| pid);
    let scan = || {
        fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
    };
    hinted
        .into_iter()
        .chain(scan().filter(move |pid| Some(*pid) != hinted))
        .filter(|&pid| pid != me)
        .filter(|pid| fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid))
        .find_map(|pid| member_fds(record, pid))
}

/// Opens /proc/PID/ns/{user,mnt} and keeps them only when their handles
/// are the recorded ones: the handles are taken from the open descriptors,
/// so what is compared is exactly what would be joined.
fn member_fds(record: &HandleRecord, pid: i32) -> Option<(OwnedFd, OwnedFd, Route)> {
    let user = open_ns(Path::new(&format!("/proc/{pid}/ns/user"))).ok()?;
    if NsHandle::of_fd(&user).ok()? != record.user {
        return None;
    }
    let mnt = open_ns(Path::new(&format!("/proc/{pid}/ns/mnt"))).ok()?;
    if NsHandle::of_fd(&mnt).ok()? != record.mnt {
        return None;
    }
    let start_time = ProcStat::read(pid).map_or(0, |s| s.start_time);
    Some((user, mnt, Route::Member { pid, start_time }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> HandleRecord {
        HandleRecord {
            user: NsHandle {
                handle_type: FILEID_NSFS,
                bytes: vec![
                    0xb2, 0xd4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x58, 1, 0, 0xf0,
                ],
            },
            mnt: NsHandle {
                handle_type: FILEID_NSFS,
                bytes: vec![1, 2, 3, 4],
            },
            subuid: FileStamp {
                dev: 1,
                ino: 2,
                mtime_ns: 3,
                size: 4,
            },
            subgid: FileStamp::default(),
            hint: Some((4242, 77)),
        }
    }

    #[test]
    fn record_round_trip() {
        let rec = record();
        assert_eq!(HandleRecord::decode(&rec.encode()), Some(rec.clone()));
        let no_hint = HandleRecord { hint: None, ..rec };
        assert_eq!(HandleRecord::decode(&no_hint.encode()), Some(no_hint));
    }

    #[test]
    fn torn_or_hostile_records_are_rejected() {
        let text = record().encode();
        // Any line missing: no record.
        for skip in ["user ", "mnt ", "subuid ", "subgid "] {
            let torn: String = text
                .lines()
                .filter(|l| !l.starts_with(skip))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(HandleRecord::decode(&torn), None, "without {skip}");
        }
        assert_eq!(NsHandle::decode("241 abc"), None, "odd hex");
        assert_eq!(NsHandle::decode("241 zz"), None, "not hex");
        assert_eq!(NsHandle::decode("241 "), None, "empty");
        let long = "00".repeat(MAX_HANDLE_SZ + 1);
        assert_eq!(NsHandle::decode(&format!("241 {long}")), None, "too long");
    }

    #[test]
    fn own_namespaces_have_handles_on_this_kernel_or_none() {
        // On Linux >= 6.18 the handle of one's own namespace is an nsfs
        // handle that opens again to the same namespace; older kernels
        // refuse name_to_handle_at on nsfs, and `supported` says so.
        match NsHandle::of_path(Path::new("/proc/self/ns/user")) {
            Ok(h) if h.handle_type == FILEID_NSFS => {
                assert!(supported());
                let fd = h.open().expect("reopen own user namespace by handle");
                let a = fs::metadata("/proc/self/ns/user").unwrap();
                let b = fs::File::from(fd).metadata().unwrap();
                assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()));
            }
            _ => assert!(!supported()),
        }
    }
}
