//! Debian's `docker-registry` on a free 127.0.0.1 port for the tests that
//! pull and push, optionally behind htpasswd basic auth. Stopped on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_until;

const PROGRAM: &str = "/usr/bin/docker-registry";

pub struct Registry {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl Registry {
    /// `None` (after saying so) where docker-registry is not installed.
    pub fn start(dir: &Path, auth: Option<(&str, &str)>) -> Option<Registry> {
        if !Path::new(PROGRAM).exists() {
            eprintln!("skipped: docker-registry not installed");
            return None;
        }
        std::fs::create_dir_all(dir).expect("registry dir");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n",
            dir.join("storage").display()
        );
        if let Some((user, pass)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd (apache2-utils)");
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.join("htpasswd");
            std::fs::write(&file, &out.stdout).expect("htpasswd file");
            config += &format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                file.display()
            );
        }
        for _ in 0..5 {
            let port = free_port();
            let path = dir.join("config.yml");
            std::fs::write(&path, format!("{config}http:\n  addr: 127.0.0.1:{port}\n"))
                .expect("registry config");
            let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
            let child = Command::new(PROGRAM)
                .arg("serve")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start docker-registry");
            let mut reg = Registry {
                child,
                dir: dir.to_owned(),
                port,
            };
            let up = wait_until(Duration::from_secs(10), || {
                matches!(reg.child.try_wait(), Ok(Some(_))) || answers(port)
            });
            if up && matches!(reg.child.try_wait(), Ok(None)) {
                return Some(reg);
            }
            let _ = reg.child.kill();
            let _ = reg.child.wait();
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_path(&self, digest_hex: &str) -> PathBuf {
        self.dir
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&digest_hex[..2])
            .join(digest_hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Any HTTP answer to `GET /v2/` (200, or 401 behind auth) means it is up.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
}
