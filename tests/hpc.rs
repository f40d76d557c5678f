//! HPC hosts: a home on a network file system moves the default storage to
//! node-local disk (said once, shown by `info`, storage.conf still wins);
//! containers stay in the caller's cgroup. NFS cannot be served on the CI
//! host, so the home is made "NFS" through the documented test hook
//! `HUTCH_TEST_FSTYPE`.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use common::images::{busybox_rootfs, gzip, write_readable};
use common::*;
use serde_json::Value;

/// Removes a node-local store when the test ends, however it ends.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn nfs_home_env() -> TestEnv {
    let mut env = TestEnv::new(TestUser::default_user());
    env.vars.push((
        "HUTCH_TEST_FSTYPE".into(),
        format!("{}=nfs", env.home.display()),
    ));
    env
}

fn import_busybox(env: &TestEnv) -> std::process::Output {
    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    env.run([
        "import",
        "--change",
        "CMD=/bin/sh",
        &tar.display().to_string(),
        "busybox",
    ])
}

fn notices(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("using node-local storage"))
        .map(str::to_owned)
        .collect()
}

fn info(env: &TestEnv) -> Value {
    serde_json::from_str(&env.ok(["info", "--format", "json"])).expect("info json")
}

/// One test for everything that uses /var/tmp/hutch-$UID, which is the
/// same directory for every test of this user: run in parallel, two tests
/// would share it.
#[test]
fn nfs_home_moves_storage_to_node_local_disk_and_says_so_once() {
    if !is_root() {
        eprintln!("skipped: needs root to clean the node-local store of the test user");
        return;
    }
    let env = nfs_home_env();
    let uid = env.user.uid;
    let local = PathBuf::from(format!("/var/tmp/hutch-{uid}"));
    let fallback = PathBuf::from(format!("/tmp/hutch-{uid}"));
    let _cleanup = Cleanup(vec![local.clone(), fallback.clone()]);
    let _ = std::fs::remove_dir_all(&local);
    let _ = std::fs::remove_dir_all(&fallback);

    let out = import_busybox(&env);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = notices(&out);
    assert_eq!(said.len(), 1, "one line: {}", stderr(&out));
    let root = local.join("storage");
    assert!(
        said[0].contains("is on nfs") && said[0].contains(&root.display().to_string()),
        "{}",
        said[0]
    );
    // Once: later commands say nothing.
    let out = env.run(["run", "--rm", "busybox", "echo", "ran-local"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ran-local");
    assert!(notices(&out).is_empty(), "{}", stderr(&out));

    let meta = std::fs::symlink_metadata(&local).expect("node-local dir");
    assert!(meta.is_dir());
    assert_eq!(meta.uid(), uid);
    assert_eq!(meta.mode() & 0o777, 0o700);
    assert!(
        !env.home.join(".local/share/hutch/storage").exists(),
        "nothing stored on the 'NFS' home: {:?}",
        walk(&env.home)
    );

    let json = info(&env);
    let store = &json["store"];
    assert_eq!(store["graphRoot"], root.display().to_string());
    assert_eq!(store["graphRootRelocation"]["fileSystem"], "nfs");
    assert!(
        store["graphRootRelocation"]["notice"]
            .as_str()
            .is_some_and(|n| n.contains("node-local")),
        "{store:#}"
    );
    // The rest of the configuration stays: the run root is the usual one.
    assert_eq!(
        store["runRoot"],
        env.run_dir().join("storage").display().to_string()
    );

    let exported = env.ok(["unshare", "sh", "-c", "echo $CONTAINERS_GRAPHROOT"]);
    assert_eq!(exported.trim(), root.display().to_string());

    let check = env.ok(["system", "check"]);
    let line = check
        .lines()
        .find(|l| l.contains("graphroot"))
        .expect("graphroot line");
    assert!(
        line.starts_with("ok") && line.contains("node-local"),
        "{line}"
    );

    // A node-local directory someone else made is not used: the next
    // candidate is.
    drop(env);
    std::fs::remove_dir_all(&local).unwrap();
    std::fs::create_dir(&local).unwrap();
    std::fs::set_permissions(&local, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let env = nfs_home_env();
    let json = info(&env);
    assert_eq!(
        json["store"]["graphRoot"],
        fallback.join("storage").display().to_string(),
        "{:#}",
        json["store"]
    );
    assert_eq!(owner(&local), Some(0), "the foreign directory is untouched");
}

#[test]
fn storage_conf_and_root_win_over_the_relocation() {
    let env = nfs_home_env();
    // A directory of the user's outside the "NFS" home.
    let configured = env.root.join("configured-store");
    std::fs::create_dir(&configured).unwrap();
    chown(&configured, env.user.uid, env.user.gid);
    let conf_dir = env.home.join(".config/containers");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("storage.conf"),
        format!("[storage]\ngraphroot = \"{}\"\n", configured.display()),
    )
    .unwrap();
    for d in [env.home.join(".config"), conf_dir] {
        chown(&d, env.user.uid, env.user.gid);
    }
    let json = info(&env);
    assert_eq!(json["store"]["graphRoot"], configured.display().to_string());
    assert_eq!(json["store"]["graphRootRelocation"], Value::Null);
    let out = import_busybox(&env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(notices(&out).is_empty(), "{}", stderr(&out));
    assert!(configured.join("images.json").exists());

    let elsewhere = env.root.join("flag-store");
    let shown = env.ok([
        "--root",
        &elsewhere.display().to_string(),
        "info",
        "--format",
        "{{.Store.GraphRoot}}",
    ]);
    assert_eq!(shown.trim(), elsewhere.display().to_string());
}

#[test]
fn a_local_home_is_not_moved() {
    let env = TestEnv::new(TestUser::default_user());
    let json = info(&env);
    assert_eq!(
        json["store"]["graphRoot"],
        env.home
            .join(".local/share/hutch/storage")
            .display()
            .to_string()
    );
    assert_eq!(json["store"]["graphRootRelocation"], Value::Null);
}

fn walk(p: &std::path::Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// A cgroup a batch scheduler made for a job: root's, as Slurm's are; the
/// scheduler (here the test, as root) puts the job's shell in it. Removed
/// at the end once empty.
struct JobCgroup {
    dirs: Vec<PathBuf>,
}

impl JobCgroup {
    fn new(name: &str) -> Option<JobCgroup> {
        let dirs: Vec<PathBuf> = ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"]
            .iter()
            .map(|h| PathBuf::from(h).join(name))
            .collect();
        for d in &dirs {
            if std::fs::create_dir(d).is_err() {
                eprintln!(
                    "skipped: cannot make {} (no v1 memory or unified hierarchy)",
                    d.display()
                );
                return None;
            }
        }
        // The job's own limit: 256 MiB.
        std::fs::write(dirs[0].join("memory.limit_in_bytes"), "268435456").unwrap();
        Some(JobCgroup { dirs })
    }

    fn holds(&self, pid: i32) -> bool {
        self.dirs.iter().all(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == pid.to_string()))
        })
    }
}

impl Drop for JobCgroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            // Emptied by the test's end (container removed, pause killed).
            wait_until(std::time::Duration::from_secs(10), || {
                std::fs::remove_dir(d).is_ok()
            });
        }
    }
}

