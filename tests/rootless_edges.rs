//! Issue 17 item 6: what a rootless user meets at the edges, said in words:
//! device nodes a layer holds but an unprivileged store cannot make, one
//! user namespace whichever runtime directory a command picks, and a store
//! that belongs to someone else.

mod common;

use common::images::*;
use common::*;

/// Device nodes in a layer were dropped without a word; now a load (and a
/// pull: the same commit path) warns once per image, naming the count, and
/// a second load of the same layers (nothing extracted) stays quiet.
#[test]
fn device_nodes_in_a_layer_are_reported_once() {
    let env = TestEnv::new(TestUser::default_user());
    let layers = vec![
        busybox_rootfs(),
        layer(&[
            Entry::Dir("dev"),
            Entry::CharDevice("dev/null", 1, 3),
            Entry::CharDevice("dev/zero", 1, 5),
            Entry::CharDevice("dev/fuse", 10, 229),
        ]),
    ];
    let archive = write_readable(
        &env.root,
        "devices.tar",
        &docker_archive(&layers, "localhost/devices:latest"),
    );
    let out = env.run(["load", "-i", archive.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("device node")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("level=warning"), "{err}");
    assert!(warnings[0].contains("3 device node(s)"), "{err}");
    assert!(warnings[0].contains("localhost/devices:latest"), "{err}");

    // The image works; its /dev is the runtime's.
    let out = env.ok(["run", "--rm", "localhost/devices:latest", "ls", "/dev/null"]);
    assert_eq!(out.trim(), "/dev/null");

    env.ok(["tag", "localhost/devices:latest", "localhost/other:latest"]);
    env.ok(["rmi", "localhost/devices:latest"]);
    let out = env.run(["load", "-i", archive.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("device node"), "{}", stderr(&out));
}

/// The user namespace a command of `env` joins, with or without
/// `XDG_RUNTIME_DIR`.
fn namespace_of(env: &TestEnv, xdg: bool) -> String {
    let mut cmd = env.hutch(["unshare", "readlink", "/proc/self/ns/user"]);
    if !xdg {
        cmd.env_remove("XDG_RUNTIME_DIR");
    }
    let out = cmd.output().expect("start hutch");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// A command run once without `XDG_RUNTIME_DIR` (so in
/// `/tmp/hutch-run-$UID`) made a second pause process and namespace for
/// the same user. Now it joins the one there is, in either order.
#[test]
fn one_namespace_with_or_without_xdg_runtime_dir() {
    let user = TestUser::default_user();
    let fallback = std::path::PathBuf::from(format!("/tmp/hutch-run-{}", user.uid));
    if !is_root() && fallback.exists() {
        eprintln!(
            "skipped: {} exists already and may be in use",
            fallback.display()
        );
        return;
    }
    for xdg_first in [true, false] {
        let _ = std::fs::remove_dir_all(&fallback);
        let env = TestEnv::new(user.clone());
        let first = namespace_of(&env, xdg_first);
        let second = namespace_of(&env, !xdg_first);
        assert!(first.starts_with("user:["), "{first}");
        assert_eq!(first, second, "xdg first: {xdg_first}");
        assert_eq!(env.pause_pids().len(), 1, "xdg first: {xdg_first}");
        // And again, now that both directories have their record.
        assert_eq!(namespace_of(&env, xdg_first), first);
        assert_eq!(env.pause_pids().len(), 1);
        drop(env);
        let _ = std::fs::remove_dir_all(&fallback);
    }
}

/// `--root` on a store of another user said "creating …: Permission
/// denied"; now the error names the ownership problem and the way out,
/// whether the other user's store is closed (0700) or readable (0755).
#[test]
fn another_users_store_is_named_as_such() {
    let Some(other) = TestUser::named(NOSUB_USER) else {
        return;
    };
    let env = TestEnv::new(TestUser::default_user());
    for mode in [0o700, 0o755] {
        let store = env.root.join(format!("store-{mode:o}"));
        std::fs::create_dir(&store).expect("create the other user's store");
        std::os::unix::fs::chown(&store, Some(other.uid), Some(other.gid)).expect("chown");
        std::fs::set_permissions(&store, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .expect("chmod");
        let root = store.to_str().expect("utf-8 path");
        for args in [
            vec!["--root", root, "ps", "-a"],
            vec!["--root", root, "images"],
        ] {
            let out = env.run(&args);
            assert_eq!(out.status.code(), Some(125), "{args:?}");
            let err = stderr(&out);
            assert!(err.contains(root), "{err}");
            assert!(
                err.contains(&format!("owned by uid {}", other.uid)),
                "{mode:o} {args:?}: {err}"
            );
            assert!(
                err.contains(&format!("not by you (uid {})", env.user.uid)),
                "{err}"
            );
            assert!(err.contains("--root"), "{err}");
            assert!(!err.contains("Permission denied"), "{err}");
        }
    }
}
