//! The OCI runtime driver: which runtime runs a container (crun by default,
//! runc also), the command lines hutch gives it, and its errors passed on
//! to the user word for word.
//!
//! crun 1.8 (Debian 12) refuses hosts whose cgroup v2 mount at
//! /sys/fs/cgroup/unified still holds a controller ("cgroups in hybrid mode
//! not supported"), whatever the spec asks. Inside hutch's own mount
//! namespace that hierarchy can be hidden (a tmpfs over it), which is what
//! hybrid distributions effectively do; where it cannot, hutch falls back to
//! runc and says so once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no OCI runtime found: install crun or runc (apt-get install crun)")]
    NoneInstalled,
    #[error("OCI runtime {0:?} not found in $PATH")]
    NotFound(String),
    #[error("running {runtime} {action} for container {id}: {source}")]
    Spawn {
        runtime: String,
        action: &'static str,
        id: String,
        source: std::io::Error,
    },
    /// The runtime's own words, as Podman shows them.
    #[error("{runtime}: {message}")]
    Failed { runtime: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Crun,
    Runc,
    /// Another OCI-compatible runtime given by path or name.
    Other,
}

/// A runtime binary and where it keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRuntime {
    pub name: String,
    pub path: PathBuf,
    pub kind: Kind,
    /// `--root`: the runtime's state directory, inside hutch's runtime dir
    /// so that it is private to the user.
    pub state_root: PathBuf,
    /// No cgroup of the container's own (hybrid and v1 hosts, rootless).
    pub cgroups_disabled: bool,
    /// Global flags from `--runtime-flag` (Podman's), leading `--` added.
    pub extra_flags: Vec<String>,
}

/// The CRIU side of `checkpoint` and `restore`.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointArgs<'a> {
    pub image_path: &'a Path,
    pub work_path: &'a Path,
    pub leave_running: bool,
    pub tcp_established: bool,
    /// `--file-locks`: CRIU dumps and restores held file locks.
    pub file_locks: bool,
    /// `--pre-dump`: memory only, the container runs on (Podman's
    /// `--pre-checkpoint`).
    pub pre_dump: bool,
    /// `--parent-path`: the pre-dump this dump builds on, relative to
    /// `image_path` as Podman passes it (`../pre-checkpoint`).
    pub parent_path: Option<&'a Path>,
}

/// What selection looked at.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// Paths of installed runtimes, by name.
    pub installed: Vec<(String, PathBuf)>,
    /// /sys/fs/cgroup/unified exists and lists controllers.
    pub hybrid_with_controllers: bool,
    /// That hierarchy is hidden in hutch's mount namespace.
    pub unified_hidden: bool,
}

/// Picks the runtime: the one asked for (`--runtime`, containers.conf), else
/// crun, else runc. Returns a note to print once when the choice differs
/// from what the user would expect.
pub fn select(
    requested: Option<&str>,
    facts: &HostFacts,
    state_base: &Path,
    cgroups_disabled: bool,
) -> Result<(OciRuntime, Option<String>), RuntimeError> {
    let find = |name: &str| {
        facts
            .installed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
    };
    let make = |name: &str, path: PathBuf| OciRuntime {
        kind: match name {
            "crun" => Kind::Crun,
            "runc" => Kind::Runc,
            _ => Kind::Other,
        },
        state_root: state_base.join(name),
        name: name.to_owned(),
        path,
        cgroups_disabled,
        extra_flags: Vec::new(),
    };
    let crun_refuses = facts.hybrid_with_controllers && !facts.unified_hidden;
    if let Some(req) = requested {
        let name = Path::new(req)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| req.to_owned());
        let path = if req.contains('/') {
            PathBuf::from(req)
        } else {
            find(req).ok_or_else(|| RuntimeError::NotFound(req.to_owned()))?
        };
        let note = (name == "crun" && crun_refuses).then(|| {
            "crun refuses this host's hybrid cgroup layout (a controller sits in /sys/fs/cgroup/unified); \
             use --runtime runc"
                .to_owned()
        });
        return Ok((make(&name, path), note));
    }
    match (find("crun"), find("runc")) {
        (Some(_), Some(runc)) if crun_refuses => Ok((
            make("runc", runc),
            Some(
                "using runc: crun refuses this host's hybrid cgroup layout (a controller sits in \
                 /sys/fs/cgroup/unified)"
                    .to_owned(),
            ),
        )),
        (Some(crun), _) => Ok((make("crun", crun), None)),
        (None, Some(runc)) => Ok((make("runc", runc), None)),
        (None, None) => Err(RuntimeError::NoneInstalled),
    }
}

