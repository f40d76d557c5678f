//! `kube play` / `kube down` as the unprivileged user: a multi-document
//! file (Deployment + ConfigMap + Secret + PVC) played into one pod whose
//! container sees env from the ConfigMap and the Secret, whose hostPort
//! answers from the host, with one warning naming an unsupported field;
//! `kube down` then leaves no pod, container or process (the volume kept,
//! as Podman keeps it). `kube generate`: its output checked against
//! Kubernetes' OpenAPI schemas of several versions (offline, with the
//! `kubernetes-validate` package), and a round trip generate → remove →
//! play giving the same image, command, env, ports and volumes.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::images::*;
use common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn manifest(port: u16) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg}}
data: {{MODE: fast}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds}}
data: {{PASSWORD: czNjcjN0}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: kvol}}
spec: {{accessModes: [ReadWriteOnce]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: kweb, labels: {{app: kweb}}}}
spec:
  replicas: 1
  template:
    metadata: {{labels: {{app: kweb}}}}
    spec:
      containers:
      - name: srv
        image: busybox
        command: [sh, -c]
        args: ["echo $MODE-$S_PASSWORD > /data/env; exec httpd -f -p 8080 -h /data"]
        env:
        - name: MODE
          valueFrom: {{configMapKeyRef: {{name: cfg, key: MODE}}}}
        envFrom:
        - {{secretRef: {{name: creds}}, prefix: S_}}
        ports: [{{containerPort: 8080, hostPort: {port}}}]
        volumeMounts: [{{name: data, mountPath: /data}}]
        livenessProbe: {{exec: {{command: ["true"]}}}}
      volumes:
      - {{name: data, persistentVolumeClaim: {{claimName: kvol}}}}
"#
    )
}

#[test]
fn play_multi_document_file_then_down_leaves_nothing() {
    let env = busybox_env(&[]);
    let port = free_port();
    let file = env.root.join("app.yaml");
    std::fs::write(&file, manifest(port)).expect("write yaml");
    let file = file.to_string_lossy().into_owned();

    let out = env.run(["kube", "play", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Pod:", "{text}");
    assert_eq!(lines[2], "Container:", "{text}");
    let pod_id = lines[1].to_owned();
    assert_eq!(pod_id.len(), 64);
    let err = stderr(&out);
    assert_eq!(
        err.matches("Warning:").count(),
        1,
        "one warning for unsupported fields: {err}"
    );
    assert!(
        err.contains("spec.template.spec.containers[0].livenessProbe"),
        "{err}"
    );

    // Podman's names: the pod is metadata.name, the container POD-NAME.
    assert_eq!(
        env.ok(["pod", "ps", "--format", "{{.Name}}"]).trim(),
        "kweb"
    );
    assert_eq!(
        env.ok(["inspect", "--format", "{{.State.Status}}", "kweb-srv"])
            .trim(),
        "running"
    );
    let pid: i32 = env
        .ok(["inspect", "--format", "{{.State.Pid}}", "kweb-srv"])
        .trim()
        .parse()
        .expect("pid");

    // The hostPort answers from the host, with env from ConfigMap and Secret.
    let mut body = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            body = http_get(port, "/env").filter(|b| b.contains("200 OK"));
            body.is_some()
        }),
        "hostPort {port} never answered"
    );
    assert!(body.unwrap_or_default().contains("fast-s3cr3t"));

    let down = env.run(["kube", "down", &file]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(stdout(&down).contains(&pod_id));
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty(), "no pod left");
    assert!(
        env.ok(["ps", "-a", "-q"]).trim().is_empty(),
        "no container left"
    );
    assert!(
        wait_until(Duration::from_secs(10), || !is_alive(pid)),
        "the container's process is gone"
    );
    assert!(http_get(port, "/env").is_none(), "port closed");
    // Volumes are kept, as Podman keeps them.
    assert_eq!(env.ok(["volume", "ls", "-q"]).trim(), "kvol");
}

