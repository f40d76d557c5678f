//! Shared harness for integration tests: runs the built `hutch` binary as an
//! unprivileged user, the way users run it.
//!
//! Under `cargo test` as root (CI, `sudo tests/run`), each command drops to
//! the test user that tests/setup-host.sh created (`hutch-test`, with
//! subordinate id ranges; `hutch-nosub`, without). As an ordinary user the
//! commands run as that user, and tests that need a second account or root to
//! build their fixture say they are skipped.
#![allow(dead_code)]

pub mod api;
pub mod images;
pub mod registry;
pub mod units;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const DEFAULT_USER: &str = "hutch-test";
pub const NOSUB_USER: &str = "hutch-nosub";

pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// An account the tests run hutch as.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl TestUser {
    /// The unprivileged user with subordinate ranges: `hutch-test` (or
    /// `$HUTCH_TEST_USER`) under root, the calling user otherwise.
    pub fn default_user() -> TestUser {
        if is_root() {
            let name = std::env::var("HUTCH_TEST_USER").unwrap_or_else(|_| DEFAULT_USER.to_owned());
            lookup(&name).unwrap_or_else(|| {
                panic!("test user {name} is missing: run tests/setup-host.sh as root")
            })
        } else {
            // SAFETY: getuid/getgid have no preconditions.
            let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
            let name = std::env::var("USER").unwrap_or_else(|_| uid.to_string());
            TestUser { name, uid, gid }
        }
    }

    /// A second, named account; only root can run commands as it.
    pub fn named(name: &str) -> Option<TestUser> {
        if !is_root() {
            eprintln!("skipped: needs root to run hutch as {name}");
            return None;
        }
        Some(lookup(name).unwrap_or_else(|| {
            panic!("test user {name} is missing: run tests/setup-host.sh as root")
        }))
    }

    pub fn root() -> Option<TestUser> {
        is_root().then(|| TestUser {
            name: "root".into(),
            uid: 0,
            gid: 0,
        })
    }

    /// This user's first range in `file` (/etc/subuid or /etc/subgid).
    pub fn sub_range(&self, file: &str) -> Option<(u32, u32)> {
        let text = fs::read_to_string(file).ok()?;
        text.lines().find_map(|l| {
            let mut parts = l.trim().split(':');
            let owner = parts.next()?;
            if owner != self.name && owner != self.uid.to_string() {
                return None;
            }
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
    }
}

fn lookup(name: &str) -> Option<TestUser> {
    let out = Command::new("id").arg("-u").arg(name).output().ok()?;
    let uid = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    let out = Command::new("id").arg("-g").arg(name).output().ok()?;
    let gid = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    Some(TestUser {
        name: name.to_owned(),
        uid,
        gid,
    })
}

/// The hutch binary, where the test user can execute it: cargo's target dir
/// may sit under root's private home, so under root a copy goes to /tmp.
pub fn hutch_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = PathBuf::from(env!("CARGO_BIN_EXE_hutch"));
        if !is_root() {
            return built;
        }
        // One copy per build, shared by every test binary of the run (a copy
        // per process filled /tmp): keyed by the build's size and mtime,
        // written under a temporary name and renamed into place.
        let monitor = PathBuf::from(env!("CARGO_BIN_EXE_hutch-monitor"));
        let stamp = |p: &Path| {
            let meta = fs::metadata(p).expect("stat a built binary");
            let t = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{t:x}-{:x}", meta.len())
        };
        let dir = PathBuf::from(format!(
            "/tmp/hutch-it-bin-{}-{}",
            stamp(&built),
            stamp(&monitor)
        ));
        fs::create_dir_all(&dir).expect("create binary dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod binary dir");
        // hutch finds its monitor beside itself: both are copied (the
        // monitor first, so a `hutch` that exists always has it).
        for (from, name) in [
            (monitor.as_path(), "hutch-monitor"),
            (built.as_path(), "hutch"),
        ] {
            let copy = dir.join(name);
            if !copy.exists() {
                let tmp = dir.join(format!("{name}.tmp-{}", std::process::id()));
                // A hard link where /tmp and the target dir share a file
                // system (no 300 MB per build); a copy elsewhere.
                if fs::hard_link(from, &tmp).is_err() {
                    fs::copy(from, &tmp).expect("copy a hutch binary");
                }
                fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
                    .expect("chmod a hutch binary");
                fs::rename(&tmp, &copy).expect("rename a hutch binary");
            }
        }
        dir.join("hutch")
    })
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// One test's private world: a home and an XDG_RUNTIME_DIR owned by the
/// user, so each test has its own namespace and pause process. Dropping it
/// ends every pause process it started and removes its files.
pub struct TestEnv {
    pub user: TestUser,
    pub root: PathBuf,
    pub home: PathBuf,
    pub xdg_runtime_dir: Option<PathBuf>,
    /// Extra environment for every hutch command of this test.
    pub vars: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new(user: TestUser) -> TestEnv {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let root = PathBuf::from(format!("/tmp/hutch-it-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("create test root");
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).expect("chmod test root");
        let home = root.join("home");
        let xdg = root.join("xdg");
        for dir in [&home, &xdg] {
            fs::create_dir(dir).expect("create test dir");
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).expect("chmod test dir");
            chown(dir, user.uid, user.gid);
        }
        // The runtime matrix: tests/run runs the container suites once with
        // the default runtime and once more with HUTCH_TEST_RUNTIME=runc,
        // chosen the way users choose it (containers.conf [engine] runtime).
        let env = TestEnv {
            user,
            root,
            home,
            xdg_runtime_dir: Some(xdg),
            vars: Vec::new(),
        };
        if let Ok(runtime) = std::env::var("HUTCH_TEST_RUNTIME")
            && !runtime.is_empty()
        {
            env.write_containers_conf(&format!("[engine]\nruntime = \"{runtime}\"\n"));
        }
        env
    }

