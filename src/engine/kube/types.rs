//! The Kubernetes objects `kube play` reads, with the fields it knows.
//! Every struct keeps what it does not know in `unknown`, so
//! [`Document::unsupported`] can name each such field by its path
//! (`spec.containers[0].livenessProbe`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{Error, Result};

type Unknown = BTreeMap<String, Value>;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Server bookkeeping; `kube generate` writes the time it ran, as
    /// Podman does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    /// Kubernetes' own (service account tokens, service env vars):
    /// nothing to do here, read without a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_service_links: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_process_namespace: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "dnsConfig")]
    pub dns_config: Option<PodDnsConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_aliases: Vec<HostAlias>,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct PodDnsConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<DnsOption>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct DnsOption {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct HostAlias {
    pub ip: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeyRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeyRef>,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    pub name: String,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<NameRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<NameRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NameRef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub container_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "hostIP")]
    pub host_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<ClaimRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Value>,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct HostPath {
    pub path: String,
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRef {
    pub claim_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_privilege_escalation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

/// A pod's metadata and spec: a `Pod` itself or a Deployment's template.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PodTemplate {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DeploymentSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub template: PodTemplate,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: Unknown,
}

/// One document of a `kube play` file.
#[derive(Debug, Clone)]
pub enum Document {
    Pod(Box<PodTemplate>),
    Deployment {
        metadata: ObjectMeta,
        spec: Box<DeploymentSpec>,
    },
    ConfigMap {
        metadata: ObjectMeta,
        data: BTreeMap<String, String>,
    },
    /// `data` decoded from base64, `stringData` laid over it.
    Secret {
        metadata: ObjectMeta,
        data: BTreeMap<String, Vec<u8>>,
    },
    PersistentVolumeClaim {
        metadata: ObjectMeta,
    },
    /// One pod per node (Podman 4.8 and later, `<name>` its pod as a
    /// Deployment's): here, the one node's. Its spec reads as a
    /// Deployment's (selector, template), without replicas.
    DaemonSet {
        metadata: ObjectMeta,
        spec: Box<DeploymentSpec>,
    },
}

/// Reads every document of a `kube play` file (`---` separated); empty
/// documents are skipped. An unknown `kind` is bad input, as in Podman.
pub fn parse(text: &str) -> Result<Vec<Document>> {
    if text.len() > super::MAX_YAML_BYTES {
        return Err(Error::bad_input(format!(
            "kube YAML is larger than {} bytes",
            super::MAX_YAML_BYTES
        )));
    }
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| Error::bad_input(format!("reading kube YAML: {e}")))?;
    docs.into_iter()
        .filter(|d| !d.is_null())
        .enumerate()
        .map(|(i, d)| document(d).map_err(|e| e.context(format!("kube YAML document {}", i + 1))))
        .collect()
}

fn document(v: Value) -> Result<Document> {
    let kind = v["kind"].as_str().unwrap_or_default().to_owned();
    let metadata = || typed::<ObjectMeta>(v.get("metadata").cloned().unwrap_or_default());
    match kind.as_str() {
        "Pod" => Ok(Document::Pod(Box::new(typed(v.clone())?))),
        "Deployment" => Ok(Document::Deployment {
            metadata: metadata()?,
            spec: Box::new(typed(v.get("spec").cloned().unwrap_or_default())?),
        }),
        "ConfigMap" => Ok(Document::ConfigMap {
            metadata: metadata()?,
            data: typed(v.get("data").cloned().unwrap_or_default())?,
        }),
        "Secret" => {
            use base64::Engine as _;
            let encoded: BTreeMap<String, String> =
                typed(v.get("data").cloned().unwrap_or_default())?;
            let mut data = BTreeMap::new();
            for (k, b64) in encoded {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| Error::bad_input(format!("Secret data {k:?}: {e}")))?;
                data.insert(k, bytes);
            }
            let plain: BTreeMap<String, String> =
                typed(v.get("stringData").cloned().unwrap_or_default())?;
            for (k, s) in plain {
                data.insert(k, s.into_bytes());
            }
            Ok(Document::Secret {
                metadata: metadata()?,
                data,
            })
        }
        "PersistentVolumeClaim" => Ok(Document::PersistentVolumeClaim {
            metadata: metadata()?,
        }),
        "DaemonSet" => Ok(Document::DaemonSet {
            metadata: metadata()?,
            spec: Box::new(typed(v.get("spec").cloned().unwrap_or_default())?),
        }),
        "" => Err(Error::bad_input("a document has no kind")),
        other => Err(Error::bad_input(format!(
            "kind {other:?} is not supported: hutch plays Pod, Deployment, DaemonSet, ConfigMap, Secret and PersistentVolumeClaim"
        ))),
    }
}

