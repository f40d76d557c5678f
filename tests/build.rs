//! `build`: Containerfiles built by hutch (and, where podman is installed,
//! by `podman build` from the same busybox tar) compared by their exported
//! file trees and image configs; the layer cache; hostile contexts.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::images::*;
use common::*;

/// A context directory the test user can read, with `files` (name, data).
fn context(env: &TestEnv, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.root.join(name);
    fs::create_dir_all(&dir).unwrap();
    for (n, data) in files {
        let p = dir.join(n);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
    }
    open_up(&dir);
    dir
}

/// Every directory 0755 and file at least 0644, so hutch-test reads them.
fn open_up(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let m = fs::symlink_metadata(e.path()).unwrap();
        if m.is_dir() {
            open_up(&e.path());
        } else if m.is_file() {
            let mode = m.permissions().mode() | 0o444;
            fs::set_permissions(e.path(), fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

fn build(env: &TestEnv, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec!["build".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(dir.to_string_lossy().into_owned());
    env.run(args)
}

fn inspect(env: &TestEnv, image: &str) -> serde_json::Value {
    let out = env.ok(["image", "inspect", image]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect json");
    v[0].clone()
}

#[test]
fn a_simple_build_runs_copies_and_sets_the_config() {
    let env = busybox_env(&[]);
    let dir = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM busybox\nARG GREETING=hello\nENV WHO=world PATHX=${GREETING:-x}\nRUN echo \"$GREETING $WHO\" > /greeting\nCOPY a.txt /srv/\nWORKDIR /srv\nUSER nobody\nLABEL a=b\nEXPOSE 8080\nCMD [\"cat\", \"/greeting\"]\n",
            ),
            ("a.txt", "file a\n"),
        ],
    );
    let out = build(&env, &dir, &["-t", "simple"]);
    let so = stdout(&out);
    assert!(out.status.success(), "{so}\n{}", stderr(&out));
    println!("{so}");
    assert!(so.contains("STEP 1/10: FROM busybox"), "{so}");
    assert!(so.contains("COMMIT localhost/simple:latest"), "{so}");
    assert!(so.contains("Successfully tagged localhost/simple:latest"), "{so}");
    let cfg = inspect(&env, "simple");
    let c = &cfg["Config"];
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Labels"]["a"], "b");
    assert!(c["ExposedPorts"]["8080/tcp"].is_object(), "{c}");
    assert!(c["Env"].to_string().contains("PATHX=hello"), "{c}");
    let run = env.ok(["run", "--rm", "simple"]);
    assert_eq!(run, "hello world\n");
    let ls = env.ok(["run", "--rm", "simple", "cat", "/srv/a.txt"]);
    assert_eq!(ls, "file a\n");
}
