//! The systemd side without systemd (this CI host has none): `generate
//! systemd` units and the commands they run, as a unit would run them;
//! `--sdnotify` telling a NOTIFY_SOCKET (the monitor's, the container's
//! own, the first passing health check) that the container runs and stops;
//! socket activation and `--preserve-fds` into a container; systemd mode.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::images::*;
use common::units::{split_command, unit_value};
use common::*;

fn inspect(env: &TestEnv, name: &str, format: &str) -> String {
    env.ok(["inspect", "--format", format, name])
        .trim()
        .to_owned()
}

/// A datagram socket the test user may send to, as systemd's.
fn notify_socket(env: &TestEnv) -> (UnixDatagram, String) {
    let path = env.root.join("notify");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    chown(&path, env.user.uid, env.user.gid);
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    (sock, path.to_string_lossy().into_owned())
}

/// The next message on the socket, within `secs`.
fn next_message(sock: &UnixDatagram, secs: u64) -> Option<String> {
    sock.set_read_timeout(Some(Duration::from_secs(secs)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn sdnotify_conmon_tells_the_socket_once_the_container_runs() {
    let mut env = busybox_env(&[]);
    let (sock, path) = notify_socket(&env);
    env.vars.push(("NOTIFY_SOCKET".into(), path));
    env.ok([
        "run",
        "-d",
        "--name",
        "n",
        "--sdnotify=conmon",
        "busybox",
        "sleep",
        "1000",
    ]);
    let msg = next_message(&sock, 20).expect("READY=1 within 20 s");
    let monitor = inspect(&env, "n", "{{.State.ConmonPid}}");
    assert_eq!(msg, format!("MAINPID={monitor}\nREADY=1\n"));
    assert_eq!(inspect(&env, "n", "{{.State.Status}}"), "running");
    // `ignore` leaves the socket alone, at the start and at the stop.
    env.ok([
        "run",
        "-d",
        "--name",
        "quiet",
        "--sdnotify=ignore",
        "busybox",
        "sleep",
        "1000",
    ]);
    env.ok(["kill", "quiet"]);
    assert_eq!(next_message(&sock, 1), None, "nothing from `ignore`");
    // The stop is told.
    env.ok(["kill", "n"]);
    assert_eq!(next_message(&sock, 20).as_deref(), Some("STOPPING=1\n"));
    let out = env.run(["run", "--rm", "--sdnotify=bogus", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("must be one of container, conmon, healthy, or ignore"),
        "{}",
        stderr(&out)
    );
}

/// A static program that sends its argument to `$NOTIFY_SOCKET` as
/// systemd-notify does, in a directory of its own to bind into containers
/// (busybox has no sd_notify client).
fn notifier(env: &TestEnv) -> std::path::PathBuf {
    let dir = env.root.join("notifier");
    std::fs::create_dir_all(&dir).expect("notifier dir");
    let src = env.root.join("sdnotify.c");
    std::fs::write(
        &src,
        r#"#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
  const char *p = getenv("NOTIFY_SOCKET");
  if (!p || argc < 2) return 2;
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un a = {0};
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, p, sizeof a.sun_path - 1);
  return sendto(s, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a, sizeof a) < 0;
}
"#,
    )
    .expect("write sdnotify.c");
    let st = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.join("sdnotify"))
        .arg(&src)
        .status()
        .expect("a C compiler (gcc, libc6-dev) to build the notifier");
    assert!(st.success(), "compiling the notifier");
    dir
}

#[test]
fn sdnotify_container_passes_the_containers_messages_on() {
    let mut env = busybox_env(&[]);
    let bin = notifier(&env);
    let (sock, path) = notify_socket(&env);
    env.vars.push(("NOTIFY_SOCKET".into(), path));
    let bind = format!("{}:/n:ro", bin.display());
    // Podman's default mode: no flag needed.
    env.ok([
        "run",
        "-d",
        "--name",
        "c",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "test \"$NOTIFY_SOCKET\" = /run/notify/notify.sock || exit 3; \
         /n/sdnotify \"$(printf 'STATUS=warming up\\nMAINPID=1')\" && /n/sdnotify READY=1 && exec sleep 1000",
    ]);
    let pid = inspect(&env, "c", "{{.State.Pid}}");
    // The main process first (the container's, as the host sees it), then
    // what the container said, with that pid instead of its own.
    assert_eq!(
        next_message(&sock, 20).as_deref(),
        Some(format!("MAINPID={pid}\n").as_str())
    );
    assert_eq!(
        next_message(&sock, 20).as_deref(),
        Some(format!("MAINPID={pid}\nSTATUS=warming up\n").as_str())
    );
    assert_eq!(
        next_message(&sock, 20).as_deref(),
        Some(format!("MAINPID={pid}\nREADY=1\n").as_str())
    );
    env.ok(["kill", "c"]);
    assert_eq!(next_message(&sock, 20).as_deref(), Some("STOPPING=1\n"));
    // Any user of the container may send.
    env.ok([
        "run",
        "-d",
        "--sdnotify=container",
        "--user",
        "1000:1000",
        "-v",
        &bind,
        "--name",
        "u",
        "busybox",
        "sh",
        "-c",
        "/n/sdnotify READY=1 && exec sleep 1000",
    ]);
    let pid = inspect(&env, "u", "{{.State.Pid}}");
    assert_eq!(
        next_message(&sock, 20).as_deref(),
        Some(format!("MAINPID={pid}\n").as_str())
    );
    assert_eq!(
        next_message(&sock, 20).as_deref(),
        Some(format!("MAINPID={pid}\nREADY=1\n").as_str())
    );
}

#[test]
fn sdnotify_healthy_is_ready_when_the_check_first_passes() {
    let mut env = busybox_env(&[]);
    let (sock, path) = notify_socket(&env);
    env.vars.push(("NOTIFY_SOCKET".into(), path));
    env.ok([
        "run",
        "-d",
        "--name",
        "h",
        "--sdnotify=healthy",
        "--health-cmd",
        "cat /tmp/ready",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "1000",
    ]);
    let monitor = inspect(&env, "h", "{{.State.ConmonPid}}");
    assert_eq!(
        next_message(&sock, 20).as_deref(),
        Some(format!("MAINPID={monitor}\n").as_str())
    );
    // Failing checks (one a second) say nothing.
    assert_eq!(next_message(&sock, 2), None);
    env.ok(["exec", "h", "touch", "/tmp/ready"]);
    assert_eq!(next_message(&sock, 20).as_deref(), Some("READY=1\n"));
    // Without a check there is nothing to wait for.
    let out = env.run(["run", "--rm", "--sdnotify=healthy", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("needs a health check"),
        "{}",
        stderr(&out)
    );
}

/// `hutch ARGS` started as a systemd socket unit starts its service:
/// `fds` at 3.., `LISTEN_PID` its own pid (unless `listen_pid` says
/// otherwise), `LISTEN_FDS`/`LISTEN_FDNAMES` as given.
fn activated(
    env: &TestEnv,
    fds: &[std::os::fd::RawFd],
    listen: &[(&str, &str)],
    listen_pid: Option<&str>,
    args: &[&str],
) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let pid = listen_pid.unwrap_or("$$");
    let script = format!("LISTEN_PID={pid} exec \"$0\" \"$@\"");
    let hutch = hutch_bin().to_string_lossy().into_owned();
    let mut all = vec!["-c", script.as_str(), hutch.as_str()];
    all.extend(args);
    let mut cmd = env.hutch_at(std::path::Path::new("/bin/sh"), all);
    for (k, v) in listen {
        cmd.env(k, v);
    }
    let fds = fds.to_vec();
    // SAFETY: only fcntl and dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Copies above the targets first: a source may sit at a target.
            let mut high = Vec::new();
            for fd in &fds {
                let h = libc::fcntl(*fd, libc::F_DUPFD, 100);
                if h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(h);
            }
            for (i, h) in high.iter().enumerate() {
                if libc::dup2(*h, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(*h);
            }
            Ok(())
        });
    }
    cmd.output().expect("start hutch under sh")
}

