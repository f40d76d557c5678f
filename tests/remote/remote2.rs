//! The remote client's second round (issue 18): `system df`/`prune`,
//! `pod top`/`stats`/`logs`, `attach -l` and `manifest` carried over the
//! libpod API as `podman --remote` 4.3.1 carries them, outputs compared
//! with the local command's run on the service's store; and what Podman's
//! remote client refuses (`system reset`, `mount`, `container cleanup`,
//! `container clone`, `manifest annotate`...) refused in its words.

use std::io::{BufRead, BufReader};
use std::process::Output;

use super::*;

/// A service (its store holds "busybox") and a client of the same user
/// with its own home: the set-up each test here starts from.
struct Remote {
    server: Server,
    _svc: common::api::Service,
    client: TestEnv,
    url: String,
}

impl Remote {
    fn start() -> Remote {
        let server = Server(busybox_env(&[]));
        let (svc, sock) = serve_default(&server.0);
        Remote {
            server,
            _svc: svc,
            client: client(),
            url: format!("unix://{}", sock.display()),
        }
    }

    /// The service's user, running commands locally on its store.
    fn local(&self) -> &TestEnv {
        &self.server.0
    }

    fn args(&self, args: &[&str]) -> Vec<String> {
        ["--url", self.url.as_str()]
            .iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.client.run(self.args(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        self.client.ok(self.args(args))
    }

    /// Remote and local agree on stdout, stderr and the exit code.
    fn same(&self, args: &[&str]) -> String {
        let remote = self.run(args);
        let local = self.local().run(args);
        assert_eq!(
            remote.status.code(),
            local.status.code(),
            "{args:?}: remote {} / local {}",
            stderr(&remote),
            stderr(&local)
        );
        assert_eq!(stdout(&remote), stdout(&local), "{args:?}");
        assert_eq!(stderr(&remote), stderr(&local), "{args:?}");
        stdout(&remote)
    }

    /// `args` refused remotely: 125 and exactly `message`.
    fn refused(&self, args: &[&str], message: &str) {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), format!("Error: {message}\n"), "{args:?}");
    }
}

