//! Pods as users see them: containers of a pod reach each other on
//! localhost and share the pod's published ports and hostname; `run --pod
//! new:NAME`; `pod stop/start/rm -f` leave no process, mount or network
//! namespace behind (also after `kill -9` of a container's monitor); `pod
//! ps`/`pod inspect` fields; and the exit codes and messages of error cases
//! next to the installed podman's.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::images::*;
use common::*;

/// A free TCP port on the host's loopback.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The busybox httpd serving `body` on `port` inside the container.
fn httpd(port: u16, body: &str) -> String {
    format!(
        "busybox mkdir -p /www && echo {body} > /www/index.html && exec busybox httpd -f -p {port} -h /www"
    )
}

/// The pids of a container's init and monitor, while it runs.
fn pids(env: &TestEnv, name: &str) -> (i32, i32) {
    let out = env.ok([
        "inspect",
        "--format",
        "{{.State.Pid}} {{.State.ConmonPid}}",
        name,
    ]);
    let v: Vec<i32> = out
        .split_whitespace()
        .map(|s| s.parse().expect("pid"))
        .collect();
    (v[0], v[1])
}

/// Whether any mount in the user's pause namespace mentions `id`.
fn mounted(env: &TestEnv, id: &str) -> bool {
    env.pause_pids().iter().any(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .map(|m| m.contains(id))
            .unwrap_or(false)
    })
}

