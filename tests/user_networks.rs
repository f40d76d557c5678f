//! User networks as users see them: containers on one network reach each
//! other by name and alias through hutch's resolver, not across networks;
//! a network in use is not removed; and once the containers are gone no
//! holder, slirp4netns or namespace of the rootless netns is left.

mod common;

use std::path::Path;
use std::time::Duration;

use common::images::*;
use common::*;

/// Live processes of the rootless netns under `run_dir` (the holder and
/// its slirp4netns name the directory on their command line).
/// The holder and its slirp4netns end with the last container (deadline).
fn assert_netns_gone(run_dir: &Path) {
    assert!(
        wait_until(Duration::from_secs(5), || netns_processes(run_dir)
            .is_empty()),
        "left: {:?}",
        netns_processes(run_dir)
    );
}

fn netns_processes(run_dir: &Path) -> Vec<i32> {
    let needle = run_dir.join("rootless-netns");
    let needle = needle.to_string_lossy().into_owned();
    live_processes()
        .into_iter()
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

/// Removes every container when the test ends, passed or not, so that no
/// holder outlives a failed test.
struct Cleanup<'a>(&'a TestEnv);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(["rm", "-fa"]);
    }
}

/// `wget $0` for at most 5 s. Under `sh`: `timeout`'s SIGTERM would not
/// end a wget that is the container's pid 1 (and this busybox's `wget -T`
/// crashes).
/// The trailing `exit` keeps sh from exec'ing the last command.
const BOUNDED_WGET: &str = "busybox timeout 5 busybox wget -qO- \"$0\"; exit $?";

/// Starts a web server container answering `body` on port 8080.
fn web(env: &TestEnv, name: &str, net: &str, extra: &[&str], body: &str) {
    let script = format!(
        "busybox mkdir -p /www && echo {body} > /www/index.html && exec busybox httpd -f -p 8080 -h /www"
    );
    let mut args = vec!["run", "-d", "--name", name, "--network", net];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    env.ok(args);
}

/// `wget` from a fresh container on `net`, retried until it answers (the
/// server starts asynchronously) or the deadline passes.
fn fetch(env: &TestEnv, net: &str, url: &str) -> Option<String> {
    let mut got = None;
    wait_until(Duration::from_secs(20), || {
        let out = env.run([
            "run",
            "--rm",
            "--network",
            net,
            "busybox",
            "busybox",
            "wget",
            "-qO-",
            url,
        ]);
        if out.status.success() {
            got = Some(stdout(&out));
            true
        } else {
            false
        }
    });
    got
}

