use super::*;
use crate::spec::{Mount, Tmpfs};

fn facts(name: &str) -> ContainerFacts {
    ContainerFacts {
        id: format!("{name:0>64}"),
        name: name.to_owned(),
        image: "localhost/bb:latest".to_owned(),
        image_config: ImageFacts {
            env: vec!["PATH=/bin".into(), "FOO=bar".into()],
            cmd: vec!["sh".into()],
            workdir: "/tmp".into(),
            ..ImageFacts::default()
        },
        command: vec!["sh".into()],
        workdir: "/tmp".into(),
        hostname: format!("{name:0>12}"),
        capabilities: crate::runtime::spec::caps::RUNTIME_TOOLS_DEFAULTS[..4]
            .iter()
            .chain(&crate::runtime::spec::caps::RUNTIME_TOOLS_DEFAULTS[6..13])
            .map(|s| s.to_string())
            .collect(),
        ..ContainerFacts::default()
    }
}

fn opts() -> GenerateOptions {
    GenerateOptions {
        now: 1_796_601_600,
        seed: 7,
        version: "0.1.0".into(),
        ..GenerateOptions::default()
    }
}

#[test]
fn container_as_podman_writes_it() {
    let mut c = facts("c1");
    c.spec.env = vec!["A=1".into(), "FOO=bar".into(), "PATH=/bin".into()];
    c.command = vec!["sleep".into(), "1000".into()];
    c.workdir = "/srv".into();
    c.ports = vec![hutch_rootless_net::PortMapping::parse("8080:80").unwrap()];
    c.binds = vec![BindFact {
        source: "/tmp/data/".into(),
        destination: "/bind".into(),
        read_only: true,
        kind: HostPathKind::Directory,
    }];
    c.volumes = vec![VolumeFact {
        name: "vol1".into(),
        destination: "/data".into(),
        read_only: false,
    }];
    let inputs = Inputs {
        containers: vec![c],
        ..Inputs::default()
    };
    let out = generate(&inputs, &opts()).unwrap();
    let want = r#"# Save the output of this file and use kubectl create -f to import
# it into Kubernetes.
#
# Created with hutch-0.1.0

# NOTE: If you generated this yaml from an unprivileged and rootless podman container on an SELinux
# enabled system, check the podman generate kube man page for steps to follow to ensure that your pod/container
# has the right permissions to access the volumes added.
---
apiVersion: v1
kind: Pod
metadata:
  annotations:
    io.kubernetes.cri-o.TTY/c1: "false"
    io.podman.annotations.autoremove/c1: "FALSE"
    io.podman.annotations.init/c1: "FALSE"
    io.podman.annotations.privileged/c1: "FALSE"
    io.podman.annotations.publish-all/c1: "FALSE"
  creationTimestamp: "2026-12-07T00:00:00Z"
  labels:
    app: c1-pod
  name: c1-pod
spec:
  automountServiceAccountToken: false
  containers:
  - command:
    - sleep
    - "1000"
    env:
    - name: A
      value: "1"
    image: localhost/bb:latest
    name: c1
    ports:
    - containerPort: 80
      hostPort: 8080
    securityContext:
      capabilities:
        drop:
        - CAP_MKNOD
        - CAP_NET_RAW
        - CAP_AUDIT_WRITE
    volumeMounts:
    - mountPath: /bind
      name: tmp-data-host-0
      readOnly: true
    - mountPath: /data
      name: vol1-pvc
    workingDir: /srv
  enableServiceLinks: false
  volumes:
  - hostPath:
      path: /tmp/data/
      type: Directory
    name: tmp-data-host-0
  - name: vol1-pvc
    persistentVolumeClaim:
      claimName: vol1
"#;
    assert_eq!(out.text, want);
    assert!(out.warnings.is_empty());
}

