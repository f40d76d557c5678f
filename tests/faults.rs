//! Faults at chosen points: a monitor killed while the runtime creates the
//! container, a state database emptied under existing containers, `rm -f`
//! racing itself. After each, the next command must accept the state and
//! nothing may be left behind (no runtime process, record or mount).

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::images::*;
use common::*;

fn env() -> TestEnv {
    busybox_env(&[])
}

fn args_of(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn has_env(pid: i32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        .unwrap_or(false)
}

/// This environment's monitors that have a runtime `create` (or `run
/// --detach`) child right now.
fn monitor_in_create(env: &TestEnv) -> Option<i32> {
    let home = format!("HOME={}", env.home.display());
    live_processes()
        .into_iter()
        .filter(|&p| comm(p).as_deref() == Some("hutch-monitor") && has_env(p, &home))
        .find(|&p| {
            children_of(p).into_iter().any(|c| {
                let args = args_of(c);
                let runtime = args
                    .first()
                    .is_some_and(|a| a.ends_with("crun") || a.ends_with("runc"));
                runtime && args.iter().any(|a| a == "create" || a == "run")
            })
        })
}

/// Waits for `child` until `limit`; `None` if it still runs (then it is
/// killed, so that a hang fails the test instead of stalling it).
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Live processes (zombies do not count: PID 1 here does not reap) that
/// belong to container `id`: the runtime's processes name it, the
/// container's command is `sleep MARKER`.
fn processes_of(id: &str, marker: &str) -> Vec<(i32, Vec<String>)> {
    live_processes()
        .into_iter()
        .map(|p| (p, args_of(p)))
        .filter(|(_, args)| {
            args.iter().any(|a| a.contains(id))
                || (args.len() == 2 && args[0].ends_with("sleep") && args[1] == marker)
        })
        .collect()
}

/// Mounts in the user's namespace (the pause process's view) that name `id`.
fn mounts_of(env: &TestEnv, id: &str) -> Vec<String> {
    env.pause_pids()
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/mountinfo")).ok())
        .flat_map(|m| {
            m.lines()
                .filter(|l| l.contains(id))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The runtime's records of `id` (under any runtime's state root).
fn runtime_records(env: &TestEnv, id: &str) -> Vec<String> {
    let root = env.run_dir().join("runtime");
    std::fs::read_dir(&root)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join(id))
                .filter(|p| p.exists())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_nothing_left(env: &TestEnv, id: &str, marker: &str) {
    let gone = wait_until(Duration::from_secs(10), || {
        processes_of(id, marker).is_empty()
    });
    assert!(gone, "processes left: {:?}", processes_of(id, marker));
    assert_eq!(runtime_records(env, id), Vec::<String>::new());
    assert_eq!(mounts_of(env, id), Vec::<String>::new());
    assert!(
        !Path::new(&env.home)
            .join(".local/share/hutch/storage/containers")
            .join(id)
            .exists()
    );
}

/// Runs `run -d` and SIGKILLs its monitor while the runtime's `create`
/// runs (and the CLI too with `kill_cli`), retrying when the moment was
/// missed. Returns the name, the container's id, whether the CLI
/// succeeded, and its stderr.
fn kill_monitor_in_create(
    env: &TestEnv,
    marker: &str,
    kill_cli: bool,
) -> (String, String, bool, String) {
    for attempt in 0..20 {
        let name = format!("x{attempt}{}", if kill_cli { "c" } else { "" });
        let mut cli = env
            .hutch(["run", "-d", "--name", &name, "busybox", "sleep", marker])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hutch");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut killed = false;
        while Instant::now() < deadline && matches!(cli.try_wait(), Ok(None)) {
            if let Some(m) = monitor_in_create(env) {
                // SAFETY: kill of a monitor this test started.
                unsafe { libc::kill(m, libc::SIGKILL) };
                if kill_cli {
                    let _ = cli.kill();
                }
                killed = true;
                break;
            }
        }
        let status = wait_bounded(&mut cli, Duration::from_secs(20));
        let mut err = String::new();
        if let Some(mut e) = cli.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = status.unwrap_or_else(|| {
            panic!("run -d did not return 20 s after its monitor was killed: {err}")
        });
        let id = env
            .ok(["inspect", "--format", "{{.Id}}", &name])
            .trim()
            .to_owned();
        if killed {
            return (name, id, status.success(), err);
        }
        // Too late this time (the container ran already): again.
        env.ok(["rm", "-f", &name]);
    }
    panic!("never caught a monitor during the runtime's create");
}

/// Issue 17 item 1: a monitor killed while the runtime's `create` runs.
/// The CLI must return (it waited on the monitor's socket) with an error,
/// the runtime's half-made container must not outlive its monitor, `start`
/// must work (not "already exists") and `rm -f` must leave no process,
/// runtime record or mount.
#[test]
fn monitor_killed_during_create_leaves_nothing_behind() {
    let env = env();
    // The container's command, to find its process by.
    let marker = format!("{}", 7_000_000 + std::process::id());
    let (name, id, ok, err) = kill_monitor_in_create(&env, &marker, false);
    if ok {
        // The create ended just before the kill and the start was
        // reported: a running container, which rm -f must end.
        eprintln!("the kill came after the start");
    } else {
        assert!(err.contains("monitor"), "{err}");
        let ps = env.ok(["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
        assert!(ps.lines().any(|l| l == format!("{name} Created")), "{ps}");
        // Nothing of the runtime's is left to refuse the next start.
        assert!(
            wait_until(Duration::from_secs(10), || processes_of(&id, &marker)
                .is_empty()),
            "{:?}",
            processes_of(&id, &marker)
        );
        env.ok(["start", &name]);
        assert_eq!(
            env.ok(["inspect", "--format", "{{.State.Status}}", &name])
                .trim(),
            "running"
        );
    }
    env.ok(["rm", "-f", &name]);
    assert_nothing_left(&env, &id, &marker);

    // The CLI killed with it: nobody cleaned up; `rm -f` must.
    let (name, id, _, _) = kill_monitor_in_create(&env, &marker, true);
    let ps = env.ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert!(ps.lines().any(|l| l == name), "{ps}");
    env.ok(["rm", "-f", &name]);
    assert_nothing_left(&env, &id, &marker);
}

/// `: > FILE`, on a file that exists.
fn truncate(path: &Path) {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("truncate the database");
}

/// Issue 17 item 4: `: > hutch.db` with containers present made `ps -a`
/// list nothing and `create` succeed on a new, empty database, the
/// containers' directories left untracked. Now every command refuses,
/// naming the file and the way out; a store without containers starts
/// over as on first use.
#[test]
fn an_emptied_state_database_is_refused_while_containers_exist() {
    let env = env();
    env.ok(["create", "--name", "kept", "busybox", "true"]);
    let graph = env.home.join(".local/share/hutch/storage");
    let db = graph.join("state/hutch.db");
    truncate(&db);
    for args in [
        vec!["ps", "-a"],
        vec!["create", "--name", "new", "busybox", "true"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains(&db.display().to_string()), "{err}");
        assert!(err.contains("empty (0 bytes)"), "{err}");
        assert!(
            err.contains(&format!(
                "1 containers (in {})",
                graph.join("containers").display()
            )),
            "{err}"
        );
        assert!(err.contains("Restore"), "{err}");
    }
    assert_eq!(
        std::fs::metadata(&db).expect("db").len(),
        0,
        "left as it was"
    );

    // Without containers (nor volumes), an empty file is a new database.
    let fresh = busybox_env(&[]);
    fresh.ok(["ps", "-a"]);
    let db = fresh.home.join(".local/share/hutch/storage/state/hutch.db");
    truncate(&db);
    assert_eq!(fresh.ok(["ps", "-a", "-q"]).trim(), "");
    fresh.ok(["create", "--name", "new", "busybox", "true"]);
    fresh.ok(["rm", "new"]);
}

/// Starts every command at once and returns their outputs.
fn all_at_once(env: &TestEnv, commands: &[Vec<String>]) -> Vec<std::process::Output> {
    let children: Vec<Child> = commands
        .iter()
        .map(|args| {
            env.hutch(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start hutch")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for hutch"))
        .collect()
}

/// Issue 17 item 3: with `-f`, a container that another process removes
/// first counts as removed (Podman's `--force`: what is gone already is
/// no failure). Concurrent `rm -f -a` and `rm -f NAME` all exit 0, and
/// nothing is left.
#[test]
fn concurrent_forced_removals_do_not_fail_on_each_other() {
    let env = env();
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for round in 0..3 {
        for i in 0..10 {
            let name = format!("c{round}-{i}");
            if i % 2 == 0 {
                env.ok(["run", "-d", "--name", &name, "busybox", "sleep", "100"]);
            } else {
                env.ok(["create", "--name", &name, "busybox", "true"]);
            }
        }
        let outs = all_at_once(&env, &vec![argv(&["rm", "-f", "-a"]); 3]);
        for out in &outs {
            assert!(
                out.status.success(),
                "round {round}: rm -f -a failed ({}): {}",
                out.status,
                stderr(out)
            );
        }
        assert_eq!(env.ok(["ps", "-a", "-q"]).trim(), "");

        env.ok(["run", "-d", "--name", "solo", "busybox", "sleep", "100"]);
        let outs = all_at_once(&env, &vec![argv(&["rm", "-f", "solo"]); 2]);
        for out in &outs {
            assert!(
                out.status.success(),
                "round {round}: rm -f solo failed ({}): {}",
                out.status,
                stderr(out)
            );
        }
        assert_eq!(env.ok(["ps", "-a", "-q"]).trim(), "");
    }

    // Beside `--rm` containers whose own cleanup removes them under the
    // removals, and new ones coming: every `rm -f -a` succeeds (a `run`
    // whose container was removed under it may fail; that is its race).
    for i in 0..4 {
        env.ok([
            "run",
            "-d",
            "--rm",
            "--name",
            &format!("r{i}"),
            "busybox",
            "sleep",
            "100",
        ]);
    }
    let mut commands = vec![argv(&["rm", "-f", "-a"]); 3];
    commands.extend(vec![argv(&["run", "--rm", "busybox", "true"]); 4]);
    let outs = all_at_once(&env, &commands);
    for out in &outs[..3] {
        assert!(
            out.status.success(),
            "rm -f -a beside run --rm failed ({}): {}",
            out.status,
            stderr(out)
        );
    }
    env.ok(["rm", "-f", "-a"]);
    assert_eq!(env.ok(["ps", "-a", "-q"]).trim(), "");
}

/// This environment's live monitor of container `id` (its command line
/// names the container).
fn monitor_of(env: &TestEnv, id: &str) -> Option<i32> {
    let home = format!("HOME={}", env.home.display());
    live_processes().into_iter().find(|&p| {
        comm(p).as_deref() == Some("hutch-monitor")
            && has_env(p, &home)
            && args_of(p).iter().any(|a| a.contains(id))
    })
}

/// The attach (and terminal) sockets in the runtime dir that belong to `id`.
fn sockets_of(env: &TestEnv, id: &str) -> Vec<String> {
    std::fs::read_dir(env.run_dir().join("s"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&id[..12]))
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 17 item 5: a `--rm` container whose monitor was SIGKILLed stayed
/// listed as `Exited (-1)` for good, and its attach socket stayed in the
/// runtime dir. The next command now finishes the `--rm` as the dead
/// monitor's cleanup would have, and nothing of it is left.
#[test]
fn a_rm_container_whose_monitor_was_killed_is_removed_by_the_next_command() {
    let env = env();
    let marker = format!("{}", 7_100_000 + std::process::id());
    for (name, flags) in [
        ("gone", vec!["--rm"]),
        ("kept", vec![]),
        ("tty", vec!["--rm", "-t"]),
    ] {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend(flags.iter().copied());
        args.extend(["busybox", "sleep", marker.as_str()]);
        let id = env.ok(&args).trim().to_owned();
        assert!(
            !sockets_of(&env, &id).is_empty(),
            "no attach socket for {name}"
        );
        let mut monitor = None;
        assert!(
            wait_until(Duration::from_secs(10), || {
                monitor = monitor_of(&env, &id);
                monitor.is_some()
            }),
            "no monitor found for {name}"
        );
        // SAFETY: kill of a monitor this test started.
        unsafe { libc::kill(monitor.expect("a monitor"), libc::SIGKILL) };
        assert!(wait_until(Duration::from_secs(10), || monitor_of(
            &env, &id
        )
        .is_none()));

        let ps = env.ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        if flags.contains(&"--rm") {
            assert!(
                !ps.lines().any(|l| l.starts_with(&format!("{name} "))),
                "{ps}"
            );
            assert_nothing_left(&env, &id, &marker);
        } else {
            assert!(
                ps.lines()
                    .any(|l| l.starts_with(&format!("{name} Exited (-1)"))),
                "{ps}"
            );
            env.ok(["rm", name]);
            assert_nothing_left(&env, &id, &marker);
        }
        assert_eq!(sockets_of(&env, &id), Vec::<String>::new(), "{name}");
    }
}

/// The names under the store's `blobs/sha256` and `layers`.
fn store_files(env: &TestEnv) -> Vec<String> {
    let storage = env.home.join(".local/share/hutch/storage");
    let mut out = Vec::new();
    for dir in ["blobs/sha256", "layers"] {
        if let Ok(d) = std::fs::read_dir(storage.join(dir)) {
            out.extend(
                d.flatten()
                    .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy())),
            );
        }
    }
    out.sort();
    out
}

/// Issue 17 item 5: a refused load (or import) left its blobs (config,
/// manifest, the refused layer) in `blobs/sha256` until `image prune`.
/// Now the store holds after a refusal what it held before.
#[test]
fn refused_loads_and_imports_leave_no_blobs() {
    let env = env();
    let before = store_files(&env);
    let evil = layer(&[Entry::Dir("ok"), Entry::RawName(b"../escape", b"evil")]);
    let archive = write_readable(
        &env.root,
        "evil.tar",
        &docker_archive(&[busybox_rootfs(), evil.clone()], "localhost/evil:latest"),
    );
    let out = env.run(["load", "-i", archive.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("../escape"), "{}", stderr(&out));
    assert_eq!(store_files(&env), before, "after a refused load");

    let tar = write_readable(&env.root, "evil-layer.tar", &evil);
    let out = env.run(["import", tar.to_str().expect("utf-8 path"), "evil"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(store_files(&env), before, "after a refused import");
    // The image that was there still works.
    env.ok(["run", "--rm", "busybox", "true"]);
}