#[test]
fn containers_on_a_network_reach_each_other_by_name() {
    let env = busybox_env(&[]);
    let _cleanup = Cleanup(&env);
    env.ok(["network", "create", "n1"]);
    env.ok(["network", "create", "n2"]);
    web(&env, "a", "n1", &["--network-alias", "web"], "hello-from-a");

    let page = fetch(&env, "n1", "http://a:8080/");
    assert_eq!(page.as_deref().map(str::trim), Some("hello-from-a"));
    let page = fetch(&env, "n1", "http://web:8080/");
    assert_eq!(page.as_deref().map(str::trim), Some("hello-from-a"));

    // The container's view: an address of n1's subnet, the gateway as its
    // resolver, Podman's search domain.
    let resolv = env.ok([
        "run",
        "--rm",
        "--network",
        "n1",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    let net: serde_json::Value =
        serde_json::from_str(&env.ok(["network", "inspect", "n1"])).expect("inspect json");
    let gw = net[0]["subnets"][0]["gateway"].as_str().expect("gateway");
    assert!(resolv.contains(&format!("nameserver {gw}")), "{resolv}");
    assert!(resolv.contains("search dns.podman"), "{resolv}");

    // From another network the name is unknown.
    let out = env.run([
        "run",
        "--rm",
        "--network",
        "n2",
        "busybox",
        "sh",
        "-c",
        BOUNDED_WGET,
        "http://a:8080/",
    ]);
    assert!(!out.status.success(), "n2 reached a: {}", stdout(&out));

    // A renamed container answers to its new name.
    env.ok(["rename", "a", "renamed"]);
    let page = fetch(&env, "n1", "http://renamed:8080/");
    assert_eq!(page.as_deref().map(str::trim), Some("hello-from-a"));
    env.ok(["rename", "renamed", "a"]);

    // A network in use stays: exit 2, as Podman's `network rm` (1 for a
    // missing one).
    let out = env.run(["network", "rm", "n1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains('a'), "{}", stderr(&out));
    env.ok(["network", "exists", "n1"]);
    let out = env.run(["network", "rm", "no-such-net"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    env.ok(["rm", "-f", "a"]);
    let run_dir = env.run_dir();
    assert_netns_gone(&run_dir);
    assert!(
        !run_dir.join("rootless-netns/netns").exists(),
        "the rootless netns is still mounted"
    );
    env.ok(["network", "rm", "n1", "n2"]);
}

#[test]
fn a_run_rm_leaves_nothing_behind() {
    let env = busybox_env(&[]);
    let _cleanup = Cleanup(&env);
    env.ok(["network", "create", "solo"]);
    let out = env.ok([
        "run",
        "--rm",
        "--network",
        "solo",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    assert!(out.contains("eth0"), "{out}");
    let run_dir = env.run_dir();
    assert_netns_gone(&run_dir);
    let eps =
        std::fs::read_to_string(run_dir.join("rootless-netns/endpoints.json")).unwrap_or_default();
    assert!(!eps.contains("\"id\""), "{eps}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// One HTTP GET to the host's loopback.
fn get_host(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.contains("200 OK").then_some(out)
}

#[test]
fn published_ports_and_connect_disconnect() {
    let env = busybox_env(&[]);
    let _cleanup = Cleanup(&env);
    env.ok(["network", "create", "p1"]);
    env.ok(["network", "create", "p2"]);
    let port = free_port();
    let publish = format!("{port}:8080");
    web(&env, "srv", "p1", &["-p", &publish], "published-page");

    // From the host, through the monitor's forwarder.
    let mut page = None;
    wait_until(Duration::from_secs(20), || {
        page = get_host(port);
        page.is_some()
    });
    assert!(
        page.as_deref()
            .is_some_and(|p| p.contains("published-page")),
        "{page:?}"
    );
    // The port is taken while the container runs: Podman's 126.
    let out = env.run([
        "create",
        "--network",
        "p1",
        "-p",
        &publish,
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));

    let inspect: serde_json::Value =
        serde_json::from_str(&env.ok(["inspect", "srv"])).expect("inspect json");
    let p1 = &inspect[0]["NetworkSettings"]["Networks"]["p1"];
    let ip = p1["IPAddress"].as_str().unwrap_or_default().to_owned();
    assert!(ip.starts_with("10.89."), "{p1}");
    assert!(
        p1["Gateway"].as_str().is_some_and(|g| g.ends_with(".1")),
        "{p1}"
    );
    assert_eq!(p1["MacAddress"].as_str().map(str::len), Some(17), "{p1}");

    // Connected live to p2 under an alias, then disconnected.
    env.ok(["network", "connect", "--alias", "srv2", "p2", "srv"]);
    let page = fetch(&env, "p2", "http://srv2:8080/");
    assert_eq!(page.as_deref().map(str::trim), Some("published-page"));
    let net: serde_json::Value =
        serde_json::from_str(&env.ok(["network", "inspect", "p2"])).expect("json");
    assert_eq!(
        net[0]["containers"].as_object().map(|m| m.len()),
        Some(1),
        "{net}"
    );
    env.ok(["network", "disconnect", "p2", "srv"]);
    let out = env.run([
        "run",
        "--rm",
        "--network",
        "p2",
        "busybox",
        "sh",
        "-c",
        BOUNDED_WGET,
        "http://srv2:8080/",
    ]);
    assert!(!out.status.success(), "still reachable: {}", stdout(&out));

    // `network rm -f` removes the container using the network.
    env.ok(["network", "rm", "-f", "p1"]);
    let names = env.ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!names.contains("srv"), "{names}");
    let run_dir = env.run_dir();
    assert_netns_gone(&run_dir);
    assert!(get_host(port).is_none(), "the port is still forwarded");
}

#[test]
fn a_killed_monitor_is_cleaned_up_by_rm() {
    let env = busybox_env(&[]);
    let _cleanup = Cleanup(&env);
    env.ok(["network", "create", "k1"]);
    env.ok([
        "run",
        "-d",
        "--name",
        "k",
        "--network",
        "k1",
        "busybox",
        "sleep",
        "100",
    ]);
    let pid: i32 = env
        .ok(["inspect", "--format", "{{.State.ConmonPid}}", "k"])
        .trim()
        .parse()
        .expect("monitor pid");
    let ctr_pid: i32 = env
        .ok(["inspect", "--format", "{{.State.Pid}}", "k"])
        .trim()
        .parse()
        .expect("container pid");
    assert!(pid > 0);
    // The holder of the rootless netns is the small monitor binary too.
    assert!(
        netns_processes(&env.run_dir()).iter().any(|p| {
            std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e.ends_with("hutch-monitor"))
        }),
        "no hutch-monitor __netns-holder"
    );
    // SAFETY: killing the monitor this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(wait_until(Duration::from_secs(5), || !is_alive(pid)));
    env.ok(["rm", "-f", "k"]);
    // Not this test's subject: once its monitor is dead, `recover` marks
    // the container exited without ending its process (as for pasta).
    if is_alive(ctr_pid) {
        // SAFETY: the container process this test started.
        unsafe { libc::kill(ctr_pid, libc::SIGKILL) };
    }
    let run_dir = env.run_dir();
    assert_netns_gone(&run_dir);
    let eps =
        std::fs::read_to_string(run_dir.join("rootless-netns/endpoints.json")).unwrap_or_default();
    assert!(!eps.contains("\"id\""), "{eps}");
    env.ok(["network", "rm", "k1"]);
}

#[test]
fn published_udp_port_echoes_on_a_user_network() {
    let env = TestEnv::new(TestUser::default_user());
    let _cleanup = Cleanup(&env);
    udp_echo_image(&env);
    env.ok(["network", "create", "u1"]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:7/udp");
    env.ok([
        "run",
        "-d",
        "--network",
        "u1",
        "-p",
        &publish,
        "udpecho",
        "/udpecho",
        "7",
    ]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut got = Vec::new();
    let ok = wait_until(Duration::from_secs(10), || {
        let _ = sock.send_to(b"ping over udp", ("127.0.0.1", port));
        let mut buf = [0u8; 64];
        match sock.recv(&mut buf) {
            Ok(n) => {
                got = buf[..n].to_vec();
                true
            }
            Err(_) => false,
        }
    });
    assert!(ok, "no UDP echo through the user network's forwarder");
    assert_eq!(got, b"ping over udp");
}

/// The host's own outbound address (not loopback), which containers reach
/// through slirp4netns's NAT.
fn host_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

#[test]
fn outbound_through_nat_but_not_from_internal_networks() {
    let Some(host) = host_address() else {
        eprintln!("skipped: the host has no outbound address");
        return;
    };
    let env = busybox_env(&[]);
    let _cleanup = Cleanup(&env);
    let listener = std::net::TcpListener::bind((host, 0)).expect("bind host address");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nfrom-host\r\n");
        }
    });
    env.ok(["network", "create", "out"]);
    env.ok(["network", "create", "--internal", "closed"]);
    let url = format!("http://{host}:{port}/");
    let page = fetch(&env, "out", &url);
    assert_eq!(page.as_deref().map(str::trim), Some("from-host"));
    let out = env.run([
        "run",
        "--rm",
        "--network",
        "closed",
        "busybox",
        "sh",
        "-c",
        BOUNDED_WGET,
        &url,
    ]);
    assert!(
        !out.status.success(),
        "an internal network reached the host: {}",
        stdout(&out)
    );
}

#[test]
fn disconnecting_the_first_network_keeps_names_and_routes() {
    let env = busybox_env(&[]);
    let _cleanup = Cleanup(&env);
    env.ok(["network", "create", "d1"]);
    env.ok(["network", "create", "d2"]);
    web(&env, "w", "d2", &[], "second-network");
    env.ok([
        "run",
        "-d",
        "--name",
        "cl",
        "--network",
        "d1,d2",
        "busybox",
        "sleep",
        "100",
    ]);
    env.ok(["network", "disconnect", "d1", "cl"]);
    let mut page = String::new();
    let ok = wait_until(Duration::from_secs(20), || {
        let out = env.run(["exec", "cl", "sh", "-c", BOUNDED_WGET, "http://w:8080/"]);
        page = stdout(&out);
        out.status.success()
    });
    assert!(ok, "{page}");
    assert_eq!(page.trim(), "second-network");
    let out = env.run(["network", "disconnect", "d2", "cl"]);
    assert_eq!(out.status.code(), Some(125), "the last network stays");
}

/// Podman's default network: always listed, not removable, and where
/// `--network bridge` (and `--network podman`) put a container: an
/// address in 10.88.0.0/16, with no file needed for it.
#[test]
fn the_default_network_podman_is_there_and_bridge_joins_it() {
    let env = busybox_env(&[]);
    let _cleanup = Cleanup(&env);
    let ls = env.ok([
        "network",
        "ls",
        "--no-trunc",
        "--format",
        "{{.Name}} {{.ID}}",
    ]);
    assert!(
        ls.lines()
            .any(|l| l == "podman 2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9"),
        "{ls}"
    );
    let rm = env.run(["network", "rm", "podman"]);
    assert_eq!(rm.status.code(), Some(125), "{}", stderr(&rm));
    assert!(
        stderr(&rm).contains("default network podman cannot be removed"),
        "{}",
        stderr(&rm)
    );
    let dup = env.run(["network", "create", "podman"]);
    assert_ne!(dup.status.code(), Some(0), "{}", stdout(&dup));
    env.ok(["network", "prune", "-f"]);
    assert!(env.ok(["network", "exists", "podman"]).is_empty());
    let out = env.ok([
        "run",
        "--rm",
        "--network",
        "bridge",
        "busybox",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("inet 10.88."), "{out}");
    assert_netns_gone(&env.run_dir());
}
