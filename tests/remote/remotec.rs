//! The remote client's container and system commands (issue 18): `-a`,
//! `-l`, `--filter` and `--cidfile` picked from the service's list, the
//! run/create fields added to the SpecGenerator body (`--rootfs`,
//! `--shm-size`, `--sysctl`, `--umask`, ...), and `diff`, `export`,
//! `events`, `info`, `container prune`; outputs and exit codes compared
//! with the local command's run against the same store.

use super::*;

fn lines_sorted(s: &str) -> Vec<String> {
    let mut l: Vec<String> = s.lines().map(str::to_owned).collect();
    l.sort();
    l
}

/// Remote and local (run by the service's user on its store) agree on
/// stdout, stderr and the exit code of `args`.
fn same(c: &TestEnv, server: &TestEnv, url: &[&str], args: &[&str]) -> String {
    let remote = c.run(url.iter().chain(args));
    let local = server.run(args);
    assert_eq!(
        remote.status.code(),
        local.status.code(),
        "{args:?}: remote {} / local {}",
        stderr(&remote),
        stderr(&local)
    );
    assert_eq!(stdout(&remote), stdout(&local), "{args:?}");
    assert_eq!(stderr(&remote), stderr(&local), "{args:?}");
    stdout(&remote)
}

#[test]
fn remotec_selection_flags_pick_as_locally() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let s = &server.0;
    let c = client();
    let url = format!("unix://{}", sock.display());
    let u = ["--url", url.as_str()];
    let with =
        |args: &[&str]| -> Vec<String> { u.iter().chain(args).map(|s| s.to_string()).collect() };
    let id = |name: &str| {
        s.ok(["inspect", "--format", "{{.Id}}", name])
            .trim()
            .to_owned()
    };
    for n in ["alpha", "beta"] {
        c.ok(with(&["run", "-d", "--name", n, "busybox", "sleep", "60"]));
    }
    let cidfile = c.home.join("gamma.cid");
    c.ok(with(&[
        "create",
        "--cidfile",
        cidfile.to_str().unwrap(),
        "--name",
        "gamma",
        "busybox",
        "true",
    ]));
    let running = lines_sorted(&format!("{}\n{}", id("alpha"), id("beta")));
    // -a: the running ones only for pause/unpause, by full id; where
    // this host cannot pause (rootless cgroup v1), the local errors.
    let paused = c.run(with(&["pause", "-a"]));
    if paused.status.success() {
        assert_eq!(lines_sorted(&stdout(&paused)), running);
        for n in ["alpha", "beta"] {
            assert_eq!(
                s.ok(["inspect", "--format", "{{.State.Status}}", n]).trim(),
                "paused"
            );
        }
        assert_eq!(lines_sorted(&c.ok(with(&["unpause", "-a"]))), running);
    } else {
        let local = s.run(["pause", "-a"]);
        assert_eq!(paused.status.code(), local.status.code());
        assert_eq!(
            lines_sorted(&stderr(&paused)),
            lines_sorted(&stderr(&local))
        );
        assert_eq!(stderr(&paused).lines().count(), 2, "{}", stderr(&paused));
    }
    // -l: the newest (gamma, never started); the local command's words
    // and code where it cannot.
    same(&c, s, &u, &["kill", "-l"]);
    same(&c, s, &u, &["inspect", "-l", "--format", "{{.Name}}"]);
    same(&c, s, &u, &["stop", "-l", "alpha"]);
    same(&c, s, &u, &["rm", "-a", "alpha"]);
    same(&c, s, &u, &["stop", "--filter", "name=alpha", "beta"]);
    // --filter: every container passing ps's filters, by full id.
    assert_eq!(
        c.ok(with(&["stop", "-t", "0", "--filter", "name=alpha"])),
        format!("{}\n", id("alpha"))
    );
    assert_eq!(
        c.ok(with(&["start", "--filter", "name=alpha"])),
        format!("{}\n", id("alpha"))
    );
    assert_eq!(c.ok(with(&["stop", "--filter", "name=nomatch"])), "");
    // restart --running passes over gamma.
    assert_eq!(
        lines_sorted(&c.ok(with(&["restart", "-a", "--running", "-t", "0"]))),
        running
    );
    // --cidfile: the client's file names the container.
    let gamma = id("gamma");
    assert_eq!(
        fs::read_to_string(&cidfile).expect("the client wrote the cid file"),
        gamma
    );
    assert_eq!(
        c.ok(with(&["rm", "--cidfile", cidfile.to_str().unwrap()])),
        format!("{gamma}\n")
    );
    let missing = c.home.join("none.cid");
    let out = c.run(with(&["stop", "--cidfile", missing.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("reading CIDFile"), "{}", stderr(&out));
    // -a: stop the running ones, rm every one.
    assert_eq!(
        lines_sorted(&c.ok(with(&["stop", "-a", "-t", "0"]))),
        running
    );
    assert_eq!(lines_sorted(&c.ok(with(&["rm", "-a"]))), running);
    // Nothing left: -l is the local error and code.
    same(&c, s, &u, &["stop", "-l"]);
    same(&c, s, &u, &["rm", "-l"]);
    same(&c, s, &u, &["stop"]);
    no_local_traces(&c);
}

#[test]
fn remotec_run_fields_and_rootfs_reach_the_service() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let s = &server.0;
    let c = client();
    let url = format!("unix://{}", sock.display());
    let flags = [
        "--shm-size",
        "2m",
        "--sysctl",
        "net.ipv4.ping_group_range=0 0",
        "--umask",
        "0077",
        "--unsetenv",
        "HOME",
        "--health-cmd",
        "true",
        "--health-on-failure",
        "kill",
    ];
    let create = |name: &str| -> Vec<String> {
        let mut a: Vec<String> = vec!["create".into(), "--name".into(), name.into()];
        a.extend(flags.iter().map(|s| s.to_string()));
        a.extend(["busybox".into(), "true".into()]);
        a
    };
    let mut remote = vec!["--url".to_string(), url.clone()];
    remote.extend(create("rem"));
    c.ok(remote);
    s.ok(create("loc"));
    let inspect = |name: &str| -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(&s.ok(["inspect", name])).expect("inspect json");
        v[0].clone()
    };
    let (l, r) = (inspect("loc"), inspect("rem"));
    for path in [
        "/HostConfig/ShmSize",
        "/Config/Umask",
        "/Config/HealthcheckOnFailureAction",
    ] {
        assert_eq!(l.pointer(path), r.pointer(path), "{path}");
    }
    assert_eq!(
        r.pointer("/HostConfig/ShmSize"),
        Some(&serde_json::json!(2 << 20))
    );
    // It runs with them.
    let out = c.run([
        "--url",
        &url,
        "run",
        "--rm",
        "--umask",
        "0077",
        "--shm-size",
        "2m",
        "busybox",
        "sh",
        "-c",
        "umask; df -k /dev/shm | tail -1 | awk '{print $2}'",
    ]);
    assert_eq!(stdout(&out), "0077\n2048\n", "{}", stderr(&out));
    // --rootfs: a directory on the service's host, in place.
    let dir = s.root.join("rootfs");
    fs::create_dir_all(dir.join("bin")).expect("rootfs dir");
    fs::copy("/bin/busybox", dir.join("bin/busybox")).expect("busybox-static");
    std::os::unix::fs::symlink("busybox", dir.join("bin/sh")).expect("sh link");
    for p in [dir.clone(), dir.join("bin"), dir.join("bin/busybox")] {
        chown(&p, s.user.uid, s.user.gid);
    }
    let out = c.run([
        "--url",
        &url,
        "run",
        "--rm",
        "--rootfs",
        dir.to_str().unwrap(),
        "/bin/sh",
        "-c",
        "echo from-rootfs > /marker; echo ok",
    ]);
    assert_eq!(stdout(&out), "ok\n", "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(dir.join("marker")).expect("written in place"),
        "from-rootfs\n"
    );
    // What the body still cannot carry is refused by flag.
    let out = c.run(["--url", &url, "create", "--preserve-fds", "1", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--preserve-fds"), "{}", stderr(&out));
    no_local_traces(&c);
}

/// The parts of `info` that do not move between two calls.
fn json_pick(v: &serde_json::Value) -> serde_json::Value {
    serde_json::json!([
        v["host"]["arch"],
        v["store"]["graphRoot"],
        v["host"]["hostname"]
    ])
}

#[test]
fn remotec_diff_export_events_info_prune_as_locally() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let s = &server.0;
    let c = client();
    let url = format!("unix://{}", sock.display());
    let u = ["--url", url.as_str()];
    let out = c.run([
        "--url",
        &url,
        "run",
        "--name",
        "d",
        "busybox",
        "sh",
        "-c",
        "echo x > /newfile; rm /bin/ls; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = same(&c, s, &u, &["diff", "d"]);
    assert!(text.contains("A /newfile"), "{text}");
    same(&c, s, &u, &["diff", "--format", "json", "d"]);
    same(&c, s, &u, &["diff", "-l"]);
    same(&c, s, &u, &["diff", "nosuch"]);
    // export: the same archive, into a file here.
    let here = c.home.join("d.tar");
    c.ok(["--url", &url, "export", "-o", here.to_str().unwrap(), "d"]);
    let local = s.home.join("d-local.tar");
    s.ok(["export", "-o", local.to_str().unwrap(), "d"]);
    let (a, b) = (
        fs::read(&here).expect("remote tar"),
        fs::read(&local).expect("local tar"),
    );
    assert!(a.len() > 1024, "a tar of the root");
    assert_eq!(a.len(), b.len(), "the same archive");
    // events: the same lines for the service's log (the died event is
    // the monitor's cleanup's, written just after the exit).
    assert!(
        wait_until(Duration::from_secs(10), || {
            s.ok(["events", "--stream=false", "--filter", "event=died"])
                .contains("died")
        }),
        "no died event"
    );
    for args in [
        &["events", "--stream=false", "--filter", "event=died"][..],
        &[
            "events",
            "--stream=false",
            "--filter",
            "event=died",
            "--format",
            "{{.Status}} {{.Name}} {{.ContainerExitCode}}",
        ],
    ] {
        let out = same(&c, s, &u, args);
        assert!(out.contains("died"), "{args:?}: {out}");
    }
    assert_eq!(
        c.ok([
            "--url",
            &url,
            "events",
            "--stream=false",
            "--filter",
            "event=died",
            "--format",
            "{{.Status}} {{.Name}} {{.ContainerExitCode}}",
        ]),
        "died d 3\n"
    );
    // info: the service's host, as the local command prints it.
    let info = |text: String| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&text).expect("info json");
        json_pick(&v)
    };
    assert_eq!(
        info(c.ok(["--url", &url, "info", "--format", "json"])),
        info(s.ok(["info", "--format", "json"]))
    );
    // commit: the image made on the service, its id printed.
    let image_id = c.ok(["--url", &url, "commit", "d", "committed:v1"]);
    assert_eq!(
        s.ok(["image", "inspect", "--format", "{{.Id}}", "committed:v1"])
            .trim()
            .trim_start_matches("sha256:"),
        image_id.trim()
    );
    // logs of several containers, -n, --color: dressed as locally.
    for n in ["l1", "l2"] {
        c.ok([
            "--url",
            &url,
            "run",
            "--name",
            n,
            "busybox",
            "sh",
            "-c",
            "echo one; echo two >&2",
        ]);
    }
    same(&c, s, &u, &["logs", "l1", "l2"]);
    same(&c, s, &u, &["logs", "-n", "l1", "l2"]);
    same(&c, s, &u, &["logs", "--color", "l1"]);
    same(&c, s, &u, &["logs", "-f", "l1", "l2"]);
    // healthcheck run: unhealthy is 1, healthy 0, missing 125.
    c.ok([
        "--url",
        &url,
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -e /ok",
        "busybox",
        "sleep",
        "60",
    ]);
    let out = same(&c, s, &u, &["healthcheck", "run", "hc"]);
    assert_eq!(out, "unhealthy\n");
    s.ok(["exec", "hc", "touch", "/ok"]);
    same(&c, s, &u, &["healthcheck", "run", "hc"]);
    same(&c, s, &u, &["healthcheck", "run", "nosuch"]);
    // stats --no-stream: the local result (refused where containers have
    // no cgroup of their own, as locally), else the same rows.
    let args = [
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "hc",
    ];
    let remote = c.run(u.iter().chain(args.iter()));
    let local = s.run(args);
    assert_eq!(
        remote.status.code(),
        local.status.code(),
        "{}",
        stderr(&remote)
    );
    if local.status.success() {
        assert!(stdout(&remote).starts_with("hc "), "{}", stdout(&remote));
    } else {
        assert_eq!(stderr(&remote), stderr(&local));
    }
    // update: the local result (refused where this host has no cgroup
    // for the container, as locally), else the new limits stored.
    let args = ["update", "--memory", "64m", "--pids-limit", "50", "hc"];
    let remote = c.run(u.iter().chain(args.iter()));
    let local = s.run(args);
    assert_eq!(
        remote.status.code(),
        local.status.code(),
        "{}",
        stderr(&remote)
    );
    if local.status.success() {
        assert_eq!(stdout(&remote), stdout(&local));
        assert_eq!(
            s.ok([
                "inspect",
                "--format",
                "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}",
                "hc"
            ]),
            format!("{} 50\n", 64 << 20)
        );
    } else {
        assert_eq!(stderr(&remote), stderr(&local));
    }
    // container prune: the exited containers' ids, as locally.
    let exited: Vec<String> = ["d", "l1", "l2"]
        .iter()
        .map(|n| {
            s.ok(["inspect", "--format", "{{.Id}}", n])
                .trim()
                .to_owned()
        })
        .collect();
    let mut exited = exited;
    exited.sort();
    assert_eq!(
        lines_sorted(&c.ok(["--url", &url, "container", "prune", "-f"])),
        exited
    );
    assert_eq!(s.ok(["ps", "-a", "--format", "{{.Names}}"]), "hc\n");
    no_local_traces(&c);
}

