//! The last flags of `container checkpoint/restore/cleanup`, `system
//! migrate`, `system service` and `unshare`: hutch against podman 4.3.1
//! where rootless podman answers, and against Podman's words (read from
//! podman 4.3.1 run as root, which is where it gets past "requires root")
//! where it does not (issue 12). CRIU cannot work on this host, so the
//! checks stop where the runtime would run (docs/checkpoint.md).

use std::process::Command;

use super::*;

/// hutch's stderr and exit code for `args`, which must fail with 125 and
/// say `want`.
fn refused(p: &Pair, args: &[&str], want: &str) {
    let out = p.hutch(args);
    assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(want),
        "{args:?}: wanted {want:?}, got: {}",
        stderr(&out)
    );
}

/// Whether CRIU here can track dirty memory (what `--pre-checkpoint` asks).
fn criu_mem_track() -> bool {
    Command::new("criu")
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn checkpoint_and_restore_flag_checks() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    // The one check rootless podman makes before "requires root".
    let (h, q) = p.same(&["container", "checkpoint", "--compress", "gzip", "x"]);
    assert_eq!(h, without_mount_warning(&q));
    assert!(
        h.contains("--compress can only be used with --export"),
        "{h}"
    );
    // Podman's (as root) checks, in its order.
    let c = ["container", "checkpoint"];
    let r = ["container", "restore"];
    let with = |base: &[&'static str], rest: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(rest).copied().collect()
    };
    for (args, want) in [
        (
            with(&c, &["--ignore-rootfs", "x"]),
            "--ignore-rootfs can only be used with --export",
        ),
        (
            with(&c, &["--ignore-volumes", "x"]),
            "--ignore-volumes can only be used with --export",
        ),
        (
            with(&c, &["-P", "--with-previous", "x"]),
            "--with-previous can not be used with --pre-checkpoint",
        ),
        (
            with(&r, &["--ignore-rootfs", "x"]),
            "--ignore-rootfs can only be used with image or --import",
        ),
        (
            with(&r, &["--ignore-volumes", "--pod", "p", "x"]),
            "--ignore-volumes can only be used with image or --import",
        ),
        (
            with(&r, &["--import-previous", "/nonexistent", "x"]),
            "--import-previous can only be used with image or --import",
        ),
        (
            with(&r, &["--pod", "p", "x"]),
            "--pod can only be used with image or --import",
        ),
        (
            with(&r, &["-n", "y", "x"]),
            "--name can only be used with image or --import",
        ),
        (
            with(&r, &["-i", "/nonexistent.tar", "-a"]),
            "failed extracting runtime information from /nonexistent.tar: failed to open checkpoint archive /nonexistent.tar for import: open /nonexistent.tar: no such file or directory",
        ),
        (
            with(&r, &["--file-locks", "nosuch"]),
            "no such container or image: nosuch",
        ),
    ] {
        refused(&p, &args, want);
    }
    if !criu_mem_track() {
        refused(
            &p,
            &with(&c, &["-P", "x"]),
            "system (architecture/kernel/CRIU) does not support memory tracking",
        );
        refused(
            &p,
            &with(&c, &["--with-previous", "x"]),
            "system (architecture/kernel/CRIU) does not support memory tracking",
        );
    }
    // An image that is no checkpoint, by Podman's words.
    let id = p.env.ok(["image", "inspect", "--format", "{{.Id}}", "bb"]);
    let id = id.trim().trim_start_matches("sha256:");
    refused(
        &p,
        &["container", "restore", "bb"],
        &format!("image is not a checkpoint: {id}"),
    );
}