/// Reads the facts selection needs from the host.
pub fn host_facts() -> HostFacts {
    let installed = ["crun", "runc"]
        .iter()
        .filter_map(|n| crate::host::tools::find(n).map(|p| (n.to_string(), p)))
        .collect();
    let controllers =
        std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers").unwrap_or_default();
    HostFacts {
        installed,
        hybrid_with_controllers: !controllers.trim().is_empty(),
        unified_hidden: false,
    }
}

impl OciRuntime {
    fn global_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--root".into(), self.state_root.clone().into()];
        if self.kind == Kind::Crun && self.cgroups_disabled {
            args.push("--cgroup-manager=disabled".into());
        }
        args.extend(self.extra_flags.iter().map(OsString::from));
        args
    }

    /// `create`: the container exists, its process waits for `start`.
    pub fn create_args(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        self.bundle_args(&["create"], id, bundle, pid_file, console_socket)
    }

    /// `run --detach`: `create` and `start` in one runtime process, for
    /// containers with nothing to do between the two.
    pub fn run_detached_args(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        self.bundle_args(&["run", "--detach"], id, bundle, pid_file, console_socket)
    }

    fn bundle_args(
        &self,
        verb: &[&str],
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        let mut args = self.global_args();
        args.extend(verb.iter().map(OsString::from));
        args.extend([
            "--bundle".into(),
            bundle.as_os_str().to_owned(),
            "--pid-file".into(),
            pid_file.as_os_str().to_owned(),
        ]);
        if let Some(sock) = console_socket {
            args.extend(["--console-socket".into(), sock.as_os_str().to_owned()]);
        }
        args.push(id.into());
        args
    }

    /// `checkpoint`: CRIU dumps the container into `image_path` (its log,
    /// `dump.log`, goes to `work_path`); without `leave_running` the
    /// container's processes are gone afterwards.
    pub fn checkpoint_args(&self, id: &str, c: &CheckpointArgs<'_>) -> Vec<OsString> {
        let mut args = self.global_args();
        args.extend([
            "checkpoint".into(),
            "--image-path".into(),
            c.image_path.as_os_str().to_owned(),
            "--work-path".into(),
            c.work_path.as_os_str().to_owned(),
        ]);
        // A pre-dump leaves the container running by itself.
        if c.leave_running && !c.pre_dump {
            args.push("--leave-running".into());
        }
        if c.tcp_established {
            args.push("--tcp-established".into());
        }
        if c.file_locks {
            args.push("--file-locks".into());
        }
        if c.pre_dump {
            args.push("--pre-dump".into());
        } else if let Some(parent) = c.parent_path {
            args.extend(["--parent-path".into(), parent.as_os_str().to_owned()]);
        }
        args.push(id.into());
        args
    }

    /// `restore --detach`: the container is created from the bundle and its
    /// processes from the CRIU images, then left running under the caller
    /// (the monitor, whose pipes become the restored stdio, as conmon's
    /// do). `restore.log` goes to `work_path`.
    pub fn restore_args(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
        r: &CheckpointArgs<'_>,
    ) -> Vec<OsString> {
        let mut args = self.global_args();
        args.extend([
            "restore".into(),
            "--detach".into(),
            "--image-path".into(),
            r.image_path.as_os_str().to_owned(),
            "--work-path".into(),
            r.work_path.as_os_str().to_owned(),
            "--bundle".into(),
            bundle.as_os_str().to_owned(),
            "--pid-file".into(),
            pid_file.as_os_str().to_owned(),
        ]);
        if let Some(sock) = console_socket {
            args.extend(["--console-socket".into(), sock.as_os_str().to_owned()]);
        }
        if r.tcp_established {
            args.push("--tcp-established".into());
        }
        if r.file_locks {
            args.push("--file-locks".into());
        }
        args.push(id.into());
        args
    }

    /// Whether this runtime has checkpoint/restore: Podman asks `RUNTIME
    /// checkpoint --help` too. crun built without libcriu (Debian 12's
    /// 1.8.1) has no such command at all.
    pub fn supports_checkpoint(&self) -> bool {
        Command::new(&self.path)
            .args(["checkpoint", "--help"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn start_args(&self, id: &str) -> Vec<OsString> {
        let mut args = self.global_args();
        args.extend(["start".into(), id.into()]);
        args
    }

    pub fn kill_args(&self, id: &str, signal: &str, all: bool) -> Vec<OsString> {
        let mut args = self.global_args();
        args.push("kill".into());
        if all {
            args.push("--all".into());
        }
        args.extend([id.into(), signal.into()]);
        args
    }

    /// `update --resources FILE`: new limits for a running container.
    pub fn update_args(&self, id: &str, resources: &Path) -> Vec<OsString> {
        let mut args = self.global_args();
        args.extend([
            "update".into(),
            "--resources".into(),
            resources.as_os_str().to_owned(),
            id.into(),
        ]);
        args
    }

    /// Whether the runtime keeps a record of container `id` (its state
    /// directory): only then is a `delete` worth a process.
    pub fn has_state(&self, id: &str) -> bool {
        self.state_root.join(id).exists()
    }

    /// Makes the runtime forget container `id` for good, whatever state its
    /// record is in: `delete --force` kills a process the runtime still
    /// holds (the init of a `create` whose monitor was killed waits for
    /// `start` forever, holding the container's mount). A record the
    /// runtime cannot read (its `create` killed half way) goes with the
    /// process named in `pid_file` (the runtime writes it once the init
    /// exists), when that process is the runtime's own for this container.
    pub fn forget(&self, id: &str, pid_file: &Path) -> Result<(), RuntimeError> {
        let forgotten = self.forget_state(id, pid_file);
        // A `create` killed half way leaves the child it forked (the
        // container's init to be, still the runtime's program, waiting on
        // exec.fifo), which its state may not name yet: found by program.
        self.kill_unrecorded(id);
        forgotten
    }

    /// [`forget`](Self::forget) for a container whose `create` finished
    /// (its start is on record): no child of a killed `create` can be
    /// left, so no sweep of every process on the host.
    pub fn forget_created(&self, id: &str, pid_file: &Path) -> Result<(), RuntimeError> {
        self.forget_state(id, pid_file)
    }

    fn forget_state(&self, id: &str, pid_file: &Path) -> Result<(), RuntimeError> {
        if !self.has_state(id) {
            return Ok(());
        }
        let deleted = self.run("delete", id, &self.delete_args(id, true));
        if !self.has_state(id) {
            return Ok(());
        }
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .filter(|&pid| pid > 0 && runtime_process_of(pid, id))
        {
            // SAFETY: kill(2) of the runtime's process for this container,
            // checked by its command line just before.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        match std::fs::remove_dir_all(self.state_root.join(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(_) => deleted.map(|_| ()),
        }
    }

    /// SIGKILLs this user's processes that run the runtime's program for
    /// container `id` (found by program and argument, owner checked):
    /// what a killed `create` forked before it recorded anything.
    pub fn kill_unrecorded(&self, id: &str) {
        let me = rustix::process::geteuid().as_raw();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        let own = std::process::id();
        for e in procs.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if pid as u32 == own {
                continue;
            }
            // The command line first (anyone's is readable, in one read):
            // every host process is looked at, and nearly none runs the
            // runtime, so the owner is read only for the few that do.
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let mut args = cmdline.split(|b| *b == 0);
            let program = args.next().unwrap_or_default();
            // The owner from `status`, not the directory's: a runtime
            // child that made itself non-dumpable (crun's init while it
            // sets the container up) has its /proc directory owned by the
            // initial namespace's root, which reads as `nobody` here.
            if program == self.path.as_os_str().as_encoded_bytes()
                && args.any(|a| a == id.as_bytes())
                && real_uid(pid) == Some(me)
            {
                // SAFETY: kill(2) of a process of this user running the
                // runtime for this container, checked just before.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    pub fn delete_args(&self, id: &str, force: bool) -> Vec<OsString> {
        let mut args = self.global_args();
        args.push("delete".into());
        if force {
            args.push("--force".into());
        }
        args.push(id.into());
        args
    }

    /// `exec --detach`: the process described in `process` (a JSON file)
    /// joins container `id`; the runtime returns once it runs.
    pub fn exec_args(
        &self,
        id: &str,
        process: &Path,
        pid_file: &Path,
        console_socket: Option<&Path>,
    ) -> Vec<OsString> {
        let mut args = self.global_args();
        args.extend([
            "exec".into(),
            "--detach".into(),
            "--process".into(),
            process.as_os_str().to_owned(),
            "--pid-file".into(),
            pid_file.as_os_str().to_owned(),
        ]);
        if let Some(sock) = console_socket {
            args.extend(["--console-socket".into(), sock.as_os_str().to_owned()]);
        }
        args.push(id.into());
        args
    }

    /// Runs the runtime with `args` and no terminal, returning its output;
    /// a failure carries the runtime's own message.
    pub fn run(
        &self,
        action: &'static str,
        id: &str,
        args: &[OsString],
    ) -> Result<Output, RuntimeError> {
        let out = Command::new(&self.path)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| RuntimeError::Spawn {
                runtime: self.name.clone(),
                action,
                id: id.to_owned(),
                source,
            })?;
        if !out.status.success() {
            return Err(RuntimeError::Failed {
                runtime: self.name.clone(),
                message: runtime_message(&String::from_utf8_lossy(&out.stderr)),
            });
        }
        Ok(out)
    }
}

/// Whether process `pid` is a runtime process of container `id`: a
/// runtime's init before it executes the container's command still has the
/// runtime's command line, which names the container.
fn runtime_process_of(pid: i32, id: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == id.as_bytes()))
}

