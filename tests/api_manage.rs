//! The other container routes over the REST service, with the docker CLI
//! and curl: rename, top, changes (diff), export, containers/prune, and
//! pause/unpause, stats and update, which need a cgroup of the container's
//! own: where the host has none for a rootless user (cgroup v1), the API
//! refuses them with the CLI's own message and a 409.

mod common;

use std::path::Path;

use common::api::*;
use common::images::busybox_env;
use common::*;

fn ok(env: &TestEnv, sock: &Path, args: &[&str]) -> String {
    let out = docker(env, sock, args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// The CLI's one-line error for `args`, without "Error: ".
fn cli_error(env: &TestEnv, args: &[&str]) -> Option<String> {
    let out = env.run(args);
    if out.status.success() {
        return None;
    }
    Some(stderr(&out).trim().trim_start_matches("Error: ").to_owned())
}

#[test]
fn rename_top_diff_export_prune() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    ok(
        &env,
        &sock,
        &["run", "-d", "--name", "box", "busybox", "sleep", "300"],
    );

    ok(&env, &sock, &["rename", "box", "box2"]);
    assert_eq!(ok(&env, &sock, &["ps", "--format", "{{.Names}}"]), "box2\n");
    ok(
        &env,
        &sock,
        &["create", "--name", "taken", "busybox", "true"],
    );
    let out = docker(&env, &sock, &["rename", "box2", "taken"]);
    assert!(!out.status.success());
    let (code, _) = curl(&env, &sock, "POST", "/v1.47/containers/box2/rename");
    assert_eq!(code, 400);
    let (code, _) = curl(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/nosuch/rename?name=x",
    );
    assert_eq!(code, 404);

    // top: Docker's default table, then chosen descriptors.
    let table = ok(&env, &sock, &["top", "box2"]);
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.contains("PID") && h.contains("COMMAND")),
        "{table}"
    );
    assert!(table.contains("sleep 300"), "{table}");
    let table = ok(&env, &sock, &["top", "box2", "pid,args"]);
    assert_eq!(table.lines().count(), 2, "{table}");
    let (code, body) = curl(&env, &sock, "GET", "/v1.47/containers/box2/top?ps_args=pid");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("top JSON");
    assert_eq!(v["Titles"], serde_json::json!(["PID"]));
    assert_eq!(v["Processes"], serde_json::json!([["1"]]));
    let (code, _) = curl(&env, &sock, "GET", "/v1.47/containers/taken/top");
    assert_eq!(code, 409);

    // changes: Docker's kinds (0 changed, 1 added).
    ok(&env, &sock, &["exec", "box2", "touch", "/tmp/new"]);
    let diff = ok(&env, &sock, &["diff", "box2"]);
    assert!(diff.contains("A /tmp/new"), "{diff}");
    assert!(diff.contains("C /tmp"), "{diff}");
    let (code, body) = curl(&env, &sock, "GET", "/v1.47/containers/box2/changes");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("changes JSON");
    assert!(
        v.as_array()
            .is_some_and(|a| a.contains(&serde_json::json!({"Path": "/tmp/new", "Kind": 1}))),
        "{v}"
    );

    // export: the whole root, the change included.
    let out = env.home.join("export.tar");
    ok(
        &env,
        &sock,
        &["export", "-o", &out.display().to_string(), "box2"],
    );
    let listing = std::process::Command::new("tar")
        .arg("tf")
        .arg(&out)
        .output()
        .expect("tar tf");
    let names = stdout(&listing);
    assert!(names.lines().any(|l| l == "bin/busybox"), "{names}");
    assert!(names.lines().any(|l| l == "tmp/new"), "{names}");
    let (code, _) = curl(&env, &sock, "GET", "/v1.47/containers/nosuch/export");
    assert_eq!(code, 404);

    // prune: the stopped ones only.
    let out = ok(&env, &sock, &["container", "prune", "-f"]);
    assert!(out.contains("Deleted Containers"), "{out}");
    assert_eq!(
        ok(&env, &sock, &["ps", "-a", "--format", "{{.Names}}"]),
        "box2\n"
    );
    let (code, body) = curl(&env, &sock, "POST", "/v1.47/containers/prune");
    assert_eq!(code, 200);
    assert!(body.contains("\"ContainersDeleted\":[]"), "{body}");
    let (code, _) = curl(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/prune?filters=%7B%22label%22%3A%5B%22a%22%5D%7D",
    );
    assert_eq!(code, 400);
    ok(&env, &sock, &["rm", "-f", "box2"]);
}

