//! Driving `hutch system service` from tests: the service as the test user,
//! curl and the real docker CLI against its unix socket.
#![allow(dead_code)]

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::{TestEnv, as_user, stdout, wait_until};

/// A running service, killed when dropped.
pub struct Service(pub Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start(env: &TestEnv, args: &[&str]) -> Service {
    let mut cmd = env.hutch(["system", "service"].iter().chain(args));
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    Service(cmd.spawn().expect("start hutch system service"))
}

pub fn wait_socket(path: &Path) {
    assert!(
        wait_until(Duration::from_secs(20), || {
            std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
                && std::os::unix::net::UnixStream::connect(path).is_ok()
        }),
        "no service on {}",
        path.display()
    );
}

/// The service on the default socket, ready: (service, socket).
pub fn serve_default(env: &TestEnv) -> (Service, PathBuf) {
    let sock = env.run_dir().join("hutch.sock");
    let svc = start(env, &["--time", "0"]);
    wait_socket(&sock);
    (svc, sock)
}

/// curl as the test user: (status code, body).
pub fn curl(env: &TestEnv, sock: &Path, method: &str, path: &str) -> (u16, String) {
    curl_with(env, sock, method, path, None)
}

/// curl with an optional JSON body.
pub fn curl_with(
    env: &TestEnv,
    sock: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let mut cmd = curl_cmd(env, sock, method, path, body);
    let out = cmd.output().expect("run curl");
    split_code(&stdout(&out))
}

pub fn curl_cmd(
    env: &TestEnv,
    sock: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Command {
    let mut cmd = Command::new("curl");
    // `-X HEAD` would wait for the body Content-Length announces.
    let verb: &[&str] = if method == "HEAD" {
        &["-I"]
    } else {
        &["-X", method]
    };
    cmd.args(["-s", "--max-time", "30"])
        .args(verb)
        .args(["-w", "\n%{http_code}", "--unix-socket"])
        .arg(sock);
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    cmd.arg(format!("http://d{path}"));
    as_user(&mut cmd, &env.user);
    cmd
}

/// Splits curl's `-w "\n%{http_code}"` output.
pub fn split_code(text: &str) -> (u16, String) {
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

pub fn docker_cli() -> bool {
    Command::new("docker")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The docker CLI as the test user, pointed at `sock` (no dockerd).
pub fn docker(env: &TestEnv, sock: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("docker");
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()));
    as_user(&mut cmd, &env.user);
    cmd.output().expect("run docker")
}
