//! `hutch info` as a user reads it: host facts, formats, and no side effects.

mod common;

use common::*;

#[test]
fn info_reports_the_host_without_creating_the_namespace() {
    let env = TestEnv::new(TestUser::default_user());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(
        env.ok(["info", "--format", "{{.Host.Kernel}}"]).trim(),
        kernel.trim()
    );

    let json: serde_json::Value =
        serde_json::from_str(&env.ok(["info", "--format", "json"])).expect("info json");
    let host = &json["host"];
    assert_eq!(host["security"]["rootless"], serde_json::json!(true));
    assert_eq!(
        host["runtimeDir"],
        serde_json::json!(env.run_dir().display().to_string())
    );
    for tool in ["pasta", "slirp4netns", "fuseOverlayfs"] {
        assert!(host[tool]["available"].is_boolean(), "{tool} reported");
    }
    assert!(
        host["cgroupManagerReason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    let uidmap = host["idMappings"]["uidmap"].as_array().expect("uid map");
    assert_eq!(uidmap[0]["host_id"], serde_json::json!(env.user.uid));
    assert!(
        env.pause_pids().is_empty(),
        "info must not create the namespace"
    );

    let yaml = env.ok(["info"]);
    assert!(
        yaml.contains("host:") && yaml.contains("kernel: "),
        "{yaml}"
    );
}

#[test]
fn info_shows_the_live_namespace_maps() {
    let env = TestEnv::new(TestUser::default_user());
    env.ok(["unshare", "true"]);
    let state = env.ok(["info", "--format", "{{.Host.Namespace.State}}"]);
    assert_eq!(state.trim(), "running");
}

#[test]
fn bad_template_is_a_clear_error() {
    let env = TestEnv::new(TestUser::default_user());
    let out = env.run(["info", "--format", "{{.Host.Kernel"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("template"), "{}", stderr(&out));
    let out = env.run(["info", "--format", "{{.Host.NoSuchField}}"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("NoSuchField"), "{}", stderr(&out));
}

/// The `info` keys Podman's users template on exist (issue 12):
/// `{{.Host.LogDriver}}` and friends render instead of failing.
#[test]
fn podman_info_keys_render() {
    let env = TestEnv::new(TestUser::default_user());
    let out = env.ok([
        "info",
        "--format",
        "{{.Host.LogDriver}}|{{.Host.Distribution.Distribution}}|{{.Host.Conmon.Path}}|{{.Store.ImageStore.Number}}|{{.Store.GraphOptions}}",
    ]);
    let parts: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(parts.len(), 5, "{out}");
    assert_eq!(parts[0], "k8s-file");
    assert!(!parts[1].is_empty(), "{out}");
    assert!(parts[2].ends_with("hutch-monitor"), "{out}");
    assert_eq!(parts[3], "0", "a new store has no image: {out}");
    assert_eq!(parts[4], "map[]");
}
