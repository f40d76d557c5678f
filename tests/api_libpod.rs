//! The libpod API as `podman --remote` (the installed Podman 4.3.1) and
//! curl meet it, against `hutch system service` run by the unprivileged
//! test user: pull from a local registry, images, tag, rmi, run -d, ps,
//! inspect, logs, top, wait, stop, rm, volumes, networks, events and df;
//! and over curl Podman's wait states and the create body's errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::api::*;
use common::images::{busybox_env, write_readable};
use common::registry::Registry;
use common::*;

fn podman_installed() -> bool {
    Command::new("podman")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The remote client's own HOME and runtime dir, as the test user: it
/// keeps no storage in remote mode.
fn client_dirs(env: &TestEnv) -> (PathBuf, PathBuf) {
    let home = env.root.join("podman-home");
    let run = env.root.join("podman-run");
    for d in [&home, &run] {
        std::fs::create_dir_all(d).expect("client dir");
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod client dir");
        chown(d, env.user.uid, env.user.gid);
    }
    (home, run)
}

/// `podman --remote --url unix://SOCK ARGS...` as the test user.
fn podman(env: &TestEnv, sock: &Path, args: &[&str]) -> Output {
    let (home, run) = client_dirs(env);
    let mut cmd = Command::new("podman");
    cmd.arg("--remote")
        .arg("--url")
        .arg(format!("unix://{}", sock.display()))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &run)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .current_dir(&home)
        .stdin(Stdio::null());
    as_user(&mut cmd, &env.user);
    cmd.output().expect("run podman")
}

fn ok(env: &TestEnv, sock: &Path, args: &[&str]) -> String {
    let out = podman(env, sock, args);
    assert!(
        out.status.success(),
        "podman {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn fails(env: &TestEnv, sock: &Path, args: &[&str]) -> (i32, String) {
    let out = podman(env, sock, args);
    assert!(!out.status.success(), "podman {args:?} succeeded");
    (out.status.code().unwrap_or(-1), stderr(&out))
}

/// The busybox environment with a registry in its directory (removed
/// with it) and a registries.conf that marks the registry as plain HTTP,
/// for the service (it does the pulling). `None` without docker-registry.
fn env_with_registry(auth: Option<(&str, &str)>) -> Option<(TestEnv, Registry)> {
    let mut env = busybox_env(&[]);
    let reg = Registry::start(&env.root.join("registry"), auth)?;
    let conf = write_readable(
        &env.root,
        "registries.conf",
        format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            reg.address()
        )
        .as_bytes(),
    );
    env.vars.push((
        "CONTAINERS_REGISTRIES_CONF".into(),
        conf.display().to_string(),
    ));
    Some((env, reg))
}

