//! Flags added for issue 12's Podman-fidelity scan of `update`, `run`/
//! `create`, `pod create`/`logs`/`ps` and `kube play`, hutch against
//! podman. This host gives a rootless container no cgroup of its own, so
//! `update` fails with both (podman's runtime cannot write the cgroup
//! files, hutch refuses first); the values' checks and messages are
//! compared, and the merge is covered by `runtime::spec::resources`' unit
//! tests.

use super::*;

/// The last `Error:` line of a command's stderr (podman prints its
/// warning first).
fn error_line(out: &Output) -> String {
    stderr(out)
        .lines()
        .rfind(|l| l.starts_with("Error:"))
        .unwrap_or_default()
        .to_owned()
}

/// Runs `args` with both: same exit code and same last error line.
fn same_error(p: &Pair, args: &[&str]) {
    let (h, o) = (p.hutch(args), p.podman(args));
    assert_eq!(
        (h.status.code(), error_line(&h)),
        (o.status.code(), error_line(&o)),
        "{args:?}\nhutch stderr: {}\npodman stderr: {}",
        stderr(&h),
        stderr(&o)
    );
}

#[test]
fn update_takes_the_device_realtime_and_swappiness_flags() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for args in [
        ["create", "--name", "u", "bb", "true"].as_slice(),
        ["update", "--blkio-weight-device", "/dev/null:5", "u"].as_slice(),
        ["update", "--blkio-weight-device", "/dev/nope:300", "u"].as_slice(),
        ["update", "--device-read-bps", "/dev/nope:1mb", "u"].as_slice(),
        ["update", "--device-write-iops", "/dev/null:x", "u"].as_slice(),
        ["update", "--device-read-iops", "nodev", "u"].as_slice(),
        ["update", "--memory-swappiness", "10", "nosuch"].as_slice(),
    ] {
        same_error(&p, args);
    }
    // Every new flag is taken by both (neither says "unknown flag"); on
    // this host both then fail to reach a cgroup, with 125.
    let all = [
        "update",
        "--cpu-rt-period",
        "1000",
        "--cpu-rt-runtime",
        "500",
        "--memory-swappiness",
        "10",
        "--device-read-bps",
        "/dev/null:1mb",
        "--device-write-bps",
        "/dev/null:1mb",
        "--device-read-iops",
        "/dev/null:10",
        "--device-write-iops",
        "/dev/null:10",
        "--blkio-weight-device",
        "/dev/null:300",
        "u",
    ];
    let (h, o) = (p.hutch(&all), p.podman(&all));
    assert!(!stderr(&h).contains("unknown flag"), "{}", stderr(&h));
    assert_eq!(h.status.code(), o.status.code(), "{}", stderr(&h));
}

