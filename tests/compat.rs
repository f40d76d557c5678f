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
