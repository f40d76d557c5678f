//! Multi-user isolation on one host (issue 16, item 8): two users'
//! containers with the same name, published ports, logs, network
//! namespaces and REST sockets never cross, and a third user can read
//! neither's state, even where homes and runtime directories are 0755 (as
//! many distributions make homes): hutch's own directories are 0700.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::api::{curl, serve_default};
use common::images::{busybox_rootfs, gzip, write_readable};
use common::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The body of `GET /` on 127.0.0.1:`port`, once something answers.
fn http_get(port: u16) -> Option<String> {
    let mut body = None;
    wait_until(Duration::from_secs(20), || {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        if s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut text = String::new();
        if s.read_to_string(&mut text).is_err() || !text.contains("200") {
            return false;
        }
        body = Some(text);
        true
    });
    body
}

/// Runs `program args` as `user`; the output.
fn as_other(user: &TestUser, program: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(program);
    cmd.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    as_user(&mut cmd, user);
    cmd.output().expect("start a command as another user")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").mode() & 0o777
}

struct Side {
    env: TestEnv,
    port: u16,
    id: String,
    pid: i32,
}

fn start_side(user: TestUser) -> Side {
    let env = TestEnv::new(user);
    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    env.ok(["import", tar.to_str().unwrap(), "busybox"]);
    let port = free_port();
    let name = env.user.name.clone();
    let script = format!(
        "echo log-{name}; mkdir /www && echo page-{name} > /www/index.html && exec busybox httpd -f -p 8080 -h /www"
    );
    let id = env
        .ok([
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            &format!("127.0.0.1:{port}:8080"),
            "busybox",
            "sh",
            "-c",
            &script,
        ])
        .trim()
        .to_owned();
    let pid = env
        .ok(["inspect", "--format", "{{.State.Pid}}", "web"])
        .trim()
        .parse()
        .expect("a pid");
    Side { env, port, id, pid }
}

#[test]
fn two_users_never_cross_and_a_third_reads_neither() {
    if !is_root() {
        eprintln!("skipped: needs root to run hutch as three users");
        return;
    }
    let (Some(second), Some(third)) = (
        TestUser::named("hutch-migrate"),
        TestUser::named(NOSUB_USER),
    ) else {
        return;
    };
    let sides = [start_side(TestUser::default_user()), start_side(second)];
    let [a, b] = &sides;

    // Published ports: each user's port reaches that user's container.
    for s in &sides {
        let page = http_get(s.port).unwrap_or_default();
        assert!(
            page.contains(&format!("page-{}", s.env.user.name)),
            "{}'s port {}: {page}",
            s.env.user.name,
            s.port
        );
    }
    // A port one user holds cannot be taken by the other.
    let out = b.env.run([
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{}:8080", a.port),
        "busybox",
        "sleep",
        "60",
    ]);
    assert!(
        !out.status.success(),
        "{} took {}'s port {}",
        b.env.user.name,
        a.env.user.name,
        a.port
    );
    assert!(http_get(a.port).is_some_and(|p| p.contains(&format!("page-{}", a.env.user.name))));

    // Same name, different containers; neither sees the other's.
    assert_ne!(a.id, b.id);
    for (me, other) in [(a, b), (b, a)] {
        let names = me.env.ok(["ps", "-a", "--format", "{{.ID}} {{.Names}}"]);
        assert!(
            names
                .lines()
                .any(|l| l.starts_with(&me.id[..12]) && l.ends_with("web")),
            "{names}"
        );
        assert!(!names.contains(&other.id[..12]), "{names}");
        let out = me.env.run(["inspect", &other.id]);
        assert!(
            !out.status.success(),
            "{} sees {}",
            me.env.user.name,
            other.id
        );
        let logs = me.env.ok(["logs", "web"]);
        assert!(
            logs.contains(&format!("log-{}", me.env.user.name)),
            "{logs}"
        );
        assert!(
            !logs.contains(&format!("log-{}", other.env.user.name)),
            "{logs}"
        );
    }

    // Network namespaces: one each, neither the host's.
    let netns = |pid: i32| fs::read_link(format!("/proc/{pid}/ns/net")).expect("netns link");
    assert_ne!(netns(a.pid), netns(b.pid));
    assert_ne!(netns(a.pid), netns(std::process::id() as i32));
    assert_ne!(netns(b.pid), netns(std::process::id() as i32));

    // REST sockets: each service answers its own user only.
    let (_svc_a, sock_a) = serve_default(&a.env);
    let (_svc_b, sock_b) = serve_default(&b.env);
    let (code, body) = curl(&a.env, &sock_a, "GET", "/containers/json?all=true");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(&a.id) && !body.contains(&b.id), "{body}");
    let (code, body) = curl(&b.env, &sock_b, "GET", "/containers/json?all=true");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(&b.id) && !body.contains(&a.id), "{body}");

    let intruder_env = TestEnv::new(third.clone());
    // Homes and runtime directories opened up (0755), as on many hosts:
    // hutch's own directories still keep the others out.
    for s in &sides {
        for d in [s.env.home.clone(), s.env.xdg_runtime_dir.clone().unwrap()] {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    for (me, other) in [(a, b), (b, a)] {
        let data = me.env.home.join(".local/share/hutch");
        let run = me.env.run_dir();
        for dir in [&data, &data.join("storage"), &run] {
            let meta = fs::metadata(dir).expect("a hutch directory");
            assert_eq!(meta.uid(), me.env.user.uid, "{}", dir.display());
            assert_eq!(mode(dir), 0o700, "{} is private", dir.display());
        }
        let log = PathBuf::from(
            me.env
                .ok(["inspect", "--format", "{{.LogPath}}", "web"])
                .trim(),
        );
        let sock = me.env.run_dir().join("hutch.sock");
        // The other user and the third, who has no subordinate ids.
        for intruder in [&other.env.user, &third] {
            for (program, args) in [
                ("ls", vec![data.to_str().unwrap()]),
                ("ls", vec![run.to_str().unwrap()]),
                ("cat", vec![log.to_str().unwrap()]),
                // What connect(2) resolves first: curl itself says only
                // "Couldn't connect" (checked below).
                ("stat", vec![sock.to_str().unwrap()]),
            ] {
                let out = as_other(intruder, program, &args);
                assert!(
                    !out.status.success() && stderr(&out).contains("ermission denied"),
                    "{} ran {program} {args:?} on {}'s state: {}{}",
                    intruder.name,
                    me.env.user.name,
                    stdout(&out),
                    stderr(&out)
                );
            }
        }
        for intruder in [&other.env.user, &third] {
            let out = as_other(
                intruder,
                "curl",
                &[
                    "-sS",
                    "--unix-socket",
                    sock.to_str().unwrap(),
                    "http://d/containers/json",
                ],
            );
            assert!(!out.status.success(), "{}", stdout(&out));
            assert!(!stdout(&out).contains(&me.id), "{}", stdout(&out));
        }
        // hutch itself, pointed at another user's store, refuses too.
        let out = intruder_env.run(["--root", data.join("storage").to_str().unwrap(), "images"]);
        assert!(!out.status.success(), "{}", stdout(&out));
        assert!(!stdout(&out).contains("busybox"), "{}", stdout(&out));
    }
    for s in &sides {
        s.env.ok(["rm", "-f", "-t", "0", "web"]);
    }
}
