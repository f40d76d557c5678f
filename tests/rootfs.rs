//! `run`/`create --rootfs DIR[:O]` as the unprivileged user: in place (the
//! container writes into the directory; `rm` leaves it), with `:O` (an
//! overlay on top; the directory is byte for byte unchanged afterwards),
//! files owned by subordinate ids, `inspect` and `ps` as Podman 4.3.1
//! shows them, and a missing directory refused with nothing stored.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::*;

/// A busybox root directory owned by the test user, with one file owned
/// by its subordinate uid 100 (under root; container uid 101 maps there
/// with the default rootless mapping) when the test runs as root.
fn root_dir(env: &TestEnv) -> PathBuf {
    let dir = env.root.join("rootfs");
    for d in ["bin", "etc", "data"] {
        fs::create_dir_all(dir.join(d)).expect("create rootfs dir");
    }
    fs::copy("/bin/busybox", dir.join("bin/busybox"))
        .expect("busybox-static is installed (tests/setup-host.sh)");
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755))
        .expect("chmod busybox");
    for applet in ["sh", "cat", "ls", "stat", "rm", "echo"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).expect("applet link");
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    fs::write(dir.join("data/keep"), "original\n").expect("keep");
    fs::write(dir.join("data/sub"), "subordinate\n").expect("sub");
    let uid = env.user.uid;
    let gid = env.user.gid;
    for p in walk(&dir).keys() {
        let _ = std::os::unix::fs::lchown(dir.join(p), Some(uid), Some(gid));
    }
    let _ = std::os::unix::fs::lchown(&dir, Some(uid), Some(gid));
    if is_root()
        && let Some((start, count)) = env.user.sub_range("/etc/subuid")
        && count > 200
    {
        std::os::unix::fs::lchown(dir.join("data/sub"), Some(start + 100), None)
            .expect("chown to a subordinate id");
    }
    dir
}

/// Every entry under `dir`: its owner, mode and contents (or link target).
fn walk(dir: &Path) -> BTreeMap<PathBuf, (u32, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).expect("read rootfs").flatten() {
            let p = e.path();
            let m = fs::symlink_metadata(&p).expect("stat rootfs entry");
            let body = if m.is_file() {
                fs::read(&p).expect("read rootfs file")
            } else if m.file_type().is_symlink() {
                fs::read_link(&p)
                    .expect("readlink")
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                todo.push(p.clone());
                Vec::new()
            };
            let rel = p.strip_prefix(dir).expect("under rootfs").to_owned();
            out.insert(rel, (m.uid(), m.mode(), body));
        }
    }
    out
}

fn container_dirs(env: &TestEnv) -> usize {
    let dir = env.home.join(".local/share/hutch/storage/containers");
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn in_place_root_is_written_and_kept_by_rm() {
    let env = TestEnv::new(TestUser::default_user());
    let dir = root_dir(&env);
    let out = env.ok([
        "run",
        "--name",
        "inplace",
        "--rootfs",
        dir.to_str().unwrap(),
        "/bin/busybox",
        "sh",
        "-c",
        "echo made > /data/made; cat /data/keep",
    ]);
    assert_eq!(out, "original\n");
    assert_eq!(
        fs::read_to_string(dir.join("data/made")).ok().as_deref(),
        Some("made\n"),
        "in place: the container writes into the directory"
    );
    // As podman 4.3.1: no image name or id, the path as given.
    let shown = env.ok([
        "inspect",
        "inplace",
        "--format",
        "{{.Rootfs}}|{{.ImageName}}|{{.Image}}",
    ]);
    assert_eq!(shown.trim(), format!("{}||", dir.display()));
    let ps = env.ok(["ps", "-a", "--format", "{{.Image}}|{{.Names}}"]);
    assert_eq!(ps.trim(), "|inplace");
    let before = walk(&dir);
    env.ok(["rm", "inplace"]);
    assert_eq!(walk(&dir), before, "rm leaves the directory as it was");
    assert!(dir.join("bin/busybox").is_file());
    assert_eq!(container_dirs(&env), 0, "the container's own storage goes");
}

#[test]
fn overlay_leaves_the_directory_untouched() {
    let env = TestEnv::new(TestUser::default_user());
    let dir = root_dir(&env);
    let before = walk(&dir);
    let rootfs = format!("{}:O", dir.display());
    let script = "echo new > /data/new; echo changed > /data/keep; rm /data/sub; \
                  cat /data/new /data/keep";
    let out = env.ok([
        "run",
        "--name",
        "ov",
        "--rootfs",
        &rootfs,
        "/bin/busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out, "new\nchanged\n");
    assert_eq!(walk(&dir), before, ":O: the directory is unchanged");
    // The container's changes are its own and last across starts.
    let out = env.ok(["start", "-a", "ov"]);
    assert!(out.contains("changed"), "{out}");
    let shown = env.ok(["inspect", "ov", "--format", "{{.Rootfs}}|{{.ImageName}}"]);
    assert_eq!(
        shown.trim(),
        format!("{}|", dir.display()),
        "Podman shows the path without :O"
    );
    env.ok(["rm", "ov"]);
    assert_eq!(walk(&dir), before, "rm leaves the directory as it was");
    assert_eq!(container_dirs(&env), 0);
}

#[test]
fn subordinate_owners_show_inside() {
    if !is_root() {
        eprintln!("skip: chown to a subordinate id needs root");
        return;
    }
    let env = TestEnv::new(TestUser::default_user());
    let dir = root_dir(&env);
    for rootfs in [dir.display().to_string(), format!("{}:O", dir.display())] {
        let out = env.ok([
            "run",
            "--rm",
            "--rootfs",
            &rootfs,
            "/bin/busybox",
            "stat",
            "-c",
            "%u",
            "/data/keep",
            "/data/sub",
        ]);
        assert_eq!(
            out, "0\n101\n",
            "{rootfs}: the user is root, subordinate id 100 is 101"
        );
    }
}

#[test]
fn missing_directory_is_refused_with_nothing_stored() {
    let env = TestEnv::new(TestUser::default_user());
    let missing = env.root.join("no-such-root");
    let out = env.run(["run", "--rootfs", missing.to_str().unwrap(), "/bin/true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "stat {}: no such file or directory",
            missing.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.ok(["ps", "-a", "-q"]), "");
    assert_eq!(container_dirs(&env), 0);
    let out = env.run(["create", "--rootfs", "/tmp:idmap", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("idmap"), "{}", stderr(&out));
}
