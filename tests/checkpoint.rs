//! `container checkpoint` and `container restore` (docs/checkpoint.md).
//!
//! Rootless: the user gets one error naming what is missing (CRIU's file
//! capability, the runtime's checkpoint support, CRIU itself), exit 125,
//! and the container keeps running. Rootful (as root, on a store of the
//! test's own): a counter is checkpointed, shows as exited and
//! checkpointed, is restored and counts on in its log; then the same
//! through an exported archive. Where CRIU or the runtime cannot
//! checkpoint on this host, the rootful tests check that hutch says
//! exactly why (and leaves the container running), then skip the round
//! trip with that reason. A `restore --import` killed at random moments
//! leaves no unpacked archive and no container behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::images::*;
use common::*;

const COUNTER: &str = "i=0; while :; do echo $i; i=$((i+1)); sleep 0.2; done";

/// Why checkpointing cannot work here, each reason as hutch must say it;
/// empty when it can. Asked of the host directly, not of hutch.
fn host_cannot_checkpoint(runtime: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    let criu = ["/usr/sbin/criu", "/usr/bin/criu", "/sbin/criu"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    let supported = Command::new(runtime)
        .args(["checkpoint", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !supported {
        reasons.push(format!("OCI runtime {runtime} "));
        reasons.push("has no checkpoint/restore support".into());
    }
    let Some(criu) = criu else {
        reasons.push("CRIU is not installed".into());
        return reasons;
    };
    let out = Command::new(&criu)
        .arg("check")
        .output()
        .expect("criu check");
    if !out.status.success() {
        // CRIU's first error line, as hutch quotes it.
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let first = text
            .lines()
            .find(|l| l.contains("Error"))
            .map(|l| l.split_once("): ").map_or(l, |(_, m)| m).to_owned())
            .unwrap_or(text.trim().to_owned());
        reasons.push("fails its own check (criu check)".into());
        reasons.push(first);
    }
    reasons
}

/// The runtime the container suites run under (tests/run's matrix).
fn test_runtime() -> String {
    std::env::var("HUTCH_TEST_RUNTIME")
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "crun".into())
}

fn error_lines(out: &Output) -> usize {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("Error:"))
        .count()
}

/// The counter's last logged number.
fn last_count(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| l.trim().parse().ok())
}

/// Waits until the container's log has a number past `after`.
fn counts_past(logs: impl Fn() -> String, after: u64) -> bool {
    wait_until(Duration::from_secs(20), || {
        last_count(&logs()).is_some_and(|n| n > after)
    })
}

