//! Container lifecycle commands as users run them: create/start/stop/kill/
//! wait/restart/rename, restart policies, exists, prune, inspect, events,
//! ps, and concurrent creation.

mod common;

use std::time::{Duration, Instant};

use common::images::*;
use common::*;

fn env() -> TestEnv {
    busybox_env(&[])
}

fn inspect(env: &TestEnv, name: &str, format: &str) -> String {
    env.ok(["inspect", "--format", format, name])
        .trim()
        .to_owned()
}

#[test]
fn create_start_wait() {
    let env = env();
    let id = env.ok(["create", "--name", "c1", "busybox", "sh", "-c", "exit 3"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "full id: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        env.ok(["ps", "-a", "--format", "{{.Names}} {{.Status}} {{.State}}"])
            .trim(),
        "c1 Created Created"
    );
    assert!(env.ok(["ps", "-q"]).trim().is_empty(), "not running");
    assert_eq!(inspect(&env, "c1", "{{.State.Status}}"), "created");
    assert_eq!(env.ok(["start", "c1"]).trim(), "c1");
    assert_eq!(env.ok(["wait", "c1"]).trim(), "3");
    let status = env.ok(["ps", "-a", "--format", "{{.Status}}"]);
    assert!(status.starts_with("Exited (3) "), "{status}");
    assert_eq!(inspect(&env, "c1", "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&env, id, "{{.State.ExitCode}}"), "3");
    // An exited container starts again.
    assert_eq!(env.ok(["start", &id[..12]]).trim(), &id[..12]);
    assert_eq!(env.ok(["wait", id]).trim(), "3");
    // A command that does not exist: the start fails, the container reads
    // exited with 127, not half-made.
    env.ok(["create", "--name", "bad", "busybox", "no-such-command"]);
    let out = env.run(["start", "bad"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-command"), "{}", stderr(&out));
    assert_eq!(inspect(&env, "bad", "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&env, "bad", "{{.State.ExitCode}}"), "127");
}

#[test]
fn stop_kills_after_timeout_and_honours_stop_timeout() {
    let env = env();
    env.ok(["run", "-d", "--name", "s", "busybox", "sleep", "600"]);
    // sleep as pid 1 ignores SIGTERM: the stop ends with SIGKILL.
    let t = Instant::now();
    assert_eq!(env.ok(["stop", "-t", "1", "s"]).trim(), "s");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(8), "stop took {took:?}");
    assert_eq!(inspect(&env, "s", "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&env, "s", "{{.State.ExitCode}}"), "137");
    // Stopping a stopped container is no error.
    assert_eq!(env.ok(["stop", "s"]).trim(), "s");

    // --stop-timeout is the default for stop; a handled stop signal ends it
    // at once with the container's own exit code.
    env.ok([
        "run",
        "-d",
        "--name",
        "t",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 143' TERM; while :; do sleep 0.1; done",
    ]);
    assert_eq!(inspect(&env, "t", "{{.Config.StopTimeout}}"), "1");
    let t = Instant::now();
    env.ok(["stop", "t"]);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(inspect(&env, "t", "{{.State.ExitCode}}"), "143");

    // --ignore: a missing container is no error.
    let out = env.run(["stop", "nothere"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("no such container"),
        "{}",
        stderr(&out)
    );
    assert!(env.run(["stop", "--ignore", "nothere"]).status.success());
}

#[test]
fn kill_with_signal_and_wait_conditions() {
    let env = env();
    env.ok([
        "create",
        "--name",
        "k",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' USR1; while :; do sleep 0.1; done",
    ]);
    // `wait --condition running` blocks until the start.
    let waiter = env
        .hutch(["wait", "--condition", "running", "--interval", "50ms", "k"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.ok(["start", "k"]);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim(), "-1");
    assert_eq!(env.ok(["kill", "-s", "USR1", "k"]).trim(), "k");
    assert_eq!(env.ok(["wait", "--condition", "exited", "k"]).trim(), "7");
    // Only a running container can be killed.
    let out = env.run(["kill", "k"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("can only kill running containers"),
        "{}",
        stderr(&out)
    );
    let out = env.run(["kill", "-s", "NOSUCHSIG", "k"]);
    assert_eq!(out.status.code(), Some(125));

    // Signal numbers work too; 9 kills outright.
    env.ok(["run", "-d", "--name", "k9", "busybox", "sleep", "600"]);
    env.ok(["kill", "-s", "9", "k9"]);
    assert_eq!(env.ok(["wait", "k9"]).trim(), "137");
    // Several containers: one code per line.
    assert_eq!(env.ok(["wait", "k", "k9"]), "7\n137\n");
    let out = env.run(["wait", "--condition", "bogus", "k"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn restart_and_rename() {
    let env = env();
    let id = env.ok(["run", "-d", "--name", "r", "busybox", "sleep", "600"]);
    let id = id.trim();
    let pid = inspect(&env, "r", "{{.State.Pid}}");
    assert_eq!(env.ok(["restart", "-t", "0", "r"]).trim(), id);
    assert_eq!(inspect(&env, "r", "{{.State.Status}}"), "running");
    let pid2 = inspect(&env, "r", "{{.State.Pid}}");
    assert_ne!(pid, pid2, "a new process");

    env.ok(["rename", "r", "renamed"]);
    assert_eq!(inspect(&env, "renamed", "{{.Id}}"), id);
    assert_eq!(inspect(&env, "renamed", "{{.Name}}"), "renamed");
    assert_eq!(env.run(["container", "exists", "r"]).status.code(), Some(1));
    assert_eq!(
        env.run(["container", "exists", "renamed"]).status.code(),
        Some(0)
    );
    // The new name is taken now: renaming another container to it fails.
    env.ok(["create", "--name", "other", "busybox", "true"]);
    let out = env.run(["rename", "other", "renamed"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains(id), "{}", stderr(&out));
    assert_eq!(inspect(&env, "other", "{{.Name}}"), "other");
}

#[test]
fn on_failure_restarts_exactly_n_times() {
    let env = env();
    env.ok([
        "run",
        "-d",
        "--name",
        "f",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    // wait returns once no restart can follow.
    assert_eq!(env.ok(["wait", "--interval", "50ms", "f"]).trim(), "1");
    assert_eq!(inspect(&env, "f", "{{.RestartCount}}"), "2");
    assert_eq!(inspect(&env, "f", "{{.State.Status}}"), "exited");
    assert_eq!(
        inspect(
            &env,
            "f",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure 2"
    );
    let starts = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "container=f",
        "--filter",
        "event=start",
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(starts.lines().count(), 3, "{starts}");

    // --rm with a restart policy is refused, and nothing is created.
    let out = env.run(["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--rm"), "{}", stderr(&out));
    let out = env.run(["create", "--restart", "sometimes", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(env.ok(["ps", "-a", "-q"]).lines().count(), 1);
}

#[test]
fn restart_always_is_not_undone_by_a_user_stop() {
    let env = env();
    env.ok([
        "run",
        "-d",
        "--name",
        "a",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    // It exits by itself and comes back.
    assert!(
        wait_until(Duration::from_secs(30), || {
            inspect(&env, "a", "{{.RestartCount}}")
                .parse::<u32>()
                .unwrap_or(0)
                >= 2
        }),
        "restarted"
    );
    env.ok(["stop", "-t", "0", "a"]);
    // stop returns once the monitor is gone: nothing will restart it.
    assert_eq!(inspect(&env, "a", "{{.State.Status}}"), "exited");
    let count = inspect(&env, "a", "{{.RestartCount}}");
    assert!(env.ok(["wait", "a"]).trim().parse::<i32>().is_ok());
    assert_eq!(inspect(&env, "a", "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&env, "a", "{{.RestartCount}}"), count);
    // A start clears the user's stop: the policy applies again.
    env.ok(["start", "a"]);
    let count: u32 = count.parse().unwrap();
    assert!(wait_until(Duration::from_secs(30), || {
        inspect(&env, "a", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            > count
    }));
    env.ok(["stop", "-t", "0", "a"]);
}

#[test]
fn concurrent_runs_get_distinct_names() {
    let env = env();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| env.ok(["run", "-d", "busybox", "true"]).trim().to_owned()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 20);
    let names = env.ok(["ps", "-a", "--format", "{{.Names}}"]);
    let names: std::collections::HashSet<_> = names.lines().collect();
    assert_eq!(names.len(), 20, "{names:?}");
    assert_eq!(env.ok(["ps", "-a", "-q"]).lines().count(), 20);
}

#[test]
fn name_conflict_changes_nothing() {
    let env = env();
    let id = env.ok(["create", "--name", "dup", "busybox", "true"]);
    let out = env.run(["create", "--name", "dup", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(id.trim()) && err.contains("already in use"),
        "{err}"
    );
    let out = env.run(["run", "-d", "--name", "dup", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(env.ok(["ps", "-a", "-q", "--no-trunc"]).trim(), id.trim());
    // --replace takes the name over.
    let new = env.ok(["create", "--replace", "--name", "dup", "busybox", "true"]);
    assert_ne!(new, id);
    assert_eq!(env.ok(["ps", "-a", "-q", "--no-trunc"]).trim(), new.trim());
}

#[test]
fn prune_removes_only_stopped() {
    let env = env();
    let created = env.ok(["create", "busybox", "true"]);
    let exited = env.ok(["run", "-d", "busybox", "true"]);
    env.ok(["wait", exited.trim()]);
    let running = env.ok(["run", "-d", "busybox", "sleep", "600"]);
    let out = env.ok(["container", "prune", "-f"]);
    let mut pruned: Vec<&str> = out.lines().collect();
    pruned.sort();
    let mut want = vec![created.trim(), exited.trim()];
    want.sort();
    assert_eq!(pruned, want);
    assert_eq!(
        env.ok(["ps", "-a", "-q", "--no-trunc"]).trim(),
        running.trim()
    );
}

#[test]
fn events_record_the_lifecycle() {
    let env = env();
    let id = env.ok(["run", "-d", "--name", "ev", "busybox", "true"]);
    env.ok(["wait", "ev"]);
    env.ok(["rm", "ev"]);
    let text = env.ok(["events", "--stream=false"]);
    let actions: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(id.trim()))
        .filter_map(|l| l.split_whitespace().nth(5))
        .collect();
    assert_eq!(actions, ["create", "start", "died", "remove"], "{text}");
    assert!(
        text.contains("(image=localhost/busybox:latest, name=ev)") || text.contains("name=ev"),
        "{text}"
    );
    let json = env.ok([
        "events",
        "--stream=false",
        "--format",
        "json",
        "--filter",
        "event=died",
    ]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Status"], "died");
    assert_eq!(v["ContainerExitCode"], 0);
    assert_eq!(v["Name"], "ev");
    // Nothing before a time in the future.
    assert!(
        env.ok([
            "events",
            "--stream=false",
            "--since",
            "2099-01-01T00:00:00Z"
        ])
        .is_empty()
    );
    // A duration counts forward from now, as Podman's `--until 1h`: all
    // of it; a time in the past, nothing.
    let until = |t: &str| {
        env.ok([
            "events",
            "--stream=false",
            "--until",
            t,
            "--format",
            "{{.Status}}",
        ])
        .trim()
        .to_owned()
    };
    assert!(
        until("1h").ends_with("create\nstart\ndied\nremove"),
        "{}",
        until("1h")
    );
    assert_eq!(until("2000-01-01T00:00:00Z"), "");
}

#[test]
fn inspect_and_ps_filters() {
    let env = env();
    let id = env.ok(["run", "-d", "--name", "up", "busybox", "sleep", "600"]);
    let id = id.trim();
    env.ok([
        "run", "-d", "--name", "down", "busybox", "sh", "-c", "exit 2",
    ]);
    env.ok(["wait", "down"]);
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(["container", "inspect", "up"])).unwrap();
    let c = &v[0];
    assert_eq!(c["Id"], id);
    assert_eq!(c["Name"], "up");
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"], serde_json::json!(["600"]));
    assert_eq!(c["State"]["Running"], true);
    assert!(c["State"]["Pid"].as_i64().unwrap() > 0);
    assert_eq!(c["Config"]["Cmd"], serde_json::json!(["sleep", "600"]));
    assert_eq!(c["Config"]["StopSignal"], 15);
    assert_eq!(c["HostConfig"]["AutoRemove"], false);
    assert!(c["LogPath"].as_str().unwrap().ends_with("ctr.log"));
    assert_eq!(inspect(&env, "up", "{{.State.Status}}"), "running");
    // `inspect` finds images too; --type narrows it.
    assert!(
        env.ok(["inspect", "--format", "{{.Id}}", "busybox"])
            .trim()
            .len()
            >= 64
    );
    let out = env.run(["inspect", "--type", "container", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    let out = env.run(["inspect", "nothing"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("no such object"), "{}", stderr(&out));
    assert_eq!(inspect(&env, &id[..8], "{{.Name}}"), "up");
    let latest = env.ok(["inspect", "-l", "--format", "{{.Name}}"]);
    assert_eq!(latest.trim(), "down");

    let f = |filter: &str| {
        env.ok(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
            .trim()
            .to_owned()
    };
    assert_eq!(f("status=exited"), "down");
    assert_eq!(f("status=running"), "up");
    assert_eq!(f("exited=2"), "down");
    assert_eq!(f("exited=0"), "");
    assert_eq!(f("name=^do"), "down");
    assert_eq!(f(&format!("id={}", &id[..6])), "up");
    assert_eq!(f("ancestor=busybox").lines().count(), 2);
    // Without -a only a status filter reaches beyond running containers,
    // as in Podman 4.3 (`ps --filter name=x` lists running ones).
    let running_only = |filter: &str| {
        env.ok(["ps", "--filter", filter, "--format", "{{.Names}}"])
            .trim()
            .to_owned()
    };
    assert_eq!(running_only("status=exited"), "down");
    assert_eq!(running_only("name=^do"), "");
    assert_eq!(running_only("exited=2"), "");
    assert_eq!(running_only("name=up"), "up");
    assert_eq!(
        env.ok(["ps", "-l", "--format", "{{.Names}}"]).trim(),
        "down"
    );
    // The two made last, the older first (podman 4.3.1's order).
    assert_eq!(
        env.ok(["ps", "-n", "2", "--format", "{{.Names}}"]),
        "up\ndown\n"
    );
    assert_eq!(
        env.ok(["ps", "-a", "--sort", "names", "--format", "{{.Names}}"]),
        "down\nup\n"
    );
    let status = env.ok(["ps", "--format", "{{.Status}}"]);
    assert!(status.starts_with("Up "), "{status}");
    assert_eq!(
        env.ok(["ps", "-a", "--no-trunc", "-q", "--filter", "name=up"])
            .trim(),
        id
    );
    let sized = env.ok(["ps", "-a", "-s", "--format", "{{.Size}}"]);
    assert!(sized.lines().all(|l| l.contains("virtual")), "{sized}");
    assert_eq!(
        env.run(["ps", "--filter", "bogus=1"]).status.code(),
        Some(125)
    );
}

#[test]
fn logs_follow_since_until_then_stop_and_rm() {
    let env = env();
    // Lines a second apart: `logs -f` started after the first must block
    // until the container ends and print every line once.
    env.ok([
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 1; echo two; sleep 1; echo three",
    ]);
    assert!(
        wait_until(Duration::from_secs(10), || env
            .ok(["logs", "talker"])
            .contains("one")),
        "first line logged"
    );
    assert_eq!(env.ok(["logs", "-f", "talker"]), "one\ntwo\nthree\n");
    assert_eq!(
        env.ok(["logs", "--since", "10m", "talker"]).lines().count(),
        3
    );
    assert_eq!(env.ok(["logs", "--until", "2000-01-01", "talker"]), "");
    assert_eq!(env.ok(["logs", "--tail", "1", "talker"]), "three\n");
    let out = env.run(["logs", "--since", "yesterday-ish", "talker"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));

    // run -d, logs -f while it runs, stop, rm.
    env.ok([
        "run",
        "-d",
        "--name",
        "svc",
        "busybox",
        "sh",
        "-c",
        "echo up; exec sleep 600",
    ]);
    assert!(
        wait_until(Duration::from_secs(10), || env
            .ok(["logs", "svc"])
            .contains("up")),
        "service logged"
    );
    let follower = env
        .hutch(["logs", "-f", "svc"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start logs -f");
    env.ok(["stop", "-t", "1", "svc"]);
    let out = follower
        .wait_with_output()
        .expect("logs -f ends with the container");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "up\n");
    assert!(
        !env.ok(["rm", "svc"]).trim().is_empty(),
        "rm names what it removed"
    );
    assert!(
        !env.ok(["ps", "-a", "--format", "{{.Names}}"])
            .contains("svc")
    );
}

/// A stop that has to kill says so with Podman's warning, word for word
/// and in logrus's shape (stderr is not a terminal here).
#[test]
fn stop_that_kills_warns_as_podman_does() {
    let env = busybox_env(&[]);
    // `sleep` as pid 1 ignores SIGTERM (no handler, init's default).
    env.ok(["run", "-d", "--name", "st", "busybox", "sleep", "100"]);
    let out = env.run(["stop", "-t", "1", "st"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "st");
    let err = stderr(&out);
    assert!(err.starts_with("time=\""), "{err}");
    assert!(
        err.contains(
            "level=warning msg=\"StopSignal SIGTERM failed to stop container st in 1 seconds, resorting to SIGKILL\""
        ),
        "{err}"
    );
}

/// `--filter` on rm, stop, start and restart, as Podman has it: every
/// container that passes `ps`'s filters, printed by full id; none is not
/// an error; names beside it are.
#[test]
fn filters_choose_the_containers_of_rm_stop_start_restart() {
    let env = busybox_env(&[]);
    let a = env.ok(["create", "--name", "fa1", "busybox", "true"]);
    let b = env.ok(["create", "--name", "fa2", "busybox", "true"]);
    let c = env.ok(["run", "-d", "--name", "other", "busybox", "sleep", "100"]);
    let out = env.ok(["stop", "-f", "name=nothing-like-it"]);
    assert_eq!(out, "");
    let out = env.ok(["restart", "-t", "0", "--filter", "name=other"]);
    assert_eq!(out.trim(), c.trim());
    let out = env.ok(["stop", "-t", "0", "--filter", "name=other"]);
    assert_eq!(out.trim(), c.trim());
    let out = env.ok(["start", "--filter", "name=other"]);
    assert_eq!(out.trim(), c.trim());
    let out = env.run(["rm", "--filter", "name=fa", "fa1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("--filter takes no arguments"),
        "{}",
        stderr(&out)
    );
    let out = env.run(["stop", "--filter", "bogus=1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("bogus is an invalid filter"),
        "{}",
        stderr(&out)
    );
    let out = env.ok(["rm", "--filter", "name=fa"]);
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    let mut want = vec![a.trim(), b.trim()];
    want.sort_unstable();
    assert_eq!(got, want);
    let left = env.ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "other");
    env.ok(["rm", "-f", "-t", "0", "other"]);
}