    /// Writes the user's containers.conf (`~/.config/containers`).
    pub fn write_containers_conf(&self, text: &str) {
        let dir = self.home.join(".config/containers");
        fs::create_dir_all(&dir).expect("create containers.conf dir");
        fs::write(dir.join("containers.conf"), text).expect("write containers.conf");
        for d in [self.home.join(".config"), dir] {
            chown(&d, self.user.uid, self.user.gid);
        }
    }

    pub fn without_xdg_runtime_dir(mut self) -> TestEnv {
        self.xdg_runtime_dir = None;
        self
    }

    /// Where hutch keeps its runtime state for this environment.
    pub fn run_dir(&self) -> PathBuf {
        match &self.xdg_runtime_dir {
            Some(x) => x.join("hutch"),
            None => PathBuf::from(format!("/tmp/hutch-run-{}", self.user.uid)),
        }
    }

    pub fn pause_pid_file(&self) -> PathBuf {
        self.run_dir().join("pause.pid")
    }

    /// A `hutch` command as this environment's user, with a clean
    /// environment like a login shell's.
    pub fn hutch<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.hutch_at(hutch_bin(), args)
    }

    /// As [`TestEnv::hutch`], with the hutch binary at `bin`.
    pub fn hutch_at<I, S>(&self, bin: &Path, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("USER", &self.user.name)
            .env("LOGNAME", &self.user.name)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        if let Some(x) = &self.xdg_runtime_dir {
            cmd.env("XDG_RUNTIME_DIR", x);
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        if is_root() && self.user.uid != 0 {
            cmd.uid(self.user.uid).gid(self.user.gid);
        }
        cmd
    }

    /// Runs hutch and returns its output; panics only if it cannot start.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.hutch(args).output().expect("start hutch")
    }

    /// Runs hutch and requires success, returning stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        let shown: Vec<String> = args
            .clone()
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hutch {} failed ({}):\nstdout: {}\nstderr: {}",
            shown.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Live pause processes that belong to this environment (found by the
    /// HOME they inherited), whatever hutch's own records say.
    pub fn pause_pids(&self) -> Vec<i32> {
        let needle = format!("HOME={}", self.home.display());
        live_processes()
            .into_iter()
            .filter(|&pid| comm(pid).as_deref() == Some("hutch-pause"))
            .filter(|&pid| {
                fs::read(format!("/proc/{pid}/environ"))
                    .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                    .unwrap_or(false)
            })
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Containers first (a test that panicked mid-way leaves running
        // ones, whose monitors would outlive the test), bounded so that a
        // test that broke its own state on purpose cannot hang here.
        if !self.pause_pids().is_empty()
            && let Ok(mut child) = self
                .hutch(["rm", "-a", "-f", "-t", "0"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        {
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in self.pause_pids() {
            // SAFETY: plain kill of a process this test created.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = fs::remove_dir_all(&self.root);
        if self.xdg_runtime_dir.is_none() {
            let _ = fs::remove_dir_all(self.run_dir());
        }
    }
}

pub fn chown(path: &Path, uid: u32, gid: u32) {
    if is_root() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    }
}

pub fn owner(path: &Path) -> Option<u32> {
    fs::metadata(path).ok().map(|m| m.uid())
}

/// Pids of processes that are alive (not zombies).
pub fn live_processes() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| is_alive(pid))
        .collect()
}

pub fn is_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

pub fn comm(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Polls `cond` until it holds or `limit` passes; the way tests wait for
/// another process, never a fixed sleep.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Gives `cmd` the uid/gid of `user` when running as root.
pub fn as_user(cmd: &mut Command, user: &TestUser) {
    if is_root() && user.uid != 0 {
        cmd.uid(user.uid).gid(user.gid);
    }
}
