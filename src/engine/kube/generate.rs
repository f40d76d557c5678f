//! `kube generate`: Kubernetes YAML from containers, pods and volumes, in
//! the shape Podman 4.3 writes (which fields, their names and order, the
//! header and notes), so that a real API server accepts it and `kube
//! play` reads it back to the same containers.
//!
//! Pure: the facts come from [`super::facts`] (state, image configs, the
//! containers' OCI specs); the time and the seed for Service node ports
//! come in [`GenerateOptions`]. Deliberate differences from Podman 4.3
//! (see docs/kube.md): a `--tmpfs` is a memory-backed `emptyDir`, not
//! Podman's `hostPath` named "tmpfs" (which no cluster or `play` can use);
//! a user entrypoint equal to the image's CMD is kept (Podman drops it and
//! the command is lost); `--type deployment` and `--replicas` as Podman
//! 4.4 has them.

use std::collections::BTreeMap;

use hutch_rootless_net::{PortMapping, Protocol};
use serde_json::{Value, json};

use super::types::{
    Capabilities, ClaimRef, Container, ContainerPort, DeploymentSpec, DnsOption, EnvVar, HostAlias,
    HostPath, LabelSelector, ObjectMeta, PodDnsConfig, PodSpec, PodTemplate, SecurityContext,
    Volume, VolumeMount,
};
use super::yaml::to_yaml;
use crate::engine::{Error, Result};
use crate::spec::pod::PodConfig;
use crate::spec::{ContainerSpec, RestartPolicy};

/// Kubernetes allows annotation values this long; Podman truncates longer
/// ones (`define.MaxKubeAnnotation`) and warns.
pub const MAX_ANNOTATION: usize = 63;

/// containers.conf's default environment, which Podman leaves out.
const DEFAULT_ENV: [(&str, &str); 3] = [
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("TERM", "xterm"),
    ("container", "podman"),
];

const SELINUX_NOTE: &str = "
# NOTE: If you generated this yaml from an unprivileged and rootless podman container on an SELinux
# enabled system, check the podman generate kube man page for steps to follow to ensure that your pod/container
# has the right permissions to access the volumes added.
";

const SHARING_NOTE: &str = "
# NOTE: The namespace sharing for a pod has been modified by the user and is not the same as the
# default settings for kubernetes. This can lead to unexpected behavior when running the generated
# kube yaml in a kubernetes cluster.
";

/// The image settings a container's YAML is compared with.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub workdir: String,
    pub user: String,
}

/// What a host path is, for `hostPath.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPathKind {
    Directory,
    File,
    /// Nothing there (yet).
    DirectoryOrCreate,
}