/// `init` remotely: the container is initialized on the service (inspect
/// says so), a second init fails with the local words and code, `start`
/// then runs it; `-a` passes over what is past created.
#[test]
fn remotec_init_as_locally() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let s = &server.0;
    let c = client();
    let url = format!("unix://{}", sock.display());
    let u = ["--url", url.as_str()];
    let with =
        |args: &[&str]| -> Vec<String> { u.iter().chain(args).map(|s| s.to_string()).collect() };
    c.ok(with(&[
        "create", "--name", "held", "busybox", "echo", "hello",
    ]));
    assert_eq!(c.ok(with(&["init", "held"])).trim(), "held");
    assert_eq!(
        s.ok(["inspect", "--format", "{{.State.Status}}", "held"])
            .trim(),
        "initialized"
    );
    let again = c.run(with(&["init", "held"]));
    let local = s.run(["init", "held"]);
    assert_eq!(again.status.code(), local.status.code());
    assert_eq!(stderr(&again), stderr(&local));
    assert!(
        stderr(&again).contains("has already been created in runtime"),
        "{}",
        stderr(&again)
    );
    // -a: nothing left to initialize, so nothing printed.
    assert_eq!(c.ok(with(&["init", "-a"])).trim(), "");
    c.ok(with(&["start", "held"]));
    let waited = c.ok(with(&["wait", "held"]));
    assert_eq!(waited.trim(), "0");
    assert_eq!(c.ok(with(&["logs", "held"])).trim(), "hello");
    // A missing container: the local error and exit code.
    same(&c, s, &u, &["init", "nosuch"]);
}

