//! Read-only image stores many users read at once (issue 16, item 3):
//! root publishes an image into a store two unprivileged users run it
//! from, concurrently, without writing there; and a Podman user's own
//! store (containers/storage's overlay layout), found where Podman keeps
//! it and read in place, so that Podman's images run without a pull.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::images::*;
use common::*;

/// Removes a directory outside the test's own root when the test ends.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(meta) = fs::metadata(&self.0) {
            // The store is left 0555 by the test: writable again to go.
            let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(meta.mode() | 0o700));
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `dir` bind-mounted read-only onto itself (a read-only export, as on
/// a cluster's image share), unmounted when the test ends.
struct ReadOnlyMount(PathBuf);

impl ReadOnlyMount {
    fn new(dir: &Path) -> ReadOnlyMount {
        for args in [
            vec!["--bind", dir.to_str().unwrap(), dir.to_str().unwrap()],
            vec!["-o", "remount,bind,ro", dir.to_str().unwrap()],
        ] {
            let st = std::process::Command::new("mount")
                .args(&args)
                .status()
                .expect("run mount");
            assert!(st.success(), "mount {args:?}");
        }
        ReadOnlyMount(dir.to_owned())
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Every entry under `dir` with what a write would change: mode, owner,
/// size, modification and status-change times (nanoseconds).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(p) = todo.pop() {
        let m = fs::symlink_metadata(&p).expect("stat a store entry");
        out.insert(
            p.clone(),
            format!(
                "{:o} {}:{} {} {}.{} {}.{}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec()
            ),
        );
        if m.is_dir() {
            for e in fs::read_dir(&p).expect("list a store dir") {
                todo.push(e.expect("a store entry").path());
            }
        }
    }
    out
}

/// Points the user's storage.conf at `stores` (with `driver` when given).
fn use_stores(env: &TestEnv, driver: Option<&str>, stores: &[&Path]) {
    let dir = env.home.join(".config/containers");
    fs::create_dir_all(&dir).unwrap();
    let list: Vec<String> = stores
        .iter()
        .map(|s| format!("\"{}\"", s.display()))
        .collect();
    let driver = driver.map_or(String::new(), |d| format!("driver = \"{d}\"\n"));
    fs::write(
        dir.join("storage.conf"),
        format!(
            "[storage]\n{driver}[storage.options]\nadditionalimagestores = [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
    for d in [
        env.home.join(".config"),
        dir.clone(),
        dir.join("storage.conf"),
    ] {
        chown(&d, env.user.uid, env.user.gid);
    }
}

/// busybox plus a file only its owner may read and one owned by uid 1000,
/// as real images have (/etc/shadow, an application user's files).
fn shared_image_tar(dir: &Path) -> PathBuf {
    let extra = layer(&[
        Entry::Dir("etc"),
        Entry::Owned("etc/app.conf", b"app\n", 1000, 1000),
    ]);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(7);
    h.set_mode(0o600);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "etc/secret", &b"secret\n"[..])
        .unwrap();
    let secret = b.into_inner().unwrap();
    write_readable(
        dir,
        "shared.tar",
        &docker_archive(
            &[busybox_rootfs(), extra, secret],
            "localhost/shared:latest",
        ),
    )
}

#[test]
fn root_publishes_a_read_only_store_three_users_run_at_once_without_writing_there() {
    let Some(root) = TestUser::root() else {
        eprintln!("skipped: needs root to publish and to run as two users");
        return;
    };
    let (Some(second), Some(no_ranges)) = (
        TestUser::named("hutch-migrate"),
        TestUser::named(NOSUB_USER),
    ) else {
        return;
    };
    let admin = TestEnv::new(root);
    let store = PathBuf::from(format!(
        "/var/lib/hutch-shared-store-test-{}",
        std::process::id()
    ));
    let _cleanup = Cleanup(store.clone());
    let admin_root = admin.root.join("admin-storage");
    let admin_root = admin_root.to_str().unwrap();
    let tar = shared_image_tar(&admin.root);
    admin.ok(["--root", admin_root, "load", "-i", tar.to_str().unwrap()]);
    let id = admin
        .ok([
            "--root",
            admin_root,
            "image",
            "publish",
            "--store",
            store.to_str().unwrap(),
            "shared",
        ])
        .trim()
        .to_owned();
    assert_eq!(id.len(), 64, "the image id: {id}");
    // Publishing again copies nothing and changes nothing users see.
    admin.ok([
        "--root",
        admin_root,
        "image",
        "publish",
        "--store",
        store.to_str().unwrap(),
        "shared",
    ]);
    // Owned by root, read-only to everyone, root included (no chattr).
    fs::set_permissions(&store, fs::Permissions::from_mode(0o555)).unwrap();
    assert_eq!(fs::metadata(&store).unwrap().uid(), 0);
    // And on a read-only mount: nobody, root included, can write there.
    let _read_only = ReadOnlyMount::new(&store);
    let refused = fs::write(store.join("probe"), b"x").unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EROFS), "{refused}");
    let before = snapshot(&store);
    assert!(
        before
            .keys()
            .any(|p| p.ends_with("etc/secret") && before[p].starts_with("100644")),
        "published files are readable by all: {before:#?}"
    );

    // Two users with subordinate ranges, and one without (single-id
    // mapping, common on clusters).
    let users = [
        TestEnv::new(TestUser::default_user()),
        TestEnv::new(second),
        TestEnv::new(no_ranges),
    ];
    for env in &users {
        use_stores(env, None, &[&store]);
        assert_eq!(
            env.ok(["images", "--format", "{{.Repository}} {{.ReadOnly}}"])
                .trim(),
            "localhost/shared true"
        );
        let table = env.ok(["images"]);
        assert!(
            table.lines().next().is_some_and(|h| h.ends_with("R/O"))
                && table.lines().nth(1).is_some_and(|r| r.ends_with("true")),
            "Podman's R/O column: {table}"
        );
    }
    // All at once: each container writes into directories of the shared
    // layers (a copy-up), reads the owner-only file, and sees only its own
    // writes.
    let script = "echo $0 > /etc/who && touch /tmp/t && cat /etc/secret /etc/app.conf /etc/who && \
                  stat -c %u /etc/app.conf && sleep 1 && cat /etc/who";
    let children: Vec<_> = users
        .iter()
        .map(|env| {
            env.hutch(["run", "--rm", "shared", "sh", "-c", script, &env.user.name])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start hutch run")
        })
        .collect();
    for (env, child) in users.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}: {}", env.user.name, stderr(&out));
        let name = &env.user.name;
        assert_eq!(
            stdout(&out),
            format!("secret\napp\n{name}\n0\n{name}\n"),
            "{name}: files of the shared image are root's (squashed), writes are private"
        );
    }
    for env in &users {
        assert!(
            !env.home.join(".local/share/hutch/storage/layers").exists()
                || fs::read_dir(env.home.join(".local/share/hutch/storage/layers"))
                    .unwrap()
                    .next()
                    .is_none(),
            "{}: nothing copied into the user's own store",
            env.user.name
        );
    }

    // rmi: Podman's refusal, then --force takes it out of one view only.
    let out = users[0].run(["rmi", "shared"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cannot remove read-only image \"{id}\"")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        users[0].ok(["rmi", "--force", "shared"]).trim(),
        "Untagged: localhost/shared:latest"
    );
    assert!(users[0].ok(["images", "-q"]).trim().is_empty());
    assert_eq!(
        users[0].run(["image", "exists", "shared"]).status.code(),
        Some(1)
    );
    assert_eq!(users[1].ok(["images", "-q"]).trim(), &id[..12]);
    assert_eq!(
        users[1]
            .ok(["run", "--rm", "shared", "cat", "/etc/app.conf"])
            .trim(),
        "app"
    );

    assert_eq!(
        snapshot(&store),
        before,
        "the shared store changed while two users ran from it"
    );
}

