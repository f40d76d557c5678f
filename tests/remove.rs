//! `rm` as Podman has it: `-v` (anonymous volumes go, named ones stay),
//! `--depend` (dependents first) and the refusal without it, what is
//! printed (the name or id as given; full ids for `-a`), a missing
//! container (exit 1, nothing removed; `-i` ignores it), `-t` with `-f`.

mod common;

use std::time::{Duration, Instant};

use common::images::*;
use common::*;

fn env() -> TestEnv {
    busybox_env(&[])
}

fn names(env: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> = env
        .ok(["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn volumes(env: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> = env
        .ok(["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[test]
fn rm_volumes_removes_anonymous_keeps_named() {
    let env = env();
    env.ok(["volume", "create", "keep"]);
    env.ok([
        "create",
        "--name",
        "c1",
        "-v",
        "/anon",
        "-v",
        "keep:/named",
        "busybox",
        "true",
    ]);
    let before = volumes(&env);
    assert_eq!(before.len(), 2, "{before:?}");
    let anon = before.iter().find(|v| *v != "keep").unwrap().clone();
    let anon_dir = env.ok(["volume", "inspect", "--format", "{{.Mountpoint}}", &anon]);
    let anon_dir = std::path::PathBuf::from(anon_dir.trim());
    assert!(anon_dir.is_dir(), "{}", anon_dir.display());
    assert_eq!(env.ok(["rm", "-v", "c1"]).trim(), "c1");
    assert_eq!(volumes(&env), vec!["keep".to_string()]);
    assert!(!anon_dir.exists(), "the anonymous volume's data is gone");

    // Without -v the anonymous volume stays.
    env.ok(["create", "--name", "c2", "-v", "/anon", "busybox", "true"]);
    assert_eq!(env.ok(["rm", "c2"]).trim(), "c2");
    assert_eq!(volumes(&env).len(), 2);
}

#[test]
fn rm_prints_what_was_given_and_full_ids_for_all() {
    let env = env();
    let id = env.ok(["create", "--name", "byname", "busybox", "true"]);
    assert_eq!(env.ok(["rm", "byname"]).trim(), "byname");
    let id2 = env.ok(["create", "busybox", "true"]);
    let id2 = id2.trim();
    assert_eq!(env.ok(["rm", &id2[..7]]).trim(), &id2[..7]);
    assert_ne!(id.trim(), id2);
    let a = env.ok(["create", "busybox", "true"]).trim().to_owned();
    let b = env
        .ok(["create", "--name", "named", "busybox", "true"])
        .trim()
        .to_owned();
    let mut out: Vec<String> = env.ok(["rm", "-a"]).lines().map(str::to_owned).collect();
    out.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(out, want);
    assert!(names(&env).is_empty());
}

#[test]
fn rm_missing_container_exits_1_and_removes_nothing() {
    let env = env();
    env.ok(["create", "--name", "stays", "busybox", "true"]);
    let out = env.run(["rm", "nosuch", "stays"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "Error: no container with name or ID \"nosuch\" found: no such container"
    );
    assert!(stdout(&out).trim().is_empty());
    assert_eq!(names(&env), vec!["stays".to_string()]);

    // -i: the missing one is skipped, the other removed.
    let out = env.run(["rm", "-i", "nosuch", "stays"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "stays");
    assert!(names(&env).is_empty());
    // -f implies it too, as in Podman.
    assert_eq!(env.run(["rm", "-f", "nosuch"]).status.code(), Some(0));
}

#[test]
fn rm_refuses_a_container_others_depend_on() {
    let env = env();
    let base = env.ok(["run", "-d", "--name", "base", "busybox", "sleep", "1000"]);
    let base = base.trim();
    let dep = env.ok([
        "create",
        "--name",
        "dep",
        "--network",
        "container:base",
        "busybox",
        "true",
    ]);
    let dep = dep.trim();
    let out = env.run(["rm", "-f", "base"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "Error: container {base} has dependent containers which must be removed before it: {dep}: container already exists"
        )
    );
    assert_eq!(names(&env), vec!["base".to_string(), "dep".to_string()]);
    assert_eq!(
        env.ok(["inspect", "--format", "{{.State.Status}}", "base"])
            .trim(),
        "running",
        "nothing was stopped either"
    );
    // Once the dependent is gone, base goes.
    assert_eq!(env.ok(["rm", "dep"]).trim(), "dep");
    assert_eq!(env.ok(["rm", "-f", "base"]).trim(), "base");
}

#[test]
fn rm_depend_removes_dependents_first() {
    let env = env();
    let base = env.ok(["run", "-d", "--name", "base", "busybox", "sleep", "1000"]);
    let d1 = env.ok([
        "run",
        "-d",
        "--name",
        "d1",
        "--network",
        "container:base",
        "busybox",
        "sleep",
        "1000",
    ]);
    let d2 = env.ok([
        "create",
        "--name",
        "d2",
        "--pid",
        "container:base",
        "busybox",
        "true",
    ]);
    // d3 depends on base through d1.
    let d3 = env.ok([
        "create",
        "--name",
        "d3",
        "--network",
        "container:d1",
        "busybox",
        "true",
    ]);
    env.ok(["create", "--name", "other", "busybox", "true"]);
    let out = env.ok(["rm", "-f", "--depend", "base"]);
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 4, "{out}");
    let pos = |id: &str| got.iter().position(|l| *l == id.trim()).unwrap();
    assert!(pos(&d3) < pos(&d1), "{out}");
    assert!(pos(&d1) < pos(&base) && pos(&d2) < pos(&base), "{out}");
    assert_eq!(got[3], base.trim());
    assert_eq!(names(&env), vec!["other".to_string()]);
}

#[test]
fn rm_running_needs_force_and_time_needs_force() {
    let env = env();
    env.ok(["run", "-d", "--name", "r", "busybox", "sleep", "1000"]);
    env.ok(["create", "--name", "c", "busybox", "true"]);
    let out = env.run(["rm", "r", "c"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("running or paused containers cannot be removed without force"),
        "{}",
        stderr(&out)
    );
    // The other one was removed all the same.
    assert_eq!(stdout(&out).trim(), "c");
    let out = env.run(["rm", "-t", "1", "r"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("--force option must be specified to use the --time option"),
        "{}",
        stderr(&out)
    );
    // sleep as pid 1 ignores SIGTERM: -t 1 waits a second, then kills.
    let t = Instant::now();
    assert_eq!(env.ok(["rm", "-f", "-t", "1", "r"]).trim(), "r");
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(names(&env).is_empty());
}

#[test]
fn run_rm_removes_anonymous_volumes_keeps_named() {
    let env = env();
    env.ok([
        "run",
        "--rm",
        "-v",
        "/anon",
        "-v",
        "kept:/named",
        "busybox",
        "true",
    ]);
    assert_eq!(volumes(&env), vec!["kept".to_string()]);
}