/// Files left under the environment's network namespace directory.
fn netns_files(env: &TestEnv) -> Vec<String> {
    std::fs::read_dir(env.run_dir().join("netns"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn http_get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
fn containers_of_a_pod_share_localhost_ports_and_hostname() {
    let env = busybox_env(&[]);
    let port = free_port();
    let id = env.ok([
        "pod",
        "create",
        "--name",
        "web",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "pod create prints the pod id: {id}");
    env.ok([
        "run",
        "-d",
        "--pod",
        "web",
        "--name",
        "server",
        "busybox",
        "sh",
        "-c",
        &httpd(8080, "from-the-pod"),
    ]);
    // Another container of the pod reaches the server on localhost.
    let mut got = String::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            let out = env.run([
                "run",
                "--rm",
                "--pod",
                "web",
                "busybox",
                "busybox",
                "wget",
                "-qO-",
                "http://127.0.0.1:8080/",
            ]);
            got = format!("{}{}", stdout(&out), stderr(&out));
            got.contains("from-the-pod")
        }),
        "localhost in the pod: {got}"
    );
    // The pod's published port answers from the host.
    assert!(
        wait_until(Duration::from_secs(10), || http_get(port)
            .is_some_and(|b| b.contains("from-the-pod"))),
        "the pod's port {port} does not answer"
    );
    // The pod's name is its containers' hostname (shared UTS).
    let host = env.ok([
        "run", "--rm", "--pod", "web", "busybox", "busybox", "hostname",
    ]);
    assert_eq!(host.trim(), "web");
    // A port on a container of a pod with infra is refused, as Podman does.
    let out = env.run([
        "run", "--rm", "--pod", "web", "-p", "9999:80", "busybox", "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("published or exposed ports must be defined when the pod is created"),
        "{}",
        stderr(&out)
    );
    // The infra container goes with the pod only.
    let infra = env.ok(["pod", "inspect", "--format", "{{.InfraContainerID}}", "web"]);
    let out = env.run(["rm", "-f", infra.trim()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("is the infra container of pod"),
        "{}",
        stderr(&out)
    );
    env.ok(["pod", "rm", "-f", "web"]);
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty());
}

#[test]
fn run_pod_new_makes_the_pod_and_ps_shows_it() {
    let env = busybox_env(&[]);
    env.ok([
        "run", "-d", "--pod", "new:x", "--name", "a", "busybox", "sleep", "1000",
    ]);
    let ps = env.ok(["pod", "ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert_eq!(lines.len(), 2, "{ps}");
    for col in [
        "POD ID",
        "NAME",
        "STATUS",
        "CREATED",
        "INFRA ID",
        "# OF CONTAINERS",
    ] {
        assert!(lines[0].contains(col), "{ps}");
    }
    let fields: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(fields[1], "x");
    assert_eq!(fields[2], "Running");
    assert_eq!(fields.last(), Some(&"2"));
    // ps --pod: the pod's id and name beside each container.
    let ps = env.ok(["ps", "-a", "--pod", "--format", "{{.Names}} {{.PodName}}"]);
    assert!(ps.lines().any(|l| l == "a x"), "{ps}");
    assert!(ps.lines().any(|l| l.ends_with("-infra x")), "{ps}");
    let header = env.ok(["ps", "--pod"]);
    assert!(
        header
            .lines()
            .next()
            .is_some_and(|h| h.contains("POD ID") && h.contains("PODNAME")),
        "{header}"
    );
    // ps --filter pod=
    let ids = env.ok(["ps", "-a", "-q", "--filter", "pod=x"]);
    assert_eq!(ids.lines().count(), 2, "{ids}");
    assert!(
        env.ok(["ps", "-a", "-q", "--filter", "pod=bogus"])
            .trim()
            .is_empty()
    );
    // pod ps --ctr-names --ctr-status, json, filters.
    let ps = env.ok(["pod", "ps", "--ctr-names", "--ctr-status", "--noheading"]);
    assert!(
        ps.contains("running,running") && ps.contains(",a") || ps.contains("a,"),
        "{ps}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "ps", "--format", "json"])).expect("json");
    assert_eq!(json[0]["Name"], "x");
    assert_eq!(json[0]["Status"], "Running");
    assert_eq!(json[0]["Containers"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        env.ok(["pod", "ps", "-q", "--filter", "name=nope"]).trim(),
        ""
    );
    assert_eq!(
        env.ok(["pod", "ps", "-q", "--filter", "ctr-names=a"])
            .lines()
            .count(),
        1
    );
    // pod inspect
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "inspect", "x"])).expect("json");
    assert_eq!(v["Name"], "x");
    assert_eq!(v["State"], "Running");
    assert_eq!(v["NumContainers"], 2);
    assert_eq!(v["CreateInfra"], true);
    assert_eq!(v["ExitPolicy"], "continue");
    assert_eq!(
        v["SharedNamespaces"],
        serde_json::json!(["ipc", "net", "uts"])
    );
    // The pod's infra image is hutch's own, built from catatonit.
    let infra = v["InfraContainerID"].as_str().expect("infra id").to_owned();
    let image = env.ok(["inspect", "--format", "{{.ImageName}}", &infra]);
    assert!(
        image.trim().starts_with("localhost/hutch-pause:"),
        "{image}"
    );
    // HostConfig.NetworkMode as Podman 4.3.1 shows it: a member joins the
    // infra's namespace (`container:` and the infra's full id); the infra
    // has the pod's mode (pasta, hutch's rootless default, where Podman
    // 4.3.1 defaults to slirp4netns).
    let mode = env.ok(["inspect", "--format", "{{.HostConfig.NetworkMode}}", "a"]);
    assert_eq!(mode.trim(), format!("container:{infra}"));
    let mode = env.ok(["inspect", "--format", "{{.HostConfig.NetworkMode}}", &infra]);
    assert!(matches!(mode.trim(), "pasta" | "slirp4netns"), "{mode:?}");
    env.ok(["pod", "rm", "-f", "x"]);
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
}

#[test]
fn pod_stop_start_and_rm_leave_nothing_behind() {
    let env = busybox_env(&[]);
    env.ok(["pod", "create", "--name", "p"]);
    for n in ["one", "two"] {
        env.ok([
            "run", "-d", "--pod", "p", "--name", n, "busybox", "sleep", "1000",
        ]);
    }
    let ids: Vec<String> = env
        .ok(["ps", "-a", "-q", "--no-trunc", "--filter", "pod=p"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 3);
    let (one, one_monitor) = pids(&env, "one");
    assert!(is_alive(one) && is_alive(one_monitor));
    assert!(
        !netns_files(&env).is_empty(),
        "the pod has a network namespace"
    );

    env.ok(["pod", "stop", "-t", "1", "p"]);
    assert!(
        wait_until(Duration::from_secs(10), || !is_alive(one)
            && !is_alive(one_monitor)),
        "pod stop left the container's processes"
    );
    let st = env.ok(["pod", "inspect", "--format", "{{.State}}", "p"]);
    assert_eq!(st.trim(), "Exited");
    assert!(
        netns_files(&env).is_empty(),
        "pod stop left {:?}",
        netns_files(&env)
    );

    env.ok(["pod", "start", "p"]);
    let st = env.ok(["pod", "inspect", "--format", "{{.State}}", "p"]);
    assert_eq!(st.trim(), "Running");
    // Still one network: the members joined the restarted infra's.
    let (two, two_monitor) = pids(&env, "two");
    let (infra_pid, _) = pids(&env, &ids[0]);
    let ns = |pid: i32, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();
    for kind in ["net", "ipc", "uts"] {
        assert_eq!(
            ns(two, kind),
            ns(infra_pid, kind),
            "{kind} namespace not shared"
        );
    }

    // A monitor killed with SIGKILL: pod rm -f still takes everything.
    // SAFETY: a plain kill of the monitor this test's container runs under.
    unsafe { libc::kill(two_monitor, libc::SIGKILL) };
    assert!(wait_until(Duration::from_secs(5), || !is_alive(
        two_monitor
    )));
    let (one, one_monitor) = pids(&env, "one");
    let out = env.ok(["pod", "rm", "-f", "p"]);
    assert_eq!(out.trim().len(), 64, "pod rm prints the pod id: {out}");
    assert!(
        wait_until(Duration::from_secs(10), || {
            [one, one_monitor, two, infra_pid]
                .iter()
                .all(|p| !is_alive(*p))
        }),
        "pod rm -f left processes"
    );
    for id in &ids {
        assert!(!mounted(&env, id), "a mount of {id} is left");
    }
    assert!(
        netns_files(&env).is_empty(),
        "pod rm left {:?}",
        netns_files(&env)
    );
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
    assert_eq!(env.run(["pod", "exists", "p"]).status.code(), Some(1));
}

#[test]
fn exit_policy_stop_stops_the_pod_with_its_last_container() {
    let env = busybox_env(&[]);
    env.ok(["pod", "create", "--name", "once", "--exit-policy", "stop"]);
    env.ok(["pod", "create", "--name", "stays"]);
    for pod in ["once", "stays"] {
        env.ok(["run", "--rm", "--pod", pod, "busybox", "true"]);
    }
    let state = |p: &str| {
        env.ok(["pod", "inspect", "--format", "{{.State}}", p])
            .trim()
            .to_owned()
    };
    assert!(
        wait_until(Duration::from_secs(15), || state("once") == "Exited"),
        "exit policy stop: the pod is {}",
        state("once")
    );
    assert_eq!(state("stays"), "Running");
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "inspect", "once"])).expect("json");
    assert_eq!(v["ExitPolicy"], "stop");
    // `rm -a -f` takes the pods' containers, infra ones included, and so
    // the pods with infra (Podman's `rm --all`).
    env.ok(["rm", "-a", "-f"]);
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty());
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
}