impl HostPathKind {
    fn name(self) -> &'static str {
        match self {
            HostPathKind::Directory => "Directory",
            HostPathKind::File => "File",
            HostPathKind::DirectoryOrCreate => "DirectoryOrCreate",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BindFact {
    pub source: String,
    pub destination: String,
    pub read_only: bool,
    pub kind: HostPathKind,
}

/// A named or anonymous volume mounted in the container.
#[derive(Debug, Clone)]
pub struct VolumeFact {
    pub name: String,
    pub destination: String,
    pub read_only: bool,
}

/// One container, as `kube generate` needs to know it.
#[derive(Debug, Clone, Default)]
pub struct ContainerFacts {
    pub id: String,
    pub name: String,
    pub spec: ContainerSpec,
    /// The image as Podman names it (`localhost/bb:latest`).
    pub image: String,
    pub image_config: ImageFacts,
    /// What the container runs: its entrypoint and command (the image's
    /// where the spec has none).
    pub entrypoint: Vec<String>,
    pub command: Vec<String>,
    /// The process's working directory.
    pub workdir: String,
    /// The ids the container's user resolved to.
    pub user_ids: Option<(u32, u32)>,
    pub hostname: String,
    /// The container's capability set (bounding).
    pub capabilities: Vec<String>,
    /// Published ports, host ports as chosen.
    pub ports: Vec<PortMapping>,
    pub host_network: bool,
    pub binds: Vec<BindFact>,
    /// `--tmpfs` destinations.
    pub tmpfs: Vec<String>,
    pub volumes: Vec<VolumeFact>,
    pub memory_limit: Option<i64>,
    /// (quota, period) of the CPU limit.
    pub cpu_limit: Option<(i64, u64)>,
}

/// One pod and its containers (the infra container left out).
#[derive(Debug, Clone, Default)]
pub struct PodFacts {
    pub id: String,
    pub name: String,
    pub config: PodConfig,
    /// The infra container's published ports, host ports as chosen.
    pub ports: Vec<PortMapping>,
    pub host_network: bool,
    /// Oldest first.
    pub containers: Vec<ContainerFacts>,
}

#[derive(Debug, Clone, Default)]
pub struct VolumeFacts {
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// What the names on the command line are, in Podman's classes.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub containers: Vec<ContainerFacts>,
    pub pods: Vec<PodFacts>,
    pub volumes: Vec<VolumeFacts>,
}

/// `--type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KubeKind {
    #[default]
    Pod,
    Deployment,
}

impl KubeKind {
    pub fn parse(s: &str) -> Result<KubeKind> {
        match s {
            "pod" => Ok(KubeKind::Pod),
            "deployment" => Ok(KubeKind::Deployment),
            other => Err(Error::bad_input(format!(
                "invalid type given, only supported types are pod and deployment: {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    pub kind: KubeKind,
    /// `--replicas` (Deployments only; 1 is Kubernetes' default and left
    /// out).
    pub replicas: u32,
    /// `--service`: a NodePort Service per pod.
    pub service: bool,
    /// `creationTimestamp`, in seconds since the epoch.
    pub now: i64,
    /// Seeds the random node ports Services get (30000-32767, as Podman).
    pub seed: u64,
    /// `Created with hutch-VERSION`.
    pub version: String,
}

/// The YAML text, and warnings for the user (truncated annotations).
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub text: String,
    pub warnings: Vec<String>,
}

/// The YAML for everything named, in Podman's order: notes, then
/// PersistentVolumeClaims, Services, and the pods (or Deployments) last.
pub fn generate(inputs: &Inputs, opts: &GenerateOptions) -> Result<Generated> {
    if opts.kind != KubeKind::Deployment && opts.replicas > 1 {
        return Err(Error::bad_input(
            "--replicas can only be set when --type is set to deployment",
        ));
    }
    let mut g = Generator {
        opts,
        warnings: Vec::new(),
        rng: opts.seed | 1,
    };
    let mut content: Vec<String> = Vec::new();
    let mut pods: Vec<String> = Vec::new();
    if inputs
        .pods
        .iter()
        .any(|p| !["ipc", "net", "uts"].iter().all(|ns| p.config.shares(ns)))
    {
        content.push(SHARING_NOTE.to_owned());
    }
    for v in &inputs.volumes {
        content.push(to_yaml(&claim(v, opts.now)));
    }
    for p in &inputs.pods {
        let (pod, mut service_ports) = g.pod(p)?;
        pods.push(g.workload(&pod)?);
        if opts.service {
            if service_ports.is_empty() {
                service_ports = g.container_service_ports(&pod);
            }
            content.push(to_yaml(&service(&pod, service_ports)));
        }
    }
    if !inputs.containers.is_empty() {
        let pod = g.containers_pod(&inputs.containers)?;
        if pod["spec"]["volumes"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            content.push(SELINUX_NOTE.to_owned());
        }
        pods.push(g.workload(&pod)?);
        if opts.service {
            let ports = g.container_service_ports(&pod);
            content.push(to_yaml(&service(&pod, ports)));
        }
    }
    content.extend(pods);
    let mut text = format!(
        "# Save the output of this file and use kubectl create -f to import\n# it into Kubernetes.\n#\n# Created with hutch-{}\n",
        opts.version
    );
    for (i, c) in content.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(c);
    }
    Ok(Generated {
        text,
        warnings: g.warnings,
    })
}

struct Generator<'a> {
    opts: &'a GenerateOptions,
    warnings: Vec<String>,
    rng: u64,
}

/// A pod document as Podman marshals it: `metadata`, `spec` and, for a
/// pod (not for containers), an empty `status`.
type PodDoc = Value;

impl Generator<'_> {
    fn truncate(&mut self, v: &str) -> String {
        let v = v.trim();
        if v.chars().count() < MAX_ANNOTATION {
            return v.to_owned();
        }
        let t: String = v.chars().take(MAX_ANNOTATION).collect();
        self.warnings.push(format!(
            "Truncation Annotation: {v:?} to {t:?}: Kubernetes only allows {MAX_ANNOTATION} characters"
        ));
        t
    }

    /// A pod from a hutch pod, and the ports a Service would expose.
    fn pod(&mut self, p: &PodFacts) -> Result<(PodDoc, Vec<Value>)> {
        if p.containers.is_empty() {
            return Err(if p.config.infra {
                Error::bad_input(format!("pod {} only has an infra container", p.id))
            } else {
                Error::bad_input(format!("pod {} has no containers", p.id))
            });
        }
        let ports = container_ports(&p.ports);
        let service_ports = self.service_ports(&ports);
        let mut annotations = BTreeMap::new();
        let mut containers = Vec::new();
        let mut volumes: Vec<Volume> = Vec::new();
        let mut hostname = None;
        let mut first = true;
        for c in &p.containers {
            self.annotations(c, Some(&p.id), &mut annotations);
            // Containers sharing the pod's UTS namespace have its hostname
            // (its name unless given).
            let own = if p.config.shares("uts") {
                p.config.hostname.clone().unwrap_or_else(|| p.name.clone())
            } else {
                c.hostname.clone()
            };
            if hostname.is_none() && !c.id.contains(&own) {
                hostname = Some(own);
            }
            let (mut kc, vols) = container(c)?;
            // Ports are the pod's (its infra container's), written on the
            // first container as Podman does.
            if p.config.shares("net") {
                kc.ports = Vec::new();
                if first && !ports.is_empty() {
                    kc.ports = ports.clone();
                    first = false;
                }
            }
            // Pods print containers' empty `resources` (Podman marshals
            // the plain Kubernetes type here).
            if kc.resources.is_none() {
                kc.resources = Some(json!({}));
            }
            containers.push(kc);
            for v in vols {
                if !volumes.iter().any(|o| o.name == v.name) {
                    volumes.push(v);
                }
            }
        }
        let dns = &p.config.network.dns;
        let restart = match p.containers[0].spec.restart {
            RestartPolicy::Always | RestartPolicy::UnlessStopped => "Always",
            RestartPolicy::OnFailure(_) => "OnFailure",
            RestartPolicy::No => "Never",
        };
        let spec = PodSpec {
            containers,
            volumes,
            hostname,
            host_network: p.host_network.then_some(true),
            restart_policy: Some(restart.to_owned()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            share_process_namespace: p.config.shares("pid").then_some(true),
            dns_config: dns_config(&dns.servers, &dns.search, &dns.options),
            host_aliases: p
                .config
                .add_hosts
                .iter()
                .flat_map(|h| {
                    h.names.iter().map(|n| HostAlias {
                        ip: h.ip.to_string(),
                        hostnames: vec![n.clone()],
                    })
                })
                .collect(),
            ..PodSpec::default()
        };
        let mut doc = self.pod_doc(&p.name, annotations, spec)?;
        doc["status"] = json!({});
        Ok((doc, service_ports))
    }

    /// One pod for containers outside any pod, named after the first.
    fn containers_pod(&mut self, cs: &[ContainerFacts]) -> Result<PodDoc> {
        let mut annotations = BTreeMap::new();
        let mut containers = Vec::new();
        let mut volumes = Vec::new();
        let mut hostname = None;
        let mut dns = PodDnsConfig::default();
        for c in cs {
            self.annotations(c, None, &mut annotations);
            if hostname.is_none() && !c.id.contains(&c.hostname) {
                hostname = Some(c.hostname.clone());
            }
            let (kc, vols) = container(c)?;
            containers.push(kc);
            volumes.extend(vols);
            let d = &c.spec.network.dns;
            if let Some(cd) = dns_config(&d.servers, &d.search, &d.options) {
                for s in cd.nameservers {
                    if !dns.nameservers.contains(&s) {
                        dns.nameservers.push(s);
                    }
                }
                for s in cd.searches {
                    if !dns.searches.contains(&s) {
                        dns.searches.push(s);
                    }
                }
                dns.options.extend(cd.options);
            }
        }
        // Podman appends -pod whenever the name is one of the containers',
        // which the first one's always is.
        let name = format!("{}-pod", no_underscores(&cs[0].name));
        let spec = PodSpec {
            containers,
            volumes,
            hostname,
            host_network: cs.iter().all(|c| c.host_network).then_some(true),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            dns_config: (dns != PodDnsConfig::default()).then_some(dns),
            ..PodSpec::default()
        };
        self.pod_doc(&name, annotations, spec)
    }

    fn pod_doc(
        &mut self,
        name: &str,
        annotations: BTreeMap<String, String>,
        spec: PodSpec,
    ) -> Result<PodDoc> {
        let template = PodTemplate {
            metadata: ObjectMeta {
                name: name.to_owned(),
                labels: [("app".to_owned(), no_underscores(name))].into(),
                annotations,
                creation_timestamp: Some(timestamp(self.opts.now)),
                ..ObjectMeta::default()
            },
            spec,
        };
        let mut doc = json!({"apiVersion": "v1", "kind": "Pod"});
        let body = serde_json::to_value(&template)
            .map_err(|e| Error::internal(format!("writing the pod {name}: {e}")))?;
        doc["metadata"] = body["metadata"].clone();
        doc["spec"] = body["spec"].clone();
        Ok(doc)
    }

    /// The pod as YAML, or as a Deployment of it with `--type deployment`.
    fn workload(&mut self, pod: &PodDoc) -> Result<String> {
        if self.opts.kind == KubeKind::Pod {
            return Ok(to_yaml(pod));
        }
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        match pod["spec"]["restartPolicy"].as_str() {
            None | Some("Always") => {}
            // hutch cannot tell `--restart no` from no --restart: both
            // read as Kubernetes' default here.
            Some("Never") => {}
            Some(_) => {
                return Err(Error::bad_input(
                    "k8s Deployments can only have restartPolicy set to Always",
                ));
            }
        }
        let mut template: PodTemplate = serde_json::from_value(json!({
            "metadata": pod["metadata"],
            "spec": pod["spec"],
        }))
        .map_err(|e| Error::internal(format!("reading back the pod {name}: {e}")))?;
        template.spec.restart_policy = None;
        // A Deployment's template is Podman's trimmed pod type: no empty
        // `resources`.
        for c in &mut template.spec.containers {
            if c.resources.as_ref().is_some_and(|r| r == &json!({})) {
                c.resources = None;
            }
        }
        let labels = template.metadata.labels.clone();
        let spec = DeploymentSpec {
            replicas: (self.opts.replicas > 1).then_some(self.opts.replicas),
            selector: Some(LabelSelector {
                match_labels: [("app".to_owned(), name.to_owned())].into(),
                ..LabelSelector::default()
            }),
            template,
            ..DeploymentSpec::default()
        };
        let doc = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "creationTimestamp": pod["metadata"]["creationTimestamp"],
                "labels": labels,
                "name": format!("{name}-deployment"),
            },
            "spec": serde_json::to_value(&spec)
                .map_err(|e| Error::internal(format!("writing the deployment {name}: {e}")))?,
        });
        Ok(to_yaml(&doc))
    }

