//! Issue 18, the remote client's image commands: `images NAME` and
//! `--filter`, `history`, `untag`, `save` (one image, several, a
//! directory format), `load` (`-i` and stdin), `import` (a file and `-`,
//! `--change`, `--message`), and `pull` with `--creds`, `--authfile` and
//! `--platform` against a registry that asks for a password; each
//! compared with the same local command on the service's side (output and
//! exit code).

use super::*;

/// `args` through the service at `url`.
fn remote(url: &str, args: &[&str]) -> Vec<String> {
    ["--url", url]
        .iter()
        .chain(args)
        .map(|s| s.to_string())
        .collect()
}

/// The same command locally (on the service's store) and remotely: the
/// same exit code, stdout and, when `same_err`, stderr.
fn same(server: &TestEnv, c: &TestEnv, url: &str, args: &[&str], same_err: bool) -> String {
    let local = server.run(args);
    let far = c.run(remote(url, args));
    assert_eq!(
        far.status.code(),
        local.status.code(),
        "{args:?}: exit codes; remote stderr {}, local {}",
        stderr(&far),
        stderr(&local)
    );
    // The two run a moment apart: "1 second ago" may meet "Less than a
    // second ago".
    let recent = regex::Regex::new(r"(Less than a second|\d+ seconds?) ago").expect("regex");
    let calm =
        |o: &std::process::Output| recent.replace_all(&stdout(o), "moments ago").into_owned();
    assert_eq!(calm(&far), calm(&local), "{args:?}: stdout");
    if same_err {
        assert_eq!(stderr(&far), stderr(&local), "{args:?}: stderr");
    }
    stdout(&far)
}

#[test]
fn remote_image_listing_history_and_untag_as_local() {
    let server = Server(busybox_env(&["LABEL=team=red"]));
    server.0.ok(["tag", "busybox", "localhost/other:2"]);
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    let fmt = "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.Labels}}";
    // The positional name and --filter, each as the local command lists.
    let shown = same(
        &server.0,
        &c,
        &url,
        &["images", "--format", fmt, "localhost/other:2"],
        true,
    );
    assert!(shown.contains("localhost/other:2 "), "{shown}");
    same(
        &server.0,
        &c,
        &url,
        &["images", "--format", fmt, "nosuch"],
        true,
    );
    for f in [
        "reference=busybox",
        "label=team=red",
        "label=team=blue",
        "dangling=false",
    ] {
        same(
            &server.0,
            &c,
            &url,
            &["images", "--filter", f, "--format", fmt],
            true,
        );
    }
    same(&server.0, &c, &url, &["images", "-q", "--no-trunc"], true);
    same(
        &server.0,
        &c,
        &url,
        &["images", "--sort", "repository", "-n"],
        false,
    );
    same(&server.0, &c, &url, &["images", "--format", "json"], true);
    same(&server.0, &c, &url, &["images", "--sort", "nope"], true);
    same(
        &server.0,
        &c,
        &url,
        &["images", "--filter", "bogus=1"],
        false,
    );
    // history, its rows and template, and a missing image.
    let ids = same(&server.0, &c, &url, &["history", "-q", "busybox"], true);
    assert!(!ids.is_empty());
    same(
        &server.0,
        &c,
        &url,
        &[
            "history",
            "--format",
            "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
            "busybox",
        ],
        true,
    );
    same(
        &server.0,
        &c,
        &url,
        &["image", "history", "--format", "json", "busybox"],
        false,
    );
    same(&server.0, &c, &url, &["history", "nosuch"], false);
    same(&server.0, &c, &url, &["image", "tree", "busybox"], true);
    same(
        &server.0,
        &c,
        &url,
        &["image", "tree", "--whatrequires", "busybox"],
        true,
    );
    same(&server.0, &c, &url, &["image", "tree", "nosuch"], false);
    // untag one name, then all; a missing image as the local command.
    assert_eq!(
        c.ok(remote(&url, &["untag", "busybox", "localhost/other:2"])),
        ""
    );
    let names = server
        .0
        .ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(names.trim(), "localhost/busybox:latest");
    same(&server.0, &c, &url, &["untag", "nosuch"], false);
    server.0.ok(["tag", "busybox", "localhost/third:3"]);
    assert_eq!(c.ok(remote(&url, &["image", "untag", "busybox"])), "");
    let names = server
        .0
        .ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(names.trim(), "<none>:<none>", "every name went");
    no_local_traces(&c);
}

