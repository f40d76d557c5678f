//! `kube play` / `kube down` as the unprivileged user: a multi-document
//! file (Deployment + ConfigMap + Secret + PVC) played into one pod whose
//! container sees env from the ConfigMap and the Secret, whose hostPort
//! answers from the host, with one warning naming an unsupported field;
//! `kube down` then leaves no pod, container or process (the volume kept,
//! as Podman keeps it).

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
