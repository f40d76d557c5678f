//! Rootless networking as users see it: pasta and slirp4netns reach the
//! host, published TCP and UDP ports reach the container, a used port fails
//! before start, DNS flags land in resolv.conf, and no helper outlives its
//! container.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

use common::images::*;
use common::*;

fn env_with_busybox() -> TestEnv {
    busybox_env(&["EXPOSE=80/tcp"])
}

/// A web server on the host's loopback answering one request with `body`.
fn serve_once(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = l.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// The host's default IPv4 gateway, which pasta (with --map-gw) maps to the
/// host's loopback.
fn default_gateway() -> String {
    let routes = std::fs::read_to_string("/proc/net/route").expect("routes");
    for line in routes.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            let g = u32::from_str_radix(f[2], 16).expect("hex gateway");
            return std::net::Ipv4Addr::from(g.to_le_bytes()).to_string();
        }
    }
    panic!("the host has no default route");
}

/// Live pasta/slirp4netns processes attached to namespaces under `run_dir`.
fn helpers_of(run_dir: &Path) -> Vec<i32> {
    let needle = run_dir.join("netns");
    let needle = needle.to_string_lossy().into_owned();
    live_processes()
        .into_iter()
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c).into_owned();
                    (c.contains("pasta") || c.contains("passt") || c.contains("slirp4netns"))
                        && c.contains(&needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

#[test]
fn network_none_has_only_loopback() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    let ifaces: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, vec!["lo"], "{out}");
}