#[test]
fn remote_save_load_and_import_move_files_of_the_client() {
    let server = Server(busybox_env(&[]));
    server.0.ok(["tag", "busybox", "localhost/two:1"]);
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    // save -o: the same archive as the local save writes.
    let here = c.home.join("bb.tar");
    c.ok(remote(
        &url,
        &["save", "-o", here.to_str().unwrap(), "busybox"],
    ));
    let local = server.0.home.join("local.tar");
    server
        .0
        .ok(["save", "-o", local.to_str().unwrap(), "busybox"]);
    assert_eq!(
        fs::read(&here).expect("remote archive"),
        fs::read(&local).expect("local archive"),
        "the remote save writes the local save's archive"
    );
    // Several images in one archive, and oci-archive.
    let both = c.home.join("both.tar");
    c.ok(remote(
        &url,
        &[
            "save",
            "-o",
            both.to_str().unwrap(),
            "busybox",
            "localhost/two:1",
        ],
    ));
    let oci = c.home.join("bb-oci.tar");
    c.ok(remote(
        &url,
        &[
            "save",
            "--format",
            "oci-archive",
            "-o",
            oci.to_str().unwrap(),
            "busybox",
        ],
    ));
    // A directory format arrives as a directory.
    let dir = c.home.join("bb-dir");
    c.ok(remote(
        &url,
        &[
            "save",
            "--format",
            "oci-dir",
            "-o",
            dir.to_str().unwrap(),
            "busybox",
        ],
    ));
    assert!(dir.join("index.json").is_file() && dir.join("oci-layout").is_file());
    // A missing image: nothing written, the local command's code.
    let none = c.home.join("none.tar");
    same(
        &server.0,
        &c,
        &url,
        &["save", "-o", none.to_str().unwrap(), "nosuch"],
        false,
    );
    assert!(!none.exists());
    // load -i and from stdin, printed as the local load prints.
    server.0.ok(["rmi", "-f", "busybox", "localhost/two:1"]);
    let loaded = c.ok(remote(&url, &["load", "-i", both.to_str().unwrap()]));
    assert!(
        loaded.contains("Loaded image: localhost/busybox:latest\n"),
        "{loaded}"
    );
    server.0.ok(["rmi", "-f", "busybox", "localhost/two:1"]);
    let local = server.0.ok(["load", "-i", both.to_str().unwrap()]);
    assert_eq!(loaded, local, "load -i: the local load's lines");
    server.0.ok(["rmi", "-f", "busybox", "localhost/two:1"]);
    let archive = fs::read(&oci).expect("oci archive");
    let mut child = c
        .hutch(remote(&url, &["load"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hutch");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&archive).expect("send the archive");
    }
    let out = child.wait_with_output().expect("wait hutch");
    assert!(out.status.success(), "{}", stderr(&out));
    let local = server.0.run(["load", "-i", oci.to_str().unwrap()]);
    assert_eq!(stdout(&out), stdout(&local), "load from stdin");
    same(
        &server.0,
        &c,
        &url,
        &["load", "-i", here.to_str().unwrap(), "-q"],
        true,
    );
    // A file that is no archive: the local load's exit code.
    let junk = client_file(&c, "junk.tar", Some("not a tar"));
    let far = c.run(remote(&url, &["load", "-i", junk.to_str().unwrap()]));
    let near = server.0.run(["load", "-i", junk.to_str().unwrap()]);
    assert_eq!(far.status.code(), near.status.code(), "{}", stderr(&far));
    // import: a file with --change and --message, and stdin.
    let rootfs = common::images::gzip(&common::images::busybox_rootfs());
    let tarball = c.home.join("rootfs.tar.gz");
    fs::write(&tarball, &rootfs).expect("write rootfs");
    chown(&tarball, c.user.uid, c.user.gid);
    let id = c.ok(remote(
        &url,
        &[
            "import",
            "--change",
            "CMD=/bin/echo imported",
            "--change",
            "ENV=WHO=far",
            "--message",
            "from afar",
            tarball.to_str().unwrap(),
            "localhost/imported:1",
        ],
    ));
    assert!(is_hex_id(id.trim()), "{id}");
    let cfg = server.0.ok([
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{.Config.Cmd}} {{.Config.Env}} {{.Comment}}",
        "localhost/imported:1",
    ]);
    assert!(cfg.starts_with(id.trim()), "{cfg}");
    assert!(
        cfg.contains("/bin/echo imported") && cfg.contains("WHO=far"),
        "{cfg}"
    );
    let mut child = c
        .hutch(remote(&url, &["import", "-", "localhost/fromstdin:1"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hutch");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&rootfs).expect("send the rootfs");
    }
    let out = child.wait_with_output().expect("wait hutch");
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = server
        .0
        .ok(["images", "-q", "--no-trunc", "localhost/fromstdin:1"]);
    assert_eq!(shown.trim(), format!("sha256:{}", stdout(&out).trim()));
    // A missing file: the local import's exit code.
    let far = c.run(remote(&url, &["import", "/nonexistent.tar"]));
    let near = server.0.run(["import", "/nonexistent.tar"]);
    assert_eq!(far.status.code(), near.status.code(), "{}", stderr(&far));
    no_local_traces(&c);
}

#[test]
fn remote_pull_sends_the_clients_credentials_and_platform() {
    let mut env = busybox_env(&[]);
    let Some(reg) = Registry::start(&env.root.join("registry"), Some(("far", "s3cret"))) else {
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
    let image = format!("{}/bb:1", reg.address());
    server
        .0
        .ok(["push", "--creds", "far:s3cret", "busybox", &image]);
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    // Without credentials the registry refuses (the service has none).
    let out = c.run(remote(&url, &["pull", "-q", &image]));
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    // --creds, with --platform and --tls-verify=false.
    let id = c.ok(remote(
        &url,
        &[
            "pull",
            "-q",
            "--tls-verify=false",
            "--creds",
            "far:s3cret",
            "--platform",
            "linux/amd64",
            &image,
        ],
    ));
    assert!(is_hex_id(id.trim()), "{id}");
    server.0.ok(["rmi", &image]);
    // --authfile: the client's file, read here.
    let auth = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode("far:s3cret")
    };
    let file = client_file(
        &c,
        "auth.json",
        Some(&format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
            reg.address()
        )),
    );
    let again = c.ok(remote(
        &url,
        &["pull", "-q", "--authfile", file.to_str().unwrap(), &image],
    ));
    assert_eq!(again, id);
    // A named auth file that is not there: the local command's words.
    let gone = c.home.join("gone.json");
    let far = c.run(remote(
        &url,
        &["pull", "--authfile", gone.to_str().unwrap(), &image],
    ));
    let near = server
        .0
        .run(["pull", "--authfile", gone.to_str().unwrap(), &image]);
    assert_eq!(far.status.code(), near.status.code());
    let said = format!("stat {}: no such file or directory", gone.display());
    assert!(stderr(&far).contains(&said), "{}", stderr(&far));
    assert!(stderr(&near).contains(&said), "{}", stderr(&near));
    // A platform the registry does not have: refused as locally.
    let far = c.run(remote(
        &url,
        &[
            "pull",
            "-q",
            "--creds",
            "far:s3cret",
            "--arch",
            "s390x",
            &image,
        ],
    ));
    let near = server.0.run([
        "pull",
        "-q",
        "--creds",
        "far:s3cret",
        "--arch",
        "s390x",
        &image,
    ]);
    assert_eq!(far.status.code(), near.status.code(), "{}", stderr(&far));
    no_local_traces(&c);
}

#[test]
fn remote_login_logout_use_the_clients_auth_file() {
    let env = busybox_env(&[]);
    let Some(reg) = Registry::start(&env.root.join("registry"), Some(("far", "s3cret"))) else {
        eprintln!("skip: no registry (docker-registry) here");
        return;
    };
    let server = Server(env);
    let image = format!("{}/bb:1", reg.address());
    server.0.ok([
        "push",
        "--tls-verify=false",
        "--creds",
        "far:s3cret",
        "busybox",
        &image,
    ]);
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    let addr = reg.address();
    let out = c.run(remote(
        &url,
        &[
            "login",
            "--tls-verify=false",
            "-u",
            "far",
            "-p",
            "wrong",
            &addr,
        ],
    ));
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(
        c.ok(remote(
            &url,
            &[
                "login",
                "--tls-verify=false",
                "-u",
                "far",
                "-p",
                "s3cret",
                &addr
            ],
        )),
        "Login Succeeded!\n"
    );
    // The client's own auth file now holds it; its pulls send it.
    let id = c.ok(remote(&url, &["pull", "-q", "--tls-verify=false", &image]));
    assert!(is_hex_id(id.trim()), "{id}");
    assert_eq!(
        c.ok(remote(&url, &["logout", &addr])),
        format!("Removed login credentials for {addr}\n")
    );
    server.0.ok(["rmi", &image]);
    let out = c.run(remote(&url, &["pull", "-q", "--tls-verify=false", &image]));
    assert_eq!(out.status.code(), Some(125), "no credentials left");
    no_local_traces(&c);
}

/// `kube` YAML of one pod with one sleeping busybox container.
const POD_YAML: &str = "apiVersion: v1
kind: Pod
metadata:
  name: farpod
spec:
  containers:
  - name: sleeper
    image: localhost/busybox:latest
    command: [\"sleep\", \"60\"]
";

#[test]
fn remote_secrets_kube_generate_and_pod_create_as_local() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    // Secrets: the data from a client file and from stdin.
    let data = client_file(&c, "secret.txt", Some("hush"));
    let id = c.ok(remote(
        &url,
        &["secret", "create", "s1", data.to_str().unwrap()],
    ));
    assert_eq!(id.trim().len(), 25, "{id}");
    let out = with_input(
        &c,
        &remote(&url, &["secret", "create", "--label", "a=b", "s2", "-"]),
        "quiet",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    same(
        &server.0,
        &c,
        &url,
        &["secret", "ls", "--format", "{{.ID}} {{.Name}} {{.Driver}}"],
        true,
    );
    same(&server.0, &c, &url, &["secret", "ls", "-q"], true);
    same(
        &server.0,
        &c,
        &url,
        &["secret", "inspect", "s1", "s2"],
        true,
    );
    same(
        &server.0,
        &c,
        &url,
        &["secret", "inspect", "--format", "{{.Spec.Labels}}", "s2"],
        true,
    );
    same(
        &server.0,
        &c,
        &url,
        &["secret", "inspect", "s1", "nosuch"],
        false,
    );
    same(
        &server.0,
        &c,
        &url,
        &["secret", "create", "s1", data.to_str().unwrap()],
        false,
    );
    for (name, code) in [("s1", 0), ("nosuch", 1)] {
        let out = c.run(remote(&url, &["secret", "exists", name]));
        assert_eq!(out.status.code(), Some(code), "secret exists {name}");
    }
    assert_eq!(c.ok(remote(&url, &["secret", "rm", "s1"])), id);
    same(&server.0, &c, &url, &["secret", "rm", "s1"], false);
    same(&server.0, &c, &url, &["secret", "rm", "-i", "s1"], true);
    // kube play and down: the YAML is the client's file.
    let yaml = client_file(&c, "pod.yaml", Some(POD_YAML));
    let played = c.ok(remote(&url, &["kube", "play", yaml.to_str().unwrap()]));
    let lines: Vec<&str> = played.lines().collect();
    assert_eq!(lines.len(), 5, "{played}");
    assert_eq!((lines[0], lines[2], lines[4]), ("Pod:", "Container:", ""));
    assert_eq!(
        server
            .0
            .ok(["pod", "inspect", "--format", "{{.Id}}", "farpod"])
            .trim(),
        lines[1]
    );
    assert_eq!(
        server
            .0
            .ok(["inspect", "--format", "{{.State.Status}}", "farpod-sleeper"])
            .trim(),
        "running"
    );
    // generate kube and systemd, as the local commands print them
    // (creation times masked).
    let mask = |s: String| -> String {
        s.lines()
            .filter(|l| !l.contains("creationTimestamp") && !l.contains("Created with"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let far = c.run(remote(&url, &["generate", "kube", "farpod"]));
    let near = server.0.run(["generate", "kube", "farpod"]);
    assert_eq!(far.status.code(), near.status.code(), "{}", stderr(&far));
    assert_eq!(mask(stdout(&far)), mask(stdout(&near)));
    let far = c.run(remote(
        &url,
        &["kube", "generate", "--service", "farpod-sleeper"],
    ));
    let near = server
        .0
        .run(["kube", "generate", "--service", "farpod-sleeper"]);
    assert_eq!(far.status.code(), near.status.code(), "{}", stderr(&far));
    same(&server.0, &c, &url, &["generate", "kube", "nosuch"], false);
    same(
        &server.0,
        &c,
        &url,
        &[
            "generate",
            "systemd",
            "--no-header",
            "--name",
            "farpod-sleeper",
        ],
        true,
    );
    same(
        &server.0,
        &c,
        &url,
        &[
            "generate",
            "systemd",
            "--no-header",
            "--format",
            "json",
            "farpod",
        ],
        true,
    );
    same(
        &server.0,
        &c,
        &url,
        &["generate", "systemd", "nosuch"],
        false,
    );
    let down = c.ok(remote(&url, &["kube", "down", yaml.to_str().unwrap()]));
    assert_eq!(
        down,
        format!("Pods stopped:\n{0}\nPods removed:\n{0}\n", lines[1])
    );
    let out = server.0.run(["pod", "exists", "farpod"]);
    assert_eq!(out.status.code(), Some(1), "kube down removed the pod");
    // play from stdin.
    let out = with_input(&c, &remote(&url, &["play", "kube", "-"]), POD_YAML);
    assert!(out.status.success(), "{}", stderr(&out));
    c.ok(remote(
        &url,
        &["kube", "play", "--down", yaml.to_str().unwrap()],
    ));
    // pod create with network options, --replace and --userns.
    let fmt = "{{.InfraConfig.PortBindings}} {{.InfraConfig.HostAdd}} {{.InfraConfig.DNSServer}}";
    let made = c.ok(remote(
        &url,
        &[
            "pod",
            "create",
            "--name",
            "rp",
            "-p",
            "127.0.0.1:18080:80",
            "--add-host",
            "far.example:10.1.2.3",
            "--dns",
            "10.0.0.53",
        ],
    ));
    assert!(is_hex_id(made.trim()), "{made}");
    server.0.ok([
        "pod",
        "create",
        "--name",
        "lp",
        "-p",
        "127.0.0.1:18081:80",
        "--add-host",
        "far.example:10.1.2.3",
        "--dns",
        "10.0.0.53",
    ]);
    let far = server.0.ok(["pod", "inspect", "--format", fmt, "rp"]);
    let near = server.0.ok(["pod", "inspect", "--format", fmt, "lp"]);
    assert!(
        far.contains("127.0.0.1") && far.contains("10.0.0.53"),
        "{far}"
    );
    assert_eq!(
        far.replace("18080", "P"),
        near.replace("18081", "P"),
        "the remote pod's network as the local one's"
    );
    let out = c.run(remote(&url, &["pod", "create", "--name", "rp"]));
    assert_eq!(out.status.code(), Some(125), "the name is taken");
    let again = c.ok(remote(
        &url,
        &[
            "pod",
            "create",
            "--replace",
            "--name",
            "rp",
            "--network",
            "none",
        ],
    ));
    assert_ne!(again, made, "--replace made a new pod");
    let shown = server.0.ok(["pod", "inspect", "--format", "{{.Id}}", "rp"]);
    assert_eq!(shown.trim(), again.trim());
    let far = c.run(remote(
        &url,
        &["pod", "create", "--name", "up", "--userns", "keep-id"],
    ));
    let near = server
        .0
        .run(["pod", "create", "--name", "ul", "--userns", "keep-id"]);
    assert_eq!(far.status.code(), near.status.code(), "{}", stderr(&far));
    no_local_traces(&c);
}

#[test]
fn remote_build_sends_the_context_and_prints_the_id_last() {
    let server = Server(busybox_env(&[]));
    let (_svc, sock) = serve_default(&server.0);
    let c = client();
    let url = format!("unix://{}", sock.display());
    let ctx = client_file(&c, "ctx", None);
    client_file(
        &c,
        "ctx/Containerfile",
        Some(
            "FROM localhost/busybox\nARG WHO=nobody\nCOPY greeting /greeting\nRUN echo \"$WHO\" > /who\nLABEL built=far\n",
        ),
    );
    client_file(&c, "ctx/greeting", Some("hello from the client\n"));
    let out = c.run(remote(
        &url,
        &[
            "build",
            "-t",
            "localhost/built:1",
            "--build-arg",
            "WHO=far",
            ctx.to_str().unwrap(),
        ],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let last = text.lines().last().unwrap_or_default();
    assert!(is_hex_id(last), "{text}");
    let shown = server
        .0
        .ok(["images", "-q", "--no-trunc", "localhost/built:1"]);
    assert_eq!(shown.trim(), format!("sha256:{last}"));
    let run = server.0.ok([
        "run",
        "--rm",
        "localhost/built:1",
        "cat",
        "/greeting",
        "/who",
    ]);
    assert_eq!(run, "hello from the client\nfar\n");
    // -q: the id alone; -f outside the context; --target; --iidfile.
    let file = client_file(
        &c,
        "Other",
        Some("FROM localhost/busybox AS one\nRUN touch /one\nFROM one AS two\nRUN touch /two\n"),
    );
    let iid = c.home.join("iid");
    let quiet = c.ok(remote(
        &url,
        &[
            "build",
            "-q",
            "-f",
            file.to_str().unwrap(),
            "--target",
            "one",
            "--iidfile",
            iid.to_str().unwrap(),
            "-t",
            "localhost/one:1",
            ctx.to_str().unwrap(),
        ],
    ));
    assert!(is_hex_id(quiet.trim()), "{quiet}");
    assert_eq!(
        fs::read_to_string(&iid).expect("iidfile"),
        format!("sha256:{}", quiet.trim())
    );
    let out = server
        .0
        .run(["run", "--rm", "localhost/one:1", "ls", "/two"]);
    assert_ne!(out.status.code(), Some(0), "--target stopped at stage one");
    // A failing RUN: the local build's exit code.
    client_file(&c, "bad", None);
    client_file(
        &c,
        "bad/Containerfile",
        Some("FROM localhost/busybox\nRUN exit 3\n"),
    );
    let far = c.run(remote(
        &url,
        &["build", c.home.join("bad").to_str().unwrap()],
    ));
    let near = server
        .0
        .run(["build", c.home.join("bad").to_str().unwrap()]);
    assert_eq!(far.status.code(), near.status.code(), "{}", stderr(&far));
    // What the remote build does not carry is refused by name.
    let out = c.run(remote(
        &url,
        &[
            "build",
            "--secret",
            "id=a,src=/etc/hostname",
            ctx.to_str().unwrap(),
        ],
    ));
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--secret"), "{}", stderr(&out));
    no_local_traces(&c);
}