/// A checkpoint image (`--create-image`'s annotations, built here with
/// `build --annotation` since CRIU cannot dump here): one made with
/// another runtime is refused in Podman's words; one of this runtime is
/// read as an archive and takes the import's flags.
#[test]
fn restore_from_a_checkpoint_image() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let ctx = p.env.root.join("ctx");
    std::fs::create_dir_all(ctx.join("checkpoint")).expect("context");
    std::fs::write(ctx.join("checkpoint/inventory.img"), b"inv").expect("inventory");
    std::fs::write(ctx.join("config.dump"), b"not json").expect("config");
    std::fs::write(ctx.join("Containerfile"), b"FROM scratch\nCOPY . /\n").expect("file");
    for f in [
        "",
        "checkpoint",
        "checkpoint/inventory.img",
        "config.dump",
        "Containerfile",
    ] {
        chown(&ctx.join(f), p.env.user.uid, p.env.user.gid);
    }
    // The runtime new containers get (containers.conf's in the runc run
    // of the matrix), which a checkpoint image must name.
    p.env
        .ok(["create", "--name", "rt", "--network", "none", "bb", "true"]);
    let runtime = p
        .env
        .ok(["inspect", "--format", "{{.OCIRuntime}}", "rt"])
        .trim()
        .to_owned();
    p.env.ok(["rm", "rt"]);
    let ctx_s = ctx.display().to_string();
    let note = "io.podman.annotations.checkpoint.runtime.name";
    p.env.ok([
        "build",
        "-q",
        "--annotation",
        &format!("{note}=nosuchruntime"),
        "-t",
        "other",
        &ctx_s,
    ]);
    // Another content for the second image: the annotations are the
    // manifest's, and one config would make both one image.
    std::fs::write(ctx.join("checkpoint/inventory.img"), b"inv2").expect("inventory");
    p.env.ok([
        "build",
        "-q",
        "--annotation",
        &format!("{note}={runtime}"),
        "-t",
        "mine",
        &ctx_s,
    ]);
    // The import's flags are taken with an image; its layer is unpacked as
    // an archive, whose config.dump is read (and here refused).
    refused(
        &p,
        &[
            "container",
            "restore",
            "--name",
            "n",
            "--ignore-rootfs",
            "mine",
        ],
        "config.dump of the archive",
    );
    // Nothing of the failed restore stays.
    assert_eq!(p.env.ok(["ps", "-a", "-q"]).trim(), "");
}

/// Reads the exec session ids of container `id` from hutch's state
/// database (`inspect` does not list them).
fn exec_sessions(p: &Pair, id: &str) -> Vec<String> {
    let db = p.env.home.join(".local/share/hutch/storage/state/hutch.db");
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the state database");
    let mut stmt = conn
        .prepare("SELECT id FROM exec_sessions WHERE container_id = ?1 ORDER BY rowid")
        .expect("query");
    stmt.query_map([id], |r| r.get::<_, String>(0))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
}

#[test]
fn cleanup_exec_and_rmi() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for args in [
        &["container", "cleanup", "--exec", "x", "-a"][..],
        &["container", "cleanup", "--exec", "x", "a", "b"],
        &["container", "cleanup", "--exec", "x", "--rmi", "c"],
        &["container", "cleanup", "--exec", "x"],
        &["container", "cleanup", "-a", "x"],
    ] {
        let (h, q) = p.same(args);
        assert_eq!(h, without_mount_warning(&q), "{args:?}");
    }
    for side in [
        p.hutch(&["create", "--name", "c1", "--network", "none", "bb", "true"]),
        p.podman(&["create", "--name", "c1", "--network", "none", "bb", "true"]),
    ] {
        assert!(side.status.success(), "{}", stderr(&side));
    }
    // No such session: the same code, Podman's words (ids differ).
    let (h, q) = (
        p.hutch(&["container", "cleanup", "--exec", "nosuch", "c1"]),
        p.podman(&["container", "cleanup", "--exec", "nosuch", "c1"]),
    );
    assert_eq!(h.status.code(), q.status.code());
    for e in [stderr(&h), stderr(&q)] {
        assert!(
            e.contains("Running container cleanup: container ")
                && e.contains("has no exec session with ID nosuch: no such exec session"),
            "{e}"
        );
    }
    // --rmi without --rm: the image is in use by the container itself.
    let (h, q) = (
        p.hutch(&["container", "cleanup", "--rmi", "c1"]),
        p.podman(&["container", "cleanup", "--rmi", "c1"]),
    );
    assert_eq!(h.status.code(), q.status.code());
    for e in [stderr(&h), stderr(&q)] {
        assert!(
            e.contains("Removing image: image used by")
                && e.contains("image is in use by a container"),
            "{e}"
        );
    }
    // With --rm: the container, then its image, go.
    p.same(&["container", "cleanup", "--rm", "--rmi", "c1"]);
    p.same(&["ps", "-a", "--format", "{{.Names}}"]);
    p.same(&["images", "--format", "{{.Repository}}"]);

    // A session of hutch's: cleaned (kept), then removed.
    let bb = p.env.root.join("bb.tar").display().to_string();
    p.env.ok(["import", "-q", &bb, "bb"]);
    let id = p
        .env
        .ok(["run", "-d", "--network", "none", "bb", "sleep", "600"])
        .trim()
        .to_owned();
    p.env.ok(["exec", &id, "true"]);
    let sessions = exec_sessions(&p, &id);
    let session = sessions.last().expect("the exec is recorded").clone();
    let out = p.env.ok(["container", "cleanup", "--exec", &session, &id]);
    assert_eq!(out, "", "Podman prints nothing for a session");
    assert!(exec_sessions(&p, &id).contains(&session));
    p.env
        .ok(["container", "cleanup", "--exec", &session, "--rm", &id]);
    assert!(!exec_sessions(&p, &id).contains(&session));
    refused(
        &p,
        &["container", "cleanup", "--exec", &session, "--rm", &id],
        "no such exec session",
    );
    p.env.ok(["rm", "-f", "-t", "0", &id]);
}

