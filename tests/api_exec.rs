//! Exec over the REST service: the docker CLI's `exec` (exit codes,
//! streams, piped input, `-it` in a pty, `-d`), the session's inspect and
//! resize over curl, and the Python Docker SDK's `exec_run` and foreground
//! `containers.run`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

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

fn user_cmd(env: &TestEnv, sock: &Path, program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .current_dir(&env.home);
    as_user(&mut cmd, &env.user);
    cmd
}

fn with_input(mut cmd: Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

fn python_sdk() -> bool {
    Command::new("python3")
        .args(["-c", "import docker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn docker_exec_codes_streams_input_tty_and_detach() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    ok(
        &env,
        &sock,
        &["run", "-d", "--name", "box", "busybox", "sleep", "300"],
    );

    let out = docker(
        &env,
        &sock,
        &["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 5"],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).contains("err\n"), "{}", stderr(&out));
    assert_eq!(
        ok(
            &env,
            &sock,
            &[
                "exec",
                "-e",
                "A=1",
                "-w",
                "/tmp",
                "box",
                "sh",
                "-c",
                "echo $A $(pwd)"
            ]
        ),
        "1 /tmp\n"
    );

    // The runtime's refusal: 127 for a command that does not exist, as
    // docker and podman exit.
    let out = docker(&env, &sock, &["exec", "box", "/nonexistent"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    // Piped input, ended by the client's half-close.
    let mut cmd = user_cmd(&env, &sock, "docker");
    cmd.args(["exec", "-i", "box", "sh", "-c", "cat; exit 2"]);
    let out = with_input(cmd, b"in the pipe\n");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in the pipe\n");

    // -it in a pty (script gives the client a terminal): the raw stream,
    // input to the process's terminal, its exit code.
    let mut cmd = user_cmd(&env, &sock, "script");
    cmd.args([
        "-qec",
        "docker exec -it box sh -c 'read x; echo got:$x; exit 6'",
        "/dev/null",
    ]);
    let out = with_input(cmd, b"typed\n");
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("got:typed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // -d: 200 at once; the process runs on and its session is recorded.
    ok(
        &env,
        &sock,
        &["exec", "-d", "box", "sh", "-c", "echo bg > /tmp/bg"],
    );
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        docker(&env, &sock, &["exec", "box", "cat", "/tmp/bg"])
            .status
            .success()
    }));

    // The session over curl: create, start (no upgrade: a 200 stream),
    // inspect with the exit code and pid; resize without a terminal is a
    // no-op; a second start is a conflict.
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/box/exec",
        Some(
            r#"{"Cmd":["sh","-c","echo via-curl; exit 9"],"AttachStdout":true,"AttachStderr":true}"#,
        ),
    );
    assert_eq!(code, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("exec create JSON");
    let sid = v["Id"].as_str().expect("an exec id").to_owned();
    let (code, body) = curl(&env, &sock, "GET", &format!("/v1.47/exec/{sid}/json"));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("exec inspect JSON");
    assert_eq!(v["Running"], false);
    assert_eq!(v["ExitCode"], serde_json::Value::Null);
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        &format!("/v1.47/exec/{sid}/start"),
        Some("{}"),
    );
    assert_eq!(code, 200);
    assert!(body.contains("via-curl\n"), "{body:?}");
    assert!(
        body.as_bytes().starts_with(&[1, 0, 0, 0]),
        "a stdout frame: {body:?}"
    );
    let (code, body) = curl(&env, &sock, "GET", &format!("/v1.47/exec/{sid}/json"));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("exec inspect JSON");
    assert_eq!(v["ExitCode"], 9, "{v}");
    assert_eq!(v["Running"], false);
    assert_eq!(v["ProcessConfig"]["entrypoint"], "sh");
    let (code, _) = curl(
        &env,
        &sock,
        "POST",
        &format!("/v1.47/exec/{sid}/resize?h=10&w=10"),
    );
    assert_eq!(code, 200);
    let (code, _) = curl_with(
        &env,
        &sock,
        "POST",
        &format!("/v1.47/exec/{sid}/start"),
        Some("{}"),
    );
    assert_eq!(code, 409);
    let (code, _) = curl(&env, &sock, "GET", "/v1.47/exec/nosuch/json");
    assert_eq!(code, 404);
    let (code, _) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/box/exec",
        Some(r#"{"Cmd":"ls"}"#),
    );
    assert_eq!(code, 400);
    let (code, _) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/box/exec",
        Some(r#"{"Cmd":[]}"#),
    );
    assert_eq!(code, 400);

    // Detach over curl: 200 at once, the session running with its pid.
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/box/exec",
        Some(r#"{"Cmd":["sleep","300"]}"#),
    );
    assert_eq!(code, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("exec create JSON");
    let sid = v["Id"].as_str().expect("an exec id").to_owned();
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        &format!("/v1.47/exec/{sid}/start"),
        Some(r#"{"Detach":true}"#),
    );
    assert_eq!((code, body.as_str()), (200, ""));
    let (_, body) = curl(&env, &sock, "GET", &format!("/v1.47/exec/{sid}/json"));
    let v: serde_json::Value = serde_json::from_str(&body).expect("exec inspect JSON");
    assert_eq!(v["Running"], true, "{v}");
    assert!(v["Pid"].as_i64().is_some_and(|p| p > 0), "{v}");

    // Many at once, each with its own output and exit code; foreground
    // runs beside them.
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut cmd = user_cmd(&env, &sock, "docker");
            if i % 2 == 0 {
                cmd.args(["exec", "box", "sh", "-c", &format!("echo n{i}; exit {i}")]);
            } else {
                cmd.args([
                    "run",
                    "--rm",
                    "busybox",
                    "sh",
                    "-c",
                    &format!("echo n{i}; exit {i}"),
                ]);
            }
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().expect("spawn docker")
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().expect("wait for docker");
        assert_eq!(out.status.code(), Some(i as i32), "{}", stderr(&out));
        assert_eq!(stdout(&out), format!("n{i}\n"));
    }

    // A stopped container takes no exec: 409.
    ok(
        &env,
        &sock,
        &["create", "--name", "idle", "busybox", "true"],
    );
    let (code, _) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/idle/exec",
        Some(r#"{"Cmd":["true"]}"#),
    );
    assert_eq!(code, 409);
    ok(&env, &sock, &["rm", "-f", "box", "idle"]);
}

#[test]
fn python_sdk_exec_run_and_foreground_run() {
    if !python_sdk() {
        eprintln!("python3 docker SDK not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let script = format!(
        r#"
import docker
c = docker.DockerClient(base_url='unix://{sock}')
out = c.containers.run('busybox', ['sh', '-c', 'echo from-run'], remove=True)
assert out == b'from-run\n', out
ctr = c.containers.run('busybox', ['sleep', '300'], detach=True, name='py')
r = ctr.exec_run(['sh', '-c', 'echo exec-out; exit 3'])
assert r.exit_code == 3, r
assert r.output == b'exec-out\n', r.output
r = ctr.exec_run(['sh', '-c', 'echo o; echo e >&2'], demux=True)
assert r.exit_code == 0, r
assert r.output == (b'o\n', b'e\n'), r.output
r = ctr.exec_run('echo tty', tty=True)
assert r.output.replace(b'\r', b'') == b'tty\n', r.output
ctr.remove(force=True)
assert c.containers.list(all=True) == []
print('ok')
"#,
        sock = sock.display()
    );
    let out = user_cmd(&env, &sock, "python3")
        .args(["-c", &script])
        .output()
        .expect("run python3");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "ok\n");
}
