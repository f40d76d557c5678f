//! `search`, `image search`, `generate spec` and `image scp` against
//! podman (issue 12). Search runs against Debian's docker-registry, which
//! has no `/v1/search`: both engines fall back to `/v2/_catalog` filtered
//! by the term, and `--list-tags` reads `/v2/NAME/tags/list`.

use super::*;
use common::registry::Registry;

#[test]
fn search_a_catalog_registry_as_podman() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let Some(reg) = Registry::start(&p.env.root.join("registry"), None) else {
        return;
    };
    let r = reg.address();
    for name in [
        "alpha/app1",
        "beta/app2",
        "mybox:latest",
        "mybox:v2",
        "busybox",
    ] {
        let dest = format!("{r}/{name}");
        p.env.ok(["tag", "bb", &dest]);
        p.env.ok(["push", "-q", "--tls-verify=false", &dest]);
    }
    let tls = "--tls-verify=false";
    let all = format!("{r}/");
    let boxes = format!("{r}/box");
    let app = format!("{r}/app");
    let mybox = format!("{r}/mybox");
    for args in [
        vec!["search", tls, &all],
        vec!["image", "search", tls, &boxes],
        vec!["search", tls, &boxes, "--format", "json"],
        vec!["search", tls, &all, "--compatible"],
        vec!["search", tls, &all, "--limit", "2"],
        vec!["search", tls, &app, "--limit", "-1"],
        vec![
            "search",
            tls,
            &all,
            "--format",
            "table {{.Index}} {{.Name}}",
        ],
        vec![
            "search",
            tls,
            &all,
            "--format",
            "{{.Index}}|{{.Name}}|{{.Stars}}|{{.Official}}|{{.Automated}}|{{.Tag}}|{{.Description}}",
        ],
        vec!["search", tls, &app, "--filter", "stars=0", "--no-trunc"],
        vec!["search", tls, &app, "--filter", "is-official"],
        vec!["search", tls, &boxes, "--filter", "is-official=false"],
        vec!["search", tls, &format!("{r}/zzz")],
        vec!["search", tls, "--list-tags", &mybox],
        vec!["search", tls, "--list-tags", &format!("{r}/mybox:v2")],
        vec!["search", tls, "--list-tags", &mybox, "--format", "json"],
        vec!["search", tls, "--list-tags", &mybox, "--limit", "1"],
        vec!["search", tls, "--list-tags", &mybox, "--format", "{{.Tag}}"],
        // No unqualified-search registries for either: nothing, success.
        vec!["search", tls, "busybox"],
        // Errors: Podman's words and codes.
        vec!["search", tls, &app, "--filter", "stars"],
        vec!["search", tls, &app, "--filter", "stars=x"],
        vec!["search", tls, &app, "--filter", "foo"],
        vec!["search", tls, "--list-tags", &mybox, "--filter", "stars=1"],
        vec!["search", tls, &app, "--authfile", "/nonexistent/auth.json"],
    ] {
        let (h, q) = p.same(&args);
        let line = |s: &str| s.lines().next().unwrap_or_default().to_owned();
        assert_eq!(line(&h), line(&q), "{args:?}: first stderr lines");
    }
    // A missing repository's tags and an unreachable registry: the codes
    // and the first line of the list of errors (the reasons' words are
    // each HTTP client's own past that).
    for args in [
        vec!["search", tls, "--list-tags", &format!("{r}/nope")],
        vec!["search", tls, "127.0.0.1:1/x"],
        vec!["search", tls, "--list-tags", &format!("{r}/")],
    ] {
        let (h, q) = p.same(&args);
        assert_eq!(
            h.lines().next(),
            q.lines().next(),
            "{args:?}\nhutch: {h}\npodman: {q}"
        );
    }
    p.same_code(&["search"]);
    // The remote client through the service's libpod route prints what
    // the local command prints.
    let sock = p.env.home.join("api.sock");
    let url = format!("unix://{}", sock.display());
    let mut service = p
        .env
        .hutch(["system", "service", "--time", "0", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the service");
    assert!(
        wait_until(std::time::Duration::from_secs(20), || sock.exists()),
        "the service did not listen"
    );
    for args in [
        vec!["search", tls, &all, "--compatible"],
        vec!["search", tls, "--list-tags", &mybox],
        vec!["search", tls, &app, "--filter", "is-official"],
        vec!["search", tls, &app, "--filter", "foo"],
    ] {
        let local = p.hutch(&args);
        let mut remote_args = vec!["--url", url.as_str()];
        remote_args.extend(&args);
        let remote = p.hutch(&remote_args);
        assert_eq!(outcome(&remote), outcome(&local), "{args:?}");
        assert_eq!(stderr(&remote), stderr(&local), "{args:?}");
    }
    let _ = service.kill();
    let _ = service.wait();
    let (h, _) = p.same(&["search", tls, "--list-tags", &format!("{r}/nope")]);
    assert!(
        h.contains("getting repository tags: fetching tags list: invalid status code from registry 404 (Not Found)"),
        "{h}"
    );
}

/// The top-level keys of a `generate spec` output, in order.
fn keys(spec: &serde_json::Value) -> Vec<String> {
    spec.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn generate_spec_prints_podmans_keys() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let create = [
        "create",
        "--name",
        "gs",
        "-e",
        "FOO=bar",
        "-p",
        "8080:80",
        "-v",
        "/tmp:/data",
        "--label",
        "a=b",
        "-i",
        "--user",
        "1000",
        "--group-add",
        "10",
        "--network",
        "slirp4netns",
        "bb",
        "sleep",
        "10",
    ];
    p.same_code(&create);
    let (h, q) = (
        p.hutch(&["generate", "spec", "gs"]),
        p.podman(&["generate", "spec", "gs"]),
    );
    assert!(h.status.success(), "{}", stderr(&h));
    assert!(q.status.success(), "{}", stderr(&q));
    // One-space indentation, as Podman's.
    assert!(
        stdout(&h).starts_with("{\n \"name\": \"gs-clone\",\n"),
        "{}",
        stdout(&h)
    );
    let hs: serde_json::Value = serde_json::from_str(&stdout(&h)).expect("hutch's spec is JSON");
    let ps: serde_json::Value = serde_json::from_str(&stdout(&q)).expect("podman's spec is JSON");
    assert_eq!(keys(&hs), keys(&ps), "hutch (left) and podman (right)");
    for k in [
        "name",
        "command",
        "labels",
        "stdin",
        "sdnotifyMode",
        "pidns",
        "utsns",
        "init_container_type",
        "mounts",
        "ipcns",
        "shm_size",
        "user",
        "groups",
        "selinux_opts",
        "userns",
        "idmappings",
        "umask",
        "cgroupns",
        "netns",
        "portmappings",
        "Networks",
        "use_image_hosts",
        "resource_limits",
    ] {
        assert_eq!(hs[k], ps[k], "{k}");
    }
    assert_eq!(hs["env"]["FOO"], ps["env"]["FOO"]);
    // --compact, --name=false, --filename, a missing name.
    let (h, q) = (
        p.hutch(&["generate", "spec", "-c", "--name=false", "gs"]),
        p.podman(&["generate", "spec", "-c", "--name=false", "gs"]),
    );
    assert_eq!(stdout(&h).lines().count(), 1, "{}", stdout(&h));
    let hs: serde_json::Value = serde_json::from_str(&stdout(&h)).expect("compact JSON");
    let ps: serde_json::Value = serde_json::from_str(&stdout(&q)).expect("compact JSON");
    assert_eq!(hs["name"], ps["name"]);
    let file = p.env.home.join("spec.json");
    let file = file.to_string_lossy().into_owned();
    let (h, _) = p.same(&["generate", "spec", "-f", &file, "gs"]);
    assert!(h.is_empty(), "{h}");
    let (h, q) = p.same(&["generate", "spec", "nope"]);
    assert_eq!(h.lines().last(), q.lines().last());
    // A pod: the same keys in the same order (Podman adds its infra
    // image's labels to the pod's).
    p.same_code(&[
        "pod", "create", "--name", "gp", "--label", "x=y", "-p", "9090:90",
    ]);
    let (h, q) = (
        p.hutch(&["generate", "spec", "gp"]),
        p.podman(&["generate", "spec", "gp"]),
    );
    let hs: serde_json::Value = serde_json::from_str(&stdout(&h)).expect("hutch's pod spec");
    // Podman prints "Could not properly complete the spec as expected:"
    // and its reasons (resource limits on cgroup v1) before the JSON.
    let podman_out = stdout(&q);
    let json_start = podman_out.find("\n{").map_or(0, |i| i + 1);
    let ps: serde_json::Value =
        serde_json::from_str(&podman_out[json_start..]).expect("podman's pod spec");
    assert_eq!(keys(&hs), keys(&ps), "hutch (left) and podman (right)");
    for k in [
        "name",
        "portmappings",
        "idmappings",
        "shm_size",
        "pidns",
        "utsns",
    ] {
        assert_eq!(hs[k], ps[k], "{k}");
    }
    assert_eq!(hs["labels"]["x"], ps["labels"]["x"]);
    // image scp: the forms that fail before any transfer.
    let (h, q) = p.same(&["image", "scp", "bb"]);
    assert_eq!(h.trim(), q.trim());
}

/// `image scp` both ways through a `system connection` to a service with
/// a store of its own (a unix socket: no ssh here). hutch only: Podman's
/// scp reaches the other side with ssh and scp.
#[test]
fn image_scp_through_a_connection() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let env = &p.env;
    let other = env.root.join("other");
    let (root, run) = (other.join("root"), other.join("run"));
    for d in [&other, &root, &run] {
        std::fs::create_dir_all(d).expect("other store dir");
        chown(d, env.user.uid, env.user.gid);
    }
    let sock = other.join("api.sock");
    let url = format!("unix://{}", sock.display());
    let (root, run) = (root.display().to_string(), run.display().to_string());
    let mut service = env
        .hutch([
            "--root",
            &root,
            "--runroot",
            &run,
            "system",
            "service",
            "--time",
            "0",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the service");
    assert!(
        wait_until(std::time::Duration::from_secs(20), || sock.exists()),
        "the service did not listen"
    );
    env.ok(["system", "connection", "add", "other", &url]);
    let out = env.ok(["image", "scp", "bb", "other::copied:v1"]);
    assert_eq!(out.trim(), "Loaded image: localhost/copied:v1");
    let there = env.ok([
        "--root",
        &root,
        "--runroot",
        &run,
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    assert!(there.contains("localhost/copied:v1"), "{there}");
    let out = env.ok(["image", "scp", "other::copied:v1", "back:v2"]);
    assert_eq!(out.trim(), "Loaded image: localhost/back:v2");
    env.ok(["image", "exists", "back:v2"]);
    assert_eq!(env.ok(["image", "scp", "-q", "bb", "other::"]), "");
    let out = env.run(["image", "scp", "bb", "nosuch::"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let _ = service.kill();
    let _ = service.wait();
}
