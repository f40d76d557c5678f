//! The systemd side without systemd (this CI host has none): `generate
//! systemd` units and the commands they run, as a unit would run them;
//! `--sdnotify=conmon` telling a NOTIFY_SOCKET that the container runs.

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
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 within 20 s");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    let monitor = inspect(&env, "n", "{{.State.ConmonPid}}");
    assert_eq!(msg, format!("MAINPID={monitor}\nREADY=1\n"));
    assert_eq!(inspect(&env, "n", "{{.State.Status}}"), "running");
    // `ignore` (and no flag) leave the socket alone.
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
    env.ok(["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]);
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    assert!(sock.recv(&mut buf).is_err(), "nothing more was sent");
    let out = env.run(["run", "--rm", "--sdnotify=container", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("not supported by hutch yet"),
        "{}",
        stderr(&out)
    );
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
