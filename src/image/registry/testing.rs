//! A real registry for tests: Debian's `docker-registry` (the CNCF
//! distribution server) on a free 127.0.0.1 port, storing into a temporary
//! directory, optionally behind htpasswd basic auth. Stopped on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hutch_storage::digest::Digest;

use super::{Credentials, Endpoint};

const PROGRAM: &str = "/usr/bin/docker-registry";

pub(crate) struct TestRegistry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl TestRegistry {
    /// Starts a registry, or returns `None` (after saying so) where
    /// `docker-registry` is not installed. With `auth`, every request needs
    /// that username and password.
    pub fn start(auth: Option<&Credentials>) -> Option<TestRegistry> {
        TestRegistry::launch(auth, false)
    }

    /// Starts a registry serving HTTPS with a self-signed certificate for
    /// 127.0.0.1, or returns `None` where `docker-registry` or `openssl` is
    /// missing.
    pub fn start_tls() -> Option<TestRegistry> {
        if !Path::new("/usr/bin/openssl").exists() {
            println!("skipped: openssl not installed");
            return None;
        }
        TestRegistry::launch(None, true)
    }

    fn launch(auth: Option<&Credentials>, tls: bool) -> Option<TestRegistry> {
        if !Path::new(PROGRAM).exists() {
            println!("skipped: docker-registry not installed");
            return None;
        }
        let mut dir = tempfile::tempdir().expect("creating the registry's directory");
        let mut tls_config = String::new();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n",
            dir.path().join("storage").display()
        );
        if let Some(creds) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", &creds.username, &creds.password])
                .output()
                .expect("running htpasswd (apache2-utils)");
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).unwrap();
            config += &format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                file.display()
            );
        }
        if tls {
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            let status = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=127.0.0.1",
                ])
                .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
                .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("running openssl");
            assert!(status.success(), "openssl could not make a certificate");
            tls_config = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
        }
        // Another process may take the port between our probe and the
        // registry's bind; then the registry exits and we try another.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config_path = dir.path().join("config.yml");
            std::fs::write(
                &config_path,
                format!("{config}http:\n  addr: 127.0.0.1:{port}\n{tls_config}"),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new(PROGRAM)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("starting docker-registry");
            let mut registry = TestRegistry { child, dir, port };
            if registry.wait_until_up() {
                return Some(registry);
            }
            last_log = std::fs::read_to_string(registry.dir.path().join("registry.log"))
                .unwrap_or_default();
            let _ = registry.child.kill();
            let _ = registry.child.wait();
            // Take the directory back out of the failed attempt.
            dir = std::mem::replace(&mut registry.dir, tempfile::tempdir().unwrap());
        }
        panic!("docker-registry did not come up:\n{last_log}");
    }

    /// Polls `GET /v2/` until the registry answers, it exits, or ten
    /// seconds pass.
    fn wait_until_up(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if answers_v2(self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            registry: format!("127.0.0.1:{}", self.port),
            insecure: true,
        }
    }

    /// The file in which the registry keeps a blob's bytes.
    pub fn blob_data(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("finding a free port")
}

/// Whether an HTTP request to `/v2/` gets any HTTP answer (401 included).
fn answers_v2(port: u16) -> bool {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    if conn
        .write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}
