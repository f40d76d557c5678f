//! `run`/`create` resource and runtime flags added for issue 12, hutch
//! against podman: the per-device block-I/O limits, real-time limits,
//! swappiness, the OOM killer, device cgroup rules, `--cgroup-conf`,
//! `--personality`, `--seccomp-policy`, `--chrootdirs`, `create -a`, and
//! the `pod create` limit flags. This host has no cgroup for a rootless
//! container, so both warn and run without limits; the values are
//! compared where they show (inspect, errors, exit codes) and the runtime
//! spec's `linux.resources` is covered by the unit tests of
//! `runtime::spec::resources`.

use std::path::Path;

use super::*;

/// A block device of this host (`/dev/NAME` for an entry of /sys/block).
fn block_device() -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| format!("/dev/{n}"))
        .find(|p| Path::new(p).exists())
}

/// The last `Error:` line of a command's stderr (podman prints its
/// warning first).
fn error_line(out: &Output) -> String {
    stderr(out)
        .lines()
        .rfind(|l| l.starts_with("Error:"))
        .unwrap_or_default()
        .to_owned()
}

const DEVICE_FIELDS: &str = "{{json .HostConfig.BlkioWeightDevice}} {{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteBps}} {{json .HostConfig.BlkioDeviceReadIOps}} {{json .HostConfig.BlkioDeviceWriteIOps}}";
const OTHER_FIELDS: &str = "{{.HostConfig.CpuRealtimePeriod}} {{.HostConfig.CpuRealtimeRuntime}} {{.HostConfig.MemorySwappiness}} {{.HostConfig.OomKillDisable}}";

#[test]
fn block_io_realtime_and_memory_flags() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let Some(dev) = block_device() else {
        eprintln!("skipped: no block device under /sys/block");
        return;
    };
    let w = format!("{dev}:200");
    let rbps = format!("{dev}:1mb");
    let wbps = format!("{dev}:2k");
    let riops = format!("{dev}:100");
    let wiops = format!("{dev}:50");
    let args = [
        "create",
        "--name",
        "lim",
        "--network",
        "none",
        "--blkio-weight-device",
        &w,
        "--device-read-bps",
        &rbps,
        "--device-write-bps",
        &wbps,
        "--device-read-iops",
        &riops,
        "--device-write-iops",
        &wiops,
        "--cpu-rt-period",
        "1000",
        "--cpu-rt-runtime",
        "100",
        "--memory-swappiness",
        "10",
        "--oom-kill-disable",
        "--device-cgroup-rule",
        "c 1:3 rwm",
        "--cgroup-conf",
        "memory.high=1000000",
        "bb",
        "true",
    ];
    let (h, q) = (p.hutch(&args), p.podman(&args));
    assert!(h.status.success(), "{}", stderr(&h));
    assert!(q.status.success(), "{}", stderr(&q));
    // Both say once that the limits are not applied here.
    let warning = "Resource limits are not supported and ignored on cgroups V1 rootless systems";
    if stderr(&q).contains(warning) {
        assert!(stderr(&h).contains(warning), "{}", stderr(&h));
    }
    // The per-device limits show alike: the path given, bytes or counts.
    p.same(&["inspect", "--format", DEVICE_FIELDS, "lim"]);
    // Podman drops the others from a container without a cgroup before
    // inspect sees them; hutch shows what was asked (docs/compat.md), as
    // it does for --memory.
    let shown = p.env.ok(["inspect", "--format", OTHER_FIELDS, "lim"]);
    assert_eq!(shown.trim(), "1000 100 10 true");
    let conf = p.env.ok([
        "inspect",
        "--format",
        "{{json .HostConfig.CgroupConf}}",
        "lim",
    ]);
    assert_eq!(conf.trim(), r#"{"memory.high":"1000000"}"#);
    // Without the flags both show the same empty values.
    p.same_code(&[
        "create",
        "--name",
        "plain",
        "--network",
        "none",
        "bb",
        "true",
    ]);
    p.same(&["inspect", "--format", DEVICE_FIELDS, "plain"]);
    p.same(&["inspect", "--format", OTHER_FIELDS, "plain"]);
    // A negative swappiness is "not given", and warns of nothing.
    let (h, _) = p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--memory-swappiness",
        "-1",
        "bb",
        "echo",
        "ok",
    ]);
    assert!(!h.contains("Resource limits"), "{h}");
    // One at a time: podman removes several in parallel, in any order.
    for c in ["lim", "plain"] {
        p.same(&["rm", c]);
    }
}