#[test]
fn remote2_system_df_prune_and_what_podman_refuses() {
    let r = Remote::start();
    // A created pod's infra container is not pruned on its own (Podman
    // passes over it).
    r.ok(&["pod", "create", "--name", "idle"]);
    let out = r.run(&["run", "--name", "gone", "busybox", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gone = r
        .local()
        .ok(["inspect", "--format", "{{.Id}}", "gone"])
        .trim()
        .to_owned();
    let df = r.same(&["system", "df"]);
    assert!(df.starts_with("TYPE"), "{df}");
    r.same(&["system", "df", "--format", "json"]);
    r.same(&["system", "df", "--format", "{{.Type}} {{.Total}} {{.Size}}"]);
    let verbose = r.ok(&["system", "df", "-v"]);
    assert!(
        verbose.contains("Containers space usage:") && verbose.contains("gone"),
        "{verbose}"
    );
    r.same(&["system", "info", "--format", "{{.Store.GraphRoot}}"]);
    // An unknown filter: the service's words are the local ones.
    r.same(&["system", "prune", "-f", "--filter", "bogus=1"]);
    let pruned = r.ok(&["system", "prune", "-f"]);
    assert!(
        pruned.starts_with(&format!("Deleted Containers\n{gone}\n"))
            && pruned.contains("Total reclaimed space: "),
        "{pruned}"
    );
    let left = r.local().ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!left.contains("gone"), "pruned on the service: {left}");
    r.local().ok(["pod", "exists", "idle"]);
    for (args, path) in [
        (&["system", "reset", "-f"][..], "system reset"),
        (&["system", "migrate"], "system migrate"),
        (&["system", "renumber"], "system renumber"),
        (&["mount", "x"], "mount"),
        (&["container", "mount", "x"], "container mount"),
        (&["umount", "x"], "unmount"),
        (&["container", "unmount", "x"], "container unmount"),
        (&["container", "cleanup", "x"], "container cleanup"),
        (&["image", "mount", "busybox"], "image mount"),
        (&["unshare", "true"], "unshare"),
        (
            &["manifest", "annotate", "--arch", "arm64", "l", "sha256:0"],
            "manifest annotate",
        ),
    ] {
        r.refused(
            args,
            &format!("cannot use command \"hutch {path}\" with the remote hutch client"),
        );
    }
    let out = r.run(&["push", "--sign-by", "k", "busybox", "127.0.0.1:1/x:y"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("the key is the client's"),
        "{}",
        stderr(&out)
    );
    r.refused(
        &["container", "clone", "x"],
        "cloning a container is not supported on the remote client",
    );
    no_local_traces(&r.client);
}

#[test]
fn remote2_pod_logs_top_stats_and_attach_latest() {
    let r = Remote::start();
    r.ok(&["pod", "create", "--name", "p"]);
    r.ok(&[
        "run",
        "-d",
        "--pod",
        "p",
        "--name",
        "pa",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two >&2; sleep 60",
    ]);
    r.ok(&[
        "run",
        "-d",
        "--pod",
        "p",
        "--name",
        "pb",
        "busybox",
        "sh",
        "-c",
        "echo three",
    ]);
    assert!(
        wait_until(Duration::from_secs(10), || {
            let logs = r.local().run(["pod", "logs", "p"]);
            stdout(&logs).contains("one") && stdout(&logs).contains("three")
        }),
        "the pod's containers never logged"
    );
    let logs = r.same(&["pod", "logs", "p"]);
    assert!(logs.lines().count() == 2, "each line prefixed: {logs}");
    r.same(&["pod", "logs", "-c", "pa", "p"]);
    r.same(&["pod", "logs", "--names", "--tail", "1", "p"]);
    r.same(&["pod", "logs", "-l"]);
    r.same(&["pod", "logs", "-c", "nosuch", "p"]);
    r.same(&["pod", "logs"]);
    let top = r.same(&["pod", "top", "p", "pid", "comm"]);
    assert!(top.contains("sleep"), "{top}");
    r.same(&["pod", "top", "-l", "pid"]);
    r.same(&["pod", "stats", "--no-stream", "--format", "{{.Name}}", "p"]);
    r.same(&["pod", "stats", "-a", "-l"]);
    // attach -l: the container the service made last; its output from
    // the attach on, then its exit code.
    r.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do echo tick; sleep 0.2; done; echo done; exit 3",
    ]);
    let mut child = r
        .client
        .hutch(r.args(&["attach", "-l", "--no-stdin"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start attach");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("read");
    assert_eq!(first, "tick", "attached output");
    r.ok(&["exec", "ticker", "touch", "/tmp/go"]);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("attach ends");
    assert_eq!(status.code(), Some(3), "the container's code");
    assert_eq!(rest.last().map(String::as_str), Some("done"), "{rest:?}");
    no_local_traces(&r.client);
}

#[test]
fn remote2_manifest_lists_as_locally() {
    let r = Remote::start();
    let Some(reg) = Registry::start(&r.local().root.join("registry"), None) else {
        return;
    };
    let id = r.ok(&["manifest", "create", "ml"]);
    assert!(is_hex_id(id.trim()), "{id}");
    r.same(&["manifest", "inspect", "ml"]);
    r.same(&["manifest", "exists", "ml"]);
    r.same(&["manifest", "exists", "nosuch"]);
    let added = r.ok(&["manifest", "add", "ml", "busybox"]);
    assert_eq!(added, id, "add prints the list's id");
    let shown = r.same(&["manifest", "inspect", "ml"]);
    let v: serde_json::Value = serde_json::from_str(&shown).expect("inspect is JSON");
    let digest = v["manifests"][0]["digest"]
        .as_str()
        .expect("an instance")
        .to_owned();
    assert_eq!(r.ok(&["manifest", "remove", "ml", &digest]), id);
    let empty = r.same(&["manifest", "inspect", "ml"]);
    assert!(empty.contains("\"manifests\": null"), "{empty}");
    r.same(&["manifest", "remove", "ml", &digest]);
    r.ok(&["manifest", "add", "ml", "containers-storage:busybox"]);
    // push: to the registry, the digest written here; --rm drops the list.
    let dest = format!("{}/remote/ml:latest", reg.address());
    let digestfile = r.client.home.join("ml.digest");
    let out = r.run(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "--digestfile",
        digestfile.to_str().unwrap(),
        "--rm",
        "ml",
        &dest,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pushed = fs::read_to_string(&digestfile).expect("digest file here");
    assert!(pushed.starts_with("sha256:"), "{pushed}");
    assert_eq!(
        r.run(&["manifest", "exists", "ml"]).status.code(),
        Some(1),
        "--rm removed the list"
    );
    r.local().ok(["pull", "--tls-verify=false", &dest]);
    // The signing flags name the client's key: refused, not dropped.
    let out = r.run(&[
        "manifest",
        "push",
        "--sign-by",
        "k",
        "--tls-verify=false",
        "ml",
        &dest,
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("the key is the client's"),
        "{}",
        stderr(&out)
    );
    // rm: lists only, as locally.
    r.ok(&["manifest", "create", "ml2", "busybox"]);
    let rm = r.ok(&["manifest", "rm", "ml2"]);
    assert!(
        rm.starts_with("Untagged: localhost/ml2:latest\nDeleted: "),
        "{rm}"
    );
    r.same(&["manifest", "rm", "ml2"]);
    r.same(&["manifest", "rm", "busybox"]);
    r.local().ok(["image", "exists", "busybox"]);
    no_local_traces(&r.client);
}

/// `ps` prints the service's list as the local `ps` prints its own: the
/// same columns, order and words (times within a second of each other).
#[test]
fn remote2_ps_prints_as_local() {
    let r = Remote::start();
    let local = r.local();
    local.ok([
        "create",
        "--name",
        "p1",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    let exited = local.run([
        "run",
        "--name",
        "p2",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "exit 4",
    ]);
    assert_eq!(exited.status.code(), Some(4));
    local.ok([
        "run",
        "-d",
        "--name",
        "p3",
        "--network",
        "none",
        "busybox",
        "sleep",
        "60",
    ]);
    let format = "{{.Names}}|{{.Image}}|{{.Command}}|{{.Ports}}|{{.ExitCode}}|{{.Pod}}";
    r.same(&["ps", "-a", "--format", format]);
    r.same(&["ps", "-a", "-q"]);
    let table = r.ok(&["ps", "-a"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID  IMAGE"), "{table}");
    assert!(
        lines[1].ends_with(" p1") && lines[1].contains(" Created "),
        "{table}"
    );
    assert!(
        lines[2].contains(" Exited (4) ") && lines[2].ends_with(" p2"),
        "{table}"
    );
    assert!(
        lines[3].contains(" Up ") && lines[3].ends_with(" p3"),
        "{table}"
    );
    assert!(!table.contains("years ago"), "{table}");
    r.refused(
        &["ps", "--ns"],
        "hutch --remote ps: --ns is not supported by the remote client",
    );
    local.ok(["rm", "-f", "-t", "0", "p3"]);
}
