//! Podman's `POST /libpod/containers/create` body (its SpecGenerator, as
//! `podman --remote create/run` sends it) into the typed
//! [`ContainerSpec`], through the CLI's own flag parsers: a port, a
//! volume, a namespace or a log option is parsed in one place only.
//!
//! Malformed JSON and wrong types are 400s with serde's words. Fields that
//! only describe the client's side or Podman's defaults (the command line,
//! `umask` 0022, the seccomp policy "default", ...) are
//! ignored; any other field hutch does not implement is a 400 naming it
//! when it asks for something (not null, false, zero or empty).

use std::collections::BTreeMap;
use std::path::Path;

use hutch_rootless_net::DnsConfig;
use serde::Deserialize;
use serde_json::Value;

use super::create_body::BadBody;
use crate::spec::{self, ContainerSpec, HealthCheck, parse};

/// `{"nsmode": "host", "value": ""}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Namespace {
    nsmode: String,
    value: String,
}

impl Namespace {
    /// The CLI's spelling (`host`, `container:ID`, `ns:PATH`), `None` for
    /// the default.
    fn flag(&self) -> Option<String> {
        match (self.nsmode.as_str(), self.value.as_str()) {
            ("" | "default", _) => None,
            (m, "") => Some(m.to_owned()),
            ("path", v) => Some(format!("ns:{v}")),
            (m, v) => Some(format!("{m}:{v}")),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LogConfiguration {
    driver: String,
    path: String,
    options: Option<BTreeMap<String, String>>,
    size: i64,
}

/// An OCI mount as the client sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OciMount {
    destination: String,
    #[serde(rename = "type")]
    kind: String,
    source: String,
    options: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NamedVolume {
    name: String,
    dest: String,
    options: Option<Vec<String>>,
    is_anonymous: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PortMapping {
    host_ip: String,
    container_port: u16,
    host_port: u16,
    range: u16,
    protocol: String,
}

impl PortMapping {
    /// The CLI's `-p` spelling (one per protocol), for the CLI's parser.
    pub(super) fn publish_flags(&self) -> Result<Vec<String>, String> {
        let p = self;
        let range = p.range.max(1);
        let span = |start: u16| -> Result<String, String> {
            let end = start
                .checked_add(range - 1)
                .ok_or_else(|| format!("invalid port range {start}+{range}"))?;
            Ok(if range == 1 {
                start.to_string()
            } else {
                format!("{start}-{end}")
            })
        };
        let host = if p.host_port == 0 {
            String::new()
        } else {
            span(p.host_port)?
        };
        let ip = if p.host_ip.contains(':') {
            format!("[{}]", p.host_ip)
        } else {
            p.host_ip.clone()
        };
        let container = span(p.container_port)?;
        let protos = if p.protocol.is_empty() {
            "tcp"
        } else {
            p.protocol.as_str()
        };
        Ok(protos
            .split(',')
            .map(|proto| format!("{ip}:{host}:{container}/{proto}"))
            .collect())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Rlimit {
    #[serde(rename = "type")]
    kind: String,
    hard: u64,
    soft: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Device {
    path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HealthConfig {
    test: Option<Vec<String>>,
    interval: i64,
    timeout: i64,
    start_period: i64,
    retries: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Limits {
    memory: Option<MemoryLimits>,
    cpu: Option<CpuLimits>,
    pids: Option<PidsLimit>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemoryLimits {
    limit: Option<i64>,
    reservation: Option<i64>,
    swap: Option<i64>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CpuLimits {
    shares: Option<u64>,
    quota: Option<i64>,
    period: Option<u64>,
    cpus: String,
    mems: String,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PidsLimit {
    limit: i64,
}

/// The SpecGenerator fields hutch reads; the rest land in `rest`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SpecGenerator {
    name: String,
    image: String,
    raw_image_name: String,
    entrypoint: Option<Vec<String>>,
    command: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
    terminal: bool,
    stdin: bool,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    stop_signal: Option<i32>,
    stop_timeout: Option<u32>,
    timeout: u64,
    log_configuration: Option<LogConfiguration>,
    restart_policy: String,
    restart_tries: Option<u32>,
    oci_runtime: String,
    hostname: String,
    remove: bool,
    timezone: String,
    init: bool,
    init_path: String,
    conmon_pid_file: String,
    pidns: Option<Namespace>,
    ipcns: Option<Namespace>,
    utsns: Option<Namespace>,
    userns: Option<Namespace>,
    netns: Option<Namespace>,
    /// Go decodes field names in any case: Podman's client sends
    /// `Networks`, other clients `networks`.
    #[serde(rename = "Networks", alias = "networks")]
    networks: Option<BTreeMap<String, Value>>,
    /// The deprecated single-network addresses (Podman's `static_ip`,
    /// `static_ipv6`, `static_mac`), for the container's network.
    static_ip: Option<String>,
    static_ipv6: Option<String>,
    static_mac: Option<String>,
    mounts: Option<Vec<OciMount>>,
    volumes: Option<Vec<NamedVolume>>,
    devices: Option<Vec<Device>>,
    work_dir: String,
    user: String,
    groups: Option<Vec<String>>,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    privileged: bool,
    read_only_filesystem: bool,
    no_new_privileges: bool,
    selinux_opts: Option<Vec<String>>,
    apparmor_profile: String,
    seccomp_profile_path: String,
    mask: Option<Vec<String>>,
    unmask: Option<Vec<String>>,
    portmappings: Option<Vec<PortMapping>>,
    publish_image_ports: bool,
    expose: Option<BTreeMap<String, String>>,
    dns_server: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    dns_option: Option<Vec<String>>,
    hostadd: Option<Vec<String>>,
    resource_limits: Option<Limits>,
    r_limits: Option<Vec<Rlimit>>,
    oom_score_adj: Option<i32>,
    cgroup_parent: String,
    healthconfig: Option<HealthConfig>,
    /// `--sdnotify`: "container", "conmon", "healthy", "ignore"; empty for
    /// the default.
    #[serde(rename = "sdnotifyMode")]
    sdnotify_mode: String,
    /// `--systemd`: "true", "false", "always"; empty for the default.
    systemd: String,
    /// `--pod`: the pod's name or id.
    pod: String,
    /// `--rootfs PATH[:O][:idmap]`: a directory on the service's host.
    rootfs: String,
    rootfs_overlay: bool,
    /// Present (even empty) for `:idmap`.
    rootfs_mapping: Option<String>,
    shm_size: Option<i64>,
    sysctl: Option<BTreeMap<String, String>>,
    /// `--requires`.
    #[serde(rename = "dependencyContainers")]
    dependency_containers: Option<Vec<String>>,
    /// `--hostuser`.
    hostusers: Option<Vec<String>>,
    unsetenv: Option<Vec<String>>,
    unsetenvall: bool,
    /// Octal; Podman's client always sends containers.conf's ("0022").
    umask: String,
    /// `--health-on-failure`: 0 none, 1 kill, 2 restart, 3 stop.
    health_check_on_failure_action: i64,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// Fields that describe the client's side or repeat Podman's defaults,
/// and those with no effect in a rootless hutch (SELinux labels, the
/// proxy variables of the *server's* environment, cgroup namespace mode).
const IGNORED: &[&str] = &[
    "containerCreateCommand",
    "httpproxy",
    "init_container_type",
    "manage_password",
    "idmappings",
    "use_image_hosts",
    "use_image_resolve_conf",
    "volatile",
    "cgroupns",
    "cgroups_mode",
    "env_host",
    "personality",
];

/// Fields ignored when they hold Podman's default value.
const DEFAULTS: &[(&str, &str)] = &[
    ("seccomp_policy", "default"),
    ("image_volume_mode", "anonymous"),
];

fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_unset),
        Value::Object(o) => o.values().all(is_unset),
    }
}

fn refuse_unsupported(what: &str, rest: &BTreeMap<String, Value>) -> Result<(), BadBody> {
    for (k, v) in rest {
        let default = DEFAULTS
            .iter()
            .any(|(dk, dv)| dk == k && v.as_str() == Some(dv));
        if IGNORED.contains(&k.as_str()) || default || is_unset(v) {
            continue;
        }
        return Err(BadBody(format!(
            "{what}{k} is not supported by hutch's API service"
        )));
    }
    Ok(())
}

fn opt(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

/// The spec for a libpod create body.
pub fn spec(body: &[u8]) -> Result<ContainerSpec, BadBody> {
    let g: SpecGenerator = serde_json::from_slice(body)
        .map_err(|e| BadBody(format!("invalid container create body: {e}")))?;
    refuse_unsupported("", &g.rest)?;
    // A `--rootfs` container has no image.
    let image = match opt(g.image).or(opt(g.raw_image_name)) {
        Some(i) => i,
        None if !g.rootfs.is_empty() => String::new(),
        None => return Err(BadBody("no image given: image is required".into())),
    };
    let mut s = ContainerSpec {
        image,
        ..ContainerSpec::default()
    };
    if let Some(n) = opt(g.name) {
        parse::name::validate("container", &n)?;
        s.name = Some(n);
    }
    s.pod = opt(g.pod.clone());
    s.command = g.command.unwrap_or_default();
    s.entrypoint = g.entrypoint.map(|e| {
        if e.iter().all(String::is_empty) {
            Vec::new()
        } else {
            e
        }
    });
    for (k, v) in g.env.unwrap_or_default() {
        if k.is_empty() || k.contains('=') {
            return Err(BadBody(format!("invalid environment variable name {k:?}")));
        }
        s.env.push(format!("{k}={v}"));
    }
    s.tty = g.terminal;
    s.interactive = g.stdin;
    s.labels = g.labels.unwrap_or_default();
    s.annotations = g.annotations.unwrap_or_default();
    if let Some(n) = g.stop_signal.filter(|n| *n != 0) {
        s.stop_signal = Some(parse::restart::signal(&n.to_string())?);
    }
    s.stop_timeout = g.stop_timeout;
    s.run_timeout = Some(g.timeout).filter(|t| *t > 0);
    if let Some(l) = g.log_configuration {
        let mut opts: Vec<String> = l
            .options
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if l.size > 0 {
            opts.push(format!("max-size={}", l.size));
        }
        if !l.path.is_empty() {
            opts.push(format!("path={}", l.path));
        }
        s.log = parse::log::log(Some(&l.driver), &opts)?;
    }
    if !g.restart_policy.is_empty() {
        let text = match (g.restart_policy.as_str(), g.restart_tries) {
            ("on-failure", Some(n)) if n > 0 => format!("on-failure:{n}"),
            (p, _) => p.to_owned(),
        };
        s.restart = parse::restart::restart(&text)?;
    }
    s.runtime = opt(g.oci_runtime);
    s.hostname = opt(g.hostname);
    s.remove = g.remove;
    if s.remove && s.restart != spec::RestartPolicy::No {
        return Err(BadBody(
            "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\""
                .into(),
        ));
    }
    s.timezone = opt(g.timezone);
    s.init = g.init;
    s.init_path = opt(g.init_path).map(Into::into);
    s.monitor_pidfile = opt(g.conmon_pid_file).map(Into::into);
    let ns = |n: Option<Namespace>| n.and_then(|n| n.flag());
    s.namespaces.pid = parse::userns::namespace("pid", ns(g.pidns).as_deref())?;
    s.namespaces.ipc = parse::userns::namespace("ipc", ns(g.ipcns).as_deref())?;
    s.namespaces.uts = parse::userns::namespace("uts", ns(g.utsns).as_deref())?;
    s.userns = parse::userns::userns(ns(g.userns).as_deref(), &[], &[])?;
    s.workdir = opt(g.work_dir);
    if let Some(w) = &s.workdir
        && !w.starts_with('/')
    {
        return Err(BadBody(format!("work_dir {w:?} must be an absolute path")));
    }
    s.user = opt(g.user);
    s.group_add = g.groups.unwrap_or_default();
    s.cap_add = g.cap_add.unwrap_or_default();
    s.cap_drop = g.cap_drop.unwrap_or_default();
    parse::capabilities(&s.cap_add, &s.cap_drop)?;
    s.privileged = g.privileged;
    s.read_only = g.read_only_filesystem;
    let mut sec = security_opts(
        &g.selinux_opts,
        &g.apparmor_profile,
        &g.seccomp_profile_path,
    )?;
    if g.no_new_privileges {
        sec.push("no-new-privileges".to_owned());
    }
    for m in g.mask.unwrap_or_default() {
        sec.push(format!("mask={m}"));
    }
    for m in g.unmask.unwrap_or_default() {
        sec.push(format!("unmask={m}"));
    }
    if !sec.is_empty() {
        s.security = parse::security::security(&sec)?;
    }
    mounts(
        &mut s,
        g.mounts.unwrap_or_default(),
        g.volumes.unwrap_or_default(),
    )?;
    for d in g.devices.unwrap_or_default() {
        s.devices.push(parse::device::device(&d.path)?);
    }
    let statics = Statics {
        ip: g.static_ip.clone(),
        ip6: g.static_ipv6.clone(),
        mac: g.static_mac.clone(),
    };
    network(
        &mut s,
        &g.netns,
        g.networks,
        g.portmappings,
        g.publish_image_ports,
        statics,
    )?;
    for (port, proto) in g.expose.unwrap_or_default() {
        // EXPOSE is informational; only its spelling is checked.
        if port.parse::<u16>().is_err() || !matches!(proto.as_str(), "" | "tcp" | "udp" | "sctp") {
            return Err(BadBody(format!("invalid exposed port {port}/{proto}")));
        }
    }
    s.network.dns = DnsConfig {
        servers: g.dns_server.unwrap_or_default(),
        search: g.dns_search.unwrap_or_default(),
        options: g.dns_option.unwrap_or_default(),
    };
    for h in g.hostadd.unwrap_or_default() {
        s.add_hosts.push(parse::hosts::add_host(&h)?);
    }
    if let Some(l) = g.resource_limits {
        resources(&mut s, l)?;
    }
    s.resources.oom_score_adj = g.oom_score_adj;
    s.resources.cgroup_parent = opt(g.cgroup_parent);
    let limits: Vec<String> = g
        .r_limits
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let name = r.kind.to_ascii_lowercase();
            let name = name.strip_prefix("rlimit_").unwrap_or(&name).to_owned();
            format!("{name}={}:{}", r.soft, r.hard)
        })
        .collect();
    if !limits.is_empty() {
        s.ulimits = parse::ulimit::ulimits(&limits)?;
    }
    if let Some(h) = g.healthconfig {
        let test = h.test.unwrap_or_default();
        // ["NONE"] is kept: it disables the image's check.
        if !test.is_empty() {
            let ns = |n: i64| u64::try_from(n).ok().filter(|n| *n > 0);
            s.health_check = Some(HealthCheck {
                test,
                interval_ns: ns(h.interval),
                timeout_ns: ns(h.timeout),
                start_period_ns: ns(h.start_period),
                retries: u32::try_from(h.retries).ok().filter(|n| *n > 0),
            });
        }
    }
    systemd(&mut s, &g.sdnotify_mode, &g.systemd)?;
    if let Some(path) = opt(g.rootfs) {
        if !path.starts_with('/') {
            return Err(BadBody(format!(
                "rootfs {path:?} must be an absolute path on the service's host"
            )));
        }
        s.rootfs = Some(spec::RootfsSpec {
            path: path.into(),
            overlay: g.rootfs_overlay,
            idmap: g.rootfs_mapping.is_some(),
        });
    }
    if let Some(n) = g.shm_size.filter(|n| *n != 0) {
        s.shm_size = Some(u64::try_from(n).map_err(|_| BadBody(format!("invalid shm_size {n}")))?);
    }
    s.sysctls = g.sysctl.unwrap_or_default();
    s.requires = g.dependency_containers.unwrap_or_default();
    s.host_users = g.hostusers.unwrap_or_default();
    s.unsetenv = g.unsetenv.unwrap_or_default();
    s.unsetenv_all = g.unsetenvall;
    if let Some(u) = opt(g.umask) {
        s.umask = Some(
            u32::from_str_radix(&u, 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| BadBody(format!("invalid umask string {u}")))?,
        );
    }
    s.health_on_failure = match g.health_check_on_failure_action {
        0 => spec::HealthOnFailure::None,
        1 => spec::HealthOnFailure::Kill,
        2 => spec::HealthOnFailure::Restart,
        3 => spec::HealthOnFailure::Stop,
        n => {
            return Err(BadBody(format!(
                "invalid health_check_on_failure_action {n}: 0 to 3"
            )));
        }
    };
    parse::mount::check_duplicates(&s.mounts)?;
    Ok(s)
}

/// `sdnotifyMode` and `systemd`, spelled as the CLI's flags. The caller's
/// `NOTIFY_SOCKET` is the client's, which a REST body does not carry, so
/// `spec.notify_socket` stays unset; the engine refuses `healthy` without
/// a health check, as for `create`.
fn systemd(s: &mut ContainerSpec, sdnotify: &str, systemd: &str) -> Result<(), BadBody> {
    s.sdnotify = match sdnotify {
        "" => s.sdnotify,
        "container" => spec::SdNotify::Container,
        "conmon" => spec::SdNotify::Conmon,
        "healthy" => spec::SdNotify::Healthy,
        "ignore" => spec::SdNotify::Ignore,
        other => {
            return Err(BadBody(format!(
                "invalid sdnotifyMode {other:?}: must be one of container, conmon, healthy, or ignore"
            )));
        }
    };
    s.systemd = match systemd {
        "" => s.systemd,
        "true" => spec::SystemdMode::True,
        "false" => spec::SystemdMode::False,
        "always" => spec::SystemdMode::Always,
        other => {
            return Err(BadBody(format!(
                "invalid systemd {other:?}: must be one of true, false, or always"
            )));
        }
    };
    Ok(())
}

/// The security fields as `--security-opt` values, for its parser.
fn security_opts(
    selinux: &Option<Vec<String>>,
    apparmor: &str,
    seccomp: &str,
) -> Result<Vec<String>, BadBody> {
    let mut opts = Vec::new();
    for o in selinux.iter().flatten() {
        opts.push(format!("label={o}"));
    }
    if !apparmor.is_empty() {
        opts.push(format!("apparmor={apparmor}"));
    }
    match seccomp {
        "" => {}
        "unconfined" => opts.push("seccomp=unconfined".to_owned()),
        // A profile path names a file on the client's host.
        p => {
            return Err(BadBody(format!(
                "seccomp_profile_path {p:?} is not supported by hutch's API service: only \"unconfined\""
            )));
        }
    }
    Ok(opts)
}

/// OCI mounts (binds, tmpfs) and named or anonymous volumes, through the
/// `-v`/`--tmpfs` parsers.
fn mounts(
    s: &mut ContainerSpec,
    oci: Vec<OciMount>,
    volumes: Vec<NamedVolume>,
) -> Result<(), BadBody> {
    // Podman 4's client spells out the tmpfs mounts of `--read-only`
    // itself; they replace hutch's own (`read_only_tmpfs`).
    let ro_tmpfs = |m: &OciMount| {
        m.kind == "tmpfs" && matches!(m.destination.as_str(), "/tmp" | "/var/tmp" | "/run")
    };
    if s.read_only && oci.iter().any(ro_tmpfs) {
        s.read_only_tmpfs = false;
    }
    for m in oci {
        let opts = m.options.unwrap_or_default();
        match m.kind.as_str() {
            "tmpfs" => {
                let text = if opts.is_empty() {
                    m.destination.clone()
                } else {
                    format!("{}:{}", m.destination, opts.join(","))
                };
                s.tmpfs.push(parse::mount::tmpfs(&text)?);
            }
            "bind" | "" => {
                if !m.source.starts_with('/') {
                    return Err(BadBody(format!(
                        "invalid bind mount source {:?}: it must be an absolute path",
                        m.source
                    )));
                }
                let mut text = format!("{}:{}", m.source, m.destination);
                if !opts.is_empty() {
                    text = format!("{text}:{}", opts.join(","));
                }
                s.mounts.push(parse::mount::volume(&text, Path::new("/"))?);
            }
            other => {
                return Err(BadBody(format!(
                    "mount type {other:?} is not supported: use bind or tmpfs, or volumes for volumes"
                )));
            }
        }
    }
    for v in volumes {
        let opts = v.options.unwrap_or_default();
        let mut m = if v.name.is_empty() || v.is_anonymous {
            parse::mount::volume(&v.dest, Path::new("/"))?
        } else {
            parse::mount::volume(&format!("{}:{}", v.name, v.dest), Path::new("/"))?
        };
        if !opts.is_empty() {
            // The options through the parser, with a stand-in source.
            let checked =
                parse::mount::volume(&format!("x:{}:{}", v.dest, opts.join(",")), Path::new("/"))?;
            m.options = checked.options;
        }
        s.mounts.push(m);
    }
    Ok(())
}

/// The static addresses of a create body, as text until checked.
#[derive(Debug, Default)]
pub(super) struct Statics {
    pub(super) ip: Option<String>,
    pub(super) ip6: Option<String>,
    pub(super) mac: Option<String>,
}

impl Statics {
    /// A network's `static_ips` (one IPv4 and one IPv6 address at most,
    /// as `--ip`/`--ip6` give) and `static_mac`.
    pub(super) fn of_network(opts: &Value) -> Result<Statics, BadBody> {
        let mut st = Statics {
            mac: opts["static_mac"]
                .as_str()
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            ..Statics::default()
        };
        for ip in opts["static_ips"].as_array().into_iter().flatten() {
            let text = ip.as_str().unwrap_or_default();
            let addr: std::net::IpAddr = text
                .parse()
                .map_err(|_| BadBody(format!("{ip} is not an ip address")))?;
            let slot = if addr.is_ipv4() {
                &mut st.ip
            } else {
                &mut st.ip6
            };
            if slot.is_some() {
                return Err(BadBody(format!(
                    "static_ips: hutch takes one IPv4 and one IPv6 address per network, not also {text}"
                )));
            }
            *slot = Some(text.to_owned());
        }
        Ok(st)
    }

    /// `top` (the body's own `static_*`) with the networks' addresses:
    /// hutch has them on the container's first network only, as `--ip`
    /// (the engine refuses them with more).
    pub(super) fn of_networks(
        networks: &BTreeMap<String, Value>,
        top: Statics,
    ) -> Result<Statics, BadBody> {
        let mut statics = top;
        for opts in networks.values() {
            let st = Statics::of_network(opts)?;
            if st.is_empty() {
                continue;
            }
            if networks.len() > 1 {
                return Err(BadBody(
                    "static addresses can only be set for a single network: invalid argument"
                        .to_owned(),
                ));
            }
            statics = Statics {
                ip: st.ip.or(statics.ip),
                ip6: st.ip6.or(statics.ip6),
                mac: st.mac.or(statics.mac),
            };
        }
        Ok(statics)
    }

    /// The checked addresses: IPv4, IPv6, MAC (for `network connect`).
    pub(super) fn addresses(self) -> Result<crate::spec::NetworkSpec, BadBody> {
        let mut net = crate::spec::NetworkSpec::default();
        self.apply(&mut net)?;
        Ok(net)
    }

    fn is_empty(&self) -> bool {
        self.ip.is_none() && self.ip6.is_none() && self.mac.is_none()
    }

    /// Into the spec: addresses as `--ip`, `--ip6` and `--mac-address`
    /// check them.
    pub(super) fn apply(self, net: &mut crate::spec::NetworkSpec) -> Result<(), BadBody> {
        let ip = |t: Option<String>| -> Result<Option<std::net::IpAddr>, BadBody> {
            t.filter(|t| !t.is_empty())
                .map(|t| {
                    t.parse()
                        .map_err(|_| BadBody(format!("{t:?} is not an ip address")))
                })
                .transpose()
        };
        net.ip = ip(self.ip)?.or(net.ip);
        net.ip6 = ip(self.ip6)?.or(net.ip6);
        if let Some(m) = self.mac.filter(|m| !m.is_empty()) {
            net.mac_address = Some(parse::mac_address(&m).map_err(|e| BadBody(format!("{e:#}")))?);
        }
        Ok(())
    }
}

fn network(
    s: &mut ContainerSpec,
    netns: &Option<Namespace>,
    networks: Option<BTreeMap<String, Value>>,
    ports: Option<Vec<PortMapping>>,
    publish_all: bool,
    statics: Statics,
) -> Result<(), BadBody> {
    let networks = networks.unwrap_or_default();
    let statics = Statics::of_networks(&networks, statics)?;
    // Podman's per-network aliases; hutch's hold on every user network.
    let mut aliases: Vec<String> = Vec::new();
    for a in networks
        .values()
        .filter_map(|v| v["aliases"].as_array())
        .flatten()
        .filter_map(Value::as_str)
    {
        if !aliases.iter().any(|x| x == a) {
            aliases.push(a.to_owned());
        }
    }
    let mut names: Vec<String> = networks.into_keys().collect();
    let nsmode = netns.as_ref().map(|n| n.nsmode.as_str()).unwrap_or("");
    let mode: Option<String> = match nsmode {
        // Podman's "bridge" with named networks joins those; alone it is
        // the rootless default here, as Docker's "default".
        "" | "default" | "private" | "bridge" if names.is_empty() => None,
        "" | "default" | "private" | "bridge" => Some(names.remove(0)),
        _ => netns.as_ref().and_then(|n| n.flag()),
    };
    let mut publish = Vec::new();
    for p in ports.unwrap_or_default() {
        publish.extend(p.publish_flags().map_err(BadBody)?);
    }
    let mut net = parse::network(&parse::NetworkFlags {
        mode: mode.as_deref(),
        publish: &publish,
        publish_all,
        dns: DnsConfig::default(),
        aliases: &aliases,
    })?;
    net.connected.extend(names);
    statics.apply(&mut net)?;
    s.network = net;
    Ok(())
}

fn resources(s: &mut ContainerSpec, l: Limits) -> Result<(), BadBody> {
    refuse_unsupported("resource_limits.", &l.rest)?;
    let r = &mut s.resources;
    if let Some(m) = l.memory {
        refuse_unsupported("resource_limits.memory.", &m.rest)?;
        r.memory = m.limit.filter(|n| *n > 0);
        r.memory_reservation = m.reservation.filter(|n| *n > 0);
        // The client sends twice the memory when no swap was asked for:
        // Podman's default, which hutch's engine applies itself.
        r.memory_swap = m
            .swap
            .filter(|n| *n != 0 && Some(*n) != m.limit.map(|l| l.saturating_mul(2)));
    }
    if let Some(c) = l.cpu {
        refuse_unsupported("resource_limits.cpu.", &c.rest)?;
        match (c.quota.filter(|q| *q > 0), c.period.filter(|p| *p > 0)) {
            // `--cpus` arrives as quota/period; hutch keeps it as NanoCpus.
            (Some(q), Some(p)) => {
                let q = u64::try_from(q).unwrap_or(0);
                r.nano_cpus = q.checked_mul(1_000_000_000).map(|n| n / p);
            }
            (q, p) => {
                r.cpu_quota = q;
                r.cpu_period = p;
            }
        }
        r.cpu_shares = c.shares.filter(|n| *n > 0);
        r.cpuset_cpus = opt(c.cpus);
        r.cpuset_mems = opt(c.mems);
    }
    if let Some(p) = l.pids {
        r.pids_limit = Some(p.limit).filter(|n| *n != 0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::MountSource;

    /// What `podman --remote create --name full -e A=1 -l app=web -w /tmp
    /// -p 8080:80 -p 127.0.0.1:9000:90/udp -v /tmp:/data:ro -v vol1:/v -v
    /// /anon --tmpfs /scratch:size=1m --restart on-failure:3 --memory 64m
    /// --cpus 1.5 --read-only ... busybox -c 'echo hi'` sent (4.3.1,
    /// abridged).
    const CREATE: &str = r#"{"name":"full","entrypoint":["/bin/sh"],"command":["-c","echo hi"],
        "httpproxy":true,"env":{"A":"1"},"terminal":true,"stdin":true,"labels":{"app":"web"},
        "annotations":{"io.kubernetes.cri-o.TTY":"true"},"stop_signal":2,"stop_timeout":5,
        "log_configuration":{"driver":"k8s-file","size":1000000},"raw_image_name":"localhost/busybox",
        "restart_policy":"on-failure","restart_tries":3,"systemd":"true","sdnotifyMode":"container",
        "pidns":{},"utsns":{},"hostname":"hh","containerCreateCommand":["podman","create"],
        "timezone":"UTC","init_container_type":"","manage_password":true,"image":"localhost/busybox",
        "image_volume_mode":"anonymous","init":true,
        "mounts":[{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["rw","rprivate","nosuid","nodev","tmpcopyup"]},
          {"destination":"/hostetc","type":"bind","source":"/etc","options":["ro"]},
          {"destination":"/scratch","type":"tmpfs","source":"tmpfs","options":["size=1m"]}],
        "volumes":[{"Name":"vol1","Dest":"/v","Options":null,"IsAnonymous":false},
          {"Name":"","Dest":"/anon","Options":null,"IsAnonymous":false}],
        "ipcns":{},"work_dir":"/tmp","user":"1000:1000","groups":["10"],"cap_add":["NET_ADMIN"],
        "cap_drop":["CHOWN"],"seccomp_policy":"default","no_new_privileges":true,"userns":{},
        "idmappings":{"HostUIDMapping":true,"HostGIDMapping":true,"UIDMap":null},
        "read_only_filesystem":true,"umask":"0022","cgroupns":{},"cgroups_mode":"enabled","netns":{},
        "portmappings":[{"host_ip":"","container_port":80,"host_port":8080,"range":1,"protocol":""},
          {"host_ip":"127.0.0.1","container_port":90,"host_port":9000,"range":1,"protocol":"udp"}],
        "expose":{"99":"tcp"},"Networks":null,"dns_server":["1.1.1.1"],"hostadd":["foo:1.2.3.4"],
        "resource_limits":{"memory":{"limit":67108864,"swap":134217728},"cpu":{"quota":150000,"period":100000},"pids":{"limit":100}},
        "r_limits":[{"type":"nofile","hard":200,"soft":100}],
        "healthconfig":{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Timeout":30000000000,"Retries":3}}"#;

    #[test]
    fn podman_create_body() {
        let s = spec(CREATE.as_bytes()).unwrap();
        assert_eq!(s.image, "localhost/busybox");
        assert_eq!(s.name.as_deref(), Some("full"));
        assert_eq!(s.entrypoint, Some(vec!["/bin/sh".to_owned()]));
        assert_eq!(s.command, ["-c", "echo hi"]);
        assert_eq!(s.env, ["A=1"]);
        assert!(s.tty && s.interactive && s.init && s.read_only);
        assert!(!s.read_only_tmpfs);
        assert_eq!(s.stop_signal, Some(2));
        assert_eq!(s.restart, spec::RestartPolicy::OnFailure(3));
        assert_eq!(s.workdir.as_deref(), Some("/tmp"));
        assert_eq!(s.group_add, ["10"]);
        assert_eq!(s.network.ports.len(), 2);
        assert_eq!(s.network.ports[1].host_port, 9000);
        assert_eq!(s.network.dns.servers, ["1.1.1.1"]);
        assert_eq!(s.resources.memory, Some(64 << 20));
        assert_eq!(s.resources.memory_swap, None);
        assert_eq!(s.resources.nano_cpus, Some(1_500_000_000));
        assert_eq!(s.resources.pids_limit, Some(100));
        assert_eq!(s.tmpfs.len(), 2);
        assert_eq!(s.mounts.len(), 3);
        assert_eq!(s.mounts[0].source, MountSource::Bind("/etc".into()));
        assert_eq!(s.mounts[1].source, MountSource::Named("vol1".into()));
        assert_eq!(s.mounts[2].source, MountSource::Anonymous);
        assert!(s.security.no_new_privileges);
        assert_eq!(s.health_check.as_ref().map(|h| h.retries), Some(Some(3)));
        assert_eq!(s.timezone.as_deref(), Some("UTC"));
        assert_eq!(s.sdnotify, spec::SdNotify::Container);
        assert_eq!(s.systemd, spec::SystemdMode::True);
    }

    #[test]
    fn sdnotify_and_systemd_modes() {
        let modes = |notify: &str, systemd: &str| {
            let body =
                format!(r#"{{"image":"b","sdnotifyMode":"{notify}","systemd":"{systemd}"}}"#);
            spec(body.as_bytes()).map(|s| (s.sdnotify, s.systemd, s.notify_socket))
        };
        use spec::{SdNotify as N, SystemdMode as M};
        for (text, want) in [
            ("container", N::Container),
            ("conmon", N::Conmon),
            ("healthy", N::Healthy),
            ("ignore", N::Ignore),
            ("", N::Container),
        ] {
            assert_eq!(modes(text, "").unwrap(), (want, M::True, None), "{text}");
        }
        for (text, want) in [
            ("true", M::True),
            ("false", M::False),
            ("always", M::Always),
        ] {
            assert_eq!(
                modes("conmon", text).unwrap(),
                (N::Conmon, want, None),
                "{text}"
            );
        }
        let bad = modes("sometimes", "").unwrap_err().0;
        assert!(bad.contains("sdnotifyMode \"sometimes\""), "{bad}");
        let bad = modes("", "yes").unwrap_err().0;
        assert!(bad.contains("systemd \"yes\""), "{bad}");
        // A JSON bool is a type error, as Podman's string field makes it.
        assert!(spec(br#"{"image":"b","systemd":true}"#).is_err());
    }

    #[test]
    fn namespaces_and_networks() {
        let s = spec(
            br#"{"image":"b","netns":{"nsmode":"slirp4netns"},"pidns":{"nsmode":"host"},
                "userns":{"nsmode":"keep-id"},"remove":true,"privileged":true}"#,
        )
        .unwrap();
        assert!(s.remove && s.privileged);
        assert_eq!(s.namespaces.pid, spec::Namespace::Host);
        assert!(matches!(s.userns, spec::Userns::KeepId { .. }));
        assert!(matches!(
            s.network.mode,
            Some(hutch_rootless_net::NetworkMode::Slirp4netns { .. })
        ));
        let s = spec(br#"{"image":"b","netns":{"nsmode":"bridge"},"Networks":{"n1":{},"n2":{}}}"#)
            .unwrap();
        assert_eq!(
            s.network.mode,
            Some(hutch_rootless_net::NetworkMode::Network { name: "n1".into() })
        );
        assert_eq!(s.network.connected, ["n2"]);
    }

    #[test]
    fn bad_and_unsupported_bodies() {
        let err = |body: &str| spec(body.as_bytes()).unwrap_err().0;
        assert!(err("{").contains("invalid container create body"));
        assert!(err(r#"{"image": 5}"#).contains("invalid type"));
        assert!(err("{}").contains("image is required"));
        assert_eq!(
            err(r#"{"image": "b", "secrets": [{"Source": "s"}]}"#),
            "secrets is not supported by hutch's API service"
        );
        assert!(err(r#"{"image": "b", "umask": "0999"}"#).contains("umask"));
        assert!(err(r#"{"image": "b", "cap_add": ["NOPE"]}"#).contains("NOPE"));
        assert!(err(r#"{"image": "b", "restart_policy": "sometimes"}"#).contains("restart"));
        assert!(
            err(r#"{"image": "b", "remove": true, "restart_policy": "always"}"#).contains("--rm")
        );
        assert!(
            err(r#"{"image": "b", "mounts": [{"type": "devpts", "destination": "/x"}]}"#)
                .contains("devpts")
        );
        assert!(err(r#"{"image": "b", "work_dir": "rel"}"#).contains("absolute"));
        assert!(spec(br#"{"image": "b", "name": "bad name!"}"#).is_err());
        // Podman's defaults pass.
        assert!(spec(br#"{"image": "b", "umask": "0022", "seccomp_policy": "default"}"#).is_ok());
    }
}