/// Podman's rootless pause process, ended when the test ends (it would
/// outlive the test's home otherwise).
struct PodmanPause(PathBuf);

impl Drop for PodmanPause {
    fn drop(&mut self) {
        if let Some(pid) = fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            // SAFETY: a plain kill of the pause process this test's podman made.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn a_podman_users_images_run_without_a_pull() {
    if !Path::new("/usr/bin/podman").exists() {
        eprintln!("skipped: podman is not installed");
        return;
    }
    let env = TestEnv::new(TestUser::default_user());
    let Some(xdg) = env.xdg_runtime_dir.clone() else {
        unreachable!("TestEnv has a runtime dir");
    };
    let _pause = PodmanPause(xdg.join("libpod/tmp/pause.pid"));
    // Podman's own store, overlay driver (its vfs layout is not read).
    use_stores(&env, Some("overlay"), &[]);
    // Applets as symlinks: Podman applies a hardlink entry's mode to the
    // file it links (busybox_rootfs's links are 0644).
    let busybox = fs::read("/bin/busybox").expect("busybox-static");
    let rootfs = layer(&[
        Entry::Dir("bin"),
        Entry::Dir("etc"),
        Entry::Dir("proc"),
        Entry::Dir("dev"),
        Entry::Dir("sys"),
        Entry::Exec("bin/busybox", &busybox),
        Entry::Symlink("bin/sh", "busybox"),
        Entry::Symlink("bin/cat", "busybox"),
        Entry::Symlink("bin/ls", "busybox"),
    ]);
    let tar = write_readable(&env.root, "bb.tar", &rootfs);
    let out = env
        .hutch_at(
            Path::new("/usr/bin/podman"),
            ["import", tar.to_str().unwrap(), "localhost/frompodman"],
        )
        .output()
        .expect("start podman");
    assert!(out.status.success(), "podman import: {}", stderr(&out));
    let podman_id = stdout(&out).trim().trim_start_matches("sha256:").to_owned();
    let podman_store = env.home.join(".local/share/containers/storage");
    let index = podman_store.join("overlay-images");
    assert!(index.join("images.json").is_file());
    let before = (
        snapshot(&index),
        snapshot(&podman_store.join("overlay-layers")),
    );

    // Found, not configured: the same storage.conf still lists no store.
    assert_eq!(
        env.ok([
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}} {{.ReadOnly}}"
        ])
        .trim(),
        format!("localhost/frompodman:latest {} true", &podman_id[..12])
    );
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            "frompodman",
            "sh",
            "-c",
            "echo ran > /etc/new && cat /etc/new && ls /bin/busybox"
        ]),
        "ran\n/bin/busybox\n"
    );
    assert_eq!(
        env.ok(["image", "inspect", "frompodman", "--format", "{{.Id}}"])
            .trim(),
        podman_id
    );
    let info: serde_json::Value =
        serde_json::from_str(&env.ok(["info", "--format", "json"])).expect("info json");
    assert_eq!(
        info["store"]["podmanStore"],
        podman_store.display().to_string()
    );
    let own_layers = env.home.join(".local/share/hutch/storage/layers");
    assert!(
        fs::read_dir(&own_layers).map_or(true, |mut d| d.next().is_none()),
        "no pull, nothing copied into hutch's own store"
    );
    assert_eq!(
        (
            snapshot(&index),
            snapshot(&podman_store.join("overlay-layers"))
        ),
        before,
        "Podman's store was written"
    );
}

