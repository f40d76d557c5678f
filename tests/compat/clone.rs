//! `container clone`'s limit, pod, destroy and run flags, `pod clone`'s
//! `pod create` settings, and `container runlabel`: hutch against podman
//! 4.3.1 (issue 12). This host gives a rootless container no cgroup, so
//! both accept the limits and warn; inspect shows what hutch stored
//! (docs/compat.md), which podman drops here.

use super::*;

/// The last `Error:` line of a command's stderr, each 64-digit id in it
/// replaced (ids are new on each side).
fn error_line(out: &Output) -> String {
    let line = stderr(out)
        .lines()
        .rfind(|l| l.starts_with("Error:"))
        .unwrap_or_default()
        .to_owned();
    line.split(' ')
        .map(|w| {
            if w.len() == 64 && w.bytes().all(|c| c.is_ascii_hexdigit()) {
                "ID"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `args` with both: the same exit code and the same error line.
fn same_error(p: &Pair, args: &[&str]) {
    let (h, q) = (p.hutch(args), p.podman(args));
    assert_eq!(
        h.status.code(),
        q.status.code(),
        "{args:?}\n{}\n{}",
        stderr(&h),
        stderr(&q)
    );
    assert_eq!(error_line(&h), error_line(&q), "{args:?}");
}

/// `args` with both, each of which must succeed.
fn both_ok(p: &Pair, args: &[&str]) -> (Output, Output) {
    let (h, q) = (p.hutch(args), p.podman(args));
    assert!(h.status.success(), "hutch {args:?}: {}", stderr(&h));
    assert!(q.status.success(), "podman {args:?}: {}", stderr(&q));
    (h, q)
}

#[test]
fn container_clone_limits_pod_destroy_run() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let src = [
        "create",
        "--name",
        "src",
        "--network",
        "none",
        "bb",
        "sleep",
        "100",
    ];
    both_ok(&p, &src);
    let (h, q) = both_ok(
        &p,
        &[
            "container",
            "clone",
            "--memory",
            "64m",
            "--cpus",
            "1.5",
            "-c",
            "512",
            "--memory-reservation",
            "32m",
            "--cpu-rt-runtime",
            "100",
            "src",
        ],
    );
    // Podman says on stdout that the spec was not completed, before the id.
    let first = |o: &Output| stdout(o).lines().next().unwrap_or_default().to_owned();
    assert_eq!(first(&h), first(&q));
    // The new limits, over the original's settings, as `run` stores them.
    let shown = p.env.ok([
        "inspect",
        "--format",
        "{{.Name}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpuRealtimeRuntime}} {{.Config.Cmd}}",
        "src-clone",
    ]);
    assert_eq!(
        shown.trim(),
        "src-clone 67108864 1500000000 512 33554432 100 [sleep 100]"
    );
    // Podman's refusals, before anything is made.
    same_error(&p, &["container", "clone", "--force", "src"]);
    same_error(&p, &["container", "clone", "--pod", "nosuch", "src"]);
    same_error(&p, &["container", "clone", "nosuch"]);
    p.same_code(&["container", "clone", "--memory", "lots", "src"]);
    // Clone names count on as Podman's.
    both_ok(&p, &["container", "clone", "src"]);
    p.same(&["ps", "-a", "--format", "{{.Names}}", "--sort", "names"]);

    // --destroy of a running original without --force: the copy stays,
    // the original too, and the removal's refusal is the error.
    both_ok(
        &p,
        &[
            "run",
            "-d",
            "--name",
            "live",
            "--stop-timeout",
            "1",
            "--network",
            "none",
            "bb",
            "sleep",
            "100",
        ],
    );
    same_error(&p, &["container", "clone", "--destroy", "live"]);
    p.same(&["container", "exists", "live-clone"]);
    p.same(&["container", "exists", "live"]);
    // With --force it goes; --run starts the copy.
    both_ok(
        &p,
        &[
            "container",
            "clone",
            "--destroy",
            "-f",
            "--run",
            "live",
            "live2",
        ],
    );
    p.same(&["container", "exists", "live"]);
    p.same(&["inspect", "--format", "{{.State.Status}}", "live2"]);

    // --pod: the copy joins the pod, its own namespaces reset, with
    // Podman's warning.
    both_ok(&p, &["pod", "create", "--name", "p1"]);
    let (h, q) = both_ok(&p, &["container", "clone", "--pod", "p1", "src", "inpod"]);
    let warning = "At least one namespace was reset to the default configuration";
    assert!(stderr(&q).contains(warning), "{}", stderr(&q));
    assert!(stderr(&h).contains(warning), "{}", stderr(&h));
    p.same(&["pod", "inspect", "--format", "{{.NumContainers}}", "p1"]);
    p.same(&[
        "ps",
        "-a",
        "--pod",
        "--filter",
        "name=inpod",
        "--format",
        "{{.Names}} {{.PodName}}",
    ]);
    p.same(&["rm", "-f", "live2"]);
    p.same_code(&["pod", "rm", "-f", "p1"]);
}

#[test]
fn pod_clone_takes_pod_create_settings() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    both_ok(&p, &["pod", "create", "--name", "pc", "--label", "a=1"]);
    let labels = p.env.home.join("labels");
    std::fs::write(&labels, "# pod labels\nfrom=file\n").expect("write label file");
    chown(&labels, p.env.user.uid, p.env.user.gid);
    let labels = labels.display().to_string();
    both_ok(
        &p,
        &[
            "pod",
            "clone",
            "--shm-size",
            "20m",
            "--pid",
            "host",
            "--uts",
            "private",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--label-file",
            &labels,
            "--security-opt",
            "no-new-privileges",
            "pc",
            "pc2",
        ],
    );
    p.same(&[
        "pod",
        "inspect",
        "--format",
        "{{.Name}} {{.NumContainers}}",
        "pc2",
    ]);
    let infra = |side: &dyn Fn(&[&str]) -> Output| {
        stdout(&side(&[
            "pod",
            "inspect",
            "--format",
            "{{.InfraContainerID}}",
            "pc2",
        ]))
        .trim()
        .to_owned()
    };
    let (hi, qi) = (infra(&|a| p.hutch(a)), infra(&|a| p.podman(a)));
    let fields = "{{.HostConfig.ShmSize}}";
    assert_eq!(
        stdout(&p.hutch(&["inspect", "--format", fields, &hi])),
        stdout(&p.podman(&["inspect", "--format", fields, &qi])),
    );
    // `--pid host` is the infra container's (hutch's inspect has no
    // PidMode yet: the pod's view says it).
    let pid_ns = |o: Output| {
        stdout(&o)
            .lines()
            .find(|l| l.contains("\"pid_ns\""))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    assert_eq!(
        pid_ns(p.hutch(&["pod", "inspect", "pc2"])),
        pid_ns(p.podman(&["pod", "inspect", "pc2"]))
    );
    // Podman 4.3 drops a clone's labels (docs/compat.md); hutch adds the
    // file's and keeps the original's.
    let l = p
        .env
        .ok(["pod", "inspect", "--format", "{{json .Labels}}", "pc2"]);
    assert!(
        l.contains(r#""a":"1""#) && l.contains(r#""from":"file""#),
        "{l}"
    );
    // Bad values fail alike.
    // (hutch's namespace parser words a bad mode its own way, for run too)
    p.same_code(&["pod", "clone", "--pid", "bogus", "pc"]);
    same_error(&p, &["pod", "clone", "--sysctl", "nokey", "pc"]);
    same_error(
        &p,
        &[
            "pod",
            "clone",
            "--blkio-weight-device",
            "/dev/nonexistent-x:200",
            "pc",
        ],
    );
    same_error(&p, &["pod", "clone", "--label-file", "/nonexistent", "pc"]);
    p.same_code(&["pod", "clone", "--shm-size", "lots", "pc"]);
    p.same_code(&["pod", "rm", "-f", "pc", "pc2"]);
}

#[test]
fn runlabel_runs_and_shows_the_label_command() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let tar = p.env.root.join("bb.tar").display().to_string();
    let changes = [
        r#"LABEL install="/bin/echo IMAGE=IMAGE NAME=NAME x=$NAME ${IMAGE} $HOME""#,
        r#"LABEL RUN="podman run --rm --network none --name NAME IMAGE echo hi""#,
        r#"LABEL fail="/bin/false""#,
        r#"LABEL rel="./nothere""#,
    ];
    let mut args = vec!["import", "-q"];
    for c in &changes {
        args.extend(["--change", c]);
    }
    args.extend([tar.as_str(), "lab"]);
    both_ok(&p, &args);
    // Substitution; arguments appended; unknown variables empty.
    p.same(&["container", "runlabel", "install", "lab", "a", "b c"]);
    p.same(&[
        "container",
        "runlabel",
        "-n",
        "web",
        "install",
        "localhost/lab:latest",
    ]);
    // -q: no pull progress and no output of the command. Podman 4.3
    // closes the command's streams, so `echo` fails there
    // (docs/compat.md); hutch gives it /dev/null.
    let out = p.env.ok(["container", "runlabel", "-q", "install", "lab"]);
    assert_eq!(out, "");
    // --display: the command, this program's name first.
    let display = |o: &Output| {
        let text = stdout(o);
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"command:"), "{text}");
        words[2..].join(" ")
    };
    let args = ["container", "runlabel", "--display", "run", "lab", "x"];
    let (h, q) = (p.hutch(&args), p.podman(&args));
    assert_eq!(display(&h), display(&q));
    // Podman's errors.
    same_error(&p, &["container", "runlabel", "nolabel", "lab"]);
    same_error(&p, &["container", "runlabel", "run"]);
    same_error(&p, &["container", "runlabel", "fail", "lab"]);
    same_error(&p, &["container", "runlabel", "rel", "lab"]);
    // `podman` in a label is hutch itself (podman's nested run would not
    // see this test's storage flags).
    let out = p.env.ok(["container", "runlabel", "run", "lab"]);
    assert_eq!(out.trim(), "hi");
    p.env.ok(["rmi", "lab"]);
}
