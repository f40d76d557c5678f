//! The health check timer: while the container runs, a thread runs
//! hutch's `healthcheck run ID` one interval after the previous check
//! ended (Podman's systemd timer does the same with `OnUnitInactiveSec`),
//! so that checks need no systemd. hutch does the check itself (exec,
//! log, status, `--health-on-failure`); the monitor only keeps time.

use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::launch::HealthLaunch;

/// Running until [`HealthTimer::stop`] (or dropped).
pub struct HealthTimer {
    stop: Option<Sender<()>>,
}

impl HealthTimer {
    /// Starts the thread; `warn` reports a check that could not be run,
    /// `on_pass` runs once, after the first check that passed (exit 0).
    pub fn start(
        h: &HealthLaunch,
        warn: fn(&str),
        mut on_pass: Option<Box<dyn FnOnce() + Send>>,
    ) -> HealthTimer {
        let (tx, rx) = mpsc::channel::<()>();
        let interval = Duration::from_nanos(h.interval_ns.max(1));
        let command = h.command.clone();
        let spawned = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || {
                let Some((exe, args)) = command.split_first() else {
                    return;
                };
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                    // Its stderr is the monitor's (monitor.log): a check
                    // that could not run says why there. Not killed with
                    // the monitor: a `--health-on-failure restart` it runs
                    // outlives this monitor.
                    let status = Command::new(exe)
                        .args(args)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .status();
                    match status {
                        Ok(s) if s.success() => {
                            if let Some(f) = on_pass.take() {
                                f();
                            }
                        }
                        Ok(_) => {}
                        Err(e) => warn(&format!("running the health check {exe}: {e}")),
                    }
                }
            });
        if let Err(e) = spawned {
            warn(&format!("starting the health check timer: {e}"));
        }
        HealthTimer { stop: Some(tx) }
    }

    /// No check starts after this; one that runs now is not waited for
    /// (it may be the one stopping this container).
    pub fn stop(&mut self) {
        self.stop.take();
    }
}

/// `sd_notify(3)`: `MAINPID` and `READY=1` to `socket` (a path, or `@` and
/// an abstract name), as conmon does for `--sdnotify=conmon`.
pub fn notify_ready(socket: &str, main_pid: u32) -> std::io::Result<()> {
    notify(socket, &format!("MAINPID={main_pid}\nREADY=1\n"))
}

/// One `sd_notify(3)` message to `socket` (a path, or `@` and an abstract
/// name).
pub fn notify(socket: &str, msg: &str) -> std::io::Result<()> {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let sock = UnixDatagram::unbound()?;
    match socket.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt as _;
            let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
            sock.send_to_addr(msg.as_bytes(), &addr)?;
        }
        None => {
            sock.send_to(msg.as_bytes(), socket)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reaches_the_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let server = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
        notify_ready(&path.to_string_lossy(), 42).expect("sent");
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).expect("received");
        assert_eq!(&buf[..n], b"MAINPID=42\nREADY=1\n");
    }

    #[test]
    fn runs_each_interval_until_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marks = dir.path().join("marks");
        let h = HealthLaunch {
            interval_ns: 20_000_000,
            command: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("echo x >> {}", marks.display()),
            ],
        };
        let (passed_tx, passed_rx) = mpsc::channel();
        let on_pass: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = passed_tx.send(());
        });
        let mut t = HealthTimer::start(&h, |m| panic!("{m}"), Some(on_pass));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let count = || {
            std::fs::read_to_string(&marks)
                .map(|s| s.lines().count())
                .unwrap_or(0)
        };
        while count() < 2 {
            assert!(std::time::Instant::now() < deadline, "no checks ran");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            passed_rx.try_recv().is_ok(),
            "the first passing check was reported"
        );
        t.stop();
        // At most the check that was running when stopped ends after.
        std::thread::sleep(Duration::from_millis(200));
        let after = count();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(count(), after, "checks ran after the stop");
    }
}
