//! `update` writes the merged limits back to the container's stored spec:
//! a second `update` keeps what the first one set. Checked through
//! `inspect`, which shows the stored limits; on this hybrid-cgroup host the
//! limits cannot reach a cgroup, so the container is not started (the
//! systemd guest tier covers live updates). Rootless `update` is refused
//! here without cgroups v2, so this runs rootful, on a store of its own
//! (`--root`), not the host's.

mod common;

use common::images::*;
use common::*;

/// `hutch --root <the test's own store> ARGS`.
fn ok(env: &TestEnv, args: &[&str]) -> String {
    let root = env.root.join("storage");
    let mut all = vec!["--root", root.to_str().expect("path")];
    all.extend_from_slice(args);
    env.ok(all)
}

fn limits(env: &TestEnv, name: &str) -> (String, String, String) {
    let out = ok(
        env,
        &[
            "inspect",
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}",
            name,
        ],
    );
    let mut f = out.split_whitespace().map(String::from);
    (
        f.next().unwrap_or_default(),
        f.next().unwrap_or_default(),
        f.next().unwrap_or_default(),
    )
}

#[test]
fn a_second_update_keeps_the_first_ones_limits() {
    let Some(root) = TestUser::root() else {
        eprintln!("skipped: rootless update needs cgroups v2; rootful needs root");
        return;
    };
    let env = TestEnv::new(root);
    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    ok(
        &env,
        &[
            "import",
            "--change",
            "CMD=/bin/sh",
            tar.to_str().expect("path"),
            "busybox",
        ],
    );
    let name = "limited";
    ok(
        &env,
        &[
            "create",
            "--name",
            name,
            "--pids-limit",
            "50",
            "busybox",
            "sleep",
            "60",
        ],
    );
    assert_eq!(limits(&env, name).1, "50");

    ok(&env, &["update", "--memory", "64m", name]);
    assert_eq!(
        limits(&env, name),
        ((64u64 << 20).to_string(), "50".to_string(), "0".to_string())
    );
    ok(&env, &["update", "--cpus", "1.5", name]);
    // The first update's memory and create's pids limit are still there.
    assert_eq!(
        limits(&env, name),
        (
            (64u64 << 20).to_string(),
            "50".to_string(),
            "1500000000".to_string()
        )
    );
    // And config.json, regenerated from the spec, says the same.
    let config = ok(&env, &["inspect", "--format", "{{.OCIConfigPath}}", name]);
    let config = config.trim();
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(config).expect("config.json")).expect("json");
    // Where no cgroup applies (this host), config.json has no resources;
    // the input it was regenerated from carries the merged limits.
    let input = std::path::Path::new(config).with_file_name("oci-input.json");
    let input: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&input).expect("oci-input.json")).expect("json");
    let r = &input["resources"];
    assert_eq!(
        (&r["memory"], &r["pids_limit"], &r["nano_cpus"]),
        (
            &serde_json::json!(64 << 20),
            &serde_json::json!(50),
            &serde_json::json!(1_500_000_000u64)
        ),
        "{r}"
    );
    let res = &spec["linux"]["resources"];
    if !res.is_null() {
        assert_eq!(res["memory"]["limit"], 64 << 20, "{res}");
        assert_eq!(res["pids"]["limit"], 50, "{res}");
    }
    ok(&env, &["rm", "-f", name]);
}
