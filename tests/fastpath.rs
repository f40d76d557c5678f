//! What keeps `run --rm` and `rm` of many containers fast, checked as
//! behaviour: a `--rm` container's root is a volatile overlay (no sync of
//! the whole file system at unmount, as Podman does for `--rm`), a kept
//! one's is not; a created container is not left mounted (its removal has
//! no unmount to pay), yet starts, and sees the image's files.

mod common;

use common::images::*;
use common::*;

fn root_mount_line(env: &TestEnv, extra: &[&str]) -> String {
    let mut args = vec!["run", "--network", "none"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", "grep ' / / ' /proc/self/mountinfo"]);
    env.ok(args)
}

#[test]
fn rm_containers_are_volatile_kept_ones_are_not() {
    let env = busybox_env(&[]);
    let line = root_mount_line(&env, &["--rm"]);
    assert!(line.contains("overlay"), "{line}");
    assert!(line.contains("volatile"), "{line}");
    let line = root_mount_line(&env, &["--name", "kept"]);
    assert!(!line.contains("volatile"), "{line}");
    env.ok(["rm", "kept"]);
}

#[test]
fn created_container_is_not_left_mounted() {
    let env = busybox_env(&[]);
    let id = env.ok(["create", "--name", "c", "busybox", "cat", "/etc/passwd"]);
    let id = id.trim();
    let graph = env.ok(["info", "--format", "{{.Store.GraphRoot}}"]);
    let merged = std::path::PathBuf::from(graph.trim()).join(format!("containers/{id}/merged"));
    assert!(merged.is_dir(), "{}", merged.display());
    // Seen from outside hutch's mount namespace the directory is always
    // empty; inside it, it must be too once create is done.
    let listing = env.ok(["unshare", "ls", "-A", &merged.to_string_lossy()]);
    assert!(listing.trim().is_empty(), "still mounted: {listing}");
    assert_eq!(
        env.ok(["start", "-a", "c"]).lines().next(),
        Some("root:x:0:0:root:/root:/bin/sh")
    );
    env.ok(["rm", "c"]);
}
