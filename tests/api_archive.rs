//! `docker cp` over the REST service: the archive routes with the docker
//! CLI (both ways, files and directories, renames), the Python SDK's
//! get_archive/put_archive, the stat header over curl, and archives that
//! try to write outside the destination.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

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

/// A ustar header block for `name` (raw bytes: names a tar library would
/// refuse, such as `../x`).
fn tar_entry(out: &mut Vec<u8>, name: &str, kind: u8, data: &[u8], link: &str) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn curl_put(env: &TestEnv, sock: &Path, path: &str, file: &Path) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "--max-time",
        "30",
        "-X",
        "PUT",
        "-w",
        "\n%{http_code}",
        "--unix-socket",
    ])
    .arg(sock)
    .args(["-H", "Content-Type: application/x-tar", "--data-binary"])
    .arg(format!("@{}", file.display()))
    .arg(format!("http://d{path}"));
    as_user(&mut cmd, &env.user);
    split_code(&stdout(&cmd.output().expect("run curl")))
}

#[test]
fn docker_cp_both_ways_and_the_stat_header() {
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

    let work = env.home.join("cp");
    std::fs::create_dir_all(work.join("dir/sub")).expect("mkdir");
    std::fs::write(work.join("f1"), "one\n").expect("write");
    std::fs::write(work.join("dir/sub/f2"), "two\n").expect("write");
    for d in [&work, &work.join("dir"), &work.join("dir/sub")] {
        chown(d, env.user.uid, env.user.gid);
    }
    for f in ["f1", "dir/sub/f2"] {
        chown(&work.join(f), env.user.uid, env.user.gid);
    }
    let w = |p: &str| work.join(p).display().to_string();

    // Host to container: into a directory, as a new name, a whole tree.
    ok(&env, &sock, &["cp", &w("f1"), "box:/tmp/"]);
    ok(&env, &sock, &["cp", &w("f1"), "box:/tmp/renamed"]);
    ok(&env, &sock, &["cp", &w("dir"), "box:/tmp/d2"]);
    let seen = ok(
        &env,
        &sock,
        &[
            "exec",
            "box",
            "cat",
            "/tmp/f1",
            "/tmp/renamed",
            "/tmp/d2/sub/f2",
        ],
    );
    assert_eq!(seen, "one\none\ntwo\n");
    // Owned by the container's user (Docker's default without -a).
    assert_eq!(
        ok(&env, &sock, &["exec", "box", "stat", "-c", "%u", "/tmp/f1"]),
        "0\n"
    );

    // Container to host: a file, a tree.
    ok(&env, &sock, &["cp", "box:/etc/passwd", &w("pw")]);
    assert!(
        std::fs::read_to_string(work.join("pw"))
            .expect("copied file")
            .starts_with("root:")
    );
    ok(&env, &sock, &["cp", "box:/tmp/d2", &w("back")]);
    assert_eq!(
        std::fs::read_to_string(work.join("back/sub/f2")).expect("copied tree"),
        "two\n"
    );

    // A missing source: Docker's message, a failure.
    let out = docker(&env, &sock, &["cp", "box:/nonexistent", &w("x")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Could not find the file /nonexistent"),
        "{}",
        stderr(&out)
    );
    // Into a stopped container too.
    ok(
        &env,
        &sock,
        &["create", "--name", "idle", "busybox", "true"],
    );
    ok(&env, &sock, &["cp", &w("f1"), "idle:/f1"]);
    ok(&env, &sock, &["cp", "idle:/f1", &w("f1-back")]);
    assert_eq!(
        std::fs::read_to_string(work.join("f1-back")).expect("copied back"),
        "one\n"
    );

    // HEAD: the stat alone, base64 JSON with Go's mode bits.
    let mut cmd = curl_cmd(
        &env,
        &sock,
        "HEAD",
        "/v1.47/containers/box/archive?path=/tmp/d2",
        None,
    );
    let head = stdout(&cmd.output().expect("curl"));
    let line = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("x-docker-container-path-stat:")
        })
        .unwrap_or_else(|| panic!("no stat header: {head}"));
    let b64 = line.split_once(':').map(|x| x.1.trim()).unwrap_or_default();
    let out = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().map(|mut i| i.write_all(b64.as_bytes()));
            c.wait_with_output()
        })
        .expect("base64 -d");
    let stat: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stat JSON");
    assert_eq!(stat["name"], "d2");
    assert_eq!(
        stat["mode"].as_u64().map(|m| m & (1 << 31) != 0),
        Some(true),
        "{stat}"
    );
    assert_eq!(stat["linkTarget"], "");
    let (code, _) = curl(
        &env,
        &sock,
        "HEAD",
        "/v1.47/containers/box/archive?path=/nope",
    );
    assert_eq!(code, 404);
    let (code, _) = curl(&env, &sock, "GET", "/v1.47/containers/box/archive");
    assert_eq!(code, 400);
    let (code, _) = curl(
        &env,
        &sock,
        "GET",
        "/v1.47/containers/nosuch/archive?path=/",
    );
    assert_eq!(code, 404);

    // Archives that reach out: `..` names, a symlink to / then a file
    // under it, an absolute name. Nothing lands outside /tmp/dst (on the
    // host least of all).
    ok(
        &env,
        &sock,
        &["exec", "box", "busybox", "mkdir", "/tmp/dst"],
    );
    let marker = format!("hutch-escape-{}", std::process::id());
    let mut t = Vec::new();
    tar_entry(&mut t, &format!("../../../../../{marker}"), b'0', b"x", "");
    tar_entry(&mut t, "lnk", b'2', b"", "/");
    tar_entry(&mut t, &format!("lnk/{marker}-2"), b'0', b"x", "");
    tar_entry(&mut t, &format!("/{marker}-3"), b'0', b"x", "");
    t.extend_from_slice(&[0u8; 1024]);
    let tar = env.root.join("evil.tar");
    std::fs::write(&tar, &t).expect("write tar");
    let (code, body) = curl_put(
        &env,
        &sock,
        "/v1.47/containers/box/archive?path=/tmp/dst",
        &tar,
    );
    assert!(
        code == 200 || (400..500).contains(&code) || code == 500,
        "{code} {body}"
    );
    for p in [
        format!("/{marker}"),
        format!("/{marker}-2"),
        format!("/{marker}-3"),
        format!("/tmp/{marker}"),
    ] {
        assert!(!Path::new(&p).exists(), "{p} written on the host");
        let out = docker(&env, &sock, &["exec", "box", "ls", &p]);
        assert!(
            !out.status.success(),
            "{p} written in the container: {}",
            stdout(&out)
        );
    }
    // PUT into a path that is not there: 404.
    let mut t = Vec::new();
    tar_entry(&mut t, "ok", b'0', b"x", "");
    t.extend_from_slice(&[0u8; 1024]);
    std::fs::write(&tar, &t).expect("write tar");
    let (code, _) = curl_put(
        &env,
        &sock,
        "/v1.47/containers/box/archive?path=/no/such/dir",
        &tar,
    );
    assert_eq!(code, 404);

    ok(&env, &sock, &["rm", "-f", "box", "idle"]);
}