#[test]
fn pause_stats_update_or_the_clis_refusal() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    ok(
        &env,
        &sock,
        &["run", "-d", "--name", "box", "busybox", "sleep", "300"],
    );
    ok(
        &env,
        &sock,
        &["create", "--name", "idle", "busybox", "true"],
    );

    // Not running: nothing to pause.
    let (code, _) = curl(&env, &sock, "POST", "/v1.47/containers/idle/pause");
    assert_eq!(code, 409);
    let (code, _) = curl(&env, &sock, "POST", "/v1.47/containers/box/unpause");
    assert_eq!(code, 409);

    match cli_error(&env, &["pause", "box"]) {
        None => {
            ok(&env, &sock, &["unpause", "box"]);
            ok(&env, &sock, &["pause", "box"]);
            assert_eq!(
                ok(&env, &sock, &["inspect", "-f", "{{.State.Status}}", "box"]).trim(),
                "paused"
            );
            ok(&env, &sock, &["unpause", "box"]);
            assert_eq!(
                ok(&env, &sock, &["inspect", "-f", "{{.State.Status}}", "box"]).trim(),
                "running"
            );
        }
        Some(msg) => {
            let (code, body) = curl(&env, &sock, "POST", "/v1.47/containers/box/pause");
            assert_eq!(code, 409, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("error JSON");
            assert_eq!(v["message"].as_str(), Some(msg.as_str()));
        }
    }

    match cli_error(&env, &["stats", "--no-stream", "box"]) {
        None => {
            let out = ok(
                &env,
                &sock,
                &[
                    "stats",
                    "--no-stream",
                    "--format",
                    "{{.Name}} {{.PIDs}}",
                    "box",
                ],
            );
            assert_eq!(out, "box 1\n");
            let (code, body) = curl(
                &env,
                &sock,
                "GET",
                "/v1.47/containers/box/stats?stream=false",
            );
            assert_eq!(code, 200);
            let v: serde_json::Value = serde_json::from_str(body.trim()).expect("stats JSON");
            assert!(
                v["cpu_stats"]["system_cpu_usage"]
                    .as_u64()
                    .is_some_and(|n| n > 0),
                "{v}"
            );
            assert!(
                v["precpu_stats"]["system_cpu_usage"]
                    .as_u64()
                    .is_some_and(|n| n > 0),
                "{v}"
            );
            assert!(
                v["memory_stats"]["usage"].as_u64().is_some_and(|n| n > 0),
                "{v}"
            );
            let (code, body) = curl(
                &env,
                &sock,
                "GET",
                "/v1.47/containers/box/stats?stream=false&one-shot=true",
            );
            assert_eq!(code, 200);
            let v: serde_json::Value = serde_json::from_str(body.trim()).expect("stats JSON");
            assert_eq!(v["precpu_stats"]["system_cpu_usage"], 0, "{v}");
        }
        Some(msg) => {
            let (code, body) = curl(
                &env,
                &sock,
                "GET",
                "/v1.47/containers/box/stats?stream=false",
            );
            assert_eq!(code, 409, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("error JSON");
            assert_eq!(v["message"].as_str(), Some(msg.as_str()));
        }
    }
    let (code, _) = curl(
        &env,
        &sock,
        "GET",
        "/v1.47/containers/box/stats?stream=true&one-shot=true",
    );
    assert_eq!(code, 400);
    let (code, _) = curl(
        &env,
        &sock,
        "GET",
        "/v1.47/containers/nosuch/stats?stream=false",
    );
    assert_eq!(code, 404);

    match cli_error(&env, &["update", "--memory", "64m", "box"]) {
        None => {
            ok(&env, &sock, &["update", "--memory", "96m", "box"]);
            assert_eq!(
                ok(
                    &env,
                    &sock,
                    &["inspect", "-f", "{{.HostConfig.Memory}}", "box"]
                )
                .trim(),
                "100663296"
            );
        }
        Some(msg) => {
            let (code, body) = curl_with(
                &env,
                &sock,
                "POST",
                "/v1.47/containers/box/update",
                Some(r#"{"Memory":67108864}"#),
            );
            assert_eq!(code, 409, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("error JSON");
            assert_eq!(v["message"].as_str(), Some(msg.as_str()));
        }
    }
    // What the engine cannot change is refused whatever the host.
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/box/update",
        Some(r#"{"RestartPolicy":{"Name":"always"}}"#),
    );
    assert_eq!(code, 400, "{body}");
    let (code, _) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/box/update",
        Some(r#"{"KernelMemory":5}"#),
    );
    assert_eq!(code, 400);
    let (code, _) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/box/update",
        Some("[1"),
    );
    assert_eq!(code, 400);
    ok(&env, &sock, &["rm", "-f", "box", "idle"]);
}

/// `update`'s newer limits (per-device block I/O, real time, swappiness)
/// in both APIs' bodies: taken (never "not supported", a 400), then
/// applied or refused as the CLI's `update` with the same limits is.
#[test]
fn update_bodies_take_device_realtime_and_swappiness_limits() {
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    env.ok(["create", "--name", "upd", "busybox", "true"]);
    let cli = cli_error(
        &env,
        &[
            "update",
            "--cpu-rt-period",
            "1000",
            "--memory-swappiness",
            "10",
            "--device-read-bps",
            "/dev/null:1mb",
            "upd",
        ],
    );
    let docker_body = r#"{"CpuRealtimePeriod":2000,"CpuRealtimeRuntime":0,"MemorySwappiness":20,
        "BlkioDeviceReadBps":[{"Path":"/dev/null","Rate":2097152}],
        "BlkioDeviceWriteIOps":[{"Path":"/dev/null","Rate":30}],
        "BlkioWeightDevice":[{"Path":"/dev/null","Weight":300}]}"#;
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/upd/update",
        Some(docker_body),
    );
    // /dev/null is 1:3: the libpod body names devices by number.
    let libpod_body = r#"{"cpu":{"realtimePeriod":3000},"memory":{"swappiness":30},
        "blockIO":{"throttleReadBpsDevice":[{"major":1,"minor":3,"rate":3145728}]}}"#;
    let (lcode, lbody) = curl_with(
        &env,
        &sock,
        "POST",
        "/v4.3.1/libpod/containers/upd/update",
        Some(libpod_body),
    );
    match cli {
        None => {
            assert_eq!(code, 200, "{body}");
            assert_eq!(lcode, 201, "{lbody}");
            let out = env.ok([
                "inspect",
                "-f",
                "{{.HostConfig.CpuRealtimePeriod}} {{.HostConfig.MemorySwappiness}} {{len .HostConfig.BlkioDeviceReadBps}}",
                "upd",
            ]);
            // The libpod update's values, the device named twice once.
            assert_eq!(out.trim(), "3000 30 1", "{out}");
        }
        Some(msg) => {
            for (code, body) in [(code, &body), (lcode, &lbody)] {
                assert_eq!(code, 409, "{body}");
                let v: serde_json::Value = serde_json::from_str(body).expect("error JSON");
                assert_eq!(v["message"].as_str(), Some(msg.as_str()), "{body}");
            }
        }
    }
    // A device that is not there: the CLI's 400 words.
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v1.47/containers/upd/update",
        Some(r#"{"BlkioDeviceReadBps":[{"Path":"/dev/nope","Rate":1}]}"#),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("/dev/nope"), "{body}");
}
