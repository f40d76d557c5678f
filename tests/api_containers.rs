//! Docker's container and image routes as clients meet them: the real
//! docker CLI (no dockerd) and curl against `hutch system service`, run by
//! the unprivileged test user; every one of Docker's wait conditions,
//! including the races (an exit right after the header, a removal of a
//! container that never ran, two waiters).

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::api::*;
use common::images::busybox_env;
use common::*;

fn ok(env: &TestEnv, sock: &Path, args: &[&str]) -> String {
    let out = docker(env, sock, args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

#[test]
fn docker_cli_run_ps_inspect_stop_wait_logs_rm_images() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);

    let id = ok(
        &env,
        &sock,
        &["run", "-d", "--name", "web", "busybox", "sleep", "300"],
    );
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let ps = ok(&env, &sock, &["ps"]);
    assert!(ps.contains("web") && ps.contains("Up"), "{ps}");
    assert!(ps.contains(&id[..12]), "{ps}");
    assert_eq!(
        ok(&env, &sock, &["inspect", "-f", "{{.State.Running}}", "web"]).trim(),
        "true"
    );
    assert_eq!(
        ok(
            &env,
            &sock,
            &[
                "inspect",
                "-f",
                "{{.Name}} {{.Config.Image}} {{json .Config.Cmd}} {{.State.Status}}",
                "web"
            ]
        )
        .trim(),
        r#"/web busybox ["sleep","300"] running"#
    );
    // Running: rm without -f is Docker's 409, start again a 304.
    let out = docker(&env, &sock, &["rm", "web"]);
    assert!(!out.status.success());
    assert_eq!(
        curl(&env, &sock, "POST", "/v1.41/containers/web/start").0,
        304
    );
    // sleep as pid 1 ignores SIGTERM: the kill after one second ends it.
    assert_eq!(ok(&env, &sock, &["stop", "-t", "1", "web"]).trim(), "web");
    assert_eq!(
        ok(
            &env,
            &sock,
            &[
                "inspect",
                "-f",
                "{{.State.Running}} {{.State.Status}}",
                "web"
            ]
        )
        .trim(),
        "false exited"
    );
    assert_eq!(curl(&env, &sock, "POST", "/containers/web/stop").0, 304);
    assert!(!ok(&env, &sock, &["ps"]).contains("web"));
    assert!(ok(&env, &sock, &["ps", "-a"]).contains("web"));
    ok(&env, &sock, &["rm", "web"]);
    let out = docker(&env, &sock, &["inspect", "web"]);
    assert!(!out.status.success());

    // Exit codes through `docker wait`.
    let seven = ok(&env, &sock, &["run", "-d", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(ok(&env, &sock, &["wait", seven.trim()]).trim(), "7");

    // Logs of a finished container: both streams, demultiplexed.
    ok(
        &env,
        &sock,
        &[
            "run",
            "-d",
            "--name",
            "talk",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ],
    );
    assert_eq!(ok(&env, &sock, &["wait", "talk"]).trim(), "0");
    let out = docker(&env, &sock, &["logs", "talk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
    let tail = ok(&env, &sock, &["logs", "--tail", "1", "talk"]);
    assert_eq!(tail, "", "the last line is stderr's");
    ok(&env, &sock, &["rm", "talk", seven.trim()]);

    // `logs -f`: what comes later too, and the end when the container stops.
    ok(
        &env,
        &sock,
        &[
            "run",
            "-d",
            "--name",
            "slow",
            "busybox",
            "sh",
            "-c",
            "echo a; sleep 1; echo b",
        ],
    );
    assert_eq!(ok(&env, &sock, &["logs", "-f", "slow"]), "a\nb\n");

    let images = ok(&env, &sock, &["images"]);
    assert!(images.contains("busybox"), "{images}");

    // The monitors of the containers above, all exited, are the service's
    // children: reaped, not kept as zombies for the service's life.
    let zombies = || {
        let mut found = Vec::new();
        let mut tree = vec![_svc.0.id() as i32];
        while let Some(p) = tree.pop() {
            for c in children_of(p) {
                tree.push(c);
                let stat = std::fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
                let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next());
                if state == Some(Some('Z')) {
                    found.push(format!("{c} {}", comm(c).unwrap_or_default()));
                }
            }
        }
        found
    };
    assert!(
        wait_until(Duration::from_secs(20), || zombies().is_empty()),
        "zombies under the service: {:?}",
        zombies()
    );
}

/// The pids whose parent is `pid`.
fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let f = t.path().join("children");
        if let Ok(text) = std::fs::read_to_string(f) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

#[test]
fn create_bodies_and_errors_over_curl() {
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.44/containers/create?name=made",
        Some(
            r#"{"Image": "busybox", "Cmd": ["true"], "Labels": {"a": "b"},
                 "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}}}"#,
        ),
    );
    assert_eq!(code, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Id"].as_str().map(str::len), Some(64));
    let (code, body) = curl(&env, &sock, "GET", "/containers/made/json");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Name"], "/made");
    assert_eq!(v["State"]["Status"], "created");
    assert_eq!(v["Config"]["Labels"]["a"], "b");
    assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
    let (code, body) = curl(
        &env,
        &sock,
        "GET",
        "/containers/json?all=1&filters=%7B%22name%22%3A%5B%22made%22%5D%7D",
    );
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list[0]["Names"][0], "/made");
    assert_eq!(list[0]["State"], "created");
    // Not running: ps without all shows nothing.
    assert_eq!(curl(&env, &sock, "GET", "/containers/json").1.trim(), "[]");

    // Wrong bodies are 400s with Docker's message; nothing is created.
    for (body, words) in [
        ("{", "invalid container create body"),
        (r#"{"Image": 5}"#, "invalid type"),
        (
            r#"{"Image": "busybox", "HostConfig": {"ShmSize": 1}}"#,
            "ShmSize is not supported",
        ),
        (
            r#"{"Image": "busybox", "HostConfig": {"Binds": ["./rel:/x"]}}"#,
            "absolute path",
        ),
    ] {
        let (code, text) = curl_with(&env, &sock, "POST", "/containers/create", Some(body));
        assert_eq!(code, 400, "{body}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v["message"].as_str().unwrap().contains(words), "{text}");
    }
    let (code, text) = curl_with(
        &env,
        &sock,
        "POST",
        "/containers/create?name=made",
        Some(r#"{"Image": "busybox"}"#),
    );
    assert_eq!(code, 409, "name in use: {text}");
    let (code, _) = curl_with(
        &env,
        &sock,
        "POST",
        "/containers/create",
        Some(r#"{"Image": "nosuchimage"}"#),
    );
    assert_eq!(code, 404, "a missing image is the client's cue to pull");
    assert_eq!(curl(&env, &sock, "POST", "/containers/nope/start").0, 404);
    assert_eq!(curl(&env, &sock, "POST", "/containers/made/kill").0, 409);
    assert_eq!(curl(&env, &sock, "DELETE", "/containers/made").0, 204);
    assert_eq!(curl(&env, &sock, "DELETE", "/containers/made").0, 404);
    let list = env.ok(["ps", "-a", "-q"]);
    assert_eq!(list.trim(), "", "bad bodies created nothing");
}

/// A wait whose answer comes later: curl in the background, its headers
/// dumped as they arrive.
struct Waiter {
    child: Child,
    headers: std::path::PathBuf,
}

impl Waiter {
    fn new(env: &TestEnv, sock: &Path, path: &str, tag: &str) -> Waiter {
        let headers = env.home.join(format!("headers-{tag}"));
        let mut cmd = curl_cmd(env, sock, "POST", path, None);
        cmd.args(["-N", "-D"]).arg(&headers);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let child = cmd.spawn().expect("curl");
        let w = Waiter { child, headers };
        // The 200 and the content type come before the condition holds.
        assert!(
            wait_until(Duration::from_secs(20), || {
                std::fs::read_to_string(&w.headers).is_ok_and(|h| {
                    h.starts_with("HTTP/1.1 200")
                        && h.to_ascii_lowercase()
                            .contains("content-type: application/json")
                })
            }),
            "no header for {path}"
        );
        w
    }

    fn body(self) -> serde_json::Value {
        let out = self.child.wait_with_output().expect("curl");
        let (code, body) = split_code(&stdout(&out));
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }
}

#[test]
fn docker_wait_conditions() {
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let wait = |name: &str, cond: &str| format!("/v1.45/containers/{name}/wait?condition={cond}");

    // Unknown container: 404 first, whatever the condition.
    assert_eq!(
        curl(&env, &sock, "POST", &wait("nope", "not-running")).0,
        404
    );
    assert_eq!(curl(&env, &sock, "POST", &wait("nope", "bogus")).0, 404);
    env.ok(["create", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
    let (code, body) = curl(&env, &sock, "POST", &wait("three", "bogus"));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("invalid condition"), "{body}");

    // not-running of a created container: at once, 0.
    let (code, body) = curl(&env, &sock, "POST", "/containers/three/wait");
    assert_eq!(
        (code, body.trim()),
        (200, r#"{"StatusCode":0,"Error":null}"#)
    );

    // next-exit of a container not started yet: the header first, then
    // the code of the run that starts after it.
    let w = Waiter::new(&env, &sock, &wait("three", "next-exit"), "next");
    env.ok(["start", "three"]);
    let v = w.body();
    assert_eq!(v["StatusCode"], 3);
    assert_eq!(v["Error"], serde_json::Value::Null);
    // Exited now: not-running answers with the last code at once.
    let (_, body) = curl(&env, &sock, "POST", &wait("three", "not-running"));
    assert!(body.contains(r#""StatusCode":3"#), "{body}");

    // Two waiters on one running container, then a kill: both get 137.
    env.ok(["run", "-d", "--name", "sleeper", "busybox", "sleep", "300"]);
    let a = Waiter::new(&env, &sock, &wait("sleeper", "not-running"), "a");
    let b = Waiter::new(&env, &sock, &wait("sleeper", "next-exit"), "b");
    env.ok(["kill", "sleeper"]);
    assert_eq!(a.body()["StatusCode"], 137);
    assert_eq!(b.body()["StatusCode"], 137);

    // removed: `rm -f` of a running one gives 137, and only once it is
    // gone (an inspect right after is a 404).
    env.ok(["start", "sleeper"]);
    let w = Waiter::new(&env, &sock, &wait("sleeper", "removed"), "rm");
    env.ok(["rm", "-f", "-t", "0", "sleeper"]);
    assert_eq!(w.body()["StatusCode"], 137);
    assert_eq!(curl(&env, &sock, "GET", "/containers/sleeper/json").0, 404);

    // removed, of a container that never ran: 0.
    env.ok(["create", "--name", "never", "busybox", "true"]);
    let w = Waiter::new(&env, &sock, &wait("never", "removed"), "never");
    env.ok(["rm", "never"]);
    assert_eq!(w.body()["StatusCode"], 0);

    // `run --rm` of `exit 7`: removed gives 7.
    env.ok([
        "create", "--rm", "--name", "gone", "busybox", "sh", "-c", "exit 7",
    ]);
    let w = Waiter::new(&env, &sock, &wait("gone", "removed"), "gone");
    env.ok(["start", "gone"]);
    assert_eq!(w.body()["StatusCode"], 7);
    assert_eq!(curl(&env, &sock, "GET", "/containers/gone/json").0, 404);
}
