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
    let in_job = |args: &str| {
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
        let out = child.wait_with_output().expect("wait sh");
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
    drop(env);
}
