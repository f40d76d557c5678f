//! Health checks as users run them, without systemd: `--health-*` flags
//! and an image's HEALTHCHECK, `healthcheck run` and its exit codes, the
//! monitor's timer turning a container unhealthy after N failures, each
//! `--health-on-failure` action, `.State.Health`, `ps` STATUS and
//! `--filter health=`, `health_status` events.

mod common;

use std::time::{Duration, Instant};

use common::images::*;
use common::*;
use sha2::Digest as _;

fn env() -> TestEnv {
    busybox_env(&[])
}

fn inspect(env: &TestEnv, name: &str, format: &str) -> String {
    env.ok(["inspect", "--format", format, name])
        .trim()
        .to_owned()
}

fn health(env: &TestEnv, name: &str) -> serde_json::Value {
    let text = env.ok(["inspect", "--format", "{{json .State.Health}}", name]);
    serde_json::from_str(text.trim()).expect("health is JSON")
}

fn status(env: &TestEnv, name: &str) -> String {
    health(env, name)["Status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `healthcheck run NAME`: (exit code, stdout, stderr).
fn check(env: &TestEnv, name: &str) -> (i32, String, String) {
    let out = env.run(["healthcheck", "run", name]);
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

#[test]
fn healthcheck_run_exit_codes_and_messages() {
    let env = env();
    // No timer: only `healthcheck run` checks.
    env.ok([
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "echo out; echo err >&2; cat /tmp/ok",
        "--health-retries",
        "2",
        "--health-interval",
        "disable",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(status(&env, "hc"), "starting");
    let ps = env.ok(["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.trim().ends_with("(starting)"), "{ps}");

    // Failing: "unhealthy" and 1 (Podman 4.3.1), still starting after one
    // failure of two allowed.
    let (code, out, _) = check(&env, "hc");
    assert_eq!((code, out.trim()), (1, "unhealthy"));
    let h = health(&env, "hc");
    assert_eq!(h["Status"], "starting");
    assert_eq!(h["FailingStreak"], 1);
    let entry = &h["Log"][0];
    assert_eq!(entry["ExitCode"], 1);
    let output = entry["Output"].as_str().unwrap_or_default();
    assert!(
        output.contains("out") && output.contains("err") && output.contains("/tmp/ok"),
        "stdout and stderr of the check: {output:?}"
    );
    assert!(entry["Start"].as_str().is_some_and(|s| s.ends_with('Z')));
    let (code, _, _) = check(&env, "hc");
    assert_eq!(code, 1);
    assert_eq!(status(&env, "hc"), "unhealthy");
    let ps = env.ok(["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.trim().ends_with("(unhealthy)"), "{ps}");

    // Passing: silent, 0, healthy, the streak over.
    env.ok(["exec", "hc", "touch", "/tmp/ok"]);
    let (code, out, err) = check(&env, "hc");
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let h = health(&env, "hc");
    assert_eq!(h["Status"], "healthy");
    assert_eq!(h["FailingStreak"], 0);
    assert_eq!(h["Log"].as_array().map(Vec::len), Some(3));

    // Podman's errors, exit 125.
    env.ok(["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]);
    let id = inspect(&env, "plain", "{{.Id}}");
    let (code, _, err) = check(&env, "plain");
    assert_eq!(code, 125);
    assert_eq!(
        err.trim(),
        format!("Error: container {id} has no defined healthcheck")
    );
    let (code, _, err) = check(&env, "nosuch");
    assert_eq!(code, 125);
    assert_eq!(
        err.trim(),
        "Error: unable to look up nosuch to perform a health check: no container with name or ID \"nosuch\" found: no such container"
    );
    env.ok(["stop", "-t", "0", "hc"]);
    let id = inspect(&env, "hc", "{{.Id}}");
    let (code, _, err) = check(&env, "hc");
    assert_eq!(code, 125);
    assert_eq!(err.trim(), format!("Error: container {id} is not running"));
    // The last status stays on record, in ps too (as Podman shows it).
    assert_eq!(status(&env, "hc"), "healthy");
    let ps = env.ok(["ps", "-a", "--filter", "name=hc", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(healthy)"), "{ps}");
}

#[test]
fn a_check_past_its_timeout_is_killed_and_fails() {
    let env = env();
    env.ok([
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "1s",
        "--health-interval",
        "disable",
        "busybox",
        "sleep",
        "1000",
    ]);
    let started = Instant::now();
    let (code, _, err) = check(&env, "slow");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the check was not killed at its timeout"
    );
    assert_eq!(code, 125);
    assert_eq!(
        err.trim(),
        "Error: healthcheck command exceeded timeout of 1s"
    );
    let h = health(&env, "slow");
    assert_eq!(h["Log"][0]["ExitCode"], -1);
    assert_eq!(h["FailingStreak"], 1);
}

#[test]
fn the_monitor_turns_a_container_unhealthy_after_n_failures() {
    let env = env();
    env.ok([
        "run",
        "-d",
        "--name",
        "t",
        "--health-cmd",
        "cat /tmp/ok",
        "--health-retries",
        "3",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "1000",
    ]);
    // Three failures at 1 s intervals, with no `healthcheck run` of ours.
    assert!(
        wait_until(Duration::from_secs(30), || status(&env, "t") == "unhealthy"),
        "never unhealthy: {}",
        health(&env, "t")
    );
    let h = health(&env, "t");
    assert!(h["FailingStreak"].as_u64() >= Some(3), "{h}");
    // Before the third failure it was still starting.
    let events = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=health_status",
        "--format",
        "{{.Name}} {{.Status}}",
    ]);
    assert!(
        events
            .lines()
            .filter(|l| l.trim() == "t health_status")
            .count()
            >= 3,
        "{events}"
    );
    let raw = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=health_status",
    ]);
    let first_unhealthy = raw
        .lines()
        .position(|l| l.contains("health_status=unhealthy"))
        .expect("an unhealthy event");
    assert!(first_unhealthy >= 2, "unhealthy before 3 failures:\n{raw}");
    assert_eq!(
        env.ok([
            "ps",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}}"
        ])
        .trim(),
        "t"
    );
    // It recovers by itself once the check passes.
    env.ok(["exec", "t", "touch", "/tmp/ok"]);
    assert!(
        wait_until(Duration::from_secs(30), || status(&env, "t") == "healthy"),
        "never healthy again: {}",
        health(&env, "t")
    );
    assert_eq!(health(&env, "t")["FailingStreak"], 0);
    // At most the 5 last entries are kept.
    assert!(health(&env, "t")["Log"].as_array().map(Vec::len) <= Some(5));
    // Stopped, no check runs any more (nothing is left behind).
    env.ok(["stop", "-t", "0", "t"]);
    let n = health(&env, "t")["Log"].as_array().map(Vec::len);
    let streak = health(&env, "t")["Log"].clone();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        health(&env, "t")["Log"],
        streak,
        "checks after the stop ({n:?})"
    );
}

fn on_failure_container(env: &TestEnv, name: &str, action: &str) {
    env.ok([
        "run",
        "-d",
        "--name",
        name,
        "--stop-timeout",
        "1",
        "--health-cmd",
        "cat /tmp/ok",
        "--health-retries",
        "2",
        "--health-interval",
        "1s",
        &format!("--health-on-failure={action}"),
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        inspect(env, name, "{{.Config.HealthcheckOnFailureAction}}"),
        action
    );
}

#[test]
fn each_health_on_failure_action() {
    let env = env();
    for action in ["none", "kill", "stop", "restart"] {
        on_failure_container(&env, action, action);
    }
    let state = |n: &str| inspect(&env, n, "{{.State.Status}}");
    // kill: SIGKILL at once.
    assert!(
        wait_until(Duration::from_secs(30), || state("kill") == "exited"),
        "kill: {}",
        state("kill")
    );
    assert_eq!(inspect(&env, "kill", "{{.State.ExitCode}}"), "137");
    // stop: the stop signal, then SIGKILL after --stop-timeout.
    assert!(
        wait_until(Duration::from_secs(30), || state("stop") == "exited"),
        "stop: {}",
        state("stop")
    );
    // restart: stopped and started again, with a restart event.
    let first_start = inspect(&env, "restart", "{{.State.StartedAt}}");
    assert!(
        wait_until(Duration::from_secs(30), || {
            state("restart") == "running"
                && inspect(&env, "restart", "{{.State.StartedAt}}") != first_start
        }),
        "restart: {} {}",
        state("restart"),
        inspect(&env, "restart", "{{.State.StartedAt}}")
    );
    let events = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "container=restart",
        "--filter",
        "event=restart",
        "--format",
        "{{.Status}}",
    ]);
    assert!(events.lines().any(|l| l.trim() == "restart"), "{events}");
    // none: unhealthy, and running still.
    assert!(wait_until(Duration::from_secs(30), || status(&env, "none")
        == "unhealthy"));
    assert_eq!(state("none"), "running");
    let out = env.run([
        "run",
        "--rm",
        "--health-cmd",
        "true",
        "--health-on-failure=bogus",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        stderr(&out).trim(),
        "Error: invalid on-failure action \"bogus\" for health check: supported actions are none,kill,restart,stop"
    );
}

#[test]
fn ps_filters_by_health() {
    let env = env();
    for (name, cmd) in [("good", "true"), ("bad", "false"), ("new", "true")] {
        env.ok([
            "run",
            "-d",
            "--name",
            name,
            "--health-cmd",
            cmd,
            "--health-retries",
            "1",
            "--health-interval",
            "disable",
            "busybox",
            "sleep",
            "1000",
        ]);
    }
    env.ok(["run", "-d", "--name", "none", "busybox", "sleep", "1000"]);
    assert_eq!(check(&env, "good").0, 0);
    assert_eq!(check(&env, "bad").0, 1);
    let names = |h: &str| {
        let mut v: Vec<String> = env
            .ok([
                "ps",
                "--filter",
                &format!("health={h}"),
                "--format",
                "{{.Names}}",
            ])
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("healthy"), ["good"]);
    assert_eq!(names("unhealthy"), ["bad"]);
    assert_eq!(names("starting"), ["new"]);
    let ps = env.ok(["ps", "--filter", "name=none", "--format", "{{.Status}}"]);
    assert!(!ps.contains('('), "no health without a check: {ps}");
}

#[test]
fn flags_are_checked_and_stored_as_podman_does() {
    let env = env();
    let bad = |args: &[&str], msg: &str| {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        all.extend(["busybox", "true"]);
        let out = env.run(&all);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert_eq!(stderr(&out).trim(), format!("Error: {msg}"), "{args:?}");
    };
    bad(
        &["--no-healthcheck", "--health-cmd", "true"],
        "cannot specify both --no-healthcheck and --health-cmd",
    );
    bad(
        &["--health-cmd", "true", "--health-retries", "0"],
        "healthcheck-retries must be greater than 0",
    );
    bad(
        &["--health-cmd", "true", "--health-interval", "xyz"],
        "invalid healthcheck-interval: time: invalid duration \"xyz\"",
    );
    bad(
        &["--health-cmd", "true", "--health-start-period", "-1s"],
        "healthcheck-start-period must be 0 seconds or greater",
    );
    bad(
        &["--health-cmd", "[]"],
        "must define a healthcheck command for all healthchecks",
    );
    assert!(
        env.ok(["ps", "-a", "-q"]).trim().is_empty(),
        "nothing stored"
    );

    env.ok([
        "create",
        "--name",
        "c",
        "--health-cmd",
        "echo hi",
        "--health-start-period",
        "5s",
        "--health-on-failure",
        "kill",
        "busybox",
        "true",
    ]);
    let hc: serde_json::Value =
        serde_json::from_str(&inspect(&env, "c", "{{json .Config.Healthcheck}}")).expect("json");
    assert_eq!(
        hc,
        serde_json::json!({"Test": ["CMD-SHELL", "echo hi"], "StartPeriod": 5_000_000_000u64,
            "Interval": 30_000_000_000u64, "Timeout": 30_000_000_000u64, "Retries": 3})
    );
    assert_eq!(
        inspect(&env, "c", "{{.Config.HealthcheckOnFailureAction}}"),
        "kill"
    );
    env.ok([
        "create",
        "--name",
        "arr",
        "--health-cmd",
        r#"["ls", "/"]"#,
        "busybox",
        "true",
    ]);
    assert_eq!(
        inspect(&env, "arr", "{{json .Config.Healthcheck.Test}}"),
        r#"["CMD","ls","/"]"#
    );
    // Created, never started: no status yet.
    let ps = env.ok([
        "ps",
        "-a",
        "--filter",
        "name=arr",
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(ps.trim(), "Created");
}

/// An image whose config has a HEALTHCHECK (what `build` or `docker
/// commit` writes), loaded from a docker-archive.
fn load_image_with_healthcheck(env: &TestEnv) {
    let layer = busybox_rootfs();
    let diff_id = format!("sha256:{:x}", sha2::Sha256::digest(&layer));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sleep", "1000"],
                   "Healthcheck": {"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 1_000_000_000u64,
                                   "Retries": 1}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let config_bytes = serde_json::to_vec(&config).expect("config");
    let config_name = format!("{:x}.json", sha2::Sha256::digest(&config_bytes));
    let layer_name = format!("{:x}.tar", sha2::Sha256::digest(&layer));
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": ["localhost/hc:latest"],
        "Layers": [layer_name]}]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data).expect("member");
    };
    add(&config_name, &config_bytes);
    add(&layer_name, &layer);
    add(
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("manifest"),
    );
    let tar = write_readable(&env.root, "hc.tar", &b.into_inner().expect("archive"));
    env.ok(["load", "-i", &tar.to_string_lossy()]);
}

#[test]
fn the_images_healthcheck_applies_unless_disabled() {
    let env = env();
    load_image_with_healthcheck(&env);
    env.ok(["run", "-d", "--name", "img", "localhost/hc"]);
    let hc: serde_json::Value =
        serde_json::from_str(&inspect(&env, "img", "{{json .Config.Healthcheck}}")).expect("json");
    assert_eq!(hc["Test"], serde_json::json!(["CMD-SHELL", "cat /tmp/ok"]));
    assert_eq!(hc["Interval"], 1_000_000_000u64);
    // Podman's default for the timeout the image left out.
    assert_eq!(hc["Timeout"], 30_000_000_000u64);
    assert!(
        wait_until(Duration::from_secs(30), || status(&env, "img")
            == "unhealthy"),
        "the image's check never ran: {}",
        health(&env, "img")
    );
    // --no-healthcheck: nothing runs, and there is nothing to run.
    env.ok([
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "localhost/hc",
    ]);
    assert_eq!(
        inspect(&env, "off", "{{json .Config.Healthcheck.Test}}"),
        r#"["NONE"]"#
    );
    let (code, _, err) = check(&env, "off");
    assert_eq!(code, 125);
    assert!(err.contains("has no defined healthcheck"), "{err}");
    // --health-cmd replaces the image's.
    env.ok([
        "run",
        "-d",
        "--name",
        "own",
        "--health-cmd",
        "true",
        "localhost/hc",
    ]);
    assert_eq!(check(&env, "own").0, 0);
    assert_eq!(status(&env, "own"), "healthy");
}
