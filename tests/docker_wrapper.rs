//! `examples/docker`, the podman-docker style wrapper: it runs the hutch
//! beside it with the same arguments (spaces kept) and exit code, and
//! prints Podman's note on stderr unless a `nodocker` file quiets it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// The wrapper installed as `docker` beside a `hutch`, as a package would.
fn install(env: &TestEnv) -> PathBuf {
    let bin = env.root.join("bin");
    fs::create_dir_all(&bin).expect("create bin dir");
    let docker = bin.join("docker");
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/docker"),
        &docker,
    )
    .expect("copy the wrapper");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&docker, fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
    std::os::unix::fs::symlink(hutch_bin(), bin.join("hutch")).expect("link hutch");
    docker
}

const NOTE: &str =
    "Emulate Docker CLI using hutch. Create /etc/containers/nodocker to quiet msg.\n";

fn host_quiets() -> bool {
    Path::new("/etc/containers/nodocker").exists() || Path::new("/etc/hutch/nodocker").exists()
}

#[test]
fn wrapper_runs_hutch_with_the_same_arguments_and_note() {
    let env = TestEnv::new(TestUser::default_user());
    let docker = install(&env);
    let args = ["version", "--format", "{{.Client.Version}} two  spaces"];
    let direct = env.run(args);
    let wrapped = env
        .hutch_at(&docker, args)
        .output()
        .expect("run the wrapper");
    assert!(direct.status.success(), "{}", stderr(&direct));
    assert_eq!(
        stdout(&wrapped),
        stdout(&direct),
        "the same output, spaces kept"
    );
    assert!(
        stdout(&wrapped).ends_with(" two  spaces\n"),
        "{}",
        stdout(&wrapped)
    );
    if !host_quiets() {
        assert_eq!(stderr(&wrapped), NOTE);
    }
    // hutch's own exit code comes through (125 for its own error).
    let direct = env.run(["no-such-command"]);
    let wrapped = env
        .hutch_at(&docker, ["no-such-command"])
        .output()
        .expect("run the wrapper");
    assert_eq!(wrapped.status.code(), direct.status.code());
    assert_ne!(wrapped.status.code(), Some(0));
}

#[test]
fn a_users_nodocker_file_quiets_the_note() {
    let env = TestEnv::new(TestUser::default_user());
    let docker = install(&env);
    let dir = env.home.join(".config/hutch");
    fs::create_dir_all(&dir).expect("create config dir");
    fs::write(dir.join("nodocker"), "").expect("write nodocker");
    for d in [env.home.join(".config"), dir] {
        chown(&d, env.user.uid, env.user.gid);
    }
    let out = env
        .hutch_at(&docker, ["version", "--format", "{{.Client.Version}}"])
        .output()
        .expect("run the wrapper");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "quieted");
    assert!(!stdout(&out).trim().is_empty());
}
