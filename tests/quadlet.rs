//! Quadlet's `.network`, `.pod`, `.kube`, `.image` and `.build` services
//! without systemd (this CI host has none): `hutch quadlet --dryrun`
//! makes them from files that refer to each other, and their commands run
//! as systemd would run them, in its order (ExecStartPre, ExecStart; on
//! stop ExecStop, ExecStopPost). The units under a real systemd are the
//! host tier's (tests/host/).

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::images::*;
use common::units::{Runner, services, unit_value};
use common::*;

fn inspect(env: &TestEnv, what: &str, name: &str, format: &str) -> String {
    env.ok([what, "inspect", "--format", format, name])
        .trim()
        .to_owned()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a Quadlet file");
}

#[test]
fn pod_network_image_and_build_services_whose_commands_work() {
    let mut env = busybox_env(&[]);
    let dir = env.root.join("quadlet");
    std::fs::create_dir_all(&dir).expect("quadlet dir");
    // An image archive for the .image file, a Containerfile for .build.
    let archive = write_readable(
        &env.root,
        "app.tar",
        &docker_archive(&[busybox_rootfs()], "localhost/fromarchive:1"),
    );
    write(
        &dir,
        "app.network",
        "[Network]\nSubnet=10.89.42.0/24\nLabel=made=quadlet\nNetworkDeleteOnStop=true\n",
    );
    write(
        &dir,
        "web.pod",
        "[Pod]\nNetwork=app.network\nLabel=tier=web\n[Install]\nWantedBy=default.target\n",
    );
    write(
        &dir,
        "arch.image",
        &format!(
            "[Image]\nImage=docker-archive:{}\nImageTag=localhost/fromarchive:1\n",
            archive.display()
        ),
    );
    write(
        &dir,
        "srv.container",
        "[Container]\nImage=arch.image\nPod=web.pod\nExec=sleep 1000\n",
    );
    write(
        &dir,
        "Containerfile",
        "FROM busybox\nRUN echo built > /built\n",
    );
    write(
        &dir,
        "local.build",
        "[Build]\nImageTag=localhost/qbuilt:1\nSetWorkingDirectory=unit\nLabel=by=quadlet\n",
    );
    write(
        &dir,
        "side.container",
        "[Container]\nImage=local.build\nPod=web.pod\nExec=sleep 1000\n",
    );
    env.vars.push((
        "HUTCH_QUADLET_DIRS".into(),
        dir.to_string_lossy().into_owned(),
    ));
    let out = env.run(["quadlet", "--dryrun"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let t = env.root.join("unit-run");
    std::fs::create_dir_all(&t).expect("run dir");
    chown(&t, env.user.uid, env.user.gid);
    let r = Runner {
        env: &env,
        services: services(&stdout(&out)),
        t: t.to_string_lossy().into_owned(),
    };
    assert_eq!(
        r.names(),
        [
            "app-network.service",
            "arch-image.service",
            "local-build.service",
            "side.service",
            "srv.service",
            "web-pod.service",
        ]
    );
    let pod = r.unit("web-pod.service");
    for line in [
        "Wants=side.service",
        "Before=srv.service",
        "Requires=app-network.service",
        "Type=forking",
        "PIDFile=%t/%N.pid",
    ] {
        assert!(pod.lines().any(|l| l == line), "{line} in\n{pod}");
    }
    let srv = r.unit("srv.service");
    for line in ["BindsTo=web-pod.service", "Requires=arch-image.service"] {
        assert!(srv.lines().any(|l| l == line), "{line} in\n{srv}");
    }

    // Boot order: the network, the image, the build, the pod, its members.
    r.start("app-network.service");
    r.start("app-network.service"); // again, as at every boot
    let net: serde_json::Value =
        serde_json::from_str(&env.ok(["network", "inspect", "systemd-app"])).expect("json");
    assert_eq!(net[0]["labels"]["made"], "quadlet", "{net}");
    r.start("arch-image.service");
    let wd = unit_value(r.unit("local-build.service"), "WorkingDirectory").expect("workdir");
    assert_eq!(PathBuf::from(&wd), dir);
    r.run("local-build.service", "ExecStart", Some(Path::new(&wd)));
    assert_eq!(
        inspect(&env, "image", "localhost/qbuilt:1", "{{.Labels.by}}"),
        "quadlet"
    );
    r.start("web-pod.service");
    // systemd's forking service: the main process is the pid in PIDFile=,
    // the infra container's monitor.
    let pidfile = t.join("web-pod.pid");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("the pod's PIDFile")
        .trim()
        .parse()
        .expect("a pid");
    assert!(is_alive(pid));
    assert_eq!(
        inspect(
            &env,
            "container",
            "systemd-web-infra",
            "{{.State.ConmonPid}}"
        ),
        pid.to_string()
    );
    r.start("srv.service");
    r.start("side.service");
    assert_eq!(env.ok(["exec", "systemd-side", "cat", "/built"]), "built\n");
    for c in ["systemd-srv", "systemd-side"] {
        assert_eq!(
            inspect(&env, "container", c, "{{.State.Status}}"),
            "running"
        );
    }
    let pod_id = inspect(&env, "pod", "systemd-web", "{{.ID}}");
    assert_eq!(
        inspect(&env, "container", "systemd-srv", "{{.Pod}}"),
        pod_id
    );

    // Shutdown: members, then the pod, then the network (deleted on stop).
    r.stop("side.service");
    r.stop("srv.service");
    r.stop("web-pod.service");
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty(), "nothing left");
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty(), "no pod left");
    r.stop("app-network.service");
    assert!(
        !env.run(["network", "exists", "systemd-app"])
            .status
            .success()
    );
}