fn inode(fd: &impl std::os::fd::AsRawFd) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .expect("stat the descriptor")
        .ino()
}

#[test]
fn socket_activation_and_preserve_fds_reach_the_container() {
    use std::os::fd::AsRawFd;
    let env = busybox_env(&[]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let show = "echo \"$LISTEN_FDS $LISTEN_PID $LISTEN_FDNAMES\"; readlink /proc/self/fd/3; \
                readlink /proc/self/fd/4 || echo no4";
    let out = activated(
        &env,
        &[listener.as_raw_fd()],
        &[("LISTEN_FDS", "1"), ("LISTEN_FDNAMES", "web")],
        None,
        &["run", "--rm", "busybox", "sh", "-c", show],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let socket = format!("socket:[{}]", inode(&listener));
    assert_eq!(stdout(&out), format!("1 1 web\n{socket}\nno4\n"));

    // Variables a parent left (LISTEN_PID not hutch's): nothing passed.
    let out = activated(
        &env,
        &[listener.as_raw_fd()],
        &[("LISTEN_FDS", "1")],
        Some("1"),
        &["run", "--rm", "busybox", "sh", "-c", show],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("  \n"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("socket:"), "{}", stdout(&out));

    // --preserve-fds: the descriptors as they are, no variables.
    let file = std::fs::File::open("/dev/null").expect("open");
    let out = activated(
        &env,
        &[listener.as_raw_fd(), file.as_raw_fd()],
        &[],
        Some("1"),
        &[
            "run",
            "--rm",
            "--preserve-fds",
            "2",
            "busybox",
            "sh",
            "-c",
            show,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("  \n{socket}\n/dev/null\n"));

    // A detached start of a created container takes them too (a unit's
    // `hutch start`), and the next start without them has neither.
    env.ok(["create", "--name", "later", "busybox", "sh", "-c", show]);
    let out = activated(
        &env,
        &[listener.as_raw_fd()],
        &[("LISTEN_FDS", "1"), ("LISTEN_FDNAMES", "web")],
        None,
        &["start", "-a", "later"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("1 1 web\n{socket}\nno4\n"));
    let again = env.ok(["start", "-a", "later"]);
    assert!(
        again.starts_with("  \n") && !again.contains("socket:"),
        "{again}"
    );

    // Asking for descriptors that were not passed: Podman's error.
    let out = env.run(["run", "--rm", "--preserve-fds", "1", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("file descriptor 3 is not available"),
        "{}",
        stderr(&out)
    );
}

/// The mount of `/proc/mounts` at `dest`: (type, options).
fn mount_at(mounts: &str, dest: &str) -> Option<(String, String)> {
    mounts.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&dest)).then(|| (f[2].to_owned(), f[3].to_owned()))
    })
}

#[test]
fn systemd_mode_gives_an_init_what_it_needs() {
    let env = busybox_env(&[]);
    let out = env.ok([
        "run",
        "--rm",
        "--systemd=always",
        "busybox",
        "sh",
        "-c",
        "cat /proc/mounts; echo container=$container; touch /run/x /run/lock/x /var/log/journal/x",
    ]);
    for dest in ["/run", "/run/lock", "/tmp", "/var/log/journal"] {
        let (typ, opts) = mount_at(&out, dest).unwrap_or_else(|| panic!("{dest} in\n{out}"));
        assert_eq!(typ, "tmpfs", "{dest}");
        assert!(opts.starts_with("rw,"), "{dest}: {opts}");
    }
    // The cgroup file system is writable where the host allows: systemd's
    // named hierarchy on a v1 host, the container's own cgroup2 on v2.
    let v2 = mount_at(&out, "/sys/fs/cgroup").is_some_and(|(t, _)| t == "cgroup2");
    let cgroup = if v2 {
        mount_at(&out, "/sys/fs/cgroup")
    } else {
        mount_at(&out, "/sys/fs/cgroup/systemd")
    };
    let (_, opts) = cgroup.unwrap_or_else(|| panic!("a cgroup mount for systemd in\n{out}"));
    assert!(opts.starts_with("rw"), "{opts}");
    assert!(out.contains("container=podman\n"), "{out}");

    // `true` (the default): for an init only; SIGRTMIN+3 stops it unless
    // a stop signal was given.
    env.ok(["create", "--name", "init", "busybox", "/sbin/init"]);
    env.ok(["create", "--name", "plain", "busybox", "sleep", "1"]);
    env.ok([
        "create",
        "--name",
        "off",
        "--systemd=false",
        "busybox",
        "/usr/lib/systemd/systemd",
    ]);
    env.ok([
        "create",
        "--name",
        "sig",
        "--stop-signal",
        "SIGINT",
        "busybox",
        "/usr/lib/systemd/systemd",
    ]);
    let rtmin3 = (libc::SIGRTMIN() + 3).to_string();
    for (name, mode, signal) in [
        ("init", "true", rtmin3.as_str()),
        ("plain", "false", "15"),
        ("off", "false", "15"),
        ("sig", "true", "2"),
    ] {
        assert_eq!(
            inspect(&env, name, "{{.Config.SystemdMode}} {{.Config.StopSignal}}"),
            format!("{mode} {signal}"),
            "{name}"
        );
    }
    let mounts = env.ok(["run", "--rm", "busybox", "cat", "/proc/mounts"]);
    assert_ne!(
        mount_at(&mounts, "/run/lock").map(|m| m.0).as_deref(),
        Some("tmpfs"),
        "no systemd mode for a plain command"
    );
    let out = env.run(["run", "--rm", "--systemd=bogus", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn generate_systemd_units_whose_commands_work() {
    let env = busybox_env(&[]);
    env.ok([
        "run",
        "-d",
        "--name",
        "web",
        "--health-cmd",
        "[\"true\"]",
        "--health-interval",
        "disable",
        "-e",
        "GREETING=hi there",
        "busybox",
        "sh",
        "-c",
        "echo $GREETING; sleep 1000",
    ]);
    let id = inspect(&env, "web", "{{.Id}}");
    // An existing container: start/stop by name, PIDFile the monitor's.
    let unit = env.ok(["generate", "systemd", "--name", "--no-header", "web"]);
    assert!(
        unit.starts_with("# container-web.service\n\n[Unit]\n"),
        "{unit}"
    );
    assert_eq!(unit_value(&unit, "Type").as_deref(), Some("forking"));
    assert_eq!(unit_value(&unit, "TimeoutStopSec").as_deref(), Some("70"));
    let pid_file = unit_value(&unit, "PIDFile").expect("PIDFile");
    let pid = std::fs::read_to_string(&pid_file).expect("the monitor's pid file");
    assert_eq!(pid.trim(), inspect(&env, "web", "{{.State.ConmonPid}}"));
    let start = unit_value(&unit, "ExecStart").expect("ExecStart");
    assert!(start.ends_with(" start web"), "{start}");

    // --new: the create command replayed as the unit runs it.
    let unit = env.ok(["generate", "systemd", "--new", "--name", "-t", "2", "web"]);
    assert_eq!(unit_value(&unit, "Type").as_deref(), Some("notify"));
    assert_eq!(unit_value(&unit, "TimeoutStopSec").as_deref(), Some("62"));
    let rundir = env.root.join("unit-run");
    std::fs::create_dir_all(&rundir).expect("run dir");
    chown(&rundir, env.user.uid, env.user.gid);
    let t = rundir.to_string_lossy().into_owned();
    let n = "container-web.service";
    let exec = |key: &str| {
        let words = split_command(&unit_value(&unit, key).expect(key), &t, n);
        // The unit's hutch is this test's binary: its arguments are what
        // matters.
        assert!(words[0].ends_with("/hutch"), "{words:?}");
        words[1..].to_vec()
    };
    let run = exec("ExecStart");
    assert!(
        run.windows(2).any(|w| w == ["-e", "GREETING=hi there"]),
        "{run:?}"
    );
    assert!(
        run.ends_with(&[
            "busybox".into(),
            "sh".into(),
            "-c".into(),
            "echo $GREETING; sleep 1000".into()
        ]),
        "{run:?}"
    );
    // The unit replaces the container it was generated from (--replace).
    env.ok(&run);
    let new_id = inspect(&env, "web", "{{.Id}}");
    assert_ne!(new_id, id, "a new container");
    let cid = std::fs::read_to_string(rundir.join(format!("{n}.ctr-id"))).expect("cidfile");
    assert_eq!(cid.trim(), new_id);
    assert!(wait_until(Duration::from_secs(20), || {
        env.ok(["logs", "web"]).contains("hi there")
    }));
    env.ok(&exec("ExecStop"));
    env.ok(&exec("ExecStopPost"));
    assert!(
        env.ok(["ps", "-a", "-q"]).trim().is_empty(),
        "ExecStopPost removed it"
    );
    // Stopping twice (ExecStop, then ExecStopPost after a crash) is fine.
    env.ok(&exec("ExecStopPost"));

    // --files writes NAME.service in the working directory; json maps
    // names to units.
    env.ok(["run", "-d", "--name", "db", "busybox", "sleep", "1000"]);
    let out = env.ok(["generate", "systemd", "--files", "--name", "db"]);
    let path = env.home.join("container-db.service");
    assert_eq!(out.trim(), path.to_string_lossy());
    assert!(
        std::fs::read_to_string(&path)
            .expect("unit file")
            .contains("ExecStart=")
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["generate", "systemd", "--format", "json", "--name", "db"]))
            .expect("json");
    assert!(
        json["container-db"]
            .as_str()
            .is_some_and(|u| u.contains("[Service]"))
    );

    // Errors as Podman words them, exit 125.
    let out = env.run(["generate", "systemd", "--restart-policy", "bogus", "db"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        stderr(&out).trim(),
        "Error: bogus is not a valid restart policy"
    );
    let out = env.run(["generate", "systemd", "nosuch"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).starts_with("Error: nosuch does not refer to a container or pod"),
        "{}",
        stderr(&out)
    );
}

/// The services of `hutch quadlet --dryrun`, by name.
fn dryrun_services(out: &str) -> Vec<(String, String)> {
    let mut services = Vec::new();
    // split("---") gives ["", name, body, name, body...]: pair them up.
    let parts: Vec<&str> = out.split("---").collect();
    let mut i = 1;
    while i + 1 < parts.len() {
        services.push((parts[i].to_owned(), parts[i + 1].to_owned()));
        i += 2;
    }
    services
}

#[test]
fn quadlet_services_whose_commands_work() {
    let mut env = busybox_env(&[]);
    let dir = env.root.join("quadlet");
    std::fs::create_dir_all(&dir).expect("quadlet dir");
    std::fs::write(
        dir.join("web.container"),
        "[Unit]\nDescription=web\n[Container]\nImage=busybox\nExec=sh -c \"echo ready; sleep 1000\"\n\
         Volume=cache.volume:/cache\nEnvironment=\"GREETING=hi there\"\nHealthCmd=true\n\
         HealthInterval=disable\n[Install]\nWantedBy=default.target\n",
    )
    .expect("write .container");
    std::fs::write(dir.join("cache.volume"), "[Volume]\nLabel=purpose=cache\n")
        .expect("write .volume");
    std::fs::write(dir.join("broken.container"), "[Container]\nExec=true\n").expect("write bad");
    env.vars.push((
        "HUTCH_QUADLET_DIRS".into(),
        dir.to_string_lossy().into_owned(),
    ));
    let out = env.run(["quadlet", "--dryrun"]);
    // The bad file is named with its problem; the others are still made.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("broken.container: Image: no Image key specified"),
        "{}",
        stderr(&out)
    );
    let services = dryrun_services(&stdout(&out));
    let names: Vec<&str> = services.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["cache-volume.service", "web.service"]);
    let volume = &services[0].1;
    let web = &services[1].1;
    for key in [
        "KillMode=mixed",
        "Delegate=yes",
        "Type=notify",
        "NotifyAccess=all",
    ] {
        assert!(web.lines().any(|l| l == key), "{key} in\n{web}");
    }
    assert!(web.contains("Requires=cache-volume.service\nAfter=cache-volume.service\n"));

    // Run the services' commands as systemd would for `web.service`.
    let (sock, path) = notify_socket(&env);
    env.vars.push(("NOTIFY_SOCKET".into(), path));
    let rundir = env.root.join("unit-run");
    std::fs::create_dir_all(&rundir).expect("run dir");
    chown(&rundir, env.user.uid, env.user.gid);
    let t = rundir.to_string_lossy().into_owned();
    let exec = |unit: &str, key: &str, n: &str| -> Vec<String> {
        let line = unit_value(unit, key).expect(key);
        let line = line.trim_start_matches('-').replace("%N", n);
        let words = split_command(&line, &t, &format!("{n}.service"));
        assert!(words[0].ends_with("/hutch"), "{words:?}");
        words[1..].to_vec()
    };
    env.ok(&exec(volume, "ExecStart", "cache-volume"));
    // Twice, as at every boot.
    env.ok(&exec(volume, "ExecStart", "cache-volume"));
    assert_eq!(
        env.ok([
            "volume",
            "inspect",
            "--format",
            "{{.Labels.purpose}}",
            "systemd-cache"
        ])
        .trim(),
        "cache"
    );
    env.ok(&exec(web, "ExecStart", "web"));
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 from the monitor");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    assert_eq!(inspect(&env, "systemd-web", "{{.State.Status}}"), "running");
    assert!(wait_until(Duration::from_secs(20), || {
        env.ok(["logs", "systemd-web"]).contains("ready")
    }));
    let printed = env.ok([
        "exec",
        "systemd-web",
        "sh",
        "-c",
        "echo $GREETING; ls -d /cache",
    ]);
    assert_eq!(printed, "hi there\n/cache\n");
    assert_eq!(env.ok(["healthcheck", "run", "systemd-web"]), "");
    // A restart: stop, then start again (ExecStartPre clears the cidfile).
    env.ok(&exec(web, "ExecStop", "web"));
    env.ok(&exec(web, "ExecStopPost", "web"));
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty(), "nothing left");
    let pre = unit_value(web, "ExecStartPre").expect("ExecStartPre");
    let pre = split_command(pre.trim_start_matches('-'), &t, "web.service");
    assert_eq!(pre[..2], ["/bin/rm", "-f"]);
    let _ = std::fs::remove_file(pre[2].replace("%N", "web"));
    env.ok(&exec(web, "ExecStart", "web"));
    assert_eq!(inspect(&env, "systemd-web", "{{.State.Status}}"), "running");
    env.ok(&exec(web, "ExecStop", "web"));
    env.ok(&exec(web, "ExecStopPost", "web"));
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty(), "nothing left");
}

/// `generate systemd --new POD`: the pod's unit creates the pod (its
/// infra container's monitor in the PIDFile=), the member's unit runs the
/// container in it by the pod id file, and the stops leave nothing.
#[test]
fn generate_systemd_pod_units_whose_commands_work() {
    let env = busybox_env(&[]);
    env.ok(["pod", "create", "--name", "gp"]);
    env.ok([
        "create", "--pod", "gp", "--name", "gm", "busybox", "sleep", "1000",
    ]);
    let out = env.ok(["generate", "systemd", "--new", "--name", "gp"]);
    // Each unit opens with its name: `# pod-gp.service`.
    let mut units: Vec<(String, String)> = Vec::new();
    for line in out.lines() {
        match line.strip_prefix("# ").filter(|n| n.ends_with(".service")) {
            Some(name) => units.push((name.to_owned(), String::new())),
            None => {
                let (_, text) = units.last_mut().expect("a unit name first");
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let names: Vec<&str> = units.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["pod-gp.service", "container-gm.service"]);
    assert!(
        units[1].1.contains("BindsTo=pod-gp.service\n"),
        "{}",
        units[1].1
    );
    assert!(
        units[0].1.contains("Wants=container-gm.service\n"),
        "{}",
        units[0].1
    );
    // The units replace what was made by hand, as at a boot.
    env.ok(["pod", "rm", "-f", "gp"]);
    let t = env.root.join("unit-run");
    std::fs::create_dir_all(&t).expect("run dir");
    chown(&t, env.user.uid, env.user.gid);
    let r = common::units::Runner {
        env: &env,
        services: units,
        t: t.to_string_lossy().into_owned(),
    };
    r.start("pod-gp.service");
    let pid = std::fs::read_to_string(t.join("pod-gp.pid")).expect("the pod's PIDFile");
    let infra = env
        .ok(["pod", "inspect", "--format", "{{.InfraContainerID}}", "gp"])
        .trim()
        .to_owned();
    assert_eq!(inspect(&env, &infra, "{{.State.ConmonPid}}"), pid.trim());
    r.start("container-gm.service");
    assert_eq!(inspect(&env, "gm", "{{.State.Status}}"), "running");
    let pod_id = std::fs::read_to_string(t.join("pod-gp.pod-id")).expect("the pod id file");
    assert_eq!(inspect(&env, "gm", "{{.Pod}}"), pod_id.trim());
    r.stop("container-gm.service");
    r.stop("pod-gp.service");
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty(), "nothing left");
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty(), "no pod left");
}
