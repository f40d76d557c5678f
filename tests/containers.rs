//! Containers as users run them: `run` through the default runtime (crun;
//! tests/run repeats the suite under runc) under hutch's monitor, exit
//! codes, logs, ps, rm.

mod common;

use std::time::Duration;

use common::images::*;
use common::*;

fn env_with_busybox() -> TestEnv {
    busybox_env(&[])
}

#[test]
fn run_rm_prints_and_leaves_nothing() {
    let env = env_with_busybox();
    let out = env.run(["run", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    assert!(
        env.ok(["ps", "-a", "-q"]).trim().is_empty(),
        "--rm removed the container"
    );
}

#[test]
fn exit_codes_propagate() {
    let env = env_with_busybox();
    assert_eq!(
        env.run(["run", "--rm", "busybox", "true"]).status.code(),
        Some(0)
    );
    assert_eq!(
        env.run(["run", "--rm", "busybox", "sh", "-c", "exit 3"])
            .status
            .code(),
        Some(3)
    );
    let out = env.run(["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-command"), "{}", stderr(&out));
    let out = env.run(["run", "--rm", "busybox", "/etc"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    let out = env.run(["run", "--rm", "no-such-image", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("image not known"), "{}", stderr(&out));
}

#[test]
fn detached_container_logs_ps_and_forced_removal() {
    let env = env_with_busybox();
    let id = env.ok([
        "run",
        "-d",
        "--name",
        "sleeper",
        "busybox",
        "sh",
        "-c",
        "echo started; sleep 60",
    ]);
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 64);
    assert!(
        wait_until(Duration::from_secs(10), || env
            .ok(["logs", "sleeper"])
            .contains("started")),
        "log line written"
    );
    // Podman 4.3.1's State text: "Up 2 seconds ago".
    let ps = env.ok(["ps", "--format", "{{.Names}} {{.State}}"]);
    assert!(
        ps.starts_with("sleeper Up ") && ps.trim().ends_with(" ago"),
        "{ps}"
    );
    let out = env.run(["rm", "sleeper"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "running container refused without -f"
    );
    assert_eq!(env.ok(["rm", "-f", "sleeper"]).trim(), "sleeper");
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
}

#[test]
fn default_capabilities_match_podman() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep CapEff /proc/self/status; id -u",
    ]);
    assert!(out.contains("CapEff:\t00000000800405fb"), "{out}");
    assert!(out.ends_with("0\n"), "{out}");
}

#[test]
fn name_conflict_is_a_clear_error() {
    let env = env_with_busybox();
    env.ok(["run", "--name", "taken", "busybox", "true"]);
    let out = env.run(["run", "--name", "taken", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("already in use"), "{}", stderr(&out));
    assert_eq!(
        env.ok(["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "taken"
    );
}

#[test]
fn killed_monitor_shows_exited_and_rm_cleans_up() {
    let env = env_with_busybox();
    let id = env.ok(["run", "-d", "--name", "orphan", "busybox", "sleep", "5"]);
    let id = id.trim().to_owned();
    assert!(env.ok(["ps", "--format", "{{.State}}"]).starts_with("Up "));
    let monitor = live_processes()
        .into_iter()
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == id.as_bytes()))
        })
        .expect("monitor process");
    // SAFETY: kill of the monitor this test started.
    unsafe { libc::kill(monitor, libc::SIGKILL) };
    assert!(wait_until(Duration::from_secs(10), || !is_alive(monitor)));
    let ps = env.ok(["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert!(ps.starts_with("orphan Exited ("), "{ps}");
    assert_eq!(env.ok(["rm", "orphan"]).trim(), "orphan");
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
}

/// The runtime matrix rests on this: containers.conf `[engine] runtime`
/// chooses the runtime (tests/run sets it through HUTCH_TEST_RUNTIME), and
/// `--runtime` wins over it.
#[test]
fn containers_conf_chooses_the_runtime() {
    let env = env_with_busybox();
    let runtime_of = |id: &str| {
        env.ok(["inspect", "--format", "{{.OCIRuntime}}", id.trim()])
            .trim()
            .to_owned()
    };
    for (conf, flag) in [("runc", "crun"), ("crun", "runc")] {
        env.write_containers_conf(&format!("[engine]\nruntime = \"{conf}\"\n"));
        let id = env.ok(["create", "busybox", "true"]);
        assert_eq!(runtime_of(&id), conf);
        let id = env.ok(["create", "--runtime", flag, "busybox", "true"]);
        assert_eq!(runtime_of(&id), flag);
    }
}

/// The monitor is `hutch-monitor`, not hutch re-executed: a small binary
/// of its own (the whole of hutch was 10-12 MB resident per container).
/// Its stderr is `userdata/monitor.log`, private to the user.
#[test]
fn the_monitor_is_its_own_small_binary() {
    let env = env_with_busybox();
    let id = env.ok(["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim();
    let pid: i32 = env
        .ok(["inspect", "--format", "{{.State.ConmonPid}}", id])
        .trim()
        .parse()
        .expect("monitor pid");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("the monitor's exe");
    assert!(exe.ends_with("hutch-monitor"), "{}", exe.display());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    // Generous for a debug build; a release build is near 2 MB.
    assert!(rss_kb < 8 * 1024, "monitor RSS {rss_kb} kB");
    let pid_file = env.ok(["inspect", "--format", "{{.PidFile}}", id]);
    let log = std::path::Path::new(pid_file.trim()).with_file_name("monitor.log");
    assert!(log.exists(), "{}", log.display());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).expect("stat").permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    env.ok(["rm", "-f", "-t", "0", id]);
}

/// A hutch installed without its monitor says which file is missing.
#[test]
fn a_missing_monitor_is_named() {
    let env = env_with_busybox();
    let lone = env.root.join("lone");
    std::fs::create_dir(&lone).expect("dir");
    let bin = lone.join("hutch");
    if std::fs::hard_link(hutch_bin(), &bin).is_err() {
        std::fs::copy(hutch_bin(), &bin).expect("copy hutch");
    }
    let out = env
        .hutch_at(&bin, ["run", "-d", "busybox", "true"])
        .output()
        .expect("start hutch");
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let missing = lone.join("hutch-monitor");
    assert!(
        stderr(&out).contains(&missing.display().to_string()),
        "{}",
        stderr(&out)
    );
}
