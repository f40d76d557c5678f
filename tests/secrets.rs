//! `secret create|ls|inspect|rm|exists` as the unprivileged user: Podman's
//! output and exit codes (checked against podman 4.3.1, plus `exists` and
//! `rm --ignore` of later Podman), the file driver's modes, the size bound,
//! and bad input that stores nothing.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use common::*;

fn env() -> TestEnv {
    TestEnv::new(TestUser::default_user())
}

/// A file of the test user's holding `data`.
fn user_file(env: &TestEnv, name: &str, data: &[u8]) -> String {
    let path = env.root.join(name);
    fs::write(&path, data).expect("write secret file");
    chown(&path, env.user.uid, env.user.gid);
    path.to_string_lossy().into_owned()
}

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn create_ls_inspect_rm_as_podman_prints_them() {
    let env = env();
    let file = user_file(&env, "data", b"s3cr3t-value");
    let id = env.ok(["secret", "create", "db", &file]).trim().to_owned();
    assert_eq!(id.len(), 25, "Podman's 25-digit ID: {id:?}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let dup = env.run(["secret", "create", "db", &file]);
    assert_eq!(code(&dup), Some(125));
    assert!(stderr(&dup).contains("Error: db: secret name in use"));

    let table = env.ok(["secret", "ls"]);
    let mut lines = table.lines();
    let head = lines.next().unwrap_or_default();
    assert!(
        head.starts_with("ID ") && head.contains("NAME") && head.contains("DRIVER"),
        "{table}"
    );
    let row = lines.next().unwrap_or_default();
    assert!(row.starts_with(&id) && row.contains(" db ") && row.contains(" file "));
    assert_eq!(env.ok(["secret", "ls", "-q"]).trim(), id);
    assert_eq!(
        env.ok(["secret", "ls", "--format", "{{.Name}} {{.Driver}}"]),
        "db file\n"
    );
    assert!(env.ok(["secret", "ls", "--noheading"]).starts_with(&id));

    let inspect = env.ok(["secret", "inspect", "db"]);
    assert!(!inspect.contains("s3cr3t"), "inspect shows no data");
    let v: serde_json::Value = serde_json::from_str(&inspect).expect("inspect is JSON");
    assert_eq!(v[0]["ID"], id.as_str());
    assert_eq!(v[0]["Spec"]["Name"], "db");
    assert_eq!(v[0]["Spec"]["Driver"]["Name"], "file");
    assert!(
        inspect.contains("\n    {\n        \"ID\""),
        "4-space indent: {inspect}"
    );
    assert_eq!(
        env.ok(["secret", "inspect", "--format", "{{.Spec.Name}}", &id[..8]]),
        "db\n"
    );
    let missing = env.run(["secret", "inspect", "nope"]);
    assert_eq!(code(&missing), Some(125));
    assert_eq!(stdout(&missing).trim(), "[]");
    assert!(stderr(&missing).contains("no secret with name or id \"nope\": no such secret"));

    // The file driver: data 0600 in a 0700 directory under the graph root.
    let dir = env
        .home
        .join(".local/share/hutch/storage/secrets/filedriver");
    let mode = |p: &std::path::Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(&id)), 0o600);
    assert_eq!(fs::read(dir.join(&id)).expect("read data"), b"s3cr3t-value");

    assert_eq!(code(&env.run(["secret", "exists", "db"])), Some(0));
    assert_eq!(code(&env.run(["secret", "exists", "nope"])), Some(1));

    let rm_missing = env.run(["secret", "rm", "nope"]);
    assert_eq!(code(&rm_missing), Some(125));
    assert_eq!(
        code(&env.run(["secret", "rm", "--ignore", "nope"])),
        Some(0)
    );
    assert_eq!(env.ok(["secret", "rm", "db"]).trim(), id);
    assert!(!dir.join(&id).exists(), "data removed with the record");
    assert!(env.ok(["secret", "ls", "-q"]).trim().is_empty());
}

#[test]
fn stdin_data_and_rm_all() {
    let env = env();
    let mut child = env
        .hutch(["secret", "create", "fromstdin", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hutch");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"xyz")
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait hutch");
    assert!(out.status.success(), "{}", stderr(&out));
    let file = user_file(&env, "other", b"abc");
    env.ok(["secret", "create", "other", &file]);
    let removed = env.ok(["secret", "rm", "-a"]);
    assert_eq!(removed.lines().count(), 2, "{removed}");
    assert!(env.ok(["secret", "ls", "-q"]).trim().is_empty());
}

#[test]
fn bad_input_stores_nothing() {
    let env = env();
    let ok = user_file(&env, "ok", b"abc");
    let empty = user_file(&env, "empty", b"");
    let big = user_file(&env, "big", &vec![b'a'; 512_001]);
    let fits = user_file(&env, "fits", &vec![b'a'; 512_000]);
    for (args, what) in [
        (
            vec!["secret", "create", "e", &empty],
            "must be larger than 0",
        ),
        (
            vec!["secret", "create", "b", &big],
            "less than 512000 bytes",
        ),
        (vec!["secret", "create", "a/b", &ok], "is invalid"),
        (
            vec!["secret", "create", "--driver", "pass", "d", &ok],
            "not supported",
        ),
        (
            vec!["secret", "create", "m", "/nonexistent/file"],
            "/nonexistent/file",
        ),
    ] {
        let out = env.run(&args);
        assert_eq!(code(&out), Some(125), "{args:?}");
        assert!(stderr(&out).contains(what), "{args:?}: {}", stderr(&out));
    }
    assert!(env.ok(["secret", "ls", "-q"]).trim().is_empty());
    env.ok(["secret", "create", "fits", &fits]);
    assert_eq!(env.ok(["secret", "ls", "--format", "{{.Name}}"]), "fits\n");
}