    /// Podman's per-container annotations, keyed `KEY/CONTAINER`.
    fn annotations(
        &mut self,
        c: &ContainerFacts,
        pod: Option<&str>,
        out: &mut BTreeMap<String, String>,
    ) {
        let flag = |b: bool| if b { "TRUE" } else { "FALSE" }.to_owned();
        let mut own: BTreeMap<String, String> = BTreeMap::new();
        if let Some(pod) = pod {
            own.insert(
                "io.kubernetes.cri-o.ContainerType".into(),
                "container".into(),
            );
            own.insert("io.kubernetes.cri-o.SandboxID".into(), pod.to_owned());
        }
        own.insert("io.kubernetes.cri-o.TTY".into(), c.spec.tty.to_string());
        own.insert(
            "io.podman.annotations.autoremove".into(),
            flag(c.spec.remove),
        );
        own.insert("io.podman.annotations.init".into(), flag(c.spec.init));
        own.insert(
            "io.podman.annotations.privileged".into(),
            flag(c.spec.privileged),
        );
        own.insert(
            "io.podman.annotations.publish-all".into(),
            flag(c.spec.network.publish_all),
        );
        for (k, v) in &c.spec.annotations {
            own.insert(k.clone(), v.clone());
        }
        let name = no_underscores(&c.name);
        for (k, v) in own {
            let v = self.truncate(&v);
            out.insert(format!("{k}/{name}"), v);
        }
    }