#[test]
fn kube_service_plays_tells_systemd_and_cleans_up() {
    let mut env = busybox_env(&[]);
    let dir = env.root.join("quadlet");
    std::fs::create_dir_all(&dir).expect("quadlet dir");
    write(
        &dir,
        "app.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: kapp}\nspec:\n  containers:\n  - {name: c, image: localhost/busybox, command: [sleep, '1000']}\n",
    );
    write(&dir, "app.kube", "[Kube]\nYaml=app.yaml\n");
    env.vars.push((
        "HUTCH_QUADLET_DIRS".into(),
        dir.to_string_lossy().into_owned(),
    ));
    let t = env.root.join("unit-run");
    std::fs::create_dir_all(&t).expect("run dir");
    chown(&t, env.user.uid, env.user.gid);
    let made = services(&env.ok(["quadlet", "--dryrun"]));

    let path = env.root.join("notify");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    chown(&path, env.user.uid, env.user.gid);
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    env.vars
        .push(("NOTIFY_SOCKET".into(), path.to_string_lossy().into_owned()));
    let r = Runner {
        env: &env,
        services: made,
        t: t.to_string_lossy().into_owned(),
    };
    let unit = r.unit("app.service");
    assert!(unit.lines().any(|l| l == "Type=notify"), "{unit}");
    r.run("app.service", "ExecStart", None);
    let mut buf = [0u8; 256];
    let n = sock
        .recv(&mut buf)
        .expect("READY=1 from the service container");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.contains("READY=1"), "{msg}");
    // The main pid systemd is told is the service container's monitor.
    let service = env.ok(["ps", "-a", "--format", "{{.Names}}"]);
    let service = service
        .lines()
        .find(|n| n.ends_with("-service"))
        .unwrap_or_else(|| panic!("a service container among {service}"))
        .to_owned();
    let monitor = inspect(&env, "container", &service, "{{.State.ConmonPid}}");
    assert!(msg.contains(&format!("MAINPID={monitor}\n")), "{msg}");
    assert_eq!(
        inspect(&env, "container", "kapp-c", "{{.State.Status}}"),
        "running"
    );
    // A restart of the unit replaces what the first start made.
    r.run("app.service", "ExecStart", None);
    assert_eq!(
        inspect(&env, "container", "kapp-c", "{{.State.Status}}"),
        "running"
    );
    r.run("app.service", "ExecStopPost", None);
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty(), "nothing left");
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty(), "no pod left");
}
