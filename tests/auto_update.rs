//! `auto-update` against a real registry (Debian's docker-registry on
//! 127.0.0.1), as the unprivileged test user: a container whose image has
//! a newer digest in the registry is `pending`, one without the systemd
//! unit label is left out with Podman's error, and without `--dry-run` the
//! unit restart (no systemd on this host) fails per container. Moving to a
//! new image and rolling back for real needs systemd: the host tier. The
//! rollback of an update whose container does not turn healthy is tested
//! here with a stand-in for `systemctl` that does what the unit of a
//! `generate systemd --new` service does on a restart (remove the
//! container, run it anew from the image its name points to).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

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

/// A docker-archive of the busybox image running `sleep 600`, with a
/// HEALTHCHECK `test` checked every second, unhealthy at the first
/// failure.
fn image_with_healthcheck(test: &[&str], repo_tag: &str) -> Vec<u8> {
    use sha2::Digest;
    let layer = busybox_rootfs();
    let hex = |b: &[u8]| format!("{:x}", sha2::Sha256::digest(b));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sleep", "600"],
                   "Healthcheck": {"Test": test, "Interval": 1_000_000_000u64, "Retries": 1}},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex(&layer))]},
    });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", hex(&config_bytes));
    let layer_name = format!("{}.tar", hex(&layer));
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": [repo_tag],
        "Layers": [layer_name]}]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&config_name, &config_bytes);
    add(&layer_name, &layer);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap()
}

/// Loads an image with HEALTHCHECK `test` as `local` and pushes it to
/// `remote` (the local name stays where it was).
fn push_checked(env: &TestEnv, test: &[&str], local: &str, remote: &str, file: &str) {
    let archive = write_readable(&env.root, file, &image_with_healthcheck(test, local));
    env.ok(["load", "-i", archive.to_str().unwrap()]);
    env.ok(["push", local, remote]);
}

#[test]
fn an_update_whose_container_turns_unhealthy_is_rolled_back() {
    let dir = std::env::temp_dir().join(format!("hutch-au-hc-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let Some(reg) = Registry::start(&dir.join("registry"), None) else {
        return;
    };
    let env = env_with(&reg);
    let remote = format!("{}/test/hc:latest", reg.address());
    push_checked(&env, &["CMD", "true"], "localhost/hc:v1", &remote, "v1.tar");
    // The local image is the registry's, byte for byte.
    env.ok(["rmi", "-a", "-f"]);
    env.ok(["pull", "-q", &remote]);

    // No systemd here: `systemctl` is a stand-in that restarts web.service
    // as its ExecStop and ExecStart would, and logs each call.
    let bin = env.root.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let calls = env.root.join("systemctl.log");
    let hutch = hutch_bin().display().to_string();
    let script = format!(
        "#!/bin/sh\n\
         echo \"$*\" >> {calls}\n\
         [ \"$*\" = '--user restart -- web.service' ] || {{ echo \"unexpected: $*\" >&2; exit 1; }}\n\
         {hutch} rm -f web >/dev/null || exit 1\n\
         PODMAN_SYSTEMD_UNIT=web.service exec {hutch} run -d --name web \
         --label io.containers.autoupdate=registry {remote} >/dev/null\n",
        calls = calls.display()
    );
    let systemctl = bin.join("systemctl");
    fs::write(&systemctl, script).unwrap();
    fs::set_permissions(&systemctl, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(&calls, "").unwrap();
    fs::set_permissions(&calls, fs::Permissions::from_mode(0o666)).unwrap();
    let path = format!(
        "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        bin.display()
    );
    let update = |args: &[&str]| {
        let mut all = vec!["auto-update", "--format", "{{.Unit}} {{.Updated}}"];
        all.extend_from_slice(args);
        let out = env.hutch(&all).env("PATH", &path).output().unwrap();
        (out.status.success(), stdout(&out), stderr(&out))
    };
    let restarts = || fs::read_to_string(&calls).unwrap().lines().count();

    let out = env
        .hutch([
            "run",
            "-d",
            "--name",
            "web",
            "--label",
            "io.containers.autoupdate=registry",
            &remote,
        ])
        .env("PODMAN_SYSTEMD_UNIT", "web.service")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v1 = env.ok(["inspect", "web", "--format", "{{.Image}}"]);

    // v2's check fails: the restart works, the container turns unhealthy
    // a second later, and the unit is restarted on v1 again.
    push_checked(
        &env,
        &["CMD", "false"],
        "localhost/hc:v2",
        &remote,
        "v2.tar",
    );
    let (ok, out, err) = update(&[]);
    assert!(ok, "a rollback is no error: {out}{err}");
    assert_eq!(out, "web.service rolled back\n", "{err}");
    assert!(
        err.contains("web.service rolled back to its previous image")
            && err.contains("its container is unhealthy"),
        "{err}"
    );
    assert_eq!(restarts(), 2, "restarted onto v2, then back onto v1");
    assert_eq!(env.ok(["inspect", "web", "--format", "{{.Image}}"]), v1);
    assert_eq!(
        env.ok(["image", "inspect", &remote, "--format", "{{.Id}}"]),
        v1,
        "the name is v1's again"
    );

    // --rollback=false leaves the unhealthy update in place, as failed.
    let (ok, out, err) = update(&["--rollback=false"]);
    assert!(!ok, "{out}");
    assert_eq!(out, "web.service failed\n", "{err}");
    assert!(
        err.contains("systemd unit \"web.service\" restarted but its container is unhealthy"),
        "{err}"
    );
    assert_eq!(restarts(), 3);
    assert_ne!(env.ok(["inspect", "web", "--format", "{{.Image}}"]), v1);

    // v3's check passes: the update stands once the container is healthy.
    push_checked(
        &env,
        &["CMD-SHELL", "true"],
        "localhost/hc:v3",
        &remote,
        "v3.tar",
    );
    let (ok, out, err) = update(&[]);
    assert!(ok, "{out}{err}");
    assert_eq!(out, "web.service true\n", "{err}");
    assert_eq!(restarts(), 4);
    assert_eq!(
        env.ok(["inspect", "web", "--format", "{{.State.Health.Status}}"])
            .trim(),
        "healthy"
    );

    env.ok(["rm", "-f", "-a"]);
    let _ = fs::remove_dir_all(&dir);
}