/// A pod with `--network none` takes containers before its infra runs
/// (Podman does): each start joins the infra's own network namespace, the
/// one its current process holds, even after the pod restarted.
#[test]
fn a_pod_without_network_takes_containers_and_shares_its_namespace() {
    let env = busybox_env(&[]);
    env.ok(["pod", "create", "--name", "nonet", "--network", "none"]);
    env.ok([
        "create", "--name", "member", "--pod", "nonet", "busybox", "sleep", "600",
    ]);
    let ns = |name: &str| {
        let pid = env.ok(["inspect", "--format", "{{.State.Pid}}", name]);
        std::fs::read_link(format!("/proc/{}/ns/net", pid.trim()))
            .expect("read the network namespace link")
    };
    for round in 0..2 {
        env.ok(["pod", "start", "nonet"]);
        let infra = env.ok([
            "pod",
            "inspect",
            "--format",
            "{{.InfraContainerID}}",
            "nonet",
        ]);
        assert_eq!(ns("member"), ns(infra.trim()), "round {round}");
        let ifaces = env.ok(["exec", "member", "ls", "/sys/class/net"]);
        assert_eq!(
            ifaces.split_whitespace().collect::<Vec<_>>(),
            ["lo"],
            "round {round}"
        );
        env.ok(["pod", "stop", "-t", "0", "nonet"]);
    }
    let out = env.ok(["run", "--rm", "--pod", "nonet", "busybox", "echo", "hi"]);
    assert_eq!(out.trim(), "hi");
    env.ok(["pod", "rm", "-f", "nonet"]);
}

