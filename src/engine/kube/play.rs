//! `kube play` and `kube down`: each Pod or Deployment document becomes one
//! pod (Podman 4.3 plays one pod for a Deployment whatever its replicas),
//! named `metadata.name`, with containers named `POD-CONTAINER`.
//! [`translate`] is pure; [`play`] and [`down`] call the pod and container
//! engine.

use std::collections::BTreeMap;

use crate::config::Context;
use crate::engine::container::create::{CreateOptions, create as create_container};
use crate::engine::pod::create::{PodCreateOptions, create as create_pod};
use crate::engine::pod::{self, DEFAULT_SHARE, PodConfig};
use crate::engine::state::State;
use crate::engine::{Error, Result};
use crate::spec::{ContainerSpec, Mount, MountSource, RestartPolicy};
use hutch_storage::Store;

use super::types::{Container, Document, PodTemplate};

/// One pod to make: its options and its containers' specs (`pod` left for
/// [`play`] to fill with the new pod's ID).
#[derive(Debug, Clone)]
pub struct PodPlan {
    pub pod: PodCreateOptions,
    pub containers: Vec<ContainerSpec>,
}

/// What [`translate`] made of a file: the pods, and notes for the user
/// (unsupported fields, replicas played as one).
#[derive(Debug, Clone, Default)]
pub struct Translation {
    pub pods: Vec<PodPlan>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// `--start` (default true).
    pub start: bool,
    /// `--replace`: pods of the same names are removed first.
    pub replace: bool,
    /// `--service-container`: a container started after the pods whose
    /// monitor tells systemd (`NOTIFY_SOCKET`) that they run, as a
    /// Quadlet `.kube` service's main process.
    pub service_container: Option<ServiceContainer>,
    /// `--tls-verify`, `--creds`, `--authfile` for the pulls of images
    /// the pods need.
    pub registry: crate::engine::image::pull::RegistryOptions,
}

/// The service container of a `kube play` run from a unit: its name
/// (from the YAML's digest, so that `kube down` of the same file finds
/// it) and the unit's notify socket.
#[derive(Debug, Clone, Default)]
pub struct ServiceContainer {
    pub name: String,
    pub notify_socket: Option<String>,
}

/// The service container's name for a YAML text: Podman's scheme, the
/// first 12 hex digits of its SHA-256 and `-service`.
pub fn service_container_name(yaml: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(yaml.as_bytes());
    let hex: String = d.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{hex}-service")
}

#[derive(Debug, Clone)]
pub struct PlayedPod {
    pub id: String,
    pub containers: Vec<String>,
}

/// The pods and containers the documents describe.
pub fn translate(docs: &[Document], replace: bool) -> Result<Translation> {
    let mut out = Translation::default();
    let unsupported: Vec<String> = docs.iter().flat_map(|d| d.unsupported()).collect();
    if !unsupported.is_empty() {
        out.warnings.push(format!(
            "fields not supported by hutch, ignored: {}",
            unsupported.join(", ")
        ));
    }
    for d in docs {
        let (template, name) = match d {
            Document::Pod(t) => (&**t, t.metadata.name.clone()),
            Document::Deployment { metadata, spec } => {
                if spec.replicas.is_some_and(|r| r > 1) {
                    out.warnings.push(format!(
                        "Deployment {}: {} replicas asked for, one pod played (as Podman does)",
                        metadata.name,
                        spec.replicas.unwrap_or(1)
                    ));
                }
                (&spec.template, metadata.name.clone())
            }
            // One node: one pod, named as a Deployment's.
            Document::DaemonSet { metadata, spec } => (&spec.template, metadata.name.clone()),
            _ => continue,
        };
        if name.is_empty() {
            return Err(Error::bad_input(
                "a Pod, Deployment or DaemonSet has no metadata.name",
            ));
        }
        out.pods.push(pod_plan(docs, template, &name, replace)?);
    }
    Ok(out)
}

