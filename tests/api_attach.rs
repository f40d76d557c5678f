//! Attach over the REST service as clients use it: the docker CLI's
//! foreground `run` (attach before start, hijacked connection, Docker's
//! stream framing), `run -i` with piped input, `docker attach`, resize,
//! and a client that hangs up mid-attach.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
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

/// The docker CLI as the test user with `input` on its stdin.
fn docker_with_input(
    env: &TestEnv,
    sock: &Path,
    args: &[&str],
    input: &[u8],
) -> std::process::Output {
    let mut cmd = std::process::Command::new("docker");
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    as_user(&mut cmd, &env.user);
    let mut child = cmd.spawn().expect("run docker");
    let mut stdin = child.stdin.take().expect("docker's stdin");
    stdin.write_all(input).expect("write docker's stdin");
    drop(stdin);
    child.wait_with_output().expect("wait for docker")
}

/// A raw HTTP request on the socket, as the test user would send it (the
/// socket is the user's, 0600: root may connect too).
fn raw_request(sock: &Path, request: &str) -> UnixStream {
    let mut s = UnixStream::connect(sock).expect("connect to the service");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("send request");
    s
}

/// Reads the response head (up to the blank line).
fn read_head(s: &mut UnixStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn docker_run_foreground_output_exit_codes_and_stdin() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);

    // Attached before the start: nothing of the output is missed, and the
    // exit code comes back through the wait.
    let out = docker(
        &env,
        &sock,
        &["run", "--rm", "busybox", "sh", "-c", "echo hi; exit 3"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
    // --rm: gone once the run returned.
    assert_eq!(ok(&env, &sock, &["ps", "-aq"]).trim(), "");

    // Both streams, demultiplexed by the client.
    let out = docker(
        &env,
        &sock,
        &[
            "run",
            "--name",
            "two",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).contains("err\n"), "{}", stderr(&out));
    // `start -a` of the exited container: attached again.
    let out = docker(&env, &sock, &["start", "-a", "two"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");

    // logs=1 without stream: the log so far, framed, then the end.
    let (code, body) = curl(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/two/attach?logs=1&stdout=1&stderr=1",
    );
    assert_eq!(code, 200);
    assert!(body.contains("out\n") && body.contains("err\n"), "{body:?}");
    assert!(
        body.starts_with('\u{1}') || body.starts_with('\u{2}'),
        "{body:?}"
    );

    // -i with piped input; the client's half-close ends the container's
    // stdin.
    let out = docker_with_input(
        &env,
        &sock,
        &["run", "-i", "--rm", "busybox", "cat"],
        b"piped line\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped line\n");

    // -it in a pty (script gives the client a terminal): input through the
    // attach to the container's terminal, the raw stream back.
    let mut cmd = std::process::Command::new("script");
    cmd.args([
        "-qec",
        "docker run -it --rm busybox sh -c 'read x; echo got:$x; exit 7'",
        "/dev/null",
    ])
    .env_clear()
    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
    .env("HOME", &env.home)
    .env("DOCKER_HOST", format!("unix://{}", sock.display()))
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    as_user(&mut cmd, &env.user);
    let mut child = cmd.spawn().expect("run script");
    let mut stdin = child.stdin.take().expect("script's stdin");
    stdin.write_all(b"typed\n").expect("type");
    let out = child.wait_with_output().expect("wait for script");
    drop(stdin);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{text}");
    assert!(text.contains("got:typed"), "{text}");

    // A terminal: the raw stream (no frame headers in the output).
    let out = docker(
        &env,
        &sock,
        &["run", "-t", "--rm", "busybox", "echo", "tty"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).replace('\r', ""), "tty\n");
}

#[test]
fn docker_attach_resize_and_a_client_that_hangs_up() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let id = ok(
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
            "i=0; while [ $i -lt 600 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done",
        ],
    )
    .trim()
    .to_owned();

    // A hijacked attach: 101 with Docker's headers, then framed output.
    let mut s = raw_request(
        &sock,
        "POST /v1.47/containers/talk/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
    );
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("upgrade: tcp"), "{head}");
    assert!(
        head.contains("application/vnd.docker.multiplexed-stream"),
        "{head}"
    );
    let mut hdr = [0u8; 8];
    s.read_exact(&mut hdr).expect("a frame header");
    assert_eq!(hdr[0], 1, "stdout frame: {hdr:?}");
    let len = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as usize;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).expect("a frame");
    assert!(
        String::from_utf8_lossy(&payload).starts_with("tick "),
        "{payload:?}"
    );
    // The client goes mid-stream.
    drop(s);

    // The container runs on and the service answers.
    let state = ok(&env, &sock, &["inspect", "-f", "{{.State.Status}}", "talk"]);
    assert_eq!(state.trim(), "running");
    let (code, body) = curl(&env, &sock, "GET", "/v1.47/containers/json");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(&id), "{body}");

    // A plain POST without the upgrade: a 200 streaming the same frames.
    let mut s = raw_request(
        &sock,
        "POST /v1.47/containers/talk/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n",
    );
    let head = read_head(&mut s);
    // HTTP/1.0: close-delimited, so that clients reading the socket after
    // the header see bare frames, no chunk sizes.
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    drop(s);

    // Resize: a -t container's terminal; a bad size is a 400.
    ok(
        &env,
        &sock,
        &[
            "run", "-d", "-t", "--name", "term", "busybox", "sleep", "300",
        ],
    );
    let (code, body) = curl(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/term/resize?h=30&w=100",
    );
    assert_eq!(code, 200, "{body}");
    let (code, _) = curl(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/term/resize?h=x&w=100",
    );
    assert_eq!(code, 400);
    let (code, _) = curl(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/nosuch/resize?h=1&w=1",
    );
    assert_eq!(code, 404);
    let (code, body) = curl(&env, &sock, "POST", "/v1.47/exec/nosuch/resize?h=1&w=1");
    assert_eq!(code, 404, "{body}");

    // `docker attach` to a running container, ended by its exit: the
    // output from the attach on, the container's exit code.
    ok(
        &env,
        &sock,
        &[
            "run",
            "-d",
            "--name",
            "late",
            "busybox",
            "sh",
            "-c",
            "sleep 2; echo late; exit 4",
        ],
    );
    let out = docker(&env, &sock, &["attach", "late"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "late\n");

    // Docker's detach keys in a terminal's input: the attach ends, the
    // container runs on.
    ok(
        &env,
        &sock,
        &["run", "-d", "-it", "--name", "shell", "busybox", "sh"],
    );
    let mut cmd = std::process::Command::new("timeout");
    cmd.args(["20", "script", "-qec", "docker attach shell", "/dev/null"])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    as_user(&mut cmd, &env.user);
    let mut child = cmd.spawn().expect("run script");
    let mut keys = child.stdin.take().expect("script's stdin");
    keys.write_all(b"echo in-shell\n").expect("type");
    // The shell's answer: the client is attached and its terminal raw (a
    // cooked one would take ctrl-q as XON).
    let mut shown = Vec::new();
    let mut screen = child.stdout.take().expect("script's stdout");
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&shown).contains("\nin-shell") {
        match screen.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => shown.extend_from_slice(&buf[..n]),
        }
    }
    keys.write_all(&[0x10, 0x11]).expect("detach keys");
    let out = child.wait_with_output().expect("wait for script");
    drop(keys);
    assert!(
        String::from_utf8_lossy(&shown).contains("\nin-shell"),
        "{}",
        String::from_utf8_lossy(&shown)
    );
    assert_ne!(
        out.status.code(),
        Some(124),
        "the attach did not end on the detach keys"
    );
    assert_eq!(
        ok(
            &env,
            &sock,
            &["inspect", "-f", "{{.State.Status}}", "shell"]
        )
        .trim(),
        "running"
    );

    // A client with stdin that is killed mid-attach: the container runs
    // on, takes a new attach, and the service serves the next run.
    ok(
        &env,
        &sock,
        &["run", "-d", "-i", "--name", "reader", "busybox", "cat"],
    );
    let mut cmd = std::process::Command::new("docker");
    cmd.args(["attach", "reader"])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    as_user(&mut cmd, &env.user);
    let mut client = cmd.spawn().expect("docker attach");
    let mut input = client.stdin.take().expect("attach stdin");
    input.write_all(b"echoed\n").expect("write");
    let mut out = client.stdout.take().expect("attach stdout");
    let mut got = [0u8; 7];
    out.read_exact(&mut got).expect("the container's echo");
    assert_eq!(&got, b"echoed\n");
    client.kill().expect("kill the client");
    let _ = client.wait();
    assert_eq!(
        ok(
            &env,
            &sock,
            &["inspect", "-f", "{{.State.Status}}", "reader"]
        )
        .trim(),
        "running"
    );
    let out = docker(
        &env,
        &sock,
        &["run", "--rm", "busybox", "echo", "still serving"],
    );
    assert_eq!(stdout(&out), "still serving\n", "{}", stderr(&out));

    ok(
        &env,
        &sock,
        &["rm", "-f", "talk", "term", "late", "reader", "shell"],
    );
}

#[test]
fn a_client_gone_before_the_start_leaves_the_service_free_to_idle() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let sock = env.run_dir().join("hutch.sock");
    let mut svc = start(&env, &["--time", "2"]);
    wait_socket(&sock);
    ok(
        &env,
        &sock,
        &["create", "--name", "never", "busybox", "echo", "hi"],
    );
    // Attached (a waiter for the start), then gone without a word, as a
    // docker CLI killed between its attach and its start.
    let mut s = raw_request(
        &sock,
        "POST /v1.47/containers/never/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
    );
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    drop(s);
    // The probe notices, the waiter goes, and the idle service exits.
    assert!(
        wait_until(Duration::from_secs(30), || svc
            .0
            .try_wait()
            .is_ok_and(|s| s.is_some())),
        "the service stayed busy with a client that went"
    );
    // The container was left as it was.
    let out = env.ok(["inspect", "--format", "{{.State.Status}}", "never"]);
    assert_eq!(out.trim(), "created");
}
