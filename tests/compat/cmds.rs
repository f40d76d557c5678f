//! `init`, `logs --latest`, `rmi --no-prune`, `images --history`,
//! `ps --ns/--sync/--watch`, containers.conf `pull_policy` and `log_tag`:
//! hutch against podman 4.3.1 (issue 12).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::*;

/// podman's stderr as compared with hutch's: its mount warning dropped.
fn podman_err(text: &str) -> String {
    without_mount_warning(text)
}

/// `args` with both, each of which must succeed (their output differs:
/// new ids).
#[test]
fn init_then_start() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.both_ok(&[
        "create",
        "--name",
        "i1",
        "--network",
        "none",
        "bb",
        "echo",
        "hi",
    ]);
    p.same(&["init", "i1"]);
    // Ready in the runtime, not run: Podman's "initialized" state.
    p.same(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    p.same(&["inspect", "--format", "{{.State.Status}}", "i1"]);
    let out = p.hutch(&["logs", "i1"]);
    assert!(
        stdout(&out).is_empty(),
        "the process has not run: {}",
        stdout(&out)
    );
    // Twice: refused, as the runtime holds it already.
    let (h, q) = p.same(&["init", "i1"]);
    assert!(
        h.contains("has already been created in runtime: container state improper")
            && q.contains("has already been created in runtime: container state improper"),
        "{h}\n{q}"
    );
    p.same(&["start", "i1"]);
    p.same(&["wait", "i1"]);
    p.same(&["logs", "i1"]);
    p.same(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    // An exited container is initialized again (`container init` too),
    // and `start -a` runs it attached.
    p.same(&["container", "init", "i1"]);
    p.same(&["inspect", "--format", "{{.State.Status}}", "i1"]);
    p.same(&["start", "-a", "i1"]);
    let (h, q) = p.same(&["init", "bogus"]);
    assert_eq!(h, podman_err(&q));
    // --latest and --all print full ids: the codes compare.
    p.both_ok(&["create", "--network", "none", "bb", "true"]);
    p.same_code(&["init", "-l"]);
    // The exited one's "N seconds ago" depends on when each ran: the
    // state word and exit code compare.
    let args = [
        "ps",
        "-a",
        "--sort",
        "command",
        "--format",
        "{{.Command}} {{.Status}}",
    ];
    let first_words = |o: std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(first_words(p.hutch(&args)), first_words(p.podman(&args)));
    p.same_code(&["init", "-a"]);
    // An initialized container stops at once (its held init goes).
    let began = Instant::now();
    let out = p.hutch(&["stop", "-l"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "stop waited out its timeout"
    );
    let out = p.hutch(&["ps", "-a", "--format", "{{.Command}} {{.Status}}"]);
    assert!(
        stdout(&out).contains("true Exited (137)"),
        "{}",
        stdout(&out)
    );
    let out = p.hutch(&["rm", "-a", "-f"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.podman(&["rm", "-a", "-f", "-t", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn logs_latest_and_rmi_no_prune() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.same(&[
        "run",
        "--name",
        "l1",
        "--network",
        "none",
        "bb",
        "echo",
        "hello",
    ]);
    p.same(&["logs", "-l"]);
    p.same(&["logs", "--latest", "--tail", "1"]);
    let (h, q) = p.same(&["logs"]);
    assert_eq!(h, podman_err(&q));
    let (h, q) = p.same(&["logs", "-l", "l1"]);
    assert_eq!(h, podman_err(&q));
    p.same(&["rm", "l1"]);
    let (h, q) = p.same(&["logs", "-l"]);
    assert_eq!(h, podman_err(&q));
    p.both_ok(&["tag", "bb", "bb2"]);
    p.same(&["rmi", "--no-prune", "bb2"]);
    p.same(&["rmi", "--no-prune", "nothere"]);
}

#[test]
fn images_history() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.both_ok(&["tag", "bb", "localhost/hist:v1"]);
    let (h, _) = p.same(&[
        "images",
        "--history",
        "--sort",
        "repository",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.History}}",
    ]);
    assert!(h.is_empty(), "{h}");
    let out = p.hutch(&["images", "--history"]);
    let text = stdout(&out);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.trim_end().ends_with("HISTORY"))
            && text.contains("localhost/hist:v1, localhost/bb:latest"),
        "{text}"
    );
}

#[test]
fn ps_ns_sync_watch() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.both_ok(&[
        "run",
        "-d",
        "--name",
        "n1",
        "--network",
        "none",
        "bb",
        "sleep",
        "60",
    ]);
    // The ids differ between the two: the header and the shape compare.
    let (h, q) = (p.hutch(&["ps", "--ns"]), p.podman(&["ps", "--ns"]));
    let (h, q) = (stdout(&h), stdout(&q));
    assert_eq!(h.lines().next(), q.lines().next(), "{h}\n{q}");
    let row: Vec<&str> = h
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row.len(), 10, "{h}");
    assert!(row[2..].iter().all(|f| f.parse::<u64>().is_ok()), "{h}");
    // The container's own network namespace, not this process's.
    let own_net = std::fs::read_link("/proc/self/ns/net").expect("own netns");
    assert!(!own_net.to_string_lossy().contains(row[6]), "{h}");
    p.same(&["ps", "--ns", "--format", "{{.Names}}"]);
    p.same(&["ps", "--sync", "--format", "{{.Names}}"]);
    let (h, q) = p.same(&["ps", "--watch", "1", "--latest"]);
    assert_eq!(h, podman_err(&q));
    // --watch repeats the list every second until interrupted.
    let mut child = p
        .env
        .hutch(["ps", "--watch", "1", "--format", "{{.Names}}"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hutch ps --watch");
    let began = Instant::now();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = 0;
    while seen < 3 && began.elapsed() < Duration::from_secs(20) {
        match lines.next() {
            Some(Ok(l)) if l == "n1" => seen += 1,
            Some(Ok(l)) => panic!("unexpected line {l:?}"),
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen, 3, "three lists");
    assert!(
        began.elapsed() >= Duration::from_secs(2),
        "one list a second"
    );
    p.same(&["rm", "-f", "-t", "0", "n1"]);
}

#[test]
fn conf_pull_policy_and_log_tag() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.env.write_containers_conf(
        "[containers]\nlog_tag = \"tagged\"\n[engine]\npull_policy = \"never\"\n",
    );
    // `never`: a missing image is not pulled.
    let (h, q) = p.same(&["create", "--network", "none", "localhost/nothere:1"]);
    assert_eq!(h, podman_err(&q));
    // Created only: podman 4.3.1's conmon then refuses to start it
    // ("k8s-file doesn't support --log-tag"); hutch runs it
    // (docs/compat.md).
    let args = ["create", "--name", "lt", "--network", "none", "bb", "true"];
    let (h, q) = (p.hutch(&args), p.podman(&args));
    assert!(
        h.status.success() && q.status.success(),
        "{}\n{}",
        stderr(&h),
        stderr(&q)
    );
    let run = p.hutch(&["start", "-a", "lt"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        !stderr(&h).contains("log_tag"),
        "no warning: {}",
        stderr(&h)
    );
    p.same(&["inspect", "--format", "{{.HostConfig.LogConfig.Tag}}", "lt"]);
    p.same(&["rm", "lt"]);
    // A flag wins over the file.
    p.both_ok(&[
        "create",
        "--name",
        "own",
        "--log-opt",
        "tag=own",
        "--network",
        "none",
        "bb",
        "true",
    ]);
    // podman 4.3.1 shows the file's tag here, over the flag; hutch the
    // flag's (docs/compat.md).
    let out = p.hutch(&[
        "inspect",
        "--format",
        "{{.HostConfig.LogConfig.Tag}}",
        "own",
    ]);
    assert_eq!(stdout(&out).trim(), "own");
    p.same(&["rm", "own"]);
}

/// The lines a build's RUN printed with the `R:` marker (the rest of a
/// build's output names new ids).
fn run_lines(out: &std::process::Output) -> String {
    stdout(out)
        .lines()
        .filter(|l| l.starts_with("R:"))
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

#[test]
fn build_run_container_flags() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let dir = p.env.root.join("bctx");
    std::fs::create_dir(&dir).expect("create the build context");
    chown(&dir, p.env.user.uid, p.env.user.gid);
    let cf = write_readable(
        &dir,
        "Containerfile",
        b"FROM nothere\n\
          RUN echo R: nofile $(ulimit -n); \
              echo R: shm $(busybox df -k /dev/shm | busybox awk 'NR==2 {print $2}'); \
              echo R: hosts $(busybox grep -c '^1.2.3.4[[:space:]]*foo$' /etc/hosts); \
              echo R: pid1 $(cat /proc/1/comm); \
              echo R: proxy $http_proxy\n",
    );
    let (ctx, cf) = (dir.display().to_string(), cf.display().to_string());
    let log = p.env.home.join("build.log").display().to_string();
    // Flags podman 4.3.1 takes for RUN containers, its pulls and no-ops.
    let args = [
        "build",
        "--no-cache",
        "--from",
        "bb",
        "-f",
        &cf,
        "--network",
        "none",
        "--add-host",
        "foo:1.2.3.4",
        "--ulimit",
        "nofile=100:100",
        "--shm-size",
        "32m",
        "--pid",
        "host",
        "--ipc",
        "private",
        "--uts",
        "private",
        "--cgroupns",
        "private",
        "--http-proxy=false",
        "--tls-verify=false",
        "--retry",
        "1",
        "--compress",
        "--disable-content-trust",
        "--identity-label=true",
        // Not --isolation oci: podman 4.3.1 then drops --network none
        // when --pid is given too (a CNI bridge fails as rootless).
        "--skip-unused-stages",
    ];
    let mut args = args.to_vec();
    // Limits on this rootless cgroup v1 host: ignored by crun (and by
    // hutch with either runtime); podman's build under runc fails the RUN
    // (docs/compat.md).
    if std::env::var("HUTCH_TEST_RUNTIME").as_deref() != Ok("runc") {
        args.extend([
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--cpu-shares",
            "512",
        ]);
    }
    args.push(&ctx);
    let (h, q) = (p.hutch(&args), p.podman(&args));
    assert!(
        h.status.success() && q.status.success(),
        "hutch: {}\npodman: {}",
        stderr(&h),
        stderr(&q)
    );
    let lines = run_lines(&h);
    assert!(
        lines.contains("R: nofile 100\n")
            && lines.contains("R: shm 32768\n")
            && lines.contains("R: hosts 1\n"),
        "{lines}"
    );
    assert_eq!(lines, run_lines(&q), "hutch (left) and podman (right)");
    // --from names the image on the STEP line as Podman's does.
    assert!(
        stdout(&h).starts_with("STEP 1/2: FROM bb\n"),
        "{}",
        stdout(&h)
    );
    // A missing device is refused before any step (the build is cached).
    let (h, q) = p.same(&[
        "build",
        "--network",
        "none",
        "--from",
        "bb",
        "--device",
        "/nonexist",
        "-f",
        &cf,
        &ctx,
    ]);
    assert_eq!(h, podman_err(&q));
    // A malformed id mapping, in Podman's words.
    let (h, q) = p.same(&["build", "--userns-uid-map", "0:x:1", "-f", &cf, &ctx]);
    assert_eq!(h, podman_err(&q));
    // Podman's refusal of DNS settings without a network, word for word.
    let (h, q) = p.same(&[
        "build",
        "--network",
        "none",
        "--dns-search",
        "x",
        "-f",
        &cf,
        &ctx,
    ]);
    assert_eq!(h, podman_err(&q));
    // --logfile takes the build's output and the id; stdout stays empty.
    for (side, out) in [
        (
            "hutch",
            p.hutch(&[
                "build",
                "--logfile",
                &log,
                "--network",
                "none",
                "--from",
                "bb",
                "-f",
                &cf,
                &ctx,
            ]),
        ),
        (
            "podman",
            p.podman(&[
                "build",
                "--logfile",
                &log,
                "--network",
                "none",
                "--from",
                "bb",
                "-f",
                &cf,
                &ctx,
            ]),
        ),
    ] {
        assert!(out.status.success(), "{side}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{side}");
        let text = std::fs::read_to_string(&log).expect("read the log file");
        let last = text.lines().last().unwrap_or_default();
        assert!(
            text.starts_with("STEP 1/2: FROM bb\n") && last.len() == 64,
            "{side}: {text}"
        );
    }
    // -q: a RUN's stdout is dropped, its stderr kept, as Podman's.
    let qf = write_readable(&dir, "Quiet", b"FROM bb\nRUN echo out; echo err >&2\n");
    let qf = qf.display().to_string();
    for (side, out) in [
        (
            "hutch",
            p.hutch(&[
                "build",
                "-q",
                "--no-cache",
                "--network",
                "none",
                "-f",
                &qf,
                &ctx,
            ]),
        ),
        (
            "podman",
            p.podman(&[
                "build",
                "-q",
                "--no-cache",
                "--network",
                "none",
                "-f",
                &qf,
                &ctx,
            ]),
        ),
    ] {
        assert!(out.status.success(), "{side}: {}", stderr(&out));
        assert_eq!(stdout(&out).trim().len(), 64, "{side}: {}", stdout(&out));
        assert!(stderr(&out).contains("err\n"), "{side}: {}", stderr(&out));
    }
    // Flags hutch refuses say so, with hutch's exit code.
    for flag in [
        &["--isolation", "chroot"][..],
        &["--manifest", "m"],
        &["--skip-unused-stages=false"],
    ] {
        let mut a = vec!["build", "-f", &cf];
        a.extend_from_slice(flag);
        a.push(&ctx);
        let out = p.hutch(&a);
        assert_eq!(out.status.code(), Some(125), "{flag:?}");
        assert!(
            stderr(&out).contains(&format!("hutch build does not support {}", flag[0])),
            "{flag:?}: {}",
            stderr(&out)
        );
    }
}