#[test]
fn pasta_fetches_from_host_loopback() {
    let env = env_with_busybox();
    let port = serve_once("hello through pasta");
    let url = format!("http://{}:{port}/", default_gateway());
    let out = env.run([
        "run",
        "--rm",
        "--network",
        "pasta:--map-gw",
        "busybox",
        "busybox",
        "wget",
        "-q",
        "-O",
        "-",
        &url,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello through pasta");
    assert!(
        helpers_of(&env.run_dir()).is_empty(),
        "pasta ended with the container"
    );
}

#[test]
fn slirp4netns_fetches_from_host_loopback() {
    let env = env_with_busybox();
    let port = serve_once("hello through slirp4netns");
    let url = format!("http://10.0.2.2:{port}/");
    let out = env.run([
        "run",
        "--rm",
        "--network",
        "slirp4netns:allow_host_loopback=true",
        "busybox",
        "busybox",
        "wget",
        "-q",
        "-O",
        "-",
        &url,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello through slirp4netns");
    assert!(
        helpers_of(&env.run_dir()).is_empty(),
        "slirp4netns ended with the container"
    );
}

/// GET /passwd from a busybox httpd serving /etc, retried until it answers.
fn fetch_passwd(port: u16) -> String {
    let mut body = String::new();
    let ok = wait_until(Duration::from_secs(10), || {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /passwd HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        body.clear();
        let _ = s.read_to_string(&mut body);
        body.contains("root:x:0:0")
    });
    assert!(ok, "no answer on published port {port}: {body:?}");
    body
}

fn published_tcp(mode: &str) {
    let env = env_with_busybox();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = env.ok([
        "run",
        "-d",
        "--network",
        mode,
        "-p",
        &publish,
        "busybox",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let id = id.trim();
    fetch_passwd(port);
    assert_eq!(
        env.ok(["port", id]),
        format!("80/tcp -> 127.0.0.1:{port}\n")
    );
    assert_eq!(env.ok(["port", id, "80"]), format!("127.0.0.1:{port}\n"));
    env.ok(["rm", "-f", id]);
    assert!(
        helpers_of(&env.run_dir()).is_empty(),
        "{mode} ended with rm -f"
    );
    assert!(
        !env.run_dir().join("netns").join(id).exists(),
        "the namespace file is removed"
    );
}

#[test]
fn pasta_published_tcp_port_answers() {
    published_tcp("pasta");
}

#[test]
fn slirp4netns_published_tcp_port_answers() {
    published_tcp("slirp4netns");
}

#[test]
fn publish_all_chooses_random_ports() {
    let env = env_with_busybox();
    let id = env.ok([
        "run", "-d", "-P", "busybox", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
    ]);
    let id = id.trim();
    let line = env.ok(["port", id]);
    let port: u16 = line
        .trim()
        .strip_prefix("80/tcp -> 0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected port line {line:?}"));
    fetch_passwd(port);
    // ps shows the port chosen at start, in Podman's form.
    let ps = env.ok(["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ps.trim(), format!("0.0.0.0:{port}->80/tcp"));
    env.ok(["rm", "-f", id]);
}

#[test]
fn published_udp_port_echoes() {
    let env = TestEnv::new(TestUser::default_user());
    udp_echo_image(&env);
    // slirp4netns's own port handler sends a reply to a loopback client
    // through the host-loopback address, which it blocks by default.
    for mode in ["pasta", "slirp4netns:allow_host_loopback=true"] {
        let port = free_port();
        // Debian 12's pasta (2023-03) loses replies when a UDP port is
        // published to a different container port; the same number works.
        let inner = if mode == "pasta" { port } else { 7 };
        let publish = format!("127.0.0.1:{port}:{inner}/udp");
        let id = env.ok([
            "run",
            "-d",
            "--network",
            mode,
            "-p",
            &publish,
            "udpecho",
            "/udpecho",
            &inner.to_string(),
        ]);
        let sock = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
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
        assert!(ok, "no UDP echo through {mode}");
        assert_eq!(got, b"ping over udp");
        env.ok(["rm", "-f", id.trim()]);
    }
    assert!(helpers_of(&env.run_dir()).is_empty());
}

#[test]
fn used_port_fails_before_start() {
    let env = env_with_busybox();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let publish = format!("127.0.0.1:{port}:80");
    let out = env.run(["run", "--rm", "-p", &publish, "busybox", "echo", "started"]);
    // Podman's code for a port in use (its rootlessport cannot bind).
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("already in use") && err.contains(&port.to_string()),
        "{err}"
    );
    assert!(!stdout(&out).contains("started"));
    assert!(
        env.ok(["ps", "-a", "-q"]).trim().is_empty(),
        "no container was made"
    );
}

#[test]
fn fifty_runs_leave_no_pasta() {
    let env = env_with_busybox();
    for i in 0..50 {
        let out = env.run(["run", "--rm", "--network", "pasta", "busybox", "true"]);
        assert!(out.status.success(), "run {i}: {}", stderr(&out));
    }
    assert!(
        helpers_of(&env.run_dir()).is_empty(),
        "a pasta process was left"
    );
    let left: Vec<_> = std::fs::read_dir(env.run_dir().join("netns"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "netns files left: {left:?}");
}

#[test]
fn killed_monitor_leaves_no_helper() {
    let env = env_with_busybox();
    for mode in ["pasta", "slirp4netns"] {
        let id = env.ok(["run", "-d", "--network", mode, "busybox", "sleep", "100"]);
        let id = id.trim().to_owned();
        assert_eq!(helpers_of(&env.run_dir()).len(), 1, "{mode} runs");
        let monitor = live_processes()
            .into_iter()
            .find(|&pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| {
                        let c = String::from_utf8_lossy(&c).into_owned();
                        c.contains("hutch-monitor") && c.contains(&id)
                    })
                    .unwrap_or(false)
            })
            .expect("the container's monitor");
        // SAFETY: kill of a process this test's hutch started.
        unsafe { libc::kill(monitor, libc::SIGKILL) };
        assert!(
            wait_until(Duration::from_secs(10), || helpers_of(&env.run_dir())
                .is_empty()),
            "{mode} died with its monitor"
        );
        env.ok(["rm", "-f", &id]);
        assert!(!env.run_dir().join("netns").join(&id).exists());
    }
}

#[test]
fn dns_flags_write_resolv_conf() {
    let env = env_with_busybox();
    let out = env.ok([
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:3",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert_eq!(
        out,
        "search example.test\nnameserver 192.0.2.53\noptions ndots:3\n"
    );
    // pasta's DNS forwarder is the default server.
    let out = env.ok([
        "run",
        "--rm",
        "--network",
        "pasta",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.contains("nameserver 169.254.1.1")),
        "{out}"
    );
}

#[test]
fn info_reports_the_network_backend() {
    let env = TestEnv::new(TestUser::default_user());
    let out = env.ok([
        "info",
        "--format",
        "{{.Host.RootlessNetworkCmd}} {{.Host.NetworkBackendInfo.Path}}",
    ]);
    assert_eq!(out.trim(), "pasta /usr/bin/pasta");
}

#[test]
fn container_mode_shares_the_namespace() {
    let env = env_with_busybox();
    let id = env.ok([
        "run", "-d", "--name", "web", "busybox", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
    ]);
    let id = id.trim();
    let ns = env.run_dir().join("netns").join(id);
    let ns = ns.to_str().unwrap();
    for mode in ["container:web", &format!("ns:{ns}")] {
        let mut body = String::new();
        let ok = wait_until(Duration::from_secs(10), || {
            let out = env.run([
                "run",
                "--rm",
                "--network",
                mode,
                "busybox",
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                "http://127.0.0.1:80/passwd",
            ]);
            body = stdout(&out);
            out.status.success()
        });
        assert!(ok && body.contains("root:x:0:0"), "{mode}: {body:?}");
    }
    let out = env.run([
        "run",
        "--rm",
        "--network",
        "container:web",
        "-p",
        "8080:80",
        "busybox",
        "true",
    ]);
    // Dropped with Podman's warning, as for host and none.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Port mappings have been discarded"),
        "{}",
        stderr(&out)
    );
    env.ok(["rm", "-f", id]);
}

#[test]
fn user_network_records() {
    let env = TestEnv::new(TestUser::default_user());
    assert_eq!(env.ok(["network", "create", "net1"]), "net1\n");
    env.ok(["network", "create", "--subnet", "10.90.5.0/24", "net2"]);
    let ls = env.ok(["network", "ls"]);
    assert!(ls.contains("net1") && ls.contains("net2"), "{ls}");
    let inspect: serde_json::Value =
        serde_json::from_str(&env.ok(["network", "inspect", "net1", "net2"])).expect("json");
    let s1 = inspect[0]["subnets"][0]["subnet"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(s1.starts_with("10.89."), "{inspect}");
    assert_eq!(inspect[1]["subnets"][0]["gateway"], "10.90.5.1");
    let dup = env.run(["network", "create", "net1"]);
    assert_eq!(dup.status.code(), Some(125));
    let clash = env.run(["network", "create", "--subnet", &s1, "net3"]);
    assert_eq!(clash.status.code(), Some(125), "{}", stderr(&clash));
    assert_eq!(
        env.run(["network", "exists", "net1"]).status.code(),
        Some(0)
    );
    env.ok(["network", "rm", "net1"]);
    assert_eq!(
        env.run(["network", "exists", "net1"]).status.code(),
        Some(1)
    );
    assert_eq!(env.ok(["network", "prune", "-f"]), "net2\n");
    assert_eq!(env.ok(["network", "ls", "-q"]).trim(), "podman");
}
