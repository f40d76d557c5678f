//! The REST service as clients meet it: `hutch system service` run by the
//! unprivileged test user, reached with curl and the real docker CLI over
//! its unix socket; socket activation the way systemd does it; the idle
//! exit.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::api::*;
use common::images::busybox_env;
use common::*;

#[test]
fn ping_version_and_docker_cli_on_the_default_socket() {
    let env = busybox_env(&[]);
    let sock = env.run_dir().join("hutch.sock");
    let _svc = start(&env, &["--time", "0"]);
    wait_socket(&sock);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is the user's alone");

    assert_eq!(curl(&env, &sock, "GET", "/_ping"), (200, "OK".into()));
    assert_eq!(curl(&env, &sock, "HEAD", "/_ping").0, 200);
    assert_eq!(curl(&env, &sock, "GET", "/v4.3.1/libpod/_ping").0, 200);
    let (code, body) = curl(&env, &sock, "GET", "/v1.41/version");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ApiVersion"], "1.47");
    assert_eq!(v["MinAPIVersion"], "1.24");
    // Versions outside the range: Docker's 400 and words.
    let (code, body) = curl(&env, &sock, "GET", "/v1.12/info");
    assert_eq!(code, 400);
    assert!(
        body.contains("Minimum supported API version is 1.24"),
        "{body}"
    );
    let (code, body) = curl(&env, &sock, "GET", "/v1.99/info");
    assert_eq!(code, 400);
    assert!(body.contains("too new"), "{body}");
    // libpod's info is `hutch info`'s document, and names this socket.
    let (code, body) = curl(&env, &sock, "GET", "/v4.0.0/libpod/info");
    assert_eq!(code, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        info["host"]["remoteSocket"]["path"],
        format!("unix://{}", sock.display())
    );
    assert_eq!(info["host"]["remoteSocket"]["exists"], true);

    // The real docker CLI (no dockerd anywhere): version and info.
    if !docker_cli() {
        eprintln!("docker CLI not installed: its part of this test is skipped");
        return;
    }
    let docker = |args: &[&str]| {
        let out = docker(&env, &sock, args);
        assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(
        docker(&["version", "--format", "{{.Server.APIVersion}}"]).trim(),
        "1.47"
    );
    assert_eq!(
        docker(&["info", "--format", "{{.Images}} {{.OSType}}"]).trim(),
        "1 linux",
        "the busybox image counts"
    );
}

#[test]
fn idle_service_exits_and_removes_its_socket() {
    let env = TestEnv::new(TestUser::default_user());
    let sock = env.home.join("idle.sock");
    let uri = format!("unix://{}", sock.display());
    let mut svc = start(&env, &["--time", "1", &uri]);
    wait_socket(&sock);
    assert_eq!(curl(&env, &sock, "GET", "/_ping").0, 200);
    assert!(
        wait_until(Duration::from_secs(20), || matches!(
            svc.0.try_wait(),
            Ok(Some(_))
        )),
        "the service did not exit when idle"
    );
    let status = svc.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!sock.exists(), "the socket it made is gone");
}

#[test]
fn a_live_socket_is_not_taken_over_and_tcp_warns() {
    let env = TestEnv::new(TestUser::default_user());
    let sock = env.home.join("one.sock");
    let uri = format!("unix://{}", sock.display());
    let _first = start(&env, &["--time", "0", &uri]);
    wait_socket(&sock);
    let out = env.run(["system", "service", "--time", "1", &uri]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    assert_eq!(
        curl(&env, &sock, "GET", "/_ping").0,
        200,
        "first still serves"
    );

    let out = env.run(["system", "service", "--time", "1", "tcp://127.0.0.1:0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no authentication"),
        "{}",
        stderr(&out)
    );
    let out = env.run(["system", "service", "http://nope"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("invalid service URI"),
        "{}",
        stderr(&out)
    );
}

/// systemd's way: the socket is made by the manager and passed as fd 3
/// with LISTEN_PID naming the service's own pid.
#[test]
fn socket_activation() {
    let env = TestEnv::new(TestUser::default_user());
    let dir: PathBuf = env.root.join("sd");
    std::fs::create_dir(&dir).unwrap();
    chown(&dir, env.user.uid, env.user.gid);
    let sock = dir.join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    chown(&sock, env.user.uid, env.user.gid);
    let fd = listener.as_raw_fd();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "LISTEN_PID=$$ LISTEN_FDS=1 exec {} system service --time 0",
            hutch_bin().display()
        ))
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("XDG_RUNTIME_DIR", env.xdg_runtime_dir.as_ref().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    as_user(&mut cmd, &env.user);
    // SAFETY: dup2 only, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself keeps FD_CLOEXEC: clear it instead.
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let _svc = Service(cmd.spawn().expect("start activated service"));
    drop(listener);
    assert_eq!(curl(&env, &sock, "GET", "/_ping"), (200, "OK".into()));
    // It served systemd's socket, not one of its own.
    assert!(!env.run_dir().join("hutch.sock").exists());
}