    /// A Service's ports for container ports, with random node ports.
    fn service_ports(&mut self, ports: &[ContainerPort]) -> Vec<Value> {
        let mut used = Vec::new();
        ports
            .iter()
            .map(|p| {
                let node = loop {
                    // xorshift64: the seed is the caller's, so tests can
                    // pin it; collisions retry as Podman's loop does.
                    self.rng ^= self.rng << 13;
                    self.rng ^= self.rng >> 7;
                    self.rng ^= self.rng << 17;
                    let n = 30000 + (self.rng % 2768) as u16;
                    if !used.contains(&n) || used.len() >= 2768 {
                        used.push(n);
                        break n;
                    }
                };
                let mut v = json!({
                    "name": p.container_port.to_string(),
                    "nodePort": node,
                    "port": p.container_port,
                    "targetPort": p.container_port,
                });
                if let Some(proto) = &p.protocol {
                    v["protocol"] = json!(proto);
                }
                v
            })
            .collect()
    }

    fn container_service_ports(&mut self, pod: &PodDoc) -> Vec<Value> {
        let mut all = Vec::new();
        for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
            let ports: Vec<ContainerPort> =
                serde_json::from_value(c["ports"].clone()).unwrap_or_default();
            all.extend(ports);
        }
        self.service_ports(&all)
    }
}

