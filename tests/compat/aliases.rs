//! Podman's `container` names of top-level commands (`container exec`,
//! `container cleanup`, `container clone`, ...), `image diff`, `help`, and
//! the `--latest`/`--cidfile`/`--no-trunc`/`--human`/`--preserve-fds`
//! flags podman 4.3.1 has: hutch against podman (issue 12).

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

use super::*;

/// `args` with both, each of which must succeed (their output differs:
/// new ids).
/// The lines of `out` in order, for output whose order each engine picks
/// (a layer's files, `--all` lists).
fn sorted(out: &Output) -> Vec<String> {
    let mut lines: Vec<String> = stdout(out).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn container_subcommands_image_diff_and_help() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let (h, q) = (
        p.hutch(&["image", "diff", "bb"]),
        p.podman(&["image", "diff", "bb"]),
    );
    assert_eq!(h.status.code(), q.status.code(), "{}", stderr(&h));
    assert_eq!(sorted(&h), sorted(&q));
    assert!(sorted(&h).contains(&"A /bin/busybox".to_owned()));
    // `diff` falls back to an image; `image diff` takes no container.
    let (h, q) = (p.hutch(&["diff", "bb"]), p.podman(&["diff", "bb"]));
    assert_eq!(sorted(&h), sorted(&q));
    p.both_ok(&["create", "--name", "c1", "--network", "none", "bb", "true"]);
    let (h, q) = p.same(&["image", "diff", "c1"]);
    assert!(h.contains("c1 not found: c1: image not known"), "{h}\n{q}");
    let (h, q) = p.same(&["container", "diff", "bb"]);
    assert!(h.contains("bb not found: container not known"), "{h}\n{q}");

    // clone: `NAME-clone`, or the name given, from the same request.
    p.same_code(&["container", "clone", "c1"]);
    p.same_code(&["container", "clone", "c1", "c2"]);
    p.same_code(&["container", "clone", "nosuch"]);
    p.same(&[
        "ps",
        "-a",
        "--sort",
        "names",
        "--format",
        "{{.Names}} {{.Image}} {{.Command}} {{.Status}}",
    ]);

    // cleanup: the names as given, `--all` the ids of what is not running.
    p.same(&["container", "cleanup", "c1"]);
    p.same(&["container", "cleanup", "nosuch"]);
    let (h, q) = (
        p.hutch(&["container", "cleanup", "--all"]),
        p.podman(&["container", "cleanup", "--all"]),
    );
    assert_eq!(h.status.code(), q.status.code(), "{}", stderr(&h));
    assert_eq!(sorted(&h).len(), 3, "{}", stdout(&h));
    assert_eq!(sorted(&q).len(), 3, "{}", stdout(&q));
    p.both_ok(&[
        "run",
        "-d",
        "--name",
        "r1",
        "--network",
        "none",
        "bb",
        "sleep",
        "100",
    ]);
    let (h, q) = p.same(&["container", "cleanup", "r1"]);
    assert!(
        h.contains("is running or paused, refusing to clean up: container state improper"),
        "{h}\n{q}"
    );

    // The top-level commands under `container`.
    p.same(&["container", "exec", "r1", "echo", "hi"]);
    p.same(&["container", "port", "r1"]);
    p.same_code(&["container", "top", "r1"]);
    p.same_code(&["container", "export", "-o", "/dev/null", "c1"]);
    p.same_code(&["container", "mount", "c1"]);
    // bb has no INSTALL label: Podman's error (runlabel in compat/clone.rs).
    p.same_code(&["container", "runlabel", "INSTALL", "bb"]);
    let h = p.hutch(&["container", "runlabel", "INSTALL", "bb"]);
    assert!(
        stderr(&h).contains("cannot find the value of label: INSTALL in image: bb"),
        "{}",
        stderr(&h)
    );

    // help: a command's help on stdout; an unknown topic is not an error.
    let (h, q) = (p.hutch(&["help", "ps"]), p.podman(&["help", "ps"]));
    assert_eq!(h.status.code(), q.status.code());
    assert!(stdout(&h).contains("List containers"), "{}", stdout(&h));
    let (h, q) = p.same(&["help", "nosuch"]);
    assert!(
        h.contains("Unknown help topic [`nosuch`]") && q.contains("Unknown help topic [`nosuch`]"),
        "{h}\n{q}"
    );
    p.same_code(&["rm", "-af", "-t0"]);
}