#[test]
fn bad_limit_values_fail_alike() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let dev = block_device().unwrap_or_else(|| "/dev/vda".to_owned());
    let cases: Vec<Vec<String>> = vec![
        vec!["--blkio-weight-device".into(), format!("{dev}:5")],
        vec!["--blkio-weight-device".into(), dev.clone()],
        vec![
            "--blkio-weight-device".into(),
            "/dev/nonexistent-x:200".into(),
        ],
        vec!["--device-read-bps".into(), format!("{dev}:xx")],
        vec!["--device-write-bps".into(), "/tmp:1mb".into()],
        vec!["--device-read-iops".into(), format!("{dev}:1k")],
        vec!["--device-cgroup-rule".into(), "x 1:3 rwm".into()],
        vec!["--device-cgroup-rule".into(), "c 1:3".into()],
        vec!["--cgroup-conf".into(), "foo".into()],
        vec!["--seccomp-policy".into(), "foo".into()],
        vec!["--seccomp-policy".into(), "image".into()],
    ];
    for case in &cases {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend(case.iter().map(String::as_str));
        args.extend(["bb", "true"]);
        let (h, q) = (p.hutch(&args), p.podman(&args));
        assert_eq!(outcome(&h), outcome(&q), "{case:?}");
        assert_eq!(q.status.code(), Some(125), "{case:?}");
        assert_eq!(error_line(&h), error_line(&q), "{case:?}");
    }
    // Values that only a clap/cobra parser sees: the same exit code.
    p.same_code(&["run", "--rm", "--cpu-rt-period", "-1", "bb", "true"]);
}

#[test]
fn personality_policy_chrootdirs_and_create_attach() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    // LINUX32 reaches the process on a 64-bit host (crun and runc).
    if std::env::consts::ARCH == "x86_64" {
        p.same(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--personality",
            "LINUX32",
            "bb",
            "busybox",
            "uname",
            "-m",
        ]);
    }
    p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--seccomp-policy",
        "default",
        "bb",
        "echo",
        "ok",
    ]);
    p.same_code(&[
        "create",
        "--name",
        "ch",
        "--network",
        "none",
        "--personality",
        "LINUX32",
        "--chrootdirs",
        "/tmp",
        "--chrootdirs",
        "/x",
        "bb",
        "true",
    ]);
    p.same(&["inspect", "--format", "{{json .Config.ChrootDirs}}", "ch"]);
    let path = p
        .env
        .ok(["inspect", "--format", "{{.OCIConfigPath}}", "ch"]);
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.trim()).expect("config.json"))
            .expect("config.json parses");
    assert_eq!(spec["linux"]["personality"]["domain"], "LINUX32");
    // `create -a` is accepted whatever it names and keeps nothing: a later
    // `start -a` relays the container's output, as Podman 4.3 does.
    let script = "echo out; echo err >&2";
    p.same_code(&[
        "create",
        "--name",
        "att",
        "-a",
        "stdout",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        script,
    ]);
    p.same_code(&["create", "-a", "bogus", "--network", "none", "bb", "true"]);
    let (h, q) = p.same(&["start", "-a", "att"]);
    assert_eq!(h.trim(), "err", "{h}");
    assert_eq!(without_mount_warning(&q).trim(), "err");
    for c in ["ch", "att"] {
        p.same(&["rm", c]);
    }
}

#[test]
fn pod_create_limits_volumes_shm_and_sysctls() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let dev = block_device().unwrap_or_else(|| "/dev/vda".to_owned());
    let w = format!("{dev}:200");
    let bps = format!("{dev}:1mb");
    // Accepted alike (no cgroup for a pod here: nothing applied).
    let args = [
        "pod",
        "create",
        "--name",
        "lim",
        "--infra=false",
        "--blkio-weight",
        "300",
        "--blkio-weight-device",
        &w,
        "-c",
        "100",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--device-read-bps",
        &bps,
        "--device-write-bps",
        &bps,
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
    ];
    p.same_code(&args);
    let bad = format!("{dev}:5");
    let (h, q) = (
        p.hutch(&["pod", "create", "--blkio-weight-device", &bad]),
        p.podman(&["pod", "create", "--blkio-weight-device", &bad]),
    );
    assert_eq!(outcome(&h), outcome(&q));
    assert_eq!(error_line(&h), error_line(&q));
    // `-v` reaches every container of the pod; a missing source fails the
    // create alike.
    let src = p.env.home.join("podvol");
    std::fs::create_dir(&src).expect("mkdir");
    std::fs::write(src.join("f"), "hi\n").expect("write");
    chown(&src, p.env.user.uid, p.env.user.gid);
    let vol = format!("{}:/pv", src.display());
    p.same_code(&["pod", "create", "--name", "vols", "-v", &vol]);
    p.same(&["run", "--rm", "--pod", "vols", "bb", "cat", "/pv/f"]);
    let (h, q) = (
        p.hutch(&["pod", "create", "-v", "/nonexistent-x:/pv"]),
        p.podman(&["pod", "create", "-v", "/nonexistent-x:/pv"]),
    );
    assert_eq!(outcome(&h), outcome(&q));
    assert_eq!(error_line(&h), error_line(&q));
    // `--shm-size` and `--sysctl` for the pod's containers.
    p.same_code(&[
        "pod",
        "create",
        "--name",
        "shm",
        "--shm-size",
        "32m",
        "--sysctl",
        "net.ipv4.ping_group_range=0 0",
    ]);
    p.same(&[
        "run",
        "--rm",
        "--pod",
        "shm",
        "bb",
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ping_group_range; df -k /dev/shm | tail -1",
    ]);
    // Each prints the pods' ids: only the exit codes compare.
    p.same_code(&["pod", "rm", "-f", "lim", "vols", "shm"]);
}
