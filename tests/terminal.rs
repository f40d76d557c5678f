//! Terminals, stdin, attach and exec, driven the way a user drives them:
//! `run -it` and `attach` through a real pseudo-terminal opened here, piped
//! stdin for `run -i`, and `exec` into running containers.

mod common;

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::images::*;
use common::*;

fn env_with_busybox() -> TestEnv {
    busybox_env(&[])
}

/// A pseudo-terminal: the test holds the master, the command gets the
/// slave as its controlling terminal and stdio.
struct Pty {
    master: OwnedFd,
    seen: String,
}

impl Pty {
    fn spawn(mut cmd: Command) -> (Pty, Child) {
        let (mut m, mut s) = (-1, -1);
        let mut size = libc::winsize {
            ws_row: 30,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty fills two fds; the other pointers may be null.
        let r = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: fresh fds from openpty, owned here.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        // SAFETY: fcntl on our own fd.
        unsafe {
            let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
            libc::ioctl(s, libc::TIOCSWINSZ, &mut size);
        }
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start hutch on a pty");
        (
            Pty {
                master,
                seen: String::new(),
            },
            child,
        )
    }

    fn write(&self, data: &[u8]) {
        let mut f = std::fs::File::from(self.master.try_clone().unwrap());
        f.write_all(data).expect("write to the pty");
    }

    /// Reads until `needle` appeared (after what earlier calls consumed);
    /// panics with everything seen at the deadline.
    fn read_until(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(pos) = self.seen.find(needle) {
                self.seen.drain(..pos + needle.len());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared; the terminal showed {:?}",
                self.seen
            );
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; read into our buffer.
            let n = unsafe {
                libc::poll(&mut pfd, 1, 100);
                libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
            };
            if n > 0 {
                self.seen
                    .push_str(&String::from_utf8_lossy(&buf[..n as usize]));
            }
        }
    }
}

/// Waits for `child` with a deadline; its exit code.
fn wait_child(child: &mut Child, limit: Duration) -> Option<i32> {
    let mut code = None;
    let done = wait_until(limit, || match child.try_wait() {
        Ok(Some(st)) => {
            code = st.code();
            true
        }
        _ => false,
    });
    if !done {
        let _ = child.kill();
        panic!("hutch did not exit in time");
    }
    code
}

