//! podman-compose (PyPI, 1.x) driving hutch as its podman
//! (`--podman-path`), with its default in-pod behaviour (`pod create
//! --infra=false --share=`, each service on the project's user network
//! with its name as alias): a three-service project where `web` waits for
//! `db` by name, `web` publishes a port the host reaches, `db` keeps its
//! data in a named volume that outlives `down`, and `down -v` leaves no
//! container, pod, network, volume or process behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::images::busybox_env;
use common::*;

const PODMAN_COMPOSE: &str = "/usr/local/bin/podman-compose";

/// podman-compose as the test user in `dir`, with hutch as its podman.
fn compose(env: &TestEnv, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(PODMAN_COMPOSE)
        .arg("--podman-path")
        .arg(hutch_bin())
        .args(["-p", "proj"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home);
    if let Some(x) = &env.xdg_runtime_dir {
        cmd.env("XDG_RUNTIME_DIR", x);
    }
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    as_user(&mut cmd, &env.user);
    cmd.output().expect("run podman-compose")
}

/// podman-compose exits 0 even when a podman command it ran failed (it
/// logs the exit code), so success is also: no `Error:` line from hutch.
fn compose_ok(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let out = compose(env, dir, args);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        out.status.success() && !text.contains("Error:") && !text.contains("Traceback"),
        "podman-compose {args:?} ({}):\n{text}",
        out.status
    );
    text
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The body of a 200 answer to `GET path` on 127.0.0.1:port, or None.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.") && head.split_whitespace().nth(1) == Some("200"))
        .then(|| body.to_owned())
}

/// `db` writes a random id into its volume on its first start only and
/// serves it; `web` waits (with a deadline) until `db` answers by name,
/// keeps what it got and serves it on the published port; `probe` waits
/// for `web` by name. busybox's nc, not wget: this host's busybox wget
/// crashes when a connection is refused.
fn compose_file(port: u16) -> String {
    format!(
        r#"services:
  db:
    image: busybox
    command: ["sh", "-c", "[ -f /data/first ] || cat /proc/sys/kernel/random/uuid > /data/first; exec httpd -f -p 8000 -h /data"]
    volumes: ["data:/data"]
  web:
    image: busybox
    depends_on: [db]
    ports: ["127.0.0.1:{port}:8080"]
    command: ["sh", "-c", "mkdir -p /www; end=$$(($$(date +%s)+30)); until printf 'GET /first HTTP/1.0\\r\\n\\r\\n' | nc db 8000 > /tmp/r 2>/dev/null && grep -q '200 OK' /tmp/r; do [ $$(date +%s) -lt $$end ] || exit 1; sleep 0.1; done; sed '1,/^\\r$$/d' /tmp/r > /www/db.txt; exec httpd -f -p 8080 -h /www"]
  probe:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "end=$$(($$(date +%s)+30)); until printf 'GET /db.txt HTTP/1.0\\r\\n\\r\\n' | nc web 8080 | grep -q 200; do [ $$(date +%s) -lt $$end ] || exit 1; sleep 0.1; done; echo probe reached web; exec sleep 300"]
volumes:
  data: {{}}
"#
    )
}

/// What `db.txt` on the published port says, once web serves it.
fn served_id(port: u16) -> String {
    let mut body = None;
    assert!(
        wait_until(Duration::from_secs(40), || {
            body = http_get(port, "/db.txt");
            body.is_some()
        }),
        "nothing answers on 127.0.0.1:{port}/db.txt"
    );
    let id = body.unwrap_or_default().trim().to_owned();
    assert_eq!(id.len(), 36, "db's id through web: {id:?}");
    id
}

fn lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_owned).collect();
    v.sort();
    v
}

/// The container processes (init pids) and monitors of the project.
fn project_pids(env: &TestEnv) -> Vec<i32> {
    let out = env.ok([
        "ps",
        "--filter",
        "label=io.podman.compose.project=proj",
        "--format",
        "{{.Pid}}",
    ]);
    let mut pids: Vec<i32> = out
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for name in ["proj_db_1", "proj_web_1", "proj_probe_1"] {
        let m = env.ok(["inspect", "--format", "{{.State.ConmonPid}}", name]);
        pids.extend(m.trim().parse::<i32>().ok());
    }
    pids
}

#[test]
fn podman_compose_up_down_in_a_pod() {
    if !Path::new(PODMAN_COMPOSE).exists() {
        eprintln!("podman-compose not installed (tests/setup-host.sh): skipped");
        return;
    }
    let env = busybox_env(&[]);
    let dir: PathBuf = env.root.join("proj");
    std::fs::create_dir_all(&dir).expect("project dir");
    chown(&dir, env.user.uid, env.user.gid);
    let port = free_port();
    std::fs::write(dir.join("compose.yml"), compose_file(port)).expect("compose file");

    compose_ok(&env, &dir, &["up", "-d"]);
    // The default in-pod mode: one pod without infra holds the three.
    assert_eq!(
        env.ok(["pod", "ps", "--format", "{{.Name}} {{.NumberOfContainers}}"])
            .trim(),
        "pod_proj 3"
    );
    let members = env.ok([
        "ps",
        "-a",
        "--filter",
        "pod=pod_proj",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(lines(&members), ["proj_db_1", "proj_probe_1", "proj_web_1"]);
    // web reached db by name (it serves what db served it), on the port
    // published to the host.
    let first = served_id(port);
    // probe reached web by name (its log, through podman-compose's
    // `logs -n --color --tail N`).
    let mut logs = String::new();
    assert!(
        wait_until(Duration::from_secs(40), || {
            logs = compose_ok(&env, &dir, &["logs", "--tail", "5", "probe"]);
            logs.contains("probe reached web")
        }),
        "probe never reached web: {logs}"
    );
    // A second `up -d` finds the project's containers (ps --format json,
    // their labels) and leaves them as they are.
    let again = compose_ok(&env, &dir, &["up", "-d"]);
    assert!(!again.contains("exit code: 125"), "{again}");
    assert_eq!(
        lines(&env.ok(["ps", "-a", "--format", "{{.Names}}"])),
        ["proj_db_1", "proj_probe_1", "proj_web_1"]
    );

    // `down` removes containers, pod and network; the volume stays and a
    // new `up` sees db's first id again.
    compose_ok(&env, &dir, &["down", "-t", "0"]);
    assert_eq!(env.ok(["ps", "-aq"]).trim(), "");
    assert_eq!(env.ok(["pod", "ps", "-q"]).trim(), "");
    assert_eq!(env.ok(["volume", "ls", "-q"]).trim(), "proj_data");
    compose_ok(&env, &dir, &["up", "-d"]);
    assert_eq!(served_id(port), first, "the named volume kept db's data");
    let pids = project_pids(&env);
    assert!(pids.len() >= 6, "pids of containers and monitors: {pids:?}");

    // `down -v`: nothing of the project is left, and no process.
    compose_ok(&env, &dir, &["down", "-v", "-t", "0"]);
    assert_eq!(env.ok(["ps", "-aq"]).trim(), "");
    assert_eq!(env.ok(["pod", "ps", "-q"]).trim(), "");
    assert_eq!(env.ok(["volume", "ls", "-q"]).trim(), "");
    // Only the default network, always there, is left.
    assert_eq!(env.ok(["network", "ls", "-q"]).trim(), "podman");
    assert!(http_get(port, "/db.txt").is_none(), "the port is closed");
    let left: Vec<i32> = pids.into_iter().filter(|&p| is_alive(p)).collect();
    assert!(left.is_empty(), "processes left after down -v: {left:?}");
}
