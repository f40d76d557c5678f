//! Bind mounts and named volumes as users run them: ownership through
//! `--userns=keep-id`, data kept across containers, `:ro`, `volume`
//! commands, and bad `-v` values that must create nothing.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::images::*;
use common::*;

/// A directory of the test user's, for bind mounts.
fn user_dir(env: &TestEnv, name: &str) -> std::path::PathBuf {
    let dir = env.root.join(name);
    fs::create_dir(&dir).expect("create bind dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    chown(&dir, env.user.uid, env.user.gid);
    dir
}

fn nothing_created(env: &TestEnv) {
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty(), "no container");
    assert!(
        env.ok(["volume", "ls", "-q"]).trim().is_empty(),
        "no volume"
    );
}

#[test]
fn keep_id_bind_mount_shows_the_users_ownership() {
    let env = busybox_env(&[]);
    let dir = user_dir(&env, "src");
    let vol = format!("{}:/src", dir.display());
    let out = env.ok([
        "run",
        "--rm",
        "--userns=keep-id",
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "id -u; echo made > /src/new",
    ]);
    assert_eq!(
        out.trim(),
        env.user.uid.to_string(),
        "id -u inside is the user's uid"
    );
    assert_eq!(owner(&dir.join("new")), Some(env.user.uid));
    assert_eq!(fs::read_to_string(dir.join("new")).unwrap(), "made\n");
}

#[test]
fn root_in_container_writes_as_the_user_without_keep_id() {
    let env = busybox_env(&[]);
    let dir = user_dir(&env, "src");
    let vol = format!("{}:/src:rw,z", dir.display());
    env.ok(["run", "--rm", "-v", &vol, "busybox", "touch", "/src/f"]);
    assert_eq!(owner(&dir.join("f")), Some(env.user.uid));
}

#[test]
fn read_only_bind_refuses_writes() {
    let env = busybox_env(&[]);
    let dir = user_dir(&env, "src");
    let vol = format!("{}:/src:ro", dir.display());
    let out = env.run(["run", "--rm", "-v", &vol, "busybox", "touch", "/src/f"]);
    assert_ne!(out.status.code(), Some(0), "write to a :ro bind succeeded");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("f").exists());
    // --mount readonly says the same.
    let m = format!("type=bind,src={},dst=/src,readonly", dir.display());
    let out = env.run(["run", "--rm", "--mount", &m, "busybox", "touch", "/src/f"]);
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn named_volume_keeps_data_across_containers() {
    let env = busybox_env(&[]);
    env.ok([
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo hello > /data/x",
    ]);
    assert_eq!(env.ok(["volume", "ls", "-q"]).trim(), "keep");
    let out = env.ok([
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "cat",
        "/data/x",
    ]);
    assert_eq!(out, "hello\n");
    let mp = env.ok(["volume", "inspect", "--format", "{{.Mountpoint}}", "keep"]);
    assert!(mp.trim().ends_with("/volumes/keep/_data"), "{mp}");
    // --mount type=volume reaches the same data.
    let out = env.ok([
        "run",
        "--rm",
        "--mount",
        "type=volume,source=keep,target=/v",
        "busybox",
        "cat",
        "/v/x",
    ]);
    assert_eq!(out, "hello\n");
}

