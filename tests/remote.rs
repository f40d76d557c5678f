//! The remote client: `hutch --url unix://…`, `--connection`,
//! `CONTAINER_HOST`, `CONTAINER_CONNECTION` and `system connection`
//! against `hutch system service` run as the test user; run, ps, logs
//! (-f), exec, inspect, stop and rm with the local exit codes; no user
//! namespace made on the client's side. Over ssh too when an OpenSSH
//! server can be started here (root, `/usr/sbin/sshd`), skipped otherwise.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::api::serve_default;
use common::images::{busybox_env, write_readable};
use common::registry::Registry;
use common::*;

/// The service's environment (image "busybox") and its containers, removed
/// when it goes.
struct Server(TestEnv);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.run(["rm", "-a", "-f"]);
    }
}

/// A client environment of the same user: its own home and runtime dir,
/// so anything it made locally would show.
fn client() -> TestEnv {
    TestEnv::new(TestUser::default_user())
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The remote round trip on `c` (a client set up to reach the service).
fn round_trip(c: &TestEnv, url: &[&str]) {
    let with =
        |args: &[&str]| -> Vec<String> { url.iter().chain(args).map(|s| s.to_string()).collect() };
    let id = c.ok(with(&[
        "run",
        "-d",
        "--name",
        "far",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; sleep 60",
    ]));
    assert!(is_hex_id(id.trim()), "{id}");
    let ps = c.ok(with(&["ps", "--format", "{{.Names}} {{.State}}"]));
    // The local ps's words (Podman's `{{.State}}`: "Up ... ago").
    assert!(ps.trim().starts_with("far Up "), "{ps}");
    assert!(
        wait_until(Duration::from_secs(10), || {
            let out = c.run(with(&["logs", "far"]));
            stdout(&out) == "out\n" && stderr(&out) == "err\n"
        }),
        "logs: stdout and stderr kept apart"
    );
    let out = c.run(with(&[
        "exec",
        "far",
        "sh",
        "-c",
        "echo in; echo e2 >&2; exit 3",
    ]));
    assert_eq!(out.status.code(), Some(3), "exec: the process's code");
    assert_eq!(stdout(&out), "in\n");
    assert_eq!(stderr(&out), "e2\n");
    let shown = c.ok(with(&[
        "inspect",
        "far",
        "--format",
        "{{.State.Status}} {{.Name}}",
    ]));
    assert_eq!(shown.trim(), "running far");
    assert_eq!(c.ok(with(&["stop", "-t", "1", "far"])).trim(), "far");
    assert_eq!(c.ok(with(&["rm", "far"])).trim(), "far");
    let out = c.run(with(&["rm", "far"]));
    assert_eq!(out.status.code(), Some(1), "rm of a missing container: 1");
    // Foreground run: output, the container's exit code, --rm honoured.
    let out = c.run(with(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo fg; exit 4",
    ]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "fg\n");
    // logs -f follows until the container ends.
    c.ok(with(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo t$i; sleep 0.2; done",
    ]));
    let out = c.run(with(&["logs", "-f", "ticker"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "t1\nt2\nt3\n");
    c.ok(with(&["rm", "ticker"]));
    assert_eq!(c.ok(with(&["ps", "-a", "-q"])), "");
    // A missing container is the service's error: 125, its message.
    let out = c.run(with(&["logs", "nosuch"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("nosuch"), "{}", stderr(&out));
}

fn no_local_traces(c: &TestEnv) {
    assert!(
        c.pause_pids().is_empty(),
        "a remote command made a user namespace here"
    );
    assert!(
        !c.home.join(".local/share/hutch").exists(),
        "a remote command made a local store"
    );
}

#[test]
fn remote_over_unix_socket_with_url_and_container_host() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    round_trip(&c, &["--url", &url]);
    let mut c2 = client();
    c2.vars.push(("CONTAINER_HOST".into(), url.clone()));
    let v = c2.ok(["version"]);
    assert!(v.contains("API Version:  4.3.1"), "{v}");
    assert_eq!(c2.ok(["ps", "-a", "-q"]), "");
    let images = c2.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "localhost/busybox:latest");
    let local_id = server.0.ok(["images", "-q"]);
    assert_eq!(c2.ok(["images", "-q"]), local_id);
    // A pull the service cannot do: its error, 125.
    let out = c2.run(["pull", "127.0.0.1:1/nope:1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    no_local_traces(&c);
    no_local_traces(&c2);
    // A service that is not there: 125 and where it looked.
    let out = c.run(["--url", "unix:///nonexistent/hutch.sock", "ps"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("/nonexistent/hutch.sock"),
        "{}",
        stderr(&out)
    );
    let out = c.run(["--url", "tcp://127.0.0.1:1", "ps"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn connections_are_added_listed_renamed_and_used() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    c.ok(["system", "connection", "add", "one", &url]);
    c.ok([
        "system",
        "connection",
        "add",
        "two",
        "ssh://u@h:2222/run/user/1/hutch/hutch.sock",
    ]);
    let list = c.ok([
        "system",
        "connection",
        "list",
        "--format",
        "{{.Name}} {{.URI}} {{.Default}}",
    ]);
    assert_eq!(
        list,
        format!("one {url} true\ntwo ssh://u@h:2222/run/user/1/hutch/hutch.sock false\n")
    );
    c.ok(["system", "connection", "default", "two"]);
    c.ok(["system", "connection", "rename", "one", "uno"]);
    let list = c.ok([
        "system",
        "connection",
        "ls",
        "--format",
        "{{.Name}} {{.Default}}",
    ]);
    assert_eq!(list, "two true\nuno false\n");
    let file = c.home.join(".config/hutch/connections.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // --connection and CONTAINER_CONNECTION pick by name.
    assert_eq!(c.ok(["--connection", "uno", "ps", "-a", "-q"]), "");
    let mut by_env = TestEnv::new(c.user.clone());
    by_env.home = c.home.clone();
    by_env
        .vars
        .push(("CONTAINER_CONNECTION".into(), "uno".into()));
    let v = by_env.ok(["version"]);
    assert!(v.contains("4.3.1"), "{v}");
    c.ok(["system", "connection", "default", "uno"]);
    assert!(
        c.ok(["-r", "version"]).contains("4.3.1"),
        "--remote: the default"
    );
    let out = c.run(["--connection", "nosuch", "ps"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("nosuch"), "{}", stderr(&out));
    let out = c.run(["system", "connection", "add", "bad", "ssh://h"]);
    assert_eq!(
        out.status.code(),
        Some(125),
        "an ssh URL needs the socket path"
    );
    c.ok(["system", "connection", "remove", "two"]);
    c.ok(["system", "connection", "rm", "uno"]);
    assert_eq!(c.ok(["system", "connection", "list", "-q"]), "");
    no_local_traces(&c);
}

/// An OpenSSH server on 127.0.0.1 for the test user, with generated host
/// and user keys; killed when dropped.
struct Sshd {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen")
        .success();
    assert!(ok, "ssh-keygen");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_sshd(env: &TestEnv) -> Option<Sshd> {
    let sshd = Path::new("/usr/sbin/sshd");
    if !is_root() || !sshd.exists() {
        eprintln!("skip: ssh remote test needs root and /usr/sbin/sshd (openssh-server)");
        return None;
    }
    let dir = env.root.join("sshd");
    fs::create_dir_all(&dir).expect("sshd dir");
    keygen(&dir.join("host_key"));
    let user_key = env.root.join("id_ed25519");
    keygen(&user_key);
    chown(&user_key, env.user.uid, env.user.gid);
    fs::copy(user_key.with_extension("pub"), dir.join("authorized_keys")).expect("authorized_keys");
    let port = free_port();
    let config = dir.join("sshd_config");
    // UsePAM: the test user has a locked password ("!"), which sshd
    // without PAM takes for a locked account even for key logins.
    fs::write(
        &config,
        format!(
            "ListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM yes\nStrictModes no\n\
             AllowStreamLocalForwarding yes\nPidFile {d}/sshd.pid\nAllowUsers {u}\n",
            d = dir.display(),
            u = env.user.name
        ),
    )
    .expect("sshd_config");
    fs::create_dir_all("/run/sshd").expect("sshd privsep dir");
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .args(["-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd");
    let up = wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "sshd did not listen on {port}");
    // The client's ssh: known_hosts checked (only this host key is known),
    // no prompts. Given through a wrapper first on PATH, since ssh reads
    // ~/.ssh from the passwd home, not $HOME.
    let known = env.root.join("known_hosts");
    let host_pub = fs::read_to_string(dir.join("host_key.pub")).expect("host key");
    fs::write(&known, format!("[127.0.0.1]:{port} {host_pub}")).expect("known_hosts");
    let bin = env.root.join("sshbin");
    fs::create_dir_all(&bin).expect("ssh wrapper dir");
    let ssh_config = env.root.join("ssh_config");
    fs::write(
        &ssh_config,
        format!(
            "Host *\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
            known.display()
        ),
    )
    .expect("ssh_config");
    let wrapper = bin.join("ssh");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
            ssh_config.display()
        ),
    )
    .expect("ssh wrapper");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
    Some(Sshd { child, dir, port })
}

#[test]
fn remote_over_ssh_with_a_connection() {
    let server = Server(busybox_env(&[]));
    let Some(sshd) = start_sshd(&server.0) else {
        return;
    };
    let (_svc, sock) = serve_default(&server.0);
    let mut c = client();
    c.vars.push((
        "PATH".into(),
        format!(
            "{}:/usr/local/bin:/usr/bin:/bin",
            server.0.root.join("sshbin").display()
        ),
    ));
    let url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        c.user.name,
        sshd.port,
        sock.display()
    );
    let key = server.0.root.join("id_ed25519");
    c.ok([
        "system",
        "connection",
        "add",
        "--identity",
        key.to_str().unwrap(),
        "far",
        &url,
    ]);
    round_trip(&c, &["--connection", "far"]);
    no_local_traces(&c);
    // An unknown host key is refused by ssh itself.
    fs::write(server.0.root.join("known_hosts"), "").expect("empty known_hosts");
    let out = c.run(["--connection", "far", "ps"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("ssh"), "{}", stderr(&out));
}

#[test]
fn remote_pull_and_images_from_a_registry() {
    let mut env = busybox_env(&[]);
    let Some(reg) = Registry::start(&env.root.join("registry"), None) else {
        eprintln!("skip: no registry (docker-registry) here");
        return;
    };
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
    let server = Server(env);
    let remote = format!("{}/bb:1", reg.address());
    server.0.ok(["push", "busybox", &remote]);
    server.0.ok(["rmi", "busybox"]);
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    let out = c.run(["--url", &url, "pull", &remote]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    assert!(is_hex_id(&id), "{id}");
    let shown = c.ok([
        "--url",
        &url,
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.Id}}",
    ]);
    assert_eq!(shown.trim(), format!("{remote} {id}"));
    // push: the service pushes from its store; its progress on stderr as
    // the local push prints it.
    let local = server.0.run([
        "push",
        "--tls-verify=false",
        &remote,
        &format!("{}/bb:3", reg.address()),
    ]);
    assert!(local.status.success(), "{}", stderr(&local));
    let pushed = format!("{}/bb:2", reg.address());
    let out = c.run([
        "--url",
        &url,
        "push",
        "--tls-verify=false",
        &remote,
        &pushed,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), stderr(&local), "the local push's lines");
    assert!(
        stderr(&out).contains("Writing manifest to image destination"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
    server.0.ok(["rmi", &remote]);
    assert_eq!(
        c.ok(["--url", &url, "pull", "-q", &pushed]).trim(),
        id,
        "the pushed image comes back"
    );
    let out = c.run(["--url", &url, "push", "nosuch", &pushed]);
    assert_eq!(out.status.code(), Some(125));
    no_local_traces(&c);
}

/// Runs the client's `args` with `input` on its stdin.
fn with_input(c: &TestEnv, args: &[String], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = c
        .hutch(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hutch");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait hutch")
}

/// A file or directory in the client's home, owned by the test user.
fn client_file(c: &TestEnv, rel: &str, text: Option<&str>) -> PathBuf {
    let p = c.home.join(rel);
    match text {
        Some(t) => fs::write(&p, t).expect("write client file"),
        None => fs::create_dir_all(&p).expect("make client dir"),
    }
    chown(&p, c.user.uid, c.user.gid);
    p
}

/// Volumes, networks, pods, cp both ways, and the streaming sessions
/// (run -i, exec -i, attach, start -a) with their exit codes, through `c`
/// (a client set up to reach the service of `server`); outputs compared
/// with the local commands' where they show the same records.
fn objects_cp_and_sessions(c: &TestEnv, server: &TestEnv, url: &[&str]) {
    let with =
        |args: &[&str]| -> Vec<String> { url.iter().chain(args).map(|s| s.to_string()).collect() };
    let code = |args: &[&str]| c.run(with(args)).status.code();
    // Volumes.
    assert_eq!(c.ok(with(&["volume", "create", "rv"])), "rv\n");
    assert_eq!(
        c.ok(with(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"])),
        "rv local\n"
    );
    assert_eq!(
        c.ok(with(&["volume", "inspect", "rv"])),
        server.ok(["volume", "inspect", "rv"]),
        "volume inspect: the local command's output"
    );
    assert_eq!(code(&["volume", "exists", "rv"]), Some(0));
    assert_eq!(code(&["volume", "exists", "nosuch"]), Some(1));
    assert_eq!(code(&["volume", "rm", "nosuch"]), Some(1), "Podman: 1");
    // Networks.
    assert_eq!(c.ok(with(&["network", "create", "rn"])), "rn\n");
    assert_eq!(
        c.ok(with(&["network", "ls"])),
        server.ok(["network", "ls"]),
        "network ls: the local command's output"
    );
    assert_eq!(
        c.ok(with(&["network", "inspect", "rn"])),
        server.ok(["network", "inspect", "rn"])
    );
    assert_eq!(code(&["network", "exists", "rn"]), Some(0));
    assert_eq!(code(&["network", "exists", "nosuch"]), Some(1));
    assert_eq!(code(&["network", "rm", "nosuch"]), Some(1));
    // Pods.
    let pod = c.ok(with(&["pod", "create", "--name", "rp"]));
    let pod = pod.trim();
    assert!(is_hex_id(pod), "{pod}");
    let fields = "{{.ID}} {{.Name}} {{.Status}} {{.InfraID}} {{.NumberOfContainers}}";
    let shown = c.ok(with(&["pod", "ps", "--format", fields]));
    assert_eq!(shown, server.ok(["pod", "ps", "--format", fields]));
    assert!(shown.contains(" rp Created "), "{shown}");
    assert_eq!(c.ok(with(&["pod", "start", "rp"])).trim(), pod);
    assert_eq!(
        c.ok(with(&[
            "pod",
            "inspect",
            "rp",
            "--format",
            "{{.Name}} {{.Id}}"
        ]))
        .trim(),
        format!("rp {pod}")
    );
    assert_eq!(code(&["pod", "exists", "rp"]), Some(0));
    assert_eq!(c.ok(with(&["pod", "stop", "-t", "0", "rp"])).trim(), pod);
    assert_eq!(c.ok(with(&["pod", "rm", "rp"])).trim(), pod);
    assert_eq!(code(&["pod", "exists", "rp"]), Some(1));
    assert_eq!(code(&["pod", "rm", "nosuch"]), Some(1));
    assert_eq!(c.ok(with(&["network", "rm", "rn"])), "rn\n");
    assert_eq!(c.ok(with(&["volume", "rm", "rv"])), "rv\n");
    // cp both ways: a file, a renamed file, a tree.
    c.ok(with(&[
        "run", "-d", "--name", "cpc", "busybox", "sleep", "60",
    ]));
    let file = client_file(c, "in.txt", Some("to the container\n"));
    let file = file.to_str().unwrap();
    c.ok(with(&["cp", file, "cpc:/tmp/"]));
    c.ok(with(&["cp", file, "cpc:/tmp/renamed.txt"]));
    assert_eq!(
        c.ok(with(&[
            "exec",
            "cpc",
            "cat",
            "/tmp/in.txt",
            "/tmp/renamed.txt"
        ])),
        "to the container\nto the container\n"
    );
    client_file(c, "tree/a", None);
    client_file(c, "tree/a/b.txt", Some("deep\n"));
    let tree = c.home.join("tree");
    c.ok(with(&["cp", tree.to_str().unwrap(), "cpc:/tmp/"]));
    assert_eq!(
        c.ok(with(&["exec", "cpc", "cat", "/tmp/tree/a/b.txt"])),
        "deep\n"
    );
    let back = c.home.join("back");
    c.ok(with(&["cp", "cpc:/tmp/tree", back.to_str().unwrap()]));
    assert_eq!(fs::read_to_string(back.join("a/b.txt")).unwrap(), "deep\n");
    let out_file = c.home.join("out.txt");
    c.ok(with(&[
        "cp",
        "cpc:/tmp/renamed.txt",
        out_file.to_str().unwrap(),
    ]));
    assert_eq!(fs::read_to_string(&out_file).unwrap(), "to the container\n");
    assert_eq!(
        owner(&out_file),
        Some(c.user.uid),
        "copies out are the user's"
    );
    let home = c.home.to_str().unwrap().to_owned();
    let out = c.run(with(&["cp", "cpc:/nosuch", &home]));
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("\"/nosuch\" could not be found on container cpc"),
        "{}",
        stderr(&out)
    );
    // Sessions: input in, stdout and stderr apart, the process's code.
    let out = with_input(
        c,
        &with(&[
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "cat; echo err >&2; exit 6",
        ]),
        "line\n",
    );
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(stdout(&out), "line\n");
    assert_eq!(stderr(&out), "err\n");
    let out = with_input(
        c,
        &with(&["exec", "-i", "cpc", "sh", "-c", "cat; echo e >&2; exit 3"]),
        "abc\n",
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "abc\n");
    assert_eq!(stderr(&out), "e\n");
    // attach to a running container that waits for its input.
    c.ok(with(&[
        "create",
        "-i",
        "--name",
        "ai",
        "busybox",
        "sh",
        "-c",
        "read x; echo got $x; echo e2 >&2; exit 7",
    ]));
    assert_eq!(c.ok(with(&["start", "ai"])), "ai\n");
    let out = with_input(c, &with(&["attach", "ai"]), "hello\n");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "got hello\n");
    assert_eq!(stderr(&out), "e2\n");
    // start -a: attached before the start, nothing lost.
    c.ok(with(&[
        "create",
        "--name",
        "sa",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two >&2; exit 5",
    ]));
    let out = c.run(with(&["start", "-a", "sa"]));
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(stdout(&out), "one\n");
    assert_eq!(stderr(&out), "two\n");
    assert_eq!(c.ok(with(&["wait", "sa"])), "5\n");
    assert_eq!(c.ok(with(&["kill", "cpc"])), "cpc\n");
    assert_eq!(c.ok(with(&["wait", "cpc"])), "137\n");
    assert_eq!(code(&["kill", "nosuch"]), Some(125));
    assert_eq!(code(&["container", "exists", "sa"]), Some(0));
    assert_eq!(code(&["container", "exists", "nosuch"]), Some(1));
    c.ok(with(&["rm", "cpc", "ai", "sa"]));
}

#[test]
fn remote_volumes_networks_pods_cp_and_sessions() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let mut c = client();
    // Over ssh when an OpenSSH server can be started here, else straight
    // to the socket (the same client code past the transport).
    let sshd = start_sshd(&server.0);
    let args: Vec<String> = match &sshd {
        Some(s) => {
            c.vars.push((
                "PATH".into(),
                format!(
                    "{}:/usr/local/bin:/usr/bin:/bin",
                    server.0.root.join("sshbin").display()
                ),
            ));
            let url = format!(
                "ssh://{}@127.0.0.1:{}{}",
                c.user.name,
                s.port,
                sock.display()
            );
            let key = server.0.root.join("id_ed25519");
            c.ok([
                "system",
                "connection",
                "add",
                "--identity",
                key.to_str().unwrap(),
                "far",
                &url,
            ]);
            vec!["--connection".into(), "far".into()]
        }
        None => vec!["--url".into(), format!("unix://{}", sock.display())],
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    objects_cp_and_sessions(&c, &server.0, &args);
    no_local_traces(&c);
}

/// `container checkpoint` through the remote client: where the service's
/// host cannot checkpoint rootless (CRIU without its capability here), the
/// local command's one error, its exit code, and the container running on;
/// restore of a container never checkpointed is refused as locally.
#[test]
fn remote_checkpoint_says_what_the_local_command_says() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    c.ok([
        "--url", &url, "run", "-d", "--name", "cp1", "busybox", "sleep", "60",
    ]);
    let local = server.0.run(["container", "checkpoint", "cp1"]);
    let remote = c.run(["--url", &url, "container", "checkpoint", "cp1"]);
    assert_eq!(
        remote.status.code(),
        local.status.code(),
        "{}",
        stderr(&remote)
    );
    if local.status.success() {
        eprintln!("skip: checkpointing works here; the error path is not reached");
    } else {
        assert_eq!(stderr(&remote), stderr(&local), "the same one error");
        assert_eq!(
            c.ok([
                "--url",
                &url,
                "inspect",
                "--format",
                "{{.State.Status}}",
                "cp1"
            ])
            .trim(),
            "running"
        );
    }
    let local = server.0.run(["container", "restore", "cp1"]);
    let remote = c.run(["--url", &url, "container", "restore", "cp1"]);
    assert_eq!(remote.status.code(), local.status.code());
    assert_eq!(stderr(&remote), stderr(&local));
    // Carried now as podman --remote carries them: -a and --print-stats
    // (the same one error and Podman's JSON with no statistics), restore
    // -p and the import's flags (the service's checks, as local).
    for args in [
        &["container", "checkpoint", "-a", "--print-stats"][..],
        &["container", "restore", "-a", "--print-stats"],
        &[
            "container",
            "restore",
            "-p",
            "8080:80",
            "--file-locks",
            "nosuch",
        ],
        &["container", "restore", "--pod", "p", "cp1"],
        &[
            "container",
            "checkpoint",
            "--file-locks",
            "--ignore-rootfs",
            "cp1",
        ],
    ] {
        let local = server.0.run(args);
        let remote = c.run(["--url", &url].iter().chain(args));
        assert_eq!(
            remote.status.code(),
            local.status.code(),
            "{args:?}: {}",
            stderr(&remote)
        );
        assert_eq!(stderr(&remote), stderr(&local), "{args:?}");
        let json = |o: &std::process::Output| {
            serde_json::from_str::<serde_json::Value>(&stdout(o))
                .map(|v| v["container_statistics"].clone())
                .ok()
        };
        assert_eq!(json(&remote), json(&local), "{args:?}");
    }
    let out = c.run([
        "--url",
        &url,
        "container",
        "restore",
        "--import-previous",
        "/nonexistent",
        "-i",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("--import-previous is not supported on the remote client"),
        "{}",
        stderr(&out)
    );
    no_local_traces(&c);
}

/// The `run`/`create` flags a user passes: the container the service
/// makes from the remote client's body is the one the local command
/// makes (inspect compared field by field), and it runs with them.
fn flags_as_local(c: &TestEnv, server: &TestEnv, url: &[&str]) {
    let with =
        |args: &[&str]| -> Vec<String> { url.iter().chain(args).map(|s| s.to_string()).collect() };
    let host_dir = server.root.join("hostdir");
    fs::create_dir_all(&host_dir).expect("host dir");
    fs::write(host_dir.join("f"), "on the service's host\n").expect("host file");
    chown(&host_dir, server.user.uid, server.user.gid);
    chown(&host_dir.join("f"), server.user.uid, server.user.gid);
    let env_file = client_file(c, "vars.env", Some("B=from-file\n"));
    let bind = format!("{}:/hostdir:ro", host_dir.display());
    let port = free_port().to_string();
    let publish = format!("127.0.0.1:{port}:80");
    let flags = [
        "-e",
        "A=1",
        "--env-file",
        env_file.to_str().unwrap(),
        "-l",
        "l=v",
        "-u",
        "12:34",
        "-w",
        "/tmp",
        "--entrypoint",
        "/bin/sh",
        "--restart",
        "on-failure:2",
        "--memory",
        "64m",
        "--cpus",
        "1.5",
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "CHOWN",
        "-p",
        &publish,
        "-v",
        "fvol:/vol",
        "-v",
        &bind,
        "--tmpfs",
        "/scr:size=1m",
        "--ulimit",
        "nofile=100:200",
        "--health-cmd",
        "true",
        "--health-interval",
        "7s",
        "--pids-limit",
        "50",
        "--stop-timeout",
        "3",
        "--hostname",
        "hh",
        "--add-host",
        "foo:1.2.3.4",
        "--dns",
        "1.1.1.1",
    ];
    let create = |name: &str| -> Vec<String> {
        let mut a: Vec<String> = vec!["create".into(), "--name".into(), name.into()];
        a.extend(flags.iter().map(|s| s.to_string()));
        a.extend(["busybox".into(), "-c".into(), "true".into()]);
        a
    };
    let remote_args: Vec<String> = create("rem");
    let remote_args: Vec<&str> = remote_args.iter().map(String::as_str).collect();
    let remote = c.run(with(&remote_args));
    assert!(remote.status.success(), "{}", stderr(&remote));
    let local = server.run(create("loc"));
    assert!(local.status.success(), "{}", stderr(&local));
    let inspect = |name: &str| -> serde_json::Value {
        let text = server.ok(["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&text).expect("inspect json");
        v[0].clone()
    };
    let (l, r) = (inspect("loc"), inspect("rem"));
    // The environment as a set: a map in the body, as Podman's.
    let env = |v: &serde_json::Value| {
        let mut e: Vec<String> = v["Config"]["Env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect();
        e.sort();
        e
    };
    assert_eq!(env(&l), env(&r));
    for path in [
        "/Config/User",
        "/Config/WorkingDir",
        "/Config/Entrypoint",
        "/Config/Cmd",
        "/Config/Labels",
        "/Config/Healthcheck",
        "/Config/Hostname",
        "/Config/StopTimeout",
        "/HostConfig/RestartPolicy",
        "/HostConfig/Memory",
        "/HostConfig/NanoCpus",
        "/HostConfig/CapAdd",
        "/HostConfig/CapDrop",
        "/HostConfig/PortBindings",
        "/HostConfig/Binds",
        "/HostConfig/Tmpfs",
        "/HostConfig/Ulimits",
        "/HostConfig/PidsLimit",
        "/HostConfig/ExtraHosts",
        "/HostConfig/Dns",
        "/HostConfig/NetworkMode",
    ] {
        // Podman's remote client sends binds and named volumes apart:
        // the same Binds, in another order.
        let sorted = |v: Option<&serde_json::Value>| {
            let mut v = v.cloned();
            if let (Some(serde_json::Value::Array(a)), "/HostConfig/Binds") = (&mut v, path) {
                a.sort_by_key(|x| x.to_string());
            }
            v
        };
        assert_eq!(sorted(l.pointer(path)), sorted(r.pointer(path)), "{path}");
    }
    // -p reached the service: the same `port` list as the local one's.
    let ports = |name: &str| server.ok(["port", name]);
    assert_eq!(ports("rem"), ports("loc"));
    assert!(
        r.to_string().contains(&port) || ports("rem").contains(&port),
        "{r}"
    );
    server.ok(["rm", "loc", "rem"]);
    // It runs with them: the client's env file, the service's host path,
    // the named volume, the tmpfs, the user and the limit.
    let out = c.run(with(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        env_file.to_str().unwrap(),
        "-v",
        "fvol:/vol",
        "-v",
        &bind,
        "--tmpfs",
        "/scr",
        "-u",
        "12:34",
        "-w",
        "/tmp",
        "--ulimit",
        "nofile=100:200",
        "--entrypoint",
        "/bin/sh",
        "busybox",
        "-c",
        "echo $A $B; id -u; pwd; cat /hostdir/f; grep -c ' /scr ' /proc/mounts; ulimit -n",
    ]));
    assert_eq!(
        stdout(&out),
        "1 from-file\n12\n/tmp\non the service's host\n1\n100\n",
        "{}",
        stderr(&out)
    );
    // What the body cannot carry is refused by flag, as podman-remote does.
    let out = c.run(with(&["run", "--preserve-fds", "1", "busybox", "true"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--preserve-fds"), "{}", stderr(&out));
    let out = c.run(with(&["create", "--cpu-weight", "10", "busybox"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--cpu-weight"), "{}", stderr(&out));
    // restart of a --rm container keeps it (stop, then start again).
    c.ok(with(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "rr",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]));
    let began = std::time::Instant::now();
    c.ok(with(&["restart", "-t", "2", "rr"]));
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "restart took {:?}",
        began.elapsed()
    );
    assert_eq!(
        c.ok(with(&["inspect", "--format", "{{.State.Status}}", "rr"]))
            .trim(),
        "running"
    );
    c.ok(with(&["rm", "-f", "rr"]));
    server.ok(["volume", "rm", "fvol"]);
}

#[test]
fn remote_run_flags_make_the_local_container() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    flags_as_local(&c, &server.0, &["--url", &url]);
    no_local_traces(&c);
}

/// Output into a pipe whose reader has gone (`| head -1`): the command
/// ends quietly, killed by SIGPIPE as Podman is, locally and remotely.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let server = Server(busybox_env(&[]));
    // 30000 lines (170 KiB): more than a pipe holds.
    server.0.ok([
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); echo $i; done",
    ]);
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    let head_1 = |env: &TestEnv, args: &[&str]| {
        let mut child = env
            .hutch(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hutch");
        let mut first = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut first).expect("first line");
        drop(out);
        let done = child.wait_with_output().expect("wait hutch");
        assert_eq!(first, "1\n", "{args:?}");
        assert_eq!(stderr(&done), "", "{args:?}: quiet");
        assert_eq!(
            done.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            done.status
        );
    };
    head_1(&server.0, &["logs", "big"]);
    head_1(&c, &["--url", &url, "logs", "big"]);
    no_local_traces(&c);
    // Over ssh too, where an OpenSSH server can be started here.
    if let Some(sshd) = start_sshd(&server.0) {
        let mut c = client();
        c.vars.push((
            "PATH".into(),
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                server.0.root.join("sshbin").display()
            ),
        ));
        let url = format!(
            "ssh://{}@127.0.0.1:{}{}",
            c.user.name,
            sshd.port,
            sock.display()
        );
        let key = server.0.root.join("id_ed25519");
        c.ok([
            "system",
            "connection",
            "add",
            "--identity",
            key.to_str().unwrap(),
            "far",
            &url,
        ]);
        head_1(&c, &["--connection", "far", "logs", "big"]);
        no_local_traces(&c);
        // Its ssh forward went with it, and the forward's directory.
        if let Some(run) = &c.xdg_runtime_dir {
            let left = || {
                fs::read_dir(run)
                    .map(|d| {
                        d.flatten()
                            .any(|e| e.file_name().to_string_lossy().starts_with("hutch-ssh-"))
                    })
                    .unwrap_or(false)
            };
            assert!(!left(), "the tunnel's directory was left behind");
        }
        assert!(
            wait_until(Duration::from_secs(5), || {
                !live_processes().into_iter().any(|p| {
                    comm(p).as_deref() == Some("ssh")
                        && fs::read_to_string(format!("/proc/{p}/cmdline"))
                            .is_ok_and(|c| c.contains(&sock.display().to_string()))
                })
            }),
            "the ssh forward outlived the command"
        );
    }
}
#[path = "remote/remote2.rs"]
mod remote2;
#[path = "remote/remotec.rs"]
mod remotec;
#[path = "remote/remotei.rs"]
mod remotei;