#[test]
fn play_kube_spelling_start_false_replace_and_bad_input() {
    let env = busybox_env(&[]);
    let file = env.root.join("pod.yaml");
    std::fs::write(
        &file,
        "kind: Pod\nmetadata: {name: p1}\nspec:\n  containers:\n  - {name: c, image: busybox, command: [busybox, sleep, '1000']}\n",
    )
    .expect("write yaml");
    let file = file.to_string_lossy().into_owned();
    env.ok(["play", "kube", "--start=false", &file]);
    assert_eq!(
        env.ok(["inspect", "--format", "{{.State.Status}}", "p1-c"])
            .trim(),
        "created"
    );
    // A second play of the same name fails; --replace makes it afresh.
    assert_ne!(env.run(["kube", "play", &file]).status.code(), Some(0));
    env.ok(["kube", "play", "--replace", &file]);
    assert_eq!(
        env.ok(["inspect", "--format", "{{.State.Status}}", "p1-c"])
            .trim(),
        "running",
        "{} {}",
        env.ok([
            "inspect",
            "--format",
            "{{.State.ExitCode}} {{.State.Error}}",
            "p1-c"
        ]),
        env.ok(["logs", "p1-c"])
    );
    env.ok(["play", "kube", "--down", &file]);
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());

    let bad = env.root.join("bad.yaml");
    std::fs::write(&bad, "kind: Service\nmetadata: {name: s}\n").expect("write");
    let out = env.run(["kube", "play", &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("kind \"Service\" is not supported"));
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty());
}

/// `kubernetes-validate --strict -k VERSION FILE` for a few Kubernetes
/// versions the package ships; `None` (and one line) when it is missing.
fn validate(file: &std::path::Path) -> Option<Vec<(String, std::process::Output)>> {
    let found = std::process::Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: kubernetes-validate is not installed (tests/setup-host.sh)");
        return None;
    }
    Some(
        ["1.25.0", "1.30.0", "1.37.0"]
            .iter()
            .map(|k| {
                let out = std::process::Command::new("kubernetes-validate")
                    .args(["--strict", "-k", k])
                    .arg(file)
                    .output()
                    .expect("run kubernetes-validate");
                (k.to_string(), out)
            })
            .collect(),
    )
}

