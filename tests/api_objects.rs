//! Docker's volume, network, event and `system/df` routes through real
//! clients (the docker CLI and the Python Docker SDK) against
//! `hutch system service`, as the unprivileged test user.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

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

/// What `cmd` prints in a new container of `image` (detached, waited for,
/// its log read, removed: no attach needed).
fn run_out(
    env: &TestEnv,
    sock: &Path,
    opts: &[&str],
    image: &str,
    cmd: &[&str],
) -> (String, String) {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(opts);
    args.push(image);
    args.extend_from_slice(cmd);
    let id = ok(env, sock, &args);
    let id = id.trim();
    let code = ok(env, sock, &["wait", id]);
    let logs = ok(env, sock, &["logs", id]);
    ok(env, sock, &["rm", id]);
    (code.trim().to_owned(), logs)
}

fn python(env: &TestEnv, sock: &Path, script: &str) -> Output {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home)
        .env("SOCK", format!("unix://{}", sock.display()));
    as_user(&mut cmd, &env.user);
    cmd.output().expect("run python3")
}

fn python_sdk() -> bool {
    Command::new("python3")
        .args(["-c", "import docker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn docker_cli_volumes() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    assert_eq!(
        ok(
            &env,
            &sock,
            &["volume", "create", "--label", "app=web", "data"]
        )
        .trim(),
        "data"
    );
    // Creating it again answers the existing one, as dockerd does.
    ok(&env, &sock, &["volume", "create", "data"]);
    ok(&env, &sock, &["volume", "create", "other"]);
    let ls = ok(
        &env,
        &sock,
        &["volume", "ls", "-q", "--filter", "label=app=web"],
    );
    assert_eq!(ls.trim(), "data");
    let ls = ok(&env, &sock, &["volume", "ls", "-q"]);
    assert_eq!(ls.lines().count(), 2, "{ls}");
    let mp = ok(
        &env,
        &sock,
        &[
            "volume",
            "inspect",
            "-f",
            "{{.Mountpoint}} {{.Driver}}",
            "data",
        ],
    );
    assert!(mp.trim().ends_with("/volumes/data/_data local"), "{mp}");

    // Data written through the volume stays for the next container.
    run_out(
        &env,
        &sock,
        &["-v", "data:/data"],
        "busybox",
        &["sh", "-c", "echo kept > /data/f"],
    );
    let read = run_out(
        &env,
        &sock,
        &["-v", "data:/data"],
        "busybox",
        &["cat", "/data/f"],
    );
    assert_eq!(read.1, "kept\n");

    // In use: rm is refused (409); -f removes the user first.
    ok(
        &env,
        &sock,
        &[
            "create",
            "--name",
            "user",
            "-v",
            "data:/data",
            "busybox",
            "true",
        ],
    );
    let out = docker(&env, &sock, &["volume", "rm", "data"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in use") || stderr(&out).contains("being used"),
        "{}",
        stderr(&out)
    );
    ok(&env, &sock, &["volume", "rm", "-f", "data"]);
    assert!(!docker(&env, &sock, &["inspect", "user"]).status.success());
    let out = docker(&env, &sock, &["volume", "inspect", "data"]);
    assert!(!out.status.success());

    // Prune: API 1.42+ takes anonymous volumes only, unless --all.
    let pruned = ok(&env, &sock, &["volume", "prune", "-f"]);
    assert!(!pruned.contains("other"), "{pruned}");
    let pruned = ok(&env, &sock, &["volume", "prune", "-a", "-f"]);
    assert!(pruned.contains("other"), "{pruned}");
    assert_eq!(ok(&env, &sock, &["volume", "ls", "-q"]).trim(), "");
    // Bodies with unknown fields or other drivers are 400s.
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"x","Bogus":1}"#),
    );
    assert_eq!(code, 400, "{body}");
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/volumes/create",
        Some(r#"{"Name":"x","Driver":"nfs"}"#),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("local driver only"), "{body}");
}

#[test]
fn docker_cli_networks_with_name_resolution() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let id = ok(
        &env,
        &sock,
        &[
            "network",
            "create",
            "--subnet",
            "10.91.7.0/24",
            "--label",
            "tier=back",
            "backnet",
        ],
    );
    assert_eq!(id.trim().len(), 64, "{id}");
    let out = docker(&env, &sock, &["network", "create", "backnet"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let subnet = ok(
        &env,
        &sock,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Labels.tier}}",
            "backnet",
        ],
    );
    assert_eq!(subnet.trim(), "10.91.7.0/24 back");
    let ls = ok(
        &env,
        &sock,
        &[
            "network",
            "ls",
            "--filter",
            "label=tier=back",
            "--format",
            "{{.Name}}",
        ],
    );
    assert_eq!(ls.trim(), "backnet");
    let ls = ok(
        &env,
        &sock,
        &["network", "ls", "--filter", "name=nomatch", "-q"],
    );
    assert_eq!(ls.trim(), "");

    ok(
        &env,
        &sock,
        &[
            "run",
            "-d",
            "--name",
            "srv",
            "--network",
            "backnet",
            "busybox",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/etc",
        ],
    );
    let inspect = ok(
        &env,
        &sock,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}}{{end}}",
            "backnet",
        ],
    );
    assert_eq!(inspect.trim(), "srv");
    // A second network, joined with an alias: the name and the alias
    // both resolve from a container on it.
    ok(&env, &sock, &["network", "create", "frontnet"]);
    ok(
        &env,
        &sock,
        &["network", "connect", "--alias", "api", "frontnet", "srv"],
    );
    let (code, fetched) = run_out(
        &env,
        &sock,
        &["--network", "frontnet"],
        "busybox",
        &[
            "sh",
            "-c",
            "wget -q -O - http://api:8080/hostname && wget -q -O - http://srv:8080/hostname",
        ],
    );
    assert_eq!(code, "0", "{fetched}");
    assert_eq!(fetched.lines().count(), 2, "{fetched}");
    ok(&env, &sock, &["network", "disconnect", "frontnet", "srv"]);
    let (code, _) = run_out(
        &env,
        &sock,
        &["--network", "frontnet"],
        "busybox",
        &[
            "busybox",
            "wget",
            "-q",
            "-T",
            "2",
            "-O",
            "-",
            "http://api:8080/hostname",
        ],
    );
    assert_ne!(code, "0", "api still answers after disconnect");

    // In use: 409 unless the container goes first; prune takes the unused.
    let out = docker(&env, &sock, &["network", "rm", "backnet"]);
    assert!(!out.status.success());
    ok(&env, &sock, &["rm", "-f", "srv"]);
    let pruned = ok(&env, &sock, &["network", "prune", "-f"]);
    assert!(
        pruned.contains("frontnet") && pruned.contains("backnet"),
        "{pruned}"
    );
    assert_eq!(
        ok(&env, &sock, &["network", "ls", "--format", "{{.Name}}"]).trim(),
        "podman"
    );
    let out = docker(&env, &sock, &["network", "rm", "backnet"]);
    assert!(!out.status.success());
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/networks/create",
        Some(r#"{"Name":"v6","EnableIPv6":true}"#),
    );
    assert_eq!(code, 400, "{body}");
}