/// podman as the test user, with storage under the test's root; `None`
/// when podman is not installed.
fn podman(env: &TestEnv, args: &[&str]) -> Option<Output> {
    let root = env.root.join("podman-root");
    let run = env.root.join("podman-run");
    for d in [&root, &run] {
        if !d.exists() {
            std::fs::create_dir(d).ok()?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).ok()?;
            chown(d, env.user.uid, env.user.gid);
        }
    }
    let mut cmd = Command::new("podman");
    cmd.arg("--root")
        .arg(&root)
        .arg("--runroot")
        .arg(&run)
        .args(["--cgroup-manager", "cgroupfs"])
        .args(args)
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("USER", &env.user.name)
        .current_dir(&env.home)
        .stdin(Stdio::null());
    if let Some(x) = &env.xdg_runtime_dir {
        cmd.env("XDG_RUNTIME_DIR", x);
    }
    as_user(&mut cmd, &env.user);
    cmd.output().ok()
}

/// The last line of stderr that says "Error:", podman's warnings aside.
fn error_line(out: &Output) -> String {
    stderr(out)
        .lines()
        .rfind(|l| l.starts_with("Error:"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn error_cases_exit_and_read_as_podmans() {
    let env = TestEnv::new(TestUser::default_user());
    // Each command, its expected code and error (podman 4.3.1's).
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["pod", "rm", "bogus"],
            1,
            "Error: no pod with name or ID bogus found: no such pod",
        ),
        (&["pod", "rm", "-f", "bogus"], 0, ""),
        (
            &["pod", "stop", "bogus"],
            125,
            "Error: no pod with name or ID bogus found: no such pod",
        ),
        (
            &["pod", "start", "bogus"],
            125,
            "Error: no pod with name or ID bogus found: no such pod",
        ),
        (
            &["pod", "kill", "bogus"],
            125,
            "Error: no pod with name or ID bogus found: no such pod",
        ),
        (
            &["pod", "inspect", "bogus"],
            125,
            "Error: inspecting object: no such pod bogus",
        ),
        (&["pod", "exists", "bogus"], 1, ""),
        (
            &["pod", "stats", "-a", "bogus"],
            125,
            "Error: --all, --latest and arguments cannot be used together",
        ),
    ];
    let have_podman = podman(&env, &["--version"]).is_some_and(|o| o.status.success());
    if !have_podman {
        eprintln!("podman is not installed: comparing with podman 4.3.1's recorded answers only");
    }
    for (args, code, error) in cases {
        let h = env.run(*args);
        assert_eq!(
            h.status.code(),
            Some(*code),
            "hutch {args:?}: {}",
            stderr(&h)
        );
        assert_eq!(error_line(&h), *error, "hutch {args:?}");
        if have_podman {
            let p = podman(&env, args).expect("podman runs");
            assert_eq!(
                h.status.code(),
                p.status.code(),
                "{args:?}: hutch and podman differ"
            );
            assert_eq!(
                error_line(&h),
                error_line(&p),
                "{args:?}: hutch and podman differ"
            );
        }
    }
    // pod stats depends on the host (rootless needs cgroup v2): hutch
    // answers as the installed podman does on this host, whichever way.
    if have_podman {
        let args = ["pod", "stats", "--no-stream", "bogus"];
        let (h, p) = (env.run(args), podman(&env, &args).expect("podman runs"));
        assert_eq!(h.status.code(), p.status.code(), "{args:?}: {}", stderr(&h));
        assert_eq!(error_line(&h), error_line(&p), "{args:?}");
    }
    // A name used twice.
    env.ok(["pod", "create", "--name", "dup", "--infra=false"]);
    let h = env.run(["pod", "create", "--name", "dup", "--infra=false"]);
    assert_eq!(h.status.code(), Some(125));
    assert_eq!(
        error_line(&h),
        "Error: adding pod to state: name \"dup\" is in use: pod already exists"
    );
    // A bad --share and a bad exit policy are refused before anything is made.
    let h = env.run(["pod", "create", "--share", "mnt"]);
    assert_eq!(h.status.code(), Some(125));
    let h = env.run(["pod", "create", "--exit-policy", "halt"]);
    assert_eq!(h.status.code(), Some(125));
    assert_eq!(env.ok(["pod", "ps", "-q"]).lines().count(), 1);
    // --pod-id-file and --replace.
    let file = env.home.join("pod.id");
    let id = env.ok([
        "pod",
        "create",
        "--name",
        "dup",
        "--replace",
        "--infra=false",
        "--pod-id-file",
        &file.to_string_lossy(),
    ]);
    assert_eq!(std::fs::read_to_string(&file).expect("id file"), id.trim());
    assert_eq!(env.ok(["pod", "ps", "-q", "--no-trunc"]).trim(), id.trim());
    // Pod events, as Podman logs them.
    let events = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "type=pod",
        "--format",
        "{{.Status}} {{.Name}}",
    ]);
    let events: Vec<&str> = events.lines().collect();
    assert_eq!(
        events,
        ["create dup", "remove dup", "create dup"],
        "{events:?}"
    );
    if have_podman {
        // Podman's pod ps header, beside hutch's.
        let p = podman(&env, &["pod", "ps"]).expect("podman");
        let h = env.ok(["pod", "ps"]);
        let head = |s: &str| {
            s.lines()
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(head(&h), head(&stdout(&p)));
    }
}