#[test]
fn migrate_service_and_unshare() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    // Podman prints this one on stdout, without "Error:".
    let out = p.same(&["system", "migrate", "--new-runtime", "nosuch"]);
    drop(out);
    let h = p.hutch(&["system", "migrate", "--new-runtime", "nosuch"]);
    assert_eq!(
        stdout(&h).trim(),
        "change to runtime \"nosuch\" requested but no such runtime is defined: invalid argument"
    );
    for side in [
        p.hutch(&["create", "--name", "m1", "--network", "none", "bb", "true"]),
        p.podman(&["create", "--name", "m1", "--network", "none", "bb", "true"]),
    ] {
        assert!(side.status.success(), "{}", stderr(&side));
    }
    p.same(&["system", "migrate", "--new-runtime", "runc"]);
    p.same(&["inspect", "--format", "{{.OCIRuntime}}", "m1"]);

    // --cors: Podman's three headers on every response.
    let sock = p.env.home.join("cors.sock");
    let uri = format!("unix://{}", sock.display());
    let _svc = common::api::start(
        &p.env,
        &["--time", "0", "--cors", "https://example.test", &uri],
    );
    common::api::wait_socket(&sock);
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-D",
        "-",
        "-o",
        "/dev/null",
        "--max-time",
        "30",
        "--unix-socket",
    ])
    .arg(&sock)
    .arg("http://d/_ping");
    as_user(&mut cmd, &p.env.user);
    let headers = stdout(&cmd.output().expect("run curl")).to_ascii_lowercase();
    for want in [
        "access-control-allow-origin: https://example.test",
        "access-control-allow-methods: head, get, post, delete, put, options",
        "access-control-allow-headers: origin, x-requested-with",
    ] {
        assert!(headers.contains(want), "{want}: {headers}");
    }

    // No container on a user network: no rootless netns to join.
    refused(
        &p,
        &["unshare", "--rootless-netns", "true"],
        "the rootless network namespace does not exist",
    );
    // With one: the command sees that namespace's devices (slirp4netns's
    // tap0, the network's bridge), not the host's.
    p.env.ok(["network", "create", "cknet"]);
    let id = p
        .env
        .ok(["run", "-d", "--network", "cknet", "bb", "sleep", "600"])
        .trim()
        .to_owned();
    let devs = p
        .env
        .ok(["unshare", "--rootless-netns", "cat", "/proc/net/dev"]);
    assert!(devs.contains("tap0:"), "{devs}");
    let host = std::fs::read_to_string("/proc/net/dev").expect("host devices");
    assert_ne!(devs, host);
    p.env.ok(["rm", "-f", "-t", "0", &id]);
}