/// `image inspect` and `image prune` remotely: the local output, words
/// and exit code (a template, a missing image, a prune with nothing to
/// remove and one removing a dangling image).
#[test]
fn remotec_image_inspect_and_prune_as_locally() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let s = &server.0;
    let c = client();
    let url = format!("unix://{}", sock.display());
    let u = ["--url", url.as_str()];
    let id = same(
        &c,
        s,
        &u,
        &["image", "inspect", "--format", "{{.Id}}", "busybox"],
    );
    assert_eq!(id.trim().len(), 64, "{id}");
    same(&c, s, &u, &["image", "inspect", "busybox"]);
    same(&c, s, &u, &["image", "inspect", "busybox", "nosuch"]);
    // A dangling image: a tag moved away from a commit.
    s.ok(["tag", "busybox", "keep:1"]);
    s.ok(["create", "--name", "base", "busybox", "true"]);
    s.ok(["commit", "-q", "-m", "one", "base", "dangle:1"]);
    s.ok(["commit", "-q", "-m", "two", "base", "dangle:1"]);
    let pruned = c.ok(["--url", url.as_str(), "image", "prune", "-f"]);
    assert_eq!(pruned.lines().count(), 1, "{pruned}");
    assert_eq!(
        c.ok(["--url", url.as_str(), "image", "prune", "-f"]).trim(),
        ""
    );
    same(
        &c,
        s,
        &u,
        &["image", "inspect", "--format", "{{.Id}}", "keep:1"],
    );
}