#[test]
fn run_subid_names_content_trust_and_init_containers() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--disable-content-trust",
        "bb",
        "echo",
        "ok",
    ]);
    // A name without ranges: Podman's message, for either flag alone.
    for flag in ["--subuidname", "--subgidname"] {
        same_error(&p, &["create", flag, "nobody-here", "bb", "true"]);
    }
    same_error(&p, &["create", "--init-ctr", "once", "bb", "true"]);
    same_error(&p, &["create", "--init-ctr", "bogus", "bb", "true"]);
    for args in [
        ["pod", "create", "--name", "ip"].as_slice(),
        [
            "create",
            "--pod",
            "ip",
            "--init-ctr",
            "sometimes",
            "bb",
            "true",
        ]
        .as_slice(),
    ] {
        same_error(&p, args);
    }
    for args in [
        [
            "create",
            "--pod",
            "ip",
            "--name",
            "i1",
            "--init-ctr",
            "once",
            "bb",
            "true",
        ]
        .as_slice(),
        [
            "create",
            "--pod",
            "ip",
            "--name",
            "i2",
            "--init-ctr",
            "always",
            "bb",
            "true",
        ]
        .as_slice(),
        [
            "create", "--pod", "ip", "--name", "main", "bb", "sleep", "60",
        ]
        .as_slice(),
        ["pod", "start", "ip"].as_slice(),
    ] {
        p.same_code(args);
    }
    // The "once" container is gone after the first start; the "always"
    // one ran and the main one runs (names only: the State texts carry
    // times).
    let names = ["ps", "-a", "--filter", "pod=ip", "--format", "{{.Names}}"];
    let rows = |out: &Output| {
        let mut v: Vec<String> = stdout(out)
            .lines()
            .filter(|l| !l.contains("-infra"))
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    let (h, o) = (p.hutch(&names), p.podman(&names));
    assert_eq!(rows(&h), rows(&o));
    assert_eq!(rows(&h), ["i2", "main"]);
    same_error(
        &p,
        &["create", "--pod", "ip", "--init-ctr", "once", "bb", "true"],
    );
    for args in [
        ["pod", "rm", "-f", "-t", "0", "ip"].as_slice(),
        ["pod", "create", "--name", "bad"].as_slice(),
        [
            "create",
            "--pod",
            "bad",
            "--init-ctr",
            "always",
            "bb",
            "sh",
            "-c",
            "exit 3",
        ]
        .as_slice(),
        ["create", "--pod", "bad", "--name", "never", "bb", "true"].as_slice(),
        ["pod", "start", "bad"].as_slice(),
    ] {
        p.same_code(args);
    }
}

#[test]
fn pod_create_logs_and_ps_flags() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let labels = p.env.home.join("pod.labels");
    std::fs::write(&labels, "# pod labels\na=1\nb=2\n").expect("write label file");
    chown(&labels, p.env.user.uid, p.env.user.gid);
    let labels = labels.to_string_lossy().into_owned();
    for args in [
        [
            "pod",
            "create",
            "--name",
            "pl",
            "--label-file",
            &labels,
            "--label",
            "b=3",
            "--no-hosts",
            "--share-parent=false",
            "--uts",
            "private",
        ]
        .as_slice(),
        [
            "run",
            "-d",
            "--pod",
            "pl",
            "--name",
            "c1",
            "bb",
            "sh",
            "-c",
            "echo one; echo err >&2",
        ]
        .as_slice(),
        [
            "run", "-d", "--pod", "pl", "--name", "c2", "bb", "echo", "two",
        ]
        .as_slice(),
        ["wait", "c1", "c2"].as_slice(),
    ] {
        p.same_code(args);
    }
    p.same(&["pod", "inspect", "pl", "--format", "{{.Labels}}"]);
    for args in [
        ["pod", "logs", "-c", "c1", "pl"].as_slice(),
        [
            "pod",
            "logs",
            "--since",
            "10m",
            "--until",
            "2099-01-01T00:00:00Z",
            "-c",
            "c2",
            "pl",
        ]
        .as_slice(),
        ["pod", "logs", "--names", "-c", "c1", "pl"].as_slice(),
        ["pod", "logs", "-f", "-c", "c2", "pl"].as_slice(),
        ["pod", "ps", "--ns", "--format", "{{.Name}} {{.Namespace}}"].as_slice(),
    ] {
        p.same(args);
    }
    same_error(&p, &["pod", "logs"]);
    same_error(&p, &["pod", "logs", "-l", "pl"]);
    same_error(&p, &["pod", "logs", "-c", "nope", "pl"]);
    // Two containers: each line carries its container's name.
    let names = p.hutch(&["pod", "logs", "--names", "pl"]);
    assert!(stdout(&names).contains("c1 one"), "{}", stdout(&names));
    assert!(stdout(&names).contains("c2 two"), "{}", stdout(&names));
    // Static addresses outside a user network: Podman's refusal.
    same_error(&p, &["pod", "create", "--ip", "10.88.0.9", "--name", "x"]);
}