#[test]
fn latest_cidfile_and_output_flags() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    // Each engine's own cid file: the ids differ.
    let hcid = p.env.home.join("h.cid");
    let qcid = p.env.home.join("q.cid");
    for (side, cid) in [("hutch", &hcid), ("podman", &qcid)] {
        let cid = cid.to_string_lossy().into_owned();
        let args = [
            "run",
            "-d",
            "--name",
            "k1",
            "--network",
            "none",
            "--cidfile",
            &cid,
            "bb",
            "sleep",
            "100",
        ];
        let out = if side == "hutch" {
            p.hutch(&args)
        } else {
            p.podman(&args)
        };
        assert!(out.status.success(), "{side}: {}", stderr(&out));
    }
    for verb in [&["restart", "-t0"][..], &["kill"][..]] {
        for (side, cid) in [("hutch", &hcid), ("podman", &qcid)] {
            let file = cid.to_string_lossy().into_owned();
            let mut args = verb.to_vec();
            args.extend(["--cidfile", &file]);
            let out = if side == "hutch" {
                p.hutch(&args)
            } else {
                p.podman(&args)
            };
            let id = std::fs::read_to_string(cid).expect("cid file");
            assert!(out.status.success(), "{side} {args:?}: {}", stderr(&out));
            assert_eq!(stdout(&out).trim(), id.trim(), "{side} {args:?}");
        }
    }
    let (h, q) = p.same(&["kill", "--cidfile", "/nonexistent/x.cid"]);
    assert!(
        h.contains("reading CIDFile: open /nonexistent/x.cid"),
        "{h}\n{q}"
    );
    p.same_code(&["pause", "--cidfile", "/nonexistent/x.cid"]);
    p.same_code(&["unpause", "--cidfile", "/nonexistent/x.cid"]);

    // --latest: the container (or pod) made last.
    p.same(&["port", "-l"]);
    p.same(&["port", "-l", "80"]);
    p.same_code(&["stats", "-l", "--no-stream", "--no-reset"]);
    p.same_code(&["attach", "-l", "k1"]);
    p.same(&["pod", "inspect", "-l"]);
    p.both_ok(&["pod", "create", "--name", "p1"]);
    p.same(&["pod", "inspect", "-l", "--format", "{{.Name}}"]);
    p.same_code(&["pod", "start", "-l"]);
    p.same_code(&["pod", "restart", "-l"]);
    p.same_code(&["pod", "stop", "-l", "-t0"]);
    p.same(&["pod", "rm", "-l", "p1"]);
    p.same_code(&["pod", "rm", "-l"]);
    p.same(&["pod", "inspect", "-l"]);

    // events --no-trunc=false: ids of 12 characters in the text lines
    // (JSON and templates keep them whole, as Podman's).
    let args = [
        "events",
        "--stream=false",
        "--no-trunc=false",
        "--filter",
        "event=create",
        "--filter",
        "type=container",
    ];
    for out in [p.hutch(&args), p.podman(&args)] {
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let ids: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split(" container create ").nth(1))
            .filter_map(|rest| rest.split(' ').next())
            .collect();
        assert!(
            !ids.is_empty() && ids.iter().all(|i| i.len() == 12),
            "{text}"
        );
    }
    // history -H=false: the date itself, sizes still human.
    let args = [
        "history",
        "-H=false",
        "--format",
        "{{.CreatedSince}} {{.Size}}",
        "bb",
    ];
    for out in [p.hutch(&args), p.podman(&args)] {
        let text = stdout(&out);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            text.contains('T') && text.contains("Z ") && !text.contains("ago"),
            "{text}"
        );
    }

    // exec --preserve-fds: none passed is Podman's error; one passed
    // reaches the process as descriptor 3.
    p.both_ok(&[
        "run",
        "-d",
        "--name",
        "e1",
        "--network",
        "none",
        "bb",
        "sleep",
        "100",
    ]);
    let (h, q) = p.same(&["exec", "--preserve-fds", "1", "e1", "true"]);
    assert!(h.contains("file descriptor 3 is not available"), "{h}\n{q}");
    let file = p.env.home.join("fd3.txt");
    std::fs::write(&file, "through fd 3\n").expect("write");
    chown(&file, p.env.user.uid, p.env.user.gid);
    let f = std::fs::File::open(&file).expect("open");
    let raw = f.as_raw_fd();
    let mut cmd = p
        .env
        .hutch(["exec", "--preserve-fds", "1", "e1", "sh", "-c", "cat <&3"]);
    // SAFETY: dup2 and fcntl only, between fork and exec. The file may
    // be 3 already, where dup2 would leave it close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            let ok = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0) >= 0
            } else {
                libc::dup2(raw, 3) >= 0
            };
            if !ok {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run hutch");
    drop(f);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "through fd 3\n");
    p.same_code(&["rm", "-af", "-t0"]);
}