fn pod_plan(docs: &[Document], t: &PodTemplate, name: &str, replace: bool) -> Result<PodPlan> {
    let mut config = PodConfig {
        labels: t.metadata.labels.clone(),
        infra: true,
        share: DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(),
        hostname: t.spec.hostname.clone(),
        ..PodConfig::default()
    };
    if t.spec.share_process_namespace == Some(true) {
        config.share.push("pid".to_owned());
    }
    if let Some(dns) = &t.spec.dns_config {
        config.network.dns.servers = dns.nameservers.clone();
        config.network.dns.search = dns.searches.clone();
        config.network.dns.options = dns
            .options
            .iter()
            .map(|o| match &o.value {
                Some(v) => format!("{}:{v}", o.name),
                None => o.name.clone(),
            })
            .collect();
    }
    for a in &t.spec.host_aliases {
        let ip = a
            .ip
            .parse()
            .map_err(|e| Error::bad_input(format!("pod {name}: hostAliases ip {:?}: {e}", a.ip)))?;
        config.add_hosts.push(crate::spec::AddHost {
            names: a.hostnames.clone(),
            ip,
        });
    }
    let mut containers = Vec::new();
    if t.spec.containers.is_empty() {
        return Err(Error::bad_input(format!("pod {name} has no containers")));
    }
    for c in &t.spec.containers {
        for p in &c.ports {
            let Some(host) = p.host_port else { continue };
            let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
            let text = match &p.host_ip {
                Some(ip) => format!("{ip}:{host}:{}/{proto}", p.container_port),
                None => format!("{host}:{}/{proto}", p.container_port),
            };
            let mapping = hutch_rootless_net::PortMapping::parse(&text)
                .map_err(|e| Error::bad_input(format!("container {}: port {text}: {e}", c.name)))?;
            config.network.ports.push(mapping);
        }
        containers.push(container_spec(docs, t, name, c)?);
    }
    Ok(PodPlan {
        pod: PodCreateOptions {
            name: Some(name.to_owned()),
            config,
            replace,
        },
        containers,
    })
}

fn container_spec(
    docs: &[Document],
    t: &PodTemplate,
    pod: &str,
    c: &Container,
) -> Result<ContainerSpec> {
    if c.name.is_empty() || c.image.is_empty() {
        return Err(Error::bad_input(format!(
            "pod {pod}: every container needs a name and an image"
        )));
    }
    let mut env = Vec::new();
    for from in &c.env_from {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            for (k, v) in config_map(docs, &r.name, r.optional)? {
                env.push(format!("{prefix}{k}={v}"));
            }
        }
        if let Some(r) = &from.secret_ref {
            for (k, v) in secret(docs, &r.name, r.optional)? {
                env.push(format!("{prefix}{k}={}", String::from_utf8_lossy(&v)));
            }
        }
    }
    for e in &c.env {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(from)) => {
                if let Some(r) = &from.config_map_key_ref {
                    config_map(docs, &r.name, r.optional)?.get(&r.key).cloned()
                } else if let Some(r) = &from.secret_key_ref {
                    secret(docs, &r.name, r.optional)?
                        .get(&r.key)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                } else {
                    None
                }
            }
            (None, None) => Some(String::new()),
        };
        if let Some(v) = value {
            env.retain(|x: &String| x.split_once('=').map(|p| p.0) != Some(e.name.as_str()));
            env.push(format!("{}={v}", e.name));
        }
    }
    let mut mounts = Vec::new();
    for m in &c.volume_mounts {
        let v = t
            .spec
            .volumes
            .iter()
            .find(|v| v.name == m.name)
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "container {}: volumeMount {:?} names no volume of the pod",
                    c.name, m.name
                ))
            })?;
        let source = if let Some(h) = &v.host_path {
            MountSource::Bind(h.path.clone().into())
        } else if let Some(pvc) = &v.persistent_volume_claim {
            MountSource::Named(pvc.claim_name.clone())
        } else if v
            .empty_dir
            .as_ref()
            .is_some_and(|e| e["medium"] == "Memory")
        {
            // Kubernetes' memory-backed emptyDir is a tmpfs; `kube generate`
            // writes one for each --tmpfs.
            MountSource::Tmpfs
        } else if v.empty_dir.is_some() {
            MountSource::Anonymous
        } else {
            return Err(Error::bad_input(format!(
                "volume {:?}: only hostPath, persistentVolumeClaim and emptyDir are supported",
                v.name
            )));
        };
        let mut options = Vec::new();
        if m.read_only == Some(true) {
            options.push("ro".to_owned());
        }
        mounts.push(Mount {
            source,
            destination: m.mount_path.clone(),
            options,
        });
    }
    let sc = c
        .security_context
        .as_ref()
        .or(t.spec.security_context.as_ref());
    let caps = sc.and_then(|s| s.capabilities.clone()).unwrap_or_default();
    let restart = match t.spec.restart_policy.as_deref() {
        None | Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure(0),
        Some("Never") => RestartPolicy::No,
        Some(other) => {
            return Err(Error::bad_input(format!(
                "restartPolicy {other:?}: use Always, OnFailure or Never"
            )));
        }
    };
    let labels = t.metadata.labels.clone();
    // Kubernetes' command replaces the image's ENTRYPOINT, args its CMD; a
    // command without args ignores the image's CMD too, so the whole argv
    // goes in `command` with the entrypoint cleared (the engine takes the
    // image's CMD whenever `command` is empty).
    let (entrypoint, command) = match (c.command.is_empty(), c.args.is_empty()) {
        (true, _) => (None, c.args.clone()),
        (false, true) => (Some(Vec::new()), c.command.clone()),
        (false, false) => (Some(c.command.clone()), c.args.clone()),
    };
    Ok(ContainerSpec {
        image: c.image.clone(),
        name: Some(format!("{pod}-{}", c.name)),
        entrypoint,
        command,
        env,
        workdir: c.working_dir.clone(),
        user: sc.and_then(|s| {
            s.run_as_user.map(|u| match s.run_as_group {
                Some(g) => format!("{u}:{g}"),
                None => u.to_string(),
            })
        }),
        read_only: sc.and_then(|s| s.read_only_root_filesystem) == Some(true),
        privileged: sc.and_then(|s| s.privileged) == Some(true),
        security: crate::spec::SecurityOpts {
            no_new_privileges: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
            ..crate::spec::SecurityOpts::default()
        },
        tty: c.tty == Some(true),
        interactive: c.stdin == Some(true),
        cap_add: caps.add,
        cap_drop: caps.drop,
        mounts,
        restart,
        labels,
        annotations: t.metadata.annotations.clone(),
        ..ContainerSpec::default()
    })
}