#[test]
fn generate_validates_against_kubernetes_schemas() {
    let env = busybox_env(&[]);
    let port = free_port();
    env.ok(["pod", "create", "--name", "gp", "-p", &format!("{port}:80")]);
    env.ok([
        "create",
        "--pod",
        "gp",
        "--name",
        "gweb",
        "--restart",
        "always",
        "-e",
        "A=1",
        "-v",
        "gvol:/data",
        "--tmpfs",
        "/scratch",
        "--cap-add",
        "NET_ADMIN",
        "--user",
        "1000:1000",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "busybox",
        "sleep",
        "1000",
    ]);
    env.ok([
        "create",
        "--pod",
        "gp",
        "--name",
        "gside",
        "--privileged",
        "--entrypoint",
        "/bin/sh",
        "busybox",
        "-c",
        "echo hi",
    ]);
    let bind = env.root.join("bind");
    std::fs::create_dir(&bind).expect("bind dir");
    env.ok([
        "create",
        "--name",
        "gsolo",
        "-e",
        "MSG=a: b",
        "-v",
        &format!("{}:/srv:ro", bind.display()),
        "-v",
        "/anon",
        "-p",
        "127.0.0.1::8080/udp",
        "--read-only",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "sleep",
        "1000",
    ]);
    env.ok(["volume", "create", "--label", "k=v", "gpvc"]);

    // Pod + Service, containers + Service, a PVC; then a Deployment.
    let docs = env.root.join("docs");
    std::fs::create_dir(&docs).expect("docs dir");
    common::chown(&docs, env.user.uid, env.user.gid);
    let all = docs.join("all.yaml");
    let dep = docs.join("dep.yaml");
    env.ok([
        "kube",
        "generate",
        "-s",
        "-f",
        &all.to_string_lossy(),
        "gp",
        "gsolo",
        "gpvc",
    ]);
    env.ok([
        "generate",
        "kube",
        "--type",
        "deployment",
        "--replicas",
        "3",
        "-f",
        &dep.to_string_lossy(),
        "gp",
    ]);
    let text = std::fs::read_to_string(&all).expect("read all.yaml");
    assert!(text.starts_with("# Save the output of this file"), "{text}");
    for kind in ["PersistentVolumeClaim", "Service", "Pod"] {
        assert!(text.contains(&format!("kind: {kind}\n")), "{kind}: {text}");
    }
    assert_eq!(text.matches("kind: Service\n").count(), 2, "{text}");
    assert!(text.contains(&format!("hostPort: {port}\n")), "{text}");
    assert!(text.contains("      medium: Memory\n"), "{text}");
    assert!(text.contains("    name: gweb\n"), "{text}");
    assert!(text.contains("      claimName: gvol\n"), "{text}");
    let dtext = std::fs::read_to_string(&dep).expect("read dep.yaml");
    assert!(dtext.contains("kind: Deployment\n"), "{dtext}");
    assert!(dtext.contains("  replicas: 3\n"), "{dtext}");
    assert!(dtext.contains("  name: gp-deployment\n"), "{dtext}");

    // -f never replaces a file; names that are nothing fail as Podman's.
    let again = env.run(["kube", "generate", "-f", &all.to_string_lossy(), "gp"]);
    assert_eq!(again.status.code(), Some(125));
    assert!(stderr(&again).contains("file exists"), "{}", stderr(&again));
    let nope = env.run(["kube", "generate", "nope"]);
    assert_eq!(nope.status.code(), Some(125));
    assert!(
        stderr(&nope).contains("name or ID \"nope\" not found"),
        "{}",
        stderr(&nope)
    );
    let member = env.run(["kube", "generate", "gweb"]);
    assert_eq!(member.status.code(), Some(125));
    assert!(stderr(&member).contains("use generate on the pod itself"));

    let Some(first) = validate(&all) else { return };
    let rest = validate(&dep).unwrap_or_default();
    assert_eq!(first.len() + rest.len(), 6);
    for (k, out) in first.iter().chain(&rest) {
        assert!(
            out.status.success(),
            "against Kubernetes {k}:\n{}{}",
            stdout(out),
            stderr(out)
        );
    }
    // The validator does reject what a server would: a port that is not a
    // number.
    let broken = docs.join("broken.yaml");
    std::fs::write(
        &broken,
        text.replace(&format!("hostPort: {port}"), "hostPort: http"),
    )
    .expect("write broken");
    for (k, out) in validate(&broken).unwrap_or_default() {
        assert!(!out.status.success(), "broken file passed against {k}");
    }
}