/// The useful line of a runtime's stderr (the monitor needs it too).
pub use hutch_monitor::frame::runtime_message;

/// The real uid of process `pid` as this process's user namespace sees it
/// (`/proc/PID/status`'s `Uid:` line).
fn real_uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(hybrid: bool, hidden: bool, names: &[&str]) -> HostFacts {
        HostFacts {
            installed: names
                .iter()
                .map(|n| (n.to_string(), PathBuf::from(format!("/usr/bin/{n}"))))
                .collect(),
            hybrid_with_controllers: hybrid,
            unified_hidden: hidden,
        }
    }

    #[test]
    fn crun_by_default_runc_on_hybrid_hosts() {
        let base = Path::new("/run/user/1000/hutch/runtime");
        let (rt, note) =
            select(None, &facts(false, false, &["crun", "runc"]), base, false).unwrap();
        assert_eq!((rt.kind, note), (Kind::Crun, None));
        assert_eq!(rt.state_root, base.join("crun"));
        let (rt, note) = select(None, &facts(true, false, &["crun", "runc"]), base, true).unwrap();
        assert_eq!(rt.kind, Kind::Runc);
        assert!(note.is_some_and(|n| n.contains("hybrid")));
        // Hidden in hutch's namespace: crun is fine again.
        let (rt, _) = select(None, &facts(true, true, &["crun", "runc"]), base, true).unwrap();
        assert_eq!(rt.kind, Kind::Crun);
        assert!(matches!(
            select(None, &facts(false, false, &[]), base, false),
            Err(RuntimeError::NoneInstalled)
        ));
    }

    #[test]
    fn requested_runtime_is_honoured_or_named() {
        let base = Path::new("/tmp/x");
        let (rt, note) = select(
            Some("crun"),
            &facts(true, false, &["crun", "runc"]),
            base,
            true,
        )
        .unwrap();
        assert_eq!(rt.kind, Kind::Crun);
        assert!(note.is_some(), "warned that crun will refuse");
        let err = select(Some("youki"), &facts(false, false, &["crun"]), base, false).unwrap_err();
        assert!(err.to_string().contains("youki"));
        let (rt, _) = select(
            Some("/opt/bin/youki"),
            &facts(false, false, &[]),
            base,
            false,
        )
        .unwrap();
        assert_eq!(
            (rt.kind, rt.path),
            (Kind::Other, PathBuf::from("/opt/bin/youki"))
        );
    }

    #[test]
    fn command_lines() {
        let (rt, _) = select(None, &facts(false, false, &["crun"]), Path::new("/r"), true).unwrap();
        let args: Vec<String> = rt
            .create_args(
                "abc",
                Path::new("/b"),
                Path::new("/b/pid"),
                Some(Path::new("/b/console.sock")),
            )
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--root",
                "/r/crun",
                "--cgroup-manager=disabled",
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/b/pid",
                "--console-socket",
                "/b/console.sock",
                "abc"
            ]
        );
        let run: Vec<String> = rt
            .run_detached_args("abc", Path::new("/b"), Path::new("/b/pid"), None)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            run[2..],
            [
                "--cgroup-manager=disabled",
                "run",
                "--detach",
                "--bundle",
                "/b",
                "--pid-file",
                "/b/pid",
                "abc"
            ]
        );
        let kill: Vec<String> = rt
            .kill_args("abc", "TERM", true)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kill[kill.len() - 4..], ["kill", "--all", "abc", "TERM"]);
    }

    #[test]
    fn runtime_messages_are_reduced_to_their_text() {
        assert_eq!(
            runtime_message(
                "time=\"x\" level=error msg=\"exec: \\\"nope\\\": executable file not found in $PATH\"\n"
            ),
            "exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(
            runtime_message(
                "cgroups in hybrid mode not supported, drop all controllers from cgroupv2\n"
            ),
            "cgroups in hybrid mode not supported, drop all controllers from cgroupv2"
        );
        assert_eq!(runtime_message(""), "failed without a message");
    }
}