/// A NodePort Service selecting the pod's `app` label.
fn service(pod: &PodDoc, ports: Vec<Value>) -> Value {
    let app = pod["metadata"]["labels"]["app"].clone();
    let mut spec = json!({
        "selector": {"app": app},
        "type": "NodePort",
    });
    if !ports.is_empty() {
        spec["ports"] = json!(ports);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "creationTimestamp": pod["metadata"]["creationTimestamp"],
            "labels": pod["metadata"]["labels"],
            "name": pod["metadata"]["name"],
        },
        "spec": spec,
    })
}

/// A volume as a PersistentVolumeClaim (Podman's 1Gi request), its driver
/// and options as annotations.
fn claim(v: &VolumeFacts, now: i64) -> Value {
    let mut annotations = serde_json::Map::new();
    annotations.insert("volume.podman.io/driver".into(), json!(v.driver));
    for (k, val) in &v.options {
        let key = match k.as_str() {
            "o" => "volume.podman.io/mount-options",
            "device" => "volume.podman.io/device",
            "type" => "volume.podman.io/type",
            "UID" => "volume.podman.io/uid",
            "GID" => "volume.podman.io/gid",
            _ => continue,
        };
        annotations.insert(key.into(), json!(val));
    }
    let mut meta = json!({
        "annotations": annotations,
        "creationTimestamp": timestamp(now),
        "name": v.name,
    });
    if !v.labels.is_empty() {
        meta["labels"] = json!(v.labels);
    }
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
        "status": {},
    })
}