/// As above with an image Podman pulled from a registry (two layers, one
/// with a file of uid 1000), the layout a pull leaves (tar-split, the
/// registry's manifest): hutch runs it by its registry name with the
/// registry gone, so nothing could have been pulled again.
#[test]
fn an_image_podman_pulled_runs_without_a_pull() {
    if !Path::new("/usr/bin/podman").exists() {
        eprintln!("skipped: podman is not installed");
        return;
    }
    let env = TestEnv::new(TestUser::default_user());
    let Some(xdg) = env.xdg_runtime_dir.clone() else {
        unreachable!("TestEnv has a runtime dir");
    };
    let _pause = PodmanPause(xdg.join("libpod/tmp/pause.pid"));
    use_stores(&env, Some("overlay"), &[]);
    let Some(registry) = common::registry::Registry::start(&env.root.join("registry"), None) else {
        return;
    };
    let podman = |args: &[&str]| {
        let out = env
            .hutch_at(Path::new("/usr/bin/podman"), args)
            .output()
            .expect("start podman");
        assert!(out.status.success(), "podman {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let busybox = fs::read("/bin/busybox").expect("busybox-static");
    let rootfs = layer(&[
        Entry::Dir("bin"),
        Entry::Dir("etc"),
        Entry::Dir("proc"),
        Entry::Dir("dev"),
        Entry::Dir("sys"),
        Entry::Exec("bin/busybox", &busybox),
        Entry::Symlink("bin/sh", "busybox"),
        Entry::Symlink("bin/cat", "busybox"),
        Entry::Symlink("bin/stat", "busybox"),
    ]);
    let app = layer(&[
        Entry::Dir("etc"),
        Entry::Owned("etc/app.conf", b"app\n", 1000, 1000),
    ]);
    let tar = write_readable(
        &env.root,
        "app.tar",
        &docker_archive(&[rootfs, app], "localhost/app:latest"),
    );
    let name = format!("{}/app:latest", registry.address());
    podman(&["load", "-q", "-i", tar.to_str().unwrap()]);
    podman(&["push", "-q", "--tls-verify=false", "localhost/app", &name]);
    podman(&["rmi", "-a", "-f"]);
    podman(&["pull", "-q", "--tls-verify=false", &name]);
    let podman_id = podman(&["image", "inspect", "--format", "{{.Id}}", &name])
        .trim()
        .to_owned();
    drop(registry);

    assert_eq!(
        env.ok(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
            .trim(),
        format!("{name} {}", &podman_id[..12])
    );
    assert_eq!(
        env.ok([
            "run",
            "--rm",
            &name,
            "sh",
            "-c",
            "cat /etc/app.conf && stat -c %u:%g /etc/app.conf && echo new > /etc/app.conf && cat /etc/app.conf"
        ]),
        "app\n1000:1000\nnew\n",
        "the pulled layers' files and owners, and a private copy-up"
    );
    let own_layers = env.home.join(".local/share/hutch/storage/layers");
    assert!(
        fs::read_dir(&own_layers).map_or(true, |mut d| d.next().is_none()),
        "no pull, nothing copied into hutch's own store"
    );
    // Podman still sees its image as it was.
    assert_eq!(
        podman(&[
            "run",
            "--rm",
            "--network",
            "none",
            &name,
            "cat",
            "/etc/app.conf"
        ]),
        "app\n"
    );
}
