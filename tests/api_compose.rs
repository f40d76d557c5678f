//! Debian's docker-compose (1.29) against `hutch system service` through
//! DOCKER_HOST: a two-service project on a user network (the client
//! reaches the server by its service name), a published port that answers
//! from the host, a named volume whose data outlives the containers, and
//! `down -v` leaving nothing behind.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::api::*;
use common::images::busybox_env;
use common::*;

const COMPOSE: &str = "/usr/bin/docker-compose";

/// docker-compose as the test user in `dir`. Debian's compose needs
/// Debian's docker-py 5; a newer SDK installed by pip would shadow it.
fn compose(env: &TestEnv, sock: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(COMPOSE);
    cmd.args(["--no-ansi", "-p", "proj"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home)
        .env("PYTHONPATH", "/usr/lib/python3/dist-packages")
        .env("DOCKER_HOST", format!("unix://{}", sock.display()));
    as_user(&mut cmd, &env.user);
    cmd.output().expect("run docker-compose")
}

fn ok(env: &TestEnv, sock: &Path, dir: &Path, args: &[&str]) -> String {
    let out = compose(env, sock, dir, args);
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The body of `GET path` on 127.0.0.1:port, or None.
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

#[test]
fn compose_up_network_port_volume_down() {
    if !Path::new(COMPOSE).exists() {
        eprintln!("docker-compose not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let dir = env.root.join("project");
    std::fs::create_dir_all(&dir).expect("project dir");
    chown(&dir, env.user.uid, env.user.gid);
    let port = free_port();
    // web writes its first start's time into the volume only once, so a
    // second `up` shows whether the volume kept it.
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!(
            r#"version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "[ -f /srv/first ] || cat /proc/sys/kernel/random/uuid > /srv/first; echo hello > /srv/index.html; exec httpd -f -p 8080 -h /srv"]
    ports: ["127.0.0.1:{port}:8080"]
    volumes: ["site:/srv"]
    networks: [back]
  client:
    image: busybox
    command: ["sh", "-c", "until wget -q -O - http://web:8080/index.html; do sleep 0.2; done; exec sleep 300"]
    networks: [back]
    depends_on: [web]
networks:
  back: {{}}
volumes:
  site: {{}}
"#
        ),
    )
    .expect("compose file");

    ok(&env, &sock, &dir, &["up", "-d"]);
    let ps = ok(&env, &sock, &dir, &["ps"]);
    assert!(
        ps.contains("proj_web_1") && ps.contains("proj_client_1"),
        "{ps}"
    );

    // The published port answers from the host.
    let mut body = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            body = http_get(port, "/index.html");
            body.is_some()
        }),
        "nothing answers on 127.0.0.1:{port}"
    );
    assert_eq!(body.as_deref(), Some("hello\n"));
    // The client reached web by its service name on the user network.
    let mut logs = String::new();
    assert!(
        wait_until(Duration::from_secs(30), || {
            logs = ok(&env, &sock, &dir, &["logs", "--no-color", "client"]);
            logs.contains("hello")
        }),
        "client never fetched from web: {logs}"
    );
    let first = http_get(port, "/first").expect("first start time");

    // Containers go, the volume stays: the second run sees the first's file.
    ok(&env, &sock, &dir, &["down", "-t", "1"]);
    let vols = docker(&env, &sock, &["volume", "ls", "-q"]);
    assert_eq!(stdout(&vols).trim(), "proj_site");
    ok(&env, &sock, &dir, &["up", "-d"]);
    let mut again = None;
    assert!(wait_until(Duration::from_secs(20), || {
        again = http_get(port, "/first");
        again.is_some()
    }));
    assert_eq!(
        again.as_deref(),
        Some(first.as_str()),
        "the volume kept its data"
    );

    // down -v: no container, network or volume of the project is left.
    ok(&env, &sock, &dir, &["down", "-v", "-t", "1"]);
    let left = |args: &[&str]| stdout(&docker(&env, &sock, args)).trim().to_owned();
    assert_eq!(left(&["ps", "-aq"]), "");
    // Only the default network, which is always there, is left.
    assert_eq!(left(&["network", "ls", "--format", "{{.Name}}"]), "podman");
    assert_eq!(left(&["volume", "ls", "-q"]), "");
    assert!(
        http_get(port, "/index.html").is_none(),
        "the port is closed"
    );
}