#[test]
fn podman_remote_pull_run_ps_inspect_logs_wait_stop_rm() {
    if !podman_installed() {
        eprintln!("podman not installed: skipped");
        return;
    }
    let Some((env, reg)) = env_with_registry(None) else {
        return;
    };
    let remote = format!("{}/bb:1", reg.address());
    env.ok(["push", "busybox", &remote]);
    env.ok(["rmi", "busybox"]);
    let (_svc, sock) = serve_default(&env);

    assert!(ok(&env, &sock, &["info"]).contains("serviceIsRemote: true"));
    let version = ok(&env, &sock, &["version"]);
    assert!(version.contains("API Version:  4.3.1"), "{version}");

    // pull: the stream's progress on stderr, the id on stdout.
    let out = podman(&env, &sock, &["pull", &remote]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("Trying to pull {remote}")));
    let id = stdout(&out).trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");
    let (code, err) = fails(&env, &sock, &["pull", &format!("{}/nope:1", reg.address())]);
    assert_eq!(code, 125);
    assert!(err.contains("nope"), "{err}");
    let images = ok(&env, &sock, &["images"]);
    assert!(
        images.contains(&format!("{}/bb", reg.address())),
        "{images}"
    );
    assert!(images.contains(&id[..12]), "{images}");
    ok(&env, &sock, &["tag", &remote, "mine:2"]);
    assert!(
        ok(
            &env,
            &sock,
            &["images", "--format", "{{.Repository}}:{{.Tag}}"]
        )
        .contains("localhost/mine:2")
    );
    assert!(ok(&env, &sock, &["image", "exists", "mine:2"]).is_empty());
    assert_eq!(
        ok(
            &env,
            &sock,
            &["image", "inspect", "--format", "{{.Id}}", "mine:2"]
        )
        .trim(),
        id
    );
    assert!(ok(&env, &sock, &["rmi", "mine:2"]).contains("Untagged: localhost/mine:2"));
    let (code, _) = fails(&env, &sock, &["image", "exists", "mine:2"]);
    assert_eq!(code, 1);
    let (code, err) = fails(&env, &sock, &["rmi", "mine:2"]);
    assert_eq!(code, 1);
    assert!(err.contains("image not known"), "{err}");

    // run -d (the client pulls with policy=missing, creates, starts).
    let cid = ok(
        &env,
        &sock,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-e",
            "A=1",
            "-l",
            "app=web",
            "-p",
            "80",
            &remote,
            "sh",
            "-c",
            "echo out-$A; echo err >&2; exec sleep 300",
        ],
    );
    let cid = cid.trim();
    assert_eq!(cid.len(), 64, "{cid}");
    let ps = ok(&env, &sock, &["ps"]);
    assert!(ps.contains("web") && ps.contains(&cid[..12]), "{ps}");
    assert!(ps.contains("Up "), "{ps}");
    // The published port with the host port the engine chose.
    assert!(ps.contains("->80/tcp"), "{ps}");
    // Podman's client makes "Up ..." of the state and start time.
    let row = ok(
        &env,
        &sock,
        &["ps", "--format", "{{.Names}} {{.Labels.app}} {{.State}}"],
    );
    assert!(row.starts_with("web web Up "), "{row}");
    assert_eq!(
        ok(
            &env,
            &sock,
            &[
                "inspect",
                "--format",
                "{{.State.Status}} {{.Config.Labels.app}} {{.Id}}",
                "web"
            ]
        )
        .trim(),
        format!("running web {cid}")
    );
    assert!(ok(&env, &sock, &["container", "exists", "web"]).is_empty());
    // The log: stdout and stderr kept apart.
    assert!(wait_until(Duration::from_secs(20), || {
        podman(&env, &sock, &["logs", "web"]).stdout == b"out-1\n"
    }));
    assert_eq!(stderr(&podman(&env, &sock, &["logs", "web"])), "err\n");
    assert!(ok(&env, &sock, &["top", "web"]).contains("sleep 300"));
    // Running: rm without -f is refused.
    let (code, err) = fails(&env, &sock, &["rm", "web"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(ok(&env, &sock, &["stop", "-t", "1", "web"]).trim(), "web");
    assert_eq!(ok(&env, &sock, &["wait", "web"]).trim(), "137");
    let row = ok(
        &env,
        &sock,
        &[
            "ps",
            "-a",
            "--format",
            "{{.Names}} {{.ExitCode}} {{.State}}",
        ],
    );
    assert!(row.starts_with("web 137 Exited (137) "), "{row}");
    assert_eq!(ok(&env, &sock, &["rm", "web"]).trim(), "web");
    assert!(ok(&env, &sock, &["ps", "-a", "-q"]).trim().is_empty());
    let (code, err) = fails(&env, &sock, &["inspect", "web"]);
    assert_eq!(code, 125);
    assert!(err.contains("no such object"), "{err}");

    // A run that exits at once: wait gives its code.
    let cid = ok(
        &env,
        &sock,
        &[
            "run", "-d", "--name", "seven", &remote, "sh", "-c", "exit 7",
        ],
    );
    assert_eq!(ok(&env, &sock, &["wait", cid.trim()]).trim(), "7");
    ok(&env, &sock, &["rm", "-f", "seven"]);
    // rm -f of a running one.
    ok(
        &env,
        &sock,
        &["run", "-d", "--name", "busy", &remote, "sleep", "300"],
    );
    assert_eq!(ok(&env, &sock, &["rm", "-f", "busy"]).trim(), "busy");
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
}

#[test]
fn podman_remote_pull_with_credentials() {
    if !podman_installed() {
        eprintln!("podman not installed: skipped");
        return;
    }
    let Some((env, reg)) = env_with_registry(Some(("u", "p"))) else {
        return;
    };
    let remote = format!("{}/private:1", reg.address());
    env.ok(["push", "--creds", "u:p", "busybox", &remote]);
    env.ok(["rmi", "busybox"]);
    let (_svc, sock) = serve_default(&env);

    // No credentials: the registry's refusal, as the pull stream's error.
    let (code, err) = fails(&env, &sock, &["pull", &remote]);
    assert_eq!(code, 125, "{err}");
    // `--creds`: the client sends them as query parameters and header.
    let id = ok(&env, &sock, &["pull", "--creds", "u:p", &remote]);
    assert_eq!(id.trim().len(), 64, "{id}");
    env.ok(["rmi", &remote]);
    // The header alone (base64 of {"username":"u","password":"p"}).
    let path = format!("/v4.3.1/libpod/images/pull?reference={remote}");
    let mut cmd = curl_cmd(&env, &sock, "POST", &path, None);
    cmd.args([
        "-H",
        "X-Registry-Auth: eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAifQ==",
    ]);
    let (code, body) = split_code(&stdout(&cmd.output().expect("curl")));
    assert_eq!(code, 200);
    assert!(body.contains(r#""images":[""#), "{body}");
    let mut cmd = curl_cmd(&env, &sock, "POST", &path, None);
    cmd.args(["-H", "X-Registry-Auth: not base64!"]);
    assert_eq!(split_code(&stdout(&cmd.output().expect("curl"))).0, 400);
}

/// The foreground `podman --remote run` (attach before start, exit code)
/// and `exec` (libpod's exec start, read straight from the socket).
#[test]
fn podman_remote_run_attached_and_exec() {
    if !podman_installed() {
        eprintln!("podman not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let out = podman(
        &env,
        &sock,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo hi; echo err >&2; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    assert!(stderr(&out).contains("err"), "{}", stderr(&out));
    // --rm: gone once the client has its exit code.
    assert!(env.ok(["ps", "-aq"]).trim().is_empty());

    ok(
        &env,
        &sock,
        &["run", "-d", "--name", "x", "busybox", "sleep", "600"],
    );
    let out = podman(
        &env,
        &sock,
        &["exec", "x", "sh", "-c", "echo in-exec; exit 4"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "in-exec\n");
    let (code, _) = fails(&env, &sock, &["exec", "x", "/nonexistent"]);
    assert_eq!(code, 127);
    ok(&env, &sock, &["rm", "-f", "-t", "0", "x"]);
}

#[test]
fn podman_remote_volumes_networks_events_df() {
    if !podman_installed() {
        eprintln!("podman not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);

    assert_eq!(
        ok(&env, &sock, &["volume", "create", "--label", "a=b", "v1"]).trim(),
        "v1"
    );
    assert!(ok(&env, &sock, &["volume", "ls"]).contains("v1"));
    assert_eq!(
        ok(
            &env,
            &sock,
            &[
                "volume",
                "inspect",
                "--format",
                "{{.Name}} {{.Labels.a}}",
                "v1"
            ]
        )
        .trim(),
        "v1 b"
    );
    ok(&env, &sock, &["volume", "exists", "v1"]);
    // In use: refused without force.
    ok(
        &env,
        &sock,
        &[
            "create", "--name", "user", "-v", "v1:/data", "busybox", "true",
        ],
    );
    let (code, _) = fails(&env, &sock, &["volume", "rm", "v1"]);
    assert_eq!(code, 2);
    ok(&env, &sock, &["rm", "user"]);
    assert_eq!(ok(&env, &sock, &["volume", "rm", "v1"]).trim(), "v1");
    let (code, _) = fails(&env, &sock, &["volume", "exists", "v1"]);
    assert_eq!(code, 1);
    let (code, err) = fails(&env, &sock, &["volume", "rm", "v1"]);
    assert_eq!(code, 1, "{err}");

    assert_eq!(
        ok(
            &env,
            &sock,
            &["network", "create", "--subnet", "10.89.7.0/24", "n1"]
        )
        .trim(),
        "n1"
    );
    assert!(ok(&env, &sock, &["network", "ls"]).contains("n1"));
    assert!(ok(&env, &sock, &["network", "inspect", "n1"]).contains("10.89.7.0/24"));
    ok(&env, &sock, &["network", "exists", "n1"]);
    assert_eq!(ok(&env, &sock, &["network", "rm", "n1"]).trim(), "n1");
    let (code, _) = fails(&env, &sock, &["network", "exists", "n1"]);
    assert_eq!(code, 1);

    // Something for events and df to show.
    ok(
        &env,
        &sock,
        &["run", "-d", "--name", "ev", "busybox", "true"],
    );
    assert_eq!(ok(&env, &sock, &["wait", "ev"]).trim(), "0");
    let events = ok(
        &env,
        &sock,
        &["events", "--stream=false", "--filter", "container=ev"],
    );
    for action in ["create", "start", "died"] {
        assert!(events.contains(&format!("container {action}")), "{events}");
    }
    assert!(events.contains("name=ev"), "{events}");
    let df = ok(&env, &sock, &["system", "df"]);
    assert!(df.contains("Images") && df.contains("Containers"), "{df}");
    let df = ok(&env, &sock, &["system", "df", "-v"]);
    assert!(
        df.contains("localhost/busybox") && df.contains("ev"),
        "{df}"
    );
    // Nothing of that name: every kind asked, then "no such object".
    let (_, err) = fails(&env, &sock, &["inspect", "nothing"]);
    assert!(err.contains("no such object"), "{err}");

    // Prunes: the exited container, the unused volume and network, then
    // every unused image.
    ok(&env, &sock, &["volume", "create", "spare"]);
    ok(&env, &sock, &["network", "create", "spare-net"]);
    let ev = env.ok(["inspect", "-f", "{{.Id}}", "ev"]);
    assert!(ok(&env, &sock, &["container", "prune", "-f"]).contains(ev.trim()));
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
    assert!(ok(&env, &sock, &["volume", "prune", "-f"]).contains("spare"));
    assert!(ok(&env, &sock, &["network", "prune", "-f"]).contains("spare-net"));
    ok(&env, &sock, &["image", "prune", "-f"]);
    assert!(
        env.ok(["images", "-q"])
            .contains(&ok(&env, &sock, &["images", "-q"]).trim()[..12])
    );
    ok(&env, &sock, &["image", "prune", "-a", "-f"]);
    assert!(env.ok(["images", "-q"]).trim().is_empty());
}

/// A libpod wait in the background, over curl.
fn waiter(env: &TestEnv, sock: &Path, path: &str) -> Child {
    let mut cmd = curl_cmd(env, sock, "POST", path, None);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    cmd.spawn().expect("curl")
}

fn answer(c: Child) -> (u16, String) {
    let out = c.wait_with_output().expect("curl");
    split_code(&stdout(&out))
}

#[test]
fn libpod_wait_states_and_routes_over_curl() {
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let p = |s: &str| format!("/v4.3.1/libpod{s}");

    // Unknown container: 404 whatever the state; unknown state: 400.
    let (code, body) = curl(
        &env,
        &sock,
        "POST",
        &p("/containers/nope/wait?condition=bogus"),
    );
    assert_eq!(code, 404, "{body}");
    assert!(body.contains(r#""response":404"#), "{body}");
    env.ok(["create", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
    let (code, body) = curl(
        &env,
        &sock,
        "POST",
        &p("/containers/three/wait?condition=bogus"),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("unknown container state"), "{body}");
    let (code, body) = curl(
        &env,
        &sock,
        "POST",
        &p("/containers/three/wait?interval=soon"),
    );
    assert_eq!(code, 400, "{body}");
    // A state it is in: at once, -1 (not an exit).
    assert_eq!(
        curl(
            &env,
            &sock,
            "POST",
            &p("/containers/three/wait?condition=configured&condition=running")
        ),
        (200, "-1\n".to_owned())
    );
    // The default, on a container never started: at once, 0 (Podman 4.3
    // answers so); once it ran, its exit code, a bare number.
    assert_eq!(
        curl(
            &env,
            &sock,
            "POST",
            &p("/containers/three/wait?interval=50ms")
        ),
        (200, "0\n".to_owned())
    );
    env.ok(["start", "three"]);
    let w = waiter(&env, &sock, &p("/containers/three/wait?interval=50ms"));
    assert_eq!(answer(w), (200, "3\n".to_owned()));
    // `running` of a container not started yet waits for its start (one
    // that stays up: the state is polled, as Podman does).
    env.ok(["create", "--name", "later", "busybox", "sleep", "300"]);
    let w = waiter(
        &env,
        &sock,
        &p("/containers/later/wait?condition=running&interval=20ms"),
    );
    env.ok(["start", "later"]);
    assert_eq!(answer(w), (200, "-1\n".to_owned()));
    env.ok(["rm", "-f", "-t", "0", "later"]);
    // Two exit states, repeated: the first met ends it.
    assert_eq!(
        curl(
            &env,
            &sock,
            "POST",
            &p("/containers/three/wait?condition=stopped&condition=exited")
        ),
        (200, "3\n".to_owned())
    );

    // exists, start, pause/unpause, restart, top, kill, logs, delete.
    assert_eq!(
        curl(&env, &sock, "GET", &p("/containers/three/exists")).0,
        204
    );
    assert_eq!(
        curl(&env, &sock, "GET", &p("/containers/nope/exists")).0,
        404
    );
    env.ok([
        "run",
        "-d",
        "--name",
        "s",
        "busybox",
        "sh",
        "-c",
        "echo hi; exec sleep 300",
    ]);
    assert_eq!(curl(&env, &sock, "POST", &p("/containers/s/start")).0, 304);
    let (code, body) = curl(&env, &sock, "POST", &p("/containers/s/pause"));
    if code == 204 {
        assert_eq!(
            env.ok(["inspect", "-f", "{{.State.Status}}", "s"]).trim(),
            "paused"
        );
        assert_eq!(
            curl(&env, &sock, "POST", &p("/containers/s/unpause")).0,
            204
        );
    } else {
        // Rootless on cgroup v1 has no freezer: Podman's refusal.
        assert_eq!(code, 409, "{body}");
        assert!(body.contains("pause"), "{body}");
        assert_eq!(
            curl(&env, &sock, "POST", &p("/containers/s/unpause")).0,
            409
        );
    }
    // stats, once: the figures where containers have cgroups of their
    // own, else Podman's 409 (rootless on cgroup v1).
    let (code, body) = curl(
        &env,
        &sock,
        "GET",
        &p("/containers/stats?containers=s&stream=false"),
    );
    if code == 200 {
        let v: serde_json::Value = serde_json::from_str(body.trim()).expect("stats json");
        assert_eq!(v["Stats"][0]["Name"], "s", "{body}");
        assert!(
            v["Stats"][0]["PIDs"].as_u64().is_some_and(|n| n >= 1),
            "{body}"
        );
    } else {
        assert_eq!(code, 409, "{body}");
        assert!(body.contains("cgroups v2"), "{body}");
    }
    let (code, body) = curl(&env, &sock, "GET", &p("/containers/s/top"));
    assert_eq!(code, 200, "{body}");
    let top: serde_json::Value = serde_json::from_str(&body).expect("top json");
    assert!(
        top["Titles"].as_array().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(body.contains("sleep 300"), "{body}");
    let (code, body) = curl(&env, &sock, "GET", &p("/containers/s/logs?stdout=true"));
    assert_eq!(code, 200);
    // Docker's 8-byte frame header: stream 1, length 3.
    assert!(
        body.as_bytes().starts_with(&[1, 0, 0, 0, 0, 0, 0, 3]),
        "{body:?}"
    );
    assert!(body.ends_with("hi\n"), "{body:?}");
    // rename (409 for a taken name) and the file system's changes.
    assert_eq!(
        curl(&env, &sock, "POST", &p("/containers/s/rename?name=three")).0,
        409
    );
    assert_eq!(
        curl(&env, &sock, "POST", &p("/containers/s/rename?name=s2")).0,
        204
    );
    assert_eq!(
        curl(&env, &sock, "POST", &p("/containers/s2/rename?name=s")).0,
        204
    );
    env.ok(["exec", "s", "touch", "/made"]);
    let (code, body) = curl(&env, &sock, "GET", &p("/containers/s/changes"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#"{"Path":"/made","Kind":1}"#), "{body}");
    assert_eq!(
        curl(&env, &sock, "POST", &p("/containers/s/restart?t=0")).0,
        204
    );
    assert_eq!(
        curl(&env, &sock, "POST", &p("/containers/s/kill?signal=KILL")).0,
        204
    );
    assert_eq!(
        curl(&env, &sock, "POST", &p("/containers/s/wait")),
        (200, "137\n".to_owned())
    );
    assert_eq!(curl(&env, &sock, "POST", &p("/containers/s/stop")).0, 304);
    let (code, body) = curl(&env, &sock, "DELETE", &p("/containers/s?force=true"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""RawInput":"s""#), "{body}");
    assert_eq!(curl(&env, &sock, "DELETE", &p("/containers/s")).0, 404);
    assert_eq!(
        curl(&env, &sock, "DELETE", &p("/containers/s?ignore=true")),
        (200, "[]".to_owned())
    );
    let (code, body) = curl(&env, &sock, "GET", &p("/containers/json?all=true"));
    assert_eq!(code, 200);
    let list: serde_json::Value = serde_json::from_str(&body).expect("ps json");
    assert_eq!(list[0]["Names"][0], "three", "{body}");
    assert_eq!(list[0]["Command"][0], "sh", "{body}");
    assert_eq!(list[0]["ExitCode"], 3, "{body}");

    // Create bodies: Podman's shape in, 201; errors are 4xx with the
    // libpod error body.
    let create = |body: &str| curl_with(&env, &sock, "POST", &p("/containers/create"), Some(body));
    let (code, body) = create(
        r#"{"name":"made","image":"busybox","command":["true"],"umask":"0022","systemd":"true",
            "portmappings":[{"container_port":80,"host_port":0}],"env":{"K":"V"}}"#,
    );
    assert_eq!(code, 201, "{body}");
    assert!(body.contains(r#""Id":""#), "{body}");
    let env_line = env.ok(["inspect", "-f", "{{.Config.Env}}", "made"]);
    assert!(env_line.contains("K=V"), "{env_line}");
    // Over the body limit (4 MiB): refused before it is parsed.
    let huge = format!(r#"{{"image":"busybox","name":"{}"}}"#, "x".repeat(5 << 20));
    let file = env.home.join("huge.json");
    std::fs::write(&file, huge).expect("huge body");
    let mut cmd = curl_cmd(&env, &sock, "POST", &p("/containers/create"), None);
    cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", file.display()));
    let (code, body) = split_code(&stdout(&cmd.output().expect("curl")));
    assert_eq!(code, 413);
    // In the API's JSON, naming the limit, as every other error.
    let v: serde_json::Value = serde_json::from_str(&body).expect("a JSON error body");
    assert_eq!(v["response"], 413, "{body}");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("4194304")),
        "{body}"
    );
    for (bad, code, words) in [
        ("{", 400, "invalid container create body"),
        (r#"{"image": 7}"#, 400, "invalid type"),
        (r#"{"command": ["true"]}"#, 400, "image is required"),
        (
            r#"{"image":"busybox","secrets":[{"Source":"s"}]}"#,
            400,
            "secrets is not supported",
        ),
        (r#"{"image":"busybox","cap_add":["CAP_NOPE"]}"#, 400, "NOPE"),
        (r#"{"image":"busybox","name":"made"}"#, 409, "made"),
        (r#"{"image":"not-here"}"#, 404, "not-here"),
    ] {
        let (got, body) = create(bad);
        assert_eq!(got, code, "{bad}: {body}");
        assert!(body.contains(words), "{bad}: {body}");
        assert!(body.contains(&format!(r#""response":{code}"#)), "{body}");
    }

    // Images: list, inspect, exists, tag, remove (one and many).
    let (code, body) = curl(&env, &sock, "GET", &p("/images/json"));
    assert_eq!(code, 200);
    assert!(body.contains("localhost/busybox:latest"), "{body}");
    assert_eq!(
        curl(&env, &sock, "GET", &p("/images/busybox/exists")).0,
        204
    );
    assert_eq!(curl(&env, &sock, "GET", &p("/images/nope/exists")).0, 404);
    let (code, body) = curl(&env, &sock, "GET", &p("/images/busybox/json"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        curl(
            &env,
            &sock,
            "POST",
            &p("/images/busybox/tag?repo=other&tag=2")
        )
        .0,
        201
    );
    let (code, body) = curl(&env, &sock, "DELETE", &p("/images/other:2"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("localhost/other:2"), "{body}");
    assert_eq!(curl(&env, &sock, "DELETE", &p("/images/other:2")).0, 404);
    env.ok(["tag", "busybox", "a:1", "b:1"]);
    let (code, body) = curl(
        &env,
        &sock,
        "POST",
        &p("/images/remove?images=a:1&images=b:1&images=zzz"),
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("remove json");
    assert_eq!(v["Untagged"].as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(v["ExitCode"], 1, "{body}");
    // The pull stream: an error line for what is not there.
    let (code, body) = curl(
        &env,
        &sock,
        "POST",
        &p("/images/pull?reference=127.0.0.1:1/none:1&tlsVerify=false"),
    );
    assert_eq!(code, 200);
    assert!(
        body.lines()
            .last()
            .is_some_and(|l| l.starts_with(r#"{"error":"#)),
        "{body}"
    );
    // policy=missing of a local image: just its id.
    let (_, body) = curl(
        &env,
        &sock,
        "POST",
        &p("/images/pull?reference=busybox&policy=missing"),
    );
    assert!(body.starts_with(r#"{"images":[""#), "{body}");

    // Events (not streamed), df, pods, and an unknown path.
    let (code, body) = curl(&env, &sock, "GET", &p("/events?stream=false"));
    assert_eq!(code, 200);
    assert!(
        body.lines().all(|l| l.contains(r#""containerExitCode""#)),
        "{body}"
    );
    assert!(body.contains(r#""Action":"create""#), "{body}");
    // Streamed: a start after the request arrives comes down the open
    // connection.
    let events = env.home.join("events.out");
    let mut cmd = curl_cmd(
        &env,
        &sock,
        "GET",
        &p("/events?filters=%7B%22event%22%3A%5B%22start%22%5D%7D"),
        None,
    );
    cmd.args(["-N", "-o"]).arg(&events);
    let mut stream = cmd.spawn().expect("curl events");
    assert!(wait_until(Duration::from_secs(20), || events.exists()));
    env.ok(["create", "--name", "evs", "busybox", "true"]);
    env.ok(["start", "evs"]);
    let started = wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(&events)
            .is_ok_and(|t| t.contains(r#""Action":"start""#) && t.contains(r#""name":"evs""#))
    });
    let _ = stream.kill();
    let _ = stream.wait();
    assert!(started, "{:?}", std::fs::read_to_string(&events));
    let seen = std::fs::read_to_string(&events).unwrap_or_default();
    assert!(!seen.contains(r#""Action":"create""#), "{seen}");
    let (code, body) = curl(&env, &sock, "GET", &p("/system/df"));
    assert_eq!(code, 200);
    assert!(
        body.contains(r#""ImagesSize""#) && body.contains("three"),
        "{body}"
    );
    let (code, body) = curl(&env, &sock, "GET", &p("/pods/x/json"));
    assert_eq!(code, 404);
    assert!(body.contains("no such pod"), "{body}");
    let (code, body) = curl(&env, &sock, "PUT", &p("/containers/json"));
    assert_eq!(code, 405);
    assert!(body.contains(r#""response":405"#), "{body}");
    let (code, body) = curl(&env, &sock, "GET", &p("/nothing/here"));
    assert_eq!(code, 404);
    assert!(body.contains(r#""response":404"#), "{body}");
    // The other prefixes reach the same routes.
    assert_eq!(
        curl(&env, &sock, "GET", "/v4.0.0/libpod/containers/three/exists").0,
        204
    );
    assert_eq!(
        curl(&env, &sock, "GET", "/v5.0.0/libpod/containers/three/exists").0,
        204
    );
}

#[test]
fn libpod_concurrent_requests_and_cli_users() {
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    // Creates, lists and inspects at once over the API, with the CLI
    // creating beside them: every one answers, nothing is lost.
    let mut children = Vec::new();
    for i in 0..6 {
        let body = format!(r#"{{"image":"busybox","name":"c{i}","command":["true"]}}"#);
        let mut cmd = curl_cmd(
            &env,
            &sock,
            "POST",
            "/v4.3.1/libpod/containers/create",
            Some(&body),
        );
        cmd.stdout(Stdio::piped());
        children.push((201, cmd.spawn().expect("curl")));
        let mut cmd = curl_cmd(
            &env,
            &sock,
            "GET",
            "/v4.3.1/libpod/containers/json?all=true",
            None,
        );
        cmd.stdout(Stdio::piped());
        children.push((200, cmd.spawn().expect("curl")));
    }
    for i in 0..3 {
        env.ok(["create", "--name", &format!("cli{i}"), "busybox", "true"]);
    }
    for (want, c) in children {
        let (code, body) = answer(c);
        assert_eq!(code, want, "{body}");
    }
    let (_, body) = curl(
        &env,
        &sock,
        "GET",
        "/v4.3.1/libpod/containers/json?all=true",
    );
    let list: serde_json::Value = serde_json::from_str(&body).expect("ps json");
    assert_eq!(list.as_array().map(Vec::len), Some(9), "{body}");
}

#[test]
fn podman_remote_pods_create_ps_inspect_act_rm() {
    if !podman_installed() {
        eprintln!("podman not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let id = ok(
        &env,
        &sock,
        &[
            "pod", "create", "--name", "rp", "--label", "a=b", "--memory", "64m",
        ],
    );
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");
    // A container joins it through the API's create (`pod` in the body).
    ok(
        &env,
        &sock,
        &[
            "create",
            "--pod",
            "rp",
            "--name",
            "rc",
            "--stop-timeout",
            "1",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    // pod ps: the header and row the local CLI prints.
    let remote = ok(&env, &sock, &["pod", "ps"]);
    let local = env.ok(["pod", "ps"]);
    // Columns widen with their contents ("1 second ago"): words compared.
    let head = |s: &str| {
        s.lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(head(&remote), head(&local));
    let row = |s: &str| {
        s.lines()
            .nth(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].to_owned(),
                    f.last().map(|s| s.to_string()),
                )
            })
            .expect("a pod row")
    };
    assert_eq!(row(&remote), row(&local), "{remote}\n{local}");
    assert_eq!(row(&remote).1, "rp");
    assert_eq!(row(&remote).3.as_deref(), Some("2"));
    // pod inspect: the service's object is the CLI's.
    let r: serde_json::Value =
        serde_json::from_str(&ok(&env, &sock, &["pod", "inspect", "rp"])).expect("json");
    let l: serde_json::Value =
        serde_json::from_str(&env.ok(["pod", "inspect", "rp"])).expect("json");
    assert_eq!(r["Id"], l["Id"]);
    assert_eq!(r["Labels"], serde_json::json!({"a": "b"}));
    assert_eq!(r["memory_limit"], 64 << 20);
    assert_eq!(r["NumContainers"], 2);
    let keys = |v: &serde_json::Value| {
        v.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(keys(&r), keys(&l));
    assert_eq!(
        ok(&env, &sock, &["pod", "exists", "rp"]).trim(),
        "",
        "exists prints nothing"
    );
    assert_eq!(fails(&env, &sock, &["pod", "exists", "nope"]).0, 1);

    // start, top, stop, restart, kill: each answers with the pod's id.
    assert_eq!(ok(&env, &sock, &["pod", "start", "rp"]).trim(), id);
    let state = |want: &str| {
        let s = env.ok(["pod", "inspect", "--format", "{{.State}}", "rp"]);
        assert_eq!(s.trim(), want);
    };
    state("Running");
    let top = ok(&env, &sock, &["pod", "top", "rp"]);
    assert!(
        top.lines().next().is_some_and(|h| h.contains("COMMAND")),
        "{top}"
    );
    assert!(top.contains("sleep 1000"), "{top}");
    assert_eq!(
        ok(&env, &sock, &["pod", "stop", "-t", "0", "rp"]).trim(),
        id
    );
    state("Exited");
    assert_eq!(ok(&env, &sock, &["pod", "restart", "rp"]).trim(), id);
    state("Running");
    assert_eq!(ok(&env, &sock, &["pod", "kill", "rp"]).trim(), id);
    // Podman's words for a missing pod.
    let (code, err) = fails(&env, &sock, &["pod", "rm", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unable to find pod \"nope\": no such pod"),
        "{err}"
    );
    assert_eq!(ok(&env, &sock, &["pod", "rm", "-f", "rp"]).trim(), id);
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty());
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
    // prune: stopped pods go, with their ids.
    env.ok(["pod", "create", "--name", "gone"]);
    let gone = env.ok(["pod", "inspect", "--format", "{{.Id}}", "gone"]);
    env.ok(["pod", "start", "gone"]);
    env.ok(["pod", "stop", "-t", "0", "gone"]);
    assert_eq!(ok(&env, &sock, &["pod", "prune", "-f"]).trim(), gone.trim());
    assert_eq!(env.run(["pod", "exists", "gone"]).status.code(), Some(1));
}
