//! Create flags that shape the container: capabilities, read-only root,
//! env files, hostname and /etc/hosts, tmpfs, init, ulimits, log driver.

mod common;

use std::time::Duration;

use common::images::*;
use common::*;

fn env_with_busybox() -> TestEnv {
    busybox_env(&[])
}

/// Podman's default capability set (containers-common), as a CapEff mask.
fn mask(caps: &[u32]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |m, c| m | 1 << c))
}

const CHOWN: u32 = 0;
const DAC_OVERRIDE: u32 = 1;
const FOWNER: u32 = 3;
const FSETID: u32 = 4;
const KILL: u32 = 5;
const SETGID: u32 = 6;
const SETUID: u32 = 7;
const SETPCAP: u32 = 8;
const NET_BIND_SERVICE: u32 = 10;
const NET_ADMIN: u32 = 12;
const SYS_CHROOT: u32 = 18;
const SETFCAP: u32 = 31;
const PODMAN_DEFAULT: [u32; 11] = [
    CHOWN,
    DAC_OVERRIDE,
    FOWNER,
    FSETID,
    KILL,
    NET_BIND_SERVICE,
    SETFCAP,
    SETGID,
    SETPCAP,
    SETUID,
    SYS_CHROOT,
];

fn cap_eff(env: &TestEnv, flags: &[&str]) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sh", "-c", "grep CapEff /proc/self/status"]);
    let out = env.ok(&args);
    out.trim()
        .strip_prefix("CapEff:")
        .unwrap_or_else(|| panic!("no CapEff line: {out}"))
        .trim()
        .to_string()
}

#[test]
fn capabilities_default_add_and_drop() {
    let env = env_with_busybox();
    assert_eq!(cap_eff(&env, &[]), mask(&PODMAN_DEFAULT));
    let mut added = PODMAN_DEFAULT.to_vec();
    added.push(NET_ADMIN);
    assert_eq!(cap_eff(&env, &["--cap-add", "NET_ADMIN"]), mask(&added));
    let dropped: Vec<u32> = PODMAN_DEFAULT
        .iter()
        .copied()
        .filter(|c| *c != CHOWN && *c != KILL)
        .collect();
    assert_eq!(
        cap_eff(&env, &["--cap-drop", "chown", "--cap-drop", "CAP_KILL"]),
        mask(&dropped)
    );
    assert_eq!(cap_eff(&env, &["--cap-drop", "all"]), mask(&[]));
    let out = env.run(["run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("unknown capability"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn read_only_root_with_writable_tmp() {
    let env = env_with_busybox();
    let out = env.run(["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "write to a read-only / succeeded"
    );
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    env.ok(["run", "--rm", "--read-only", "busybox", "touch", "/tmp/x"]);
    let out = env.run([
        "run",
        "--rm",
        "--read-only",
        "--read-only-tmpfs=false",
        "busybox",
        "touch",
        "/tmp/x",
    ]);
    assert_ne!(out.status.code(), Some(0), "no tmpfs on /tmp");
}

#[test]
fn env_file_and_env_host() {
    let env = env_with_busybox();
    let file = write_readable(&env.root, "vars.env", b"# comment\nA=1\n\nB=two words\n");
    let out = env.ok([
        "run",
        "--rm",
        "--env-file",
        file.to_str().unwrap(),
        "-e",
        "A=override",
        "busybox",
        "sh",
        "-c",
        "echo \"$A|$B\"",
    ]);
    assert_eq!(out, "override|two words\n");
    let out = env.run([
        "run",
        "--rm",
        "--env-file",
        "/no/such.env",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("no such file or directory"),
        "{}",
        stderr(&out)
    );
    let out = env.ok([
        "run",
        "--rm",
        "--env-host",
        "busybox",
        "sh",
        "-c",
        "echo $LOGNAME",
    ]);
    assert_eq!(out.trim(), env.user.name);
}

#[test]
fn hostname_and_hosts_file() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        "--hostname",
        "myhost",
        "--name",
        "named",
        "--add-host",
        "db.local:10.1.2.3",
        "busybox",
        "sh",
        "-c",
        "hostname; cat /etc/hostname; cat /etc/hosts",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "myhost", "{out}");
    assert_eq!(lines[1], "myhost", "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["10.1.2.3", "db.local"]),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.contains(&"myhost") && f.contains(&"named")
        }),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("127.0.0.1") && l.contains("localhost")),
        "{out}"
    );
    let resolv = env.ok(["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver "), "{resolv}");
    let out = env.run(["run", "--rm", "--add-host", "x:notanip", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn tmpfs_mounts() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m",
        "--mount",
        "type=tmpfs,dst=/other,tmpfs-mode=0700",
        "busybox",
        "sh",
        "-c",
        "touch /scratch/a /other/b && grep -E ' /(scratch|other) ' /proc/mounts && stat -c %a /other",
    ]);
    assert!(out.contains("tmpfs /scratch tmpfs"), "{out}");
    assert!(out.contains("size=1024k"), "{out}");
    assert!(out.contains("tmpfs /other tmpfs"), "{out}");
    assert!(out.trim_end().ends_with("700"), "{out}");
}