#[test]
fn rootless_checkpoint_says_what_is_missing_and_leaves_the_container_running() {
    let env = busybox_env(&[]);
    env.ok([
        "run", "-d", "--name", "count", "busybox", "sh", "-c", COUNTER,
    ]);
    assert!(counts_past(|| env.ok(["logs", "count"]), 1));

    let out = env.run(["container", "checkpoint", "count"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let said = stderr(&out);
    assert_eq!(error_lines(&out), 1, "one clear error: {said}");
    assert!(said.contains("rootless"), "{said}");
    // Each missing piece named, with its fix, as the host has it.
    let criu = ["/usr/sbin/criu", "/usr/bin/criu"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    match criu {
        None => assert!(said.contains("apt-get install criu"), "{said}"),
        Some(path) => {
            let caps = Command::new("getcap").arg(path).output();
            let has_cap = caps.is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains("cap_checkpoint_restore")
            });
            if !has_cap {
                assert!(said.contains("CAP_CHECKPOINT_RESTORE"), "{said}");
                assert!(
                    said.contains(&format!("setcap cap_checkpoint_restore+eip {path}")),
                    "{said}"
                );
            }
        }
    }
    // The runtime's lack is named too (CRIU's own check needs the
    // capability first).
    let reasons = host_cannot_checkpoint(&test_runtime());
    for r in reasons.iter().take_while(|r| !r.contains("criu check")) {
        if !r.contains("CRIU is not installed") {
            assert!(said.contains(r.as_str()), "{said} lacks {r}");
        }
    }
    // Nothing changed: still running, still counting, not checkpointed.
    assert_eq!(
        env.ok(["inspect", "--format", "{{.State.Status}}", "count"])
            .trim(),
        "running"
    );
    let now = last_count(&env.ok(["logs", "count"])).expect("a count");
    assert!(counts_past(|| env.ok(["logs", "count"]), now));
    let state = env.ok(["inspect", "count"]);
    assert!(!state.contains("\"Checkpointed\""), "{state}");
    // Left out of the JSON while false, as libpod's omitempty does, yet
    // `false` to a template, as Podman's struct is.
    assert_eq!(
        env.ok([
            "inspect",
            "--format",
            "{{.State.Checkpointed}} {{.State.Restored}}",
            "count"
        ])
        .trim(),
        "false false"
    );

    // Restore refuses a running container, and one without a checkpoint.
    let out = env.run(["container", "restore", "count"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("cannot restore"), "{}", stderr(&out));
    env.ok(["stop", "-t", "0", "count"]);
    let out = env.run(["container", "restore", "count"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("a complete checkpoint for container"),
        "{}",
        stderr(&out)
    );
    // Flags that go with --import (or a checkpoint image) only, in
    // Podman's words.
    let out = env.run(["container", "restore", "--name", "x", "count"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--name can only be used with image or --import"));
}

/// With `cap_checkpoint_restore` on CRIU (a copy first in PATH), the
/// rootless error no longer asks for it: hutch reads the capability from
/// inside its user namespace and goes on to ask CRIU itself.
#[test]
fn rootless_checkpoint_sees_criu_s_file_capability() {
    if !is_root() {
        eprintln!("skipped: setting a file capability needs root");
        return;
    }
    let Some(criu) = ["/usr/sbin/criu", "/usr/bin/criu"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
    else {
        eprintln!("skipped: CRIU is not installed");
        return;
    };
    let mut env = busybox_env(&[]);
    let bin = env.root.join("capbin");
    std::fs::create_dir(&bin).expect("dir");
    let copy = bin.join("criu");
    std::fs::copy(criu, &copy).expect("copy criu");
    let set = Command::new("setcap")
        .arg("cap_checkpoint_restore+eip")
        .arg(&copy)
        .status();
    if !set.is_ok_and(|s| s.success()) {
        eprintln!("skipped: setcap failed on {}", copy.display());
        return;
    }
    env.vars.push((
        "PATH".into(),
        format!(
            "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            bin.display()
        ),
    ));
    env.ok([
        "run", "-d", "--name", "count", "busybox", "sh", "-c", COUNTER,
    ]);
    let out = env.run(["container", "checkpoint", "count"]);
    let said = stderr(&out);
    assert!(!said.contains("CAP_CHECKPOINT_RESTORE"), "{said}");
    if out.status.success() {
        // CRIU worked rootless here: the container was checkpointed.
        assert!(env.ok(["container", "restore", "count"]).contains("count"));
    } else {
        assert_eq!(out.status.code(), Some(125), "{said}");
        assert_eq!(error_lines(&out), 1, "{said}");
        assert!(said.contains("rootless"), "{said}");
        // What is left to say is the runtime's or CRIU's own.
        assert!(
            said.contains("(criu check)") || said.contains("checkpoint/restore support"),
            "{said}"
        );
        assert_eq!(
            env.ok(["inspect", "--format", "{{.State.Status}}", "count"])
                .trim(),
            "running"
        );
    }
}

/// `hutch --root R --runroot R2 ARGS` as root: a store of the test's own.
struct Rootful {
    env: TestEnv,
}

impl Rootful {
    fn new() -> Option<Rootful> {
        let root = TestUser::root()?;
        let env = TestEnv::new(root);
        let r = Rootful { env };
        let tar = write_readable(&r.env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
        r.ok(&[
            "import",
            "--change",
            "CMD=/bin/sh",
            tar.to_str().expect("path"),
            "busybox",
        ]);
        Some(r)
    }

    fn args(&self, args: &[&str]) -> Vec<String> {
        let storage = self.env.root.join("storage");
        let run = self.env.root.join("run");
        let mut all = vec![
            "--root".to_owned(),
            storage.display().to_string(),
            "--runroot".to_owned(),
            run.display().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }

    fn run(&self, args: &[&str]) -> Output {
        self.env.run(self.args(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        self.env.ok(self.args(args))
    }

    /// A detached counter, rootful: no network (pasta refuses root) and
    /// the host's rlimits (root here may lack CAP_SYS_RESOURCE to raise
    /// them). `Err` with the runtime's words when it cannot run at all.
    fn counter(&self, name: &str) -> Result<(), String> {
        // Root reads no user containers.conf: the matrix's runtime is
        // named on the command line.
        let runtime = test_runtime();
        let out = self.run(&[
            "run",
            "-d",
            "--name",
            name,
            "--runtime",
            &runtime,
            "--network",
            "none",
            "--ulimit",
            "host",
            "busybox",
            "sh",
            "-c",
            COUNTER,
        ]);
        if out.status.success() {
            Ok(())
        } else {
            Err(stderr(&out))
        }
    }

    fn logs(&self, name: &str) -> String {
        self.ok(&["logs", name])
    }
}

impl Drop for Rootful {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-a", "-f", "-t", "0"]);
    }
}

#[test]
fn rootful_checkpoint_and_restore_continue_the_counter() {
    let Some(r) = Rootful::new() else {
        eprintln!("skipped: rootful checkpoint needs root");
        return;
    };
    if let Err(e) = r.counter("count") {
        eprintln!(
            "skipped: a rootful container cannot run here with {}: {e}",
            test_runtime()
        );
        return;
    }
    assert!(counts_past(|| r.logs("count"), 2));

    let reasons = host_cannot_checkpoint(&test_runtime());
    if !reasons.is_empty() {
        let reason = reasons.join(" | ");
        // hutch says exactly that, once, and the container runs on.
        let out = r.run(&["container", "checkpoint", "count"]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert_eq!(error_lines(&out), 1, "{}", stderr(&out));
        for r in &reasons {
            assert!(
                stderr(&out).contains(r.as_str()),
                "{} lacks {r}",
                stderr(&out)
            );
        }
        let now = last_count(&r.logs("count")).expect("a count");
        assert!(counts_past(|| r.logs("count"), now), "still counting");
        assert_eq!(
            r.ok(&["inspect", "--format", "{{.State.Status}}", "count"])
                .trim(),
            "running"
        );
        eprintln!(
            "skipped: the checkpoint/restore round trip: checkpointing cannot work on this host with {}: {reason}",
            test_runtime()
        );
        return;
    }

    r.ok(&["container", "checkpoint", "count"]);
    let before = last_count(&r.logs("count")).expect("a count before");
    let state = r.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.Checkpointed}}",
        "count",
    ]);
    assert_eq!(state.trim(), "exited true");
    let status = r.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(status.starts_with("Exited (0)"), "{status}");
    // Nothing counts while it is checkpointed.
    assert_eq!(last_count(&r.logs("count")), Some(before));

    r.ok(&["container", "restore", "count"]);
    assert_eq!(
        r.ok(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Restored}}",
            "count"
        ])
        .trim(),
        "running true"
    );
    // It counts on from where it stopped, never from 0 again.
    assert!(counts_past(|| r.logs("count"), before + 2));
    let log = r.logs("count");
    let numbers: Vec<u64> = log.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert_eq!(numbers.iter().filter(|n| **n == 0).count(), 1, "{log}");
    assert!(numbers.contains(&(before + 1)), "{log}");
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{log}");
}

#[test]
fn rootful_export_and_import_round_trip() {
    let Some(r) = Rootful::new() else {
        eprintln!("skipped: rootful checkpoint needs root");
        return;
    };
    let reasons = host_cannot_checkpoint(&test_runtime());
    if !reasons.is_empty() {
        let reason = reasons.join(" | ");
        // An import on such a host makes nothing: no container, no
        // unpacked archive.
        let archive = junk_archive(&r.env.root, 1);
        let out = r.run(&[
            "container",
            "restore",
            "--import",
            archive.to_str().expect("path"),
        ]);
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert!(r.ok(&["ps", "-a", "-q"]).trim().is_empty());
        assert!(leftover_imports(&r.env.root).is_empty());
        eprintln!(
            "skipped: the export/import round trip: checkpointing cannot work on this host with {}: {reason}",
            test_runtime()
        );
        return;
    }
    if let Err(e) = r.counter("count") {
        eprintln!("skipped: a rootful container cannot run here: {e}");
        return;
    }
    assert!(counts_past(|| r.logs("count"), 2));
    r.ok(&["exec", "count", "sh", "-c", "echo kept > /kept"]);
    let archive = r.env.root.join("count.tar.gz");
    r.ok(&[
        "container",
        "checkpoint",
        "--export",
        archive.to_str().expect("path"),
        "--compress",
        "gzip",
        "count",
    ]);
    let before = last_count(&r.logs("count")).expect("a count");
    // Podman's layout.
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .expect("tar");
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    for entry in [
        "config.dump",
        "spec.dump",
        "checkpoint/inventory.img",
        "rootfs-diff.tar",
    ] {
        assert!(
            listing.lines().any(|l| l.trim_start_matches("./") == entry),
            "{entry} in {listing}"
        );
    }
    r.ok(&["rm", "count"]);
    let id = r.ok(&[
        "container",
        "restore",
        "--import",
        archive.to_str().expect("path"),
        "--name",
        "again",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(r.ok(&["exec", "again", "cat", "/kept"]).trim(), "kept");
    assert!(counts_past(|| r.logs("again"), before + 2));
}

/// An archive whose unpacking takes a moment (`mb` MiB of images) and whose
/// config is not one: every import of it fails, after the unpacking.
fn junk_archive(dir: &Path, mb: usize) -> PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).expect("entry");
    };
    add("config.dump", b"{\"not\": \"a config\"}");
    add("checkpoint/inventory.img", b"inventory");
    for i in 0..mb {
        add(&format!("checkpoint/pages-{i}.img"), &vec![7u8; 1 << 20]);
    }
    write_readable(dir, "junk.tar", &b.into_inner().expect("tar"))
}

/// Unpacked archives (`.checkpoint-import-*`) anywhere under `root`.
fn leftover_imports(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_name()
                .to_string_lossy()
                .starts_with(".checkpoint-import-")
            {
                found.push(p);
            } else if e.file_type().is_ok_and(|t| t.is_dir() && !t.is_symlink()) {
                dirs.push(p);
            }
        }
    }
    found
}

#[test]
fn an_import_killed_anywhere_leaves_nothing_behind() {
    let env = busybox_env(&[]);
    let archive = junk_archive(&env.root, 24);
    let path = archive.to_str().expect("path");
    // Unkilled, it fails and leaves nothing.
    let out = env.run(["container", "restore", "--import", path]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(leftover_imports(&env.root).is_empty());
    let mut killed_mid_way = 0;
    for delay_ms in [5u64, 20, 40, 80, 120, 200] {
        let mut child = env
            .hutch(["container", "restore", "--import", path])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_millis(delay_ms);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(1));
        }
        if matches!(child.try_wait(), Ok(None)) {
            killed_mid_way += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        // The next command accepts the state, and no container was made.
        assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
    }
    // Whatever the kills left unpacked, the next import removes.
    let out = env.run(["container", "restore", "--import", path]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        leftover_imports(&env.root).is_empty(),
        "{:?}",
        leftover_imports(&env.root)
    );
    assert!(killed_mid_way > 0, "no import was killed while it ran");
}
