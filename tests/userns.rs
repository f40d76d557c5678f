//! The user namespace as users meet it: `hutch unshare`, the pause process,
//! its recovery, and the runtime directory rules.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[test]
fn unshare_makes_the_user_root_inside() {
    let env = TestEnv::new(TestUser::default_user());
    assert_eq!(env.ok(["unshare", "id", "-u"]).trim(), "0");
    assert_eq!(env.ok(["unshare", "id", "-g"]).trim(), "0");
}

#[test]
fn uid_map_holds_the_subordinate_range() {
    let env = TestEnv::new(TestUser::default_user());
    let Some((start, count)) = env.user.sub_range("/etc/subuid") else {
        eprintln!("skipped: {} has no range in /etc/subuid", env.user.name);
        return;
    };
    let map = env.ok(["unshare", "cat", "/proc/self/uid_map"]);
    let rows: Vec<Vec<u64>> = map
        .lines()
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    assert_eq!(
        rows[0],
        vec![0, u64::from(env.user.uid), 1],
        "container root is the user: {map}"
    );
    assert_eq!(
        rows[1],
        vec![1, u64::from(start), u64::from(count)],
        "then the subuid range: {map}"
    );
    let gid_map = env.ok(["unshare", "cat", "/proc/self/gid_map"]);
    if let Some((gstart, _)) = env.user.sub_range("/etc/subgid") {
        assert!(
            gid_map.contains(&gstart.to_string()),
            "gid map has the subgid range: {gid_map}"
        );
    }
}