#[test]
fn shm_size_sets_dev_shm_and_inspect() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        "--shm-size",
        "128m",
        "busybox",
        "sh",
        "-c",
        "grep ' /dev/shm ' /proc/mounts",
    ]);
    assert!(out.contains("size=131072k"), "{out}");
    env.ok([
        "create",
        "--name",
        "s",
        "--shm-size",
        "1g",
        "busybox",
        "true",
    ]);
    let shown = env.ok(["inspect", "--format", "{{.HostConfig.ShmSize}}", "s"]);
    assert_eq!(shown.trim(), "1073741824");
    env.ok(["create", "--name", "d", "busybox", "true"]);
    let shown = env.ok(["inspect", "--format", "{{.HostConfig.ShmSize}}", "d"]);
    assert_eq!(shown.trim(), "67108864", "Podman's default");
    let bad = env.run(["create", "--shm-size", "12q", "busybox", "true"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("12q"));
}

#[test]
fn init_is_pid_one() {
    let env = env_with_busybox();
    // The init is bound at /run/podman-init (as in Podman), so its comm is
    // that name; its content is the host's catatonit.
    let out = env.ok([
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/comm; sha256sum /proc/1/exe",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "podman-init", "{out}");
    let catatonit = std::fs::read("/usr/bin/catatonit").expect("catatonit is installed");
    let digest = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(&catatonit))
    };
    assert!(lines[1].starts_with(&digest), "pid 1 is catatonit: {out}");
    let out = env.ok(["run", "--rm", "busybox", "cat", "/proc/1/comm"]);
    assert_eq!(out.trim(), "cat");
}