/// A stand-in for a Slurm job: a cgroup in the v1 memory hierarchy and in
/// the unified one, with a memory limit, that the caller runs in. The
/// container, its monitor and the pause process stay in it, so the job's
/// limit and accounting cover them; hutch moves nothing out.
#[test]
fn a_container_started_from_a_job_stays_in_the_jobs_cgroup() {
    if !is_root() {
        eprintln!("skipped: needs root to make the job's cgroup");
        return;
    }
    let user = TestUser::default_user();
    let Some(job) = JobCgroup::new(&format!("hutch-it-job-{}", std::process::id())) else {
        return;
    };
    let env = TestEnv::new(user);
    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    // The job's shell: the scheduler (root) moves it into the job's
    // cgroups, then lets it run hutch.
    let in_job_output = |args: &str| {
        use std::io::Write as _;
        let script = format!("read go; exec {} {args}", hutch_bin().display());
        let mut cmd = env.hutch_at(std::path::Path::new("/bin/sh"), ["-c", script.as_str()]);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("start sh");
        for d in &job.dirs {
            std::fs::write(d.join("cgroup.procs"), child.id().to_string()).expect("enter the job");
        }
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        child.wait_with_output().expect("wait sh")
    };
    let in_job = |args: &str| {
        let out = in_job_output(args);
        assert!(
            out.status.success(),
            "{args}: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    };
    in_job(&format!("import {} busybox", tar.display()));
    let id = in_job("run -d busybox sleep 300");
    let id = id.trim();
    let pid: i32 = env
        .ok(["inspect", "--format", "{{.State.Pid}}", id])
        .trim()
        .parse()
        .expect("container pid");
    assert!(
        job.holds(pid),
        "the container's init is in the job's cgroups"
    );
    let ppid = |p: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        stat.rsplit_once(") ")?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    // Its monitor (an ancestor below pid 1) too.
    let mut p = pid;
    let mut ancestors_in_job = 0;
    while let Some(parent) = ppid(p).filter(|&x| x > 1) {
        if comm(parent).as_deref() == Some("hutch-monitor") {
            assert!(job.holds(parent), "the monitor is in the job's cgroups");
            ancestors_in_job += 1;
        }
        p = parent;
    }
    assert_eq!(ancestors_in_job, 1, "found the container's monitor");
    for pause in env.pause_pids() {
        assert!(
            job.holds(pause),
            "the pause process is in the job's cgroups"
        );
    }
    let reason = env.ok(["info", "--format", "{{.Host.CgroupManager}}"]);
    assert_eq!(reason.trim(), "none");
    env.ok(["rm", "-f", id]);

    // The job's 256 MiB apply, with no --memory: ~300 MB held by the
    // container's shell is OOM-killed, and the job's cgroup counts it.
    let oom_kills = || -> u64 {
        std::fs::read_to_string(job.dirs[0].join("memory.oom_control"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let before = oom_kills();
    let out = in_job_output(
        "run --rm busybox sh -c 'x=$(head -c 300000000 /dev/zero | tr \"\\0\" x); echo survived ${#x}'",
    );
    assert_eq!(
        out.status.code(),
        Some(137),
        "killed by the job's limit: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(!stdout(&out).contains("survived"), "{}", stdout(&out));
    assert!(oom_kills() > before, "the OOM kill is the job's");
    drop(env);
}

/// The test's own view of the host for ids from a directory service: a
/// private mount namespace (held by a shell the test ends by closing its
/// stdin) where /etc/nsswitch.conf says `subid: hutchtest`, /etc/subuid
/// and /etc/subgid lack the user's line, and libsubid_hutchtest.so (the
/// module of tests/fixtures/libsubid_hutchtest.c, compiled here) sits in
/// the library directory. newuidmap is setuid and dlopens the module by
/// name, so LD_LIBRARY_PATH cannot reach it: the module joins the library
/// directory through a read-only overlay of that namespace. The host's
/// files stay as they are for everyone else.
struct DirectoryHost {
    holder: std::process::Child,
    dir: PathBuf,
}

/// The module's range: disjoint from every range of /etc/subuid.
const DIRECTORY_START: u32 = 600_000;
const DIRECTORY_COUNT: u32 = 65_536;

impl DirectoryHost {
    fn new(user: &TestUser) -> Option<DirectoryHost> {
        use std::io::BufRead as _;
        use std::process::{Command, Stdio};
        let Some(cc) = ["/usr/bin/cc", "/usr/bin/gcc"]
            .iter()
            .find(|p| std::path::Path::new(p).exists())
        else {
            eprintln!("skipped: no C compiler (cc) to build the libsubid module");
            return None;
        };
        let dir = PathBuf::from(format!("/tmp/hutch-it-subid-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["lib", "etc"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let source = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/libsubid_hutchtest.c"
        );
        let module = dir.join("lib/libsubid_hutchtest.so");
        let out = Command::new(cc)
            .args(["-shared", "-fPIC", "-Wall", "-Werror", "-o"])
            .arg(&module)
            .arg(format!("-DSUBID_OWNER=\"{}\"", user.name))
            .arg(format!("-DSUBID_OWNER_UID={}", user.uid))
            .arg(format!("-DSUBID_START={DIRECTORY_START}UL"))
            .arg(format!("-DSUBID_COUNT={DIRECTORY_COUNT}UL"))
            .arg(source)
            .output()
            .expect("run cc");
        assert!(out.status.success(), "cc: {}", stderr(&out));
        std::fs::write(
            dir.join("etc/nsswitch.conf"),
            "passwd: files\ngroup: files\nshadow: files\nsubid: hutchtest\n",
        )
        .unwrap();
        for file in ["subuid", "subgid"] {
            let real = std::fs::read_to_string(format!("/etc/{file}")).unwrap_or_default();
            let without: String = real
                .lines()
                .filter(|l| l.split(':').next() != Some(user.name.as_str()))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(dir.join("etc").join(file), without).unwrap();
        }
        for p in [
            dir.clone(),
            dir.join("lib"),
            dir.join("etc"),
            module.clone(),
        ] {
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        let libdir = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"]
            .iter()
            .find(|d| std::path::Path::new(d).join("libc.so.6").exists())
            .expect("the C library's directory");
        let d = dir.display();
        let script = format!(
            "set -e
             mount --bind {d}/etc/nsswitch.conf /etc/nsswitch.conf
             mount --bind {d}/etc/subuid /etc/subuid
             mount --bind {d}/etc/subgid /etc/subgid
             mount -t overlay hutch-subid -o lowerdir={d}/lib:{libdir} {libdir}
             echo ready
             read _ || true"
        );
        let mut holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "--", "sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start unshare");
        let mut line = String::new();
        let _ = std::io::BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line);
        if line.trim() != "ready" {
            drop(holder.stdin.take());
            let out = holder.wait_with_output().expect("wait unshare");
            panic!("private mount namespace: {}", stderr(&out));
        }
        Some(DirectoryHost { holder, dir })
    }

    /// `program args` as `env`'s user, inside the private namespace.
    fn command(
        &self,
        env: &TestEnv,
        program: &std::path::Path,
        args: &[&str],
    ) -> std::process::Command {
        let mut cmd = std::process::Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.holder.id().to_string())
            .arg("-m")
            .arg(format!("--wd={}", env.home.display()))
            .arg("--")
            .arg("setpriv")
            .arg(format!("--reuid={}", env.user.uid))
            .arg(format!("--regid={}", env.user.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .args(args)
            .env_clear()
            .env("HOME", &env.home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("USER", &env.user.name)
            .env("LOGNAME", &env.user.name)
            .stdin(std::process::Stdio::null());
        if let Some(x) = &env.xdg_runtime_dir {
            cmd.env("XDG_RUNTIME_DIR", x);
        }
        for (k, v) in &env.vars {
            cmd.env(k, v);
        }
        cmd
    }

    fn ok(&self, env: &TestEnv, program: &std::path::Path, args: &[&str]) -> String {
        let out = self
            .command(env, program, args)
            .output()
            .expect("start nsenter");
        assert!(
            out.status.success(),
            "{} {args:?} ({}):\nstdout: {}\nstderr: {}",
            program.display(),
            out.status,
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    fn hutch(&self, env: &TestEnv, args: &[&str]) -> String {
        self.ok(env, hutch_bin(), args)
    }
}

impl Drop for DirectoryHost {
    fn drop(&mut self) {
        // EOF ends the holder's `read`, and with it the namespace (the
        // pause process, if still alive, keeps its own copy).
        drop(self.holder.stdin.take());
        let _ = self.holder.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Ends the environment's pause processes before the environment's own
/// cleanup, whose `hutch rm` would run outside the private namespace, see
/// other subuid files and make a namespace from them.
struct EndPause<'a>(&'a TestEnv);

impl Drop for EndPause<'_> {
    fn drop(&mut self) {
        for pid in self.0.pause_pids() {
            // SAFETY: plain kill of a process this test created.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Subordinate ids from an nsswitch `subid:` source (libsubid, as SSSD or
/// FreeIPA serve them) and none in /etc/subuid: `getsubids` shows the
/// module's range, hutch maps it (newuidmap accepts it through the same
/// module), and files made by a container user land on the host under
/// that range.
#[test]
fn subordinate_ids_from_an_nsswitch_subid_module_are_mapped() {
    if !is_root() {
        eprintln!("skipped: needs root for a private /etc/nsswitch.conf");
        return;
    }
    let user = TestUser::default_user();
    let env = TestEnv::new(user.clone());
    let Some(host) = DirectoryHost::new(&user) else {
        return;
    };
    let _end_pause = EndPause(&env);
    let getsubids = std::path::Path::new("getsubids");
    let expect = format!("0: {} {DIRECTORY_START} {DIRECTORY_COUNT}", user.name);
    assert_eq!(host.ok(&env, getsubids, &[&user.name]).trim(), expect);
    assert_eq!(host.ok(&env, getsubids, &["-g", &user.name]).trim(), expect);
    let files = host.ok(
        &env,
        std::path::Path::new("cat"),
        &["/etc/subuid", "/etc/subgid"],
    );
    assert!(
        !files
            .lines()
            .any(|l| l.starts_with(&format!("{}:", user.name))),
        "the files hold no range for the user: {files}"
    );

    // system check names the source and the range, and is content.
    let out = host
        .command(&env, hutch_bin(), &["system", "check", "--format", "json"])
        .output()
        .expect("start nsenter");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check json: {e}: {}{}", stdout(&out), stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    for key in ["subuid", "subgid"] {
        let f = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == key)
            .unwrap_or_else(|| panic!("no {key} finding: {report:#}"));
        let detail = f["detail"].as_str().unwrap_or_default();
        assert_eq!(f["status"], "ok", "{f}");
        assert!(
            detail.contains("hutchtest") && detail.contains(&DIRECTORY_START.to_string()),
            "{f}"
        );
    }

    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    host.hutch(&env, &["import", &tar.display().to_string(), "busybox"]);
    let map = host.hutch(
        &env,
        &["run", "--rm", "busybox", "cat", "/proc/self/uid_map"],
    );
    let rows: Vec<Vec<u64>> = map
        .lines()
        .map(|l| l.split_whitespace().map(|w| w.parse().unwrap()).collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec![0, u64::from(user.uid), 1],
            vec![1, u64::from(DIRECTORY_START), u64::from(DIRECTORY_COUNT)]
        ],
        "{map}"
    );

    // A file that uid 1000 makes in the container belongs on the host to
    // the range's id for 1000.
    let shared = env.root.join("out");
    std::fs::create_dir(&shared).unwrap();
    chown(&shared, user.uid, user.gid);
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    host.hutch(
        &env,
        &[
            "run",
            "--rm",
            "--user",
            "1000:1000",
            "-v",
            &format!("{}:/out", shared.display()),
            "busybox",
            "touch",
            "/out/made-by-1000",
        ],
    );
    let meta = std::fs::metadata(shared.join("made-by-1000")).expect("the file");
    assert_eq!(meta.uid(), DIRECTORY_START + 999);
    assert_eq!(meta.gid(), DIRECTORY_START + 999);
}
