//! Docker's `POST /containers/create` body into the typed
//! [`ContainerSpec`], through the same flag parsers the CLI uses
//! (`spec::parse`): a bind string, a restart policy or a port is parsed in
//! one place only.
//!
//! Wrong types and malformed JSON are 400s with serde's words. Fields
//! hutch does not implement are refused when they ask for something (a
//! non-zero, non-empty value: the docker CLI sends every field, most of
//! them zero) rather than silently dropped; a few that only describe the
//! client's side (attach flags, console size) are ignored.

use std::collections::BTreeMap;
use std::path::Path;

use hutch_rootless_net::DnsConfig;
use serde::Deserialize;
use serde_json::Value;

use crate::spec::{self, ContainerSpec, HealthCheck, Mount, MountSource, Tmpfs, parse};

/// Docker's `strslice`: a string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum StrSlice {
    One(String),
    Many(Vec<String>),
}

impl StrSlice {
    fn into_vec(self) -> Vec<String> {
        match self {
            StrSlice::One(s) => vec![s],
            StrSlice::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    image: String,
    hostname: String,
    cmd: Option<StrSlice>,
    entrypoint: Option<StrSlice>,
    env: Option<Vec<String>>,
    working_dir: String,
    user: String,
    labels: Option<BTreeMap<String, String>>,
    tty: bool,
    open_stdin: bool,
    exposed_ports: Option<BTreeMap<String, Value>>,
    volumes: Option<BTreeMap<String, Value>>,
    stop_signal: String,
    stop_timeout: Option<u32>,
    healthcheck: Option<Healthcheck>,
    host_config: Option<HostConfig>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Healthcheck {
    test: Option<Vec<String>>,
    interval: u64,
    timeout: u64,
    start_period: u64,
    retries: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfig {
    binds: Option<Vec<String>>,
    port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    publish_all_ports: bool,
    network_mode: String,
    auto_remove: bool,
    restart_policy: Option<RestartPolicy>,
    privileged: bool,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    memory: i64,
    nano_cpus: i64,
    pids_limit: Option<i64>,
    readonly_rootfs: bool,
    init: Option<bool>,
    dns: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    extra_hosts: Option<Vec<String>>,
    mounts: Option<Vec<DockerMount>>,
    log_config: Option<LogConfig>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PortBinding {
    host_ip: String,
    host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicy {
    name: String,
    maximum_retry_count: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LogConfig {
    #[serde(rename = "Type")]
    kind: String,
    config: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DockerMount {
    #[serde(rename = "Type")]
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    bind_options: Option<BindOptions>,
    volume_options: Option<VolumeOptions>,
    tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct BindOptions {
    propagation: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct VolumeOptions {
    no_copy: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TmpfsOptions {
    size_bytes: i64,
    mode: u32,
}

/// Top-level fields that describe the client's side or are informational.
const IGNORED: &[&str] = &[
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "StdinOnce",
    "Domainname",
    "NetworkingConfig",
    "NetworkDisabled",
    "MacAddress",
    "OnBuild",
    "ArgsEscaped",
    "Shell",
    "Platform",
];

/// HostConfig fields that are ignored: the console size of the client's
/// terminal, and Docker's defaults spelt out.
const HOST_IGNORED: &[&str] = &["ConsoleSize", "ContainerIDFile", "Isolation"];

/// Why a body cannot become a spec; the route answers 400 with it.
#[derive(Debug)]
pub struct BadBody(pub String);

impl<E: std::fmt::Display> From<E> for BadBody {
    fn from(e: E) -> BadBody {
        BadBody(format!("{e:#}"))
    }
}

/// Whether a value asks for nothing: what the docker CLI sends for a field
/// the user did not set (`MemorySwappiness` is -1 then).
fn is_unset(key: &str, v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => {
            n.as_f64() == Some(0.0) || (key == "MemorySwappiness" && n.as_i64() == Some(-1))
        }
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(|x| is_unset(key, x)),
        Value::Object(o) => o.iter().all(|(k, x)| is_unset(k, x)),
    }
}

fn refuse_unsupported(
    what: &str,
    rest: &BTreeMap<String, Value>,
    ignored: &[&str],
) -> Result<(), BadBody> {
    for (k, v) in rest {
        if ignored.contains(&k.as_str()) || is_unset(k, v) {
            continue;
        }
        return Err(BadBody(format!(
            "{what}{k} is not supported by hutch's API service"
        )));
    }
    Ok(())
}

/// The spec for a create body; `name` is the `name` query parameter.
pub fn spec(body: &[u8], name: Option<&str>) -> Result<ContainerSpec, BadBody> {
    let b: CreateBody = serde_json::from_slice(body)
        .map_err(|e| BadBody(format!("invalid container create body: {e}")))?;
    refuse_unsupported("", &b.rest, IGNORED)?;
    if b.image.is_empty() {
        return Err(BadBody("no image given: Image is required".into()));
    }
    let mut s = ContainerSpec {
        image: b.image,
        ..ContainerSpec::default()
    };
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        // Docker clients may give the name with its leading slash.
        let n = n.strip_prefix('/').unwrap_or(n);
        parse::name::validate("container", n)?;
        s.name = Some(n.to_owned());
    }
    s.command = b.cmd.map(StrSlice::into_vec).unwrap_or_default();
    // `--entrypoint ""` arrives as [""] (or ""): it clears the image's.
    s.entrypoint = b.entrypoint.map(|e| {
        let v = e.into_vec();
        if v.iter().all(String::is_empty) {
            Vec::new()
        } else {
            v
        }
    });
    s.env = b.env.unwrap_or_default();
    if let Some(bad) = s
        .env
        .iter()
        .find(|e| !e.contains('=') || e.starts_with('='))
    {
        return Err(BadBody(format!(
            "invalid environment variable {bad:?}: expected KEY=VALUE"
        )));
    }
    s.workdir = Some(b.working_dir).filter(|w| !w.is_empty());
    if let Some(w) = &s.workdir
        && !w.starts_with('/')
    {
        return Err(BadBody(format!(
            "WorkingDir {w:?} must be an absolute path"
        )));
    }
    s.user = Some(b.user).filter(|u| !u.is_empty());
    s.hostname = Some(b.hostname).filter(|h| !h.is_empty());
    s.labels = b.labels.unwrap_or_default();
    s.tty = b.tty;
    s.interactive = b.open_stdin;
    for p in b.exposed_ports.unwrap_or_default().keys() {
        // EXPOSE is informational; only its spelling is checked.
        port_key(p)?;
    }
    let anonymous: Vec<String> = b.volumes.unwrap_or_default().into_keys().collect();
    if !b.stop_signal.is_empty() {
        s.stop_signal = Some(parse::restart::signal(&b.stop_signal)?);
    }
    s.stop_timeout = b.stop_timeout;
    if let Some(h) = b.healthcheck {
        let test = h.test.unwrap_or_default();
        // ["NONE"] is kept: it disables the image's check.
        if !test.is_empty() {
            s.health_check = Some(HealthCheck {
                test,
                interval_ns: Some(h.interval).filter(|n| *n > 0),
                timeout_ns: Some(h.timeout).filter(|n| *n > 0),
                start_period_ns: Some(h.start_period).filter(|n| *n > 0),
                retries: Some(h.retries).filter(|n| *n > 0),
            });
        }
    }
    if let Some(h) = b.host_config {
        host_config(&mut s, h)?;
    }
    network_aliases(&mut s, b.rest.get("NetworkingConfig"));
    static_addresses(
        &mut s,
        b.rest.get("NetworkingConfig"),
        b.rest.get("MacAddress"),
    )?;
    // `Volumes` declares the image's and the service's volume paths; one
    // that a bind or a named volume already covers is that one (compose
    // sends both), the others are anonymous volumes.
    for dest in anonymous {
        let covered = s
            .mounts
            .iter()
            .any(|m| Path::new(&m.destination) == Path::new(&dest));
        if !covered {
            s.mounts.push(parse::mount::volume(&dest, Path::new("/"))?);
        }
    }
    parse::mount::check_duplicates(&s.mounts)?;
    Ok(s)
}

/// `NetworkingConfig.EndpointsConfig.<network>.Aliases` for the user
/// network the container joins: its `--network-alias`es (docker-compose
/// gives each container its service's name there). Endpoints of other
/// networks are ignored (compose connects those afterwards).
fn network_aliases(s: &mut ContainerSpec, config: Option<&Value>) {
    let Some(hutch_rootless_net::NetworkMode::Network { name }) = &s.network.mode else {
        return;
    };
    let aliases = config
        .and_then(|c| c.get("EndpointsConfig"))
        .and_then(|e| e.get(name.as_str()))
        .and_then(|e| e.get("Aliases"))
        .and_then(Value::as_array);
    for a in aliases.into_iter().flatten().filter_map(Value::as_str) {
        if !a.is_empty() && !s.network.aliases.iter().any(|x| x == a) {
            s.network.aliases.push(a.to_owned());
        }
    }
}

/// The static addresses of the container's user network, as `--ip`,
/// `--ip6` and `--mac-address`: its endpoint's
/// `IPAMConfig.IPv4Address`/`IPv6Address` and `MacAddress` (API 1.44),
/// else the body's top-level `MacAddress` (older clients). Empty strings
/// are unset; another network's endpoint is left to `network connect`.
fn static_addresses(
    s: &mut ContainerSpec,
    config: Option<&Value>,
    top_mac: Option<&Value>,
) -> Result<(), BadBody> {
    let endpoint = match &s.network.mode {
        Some(hutch_rootless_net::NetworkMode::Network { name }) => config
            .and_then(|c| c.get("EndpointsConfig"))
            .and_then(|e| e.get(name.as_str())),
        _ => None,
    };
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|t| !t.is_empty())
    }
    let ipam = endpoint.and_then(|e| e.get("IPAMConfig"));
    let ip = |key: &str| -> Result<Option<std::net::IpAddr>, BadBody> {
        text(ipam.and_then(|i| i.get(key)))
            .map(|t| {
                t.parse()
                    .map_err(|_| BadBody(format!("{key} {t:?} is not an ip address")))
            })
            .transpose()
    };
    if let Some(a) = ip("IPv4Address")? {
        s.network.ip = Some(a);
    }
    if let Some(a) = ip("IPv6Address")? {
        s.network.ip6 = Some(a);
    }
    if let Some(m) = text(endpoint.and_then(|e| e.get("MacAddress"))).or(text(top_mac)) {
        s.network.mac_address = Some(parse::mac_address(m).map_err(|e| BadBody(format!("{e:#}")))?);
    }
    Ok(())
}

/// `80/tcp` (or `80`): the port and protocol.
fn port_key(key: &str) -> Result<(u16, &str), BadBody> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let port: u16 = port
        .parse()
        .map_err(|_| BadBody(format!("invalid port {key:?}")))?;
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(BadBody(format!("invalid protocol in port {key:?}")));
    }
    Ok((port, proto))
}

fn host_config(s: &mut ContainerSpec, h: HostConfig) -> Result<(), BadBody> {
    refuse_unsupported("HostConfig.", &h.rest, HOST_IGNORED)?;
    for bind in h.binds.unwrap_or_default() {
        // The daemon has no working directory of the client's: Docker
        // takes only absolute sources or volume names.
        if bind.starts_with('.') {
            return Err(BadBody(format!(
                "invalid bind {bind:?}: the source must be an absolute path or a volume name"
            )));
        }
        s.mounts.push(parse::mount::volume(&bind, Path::new("/"))?);
    }
    let mut publish = Vec::new();
    for (key, bindings) in h.port_bindings.unwrap_or_default() {
        let (port, proto) = port_key(&key)?;
        for b in bindings.unwrap_or_default() {
            let ip = if b.host_ip.contains(':') {
                format!("[{}]", b.host_ip)
            } else {
                b.host_ip
            };
            publish.push(format!("{ip}:{}:{port}/{proto}", b.host_port));
        }
    }
    let mode = match h.network_mode.as_str() {
        // Docker's default network: the rootless default here.
        "" | "default" | "bridge" => None,
        m => Some(m),
    };
    s.network = parse::network(&parse::NetworkFlags {
        mode,
        publish: &publish,
        publish_all: h.publish_all_ports,
        dns: DnsConfig {
            servers: h.dns.unwrap_or_default(),
            search: h.dns_search.unwrap_or_default(),
            options: h.dns_options.unwrap_or_default(),
        },
        aliases: &[],
    })?;
    s.remove = h.auto_remove;
    if let Some(r) = h.restart_policy {
        let text = match (r.name.as_str(), r.maximum_retry_count) {
            ("on-failure", n) if n > 0 => format!("on-failure:{n}"),
            (name, _) => name.to_owned(),
        };
        s.restart = parse::restart::restart(&text)?;
    }
    if s.remove && s.restart != spec::RestartPolicy::No {
        return Err(BadBody(
            "conflicting options: AutoRemove and a restart policy".into(),
        ));
    }
    s.privileged = h.privileged;
    s.cap_add = h.cap_add.unwrap_or_default();
    s.cap_drop = h.cap_drop.unwrap_or_default();
    parse::capabilities(&s.cap_add, &s.cap_drop)?;
    if h.memory < 0 || h.nano_cpus < 0 {
        return Err(BadBody("Memory and NanoCpus cannot be negative".into()));
    }
    s.resources.memory = Some(h.memory).filter(|m| *m > 0);
    s.resources.nano_cpus = u64::try_from(h.nano_cpus).ok().filter(|n| *n > 0);
    s.resources.pids_limit = h.pids_limit.filter(|n| *n != 0);
    s.read_only = h.readonly_rootfs;
    s.init = h.init.unwrap_or(false);
    for e in h.extra_hosts.unwrap_or_default() {
        s.add_hosts.push(parse::hosts::add_host(&e)?);
    }
    if let Some(l) = h.log_config {
        let opts: Vec<String> = l
            .config
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.log = parse::log::log(Some(&l.kind), &opts)?;
    }
    for m in h.mounts.unwrap_or_default() {
        mount(s, m)?;
    }
    Ok(())
}

fn mount(s: &mut ContainerSpec, m: DockerMount) -> Result<(), BadBody> {
    if !m.target.starts_with('/') {
        return Err(BadBody(format!(
            "invalid mount target {:?}: it must be an absolute path",
            m.target
        )));
    }
    let mut options = Vec::new();
    if m.read_only {
        options.push("ro".to_owned());
    }
    let source = match m.kind.as_str() {
        "bind" => {
            if !m.source.starts_with('/') {
                return Err(BadBody(format!(
                    "invalid bind mount source {:?}: it must be an absolute path",
                    m.source
                )));
            }
            if let Some(p) = m
                .bind_options
                .map(|b| b.propagation)
                .filter(|p| !p.is_empty())
            {
                options.push(p);
            }
            MountSource::Bind(m.source.into())
        }
        "volume" => {
            if m.volume_options.is_some_and(|v| v.no_copy) {
                options.push("nocopy".to_owned());
            }
            if m.source.is_empty() {
                MountSource::Anonymous
            } else {
                parse::name::validate("volume", &m.source)?;
                MountSource::Named(m.source)
            }
        }
        "tmpfs" => {
            let mut opts = options;
            if let Some(t) = m.tmpfs_options {
                if t.size_bytes > 0 {
                    opts.push(format!("size={}", t.size_bytes));
                }
                if t.mode > 0 {
                    opts.push(format!("mode={:o}", t.mode));
                }
            }
            s.tmpfs.push(Tmpfs {
                destination: m.target,
                options: opts,
            });
            return Ok(());
        }
        other => {
            return Err(BadBody(format!(
                "mount type {other:?} is not supported: use bind, volume or tmpfs"
            )));
        }
    };
    s.mounts.push(Mount {
        source,
        destination: m.target,
        options,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `docker run -d --name web -p 8080:80 -v /srv:/data:ro -e A=1
    /// --restart on-failure:3 --cap-add NET_ADMIN --memory 64m busybox sleep
    /// 300` sends (abridged: the zero fields stay, as the CLI sends them).
    const RUN: &str = r#"{
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
        "AttachStdout": false, "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": ["A=1"], "Cmd": ["sleep", "300"], "Image": "busybox",
        "Volumes": {}, "WorkingDir": "", "Entrypoint": null, "OnBuild": null,
        "Labels": {"app": "web"}, "ExposedPorts": {"80/tcp": {}},
        "HostConfig": {
            "Binds": ["/srv:/data:ro"], "ContainerIDFile": "",
            "LogConfig": {"Type": "", "Config": {}}, "NetworkMode": "default",
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null,
            "ConsoleSize": [40, 120], "CapAdd": ["NET_ADMIN"], "CapDrop": null,
            "CgroupnsMode": "", "Dns": [], "DnsOptions": [], "DnsSearch": [],
            "ExtraHosts": null, "IpcMode": "", "Privileged": false,
            "PublishAllPorts": false, "ReadonlyRootfs": false, "ShmSize": 0,
            "Memory": 67108864, "NanoCpus": 0, "MemorySwappiness": -1,
            "PidsLimit": null, "Devices": [], "Ulimits": null, "MaskedPaths": null
        },
        "NetworkingConfig": {"EndpointsConfig": {"default": {}}}
    }"#;

    #[test]
    fn docker_run_body() {
        let s = spec(RUN.as_bytes(), Some("web")).unwrap();
        assert_eq!(s.image, "busybox");
        assert_eq!(s.name.as_deref(), Some("web"));
        assert_eq!(s.command, ["sleep", "300"]);
        assert_eq!(s.entrypoint, None);
        assert_eq!(s.env, ["A=1"]);
        assert_eq!(s.labels["app"], "web");
        assert_eq!(s.restart, spec::RestartPolicy::OnFailure(3));
        assert_eq!(s.resources.memory, Some(64 << 20));
        assert_eq!(s.cap_add, ["NET_ADMIN"]);
        assert_eq!(s.network.mode, None);
        assert_eq!(s.network.ports.len(), 1);
        assert_eq!(s.network.ports[0].host_port, 8080);
        assert_eq!(s.network.ports[0].container_port, 80);
        assert_eq!(s.mounts.len(), 1);
        assert_eq!(s.mounts[0].source, MountSource::Bind("/srv".into()));
        assert_eq!(s.mounts[0].options, ["ro"]);
    }

    #[test]
    fn mounts_entrypoint_and_network() {
        let body = r#"{"Image": "busybox", "Entrypoint": [""], "Cmd": "true",
            "HostConfig": {"NetworkMode": "none", "AutoRemove": true, "Init": true,
              "Mounts": [
                {"Type": "volume", "Source": "data", "Target": "/data"},
                {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 1048576}},
                {"Type": "bind", "Source": "/etc", "Target": "/hostetc", "ReadOnly": true}
              ]}}"#;
        let s = spec(body.as_bytes(), None).unwrap();
        assert_eq!(s.entrypoint, Some(vec![]));
        assert_eq!(s.command, ["true"]);
        assert!(s.remove && s.init);
        assert_eq!(s.network.mode, Some(hutch_rootless_net::NetworkMode::None));
        assert_eq!(s.mounts[0].source, MountSource::Named("data".into()));
        assert_eq!(s.mounts[1].options, ["ro"]);
        assert_eq!(s.tmpfs[0].destination, "/scratch");
        assert_eq!(s.tmpfs[0].options, ["size=1048576"]);
    }

    #[test]
    fn bad_and_unsupported_bodies() {
        let err = |body: &str| spec(body.as_bytes(), None).unwrap_err().0;
        assert!(err("{").contains("invalid container create body"));
        assert!(err(r#"{"Image": 5}"#).contains("invalid type"));
        assert!(err(r#"{"Image": "busybox", "Cmd": 5}"#).contains("invalid"));
        assert!(err("{}").contains("Image is required"));
        assert_eq!(
            err(r#"{"Image": "b", "HostConfig": {"ShmSize": 1024}}"#),
            "HostConfig.ShmSize is not supported by hutch's API service"
        );
        assert!(err(r#"{"Image": "b", "HostConfig": {"Binds": ["./x:/x"]}}"#).contains("absolute"));
        assert!(
            err(r#"{"Image": "b", "HostConfig": {"Mounts": [{"Type": "npipe", "Target": "/x"}]}}"#)
                .contains("npipe")
        );
        assert!(err(r#"{"Image": "b", "HostConfig": {"CapAdd": ["NOPE"]}}"#).contains("NOPE"));
        assert!(
            err(r#"{"Image": "b", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}"#)
                .contains("restart policy")
        );
        assert!(
            err(r#"{"Image": "b", "StopSignal": "SIGNOPE"}"#)
                .to_lowercase()
                .contains("signal")
        );
        assert!(spec(br#"{"Image": "b"}"#, Some("bad name!")).is_err());
    }

    #[test]
    fn compose_bodies() {
        // What docker-compose 1.29 sends: the volume path in Volumes and
        // its named volume in Binds; the service's alias on its network.
        let body = r#"{"Image": "b", "Volumes": {"/srv": {}, "/cache": {}},
            "HostConfig": {"Binds": ["proj_site:/srv:rw"], "NetworkMode": "proj_back"},
            "NetworkingConfig": {"EndpointsConfig": {"proj_back": {"Aliases": ["web"]},
                                                     "other": {"Aliases": ["x"]}}}}"#;
        let s = spec(body.as_bytes(), None).unwrap();
        let dests: Vec<&str> = s.mounts.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(dests, ["/srv", "/cache"]);
        assert!(matches!(&s.mounts[0].source, MountSource::Named(n) if n == "proj_site"));
        assert_eq!(s.network.aliases, ["web"]);
    }
}