#[test]
fn ulimits_and_security_opts() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        "--ulimit",
        "nofile=512:1024",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; grep NoNewPrivs /proc/self/status",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "512", "{out}");
    assert!(lines[1].ends_with("1"), "{out}");
    for bad in ["nofile", "bogus=1", "nofile=2:1"] {
        let out = env.run(["run", "--rm", "--ulimit", bad, "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "--ulimit {bad}");
    }
    let out = env.ok([
        "run",
        "--rm",
        "--security-opt",
        "mask=/etc/passwd",
        "busybox",
        "sh",
        "-c",
        "cat /etc/passwd | wc -c",
    ]);
    assert_eq!(out.trim(), "0", "masked");
}

#[test]
fn labels_userns_namespaces_log_driver() {
    let env = env_with_busybox();
    // --uidmap: container root is the first subordinate id, 1000 the user.
    let out = env.ok([
        "run",
        "--rm",
        "--uidmap",
        "0:1:1000",
        "--uidmap",
        "1000:0:1",
        "busybox",
        "cat",
        "/proc/self/uid_map",
    ]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![vec!["0", "1", "1000"], vec!["1000", "0", "1"]],
        "{out}"
    );
    // --pull: never looks only locally; always goes to a registry even for
    // a local image (none is configured here, so it fails).
    let out = env.run(["run", "--rm", "--pull", "never", "nothere", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("image not known"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("pulling"), "{}", stderr(&out));
    env.ok(["run", "--rm", "--pull", "missing", "busybox", "true"]);
    let out = env.run(["run", "--rm", "--pull", "always", "busybox", "true"]);
    assert_eq!(
        out.status.code(),
        Some(125),
        "always pulls: {}",
        stderr(&out)
    );
    // --uts=host: the host's hostname.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = env.ok([
        "run",
        "--rm",
        "--uts=host",
        "busybox",
        "sh",
        "-c",
        "hostname",
    ]);
    assert_eq!(out.trim(), host.trim());
    // --pid=host sees more than its own processes.
    let out = env.ok([
        "run",
        "--rm",
        "--pid=host",
        "busybox",
        "sh",
        "-c",
        "ls -d /proc/[0-9]* | wc -l",
    ]);
    assert!(out.trim().parse::<u32>().unwrap() > 3, "{out}");
    // --log-driver none: output reaches the terminal, not a log.
    let out = env.ok([
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    assert_eq!(out, "hi\n");
    let logs = env.run(["logs", "quiet"]);
    assert_eq!(logs.status.code(), Some(125));
    assert!(stderr(&logs).contains("none"), "{}", stderr(&logs));
    // --log-opt path=: the log where asked.
    let path = env.root.join("ctr.log");
    let opt = format!("path={}", path.display());
    chown(&env.root, env.user.uid, env.user.gid);
    env.ok([
        "run",
        "--rm",
        "--log-opt",
        &opt,
        "busybox",
        "echo",
        "logged",
    ]);
    assert!(
        wait_until(Duration::from_secs(5), || std::fs::read_to_string(&path)
            .is_ok_and(|t| t.contains("stdout F logged"))),
        "log written at path="
    );
}

#[test]
fn privileged_devices_seccomp_and_shared_pid() {
    let env = env_with_busybox();
    // Rootless --privileged: every capability of the bounding set, no seccomp.
    let out = env.ok([
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "grep -E 'CapEff|Seccomp:' /proc/self/status; ls /dev/null /dev/zero",
    ]);
    let eff = out
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no CapEff: {out}"));
    const SYS_ADMIN: u32 = 21;
    const PODMAN_DEFAULT_MASK: u64 = 0x8004_05fb;
    assert_eq!(eff & PODMAN_DEFAULT_MASK, PODMAN_DEFAULT_MASK, "{out}");
    assert_ne!(eff & (1 << SYS_ADMIN), 0, "privileged has SYS_ADMIN: {out}");
    assert!(out.contains("Seccomp:\t0"), "{out}");
    let out = env.ok([
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status",
    ]);
    assert!(out.contains("Seccomp:\t0"), "{out}");
    let out = env.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status",
    ]);
    assert!(out.contains("Seccomp:\t2"), "filtered by default: {out}");
    // --device: the host node, usable.
    let out = env.ok([
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/mynull",
        "busybox",
        "sh",
        "-c",
        "echo x > /dev/mynull && echo wrote",
    ]);
    assert_eq!(out.trim(), "wrote");
    let out = env.run(["run", "--rm", "--device", "/dev/nope", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("no such file or directory"),
        "{}",
        stderr(&out)
    );
    let a = env.ok(["run", "-d", "busybox", "sleep", "60"]);
    // --pid container:ID joins the first one's pid namespace.
    let out = env.ok([
        "run",
        "--rm",
        "--pid",
        &format!("container:{}", a.trim()),
        "busybox",
        "cat",
        "/proc/1/cmdline",
    ]);
    assert!(out.starts_with("sleep"), "{out:?}");
    env.ok(["rm", "-f", a.trim()]);
}

#[test]
fn log_max_size_rotates() {
    let env = env_with_busybox();
    let id = env.ok([
        "run",
        "-d",
        "--log-opt",
        "max-size=8k",
        "busybox",
        "sh",
        "-c",
        // Bursts apart in time, so that the monitor reads (and logs) them
        // as separate writes.
        "i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; \
         i=$((i+1)); [ $((i % 100)) = 0 ] && sleep 1; done",
    ]);
    let id = id.trim();
    let logs = || env.ok(["logs", id]);
    assert!(
        wait_until(Duration::from_secs(10), || logs().contains("line-399-")),
        "last line logged"
    );
    assert!(
        !logs().contains("line-0-"),
        "the first lines were rotated away"
    );
}

/// Podman's global options that place state: `--runroot` (the runtime's
/// state), `--volumepath` (new volumes), `--runtime-flag` (global flags
/// for crun/runc, here crun's and runc's `--log`).
#[test]
fn global_options_place_state_and_reach_the_runtime() {
    let env = env_with_busybox();
    // In the user's home: the test root belongs to root.
    let runroot = env.home.join("rr");
    let volumes = env.home.join("vols");
    let log = env.home.join("runtime.log");
    for d in [&runroot, &volumes] {
        std::fs::create_dir(d).expect("mkdir");
        chown(d, env.user.uid, env.user.gid);
    }
    let rr = runroot.to_string_lossy().into_owned();
    let out = env.ok([
        "--runroot",
        &rr,
        "--runtime-flag",
        &format!("log={}", log.display()),
        "run",
        "--rm",
        "busybox",
        "echo",
        "ran",
    ]);
    assert_eq!(out.trim(), "ran");
    assert!(
        runroot.join("runtime").is_dir(),
        "no runtime state under --runroot"
    );
    assert!(
        log.exists(),
        "--runtime-flag log= did not reach the runtime"
    );
    let vp = volumes.to_string_lossy().into_owned();
    env.ok(["--volumepath", &vp, "volume", "create", "v1"]);
    let mountpoint = env.ok(["volume", "inspect", "--format", "{{.Mountpoint}}", "v1"]);
    assert_eq!(
        mountpoint.trim(),
        volumes.join("v1/_data").to_string_lossy()
    );
    // Podman's log levels, and its message and exit code for others.
    env.ok(["--log-level", "warning", "--log-level", "panic", "ps"]);
    let out = env.run(["--log-level", "verbose", "ps"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Log Level \"verbose\" is not supported"));
    let out = env.run(["--noout", "volume", "ls"]);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        stderr(&out)
    );
}

/// `rm --latest`, `rm --cidfile`, `stop --timeout`, `run --rmi`,
/// `--http-proxy` and `--kernel-memory`, as Podman has them.
#[test]
fn podman_container_flags() {
    let env = env_with_busybox();
    let cid = env.home.join("cid");
    let cidfile = cid.to_string_lossy().into_owned();
    let id = env.ok(["create", "--cidfile", &cidfile, "busybox", "true"]);
    assert_eq!(
        env.ok(["stop", "--timeout", "1", id.trim()]).trim(),
        id.trim()
    );
    assert_eq!(env.ok(["rm", "--cidfile", &cidfile]).trim(), id.trim());
    let id = env.ok(["create", "busybox", "true"]);
    assert_eq!(env.ok(["rm", "-l"]).trim(), id.trim());
    assert!(env.ok(["ps", "-aq"]).trim().is_empty());

    let mut cmd = env.hutch(["run", "--rm", "busybox", "sh", "-c", "echo $https_proxy"]);
    let out = cmd
        .env("https_proxy", "http://proxy:3128")
        .output()
        .expect("run");
    assert_eq!(stdout(&out).trim(), "http://proxy:3128", "{}", stderr(&out));
    let mut cmd = env.hutch([
        "run",
        "--rm",
        "--http-proxy=false",
        "--kernel-memory",
        "10m",
        "busybox",
        "sh",
        "-c",
        "echo x${https_proxy}x",
    ]);
    let out = cmd
        .env("https_proxy", "http://proxy:3128")
        .output()
        .expect("run");
    assert_eq!(stdout(&out).trim(), "xx");
    assert!(
        stderr(&out).contains("The --kernel-memory flag is no longer supported"),
        "{}",
        stderr(&out)
    );

    // --rmi: the container's code stays, the image goes with the container.
    env.ok(["tag", "busybox", "doomed"]);
    let out = env.run(["run", "--rmi", "doomed", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let images = env.ok(["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains("doomed"), "{images}");
    assert!(images.contains("busybox"), "{images}");
    assert!(env.ok(["ps", "-aq"]).trim().is_empty());
}

/// `--conmon-pidfile`: the pid of the container's monitor, hutch's conmon.
#[test]
fn conmon_pidfile_names_the_monitor() {
    let env = env_with_busybox();
    let file = env.home.join("mon.pid");
    let path = file.to_string_lossy().into_owned();
    env.ok([
        "run",
        "-d",
        "--name",
        "m",
        "--conmon-pidfile",
        &path,
        "busybox",
        "sleep",
        "60",
    ]);
    let pid: i32 = std::fs::read_to_string(&file)
        .expect("pid file written")
        .trim()
        .parse()
        .expect("a pid");
    assert_eq!(comm(pid).as_deref(), Some("hutch-monitor"));
    env.ok(["rm", "-f", "m"]);
    assert!(
        wait_until(Duration::from_secs(10), || !is_alive(pid)),
        "the monitor outlived its container"
    );
}

/// `--timeout`: the monitor kills a container that runs past it.
#[test]
fn timeout_kills_a_container_that_runs_too_long() {
    let env = env_with_busybox();
    let started = std::time::Instant::now();
    let out = env.run(["run", "--rm", "--timeout", "1", "busybox", "sleep", "30"]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
    // 0 is no limit, as in Podman.
    let out = env.ok(["run", "--rm", "--timeout", "0", "busybox", "echo", "ok"]);
    assert_eq!(out.trim(), "ok");
}

/// Podman's `--entrypoint` takes a JSON array as the command and its
/// arguments; anything else is one word.
#[test]
fn entrypoint_as_a_json_array() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        r#"--entrypoint=["/bin/echo","x"]"#,
        "busybox",
        "y",
    ]);
    assert_eq!(out.trim(), "x y");
}

/// An explicit `--workdir` missing from the image is refused at start, as
/// Podman does (run 126, start 125, with its message); one that a mount
/// provides, or that an earlier run made, is fine.
#[test]
fn a_missing_workdir_is_refused_at_start() {
    let env = env_with_busybox();
    let out = env.run(["run", "--rm", "--workdir", "/does/not", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(r#"workdir "/does/not" does not exist on container"#),
        "{}",
        stderr(&out)
    );
    let out = env.ok([
        "run",
        "--rm",
        "--workdir",
        "/w/x",
        "--tmpfs",
        "/w",
        "busybox",
        "sh",
        "-c",
        "pwd",
    ]);
    assert_eq!(out.trim(), "/w/x");

    let id = env.ok([
        "create",
        "--name",
        "wd",
        "--workdir",
        "/nope",
        "busybox",
        "sh",
        "-c",
        "pwd",
    ]);
    let out = env.run(["start", "-a", "wd"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("unable to start container {}:", id.trim())),
        "{}",
        stderr(&out)
    );
    // Made by an earlier container's run on the same root: `cp` into it.
    env.ok(["rm", "wd"]);
    env.ok([
        "create",
        "--name",
        "wd2",
        "--workdir",
        "/made",
        "busybox",
        "sh",
        "-c",
        "pwd",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("made")).expect("mkdir");
    chown(&dir.path().join("made"), env.user.uid, env.user.gid);
    chown(dir.path(), env.user.uid, env.user.gid);
    env.ok(["cp", &format!("{}/made", dir.path().display()), "wd2:/"]);
    let out = env.ok(["start", "-a", "wd2"]);
    assert_eq!(out.trim(), "/made");
}

/// `--userns=keep-id` gives the user's uid a name inside (Podman adds the
/// passwd and group entries), and `--hostuser` copies host accounts in;
/// the image's own files are not touched.
#[test]
fn keep_id_and_hostuser_add_passwd_entries() {
    let env = env_with_busybox();
    let (uid, gid, name) = (env.user.uid, env.user.gid, env.user.name.clone());
    let out = env.ok([
        "run",
        "--rm",
        "--userns",
        "keep-id",
        "busybox",
        "sh",
        "-c",
        "id; tail -1 /etc/group",
    ]);
    assert!(
        out.contains(&format!("uid={uid}({name}) gid={gid}({name})")),
        "{out}"
    );
    assert!(out.contains(&format!("{name}:x:{gid}:{name}")), "{out}");
    let out = env.ok([
        "run",
        "--rm",
        "--hostuser",
        &name,
        "--hostuser",
        "0",
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert!(
        out.contains(&format!("{name}:*:{uid}:{gid}::/:/bin/sh")),
        "{out}"
    );
    assert_eq!(
        out.matches(":0:0:").count(),
        1,
        "root is the image's: {out}"
    );
    let out = env.ok(["run", "--rm", "busybox", "cat", "/etc/passwd"]);
    assert!(!out.contains(&name), "the image's file is unchanged: {out}");
    let out = env.run([
        "run",
        "--rm",
        "--hostuser",
        "no-such-user-x",
        "busybox",
        "true",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("no-such-user-x"), "{}", stderr(&out));
}

/// inspect's `.ImageDigest` is the image's manifest digest, as Podman's.
#[test]
fn inspect_shows_the_image_digest() {
    let env = env_with_busybox();
    env.ok(["create", "--name", "dg", "busybox", "true"]);
    let digest = env.ok(["inspect", "--format", "{{.ImageDigest}}", "dg"]);
    let image = env.ok(["image", "inspect", "--format", "{{.Digest}}", "busybox"]);
    assert!(digest.trim().starts_with("sha256:"), "{digest}");
    assert_eq!(digest.trim(), image.trim());
}

/// `--sysctl` sets namespaced kernel parameters in the container's own
/// namespaces and refuses the rest with Podman's messages (exit 125).
#[test]
fn sysctl_sets_namespaced_parameters_only() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ping_group_range=0 1",
        "--sysctl",
        "kernel.msgmax=9000",
        "busybox",
        "cat",
        "/proc/sys/net/ipv4/ping_group_range",
        "/proc/sys/kernel/msgmax",
    ]);
    assert_eq!(out, "0\t1\n9000\n");
    let bad = env.run(["run", "--rm", "--sysctl", "foo.bar=1", "busybox", "true"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(
        stderr(&bad).contains("sysctl 'foo.bar' is not allowed"),
        "{}",
        stderr(&bad)
    );
    let host = env.run([
        "run",
        "--rm",
        "--network",
        "host",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "busybox",
        "true",
    ]);
    assert_eq!(host.status.code(), Some(125));
    assert!(
        stderr(&host).contains("can't be set since Network Namespace set to host"),
        "{}",
        stderr(&host)
    );
}

/// containers.conf's `[containers]` defaults: `env` under the image's and
/// `-e`, `tz`, `init`, `shm_size` (powers of 1000, as Podman reads it);
/// the flags win over them.
#[test]
fn containers_conf_container_defaults_apply_and_flags_win() {
    let env = env_with_busybox();
    let runtime = std::env::var("HUTCH_TEST_RUNTIME")
        .ok()
        .filter(|r| !r.is_empty())
        .map(|r| format!("[engine]\nruntime = \"{r}\"\n"))
        .unwrap_or_default();
    env.write_containers_conf(&format!(
        "{runtime}[containers]\nenv = [\"FOO=conf\", \"TERM=dumb\"]\ntz = \"UTC\"\ninit = true\nshm_size = \"32m\"\n"
    ));
    let out = env.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo $FOO $TERM; df -k /dev/shm | tail -1; test -e /etc/localtime && echo tz; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "conf dumb", "{out}");
    assert!(lines[1].contains(" 31252 "), "32m = 32e6 bytes: {out}");
    assert_eq!(lines[2], "tz", "{out}");
    assert!(
        lines[3].contains("init"),
        "init=true puts an init first: {out}"
    );
    let out = env.ok([
        "run",
        "--rm",
        "-e",
        "FOO=flag",
        "--shm-size",
        "1m",
        "busybox",
        "sh",
        "-c",
        "echo $FOO; df -k /dev/shm | tail -1",
    ]);
    assert!(out.starts_with("flag\n"), "{out}");
    assert!(out.contains(" 1024 "), "{out}");
}

/// containers.conf keys Podman 4.3 does not compare here (or does not have):
/// `read_only`, `volumes`, `netns`, `log_driver`; a value hutch cannot
/// follow is warned about by name, a bad one fails the create naming the
/// key.
#[test]
fn containers_conf_more_defaults_and_bad_values() {
    let env = env_with_busybox();
    let runtime = std::env::var("HUTCH_TEST_RUNTIME")
        .ok()
        .filter(|r| !r.is_empty())
        .map(|r| format!("[engine]\nruntime = \"{r}\"\n"))
        .unwrap_or_default();
    let shared = env.home.join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::write(shared.join("f"), "from host\n").expect("write");
    chown(&shared, env.user.uid, env.user.gid);
    env.write_containers_conf(&format!(
        "{runtime}[containers]\nread_only = true\nnetns = \"none\"\nlog_driver = \"none\"\nvolumes = [\"{}:/shared:ro\"]\n",
        shared.display()
    ));
    let out = env.run([
        "run",
        "--name",
        "cc",
        "busybox",
        "sh",
        "-c",
        "cat /shared/f; touch /x 2>/dev/null || echo ro; grep -c : /proc/net/dev",
    ]);
    assert_eq!(stdout(&out), "from host\nro\n1\n", "{}", stderr(&out));
    let logs = env.run(["logs", "cc"]);
    assert!(stdout(&logs).is_empty(), "log_driver none keeps no log");
    env.ok(["rm", "cc"]);

    env.write_containers_conf(&format!(
        "{runtime}[containers]\nlog_driver = \"journald\"\numask = \"999\"\n"
    ));
    let out = env.run(["create", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("[containers] log_driver")
            && err.contains("journald")
            && err.contains("umask \"999\""),
        "{err}"
    );
}
