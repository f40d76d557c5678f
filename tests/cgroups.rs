//! cgroups on this machine: hybrid v1/v2 without systemd, so no manager.
//! Limit flags are accepted and ignored with one warning, `info` says why,
//! and `stats`/`update` refuse clearly (the systemd guest tier covers the
//! limits themselves).

mod common;

use common::images::*;
use common::*;

fn env_with_busybox() -> TestEnv {
    busybox_env(&[])
}

fn hybrid_host() -> bool {
    // The tests describe a host without a usable cgroup manager; on a pure
    // v2 machine they would test something else.
    std::fs::metadata("/sys/fs/cgroup/unified").is_ok()
}

#[test]
fn run_with_memory_limit_warns_once_and_runs() {
    if !hybrid_host() {
        return;
    }
    let env = env_with_busybox();
    let out = env.run(["run", "--rm", "--memory", "64m", "busybox", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("Resource limits"))
        .collect();
    assert_eq!(warnings.len(), 1, "exactly one warning: {err:?}");
    assert!(warnings[0].contains("ignored"), "{err}");
    assert_eq!(err.lines().count(), 1, "nothing else on stderr: {err:?}");
}

#[test]
fn many_limit_flags_still_one_warning_and_output_unchanged() {
    if !hybrid_host() {
        return;
    }
    let env = env_with_busybox();
    let out = env.run([
        "run",
        "--rm",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "20",
        "--cpu-shares",
        "512",
        "busybox",
        "echo",
        "hi",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    assert_eq!(
        stderr(&out).matches("Resource limits").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_without_limits_has_no_warning() {
    let env = env_with_busybox();
    let out = env.run(["run", "--rm", "busybox", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("Resource limits"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_limit_values_are_refused() {
    let env = env_with_busybox();
    let out = env.run(["run", "--rm", "--memory", "lots", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("lots"), "{}", stderr(&out));
    let out = env.run(["run", "--rm", "--memory", "1m", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("6MB"), "{}", stderr(&out));
}

#[test]
fn info_says_why_no_limits_apply() {
    if !hybrid_host() {
        return;
    }
    let env = TestEnv::new(TestUser::default_user());
    let manager = env.ok(["info", "--format", "{{.Host.CgroupManager}}"]);
    assert_eq!(manager.trim(), "none");
    let reason = env.ok(["info", "--format", "{{.Host.CgroupManagerReason}}"]);
    assert!(reason.contains("hybrid"), "{reason}");
    assert!(reason.contains("without resource limits"), "{reason}");
    // Asking for a manager cannot make one work here, and info says so.
    let reason = env.ok([
        "--cgroup-manager",
        "systemd",
        "info",
        "--format",
        "{{.Host.CgroupManager}} {{.Host.CgroupManagerReason}}",
    ]);
    assert!(reason.starts_with("none "), "{reason}");
    assert!(reason.contains("--cgroup-manager"), "{reason}");
}

#[test]
fn stats_and_update_refuse_without_cgroups_v2() {
    if !hybrid_host() {
        return;
    }
    let env = env_with_busybox();
    let out = env.run(["stats", "--no-stream"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "Error: stats is not supported in rootless mode without cgroups v2"
    );
    // The container is looked up first, as Podman does: a missing one
    // is named as missing, an existing one gets the cgroup refusal.
    let out = env.run(["update", "--memory", "64m", "whatever"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no such container"),
        "{}",
        stderr(&out)
    );
    env.ok(["create", "--name", "limited", "busybox", "true"]);
    let out = env.run(["update", "--memory", "64m", "limited"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not supported in rootless mode without cgroups v2"),
        "{}",
        stderr(&out)
    );
}