#[test]
fn pod_with_service_security_and_limits() {
    let mut web = facts("web");
    web.spec.restart = RestartPolicy::Always;
    web.spec.cap_add = vec!["NET_ADMIN".into()];
    web.capabilities.push("CAP_NET_ADMIN".into());
    web.capabilities.retain(|c| c != "CAP_CHOWN");
    web.spec.read_only = true;
    web.spec.user = Some("1000:1000".into());
    web.user_ids = Some((1000, 1000));
    web.memory_limit = Some(64 << 20);
    web.cpu_limit = Some((50_000, 100_000));
    web.spec.tmpfs = vec![Tmpfs {
        destination: "/scratch".into(),
        options: Vec::new(),
    }];
    web.tmpfs = vec!["/scratch".into()];
    web.hostname = "mypod".into();
    let mut side = facts("side");
    side.spec.privileged = true;
    side.entrypoint = vec!["/bin/sh".into()];
    side.command = vec!["-c".into(), "echo hi".into()];
    side.hostname = "mypod".into();
    let pod = PodFacts {
        id: "f".repeat(64),
        name: "mypod".into(),
        config: PodConfig {
            infra: true,
            share: crate::spec::pod::DEFAULT_SHARE
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ..PodConfig::default()
        },
        ports: vec![
            hutch_rootless_net::PortMapping::parse("8081:80").unwrap(),
            hutch_rootless_net::PortMapping::parse("9000:9000/udp").unwrap(),
        ],
        containers: vec![web, side],
        ..PodFacts::default()
    };
    let inputs = Inputs {
        pods: vec![pod],
        ..Inputs::default()
    };
    let out = generate(
        &inputs,
        &GenerateOptions {
            service: true,
            ..opts()
        },
    )
    .unwrap();
    let docs: Vec<&str> = out.text.split("---\n").collect();
    assert_eq!(docs.len(), 2, "{}", out.text);
    assert!(docs[0].contains("kind: Service\n"), "{}", docs[0]);
    assert!(docs[0].contains("  - name: \"9000\"\n"), "{}", docs[0]);
    assert!(docs[0].contains("    protocol: UDP\n"), "{}", docs[0]);
    assert!(docs[0].contains("  type: NodePort\n"), "{}", docs[0]);
    let pod = docs[1];
    for want in [
        "    - containerPort: 9000\n      hostPort: 9000\n      protocol: UDP\n",
        "    resources:\n      limits:\n        cpu: 500m\n        memory: 64Mi\n",
        "        add:\n        - CAP_NET_ADMIN\n        drop:\n        - CAP_CHOWN\n        - CAP_MKNOD\n",
        "      readOnlyRootFilesystem: true\n      runAsGroup: 1000\n      runAsUser: 1000\n",
        "  - args:\n    - -c\n    - echo hi\n    command:\n    - /bin/sh\n",
        "    resources: {}\n    securityContext:\n      privileged: true\n",
        "  hostname: mypod\n  restartPolicy: Always\n",
        "  - emptyDir:\n      medium: Memory\n    name: tmpfs-host-0\n",
        "status: {}\n",
    ] {
        assert!(pod.contains(want), "{want:?} not in\n{pod}");
    }
    // The 64-hex pod id is cut to Kubernetes' 63 characters, with a warning.
    let sandbox = format!(
        "    io.kubernetes.cri-o.SandboxID/web: {}\n",
        "f".repeat(63)
    );
    assert!(pod.contains(&sandbox), "{pod}");
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
}

#[test]
fn deployment_replicas_and_refusals() {
    let inputs = Inputs {
        containers: vec![facts("dep_ctr")],
        ..Inputs::default()
    };
    let out = generate(
        &inputs,
        &GenerateOptions {
            kind: KubeKind::Deployment,
            replicas: 3,
            ..opts()
        },
    )
    .unwrap();
    let want_head = "apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: \"2026-12-07T00:00:00Z\"
  labels:
    app: depctr-pod
  name: depctr-pod-deployment
spec:
  replicas: 3
  selector:
    matchLabels:
      app: depctr-pod
  template:
    metadata:
      annotations:
";
    assert!(out.text.contains(want_head), "{}", out.text);
    assert!(
        out.text.contains(
            "      containers:\n      - image: localhost/bb:latest\n        name: depctr\n"
        ),
        "{}",
        out.text
    );
    let e = generate(
        &inputs,
        &GenerateOptions {
            replicas: 2,
            ..opts()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), crate::engine::ErrorKind::BadInput);
    let mut failing = facts("f");
    failing.spec.restart = RestartPolicy::OnFailure(0);
    let pod = PodFacts {
        id: "1".repeat(64),
        name: "p".into(),
        containers: vec![failing],
        ..PodFacts::default()
    };
    let e = generate(
        &Inputs {
            pods: vec![pod],
            ..Inputs::default()
        },
        &GenerateOptions {
            kind: KubeKind::Deployment,
            ..opts()
        },
    )
    .unwrap_err();
    assert!(
        e.text().contains("restartPolicy set to Always"),
        "{}",
        e.text()
    );
    let empty = PodFacts {
        id: "2".repeat(64),
        config: PodConfig {
            infra: true,
            ..PodConfig::default()
        },
        ..PodFacts::default()
    };
    let e = generate(
        &Inputs {
            pods: vec![empty],
            ..Inputs::default()
        },
        &opts(),
    )
    .unwrap_err();
    assert!(
        e.text().contains("only has an infra container"),
        "{}",
        e.text()
    );
}

#[test]
fn commands_follow_kubernetes_rules() {
    // The image's own CMD is left out; a user entrypoint equal to the
    // image's CMD is kept (Podman 4.3 drops it and loses the command).
    let (c, _) = container(&facts("a")).unwrap();
    assert!(c.command.is_empty() && c.args.is_empty());
    let mut ep = facts("b");
    ep.entrypoint = vec!["sh".into()];
    ep.command = vec!["-c".into(), "true".into()];
    let (c, _) = container(&ep).unwrap();
    assert_eq!(c.command, ["sh"]);
    assert_eq!(c.args, ["-c", "true"]);
    let mut img_ep = facts("c");
    img_ep.image_config.entrypoint = vec!["/ep".into()];
    img_ep.entrypoint = vec!["/ep".into()];
    img_ep.command = vec!["x".into()];
    let (c, _) = container(&img_ep).unwrap();
    assert!(c.command.is_empty());
    assert_eq!(c.args, ["x"]);
}

#[test]
fn quantities_and_names() {
    assert_eq!(binary_quantity(64 << 20), "64Mi");
    assert_eq!(binary_quantity(1536), "1536");
    assert_eq!(binary_quantity(3 << 30), "3Gi");
    assert_eq!(cpu_quantity(500), "500m");
    assert_eq!(cpu_quantity(2000), "2");
    assert_eq!(path_name("/").unwrap(), "root");
    assert_eq!(path_name("/mnt/data/").unwrap(), "mnt-data");
    let _ = Mount {
        source: crate::spec::MountSource::Anonymous,
        destination: "/x".into(),
        options: Vec::new(),
    };
}
