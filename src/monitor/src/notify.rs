//! `--sdnotify=container`: the container's own notify socket. The monitor
//! binds it (in a directory bound at /run/notify in the container) before
//! the runtime runs, and passes each message on to the caller's
//! `NOTIFY_SOCKET` with `MAINPID` set to the container's process as the
//! host sees it (the container's own pid is its namespace's), as crun
//! does for Podman.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// The longest message passed on (systemd's own buffer, `PIPE_BUF`);
/// longer ones are dropped with a warning. Descriptors sent along
/// (`FDSTORE=1`) are not passed on: the kernel closes them.
pub const MAX_MESSAGE: usize = 4096;

/// Binds the socket at `path`, writable by every user of the container
/// (its processes may run as any uid; the directory above it in the
/// runtime dir is the user's alone on the host).
pub fn bind(path: &Path) -> std::io::Result<UnixDatagram> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    let _ = std::fs::remove_file(path);
    let sock = UnixDatagram::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))?;
    Ok(sock)
}

/// What is passed on for one message of the container: its lines but a
/// `MAINPID` of its own, after `MAINPID=main_pid`; `None` for a message
/// with nothing else in it.
pub fn proxied(raw: &[u8], main_pid: i32) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|l| !l.is_empty() && !l.starts_with("MAINPID="))
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(format!("MAINPID={main_pid}\n{}\n", lines.join("\n")))
}

/// Passes the container's messages on to `to` until the monitor exits.
pub fn start_proxy(sock: UnixDatagram, to: String, main_pid: i32, warn: fn(&str)) {
    let spawned = std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || {
            let mut buf = vec![0u8; MAX_MESSAGE + 1];
            while let Ok(n) = sock.recv(&mut buf) {
                if n > MAX_MESSAGE {
                    warn("--sdnotify=container: a message longer than 4096 bytes was dropped");
                    continue;
                }
                if let Some(msg) = proxied(&buf[..n], main_pid)
                    && let Err(e) = crate::health::notify(&to, &msg)
                {
                    warn(&format!("--sdnotify=container: telling {to}: {e}"));
                }
            }
        });
    if let Err(e) = spawned {
        warn(&format!("--sdnotify=container: starting the proxy: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_get_the_containers_host_pid() {
        assert_eq!(
            proxied(b"READY=1\nSTATUS=up\n", 42).as_deref(),
            Some("MAINPID=42\nREADY=1\nSTATUS=up\n")
        );
        // The container's own idea of its pid is its namespace's.
        assert_eq!(
            proxied(b"MAINPID=1\nREADY=1", 42).as_deref(),
            Some("MAINPID=42\nREADY=1\n")
        );
        assert_eq!(proxied(b"MAINPID=7\n", 42), None);
        assert_eq!(proxied(b"", 42), None);
    }

    #[test]
    fn the_proxy_passes_messages_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("systemd");
        let systemd = UnixDatagram::bind(&target).expect("bind");
        systemd
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let inner = dir.path().join("n/notify.sock");
        let sock = bind(&inner).expect("bound");
        start_proxy(sock, target.display().to_string(), 42, |m| panic!("{m}"));
        let container = UnixDatagram::unbound().expect("socket");
        container
            .send_to(b"READY=1\nSTATUS=serving", &inner)
            .expect("sent");
        let mut buf = [0u8; 128];
        let n = systemd.recv(&mut buf).expect("passed on");
        assert_eq!(&buf[..n], b"MAINPID=42\nREADY=1\nSTATUS=serving\n");
    }
}