#[test]
fn exit_codes_pass_through_unshare() {
    let env = TestEnv::new(TestUser::default_user());
    let out = env.run(["unshare", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    let out = env.run(["unshare", "hutch-no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    let out = env.run(["unshare", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
}

#[test]
fn later_commands_join_the_same_namespace() {
    let env = TestEnv::new(TestUser::default_user());
    let first = env.ok(["unshare", "readlink", "/proc/self/ns/user"]);
    let second = env.ok(["unshare", "readlink", "/proc/self/ns/user"]);
    assert_eq!(first, second);
    let pids = env.pause_pids();
    assert_eq!(pids.len(), 1, "one pause process: {pids:?}");
    let recorded: i32 = fs::read_to_string(env.pause_pid_file())
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(recorded, pids[0]);
    let pid_file_mode = fs::metadata(env.run_dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(pid_file_mode, 0o700, "runtime dir is private");
}

#[test]
fn ten_concurrent_first_commands_leave_one_pause_process() {
    let env = TestEnv::new(TestUser::default_user());
    let children: Vec<_> = (0..10)
        .map(|_| {
            env.hutch(["unshare", "readlink", "/proc/self/ns/user"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn hutch")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait hutch"))
        .collect();
    for out in &outputs {
        assert!(out.status.success(), "{}", stderr(out));
    }
    let first = stdout(&outputs[0]);
    assert!(
        outputs.iter().all(|o| stdout(o) == first),
        "all ten joined one namespace"
    );
    assert_eq!(env.pause_pids().len(), 1, "exactly one pause process");
}

#[test]
fn killed_pause_process_is_recreated() {
    let env = TestEnv::new(TestUser::default_user());
    env.ok(["unshare", "true"]);
    let old = env.pause_pids();
    assert_eq!(old.len(), 1);
    kill9(old[0], &env.user);
    assert!(
        wait_until(Duration::from_secs(10), || !is_alive(old[0])),
        "pause process did not die"
    );
    assert_eq!(env.ok(["unshare", "id", "-u"]).trim(), "0");
    let new = env.pause_pids();
    assert_eq!(new.len(), 1);
    assert_ne!(new[0], old[0]);
}

#[test]
fn reused_pid_is_not_trusted() {
    let env = TestEnv::new(TestUser::default_user());
    env.ok(["unshare", "true"]);
    let pause = env.pause_pids()[0];
    // Point the record at another live process of the same user, as a pid
    // reused after a crash would.
    let mut cmd = Command::new("sleep");
    cmd.arg("60");
    as_user(&mut cmd, &env.user);
    let mut sleeper = cmd.spawn().expect("spawn sleep");
    let record = fs::read_to_string(env.pause_pid_file()).unwrap();
    let forged = record.replacen(&pause.to_string(), &sleeper.id().to_string(), 1);
    let tmp = env.run_dir().join("forged");
    fs::write(&tmp, forged).unwrap();
    chown(&tmp, env.user.uid, env.user.gid);
    fs::rename(&tmp, env.pause_pid_file()).unwrap();
    kill9(pause, &env.user);
    assert!(wait_until(Duration::from_secs(10), || !is_alive(pause)));

    let ns = env.ok(["unshare", "readlink", "/proc/self/ns/user"]);
    let sleeper_ns = fs::read_link(format!("/proc/{}/ns/user", sleeper.id())).unwrap();
    assert_ne!(
        ns.trim(),
        sleeper_ns.to_string_lossy(),
        "joined the unrelated process's namespace"
    );
    assert!(
        is_alive(sleeper.id() as i32),
        "the unrelated process was left alone"
    );
    assert_eq!(env.pause_pids().len(), 1);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

#[test]
fn system_migrate_ends_the_pause_process() {
    let env = TestEnv::new(TestUser::default_user());
    env.ok(["unshare", "true"]);
    let old = env.pause_pids();
    env.ok(["system", "migrate"]);
    assert!(wait_until(Duration::from_secs(10), || !is_alive(old[0])));
    assert!(!env.pause_pid_file().exists());
    env.ok(["unshare", "true"]);
    let new = env.pause_pids();
    assert_eq!(new.len(), 1);
    assert_ne!(new, old);
}

#[test]
fn user_without_ranges_gets_single_id_mapping_and_a_warning() {
    let Some(user) = TestUser::named(NOSUB_USER) else {
        return;
    };
    let env = TestEnv::new(user);
    let out = env.run(["unshare", "cat", "/proc/self/uid_map"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Vec<String>> = stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(
        rows,
        vec![vec![
            "0".to_owned(),
            env.user.uid.to_string(),
            "1".to_owned()
        ]]
    );
    let err = stderr(&out);
    assert_eq!(err.matches("single-id").count(), 1, "one warning: {err}");
    assert!(
        err.contains("usermod --add-subuids"),
        "names the fix: {err}"
    );
    // Joining later says nothing again.
    let again = env.run(["unshare", "true"]);
    assert!(again.status.success());
    assert!(!stderr(&again).contains("single-id"), "{}", stderr(&again));
}

#[test]
fn works_without_xdg_runtime_dir() {
    let env = TestEnv::new(TestUser::default_user()).without_xdg_runtime_dir();
    if !is_root() && env.run_dir().exists() {
        eprintln!(
            "skipped: {} exists already and may be in use",
            env.run_dir().display()
        );
        return;
    }
    let _ = fs::remove_dir_all(env.run_dir());
    assert_eq!(env.ok(["unshare", "id", "-u"]).trim(), "0");
    let dir = env.run_dir();
    let meta = fs::metadata(&dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    assert_eq!(owner(&dir), Some(env.user.uid));
    assert!(env.pause_pid_file().exists());
}

#[test]
fn runtime_dir_owned_by_someone_else_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to create a directory owned by someone else");
        return;
    }
    let env = TestEnv::new(TestUser::default_user());
    let planted = env.run_dir();
    fs::create_dir(&planted).unwrap(); // owned by root
    let out = env.run(["unshare", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains(&planted.display().to_string()) && err.contains("owned by uid 0"),
        "{err}"
    );
    assert!(env.pause_pids().is_empty(), "no namespace was created");

    // The /tmp fallback too, for a user whose XDG_RUNTIME_DIR is unset.
    let Some(other) = TestUser::named(NOSUB_USER) else {
        return;
    };
    let env = TestEnv::new(other).without_xdg_runtime_dir();
    let _ = fs::remove_dir_all(env.run_dir());
    fs::create_dir(env.run_dir()).unwrap();
    fs::set_permissions(env.run_dir(), fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.run(["unshare", "true"]);
    let _ = fs::remove_dir_all(env.run_dir());
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("not by you"), "{}", stderr(&out));
}

#[test]
fn version_and_help_create_no_namespace() {
    let env = TestEnv::new(TestUser::default_user());
    assert!(env.ok(["version"]).contains("Version:"));
    assert!(env.ok(["--version"]).starts_with("hutch version "));
    assert!(env.ok(["--help"]).contains("unshare"));
    assert!(env.ok(["help"]).contains("unshare"));
    assert_eq!(
        env.ok(["version", "--format", "{{.Client.Version}}"])
            .trim(),
        env!("CARGO_PKG_VERSION")
    );
    assert!(!env.run_dir().exists(), "runtime dir was created");
    assert!(env.pause_pids().is_empty());
}

#[test]
fn root_runs_rootful_without_a_pause_process() {
    let Some(root) = TestUser::root() else {
        eprintln!("skipped: needs root");
        return;
    };
    let env = TestEnv::new(root);
    let out = env.run(["unshare", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("rootless"), "{}", stderr(&out));
    assert_eq!(
        env.ok(["info", "--format", "{{.Host.Security.Rootless}}"])
            .trim(),
        "false"
    );
    assert!(env.pause_pids().is_empty());
}

#[test]
fn bad_flags_exit_125() {
    let env = TestEnv::new(TestUser::default_user());
    let out = env.run(["--no-such-flag", "version"]);
    assert_eq!(out.status.code(), Some(125));
    let out = env.run(["no-such-command"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(env.pause_pids().is_empty());
}

fn kill9(pid: i32, _user: &TestUser) {
    // SAFETY: kill of a process this test created (root, or the same user).
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Rewrites one user's line in /etc/subuid and /etc/subgid, and puts the
/// original files back when dropped.
struct SubIdEdit {
    saved: Vec<(&'static str, String)>,
}

impl SubIdEdit {
    fn set(user: &str, start: u32) -> SubIdEdit {
        let mut saved = Vec::new();
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = fs::read_to_string(file).unwrap();
            saved.push((file, text.clone()));
            rewrite(file, &text, user, start);
        }
        SubIdEdit { saved }
    }
}

fn rewrite(file: &str, text: &str, user: &str, start: u32) {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{user}:")))
        .map(String::from)
        .collect();
    lines.push(format!("{user}:{start}:65536"));
    let tmp = format!("{file}.hutch-test");
    fs::write(&tmp, lines.join("\n") + "\n").unwrap();
    fs::rename(&tmp, file).unwrap();
}

impl Drop for SubIdEdit {
    fn drop(&mut self) {
        for (file, text) in &self.saved {
            let tmp = format!("{file}.hutch-test");
            let _ = fs::write(&tmp, text);
            let _ = fs::rename(&tmp, file);
        }
    }
}

#[test]
fn changed_ranges_recreate_an_idle_namespace_and_warn_about_a_busy_one() {
    let Some(user) = TestUser::named("hutch-migrate") else {
        return;
    };
    let env = TestEnv::new(user);
    let _restore = SubIdEdit::set("hutch-migrate", 400000);
    assert!(
        env.ok(["unshare", "cat", "/proc/self/uid_map"])
            .contains("400000")
    );
    let first = env.pause_pids();

    // Idle: the next command re-creates the namespace with the new range.
    let edit = SubIdEdit::set("hutch-migrate", 500000);
    assert!(
        env.ok(["unshare", "cat", "/proc/self/uid_map"])
            .contains("500000")
    );
    let second = env.pause_pids();
    assert_eq!(second.len(), 1);
    assert_ne!(first, second);

    // Busy: a process still runs inside, so the namespace is kept and the
    // user is pointed at `system migrate`.
    let mut busy = env
        .hutch(["unshare", "sleep", "60"])
        .spawn()
        .expect("spawn sleeper");
    let sleeper = busy.id() as i32;
    let pause_ns = fs::read_link(format!("/proc/{}/ns/user", second[0])).unwrap();
    assert!(wait_until(Duration::from_secs(10), || fs::read_link(
        format!("/proc/{sleeper}/ns/user")
    )
    .is_ok_and(|ns| ns == pause_ns)));
    drop(edit);
    let _back = SubIdEdit::set("hutch-migrate", 600000);
    let out = env.run(["unshare", "cat", "/proc/self/uid_map"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("500000"),
        "kept the old maps: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("hutch system migrate"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.pause_pids(), second);
    let _ = busy.kill();
    let _ = busy.wait();
}

/// `HUTCH_NO_PAUSE_PROCESS=1` (issue 16 item 7): on Linux >= 6.18 no pause
/// process is started; the namespace is recorded by its nsfs file handles
/// and lives as long as a member does (here the monitor of a running
/// container), which every later command joins, with the same maps as the
/// pause process gets. With no member left, the next command makes a fresh
/// namespace.
#[test]
fn no_pause_process_mode_holds_the_namespace_through_its_members() {
    let mut env = TestEnv::new(TestUser::default_user());
    env.vars.push(("HUTCH_NO_PAUSE_PROCESS".into(), "1".into()));
    let tar = images::write_readable(
        &env.root,
        "bb.tar.gz",
        &images::gzip(&images::busybox_rootfs()),
    );
    env.ok(["import", tar.to_str().unwrap(), "busybox"]);
    let record = env.run_dir().join("ns.handles");
    if !record.exists() {
        assert_eq!(env.pause_pids().len(), 1, "fell back to a pause process");
        eprintln!("skipped: this kernel has no nsfs file handles (Linux < 6.18)");
        return;
    }
    let meta = fs::metadata(&record).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), env.user.uid);
    assert!(
        wait_until(Duration::from_secs(10), || env.pause_pids().is_empty()),
        "no pause process: {:?}",
        env.pause_pids()
    );

    let map = env.ok(["unshare", "cat", "/proc/self/uid_map"]);
    let rows: Vec<Vec<u64>> = map
        .lines()
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows[0], vec![0, u64::from(env.user.uid), 1], "{map}");
    if let Some((start, count)) = env.user.sub_range("/etc/subuid") {
        assert_eq!(
            rows[1],
            vec![1, u64::from(start), u64::from(count)],
            "{map}"
        );
    }

    let id = env.ok(["run", "-d", "--name", "holder", "busybox", "sleep", "600"]);
    let id = id.trim();
    let first = env.ok(["unshare", "readlink", "/proc/self/ns/user"]);
    let second = env.ok(["unshare", "readlink", "/proc/self/ns/user"]);
    assert_eq!(first, second, "joined the namespace the monitor holds");
    assert!(env.ok(["ps", "-q", "--no-trunc"]).contains(id));
    assert_eq!(env.ok(["exec", "holder", "id", "-u"]).trim(), "0");
    assert!(env.pause_pids().is_empty(), "{:?}", env.pause_pids());

    env.ok(["rm", "-f", "holder"]);
    assert!(!env.ok(["ps", "-a", "-q", "--no-trunc"]).contains(id));
    // Its last member gone, the namespace goes with it: a later command
    // makes (and records) a fresh one instead of failing.
    assert!(
        wait_until(Duration::from_secs(10), || env.ok([
            "unshare",
            "readlink",
            "/proc/self/ns/user"
        ]) != first),
        "a fresh namespace once nothing holds the old one"
    );
    assert!(env.pause_pids().is_empty(), "{:?}", env.pause_pids());
}

/// The host's view of a process's uid map: (container id, host id, size).
fn host_uid_map(pid: i32) -> Vec<(u64, u64, u64)> {
    fs::read_to_string(format!("/proc/{pid}/uid_map"))
        .unwrap()
        .lines()
        .map(|l| {
            let n: Vec<u64> = l.split_whitespace().map(|n| n.parse().unwrap()).collect();
            (n[0], n[1], n[2])
        })
        .collect()
}

/// Starts `name` detached with `--userns=MODE` and returns its pid once
/// its /scratch/mark exists (on a tmpfs of its own). Before that, the
/// container's root records the owner it sees of the image's /etc/passwd in
/// /scratch/owner, appends to that file and creates /made in the image's
/// root: the image's files show through the container's map (idshift).
fn start_marked(env: &TestEnv, name: &str, mode: &str) -> i32 {
    env.ok([
        "run",
        "-d",
        "--name",
        name,
        &format!("--userns={mode}"),
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "stat -c %u:%g /etc/passwd > /scratch/owner; \
         echo extra:x:7:7::/:/bin/sh >> /etc/passwd && touch /made && \
         touch /scratch/mark && sleep 600",
    ]);
    let mut pid = 0;
    assert!(
        wait_until(Duration::from_secs(20), || {
            pid = env
                .ok(["inspect", "--format", "{{.State.Pid}}", name])
                .trim()
                .parse()
                .unwrap_or(0);
            pid > 0 && ns_stat(env, pid, "scratch/mark").is_some()
        }),
        "{name} runs and made /tmp/mark: {}",
        env.ok(["logs", name])
    );
    pid
}

/// `--userns=auto` (issue 16 item 6) on a home that is 0700, as Debian
/// makes them: the container's own ids cannot walk into the storage, so
/// the runtime gets the root through the view in /tmp/hutch-views-UID.
/// Two containers get disjoint ranges inside the user's subordinate
/// range, never the user's own uid, and a file each container's root
/// makes belongs to that container's first host id.
#[test]
fn userns_auto_gives_two_containers_disjoint_ranges_on_a_private_home() {
    if !is_root() {
        eprintln!("skipped: reading the containers' maps from the host needs root");
        return;
    }
    let env = images::busybox_env(&[]);
    let Some((start, count)) = env.user.sub_range("/etc/subuid") else {
        eprintln!("skipped: {} has no range in /etc/subuid", env.user.name);
        return;
    };
    assert_eq!(
        fs::metadata(&env.home).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let a = start_marked(&env, "auto-a", "auto");
    let b = start_marked(&env, "auto-b", "auto");
    let (ma, mb) = (host_uid_map(a), host_uid_map(b));
    let range = |m: &[(u64, u64, u64)]| {
        assert_eq!(m.len(), 1, "one range: {m:?}");
        (m[0].1, m[0].1 + m[0].2)
    };
    let (ra, rb) = (range(&ma), range(&mb));
    assert!(ra.1 <= rb.0 || rb.1 <= ra.0, "disjoint: {ma:?} {mb:?}");
    let sub = (u64::from(start), u64::from(start) + u64::from(count));
    for r in [ra, rb] {
        assert!(sub.0 <= r.0 && r.1 <= sub.1, "{r:?} inside {sub:?}");
    }
    for (pid, r) in [(a, ra), (b, rb)] {
        let owner = host_owner(&env, pid, "scratch/mark");
        assert_eq!(owner, r.0, "made by the container's root");
        assert_image_files_shifted(&env, pid, r.0);
    }
    // The home was not opened up to get there.
    assert_eq!(
        fs::metadata(&env.home).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let id = env.ok(["inspect", "--format", "{{.Id}}", "auto-a"]);
    let id_b = env.ok(["inspect", "--format", "{{.Id}}", "auto-b"]);
    let view =
        std::path::PathBuf::from(format!("/tmp/hutch-views-{}", env.user.uid)).join(id.trim());
    env.ok(["rm", "-f", "-t", "0", "auto-a", "auto-b"]);
    assert!(!view.exists(), "the view went with the container");
    for id in [id.trim(), id_b.trim()] {
        assert!(
            wait_until(Duration::from_secs(10), || mount_helpers_of(id).is_empty()),
            "no fuse-overlayfs left for {id}: {:?}",
            mount_helpers_of(id)
        );
    }
}

/// Inside: the image's root-owned /etc/passwd showed as 0:0 and the
/// container's root could append to it and create /made; from the host,
/// both belong to the container's first id.
fn assert_image_files_shifted(env: &TestEnv, pid: i32, first_host_id: u64) {
    let seen = env.ok([
        "unshare",
        "cat",
        &format!("/proc/{pid}/root/scratch/owner"),
        &format!("/proc/{pid}/root/etc/passwd"),
    ]);
    assert!(
        seen.starts_with("0:0\n"),
        "image files owned by the image's ids: {seen}"
    );
    assert!(seen.contains("extra:x:7:7"), "root appended: {seen}");
    for f in ["etc/passwd", "made"] {
        assert_eq!(host_owner(env, pid, f), first_host_id, "{f} on the host");
    }
}

/// `stat -c %u` of a path in a container's root, looked up from hutch's
/// namespace: a fuse-overlayfs root (the shift on a default rootless host)
/// lets in only its mounter's namespace and those below it (FUSE's
/// allow_other), not the host's root.
fn ns_stat(env: &TestEnv, pid: i32, path: &str) -> Option<u64> {
    let out = env.run([
        "unshare",
        "stat",
        "-c",
        "%u",
        &format!("/proc/{pid}/root/{path}"),
    ]);
    out.status
        .success()
        .then(|| stdout(&out).trim().parse().ok())?
}

/// The host's uid for a path's owner in a container's root ([`ns_stat`]
/// through hutch's map: 0 the user, n the n-th subordinate id).
fn host_owner(env: &TestEnv, pid: i32, path: &str) -> u64 {
    let n = ns_stat(env, pid, path).unwrap_or_else(|| panic!("{path} in {pid}'s root"));
    let (start, _) = env.user.sub_range("/etc/subuid").unwrap();
    match n {
        0 => u64::from(env.user.uid),
        n => u64::from(start) + n - 1,
    }
}

/// fuse-overlayfs processes serving a mount below container `id`'s
/// directory.
fn mount_helpers_of(id: &str) -> Vec<i32> {
    live_processes()
        .into_iter()
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("fuse-overlayfs") && c.contains(id)
            })
        })
        .collect()
}

/// `--userns=nomap`: the user's own uid is not mapped into the container,
/// whose root is a subordinate id.
#[test]
fn userns_nomap_leaves_the_users_uid_unmapped() {
    if !is_root() {
        eprintln!("skipped: reading the container's map from the host needs root");
        return;
    }
    let env = images::busybox_env(&[]);
    let Some((start, count)) = env.user.sub_range("/etc/subuid") else {
        eprintln!("skipped: {} has no range in /etc/subuid", env.user.name);
        return;
    };
    let pid = start_marked(&env, "nomap", "nomap");
    let map = host_uid_map(pid);
    let uid = u64::from(env.user.uid);
    assert!(
        map.iter()
            .all(|&(_, host, n)| uid < host || uid >= host + n),
        "{uid} unmapped: {map:?}"
    );
    let sub = u64::from(start)..u64::from(start) + u64::from(count);
    assert!(
        map.iter().all(|&(_, host, _)| sub.contains(&host)),
        "{map:?}"
    );
    let owner = host_owner(&env, pid, "scratch/mark");
    assert_eq!(owner, map[0].1, "made by the container's root");
    assert_image_files_shifted(&env, pid, map[0].1);
    env.ok(["rm", "-f", "-t", "0", "nomap"]);
}

/// Runs `script` in a `--rm` container with `flags` and returns its output.
fn run_in(env: &TestEnv, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", script]);
    env.ok(args)
}

/// What each shifted container checks: the image's files are root's, its
/// root may write them, and a file it makes is its root's.
const SHIFT_CHECK: &str = "stat -c %u:%g /etc/passwd /bin/busybox; \
     echo extra:x:7:7::/:/bin/sh >> /etc/passwd && echo appended; \
     touch /made && stat -c %u:%g /made";

/// `--uidmap`/`--gidmap` (one map given: used for both, as Podman does).
#[test]
fn uidmap_flag_shows_image_files_as_root() {
    let env = images::busybox_env(&[]);
    if env.user.sub_range("/etc/subuid").is_none() {
        eprintln!("skipped: {} has no range in /etc/subuid", env.user.name);
        return;
    }
    let out = run_in(&env, &["--uidmap", "0:1:65536"], SHIFT_CHECK);
    assert_eq!(out, "0:0\n0:0\nappended\n0:0\n");
    // `export` writes the image's ids, not the ones the map shows.
    env.ok([
        "run",
        "--name",
        "ex",
        "--uidmap",
        "0:1:65536",
        "busybox",
        "touch",
        "/made",
    ]);
    let tar = env.home.join("ex.tar");
    env.ok(["export", "-o", tar.to_str().unwrap(), "ex"]);
    let list = Command::new("tar")
        .args(["--numeric-owner", "-tvf"])
        .arg(&tar)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for f in ["etc/passwd", "made"] {
        let line = list
            .lines()
            .find(|l| l.ends_with(&format!(" {f}")))
            .unwrap_or_else(|| panic!("{f} in {list}"));
        assert!(line.contains(" 0/0 "), "{line}");
    }
    env.ok(["rm", "ex"]);
}

/// `--userns=keep-id`: the user is the user inside, the image's files stay
/// root's (Podman shows 0:0 as well), so writing a root-owned file fails;
/// the user has an /etc/passwd entry; `cp` into the container gives the
/// copied file the container user's ids, as Podman does.
#[test]
fn keep_id_keeps_image_files_root_owned() {
    let env = images::busybox_env(&[]);
    if env.user.sub_range("/etc/subuid").is_none() {
        eprintln!("skipped: {} has no range in /etc/subuid", env.user.name);
        return;
    }
    let out = run_in(
        &env,
        &["--userns=keep-id"],
        "id -u; stat -c %u:%g /etc/passwd /bin/busybox /; cat /etc/passwd; \
         echo x >> /etc/passwd 2>/dev/null && echo wrote || echo refused",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], env.user.uid.to_string(), "{out}");
    assert_eq!(&lines[1..4], ["0:0", "0:0", "0:0"], "{out}");
    let entry = format!("{}:", env.user.name);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&entry) && l.contains(&format!(":{}:", env.user.uid))),
        "an /etc/passwd entry for the user: {out}"
    );
    assert_eq!(lines.last(), Some(&"refused"), "{out}");

    let src = images::write_readable(&env.root, "copied", b"hi\n");
    // No exec: runc cannot exec into a container with a user namespace of
    // its own under hutch ("error executing setns process", main too).
    env.ok([
        "create",
        "--name",
        "kcp",
        "--userns=keep-id",
        "busybox",
        "stat",
        "-c",
        "%u:%g",
        "/tmp/copied",
    ]);
    env.ok(["cp", src.to_str().unwrap(), "kcp:/tmp/copied"]);
    let owner = env.ok(["start", "-a", "kcp"]);
    assert_eq!(
        owner.trim(),
        format!("{}:{}", env.user.uid, env.user.gid),
        "cp gives the container user's ids"
    );
    env.ok(["rm", "-f", "-t", "0", "kcp"]);
}

/// The last fallback, forced through the test hook: a chowned copy of the
/// image per (top layer, map), made once with a one-line note, shared by
/// two containers with the same map, redone when a copy was cut short,
/// removed with the last container using it.
#[test]
fn chowned_copy_fallback_is_shared_redone_and_removed() {
    let mut env = images::busybox_env(&[]);
    if env.user.sub_range("/etc/subuid").is_none() {
        eprintln!("skipped: {} has no range in /etc/subuid", env.user.name);
        return;
    }
    env.vars.push(("HUTCH_TEST_ID_SHIFT".into(), "copy".into()));
    let map = ["--uidmap", "0:1:65536"];
    let first = env.run([
        "run",
        "--name",
        "c1",
        map[0],
        map[1],
        "busybox",
        "sh",
        "-c",
        SHIFT_CHECK,
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), "0:0\n0:0\nappended\n0:0\n");
    let note = "copied the image's layers with owners shifted";
    assert_eq!(
        stderr(&first).matches(note).count(),
        1,
        "{}",
        stderr(&first)
    );
    let second = env.run([
        "run",
        "--rm",
        map[0],
        map[1],
        "busybox",
        "sh",
        "-c",
        SHIFT_CHECK,
    ]);
    assert_eq!(
        stdout(&second),
        "0:0\n0:0\nappended\n0:0\n",
        "{}",
        stderr(&second)
    );
    assert!(
        !stderr(&second).contains(note),
        "shared: {}",
        stderr(&second)
    );

    // A copy cut short (as by a kill -9 mid-copy) is never used: the next
    // mount makes it again.
    let copies = env.home.join(".local/share/hutch/storage/idshift-copies");
    let names: Vec<_> = fs::read_dir(&copies)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(names.len(), 1, "one copy: {names:?}");
    let partial = names[0].with_extension("partial");
    fs::rename(&names[0], &partial).unwrap();
    fs::remove_file(partial.join("bin/busybox")).unwrap();
    let again = env.run(["start", "-a", "c1"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(note),
        "made again: {}",
        stderr(&again)
    );
    assert!(!partial.exists(), "the half-made copy is gone");

    // Committed, the container's changes carry the image's ids again (the
    // copy's upper holds the container's own).
    env.ok(["commit", "c1", "shifted-commit"]);
    let out = env.ok([
        "run",
        "--rm",
        "shifted-commit",
        "stat",
        "-c",
        "%u:%g",
        "/made",
    ]);
    assert_eq!(out.trim(), "0:0", "committed with the image's ids");

    env.ok(["rm", "c1"]);
    let left: Vec<_> = fs::read_dir(&copies)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != ".lock")
        .collect();
    assert!(left.is_empty(), "removed with its last container: {left:?}");
}

/// As root, the kernel allows idmapped mounts of the host's file systems:
/// the first method. A `--uidmap` container's mounted root shows the
/// image's files owned by the map's first id, and `rm` leaves no idmapped
/// layer mounted. (Rootless on ext4 the kernel refuses it with EPERM; the
/// tests above then get fuse-overlayfs.)
#[test]
fn root_gets_idmapped_layers() {
    let Some(root) = TestUser::root() else {
        eprintln!("skipped: needs root");
        return;
    };
    let env = TestEnv::new(root);
    let (store, run) = (env.root.join("store"), env.root.join("run"));
    let g = [
        "--root",
        store.to_str().unwrap(),
        "--runroot",
        run.to_str().unwrap(),
    ];
    let with = |args: &[&str]| -> String { env.ok(g.iter().chain(args).copied()) };
    let tar = images::write_readable(
        &env.root,
        "bb.tar.gz",
        &images::gzip(&images::busybox_rootfs()),
    );
    with(&["import", tar.to_str().unwrap(), "bb"]);
    with(&[
        "create",
        "--name",
        "im",
        "--uidmap",
        "0:200000:65536",
        "bb",
        "true",
    ]);
    let merged = with(&["mount", "im"]);
    let merged = std::path::Path::new(merged.trim());
    for f in ["etc/passwd", "bin/busybox", ""] {
        let meta = fs::metadata(merged.join(f)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (200_000, 200_000), "/{f}");
    }
    let id = with(&["inspect", "--format", "{{.Id}}", "im"]);
    let method = fs::read_to_string(
        store
            .join("containers")
            .join(id.trim())
            .join("idshift-method"),
    )
    .unwrap();
    assert!(method.starts_with("idmapped\n"), "{method}");
    with(&["umount", "im"]);
    with(&["rm", "im"]);
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(store.to_str().unwrap()),
        "nothing of the store left mounted"
    );
}