fn config_map(
    docs: &[Document],
    name: &str,
    optional: Option<bool>,
) -> Result<BTreeMap<String, String>> {
    for d in docs {
        if let Document::ConfigMap { metadata, data } = d
            && metadata.name == name
        {
            return Ok(data.clone());
        }
    }
    missing("ConfigMap", name, optional).map(|()| BTreeMap::new())
}

fn secret(
    docs: &[Document],
    name: &str,
    optional: Option<bool>,
) -> Result<BTreeMap<String, Vec<u8>>> {
    for d in docs {
        if let Document::Secret { metadata, data } = d
            && metadata.name == name
        {
            return Ok(data.clone());
        }
    }
    missing("Secret", name, optional).map(|()| BTreeMap::new())
}

fn missing(kind: &str, name: &str, optional: Option<bool>) -> Result<()> {
    if optional == Some(true) {
        return Ok(());
    }
    Err(Error::not_found(format!(
        "{kind} {name:?} is not in the YAML: add it as a document (or mark the reference optional)"
    )))
}

/// Makes (and, with `start`, starts) every pod of the translation.
pub fn play(
    ctx: &Context,
    store: &Store,
    state: &State,
    plan: &Translation,
    opts: &PlayOptions,
) -> Result<Vec<PlayedPod>> {
    let mut played = Vec::new();
    for p in &plan.pods {
        let mut pod_opts = p.pod.clone();
        pod_opts.replace = opts.replace;
        let report = create_pod(ctx, store, state, &pod_opts)?;
        let mut ids = Vec::new();
        for spec in &p.containers {
            let mut spec = spec.clone();
            spec.pod = Some(report.id.clone());
            let create = CreateOptions {
                registry: opts.registry.clone(),
                ..CreateOptions::default()
            };
            let c = create_container(ctx, store, state, &spec, &create)?;
            ids.push(c.id);
        }
        if opts.start {
            let pod = pod::lookup(state, &report.id)?;
            if let Some(e) = pod::lifecycle::start_pod(ctx, store, state, &pod)?
                .into_iter()
                .next()
            {
                return Err(e.context(format!("starting pod {}", report.name)));
            }
        }
        played.push(PlayedPod {
            id: report.id,
            containers: ids,
        });
    }
    if let Some(sc) = &opts.service_container {
        // After the pods, so that systemd hears READY=1 once they run; no
        // network of its own (it only waits), hutch's pause image.
        let spec = ContainerSpec {
            image: crate::engine::pod::infra_image::ensure(store)?,
            name: Some(sc.name.clone()),
            sdnotify: crate::spec::SdNotify::Conmon,
            notify_socket: sc.notify_socket.clone(),
            network: crate::spec::NetworkSpec {
                mode: Some(hutch_rootless_net::NetworkMode::None),
                ..Default::default()
            },
            ..ContainerSpec::default()
        };
        let c = create_container(
            ctx,
            store,
            state,
            &spec,
            &CreateOptions {
                replace: true,
                ..CreateOptions::default()
            },
        )?;
        crate::engine::container::start::start_detached(ctx, store, state, &c.id)?;
    }
    Ok(played)
}