/// One container and the pod volumes its mounts need.
fn container(c: &ContainerFacts) -> Result<(Container, Vec<Volume>)> {
    let img = &c.image_config;
    // Kubernetes' command replaces the image's ENTRYPOINT and args its
    // CMD. What the image would run anyway is left out, as Podman does.
    let (mut command, args) = if c.entrypoint.is_empty() {
        (c.command.clone(), Vec::new())
    } else {
        (c.entrypoint.clone(), c.command.clone())
    };
    let same_as_image = if c.entrypoint.is_empty() {
        img.entrypoint.is_empty() && command == img.cmd
    } else {
        command == img.entrypoint
    };
    if same_as_image {
        command = Vec::new();
    }
    let working_dir = (c.workdir != "/" && !c.workdir.is_empty() && c.workdir != img.workdir)
        .then(|| c.workdir.clone());

    let (mut mounts, mut volumes) = (Vec::new(), Vec::new());
    let mut index = 0;
    for dest in &c.tmpfs {
        let name = format!("tmpfs-host-{index}");
        index += 1;
        mounts.push(VolumeMount {
            name: name.clone(),
            mount_path: dest.clone(),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name,
            empty_dir: Some(json!({"medium": "Memory"})),
            ..Volume::default()
        });
    }
    for b in &c.binds {
        let name = format!("{}-host-{index}", path_name(&b.source)?);
        index += 1;
        mounts.push(VolumeMount {
            name: name.clone(),
            mount_path: b.destination.clone(),
            read_only: b.read_only.then_some(true),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name,
            host_path: Some(HostPath {
                path: b.source.clone(),
                kind: Some(b.kind.name().to_owned()),
            }),
            ..Volume::default()
        });
    }
    for v in &c.volumes {
        let name = format!("{}-pvc", v.name);
        mounts.push(VolumeMount {
            name: name.clone(),
            mount_path: v.destination.clone(),
            read_only: v.read_only.then_some(true),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name,
            persistent_volume_claim: Some(ClaimRef {
                claim_name: v.name.clone(),
                read_only: v.read_only.then_some(true),
            }),
            ..Volume::default()
        });
    }

    let mut limits = serde_json::Map::new();
    if let Some((quota, period)) = c.cpu_limit
        && quota > 0
        && period > 0
    {
        let milli = 1000 * quota / period as i64;
        if milli >= 1 {
            limits.insert("cpu".into(), json!(cpu_quantity(milli)));
        }
    }
    if let Some(m) = c.memory_limit.filter(|m| *m > 0) {
        limits.insert("memory".into(), json!(binary_quantity(m)));
    }
    let resources = (!limits.is_empty()).then(|| json!({"limits": limits}));

    let container = Container {
        name: no_underscores(&c.name),
        image: c.image.clone(),
        command,
        args,
        working_dir,
        env: env(c),
        ports: container_ports(&c.ports),
        volume_mounts: mounts,
        security_context: Some(security_context(c)),
        resources,
        stdin: c.spec.interactive.then_some(true),
        tty: c.spec.tty.then_some(true),
        ..Container::default()
    };
    Ok((container, volumes))
}

