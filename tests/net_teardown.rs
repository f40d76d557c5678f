//! The network helper's end as `run` sees it: the helper is killed before
//! the runtime's delete and reaped before the container counts as exited,
//! so a published port is free again the moment `run --rm` returns, the
//! pasta started for the run is gone, and slirp4netns gets IPv6 as Podman
//! gives it. Also `--cpu-weight` on the command line.

mod common;

use std::net::TcpListener;

use common::images::*;
use common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// pasta/slirp4netns processes attached to namespaces under the env's run dir.
fn helpers(env: &TestEnv) -> Vec<i32> {
    let needle = env.run_dir().join("netns").to_string_lossy().into_owned();
    live_processes()
        .into_iter()
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c).into_owned();
                (c.contains("pasta") || c.contains("slirp4netns")) && c.contains(&needle)
            })
        })
        .collect()
}

fn port_free_when_run_returns(mode: &str) {
    let env = busybox_env(&[]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    for i in 0..3 {
        // A helper still dying would hold the port: `create` checks it.
        let out = env.run([
            "run",
            "--rm",
            "--network",
            mode,
            "-p",
            &publish,
            "busybox",
            "true",
        ]);
        assert!(out.status.success(), "{mode} run {i}: {}", stderr(&out));
        assert!(helpers(&env).is_empty(), "{mode} run {i} left its helper");
        TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("{mode} run {i}: port {port} still held: {e}"));
    }
}

#[test]
fn pasta_port_is_free_when_run_returns() {
    port_free_when_run_returns("pasta");
}

#[test]
fn slirp4netns_port_is_free_when_run_returns() {
    port_free_when_run_returns("slirp4netns");
}

/// The running helper's command line (the IPv6 address itself comes later,
/// from slirp4netns's router advertisement).
fn slirp_args(env: &TestEnv, mode: &str) -> String {
    let id = env.ok([
        "run",
        "-d",
        "--network",
        mode,
        "busybox",
        "busybox",
        "sleep",
        "30",
    ]);
    let pids = helpers(env);
    assert_eq!(pids.len(), 1, "{pids:?}");
    let args = std::fs::read(format!("/proc/{}/cmdline", pids[0]))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default();
    env.ok(["rm", "-f", id.trim()]);
    args
}

#[test]
fn slirp4netns_has_ipv6_unless_disabled() {
    let env = busybox_env(&[]);
    let args = slirp_args(&env, "slirp4netns");
    assert!(args.contains("--enable-ipv6"), "{args}");
    assert!(args.contains("--mtu=65520"), "{args}");
    let args = slirp_args(&env, "slirp4netns:enable_ipv6=false");
    assert!(
        args.contains("slirp4netns") && !args.contains("ipv6"),
        "{args}"
    );
}

#[test]
fn cpu_weight_is_checked_and_accepted() {
    let env = busybox_env(&[]);
    let out = env.run(["run", "--rm", "--cpu-weight", "300", "busybox", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(["run", "--rm", "--cpu-weight", "0", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("cpu-weight"), "{}", stderr(&out));
    let out = env.run([
        "run",
        "--rm",
        "--cpu-weight",
        "300",
        "--cpu-shares",
        "512",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("--cpu-shares"), "{}", stderr(&out));
}