#[test]
fn volume_commands() {
    let env = busybox_env(&[]);
    assert_eq!(
        env.ok(["volume", "create", "--label", "app=web", "one"])
            .trim(),
        "one"
    );
    env.ok(["volume", "create", "two"]);
    let out = env.run(["volume", "create", "one"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(env.run(["volume", "exists", "one"]).status.code(), Some(0));
    assert_eq!(env.run(["volume", "exists", "nope"]).status.code(), Some(1));
    assert_eq!(
        env.ok(["volume", "ls", "-q", "--filter", "label=app=web"])
            .trim(),
        "one"
    );
    let table = env.ok(["volume", "ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["DRIVER", "VOLUME", "NAME"]
    );
    assert_eq!(lines.len(), 3, "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["volume", "inspect", "one"])).expect("inspect is JSON");
    assert_eq!(json[0]["Name"], "one");
    assert_eq!(json[0]["Driver"], "local");
    assert_eq!(json[0]["Labels"]["app"], "web");
    let out = env.run(["volume", "inspect", "nope"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("no such volume"), "{}", stderr(&out));

    // In use: rm refuses, prune keeps it.
    env.ok(["run", "--name", "user", "-v", "one:/d", "busybox", "true"]);
    let out = env.run(["volume", "rm", "one"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("being used"), "{}", stderr(&out));
    assert_eq!(env.ok(["volume", "prune", "-f"]).trim(), "two");
    assert_eq!(env.ok(["volume", "ls", "-q"]).trim(), "one");
    // -f removes the container using it, then the volume.
    assert_eq!(env.ok(["volume", "rm", "-f", "one"]).trim(), "one");
    nothing_created(&env);
    assert_eq!(env.run(["volume", "rm", "one"]).status.code(), Some(1));
}

#[test]
fn bad_volume_input_creates_nothing() {
    let env = busybox_env(&[]);
    let cases: [(&[&str], &str); 5] = [
        (&["-v", "a:/b:ro:extra"], "incorrect volume format"),
        (&["-v", "vol:relative"], "must be an absolute path"),
        (&["-v", "/no/such/dir:/d"], "no such file or directory"),
        (
            &["-v", "newvol:/d", "--cap-add", "BOGUS"],
            "unknown capability",
        ),
        (&["-v", "newvol:/d", "--ulimit", "nofile=abc"], "ulimit"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(125), "{flags:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(message), "{flags:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        nothing_created(&env);
    }
}

#[test]
fn image_volume_gets_an_anonymous_volume_with_the_images_files() {
    let env = busybox_env(&["VOLUME [\"/etc\"]"]);
    let out = env.ok(["run", "--name", "c", "busybox", "cat", "/etc/passwd"]);
    assert!(out.starts_with("root:"), "copied up: {out}");
    let vols = env.ok(["volume", "ls", "-q"]);
    assert_eq!(vols.trim().len(), 64, "one anonymous volume: {vols}");
    let out = env.run(["volume", "rm", vols.trim()]);
    assert_eq!(out.status.code(), Some(2), "used by c");
}

#[test]
fn u_option_chowns_to_the_container_user() {
    let env = busybox_env(&[]);
    let dir = user_dir(&env, "src");
    fs::write(dir.join("f"), "x").unwrap();
    chown(&dir.join("f"), env.user.uid, env.user.gid);
    let vol = format!("{}:/src:U", dir.display());
    let out = env.ok([
        "run",
        "--rm",
        "--user",
        "1000:1000",
        "-v",
        &vol,
        "busybox",
        "stat",
        "-c",
        "%u:%g",
        "/src/f",
    ]);
    assert_eq!(out.trim(), "1000:1000");
    // Outside, container uid 1000 is a subordinate id, not the user.
    assert_ne!(owner(&dir.join("f")), Some(env.user.uid));

    // Applied again at every start, as Podman does: a file another owner
    // made since is the container user's at the next start.
    env.ok([
        "create",
        "--name",
        "u2",
        "--user",
        "1000:1000",
        "-v",
        &vol,
        "busybox",
        "stat",
        "-c",
        "%u:%g",
        "/src/g",
    ]);
    fs::write(dir.join("g"), "y").unwrap();
    chown(&dir.join("g"), env.user.uid, env.user.gid);
    env.ok(["start", "u2"]);
    env.ok(["wait", "u2"]);
    assert_eq!(env.ok(["logs", "u2"]).trim(), "1000:1000");
}

/// Podman's name filters are regular expressions; the same `-v` given
/// twice is one mount (issue 12).
#[test]
fn name_filters_are_regexes_and_repeated_volumes_are_one() {
    let env = common::images::busybox_env(&[]);
    env.ok(["volume", "create", "vfa"]);
    env.ok(["volume", "create", "vfab"]);
    let out = env.ok(["volume", "ls", "-q", "--filter", "name=^vf.$"]);
    assert_eq!(out.trim(), "vfa");
    let out = env.ok(["volume", "ls", "-q", "--filter", "name=ab"]);
    assert_eq!(out.trim(), "vfab");
    env.ok(["create", "--name", "rx-1", "busybox", "true"]);
    env.ok(["create", "--name", "rx-22", "busybox", "true"]);
    let out = env.ok([
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        "name=^rx-[0-9]$",
    ]);
    assert_eq!(out.trim(), "rx-1");
    let out = env.ok([
        "run", "--rm", "-v", "vfa:/mnt", "-v", "vfa:/mnt", "busybox", "true",
    ]);
    assert_eq!(out, "");
    let out = env.run([
        "run",
        "--rm",
        "-v",
        "vfa:/mnt",
        "-v",
        "vfab:/mnt",
        "busybox",
        "true",
    ]);
    assert_eq!(
        out.status.code(),
        Some(125),
        "two sources at one destination"
    );
}