/// The container's environment less what the image or containers.conf
/// would give it anyway (Podman's `libpodEnvVarsToKubeEnvVars`).
fn env(c: &ContainerFacts) -> Vec<EnvVar> {
    let image: BTreeMap<&str, &str> = c
        .image_config
        .env
        .iter()
        .filter_map(|e| e.split_once('='))
        .collect();
    let mut own: Vec<(String, String)> = Vec::new();
    for e in &c.spec.env {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        own.retain(|(o, _)| o != k);
        own.push((k.to_owned(), v.to_owned()));
    }
    // Podman puts HOSTNAME in the environment of a container given a
    // --hostname (not of one that has its pod's).
    if let Some(h) = &c.spec.hostname
        && c.spec.pod.is_none()
        && !own.iter().any(|(k, _)| k == "HOSTNAME")
    {
        own.push(("HOSTNAME".to_owned(), h.clone()));
    }
    own.into_iter()
        .filter(|(k, v)| {
            !DEFAULT_ENV.contains(&(k.as_str(), v.as_str()))
                && image.get(k.as_str()) != Some(&v.as_str())
        })
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..EnvVar::default()
        })
        .collect()
}

fn security_context(c: &ContainerFacts) -> SecurityContext {
    let mut sc = SecurityContext::default();
    if c.spec.privileged {
        sc.privileged = Some(true);
    } else {
        let (add, drop) = crate::runtime::spec::caps::against_runtime_defaults(&c.capabilities);
        sc.capabilities = Some(Capabilities { add, drop });
    }
    if c.spec.security.no_new_privileges {
        sc.allow_privilege_escalation = Some(false);
    }
    if c.spec.read_only {
        sc.read_only_root_filesystem = Some(true);
    }
    let user = c.spec.user.clone().unwrap_or_default();
    if !user.is_empty()
        && user != c.image_config.user
        && let Some((uid, gid)) = c.user_ids
    {
        sc.run_as_user = Some(uid);
        sc.run_as_group = Some(gid);
    }
    sc
}

/// Published ports as Kubernetes container ports: one per port of a
/// range, TCP left implicit.
fn container_ports(ports: &[PortMapping]) -> Vec<ContainerPort> {
    let mut out = Vec::new();
    for p in ports {
        for i in 0..p.range.max(1) {
            out.push(ContainerPort {
                container_port: p.container_port.saturating_add(i),
                host_port: Some(p.host_port.saturating_add(i)),
                host_ip: (!p.host_ip.is_empty()).then(|| p.host_ip.clone()),
                protocol: match p.protocol {
                    Protocol::Tcp => None,
                    Protocol::Udp => Some("UDP".to_owned()),
                },
                name: None,
            });
        }
    }
    out
}

fn dns_config(servers: &[String], search: &[String], options: &[String]) -> Option<PodDnsConfig> {
    let d = PodDnsConfig {
        nameservers: servers.to_vec(),
        searches: search.to_vec(),
        options: options
            .iter()
            .map(|o| match o.split_once(':') {
                Some((n, v)) => DnsOption {
                    name: n.to_owned(),
                    value: Some(v.to_owned()),
                },
                None => DnsOption {
                    name: o.clone(),
                    value: None,
                },
            })
            .collect(),
    };
    (d != PodDnsConfig::default()).then_some(d)
}

/// Podman's volume name for a host path: `/mnt/data/` is `mnt-data`, `/`
/// is `root`.
fn path_name(source: &str) -> Result<String> {
    match source {
        "" => Err(Error::bad_input(
            "a bind mount without a source cannot be named",
        )),
        "/" => Ok("root".to_owned()),
        s => Ok(s.trim_matches('/').replace('/', "-")),
    }
}

fn no_underscores(s: &str) -> String {
    s.replace('_', "")
}

fn timestamp(secs: i64) -> String {
    crate::host::time::rfc3339(secs)
}

/// Kubernetes' canonical CPU quantity for millicores: `500m`, `2`.
fn cpu_quantity(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// Kubernetes' canonical binary quantity: `64Mi`, `1536`.
fn binary_quantity(bytes: i64) -> String {
    const SUFFIX: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let (mut n, mut i) = (bytes, 0);
    while n != 0 && n % 1024 == 0 && i < SUFFIX.len() - 1 {
        n /= 1024;
        i += 1;
    }
    format!("{n}{}", SUFFIX[i])
}

#[cfg(test)]
mod tests;