/// The state's word ("running", "exited"), from `ps`'s State text
/// ("Up 2 seconds ago", "Exited (0) 1 second ago", as Podman's).
fn state_of(env: &TestEnv, name: &str) -> String {
    let text = env
        .ok(["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_owned))
        .unwrap_or_default();
    if text.starts_with("Up ") {
        "running".to_owned()
    } else if text.starts_with("Exited (") {
        "exited".to_owned()
    } else {
        text.to_lowercase()
    }
}

#[test]
fn run_it_on_a_real_terminal() {
    let env = env_with_busybox();
    let (mut pty, mut child) = Pty::spawn(env.hutch(["run", "-it", "--rm", "busybox", "sh"]));
    pty.read_until("# ", Duration::from_secs(30));
    pty.write(b"busybox tty; busybox stty size\n");
    pty.read_until("/dev/pts/", Duration::from_secs(10));
    // The outer terminal's size reached the container's.
    pty.read_until("30 100", Duration::from_secs(10));
    pty.write(b"echo hi-$((1+1))\n");
    pty.read_until("hi-2", Duration::from_secs(10));
    pty.write(b"exit 7\n");
    assert_eq!(wait_child(&mut child, Duration::from_secs(20)), Some(7));
    assert!(
        env.ok(["ps", "-a", "-q"]).trim().is_empty(),
        "--rm removed it"
    );
}

#[test]
fn run_i_passes_piped_stdin() {
    let env = env_with_busybox();
    let mut cmd = env.hutch(["run", "-i", "--rm", "busybox", "cat"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start hutch");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"data\nmore data\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "data\nmore data\n");
    // Without -i the container's stdin is empty, as Podman's.
    let mut cmd = env.hutch(["run", "--rm", "busybox", "cat"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let _ = child.stdin.take().unwrap().write_all(b"ignored\n");
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "");
}

#[test]
fn attach_and_detach_with_ctrl_p_ctrl_q() {
    let env = env_with_busybox();
    env.ok(["run", "-dit", "--name", "shell", "busybox", "sh"]);
    let (mut pty, mut child) = Pty::spawn(env.hutch(["attach", "shell"]));
    pty.write(b"echo at-$((2+3))\n");
    pty.read_until("at-5", Duration::from_secs(20));
    pty.write(b"\x10\x11");
    assert_eq!(wait_child(&mut child, Duration::from_secs(10)), Some(0));
    assert_eq!(
        state_of(&env, "shell"),
        "running",
        "detaching left it running"
    );
    // Attached again, the shell still answers; its exit is attach's code.
    let (mut pty, mut child) = Pty::spawn(env.hutch(["attach", "shell"]));
    pty.write(b"echo again-$((3+4))\n");
    pty.read_until("again-7", Duration::from_secs(20));
    pty.write(b"exit 5\n");
    assert_eq!(wait_child(&mut child, Duration::from_secs(20)), Some(5));
    let out = env.run(["attach", "shell"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let out = env.run(["run", "--detach-keys", "ctrl-1", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn exec_in_a_running_container() {
    let env = env_with_busybox();
    env.ok(["run", "-d", "--name", "box", "busybox", "sleep", "300"]);
    assert_eq!(env.ok(["exec", "box", "echo", "hello"]), "hello\n");
    let code = |args: &[&str]| {
        let out = env.run(args);
        (out.status.code(), stderr(&out))
    };
    assert_eq!(code(&["exec", "box", "sh", "-c", "exit 3"]).0, Some(3));
    let (c, err) = code(&["exec", "box", "/etc"]);
    assert_eq!(c, Some(126), "{err}");
    let (c, err) = code(&["exec", "box", "no-such-command"]);
    assert_eq!(c, Some(127), "{err}");
    assert!(err.contains("no-such-command"), "{err}");
    let out = env.run(["exec", "box", "sh", "-c", "echo to-err >&2"]);
    assert_eq!(stderr(&out), "to-err\n");
    assert_eq!(
        env.ok(["exec", "-e", "FOO=bar", "box", "sh", "-c", "echo $FOO"]),
        "bar\n"
    );
    let id = env.ok([
        "exec", "-u", "1000", "-w", "/tmp", "box", "sh", "-c", "id; pwd",
    ]);
    assert!(id.starts_with("uid=1000 gid=0"), "{id}");
    assert!(id.ends_with("/tmp\n"), "{id}");
    // -i passes stdin through.
    let mut cmd = env.hutch(["exec", "-i", "box", "cat"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"piped\n").unwrap();
    assert_eq!(stdout(&child.wait_with_output().unwrap()), "piped\n");
    // -d returns the session id and leaves the process running.
    let session = env.ok([
        "exec",
        "-d",
        "box",
        "sh",
        "-c",
        "sleep 0.2; touch /tmp/done",
    ]);
    assert_eq!(session.trim().len(), 64, "{session}");
    assert!(wait_until(Duration::from_secs(10), || env
        .run(["exec", "box", "sh", "-c", "test -f /tmp/done"])
        .status
        .success()));
    // -it on a real terminal.
    let (mut pty, mut child) = Pty::spawn(env.hutch(["exec", "-it", "box", "sh"]));
    pty.read_until("# ", Duration::from_secs(20));
    pty.write(b"busybox tty; exit 4\n");
    pty.read_until("/dev/pts/", Duration::from_secs(10));
    assert_eq!(wait_child(&mut child, Duration::from_secs(20)), Some(4));
    env.ok(["rm", "-f", "box"]);
}

#[test]
fn exec_needs_a_running_container_and_start_attaches() {
    let env = env_with_busybox();
    assert_eq!(
        env.ok(["run", "--name", "done", "busybox", "echo", "once"]),
        "once\n"
    );
    let out = env.run(["exec", "done", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("running"), "{}", stderr(&out));
    // An exited container runs again in the foreground with start -a.
    assert_eq!(env.ok(["start", "-a", "done"]), "once\n");
    assert_eq!(state_of(&env, "done"), "exited");
}

#[test]
fn sig_proxy_forwards_signals_to_the_container() {
    let env = env_with_busybox();
    let mut cmd = env.hutch([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    // SAFETY: signalling the hutch process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait_child(&mut child, Duration::from_secs(20)), Some(9));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
}