/// The fields a round trip must keep, from `inspect`.
fn shape(env: &TestEnv, name: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(["inspect", name])).expect("inspect json");
    let c = &v[0];
    let mut envs: Vec<String> = c["Config"]["Env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| e.as_str().unwrap_or_default().to_owned())
        .collect();
    envs.sort();
    let mut mounts: Vec<String> = c["Mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| format!("{} {} {}", m["Source"], m["Destination"], m["RW"]))
        .collect();
    mounts.sort();
    serde_json::json!({
        "image": c["Image"],
        "entrypoint": c["Config"]["Entrypoint"],
        "cmd": c["Config"]["Cmd"],
        "env": envs,
        "mounts": mounts,
    })
}

#[test]
fn generate_then_play_round_trip() {
    let env = busybox_env(&[]);
    let port = free_port();
    let site = env.root.join("site");
    std::fs::create_dir(&site).expect("site dir");
    std::fs::write(site.join("index.html"), "round trip\n").expect("index");
    std::fs::set_permissions(&site, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod site");
    env.ok([
        "pod",
        "create",
        "--name",
        "rt",
        "-p",
        &format!("{port}:8080"),
    ]);
    env.ok([
        "create",
        "--pod",
        "rt",
        "--name",
        "web",
        "-e",
        "MODE=fast",
        "-e",
        "SPACED=a b: c",
        "-v",
        "rtvol:/data",
        "-v",
        &format!("{}:/srv:ro", site.display()),
        "busybox",
        "sh",
        "-c",
        "echo $MODE > /data/mode; exec httpd -f -p 8080 -h /srv",
    ]);
    env.ok([
        "create",
        "--pod",
        "rt",
        "--name",
        "side",
        "-e",
        "A=1",
        "--entrypoint",
        "/bin/sh",
        "-v",
        "rtvol:/shared:ro",
        "busybox",
        "-c",
        "sleep 1000",
    ]);
    let before: Vec<serde_json::Value> = ["web", "side"].iter().map(|n| shape(&env, n)).collect();
    let ports = || {
        env.ok([
            "pod",
            "inspect",
            "--format",
            "{{.InfraConfig.PortBindings}}",
            "rt",
        ])
    };
    let ports_before = ports();
    assert!(ports_before.contains(&port.to_string()), "{ports_before}");

    let file = env.home.join("rt.yaml");
    env.ok(["kube", "generate", "-f", &file.to_string_lossy(), "rt"]);
    env.ok(["pod", "rm", "-f", "rt"]);
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());

    let played = env.run(["kube", "play", &file.to_string_lossy()]);
    assert!(played.status.success(), "{}", stderr(&played));
    assert!(
        !stderr(&played).contains("Warning"),
        "a generated file plays without warnings: {}",
        stderr(&played)
    );
    // kube play names containers POD-CONTAINER.
    let after: Vec<serde_json::Value> = ["rt-web", "rt-side"]
        .iter()
        .map(|n| shape(&env, n))
        .collect();
    assert_eq!(before, after);
    assert_eq!(ports(), ports_before);

    // And it runs as before: the bind mount served on the pod's port, the
    // named volume written.
    let mut body = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            body = http_get(port, "/index.html").filter(|b| b.contains("200 OK"));
            body.is_some()
        }),
        "port {port} never answered"
    );
    assert!(body.unwrap_or_default().contains("round trip"));
    assert!(wait_until(Duration::from_secs(10), || {
        env.run(["exec", "rt-side", "cat", "/shared/mode"])
            .status
            .success()
    }));
    assert_eq!(
        env.ok(["exec", "rt-side", "cat", "/shared/mode"]).trim(),
        "fast"
    );
    env.ok(["kube", "down", &file.to_string_lossy()]);
}

#[test]
fn play_daemonset_runs_one_pod_and_down_removes_it() {
    let env = busybox_env(&[]);
    let file = env.root.join("ds.yaml");
    std::fs::write(
        &file,
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\nspec:\n  selector: {matchLabels: {app: ds}}\n  template:\n    metadata: {labels: {app: ds}}\n    spec:\n      containers:\n      - {name: c, image: busybox, command: [busybox, sleep, '1000']}\n",
    )
    .expect("write yaml");
    let file = file.to_string_lossy().into_owned();
    let out = env.run(["kube", "play", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    // One node, one pod (as Podman 4.8+ plays a DaemonSet).
    let pods = env.ok([
        "pod",
        "ps",
        "--format",
        "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
    ]);
    assert_eq!(pods.trim(), "ds Running 2", "{pods}");
    assert_eq!(
        env.ok(["pod", "inspect", "--format", "{{.Labels.app}}", "ds"])
            .trim(),
        "ds"
    );
    env.ok(["kube", "down", &file]);
    assert!(env.ok(["pod", "ps", "-q"]).trim().is_empty());
    assert!(env.ok(["ps", "-a", "-q"]).trim().is_empty());
}