#[test]
fn docker_cli_events_and_df() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    // `docker events` streams while a container runs and ends. `--since`
    // a second back makes the stream start with whatever happened since,
    // so nothing depends on when the subscription is made.
    let since = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        - 1)
    .to_string();
    let mut cmd = Command::new("docker");
    cmd.args([
        "events",
        "--since",
        &since,
        "--filter",
        "type=container",
        "--filter",
        "label=watch=yes",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ])
    .env_clear()
    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
    .env("HOME", &env.home)
    .env("DOCKER_HOST", format!("unix://{}", sock.display()))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    as_user(&mut cmd, &env.user);
    let mut events = cmd.spawn().expect("docker events");
    let out_file = events.stdout.take().expect("events stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out_file)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut got: Vec<String> = Vec::new();
    let wait_for = |want: &str, got: &mut Vec<String>| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !got.iter().any(|l| l == want) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => got.push(l),
                Err(_) => break,
            }
        }
        got.iter().any(|l| l == want)
    };
    ok(
        &env,
        &sock,
        &[
            "run",
            "-d",
            "--name",
            "seen",
            "--label",
            "watch=yes",
            "busybox",
            "sleep",
            "300",
        ],
    );
    ok(
        &env,
        &sock,
        &["run", "-d", "--rm", "--name", "unseen", "busybox", "true"],
    );
    assert!(wait_for("start seen", &mut got), "{got:?}");
    // Seen start: the kill's events come through the live stream.
    ok(&env, &sock, &["kill", "seen"]);
    assert!(wait_for("die seen", &mut got), "{got:?}");
    let _ = events.kill();
    let _ = events.wait();
    assert!(
        got.iter().all(|l| l.ends_with(" seen")),
        "only the labelled one: {got:?}"
    );

    // Label filters must all match (compose lists a project's service so).
    let both = ok(
        &env,
        &sock,
        &[
            "ps",
            "-aq",
            "--filter",
            "label=watch=yes",
            "--filter",
            "label=other",
        ],
    );
    assert_eq!(both.trim(), "", "{both}");
    let one = ok(&env, &sock, &["ps", "-aq", "--filter", "label=watch=yes"]);
    assert_eq!(one.trim().lines().count(), 1, "{one}");

    // Past events with since/until: bounded, so the command ends. The CLI
    // sends a duration's time in whole seconds, which would leave out
    // this second's events: until is given as a time two seconds ahead.
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 2)
    .to_string();
    let past = ok(
        &env,
        &sock,
        &[
            "events",
            "--since",
            "5m",
            "--until",
            &until,
            "--filter",
            "container=seen",
            "--filter",
            "event=die",
            "--format",
            "{{.Status}} {{.Actor.Attributes.exitCode}}",
        ],
    );
    assert_eq!(past.trim(), "die 137", "{past}");

    // system df: the image, the stopped container, a volume in use.
    ok(&env, &sock, &["volume", "create", "dfvol"]);
    let writer = ok(
        &env,
        &sock,
        &[
            "run",
            "-d",
            "-v",
            "dfvol:/v",
            "busybox",
            "sh",
            "-c",
            "echo 12345 > /v/f",
        ],
    );
    assert_eq!(ok(&env, &sock, &["wait", writer.trim()]).trim(), "0");
    let df = ok(
        &env,
        &sock,
        &[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}}",
        ],
    );
    assert!(df.contains("Images 1"), "{df}");
    assert!(df.contains("Containers 2 0"), "{df}");
    // The sizes are numbers the CLI could add up.
    let (code, body) = curl(&env, &sock, "GET", "/v1.47/system/df");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["LayersSize"].as_u64().is_some_and(|n| n > 0), "{body}");
    assert_eq!(v["Volumes"][0]["UsageData"]["Size"], 6, "{body}");
    assert!(df.contains("Local Volumes 1 1"), "{df}");
}