/// Removes the pods the documents name, with their containers (stopped at
/// once); volumes stay, as in Podman. Returns the removed pods' IDs.
pub fn down(
    ctx: &Context,
    store: &Store,
    state: &State,
    plan: &Translation,
    service_container: Option<&str>,
) -> Result<Vec<String>> {
    if let Some(name) = service_container {
        let opts = crate::engine::container::remove::RemoveOptions {
            names: vec![name.to_owned()],
            force: true,
            ignore: true,
            ..Default::default()
        };
        // A missing one is no error: the unit may never have started.
        for r in crate::engine::container::remove::remove(ctx, store, state, &opts)? {
            if let Some(e) = r.error {
                return Err(e);
            }
        }
    }
    let mut removed = Vec::new();
    for p in &plan.pods {
        let Some(name) = &p.pod.name else { continue };
        let Ok(pod) = pod::lookup(state, name) else {
            continue;
        };
        crate::engine::pod::remove::remove_one(ctx, store, state, &pod, true, Some(0))?;
        removed.push(pod.id);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
kind: ConfigMap
metadata: {name: cfg}
data: {MODE: fast, LEVEL: "3"}
---
kind: Secret
metadata: {name: creds}
stringData: {PASSWORD: s3cr3t}
---
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec:
      restartPolicy: OnFailure
      containers:
      - name: srv
        image: localhost/busybox
        command: [httpd]
        args: ["-f"]
        env:
        - {name: A, value: "1"}
        - name: M
          valueFrom: {configMapKeyRef: {name: cfg, key: MODE}}
        envFrom:
        - {secretRef: {name: creds}, prefix: S_}
        ports: [{containerPort: 80, hostPort: 18080}]
        volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
        securityContext: {runAsUser: 1000, privileged: false}
      volumes:
      - {name: data, persistentVolumeClaim: {claimName: vol}}
"#;

    #[test]
    fn deployment_becomes_one_pod() {
        let docs = super::super::parse(FILE).unwrap();
        let t = translate(&docs, false).unwrap();
        assert_eq!(t.pods.len(), 1);
        assert!(t.warnings.iter().any(|w| w.contains("2 replicas")));
        let p = &t.pods[0];
        assert_eq!(p.pod.name.as_deref(), Some("web"));
        assert_eq!(p.pod.config.network.ports[0].host_port, 18080);
        let c = &p.containers[0];
        assert_eq!(c.name.as_deref(), Some("web-srv"));
        assert_eq!(c.entrypoint.as_deref(), Some(&["httpd".to_owned()][..]));
        assert_eq!(c.command, ["-f"]);
        let only_command = super::super::parse(
            "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: i, command: [sleep, '9']}\n",
        )
        .unwrap();
        let c2 = &translate(&only_command, false).unwrap().pods[0].containers[0];
        assert_eq!(c2.entrypoint, Some(Vec::new()));
        assert_eq!(c2.command, ["sleep", "9"]);
        assert_eq!(c.env, ["S_PASSWORD=s3cr3t", "A=1", "M=fast"]);
        assert_eq!(c.user.as_deref(), Some("1000"));
        assert_eq!(c.restart, RestartPolicy::OnFailure(0));
        assert_eq!(c.mounts[0].source, MountSource::Named("vol".into()));
        assert_eq!(c.mounts[0].options, ["ro"]);
    }

    #[test]
    fn missing_references_refused() {
        let docs = super::super::parse(
            "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: i\n    envFrom: [{configMapRef: {name: nope}}]\n",
        )
        .unwrap();
        let e = translate(&docs, false).unwrap_err();
        assert_eq!(e.kind(), crate::engine::ErrorKind::NotFound);
        assert!(e.text().contains("ConfigMap \"nope\""));
    }

    #[test]
    fn daemonset_becomes_one_pod_for_the_one_node() {
        let docs = super::super::parse(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\nspec:\n  selector: {matchLabels: {app: ds}}\n  updateStrategy: {type: RollingUpdate}\n  template:\n    metadata: {labels: {app: ds}}\n    spec:\n      containers:\n      - {name: c, image: i, command: [sleep, '9']}\n",
        )
        .unwrap();
        let t = translate(&docs, false).unwrap();
        assert_eq!(t.pods.len(), 1);
        assert_eq!(t.pods[0].pod.name.as_deref(), Some("ds"));
        assert_eq!(t.pods[0].containers[0].name.as_deref(), Some("ds-c"));
        assert_eq!(
            t.pods[0].pod.config.labels.get("app").map(String::as_str),
            Some("ds")
        );
        // updateStrategy means nothing on one node: no warning for it.
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }
}
