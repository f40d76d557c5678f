//! HPC hosts: a home on a network file system moves the default storage to
//! node-local disk (said once, shown by `info`, storage.conf still wins);
//! containers stay in the caller's cgroup. NFS cannot be served on the CI
//! host, so the home is made "NFS" through the documented test hook
//! `HUTCH_TEST_FSTYPE`.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use common::images::{busybox_rootfs, gzip, write_readable};
use common::*;
use serde_json::Value;

/// Removes a node-local store when the test ends, however it ends.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn nfs_home_env() -> TestEnv {
    let mut env = TestEnv::new(TestUser::default_user());
    env.vars.push((
        "HUTCH_TEST_FSTYPE".into(),
        format!("{}=nfs", env.home.display()),
    ));
    env
}

fn import_busybox(env: &TestEnv) -> std::process::Output {
    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    env.run([
        "import",
        "--change",
        "CMD=/bin/sh",
        &tar.display().to_string(),
        "busybox",
    ])
}

fn notices(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("using node-local storage"))
        .map(str::to_owned)
        .collect()
}

fn info(env: &TestEnv) -> Value {
    serde_json::from_str(&env.ok(["info", "--format", "json"])).expect("info json")
}

/// One test for everything that uses /var/tmp/hutch-$UID, which is the
/// same directory for every test of this user: run in parallel, two tests
/// would share it.
#[test]
fn nfs_home_moves_storage_to_node_local_disk_and_says_so_once() {
    if !is_root() {
        eprintln!("skipped: needs root to clean the node-local store of the test user");
        return;
    }
    let env = nfs_home_env();
    let uid = env.user.uid;
    let local = PathBuf::from(format!("/var/tmp/hutch-{uid}"));
    let fallback = PathBuf::from(format!("/tmp/hutch-{uid}"));
    let _cleanup = Cleanup(vec![local.clone(), fallback.clone()]);
    let _ = std::fs::remove_dir_all(&local);
    let _ = std::fs::remove_dir_all(&fallback);

    let out = import_busybox(&env);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = notices(&out);
    assert_eq!(said.len(), 1, "one line: {}", stderr(&out));
    let root = local.join("storage");
    assert!(
        said[0].contains("is on nfs") && said[0].contains(&root.display().to_string()),
        "{}",
        said[0]
    );
    // Once: later commands say nothing.
    let out = env.run(["run", "--rm", "busybox", "echo", "ran-local"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ran-local");
    assert!(notices(&out).is_empty(), "{}", stderr(&out));

    let meta = std::fs::symlink_metadata(&local).expect("node-local dir");
    assert!(meta.is_dir());
    assert_eq!(meta.uid(), uid);
    assert_eq!(meta.mode() & 0o777, 0o700);
    assert!(
        !env.home.join(".local/share/hutch/storage").exists(),
        "nothing stored on the 'NFS' home: {:?}",
        walk(&env.home)
    );

    let json = info(&env);
    let store = &json["store"];
    assert_eq!(store["graphRoot"], root.display().to_string());
    assert_eq!(store["graphRootRelocation"]["fileSystem"], "nfs");
    assert!(
        store["graphRootRelocation"]["notice"]
            .as_str()
            .is_some_and(|n| n.contains("node-local")),
        "{store:#}"
    );
    // The rest of the configuration stays: the run root is the usual one.
    assert_eq!(
        store["runRoot"],
        env.run_dir().join("storage").display().to_string()
    );

    let check = env.ok(["system", "check"]);
    let line = check
        .lines()
        .find(|l| l.contains("graphroot"))
        .expect("graphroot line");
    assert!(
        line.starts_with("ok") && line.contains("node-local"),
        "{line}"
    );

    // A node-local directory someone else made is not used: the next
    // candidate is.
    drop(env);
    std::fs::remove_dir_all(&local).unwrap();
    std::fs::create_dir(&local).unwrap();
    std::fs::set_permissions(&local, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let env = nfs_home_env();
    let json = info(&env);
    assert_eq!(
        json["store"]["graphRoot"],
        fallback.join("storage").display().to_string(),
        "{:#}",
        json["store"]
    );
    assert_eq!(owner(&local), Some(0), "the foreign directory is untouched");
}

#[test]
fn storage_conf_and_root_win_over_the_relocation() {
    let env = nfs_home_env();
    // A directory of the user's outside the "NFS" home.
    let configured = env.root.join("configured-store");
    std::fs::create_dir(&configured).unwrap();
    chown(&configured, env.user.uid, env.user.gid);
    let conf_dir = env.home.join(".config/containers");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("storage.conf"),
        format!("[storage]\ngraphroot = \"{}\"\n", configured.display()),
    )
    .unwrap();
    for d in [env.home.join(".config"), conf_dir] {
        chown(&d, env.user.uid, env.user.gid);
    }
    let json = info(&env);
    assert_eq!(json["store"]["graphRoot"], configured.display().to_string());
    assert_eq!(json["store"]["graphRootRelocation"], Value::Null);
    let out = import_busybox(&env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(notices(&out).is_empty(), "{}", stderr(&out));
    assert!(configured.join("images.json").exists());

    let elsewhere = env.root.join("flag-store");
    let shown = env.ok([
        "--root",
        &elsewhere.display().to_string(),
        "info",
        "--format",
        "{{.Store.GraphRoot}}",
    ]);
    assert_eq!(shown.trim(), elsewhere.display().to_string());
}

#[test]
fn a_local_home_is_not_moved() {
    let env = TestEnv::new(TestUser::default_user());
    let json = info(&env);
    assert_eq!(
        json["store"]["graphRoot"],
        env.home
            .join(".local/share/hutch/storage")
            .display()
            .to_string()
    );
    assert_eq!(json["store"]["graphRootRelocation"], Value::Null);
}

fn walk(p: &std::path::Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            out.extend(walk(&e.path()));
        }
    }
    out
}
