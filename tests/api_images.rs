//! Docker's image and registry routes through real clients: the docker CLI
//! (login, tag, push, rmi, pull, inspect, history, images with filters,
//! save, load, image prune, search) and the Python Docker SDK against
//! `hutch system service`, with Debian's docker-registry behind htpasswd
//! on 127.0.0.1 (plain HTTP: loopback registries are insecure by default,
//! as dockerd has them; no registries.conf is written).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::api::*;
use common::images::busybox_env;
use common::registry::Registry;
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

/// `docker login` with the password on stdin, as scripts do.
fn login(env: &TestEnv, sock: &Path, registry: &str, user: &str, pass: &str) -> Output {
    let mut cmd = Command::new("docker");
    cmd.args(["login", "-u", user, "--password-stdin", registry])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &env.home)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    as_user(&mut cmd, &env.user);
    let mut child = cmd.spawn().expect("run docker login");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(pass.as_bytes()).expect("password");
    }
    child.wait_with_output().expect("docker login")
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

/// Standard base64, as `X-Registry-Auth` carries the auth JSON.
fn base64_json(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A Python script as the test user, with `SOCK` set to the socket.
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
fn docker_cli_login_push_pull_tag_rmi_inspect_history_save_load_prune() {
    if !docker_cli() {
        eprintln!("docker CLI not installed: skipped");
        return;
    }
    let env = busybox_env(&["LABEL=team=red"]);
    let Some(reg) = Registry::start(&env.root.join("registry"), Some(("tester", "s3cret"))) else {
        return;
    };
    let (_svc, sock) = serve_default(&env);
    let addr = reg.address();
    let target = format!("{addr}/team/bb:v1");

    // A wrong password is refused, the right one accepted (`POST /auth`).
    let out = login(&env, &sock, &addr, "tester", "wrong");
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("invalid username/password"),
        "{}",
        stderr(&out)
    );
    let out = login(&env, &sock, &addr, "tester", "s3cret");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("Login Succeeded"), "{}", stdout(&out));

    ok(&env, &sock, &["tag", "busybox", &target]);
    let pushed = ok(&env, &sock, &["push", &target]);
    assert!(pushed.contains("v1: digest: sha256:"), "{pushed}");
    assert!(
        reg.dir
            .join("storage/docker/registry/v2/repositories/team/bb")
            .is_dir(),
        "the registry holds the pushed repository"
    );

    // Untag (the image keeps its other name), then pull it back.
    let rmi = ok(&env, &sock, &["rmi", &target]);
    assert!(rmi.contains("Untagged"), "{rmi}");
    let images = ok(
        &env,
        &sock,
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    assert!(!images.contains("team/bb"), "{images}");
    let pulled = ok(&env, &sock, &["pull", &target]);
    assert!(pulled.contains("Digest: sha256:"), "{pulled}");
    let images = ok(
        &env,
        &sock,
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    assert!(images.contains(&format!("{addr}/team/bb:v1")), "{images}");
    let hi = run_out(&env, &sock, &[], &target, &["echo", "pulled"]);
    assert_eq!(hi, ("0".to_owned(), "pulled\n".to_owned()));

    // Without credentials the registry refuses; the error is in the stream
    // after the 200, and the CLI exits 1 with it.
    // A client that hangs up mid-pull leaves nothing half-done: the pull
    // finishes and commits (here `head` takes one byte and goes).
    ok(&env, &sock, &["rmi", &target]);
    let creds = base64_json(r#"{"username":"tester","password":"s3cret"}"#);
    let mut pull = Command::new("sh");
    pull.args([
        "-c",
        &format!(
            "curl -sN --unix-socket {} -X POST -H 'X-Registry-Auth: {creds}' \
             'http://d/v1.47/images/create?fromImage={addr}/team/bb&tag=v1' | head -c 1",
            sock.display()
        ),
    ]);
    as_user(&mut pull, &env.user);
    assert!(pull.status().expect("curl | head").success());
    assert!(
        wait_until(std::time::Duration::from_secs(20), || {
            stdout(&docker(&env, &sock, &["images", "-q", &target]))
                .trim()
                .len()
                == 12
        }),
        "the abandoned pull did not finish"
    );
    let hi = run_out(&env, &sock, &[], &target, &["echo", "whole"]);
    assert_eq!(hi.1, "whole\n");
    // `docker run` of an image that is not here: the create's 404 makes
    // the CLI pull it (with the login's credentials), then create again.
    ok(&env, &sock, &["rmi", &target]);
    let hi = run_out(&env, &sock, &[], &target, &["echo", "fetched"]);
    assert_eq!(hi.1, "fetched\n");

    ok(&env, &sock, &["logout", &addr]);
    ok(&env, &sock, &["rmi", &target]);
    let out = docker(&env, &sock, &["pull", &target]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("unauthorized"), "{}", stderr(&out));
    let (code, body) = curl(
        &env,
        &sock,
        "POST",
        &format!("/v1.47/images/create?fromImage={addr}/team/none&tag=x"),
    );
    assert_eq!(code, 200, "{body}");
    let last: serde_json::Value =
        serde_json::from_str(body.trim().lines().last().unwrap_or("{}")).unwrap();
    assert!(last["errorDetail"]["message"].is_string(), "{body}");
    assert_eq!(last["error"], last["errorDetail"]["message"], "{body}");

    // Inspect and history in Docker's shapes.
    let id = ok(&env, &sock, &["inspect", "-f", "{{.Id}}", "busybox"]);
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    let labels = ok(
        &env,
        &sock,
        &["inspect", "-f", "{{.Config.Labels.team}}", "busybox"],
    );
    assert_eq!(labels.trim(), "red");
    let history = ok(&env, &sock, &["history", "--no-trunc", "busybox"]);
    assert!(history.contains(id.trim()), "{history}");
    let out = docker(&env, &sock, &["inspect", "--type", "image", "nothere"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nothere"), "{}", stderr(&out));

    // Filters: reference, label, dangling.
    ok(&env, &sock, &["tag", "busybox", "other/name:2"]);
    let by_ref = ok(
        &env,
        &sock,
        &[
            "images",
            "--filter",
            "reference=other/*",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
    );
    // Only the matching name of the image, in Docker Hub's short form.
    assert_eq!(by_ref.trim(), "other/name:2", "{by_ref}");
    let by_label = ok(&env, &sock, &["images", "-q", "--filter", "label=team=red"]);
    assert!(!by_label.trim().is_empty(), "{by_label}");
    let by_label = ok(
        &env,
        &sock,
        &["images", "-q", "--filter", "label=team=blue"],
    );
    assert_eq!(by_label.trim(), "");
    let dangling = ok(&env, &sock, &["images", "-q", "--filter", "dangling=true"]);
    assert_eq!(dangling.trim(), "");

    // Removing by id with several names needs -f (409), then goes whole.
    let out = docker(&env, &sock, &["rmi", id.trim()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("more than one tag"),
        "{}",
        stderr(&out)
    );

    // save | load round trip through files.
    let archive = env.home.join("bb.tar");
    let archive_s = archive.to_str().unwrap();
    let out = docker(&env, &sock, &["save", "-o", archive_s, "other/name:2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let size = std::fs::metadata(&archive).map(|m| m.len()).unwrap_or(0);
    assert!(size > 100_000, "saved {size} bytes");
    let gone = ok(&env, &sock, &["rmi", "-f", id.trim()]);
    assert!(gone.contains("Deleted: sha256:"), "{gone}");
    assert_eq!(ok(&env, &sock, &["images", "-q"]).trim(), "");
    let loaded = ok(&env, &sock, &["load", "-i", archive_s]);
    assert!(loaded.contains("Loaded image: "), "{loaded}");
    assert!(loaded.contains("other/name:2"), "{loaded}");
    let again = run_out(&env, &sock, &[], "other/name:2", &["echo", "loaded"]);
    assert_eq!(again.1, "loaded\n");
    // A body that is no archive is the client's error.
    let (code, _) = curl_with(&env, &sock, "POST", "/images/load", Some("not a tar"));
    assert_eq!(code, 400);

    // Prune: the untagged image goes, the tagged one stays unless all.
    let pruned = ok(&env, &sock, &["image", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    assert!(!ok(&env, &sock, &["images", "-q"]).trim().is_empty());
    let pruned = ok(&env, &sock, &["image", "prune", "-a", "-f"]);
    assert!(pruned.contains("deleted: sha256:"), "{pruned}");
    assert_eq!(ok(&env, &sock, &["images", "-q"]).trim(), "");

    // Missing things are Docker's 404s with its words.
    let (code, body) = curl(&env, &sock, "DELETE", "/v1.47/images/nothere");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("No such image: nothere"), "{body}");
    let (code, body) = curl(&env, &sock, "POST", "/v1.47/images/nothere/push");
    assert_eq!(code, 404, "{body}");

    // A registry without /v1/search: its catalog, filtered by the term,
    // read with the credentials the client sends (issue 12); logged out,
    // the registry's refusal.
    let out = docker(&env, &sock, &["search", &format!("{addr}/team")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unauthorized: authentication required"),
        "{}",
        stderr(&out)
    );
    let out = login(&env, &sock, &addr, "tester", "s3cret");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = ok(&env, &sock, &["search", &format!("{addr}/team")]);
    assert!(out.contains(&format!("{addr}/team/bb")), "{out}");
    let out = ok(&env, &sock, &["search", &format!("{addr}/nothing-like-it")]);
    assert_eq!(out.lines().count(), 1, "only the heading: {out}");
}

#[test]
fn python_sdk_pull_push_with_auth_images_and_save() {
    if !python_sdk() {
        eprintln!("python3 docker SDK not installed: skipped");
        return;
    }
    let env = busybox_env(&[]);
    let Some(reg) = Registry::start(&env.root.join("registry"), Some(("sdk", "pw"))) else {
        return;
    };
    let (_svc, sock) = serve_default(&env);
    let script = format!(
        r#"
import docker, os, sys
c = docker.DockerClient(base_url=os.environ["SOCK"])
reg = "{addr}"
auth = {{"username": "sdk", "password": "pw"}}
r = c.login(username="sdk", password="pw", registry=reg)
assert r["Status"] == "Login Succeeded", r
try:
    c.login(username="sdk", password="bad", registry=reg, reauth=True)
    sys.exit("a bad password was accepted")
except docker.errors.APIError as e:
    assert e.status_code == 401, e
img = c.images.get("busybox")
assert img.id.startswith("sha256:"), img.id
assert img.tag(reg + "/sdk/bb", "v2")
out = list(c.images.push(reg + "/sdk/bb", tag="v2", auth_config=auth, stream=True, decode=True))
assert any("aux" in l and l["aux"]["Tag"] == "v2" for l in out), out
removed = c.api.remove_image(reg + "/sdk/bb:v2")
assert removed == [{{"Untagged": reg + "/sdk/bb:v2"}}], removed
pulled = c.images.pull(reg + "/sdk/bb", tag="v2", auth_config=auth)
assert pulled.id == img.id, (pulled.id, img.id)
assert reg + "/sdk/bb:v2" in pulled.tags, pulled.tags
hist = pulled.history()
assert hist[0]["Id"] == img.id and isinstance(hist[0]["Size"], int), hist
names = [t for i in c.api.images(filters={{"reference": reg + "/sdk/*"}}) for t in i["RepoTags"]]
assert names == [reg + "/sdk/bb:v2"], names
data = b"".join(pulled.save(named=reg + "/sdk/bb:v2"))
assert len(data) > 100000, len(data)
c.images.remove(img.id, force=True)
assert c.images.list() == []
loaded = c.images.load(data)
assert [t for i in loaded for t in i.tags] == [reg + "/sdk/bb:v2"], loaded
try:
    c.images.get("nothere")
    sys.exit("a missing image was found")
except docker.errors.ImageNotFound:
    pass
print("ok")
"#,
        addr = reg.address()
    );
    let out = python(&env, &sock, &script);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok");
}