/// `null` (an absent section) reads as the type's default.
fn typed<T: serde::de::DeserializeOwned + Default>(v: Value) -> Result<T> {
    if v.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(v).map_err(|e| Error::bad_input(format!("reading kube YAML: {e}")))
}

impl Document {
    /// The paths of fields hutch reads but does not act on, for one warning.
    pub fn unsupported(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Document::Pod(t) => template(&mut out, "", t),
            Document::Deployment { metadata, spec } => {
                meta(&mut out, "metadata", metadata);
                unknown(&mut out, "spec", &spec.unknown, &["selector", "strategy"]);
                template(&mut out, "spec.template.", &spec.template);
            }
            Document::DaemonSet { metadata, spec } => {
                meta(&mut out, "metadata", metadata);
                // A rolling update has nothing to roll on one node.
                unknown(
                    &mut out,
                    "spec",
                    &spec.unknown,
                    &[
                        "selector",
                        "updateStrategy",
                        "minReadySeconds",
                        "revisionHistoryLimit",
                    ],
                );
                if spec.replicas.is_some() {
                    out.push("spec.replicas".to_owned());
                }
                template(&mut out, "spec.template.", &spec.template);
            }
            Document::ConfigMap { metadata, .. }
            | Document::Secret { metadata, .. }
            | Document::PersistentVolumeClaim { metadata } => meta(&mut out, "metadata", metadata),
        }
        out
    }
}

fn template(out: &mut Vec<String>, at: &str, t: &PodTemplate) {
    meta(out, &format!("{at}metadata"), &t.metadata);
    let spec = format!("{at}spec");
    unknown(out, &spec, &t.spec.unknown, &[]);
    if let Some(sc) = &t.spec.security_context {
        unknown(out, &format!("{spec}.securityContext"), &sc.unknown, &[]);
    }
    if t.spec.host_network.is_some() {
        out.push(format!("{spec}.hostNetwork"));
    }
    if !t.spec.init_containers.is_empty() {
        out.push(format!("{spec}.initContainers"));
    }
    for (i, c) in t.spec.containers.iter().enumerate() {
        let at = format!("{spec}.containers[{i}]");
        unknown(out, &at, &c.unknown, &[]);
        // `resources: {}` is what `kube generate` writes for a pod's
        // container without limits: nothing ignored there.
        if c.resources
            .as_ref()
            .is_some_and(|r| r.as_object().is_none_or(|o| !o.is_empty()))
        {
            out.push(format!("{at}.resources"));
        }
        if c.image_pull_policy.is_some() {
            out.push(format!("{at}.imagePullPolicy"));
        }
        for (j, m) in c.volume_mounts.iter().enumerate() {
            if m.sub_path.is_some() {
                out.push(format!("{at}.volumeMounts[{j}].subPath"));
            }
        }
        for (j, e) in c.env.iter().enumerate() {
            unknown(out, &format!("{at}.env[{j}]"), &e.unknown, &[]);
            if let Some(from) = &e.value_from {
                unknown(out, &format!("{at}.env[{j}].valueFrom"), &from.unknown, &[]);
            }
        }
        if let Some(sc) = &c.security_context {
            unknown(out, &format!("{at}.securityContext"), &sc.unknown, &[]);
        }
    }
    for (i, v) in t.spec.volumes.iter().enumerate() {
        let at = format!("{spec}.volumes[{i}]");
        unknown(out, &at, &v.unknown, &[]);
        if v.config_map.is_some() {
            out.push(format!("{at}.configMap"));
        }
        if v.secret.is_some() {
            out.push(format!("{at}.secret"));
        }
    }
}

