//! Issue 17: 100 mixed CLI calls started at once in one store (`run --rm`,
//! `run -d` of one name, `rm -f -a`, `rm -f` of that name, `ps -a`, `pull`
//! from a local registry, `rmi`), each with the outcome it must have: one holder of the name at a
//! time, no failure of `-f` on what another call removed, no "database is
//! locked", and a consistent store afterwards.

mod common;

use std::process::{Child, Output, Stdio};

use common::images::*;
use common::registry::Registry;
use common::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    RunRm,
    RunName,
    RmAll,
    RmName,
    Ps,
    Pull,
    Rmi,
}

const NAME: &str = "solo";

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn spawn(env: &TestEnv, args: &[String]) -> Child {
    env.hutch(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hutch")
}

fn show(kind: Kind, args: &[String], out: &Output) -> String {
    format!(
        "{kind:?} `hutch {}` exited {:?}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

#[test]
fn a_hundred_mixed_calls_at_once() {
    let mut env = busybox_env(&[]);
    let Some(reg) = Registry::start(&env.root.join("registry"), None) else {
        return;
    };
    let conf = write_readable(
        &env.root,
        "registries.conf",
        format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            reg.address()
        )
        .as_bytes(),
    );
    env.vars.push((
        "CONTAINERS_REGISTRIES_CONF".into(),
        conf.display().to_string(),
    ));

    // An image of its own in the registry (so that the pulls download
    // layers), absent from the store when the calls start.
    let remote = format!("{}/conc/layered:latest", reg.address());
    let layers = vec![
        busybox_rootfs(),
        layer(&[Entry::Dir("data"), Entry::File("data/x", b"concurrency\n")]),
    ];
    let archive = write_readable(&env.root, "layered.tar", &docker_archive(&layers, &remote));
    env.ok(["load", "-i", archive.to_str().expect("utf-8 path")]);
    env.ok(["push", &remote]);
    env.ok(["rmi", &remote]);
    // Tags that one `rmi` each removes.
    for i in 0..10 {
        env.ok(["tag", "busybox", &format!("localhost/gone{i}:latest")]);
    }
    // Containers for the first `rm -f -a` to find.
    for i in 0..5 {
        env.ok([
            "run",
            "-d",
            "--name",
            &format!("pre{i}"),
            "busybox",
            "sleep",
            "1000",
        ]);
    }

    let mut calls: Vec<(Kind, Vec<String>)> = Vec::new();
    for i in 0..100 {
        let call = match i % 10 {
            0 | 5 => (Kind::RunRm, argv(&["run", "--rm", "busybox", "true"])),
            1 | 6 => (
                Kind::RunName,
                argv(&["run", "-d", "--name", NAME, "busybox", "sleep", "1000"]),
            ),
            2 => (Kind::RmAll, argv(&["rm", "-f", "-a"])),
            3 => (Kind::Ps, argv(&["ps", "-a"])),
            4 | 9 if i < 50 => (Kind::Pull, argv(&["pull", "-q", &remote])),
            4 | 9 => (
                Kind::Rmi,
                argv(&["rmi", &format!("localhost/gone{}:latest", (i - 50) / 5)]),
            ),
            7 => (Kind::RmName, argv(&["rm", "-f", NAME])),
            _ => (Kind::RunRm, argv(&["run", "--rm", "busybox", "echo", "hi"])),
        };
        calls.push(call);
    }
    assert_eq!(calls.len(), 100);
    assert_eq!(calls.iter().filter(|c| c.0 == Kind::Rmi).count(), 10);

    let children: Vec<Child> = calls.iter().map(|(_, a)| spawn(&env, a)).collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for hutch"))
        .collect();

    let mut failures = Vec::new();
    let mut winners = Vec::new();
    for ((kind, args), out) in calls.iter().zip(&outs) {
        let err = stderr(out);
        if err.contains("database is locked") {
            failures.push(format!("locked: {}", show(*kind, args, out)));
            continue;
        }
        let code = out.status.code();
        let ok = match kind {
            // Every `-f` removal, every listing, pull and untag succeeds.
            Kind::RmAll | Kind::RmName | Kind::Ps | Kind::Pull | Kind::Rmi => code == Some(0),
            // A `--rm` run either ran to its end or was ended by a
            // concurrent `rm -f -a` (SIGKILL, Podman's 137), never an error
            // of hutch's own.
            Kind::RunRm => code == Some(0) || (code == Some(137) && err.is_empty()),
            // One holder of the name at a time: the others are told it is
            // in use (Podman's 125 and message).
            Kind::RunName => {
                if code == Some(0) {
                    winners.push(stdout(out).trim().to_owned());
                    true
                } else {
                    code == Some(125) && err.contains("is already in use")
                }
            }
        };
        if !ok {
            failures.push(show(*kind, args, out));
        }
    }
    let codes: Vec<String> = calls
        .iter()
        .zip(&outs)
        .map(|((k, _), o)| format!("{k:?}={}", o.status.code().unwrap_or(-1)))
        .collect();
    eprintln!("outcomes: {}", codes.join(" "));
    assert!(
        failures.is_empty(),
        "{} of 100 calls failed:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
    // Exactly one winner per life of the name: each later winner needed a
    // removal of the previous holder, which the event log records.
    assert!(!winners.is_empty(), "nobody got the name");
    let removes = env.ok([
        "events",
        "--stream=false",
        "--filter",
        "event=remove",
        "--format",
        "{{.ID}}",
    ]);
    let removed: Vec<&str> = removes.lines().collect();
    let held_now = env
        .ok([
            "ps",
            "-a",
            "--filter",
            &format!("name=^{NAME}$"),
            "--format",
            "{{.ID}}",
        ])
        .lines()
        .count();
    assert!(held_now <= 1);
    let removed_winners = winners
        .iter()
        .filter(|w| {
            removed
                .iter()
                .any(|r| w.starts_with(r) || r.starts_with(w.as_str()))
        })
        .count();
    eprintln!(
        "name winners {}, of them removed {removed_winners}, holding it now {held_now}; {} removals in all",
        winners.len(),
        removed.len()
    );
    assert_eq!(
        winners.len(),
        removed_winners + held_now,
        "winners {winners:?}, removed {removed:?}, held now {held_now}"
    );
    assert!(
        winners.len()
            <= 1 + calls
                .iter()
                .filter(|c| matches!(c.0, Kind::RmAll | Kind::RmName))
                .count(),
        "{winners:?}"
    );

    // The store afterwards: the pulled image once, the tags gone, nothing
    // left of the `--rm` runs, and every command still works.
    let images = env.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(
        images.lines().filter(|l| *l == remote).count(),
        1,
        "{images}"
    );
    assert!(!images.contains("gone"), "{images}");
    env.ok(["rm", "-f", "-a"]);
    assert_eq!(env.ok(["ps", "-a", "-q"]).trim(), "");
    env.ok(["run", "--rm", &remote, "cat", "/data/x"]);
    env.ok(["rmi", &remote]);
}