#[test]
fn python_sdk_get_and_put_archive() {
    let sdk = Command::new("python3")
        .args(["-c", "import docker"])
        .status()
        .is_ok_and(|s| s.success());
    if !sdk {
        eprintln!("python3 docker SDK not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let script = format!(
        r#"
import docker, io, tarfile
c = docker.DockerClient(base_url='unix://{sock}')
ctr = c.containers.run('busybox', ['sleep', '300'], detach=True, name='py')
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w') as t:
    data = b'hello archive\n'
    info = tarfile.TarInfo('greeting.txt'); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
assert ctr.put_archive('/tmp', buf.getvalue())
bits, stat = ctr.get_archive('/tmp/greeting.txt')
assert stat['name'] == 'greeting.txt', stat
assert stat['size'] == 14, stat
raw = b''.join(bits)
with tarfile.open(fileobj=io.BytesIO(raw)) as t:
    assert t.extractfile('greeting.txt').read() == b'hello archive\n'
r = ctr.exec_run(['cat', '/tmp/greeting.txt'])
assert r.output == b'hello archive\n', r
ctr.remove(force=True)
print('ok')
"#,
        sock = sock.display()
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &script])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home);
    as_user(&mut cmd, &env.user);
    let out = cmd.output().expect("run python3");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "ok\n");
}
