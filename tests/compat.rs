//! The differential tier: the same command line run with hutch and with the
//! installed podman, as the same unprivileged user, each with storage of
//! its own (a private HOME and runtime dir for both; `--root`/`--runroot`
//! for podman); exit codes and normalised output compared. Skipped with one
//! line when podman is not installed. A tiny busybox image is imported into
//! both (offline), and containers run with `--network none` unless the
//! network is the point, so the whole file takes seconds.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::images::*;
use common::*;

/// One command's outcome, as compared.
#[derive(Debug, PartialEq)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
}

/// hutch and podman side by side for one test.
struct Pair {
    env: TestEnv,
    podman_root: PathBuf,
    podman_run: PathBuf,
}

impl Pair {
    /// `None` (and one line saying why) when podman is not installed.
    fn new() -> Option<Pair> {
        let found = Command::new("podman")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            eprintln!("skipped: podman is not installed");
            return None;
        }
        let env = TestEnv::new(TestUser::default_user());
        let podman_root = env.root.join("podman-root");
        let podman_run = env.root.join("podman-run");
        for d in [&podman_root, &podman_run] {
            std::fs::create_dir(d).expect("create podman dir");
            chown(d, env.user.uid, env.user.gid);
        }
        Some(Pair {
            env,
            podman_root,
            podman_run,
        })
    }

    /// With a busybox image imported into both as `bb`. Its applets are
    /// symlinks: containers/storage applies a hardlink entry's mode to the
    /// file it links to, so the shared busybox tar (hardlinks, 0644) would
    /// not run under podman.
    fn with_busybox() -> Option<Pair> {
        let pair = Pair::new()?;
        let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
        let mut entries = vec![
            Entry::Dir("bin"),
            Entry::Dir("etc"),
            Entry::Dir("tmp"),
            Entry::Exec("bin/busybox", &busybox),
        ];
        for applet in ["bin/sh", "bin/echo", "bin/true", "bin/sleep", "bin/cat"] {
            entries.push(Entry::Symlink(applet, "busybox"));
        }
        let tar = write_readable(&pair.env.root, "bb.tar", &layer(&entries));
        let tar = tar.to_string_lossy().into_owned();
        pair.env.ok(["import", "-q", &tar, "bb"]);
        let out = pair.podman(&["import", "-q", &tar, "bb"]);
        assert!(out.status.success(), "podman import: {}", stderr(&out));
        Some(pair)
    }

    fn hutch(&self, args: &[&str]) -> Output {
        self.env.run(args)
    }

    /// Runs `args` with hutch and with podman, each of which must succeed:
    /// the set-up steps of a comparison.
    fn both_ok(&self, args: &[&str]) {
        for side in [self.hutch(args), self.podman(args)] {
            assert!(side.status.success(), "{args:?}: {}", stderr(&side));
        }
    }

    /// podman as the test user, in the same private HOME and runtime dir,
    /// with storage under the test's root.
    fn podman(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = vec![
            "--root".into(),
            self.podman_root.display().to_string(),
            "--runroot".into(),
            self.podman_run.display().to_string(),
            // No systemd session here: podman's default would warn.
            "--cgroup-manager".into(),
            "cgroupfs".into(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        self.podman_raw(&all)
    }

    /// podman without the storage flags (`--remote` refuses them).
    fn podman_raw(&self, args: &[String]) -> Output {
        let mut cmd = Command::new("podman");
        cmd.args(args)
            .env_clear()
            .env("HOME", &self.env.home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("USER", &self.env.user.name)
            .current_dir(&self.env.home)
            .stdin(Stdio::null());
        if let Some(x) = &self.env.xdg_runtime_dir {
            cmd.env("XDG_RUNTIME_DIR", x);
        }
        as_user(&mut cmd, &self.env.user);
        cmd.output().expect("start podman")
    }

    /// Runs `args` with both; only the exit codes compare (the command
    /// prints a new id).
    fn same_code(&self, args: &[&str]) {
        let (h, p) = (self.hutch(args), self.podman(args));
        assert_eq!(
            h.status.code(),
            p.status.code(),
            "{args:?}\nhutch stderr: {}\npodman stderr: {}",
            stderr(&h),
            stderr(&p)
        );
    }

    /// Runs `args` with both; the exit codes and the stdout (trailing
    /// blanks trimmed per line) must match. Returns hutch's and podman's
    /// stderr for checks of their own.
    fn same(&self, args: &[&str]) -> (String, String) {
        let (h, p) = (self.hutch(args), self.podman(args));
        assert_eq!(
            outcome(&h),
            outcome(&p),
            "{args:?}: hutch (left) and podman (right) differ\nhutch stderr: {}\npodman stderr: {}",
            stderr(&h),
            stderr(&p)
        );
        (stderr(&h), stderr(&p))
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // podman's own pause process outlives its commands, as hutch's does.
        if let Some(x) = &self.env.xdg_runtime_dir
            && let Ok(pid) = std::fs::read_to_string(x.join("libpod/tmp/pause.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
            && pid > 1
        {
            // SAFETY: plain kill of the pause process this test's podman made.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// podman's stderr less its warning about this host's root mount (not
/// shared), which says nothing about the command.
fn without_mount_warning(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("is not a shared mount"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn outcome(out: &Output) -> Outcome {
    Outcome {
        code: out.status.code(),
        stdout: stdout(out)
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn a_flag_given_twice_takes_the_last_value() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    // Each prints a new id: only the exit codes compare.
    for name in [["a", "b"], ["c", "c"]] {
        let args = [
            "create",
            "--network",
            "none",
            "--name",
            name[0],
            "--name",
            name[1],
            "bb",
            "true",
        ];
        let (h, q) = (p.hutch(&args), p.podman(&args));
        assert_eq!(h.status.code(), Some(0), "{}", stderr(&h));
        assert_eq!(q.status.code(), Some(0), "{}", stderr(&q));
    }
    p.same(&[
        "ps",
        "-a",
        "--sort",
        "names",
        "--format",
        "{{.ID}}",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    // One at a time: podman removes in parallel and prints in the order
    // they finish.
    for name in ["b", "c"] {
        let (h, _) = p.same(&["rm", name]);
        assert!(h.is_empty(), "{h}");
    }
}

#[test]
fn global_options() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.same(&["--log-level", "warning", "ps", "-a", "--noheading"]);
    p.same(&[
        "--log-level",
        "fatal",
        "images",
        "--format",
        "{{.Repository}}",
    ]);
    let (h, q) = p.same(&["--log-level", "bogus", "ps"]);
    assert_eq!(h, q, "the message is podman's");
    let (h, q) = p.same(&["--noout", "images"]);
    assert!(h.is_empty() && q.is_empty(), "{h}\n{q}");
    let (h, q) = p.same(&["--events-backend", "bogus", "ps"]);
    assert_eq!(h, q);
    p.same(&[
        "--events-backend",
        "file",
        "--runtime-flag",
        "debug",
        "ps",
        "--noheading",
    ]);
    p.same(&[
        "--runtime-flag",
        "debug",
        "run",
        "--rm",
        "--network",
        "none",
        "bb",
        "echo",
        "ran",
    ]);
    // No service to reach: both fail with 125 and say so.
    let h = p.hutch(&["--remote", "ps"]);
    let q = p.podman_raw(&["--remote".into(), "ps".into()]);
    assert_eq!(h.status.code(), q.status.code(), "{}", stderr(&q));
    assert_eq!(h.status.code(), Some(125));
    assert!(
        stderr(&h).contains("unable to connect to the service"),
        "{}",
        stderr(&h)
    );
}

/// The rest of Podman's global options: taken (`--namespace`, `--ssh`,
/// `--tmpdir`, a `--hooks-dir` with no hooks), checked as Podman checks
/// them (`--runtime`, `--syslog`, `--storage-opt`), and honoured
/// (`--runtime` picks new containers' runtime, `--network-cmd-path` the
/// network helper).
#[test]
fn more_global_options() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let hooks = p.env.root.join("no-hooks");
    let hooks = hooks.to_str().expect("utf-8 path");
    let tmp = p.env.root.join("tmpdir");
    let tmp = tmp.to_str().expect("utf-8 path");
    for global in [
        &["--namespace", "foo"][..],
        &["--ssh", "native"][..],
        &["--hooks-dir", hooks][..],
        &["--tmpdir", tmp][..],
    ] {
        let mut args = global.to_vec();
        args.extend(["ps", "-a", "--noheading"]);
        p.same(&args);
    }
    // No syslog daemon in the test host: both exit 1 with Podman's words
    // (both 0 where one listens).
    let (h, q) = p.same(&["--syslog", "ps", "-q"]);
    assert_eq!(h.trim_end(), q.trim_end());
    for runtime in ["/nonexistent/crun", "bogus"] {
        let (h, q) = p.same(&["--runtime", runtime, "ps", "-q"]);
        assert_eq!(h, q, "the message is podman's");
        assert!(h.contains(runtime), "{h}");
    }
    let (h, _) = p.same(&["--storage-opt", "foo=bar", "ps", "-q"]);
    assert!(h.contains("foo=bar"), "{h}");
    for run in [true, false] {
        let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
        let out = call(&[
            "--runtime",
            "runc",
            "create",
            "--name",
            "rr",
            "--network",
            "none",
            "bb",
            "true",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (h, _) = p.same(&["inspect", "--format", "{{.OCIRuntime}}", "rr"]);
    assert!(!h.contains("Error"), "{h}");
    let out = p.hutch(&["inspect", "--format", "{{.OCIRuntime}}", "rr"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "runc");
    // hutch only: the helper named runs, a missing one fails the start
    // with its path (Podman exits 127 there, hutch 125: docs/compat.md).
    let out = p.hutch(&[
        "--network-cmd-path",
        "/nonexistent/slirp4netns",
        "run",
        "--rm",
        "--network",
        "slirp4netns",
        "bb",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/slirp4netns"),
        "{}",
        stderr(&out)
    );
    let slirp = ["/usr/bin/slirp4netns"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if let Some(slirp) = slirp {
        let out = p.hutch(&[
            "--network-cmd-path",
            slirp,
            "run",
            "--rm",
            "--network",
            "slirp4netns",
            "bb",
            "true",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn exit_codes() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let missing: [&[&str]; 3] = [
        &["rmi", "--force", "bogus"],
        &["rmi", "--ignore", "bogus"],
        &["volume", "rm", "--force", "bogus"],
    ];
    for args in missing {
        let (h, _) = p.same(args);
        assert!(h.is_empty(), "{args:?}: {h}");
    }
    p.same(&["rm", "--latest"]);
    // podman lists the fields in a map's (random) order: the start compares.
    let (h, q) = p.same(&["images", "--sort", "bogus"]);
    for e in [&h, &q] {
        assert!(
            e.starts_with("Error: \"bogus\" is not a valid field for sorting. Choose from: "),
            "{e}"
        );
    }
    let (h, q) = p.same(&["rm", "--cidfile", "/nonexistent/cid"]);
    assert_eq!(h, q);
    p.same(&["stop", "--timeout", "3", "bogus"]);
    let (h, q) = p.same(&["stop", "--cidfile", "/nonexistent/cid"]);
    assert_eq!(h, q);

    // A published port in use: 126 from both.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let publish = format!("127.0.0.1:{port}:80");
    let (h, _) = p.same(&["run", "--rm", "-p", &publish, "bb", "true"]);
    assert!(h.contains(&port.to_string()), "{h}");
    let out = p.hutch(&["run", "--rm", "-p", &publish, "bb", "true"]);
    assert_eq!(out.status.code(), Some(126));
}

#[test]
fn noheading() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.same(&["volume", "create", "v1"]);
    p.same(&["volume", "ls", "--noheading"]);
    p.same(&["ps", "-a", "--noheading"]);
    p.same(&["ps", "--external", "--noheading"]);
    p.same(&[
        "images",
        "--noheading",
        "--sort",
        "repository",
        "--format",
        "table {{.Repository}}\t{{.Tag}}",
    ]);
    // Both list the default network `podman` and the new one (ids differ).
    p.same(&["network", "create", "n1"]);
    p.same(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    p.same(&["network", "ls", "-q"]);
    for out in [
        p.hutch(&["network", "ls", "--noheading"]),
        p.podman(&["network", "ls", "--noheading"]),
    ] {
        let text = stdout(&out);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            !text.contains("NETWORK ID") && text.contains("n1"),
            "{text}"
        );
    }
    let (h, _) = p.same(&["volume", "rm", "v1"]);
    assert!(h.is_empty(), "{h}");
}

#[test]
fn timezone() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    if !std::path::Path::new("/usr/share/zoneinfo/Europe/Berlin").exists() {
        eprintln!("skipped: tzdata is not installed");
        return;
    }
    // The zone file itself is bound on /etc/localtime.
    let (h, _) = p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--tz",
        "Europe/Berlin",
        "bb",
        "cat",
        "/etc/localtime",
    ]);
    assert!(h.is_empty(), "{h}");
    let out = p.hutch(&[
        "run",
        "--rm",
        "--tz",
        "local",
        "bb",
        "cat",
        "/etc/localtime",
    ]);
    assert!(stdout(&out).starts_with("TZif"), "{}", stderr(&out));
    let (h, q) = p.same(&["create", "--tz", "bogus/zone", "bb", "true"]);
    assert_eq!(h, q);
}

#[test]
fn attach_picks_streams() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let script = "echo out; echo err >&2; exit 4";
    let (h, q) = p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-a",
        "stdout",
        "bb",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!((h.as_str(), q.as_str()), ("", ""));
    let (h, _) = p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--attach",
        "stderr",
        "bb",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(h, "err\n");
    let (h, q) = p.same(&["run", "--rm", "-a", "bogus", "bb", "true"]);
    assert_eq!(h, q);
}

/// `save ID` writes no name (RepoTags empty), so `load` gives
/// `<none>:<none>` and says `Loaded image: sha256:ID`, as Podman does.
#[test]
fn save_by_id_then_load_has_no_name() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for (who, run) in [("hutch", true), ("podman", false)] {
        let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
        let id = stdout(&call(&["images", "-q", "bb"])).trim().to_owned();
        assert_eq!(id.len(), 12, "{who}: {id}");
        let tar = p.env.home.join(format!("saved-{who}.tar"));
        let tar = tar.to_string_lossy().into_owned();
        let out = call(&["save", "-o", &tar, &id]);
        assert!(out.status.success(), "{who} save: {}", stderr(&out));
        assert!(call(&["rmi", "bb"]).status.success(), "{who} rmi");
        let out = call(&["load", "-i", &tar]);
        assert!(out.status.success(), "{who} load: {}", stderr(&out));
        let said = stdout(&out);
        assert!(
            said.starts_with(&format!("Loaded image: sha256:{id}")),
            "{who}: {said}"
        );
        let listed = stdout(&call(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
        assert_eq!(listed.trim(), "<none>:<none>", "{who}");
    }
}

/// Options end at the image, as cobra's do for Podman: `-c` after it is
/// the command's, not `--cpu-shares`; `--cap-add`/`--cap-drop` take comma
/// lists.
#[test]
fn options_end_at_the_image_and_capabilities_take_lists() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for run in [true, false] {
        let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
        let out = call(&["create", "--name", "dash", "bb", "-c", "echo hi", "--rm"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    p.same(&["inspect", "--format", "{{.Config.Cmd}}", "dash"]);
    p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cap-add",
        "SYS_TIME,NET_ADMIN",
        "--cap-drop",
        "chown,kill",
        "bb",
        "sh",
        "-c",
        "grep CapEff /proc/self/status",
    ]);
}

/// `inspect`'s `HostConfig.CapAdd`/`CapDrop`: against runtime-tools'
/// defaults (Docker's set), sorted; none either way when privileged.
#[test]
fn inspect_shows_capabilities_added_and_dropped() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for (name, flags) in [
        (
            "capx",
            &["--cap-add", "NET_ADMIN,SYS_TIME", "--cap-drop", "CHOWN"][..],
        ),
        ("capy", &[][..]),
        ("capz", &["--privileged"][..]),
    ] {
        for run in [true, false] {
            let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
            let mut args = vec!["create", "--network", "none", "--name", name];
            args.extend_from_slice(flags);
            args.extend(["bb", "true"]);
            let out = call(&args);
            assert!(out.status.success(), "{}", stderr(&out));
        }
        p.same(&[
            "inspect",
            "--format",
            "{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}}",
            name,
        ]);
    }
}

/// containers.conf's container defaults, the same file read by both:
/// ulimits, umask, capabilities, the UTS namespace, annotations and the
/// stop timeout. (`read_only` is honoured by hutch as Podman 4.4 does;
/// 4.3 ignores it, so it is not compared here.)
#[test]
fn containers_conf_defaults() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.env.write_containers_conf(
        "[containers]\ndefault_ulimits = [\"nofile=500:600\"]\nannotations = [\"conf.note=yes\"]\n\
         umask = \"0077\"\nutsns = \"host\"\npids_limit = 77\n\
         default_capabilities = [\"CHOWN\", \"KILL\", \"NET_RAW\"]\n[engine]\nstop_timeout = 3\n",
    );
    let script = "ulimit -n; umask; grep CapEff /proc/self/status; hostname";
    let (h, q) = p.same(&[
        "run",
        "--name",
        "cc",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(h, q, "no warning from either");
    let (h, _) = p.same(&[
        "inspect",
        "--format",
        "{{.Config.StopTimeout}} {{index .Config.Annotations \"conf.note\"}} {{.Config.Umask}}",
        "cc",
    ]);
    assert!(h.is_empty(), "{h}");
    // Flags win over the file.
    p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=300:400",
        "--cap-add",
        "SETUID",
        "--uts",
        "private",
        "--hostname",
        "h1",
        "bb",
        "sh",
        "-c",
        script,
    ]);
    p.same(&["rm", "cc"]);
}

/// `volume rm --force` of a volume a running container uses: the container
/// is stopped with its stop signal and timeout (warning when it has to
/// kill, as `stop` does), then removed with the volume.
#[test]
fn volume_rm_force_stops_the_user_first() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for run in [true, false] {
        let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
        let out = call(&[
            "run",
            "-d",
            "--name",
            "vu",
            "--network",
            "none",
            "--stop-timeout",
            "1",
            "-v",
            "vol:/data",
            "bb",
            "sleep",
            "100",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // sleep as pid 1 ignores SIGTERM: both wait 1 s, then kill.
    let (h, q) = p.same(&["volume", "rm", "--force", "vol"]);
    for e in [&h, &q] {
        assert!(
            e.contains(
                "StopSignal SIGTERM failed to stop container vu in 1 seconds, resorting to SIGKILL"
            ),
            "{e}"
        );
    }
    p.same(&["ps", "-a", "--format", "{{.Names}}"]);
    p.same(&["volume", "ls", "-q"]);
}

/// A name that exists nowhere, for every command that looks one up: exit
/// code, stdout and stderr as Podman's.
#[test]
fn unknown_objects() {
    let Some(p) = Pair::new() else {
        return;
    };
    let cases: &[&[&str]] = &[
        &["inspect", "bogus"],
        &["container", "inspect", "bogus"],
        &["image", "inspect", "bogus"],
        &["volume", "inspect", "bogus"],
        &["network", "inspect", "bogus"],
        &["pod", "inspect", "bogus"],
        &["secret", "inspect", "bogus"],
        &["rm", "bogus"],
        &["rmi", "bogus"],
        &["volume", "rm", "bogus"],
        &["network", "rm", "bogus"],
        &["pod", "rm", "bogus"],
        &["secret", "rm", "bogus"],
        &["start", "bogus"],
        &["stop", "bogus"],
        &["kill", "bogus"],
        &["restart", "bogus"],
        &["pause", "bogus"],
        &["logs", "bogus"],
        &["wait", "bogus"],
        &["top", "bogus"],
        &["port", "bogus"],
        &["exec", "bogus", "true"],
        &["attach", "bogus"],
        &["export", "bogus"],
        &["commit", "bogus", "x"],
        &["cp", "bogus:/x", "/tmp/"],
        &["rename", "bogus", "x"],
        &["tag", "bogus", "x"],
        &["untag", "bogus"],
        &["save", "bogus"],
        &["history", "bogus"],
        &["healthcheck", "run", "bogus"],
        &["pod", "start", "bogus"],
        &["pod", "stop", "bogus"],
        &["pod", "kill", "bogus"],
        &["pod", "pause", "bogus"],
        &["pod", "restart", "bogus"],
        &["pod", "logs", "bogus"],
        &["pod", "exists", "bogus"],
        &["container", "exists", "bogus"],
        &["image", "exists", "bogus"],
        &["volume", "exists", "bogus"],
        &["network", "exists", "bogus"],
        &["network", "connect", "bogus", "bogus"],
        &["network", "disconnect", "bogus", "bogus"],
        &["generate", "systemd", "bogus"],
        &["generate", "kube", "bogus"],
        &["kube", "generate", "bogus"],
        &["stats", "--no-stream", "bogus"],
        &["pod", "stats", "--no-stream", "bogus"],
    ];
    for args in cases {
        let (h, q) = p.same(args);
        assert_eq!(h, without_mount_warning(&q), "{args:?}: stderr");
    }
}

/// `--format` templates and `--help`-listed flags of the object commands,
/// on objects both made the same way.
#[test]
fn object_commands_and_templates() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.same(&["volume", "create", "--label", "a=b", "v1"]);
    p.same(&[
        "volume",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}",
        "v1",
    ]);
    p.same(&[
        "volume",
        "ls",
        "--filter",
        "label=a=b",
        "--format",
        "{{.Name}} {{.Driver}}",
    ]);
    p.same(&["volume", "exists", "v1"]);
    p.same(&[
        "network",
        "create",
        "--subnet",
        "10.99.7.0/24",
        "--label",
        "k=v",
        "n7",
    ]);
    p.same(&[
        "network",
        "inspect",
        "--format",
        "{{.Name}} {{.Driver}} {{.Labels}} {{.Internal}}",
        "n7",
    ]);
    p.same(&[
        "network",
        "ls",
        "--filter",
        "label=k=v",
        "--format",
        "{{.Name}}",
    ]);
    p.same(&[
        "network",
        "create",
        "--driver",
        "bridge",
        "--ipam-driver",
        "host-local",
        "n8",
    ]);
    let (h, q) = p.same(&["network", "create", "--driver", "bogus", "n9"]);
    assert!(!h.is_empty() && !q.is_empty(), "both refuse: {h}\n{q}");
    p.same_code(&[
        "pod",
        "create",
        "--name",
        "p1",
        "--label",
        "x=y",
        "--infra=false",
    ]);
    p.same(&[
        "pod",
        "inspect",
        "--format",
        "{{.Name}} {{.NumContainers}} {{.Labels}}",
        "p1",
    ]);
    p.same(&[
        "pod",
        "ps",
        "--format",
        "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
    ]);
    p.same(&["pod", "exists", "p1"]);
    p.same_code(&["pod", "rm", "p1"]);
    p.same_code(&[
        "create",
        "--name",
        "c1",
        "--network",
        "none",
        "--label",
        "l=1",
        "bb",
        "true",
    ]);
    p.same(&[
        "ps",
        "-a",
        "--filter",
        "label=l=1",
        "--format",
        "{{.Names}} {{.Image}} {{.Command}} {{.Status}} {{.Labels}}",
    ]);
    p.same(&["container", "exists", "c1"]);
    p.same(&[
        "inspect",
        "--format",
        "{{.Name}} {{.Config.Labels}} {{.State.Status}}",
        "c1",
    ]);
    p.same(&[
        "inspect",
        "--type",
        "container",
        "--format",
        "{{.ImageName}}",
        "c1",
    ]);
    p.same(&["image", "exists", "bb"]);
    p.same(&[
        "image",
        "inspect",
        "--format",
        "{{.RepoTags}} {{.Os}} {{.Architecture}}",
        "bb",
    ]);
    p.same(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "--filter",
        "reference=bb",
    ]);
    p.same(&["tag", "bb", "bb2"]);
    p.same(&["untag", "bb2"]);
    p.same(&["rm", "c1"]);
    p.same(&["volume", "rm", "v1"]);
    p.same(&["network", "rm", "n7", "n8"]);
    p.same(&["volume", "prune", "-f"]);
}

/// `run`/`create` flags hutch added for Podman's scripts: `--umask`,
/// `--label-file`, `--unsetenv`, `--unsetenv-all`, `--cgroupns`,
/// `--disable-content-trust`.
#[test]
fn more_run_flags() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let labels = p.env.home.join("labels");
    std::fs::write(&labels, "# comment\na=1\n\nb=2\n").expect("write labels");
    chown(&labels, p.env.user.uid, p.env.user.gid);
    let labels = labels.to_string_lossy().into_owned();
    p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--umask",
        "0027",
        "--unsetenv",
        "TERM",
        "--cgroupns",
        "private",
        "--disable-content-trust",
        "bb",
        "sh",
        "-c",
        "umask; echo term=$TERM",
    ]);
    // Each prints a new id: only the exit codes compare.
    let args = &[
        "create",
        "--name",
        "lf",
        "--network",
        "none",
        "--label-file",
        &labels,
        "--label",
        "b=3",
        "bb",
        "true",
    ];
    for out in [p.hutch(args), p.podman(args)] {
        assert!(out.status.success(), "{}", stderr(&out));
    }
    p.same(&[
        "inspect",
        "--format",
        "{{.Config.Labels}} {{.Config.Umask}}",
        "lf",
    ]);
    // `--unsetenv-all`: no image or default variables (hutch keeps PATH:
    // docs/compat.md), `-e` still applies.
    let out = p.hutch(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--unsetenv-all",
        "-e",
        "A=b",
        "bb",
        "sh",
        "-c",
        "echo term=$TERM a=$A",
    ]);
    assert_eq!(stdout(&out), "term= a=b\n", "{}", stderr(&out));
    let (h, q) = p.same(&["create", "--umask", "999", "bb", "true"]);
    assert_eq!(h, q);
    p.same(&["rm", "lf"]);
}

/// `volume export`/`import`/`mount`/`unmount`: the same archive entries
/// and owners, each reads the other's archive, the same errors and codes.
#[test]
fn volume_export_import_mount() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let tars = p.env.root.join("tars");
    std::fs::create_dir(&tars).expect("tars dir");
    chown(&tars, p.env.user.uid, p.env.user.gid);
    let listing = |tar: &std::path::Path| {
        let out = Command::new("tar")
            .arg("-tvf")
            .arg(tar)
            .output()
            .expect("run tar");
        assert!(out.status.success(), "tar -tvf {tar:?}: {}", stderr(&out));
        // mode, owner and name; not the times.
        let mut rows: Vec<String> = stdout(&out)
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                format!("{} {} {}", w[0], w[1], w[w.len() - 1])
            })
            .collect();
        rows.sort();
        rows
    };
    let mut lists = Vec::new();
    for (run, name) in [(true, "hutch.tar"), (false, "podman.tar")] {
        let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
        let out = call(&["volume", "create", "v1"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let out = call(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "v1:/d",
            "bb",
            "sh",
            "-c",
            "echo hi > /d/f; mkdir /d/sub; echo x > /d/sub/g; chown 7:8 /d/sub/g; ln -s /etc/passwd /d/l",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let file = tars.join(name);
        let out = call(&["volume", "export", "v1", "-o", &file.display().to_string()]);
        assert!(out.status.success(), "{}", stderr(&out));
        lists.push(listing(&file));
    }
    assert_eq!(
        lists[0], lists[1],
        "hutch's archive (left) and podman's (right)"
    );
    assert!(
        lists[0].iter().any(|r| r == "-rw-r--r-- 7/8 sub/g"),
        "{:?}",
        lists[0]
    );

    p.same(&["volume", "export", "nope"]);
    p.same(&["volume", "create", "v2"]);
    p.same(&["volume", "create", "v3"]);
    // Each imports the other's archive.
    let h = tars.join("hutch.tar").display().to_string();
    let q = tars.join("podman.tar").display().to_string();
    let out = p.hutch(&["volume", "import", "v2", &q]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.podman(&["volume", "import", "v2", &h]);
    assert!(out.status.success(), "{}", stderr(&out));
    p.same(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "v2:/d",
        "bb",
        "sh",
        "-c",
        "find /d | sort; stat -c '%u:%g %n' /d/sub/g; readlink /d/l; cat /d/f",
    ]);
    p.same(&["volume", "import", "nope", &h]);
    p.same(&["volume", "import", "v3", "/nonexistent.tar"]);
    p.same(&["volume", "unmount", "v1"]);
    p.same(&["volume", "unmount", "nope"]);
    // Rootless: only inside the namespace (the error names each program).
    let (hm, pm) = p.same(&["volume", "mount", "v1"]);
    assert!(hm.contains("must execute `hutch unshare` first"), "{hm}");
    assert!(pm.contains("must execute `podman unshare` first"), "{pm}");
    let bin = hutch_bin().display().to_string();
    let out = p.hutch(&["unshare", &bin, "volume", "mount", "v1"]);
    assert!(
        out.status.success() && stdout(&out).trim().ends_with("/volumes/v1/_data"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// `network reload`: ids of containers on user networks, Podman's refusals
/// for the others, `--all` passing over what it cannot reload.
#[test]
fn network_reload() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for run in [true, false] {
        let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
        for args in [
            &["network", "create", "rn"][..],
            &[
                "create",
                "--name",
                "made",
                "--network",
                "rn",
                "bb",
                "sleep",
                "100",
            ],
            &[
                "run",
                "-d",
                "--name",
                "on",
                "--network",
                "rn",
                "bb",
                "sleep",
                "100",
            ],
            &[
                "run",
                "-d",
                "--name",
                "none",
                "--network",
                "none",
                "bb",
                "sleep",
                "100",
            ],
            &[
                "run",
                "-d",
                "--name",
                "slirp",
                "--network",
                "slirp4netns",
                "bb",
                "sleep",
                "100",
            ],
        ] {
            let out = call(args);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        }
    }
    let id = stdout(&p.hutch(&["inspect", "--format", "{{.Id}}", "on"]));
    let (h, _) = p.same(&["network", "reload", "made"]);
    assert!(h.contains("container state improper"), "{h}");
    p.same_code(&["network", "reload", "none"]);
    p.same(&["network", "reload", "slirp"]);
    p.same(&["network", "reload", "nope"]);
    p.same(&["network", "reload"]);
    let out = p.hutch(&["network", "reload", "on"]);
    assert_eq!(stdout(&out), id, "{}", stderr(&out));
    let out = p.hutch(&["network", "reload", "--all"]);
    assert_eq!(stdout(&out), id, "{}", stderr(&out));
    assert_eq!(
        stdout(&p.podman(&["network", "reload", "--all"]))
            .lines()
            .count(),
        1
    );
    for run in [true, false] {
        let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
        call(&["rm", "-f", "-t", "0", "made", "on", "none", "slirp"]);
    }
}

/// `image tree` (and `--whatrequires`) of a chain of committed images: the
/// same branches and "Top Layer of" names as podman's; ids and sizes
/// differ between the stores and are masked.
#[test]
fn image_tree() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for run in [true, false] {
        let call = |args: &[&str]| if run { p.hutch(args) } else { p.podman(args) };
        for (base, name) in [("bb", "two"), ("localhost/two", "three")] {
            let c = format!("mk-{name}");
            let out = call(&[
                "run",
                "--name",
                &c,
                "--network",
                "none",
                base,
                "sh",
                "-c",
                &format!("echo > /{name}"),
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
            let out = call(&["commit", "-q", &c, name]);
            assert!(out.status.success(), "{}", stderr(&out));
            call(&["rm", &c]);
        }
    }
    let masked = |text: String| {
        text.lines()
            .map(|l| {
                let mut w: Vec<String> = l.split_whitespace().map(str::to_owned).collect();
                for i in 0..w.len() {
                    if (w[i] == "ID:" || w[i] == "Size:") && i + 1 < w.len() {
                        w[i + 1] = "X".to_owned();
                    }
                }
                w.join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in [
        &["image", "tree", "localhost/three"][..],
        &["image", "tree", "--whatrequires", "localhost/two"],
        &["image", "tree", "nope"],
    ] {
        let (h, q) = (p.hutch(args), p.podman(args));
        assert_eq!(h.status.code(), q.status.code(), "{args:?}: {}", stderr(&h));
        assert_eq!(masked(stdout(&h)), masked(stdout(&q)), "{args:?}");
    }
    let out = stdout(&p.hutch(&["image", "tree", "localhost/three"]));
    assert!(
        out.contains("Top Layer of: [localhost/two:latest]")
            && out.contains("└── ID: ")
            && out.lines().filter(|l| l.contains("── ID: ")).count() >= 3,
        "{out}"
    );
}
#[path = "compat/aliases.rs"]
mod aliases;
#[path = "compat/apinet.rs"]
mod apinet;
#[path = "compat/ckpt.rs"]
mod ckpt;
#[path = "compat/clone.rs"]
mod clone;
#[path = "compat/cmds.rs"]
mod cmds;
#[path = "compat/inspect.rs"]
mod inspect;
#[path = "compat/manifest.rs"]
mod manifest;
#[path = "compat/podupd.rs"]
mod podupd;
#[path = "compat/prune.rs"]
mod prune;
#[path = "compat/runnet.rs"]
mod runnet;
#[path = "compat/runres.rs"]
mod runres;
#[path = "compat/search.rs"]
mod search;
