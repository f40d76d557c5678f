//! `auto-update` against a real registry (Debian's docker-registry on
//! 127.0.0.1), as the unprivileged test user: a container whose image has
//! a newer digest in the registry is `pending`, one without the systemd
//! unit label is left out with Podman's error, and without `--dry-run` the
//! unit restart (no systemd on this host) fails per container. Moving to a
//! new image and rolling back for real needs systemd: the host tier.

mod common;

use std::fs;

use common::images::*;
use common::registry::Registry;
use common::*;

/// A test environment whose registries.conf marks the test registry as
/// plain HTTP.
fn env_with(reg: &Registry) -> TestEnv {
    let mut env = TestEnv::new(TestUser::default_user());
    let conf = write_readable(
        &env.root,
        "registries.conf",
        format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            reg.address()
        )
        .as_bytes(),
    );
    env.vars.push((
        "CONTAINERS_REGISTRIES_CONF".into(),
        conf.display().to_string(),
    ));
    env
}

/// Loads an image made of `layers` as `local` and pushes it as `remote`.
fn push_image(env: &TestEnv, layers: &[Vec<u8>], local: &str, remote: &str, file: &str) {
    let archive = write_readable(&env.root, file, &docker_archive(layers, local));
    env.ok(["load", "-i", archive.to_str().unwrap()]);
    env.ok(["tag", local, remote]);
    env.ok(["push", remote]);
}

/// `auto-update` with `args`: (exit success, stdout, stderr).
fn auto_update(env: &TestEnv, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["auto-update"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    (out.status.success(), stdout(&out), stderr(&out))
}

#[test]
fn dry_run_reports_false_then_pending_and_skips_containers_without_a_unit() {
    let dir = std::env::temp_dir().join(format!("hutch-au-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let Some(reg) = Registry::start(&dir.join("registry"), None) else {
        return;
    };
    let env = env_with(&reg);
    let remote = format!("{}/test/app:latest", reg.address());
    push_image(
        &env,
        &[busybox_rootfs()],
        "localhost/app:v1",
        &remote,
        "v1.tar",
    );
    // The local image is the registry's, byte for byte.
    env.ok(["rmi", "-a", "-f"]);
    env.ok(["pull", "-q", &remote]);

    // The unit label comes from the environment a systemd unit sets, as
    // in Podman.
    let out = env
        .hutch([
            "run",
            "-d",
            "--name",
            "reg",
            "--label",
            "io.containers.autoupdate=registry",
            &remote,
            "sleep",
            "600",
        ])
        .env("PODMAN_SYSTEMD_UNIT", "reg.service")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reg_id = stdout(&out).trim().to_owned();
    env.ok([
        "run",
        "-d",
        "--name",
        "loc",
        "--label",
        "io.containers.autoupdate=local",
        "--label",
        "PODMAN_SYSTEMD_UNIT=loc.service",
        &remote,
        "sleep",
        "600",
    ]);
    let nounit_id = env
        .ok([
            "run",
            "-d",
            "--name",
            "nounit",
            "--label",
            "io.containers.autoupdate=image",
            &remote,
            "sleep",
            "600",
        ])
        .trim()
        .to_owned();
    assert_eq!(
        env.ok([
            "inspect",
            "reg",
            "--format",
            "{{index .Config.Labels \"PODMAN_SYSTEMD_UNIT\"}}"
        ])
        .trim(),
        "reg.service"
    );

    // Nothing newer: `false`, Podman's table; the container without a
    // unit is not in it and fails the command.
    let (ok, out, err) = auto_update(&env, &["--dry-run"]);
    assert!(!ok, "a container without a unit label is an error");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines.first().cloned(),
        Some(vec!["UNIT", "CONTAINER", "IMAGE", "POLICY", "UPDATED"]),
        "{out}"
    );
    assert_eq!(
        lines.get(1).cloned(),
        Some(vec![
            "reg.service",
            &reg_id[..12],
            "(reg)",
            remote.as_str(),
            "registry",
            "false"
        ]),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[2][0], "loc.service", "{out}");
    assert_eq!(lines[2][4], "local", "{out}");
    assert_eq!(lines[2][5], "false", "{out}");
    assert!(!out.contains("nounit"), "{out}");
    assert!(
        err.contains(&format!(
            "auto-updating container \"{nounit_id}\": no PODMAN_SYSTEMD_UNIT label found"
        )),
        "{err}"
    );
    env.ok(["rm", "-f", "nounit"]);

    // A changed image under the same tag: the registry's digest moves
    // (and so does the local name, which `local` follows).
    let changed = layer(&[Entry::Dir("etc"), Entry::File("etc/motd", b"v2\n")]);
    push_image(
        &env,
        &[busybox_rootfs(), changed],
        "localhost/app:v2",
        &remote,
        "v2.tar",
    );
    let (ok, out, err) = auto_update(&env, &["--dry-run", "--format", "{{.Unit}} {{.Updated}}"]);
    assert!(ok, "{err}");
    assert_eq!(out, "reg.service pending\nloc.service pending\n", "{err}");
    let (ok, out, _) = auto_update(&env, &["--dry-run", "--format", "json"]);
    assert!(ok);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json[0]["Container"], format!("{} (reg)", &reg_id[..12]));
    assert_eq!(json[0]["ContainerID"], reg_id.as_str());
    assert_eq!(json[0]["Policy"], "registry");

    // For real: the new image is pulled, then restarting the unit fails
    // (no systemd here) and the error names the container and the unit.
    let (ok, out, err) = auto_update(
        &env,
        &["--rollback=false", "--format", "{{.Unit}} {{.Updated}}"],
    );
    assert!(!ok, "{out}");
    assert_eq!(out, "reg.service failed\nloc.service failed\n", "{err}");
    assert!(
        err.contains(&format!(
            "auto-updating container \"{reg_id}\": restarting systemd unit \"reg.service\" failed"
        )),
        "{err}"
    );

    // With --rollback (the default) the old image gets the name back
    // after the failed restart, so the `local` container, checked next,
    // has nothing newer.
    let old = env.ok(["inspect", "reg", "--format", "{{.Image}}"]);
    let (ok, out, err) = auto_update(&env, &["--format", "{{.Unit}} {{.Updated}}"]);
    assert!(!ok, "{out}");
    assert_eq!(out, "reg.service failed\nloc.service false\n", "{err}");
    assert!(
        err.contains("restarting unit with old image during fallback"),
        "{err}"
    );
    assert_eq!(
        env.ok(["image", "inspect", &remote, "--format", "{{.Id}}"])
            .trim(),
        old.trim()
    );

    env.ok(["rm", "-f", "-a"]);
    let _ = fs::remove_dir_all(&dir);
}