#[test]
fn python_sdk_volumes_networks_events_df() {
    if !python_sdk() {
        eprintln!("python3 docker SDK not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let script = r#"
import docker, os, sys, time
c = docker.DockerClient(base_url=os.environ["SOCK"])
v = c.volumes.create("sdkvol", labels={"k": "v"})
assert v.name == "sdkvol" and v.attrs["Labels"] == {"k": "v"}, v.attrs
assert [x.name for x in c.volumes.list(filters={"label": "k=v"})] == ["sdkvol"]
assert c.volumes.get("sdkvol").attrs["Driver"] == "local"
try:
    c.volumes.get("missing")
    sys.exit("a missing volume was found")
except docker.errors.NotFound:
    pass
n = c.networks.create("sdknet", driver="bridge", labels={"a": "b"},
    ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.92.3.0/24")]))
assert c.networks.get(n.id).attrs["IPAM"]["Config"][0]["Subnet"] == "10.92.3.0/24"
assert [x.name for x in c.networks.list(names=["sdknet"])] == ["sdknet"]
since = time.time() - 1
ct = c.containers.run("busybox", ["sleep", "30"], detach=True, network="sdknet",
    volumes={"sdkvol": {"bind": "/v", "mode": "rw"}}, name="sdkc")
n2 = c.networks.create("sdknet2")
n2.connect(ct, aliases=["alias2"])
n2.reload()
assert ct.id in n2.attrs["Containers"], n2.attrs
n2.disconnect(ct)
n2.remove()
try:
    c.networks.get("sdknet2")
    sys.exit("a removed network was found")
except docker.errors.NotFound:
    pass
df = c.df()
assert any(x["Name"] == "sdkvol" and x["UsageData"]["RefCount"] == 1 for x in df["Volumes"]), df["Volumes"]
assert len(df["Images"]) == 1 and len(df["Containers"]) == 1, df
ct.remove(force=True)
evs = list(c.events(since=since, until=time.time() + 1, decode=True, filters={"container": "sdkc"}))
actions = [e["Action"] for e in evs]
assert "create" in actions and "start" in actions and "destroy" in actions, actions
assert all(e["Actor"]["ID"] == ct.id for e in evs), evs
v.remove()
assert c.volumes.prune()["VolumesDeleted"] in (None, [])
r = c.networks.prune()
assert r["NetworksDeleted"] == ["sdknet"], r
assert [n.name for n in c.networks.list()] == ["podman"], c.networks.list()
print("ok")
"#;
    let out = python(&env, &sock, script);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok");
}

/// Static addresses in Docker's create body (the endpoint's IPAMConfig,
/// the body's MacAddress), as the SDK sends them, and `networks/prune`
/// with the label and until filters.
#[test]
fn python_sdk_static_addresses_and_network_prune_filters() {
    if !python_sdk() {
        eprintln!("python3 docker SDK not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let (_svc, sock) = serve_default(&env);
    let script = r#"
import docker, os, sys
c = docker.DockerClient(base_url=os.environ["SOCK"])
c.networks.create("statnet", ipam=docker.types.IPAMConfig(
    pool_configs=[docker.types.IPAMPool(subnet="10.92.7.0/24")]))
a = c.api
ct = a.create_container("busybox", ["busybox", "ip", "addr", "show", "eth0"],
    host_config=a.create_host_config(network_mode="statnet"),
    networking_config=a.create_networking_config(
        {"statnet": a.create_endpoint_config(ipv4_address="10.92.7.50")}),
    mac_address="92:d0:c6:0a:29:33")
a.start(ct)
assert a.wait(ct)["StatusCode"] == 0
out = a.logs(ct).decode()
assert "inet 10.92.7.50/24" in out and "link/ether 92:d0:c6:0a:29:33" in out, out
a.remove_container(ct)
try:
    c.containers.create("busybox", "true", network="statnet", networking_config={
        "statnet": a.create_endpoint_config(ipv4_address="not-an-ip")})
    sys.exit("a bad address was taken")
except docker.errors.APIError as e:
    assert e.status_code == 400, e
n2 = c.networks.create("statnet2", ipam=docker.types.IPAMConfig(
    pool_configs=[docker.types.IPAMPool(subnet="10.92.8.0/24")]))
run = c.containers.run("busybox", ["sleep", "30"], detach=True, network="statnet")
n2.connect(run, ipv4_address="10.92.8.20")
code, out = run.exec_run(["busybox", "ip", "addr"])
assert code == 0 and b"inet 10.92.8.20/24" in out, out
run.remove(force=True)
c.networks.create("keepnet", labels={"keep": "yes"})
c.networks.create("gonet", labels={"keep": "no"})
r = c.networks.prune(filters={"until": "1h"})
assert r["NetworksDeleted"] in (None, []), r
r = c.networks.prune(filters={"label!": "keep=yes", "label": "keep"})
assert r["NetworksDeleted"] == ["gonet"], r
names = sorted(n.name for n in c.networks.list())
assert names == ["keepnet", "podman", "statnet", "statnet2"], names
print("ok")
"#;
    let out = python(&env, &sock, script);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok");
    // The libpod route: Podman's per-network `static_ips`.
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v4.3.1/libpod/containers/create",
        Some(
            r#"{"image":"busybox","name":"lpstat","command":["true"],"netns":{"nsmode":"bridge"},
               "Networks":{"statnet":{"static_ips":["10.92.7.60"],"static_mac":"92:d0:c6:0a:29:34"}}}"#,
        ),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v4.3.1/libpod/networks/prune?filters=%7B%22label%22%3A%5B%22keep%3Dyes%22%5D%7D",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"Name\":\"keepnet\""), "{body}");
    let (code, _) = curl_with(
        &env,
        &sock,
        "POST",
        "/v4.3.1/libpod/networks/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
        None,
    );
    assert_eq!(code, 400);
    // Volume prune with the CLI's filters.
    env.ok(["volume", "create", "--label", "keep=yes", "kv"]);
    env.ok(["volume", "create", "gv"]);
    let (code, body) = curl_with(
        &env,
        &sock,
        "POST",
        "/v4.3.1/libpod/volumes/prune?filters=%7B%22label%22%3A%5B%22keep%3Dyes%22%5D%7D",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("\"Id\":\"kv\"") && !body.contains("gv"),
        "{body}"
    );
}