#[test]
fn pod_clone_copies_the_pod_and_its_containers_with_podmans_names() {
    let env = busybox_env(&[]);
    env.ok(["pod", "create", "--name", "src", "--label", "a=b"]);
    env.ok([
        "create", "--pod", "src", "--name", "c1", "busybox", "sleep", "1000",
    ]);
    let infra = env.ok(["pod", "inspect", "--format", "{{.InfraContainerID}}", "src"]);
    let infra_name = env.ok(["inspect", "--format", "{{.Name}}", infra.trim()]);
    let infra_name = infra_name.trim();

    let id = env.ok(["pod", "clone", "src"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    // A second copy counts on; NAME names the third (Podman's rule).
    env.ok(["pod", "clone", "src"]);
    env.ok([
        "pod",
        "clone",
        "--hostname",
        "h",
        "-l",
        "x=y",
        "src",
        "named",
    ]);
    let pods = env.ok(["pod", "ps", "--format", "{{.Name}} {{.NumberOfContainers}}"]);
    let mut pods: Vec<&str> = pods.lines().collect();
    pods.sort();
    assert_eq!(
        pods,
        ["named 2", "src 2", "src-clone 2", "src-clone1 2"],
        "{pods:?}"
    );
    let ps = env.ok(["ps", "-a", "--format", "{{.Names}} {{.PodName}}"]);
    for want in [
        "c1-clone src-clone".to_owned(),
        "c1-clone1 src-clone1".to_owned(),
        "c1-clone2 named".to_owned(),
        format!("{infra_name}-clone src-clone"),
        format!("{infra_name}-clone2 named"),
    ] {
        assert!(ps.lines().any(|l| l == want), "{want} missing in\n{ps}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "inspect", "named"])).expect("json");
    assert_eq!(v["Labels"], serde_json::json!({"a": "b", "x": "y"}));
    assert_eq!(v["Hostname"], "h");

    // --destroy --start: the original goes, the copy runs in its own
    // namespaces (the copy's hostname is the pod's, not the original's).
    env.ok(["pod", "clone", "--destroy", "--start", "named"]);
    assert_eq!(env.run(["pod", "exists", "named"]).status.code(), Some(1));
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "inspect", "named-clone"])).expect("json");
    assert_eq!(v["State"], "Running", "{v}");
    assert_eq!(
        env.ok(["exec", "c1-clone3", "busybox", "hostname"]).trim(),
        "h"
    );
    let clone_infra = v["InfraContainerID"].as_str().expect("infra").to_owned();
    // The copy joined the new infra's network namespace.
    let netns = |name: &str| {
        let pid = env.ok(["inspect", "--format", "{{.State.Pid}}", name]);
        std::fs::read_link(format!("/proc/{}/ns/net", pid.trim())).expect("netns link")
    };
    assert_eq!(netns("c1-clone3"), netns(&clone_infra));

    // Errors read as Podman's.
    let out = env.run(["pod", "clone", "nope"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        error_line(&out),
        "Error: no pod with name or ID nope found: no such pod"
    );
    env.ok(["pod", "rm", "-f", "-a"]);
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
}

#[test]
fn pod_limits_show_in_inspect_and_warn_where_the_host_cannot_apply_them() {
    let env = TestEnv::new(TestUser::default_user());
    let out = env.run([
        "pod", "create", "--name", "lim", "--cpus", "1.5", "--memory", "64m",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "inspect", "lim"])).expect("json");
    // Podman's figures: a 100 ms period, the quota for 1.5 CPUs, and swap
    // as much again as memory.
    assert_eq!(v["cpu_period"], 100_000);
    assert_eq!(v["cpu_quota"], 150_000);
    assert_eq!(v["memory_limit"], 64 << 20);
    assert_eq!(v["memory_swap"], 128 << 20);
    assert_eq!(v["InfraConfig"]["cpu_quota"], 150_000);
    if v["CreateCgroup"] == true {
        // A delegating host: the pod's cgroup holds the limits.
        let path = v["CgroupPath"].as_str().expect("a cgroup path");
        assert!(path.contains("hutch"), "{path}");
    } else {
        // This CI host (hybrid cgroups, rootless): Podman's warning.
        assert!(
            stderr(&out).contains(
                "Resource limits are not supported and ignored on cgroups V1 rootless systems"
            ) || stderr(&out).contains("Resource limits are not supported and ignored"),
            "{}",
            stderr(&out)
        );
        assert!(v.get("CgroupPath").is_none(), "{v}");
    }
    // A pod without limits has none of these fields, as Podman's.
    env.ok(["pod", "create", "--name", "free"]);
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "inspect", "free"])).expect("json");
    assert!(v.get("memory_limit").is_none() && v.get("cpu_quota").is_none());
    // Bad values fail before anything is made.
    let out = env.run(["pod", "create", "--name", "bad", "--memory", "lots"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(env.run(["pod", "exists", "bad"]).status.code(), Some(1));
    env.ok(["pod", "rm", "-f", "-a"]);
}