fn meta(out: &mut Vec<String>, at: &str, m: &ObjectMeta) {
    // Server-side bookkeeping a generated file carries: meaningless here,
    // not worth a warning.
    unknown(
        out,
        at,
        &m.unknown,
        &[
            "namespace",
            "creationTimestamp",
            "uid",
            "resourceVersion",
            "generation",
        ],
    );
}

fn unknown(out: &mut Vec<String>, at: &str, fields: &Unknown, quiet: &[&str]) {
    for k in fields.keys() {
        if !quiet.contains(&k.as_str()) {
            out.push(format!("{at}.{k}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  MODE: fast
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  PASSWORD: czNjcjN0
stringData:
  USER: admin
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
    spec:
      restartPolicy: Always
      containers:
      - name: srv
        image: localhost/busybox
        command: [httpd]
        args: ["-f", "-p", "8080"]
        workingDir: /srv
        env:
        - name: A
          value: "1"
        - name: B
          valueFrom: {configMapKeyRef: {name: cfg, key: MODE}}
        envFrom:
        - secretRef: {name: creds}
        ports:
        - containerPort: 8080
          hostPort: 18080
        volumeMounts:
        - {name: data, mountPath: /data}
        securityContext:
          runAsUser: 1000
          capabilities: {add: [NET_ADMIN], drop: [ALL]}
          readOnlyRootFilesystem: true
        livenessProbe: {exec: {command: ["true"]}}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: data}
      - name: scratch
        emptyDir: {}
      nodeSelector: {disk: ssd}
"#;

    #[test]
    fn multi_document_file() {
        let docs = parse(MULTI).unwrap();
        assert_eq!(docs.len(), 4);
        let Document::Secret { data, .. } = &docs[1] else {
            panic!("a Secret");
        };
        assert_eq!(data["PASSWORD"], b"s3cr3t");
        assert_eq!(data["USER"], b"admin");
        let Document::Deployment { metadata, spec } = &docs[3] else {
            panic!("a Deployment");
        };
        assert_eq!(metadata.name, "web");
        assert_eq!(spec.replicas, Some(3));
        let c = &spec.template.spec.containers[0];
        assert_eq!(c.args, ["-f", "-p", "8080"]);
        assert_eq!(c.ports[0].host_port, Some(18080));
        let from = c.env[1].value_from.as_ref().unwrap();
        assert_eq!(from.config_map_key_ref.as_ref().unwrap().key, "MODE");
        assert_eq!(c.env_from[0].secret_ref.as_ref().unwrap().name, "creds");
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.run_as_user, Some(1000));
        assert_eq!(sc.capabilities.as_ref().unwrap().drop, ["ALL"]);
        assert_eq!(
            spec.template.spec.volumes[0]
                .persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name,
            "data"
        );
    }

    #[test]
    fn unsupported_fields_are_named() {
        let docs = parse(MULTI).unwrap();
        assert_eq!(
            docs[3].unsupported(),
            [
                "spec.template.spec.nodeSelector",
                "spec.template.spec.containers[0].livenessProbe",
            ]
        );
        assert!(docs[0].unsupported().is_empty());
    }

    #[test]
    fn bad_documents_refused() {
        for (text, what) in [
            ("kind: Service\nmetadata: {name: x}\n", "not supported"),
            ("metadata: {name: x}\n", "no kind"),
            ("kind: Secret\ndata: {K: '***'}\n", "Secret data"),
            ("kind: Pod\nspec: {containers: 3}\n", "reading kube YAML"),
            ("kind: [unclosed\n", "reading kube YAML"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.kind(), crate::engine::ErrorKind::BadInput, "{text}");
            assert!(e.text().contains(what), "{text}: {}", e.text());
        }
        let big = "#".repeat(super::super::MAX_YAML_BYTES + 1);
        assert!(parse(&big).is_err());
    }
}
