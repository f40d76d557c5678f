//! The libpod SpecGenerator body for a [`ContainerSpec`] made from the
//! `run`/`create` flags on the client's side, as `podman --remote` sends
//! it. Host paths (bind sources, devices, `--conmon-pidfile`,
//! `--init-path`) name files on the service's host, as with Podman's
//! remote client; files the client reads (`--env-file`, `--pod-id-file`)
//! were read when the spec was made.
//!
//! Nothing is dropped silently: every spec field this body does not
//! carry is compared with its default, and a difference is refused naming
//! the flag (as podman-remote refuses `--preserve-fds`), so a field added
//! to the spec later is refused until it is mapped here.

use anyhow::bail;
use serde_json::{Map, Value, json};

use crate::spec::{self, ContainerSpec, LogDriver, MountSource, Namespace, SeccompChoice, Userns};
use hutch_rootless_net::NetworkMode;

/// The flag behind each spec field (`field` or `field.sub`), for the
/// refusal's words.
const FLAGS: &[(&str, &str)] = &[
    ("cdi_devices", "--device (CDI) / --gpus"),
    ("preserve_fds", "--preserve-fds"),
    ("seccomp_profile", "--security-opt seccomp=PATH"),
    ("security.seccomp", "--security-opt seccomp=PATH"),
    ("security.proc_opts", "--security-opt proc-opts"),
    ("resources.cpu_weight", "--cpu-weight"),
    ("resources.blkio_weight", "--blkio-weight"),
    ("resources.cgroups", "--cgroups"),
    ("ulimits.host", "--ulimit host"),
    // Carried with a named network only (Podman's are per network).
    ("network.aliases", "--network-alias"),
    ("userns", "--uidmap/--gidmap"),
    ("read_only_tmpfs", "--read-only-tmpfs=false"),
    ("health_check", "--health-interval disable"),
];

fn flag_of(path: &str) -> String {
    FLAGS.iter().find(|(p, _)| *p == path).map_or_else(
        || format!("--{}", path.replace('_', "-")),
        |(_, f)| (*f).to_owned(),
    )
}

/// `{"nsmode": ..., "value": ...}`.
fn ns(mode: &str, value: &str) -> Value {
    json!({"nsmode": mode, "value": value})
}

fn namespace(n: &Namespace) -> Option<Value> {
    match n {
        Namespace::Private => None,
        Namespace::Host => Some(ns("host", "")),
        Namespace::Container(id) => Some(ns("container", id)),
        Namespace::Path(p) => Some(ns("path", &p.to_string_lossy())),
    }
}

/// The body for `spec`; an error naming the first flag it cannot carry.
pub fn generator(spec: &ContainerSpec) -> anyhow::Result<Value> {
    // What is left once each carried field is taken out; compared with
    // the defaults at the end.
    let mut left = spec.clone();
    let s = spec;
    let mut g = Map::new();
    let mut put = |k: &str, v: Value| {
        g.insert(k.to_owned(), v);
    };
    put("image", json!(s.image));
    put("name", json!(s.name.clone().unwrap_or_default()));
    put("command", json!(s.command));
    if let Some(e) = &s.entrypoint {
        put("entrypoint", json!(e));
    }
    let env: Map<String, Value> = s
        .env
        .iter()
        .map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            (k.to_owned(), json!(v))
        })
        .collect();
    put("env", Value::Object(env));
    put("work_dir", json!(s.workdir.clone().unwrap_or_default()));
    put("user", json!(s.user.clone().unwrap_or_default()));
    put("hostname", json!(s.hostname.clone().unwrap_or_default()));
    put("read_only_filesystem", json!(s.read_only));
    // Only --read-only reads it; the service keeps Podman's default.
    if !s.read_only || s.read_only_tmpfs {
        left.read_only_tmpfs = true;
    }
    put("terminal", json!(s.tty));
    put("stdin", json!(s.interactive));
    put("remove", json!(s.remove));
    put("labels", json!(s.labels));
    put("annotations", json!(s.annotations));
    put("cap_add", json!(s.cap_add));
    put("cap_drop", json!(s.cap_drop));
    put("privileged", json!(s.privileged));
    put("init", json!(s.init));
    if let Some(p) = &s.init_path {
        put("init_path", json!(p));
    }
    if let Some(n) = s.stop_signal {
        put("stop_signal", json!(n));
    }
    if let Some(t) = s.stop_timeout {
        put("stop_timeout", json!(t));
    }
    if let Some(t) = s.run_timeout {
        put("timeout", json!(t));
    }
    if let Some(t) = &s.timezone {
        put("timezone", json!(t));
    }
    if let Some(r) = &s.runtime {
        put("oci_runtime", json!(r));
    }
    if let Some(p) = &s.monitor_pidfile {
        put("conmon_pid_file", json!(p));
    }
    if let Some(p) = &s.pod {
        put("pod", json!(p));
    }
    put("groups", json!(s.group_add));
    let hosts: Vec<String> = s
        .add_hosts
        .iter()
        .map(|h| format!("{}:{}", h.names.join(";"), h.ip))
        .collect();
    put("hostadd", json!(hosts));
    // The restart policy.
    if s.restart != spec::RestartPolicy::No {
        put("restart_policy", json!(s.restart.name()));
        if s.restart.max_retries() > 0 {
            put("restart_tries", json!(s.restart.max_retries()));
        }
    }
    // The log.
    if s.log != spec::LogConfig::default() {
        let driver = match s.log.driver {
            LogDriver::K8sFile => "k8s-file",
            LogDriver::None => "none",
        };
        let mut l = json!({"driver": driver});
        if let Some(p) = &s.log.path {
            l["path"] = json!(p);
        }
        if let Some(n) = s.log.max_size {
            l["size"] = json!(n);
        }
        put("log_configuration", l);
    }
    // Namespaces.
    for (key, n) in [
        ("pidns", &s.namespaces.pid),
        ("ipcns", &s.namespaces.ipc),
        ("utsns", &s.namespaces.uts),
    ] {
        if let Some(v) = namespace(n) {
            put(key, v);
        }
    }
    match &s.userns {
        Userns::Host => {}
        Userns::NoMap => put("userns", ns("nomap", "")),
        Userns::KeepId { uid, gid, size } => {
            let opts: Vec<String> = [("uid", uid), ("gid", gid), ("size", size)]
                .iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
                .collect();
            put("userns", ns("keep-id", &opts.join(",")));
        }
        Userns::Auto { size } => put(
            "userns",
            ns(
                "auto",
                &size.map(|n| format!("size={n}")).unwrap_or_default(),
            ),
        ),
        // Podman's idmappings, which the service does not read: refused
        // below by the check of what is left.
        Userns::Explicit { .. } => {}
    }
    if !matches!(s.userns, Userns::Explicit { .. }) {
        left.userns = Userns::Host;
    }
    // Mounts: binds and tmpfs as OCI mounts, volumes by name.
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for m in &s.mounts {
        match &m.source {
            MountSource::Bind(p) => mounts.push(json!({
                "destination": m.destination, "type": "bind", "source": p, "options": m.options,
            })),
            MountSource::Tmpfs => mounts.push(json!({
                "destination": m.destination, "type": "tmpfs", "source": "tmpfs", "options": m.options,
            })),
            MountSource::Named(n) => volumes.push(json!({
                "Name": n, "Dest": m.destination, "Options": m.options, "IsAnonymous": false,
            })),
            MountSource::Anonymous => volumes.push(json!({
                "Name": "", "Dest": m.destination, "Options": m.options, "IsAnonymous": true,
            })),
        }
    }
    for t in &s.tmpfs {
        mounts.push(json!({
            "destination": t.destination, "type": "tmpfs", "source": "tmpfs", "options": t.options,
        }));
    }
    put("mounts", json!(mounts));
    put("volumes", json!(volumes));
    let devices: Vec<Value> = s
        .devices
        .iter()
        .map(|d| {
            json!({"path": format!(
                "{}:{}:{}",
                d.host_path.display(),
                d.container_path.display(),
                d.permissions
            )})
        })
        .collect();
    put("devices", json!(devices));
    // Security.
    let sec = &s.security;
    if sec.seccomp == SeccompChoice::Unconfined {
        put("seccomp_profile_path", json!("unconfined"));
        left.security.seccomp = SeccompChoice::Default;
    }
    put("no_new_privileges", json!(sec.no_new_privileges));
    if sec.label_disable {
        put("selinux_opts", json!(["disable"]));
    }
    put("mask", json!(sec.mask));
    put("unmask", json!(sec.unmask));
    if let Some(a) = &sec.apparmor {
        put("apparmor_profile", json!(a));
    }
    left.security.no_new_privileges = false;
    left.security.label_disable = false;
    left.security.mask.clear();
    left.security.unmask.clear();
    left.security.apparmor = None;
    // Network.
    network(s, &mut put);
    left.network.mode = None;
    left.network.connected.clear();
    left.network.ports.clear();
    left.network.publish_all = false;
    left.network.dns = Default::default();
    if matches!(s.network.mode, Some(NetworkMode::Network { .. }))
        || !s.network.connected.is_empty()
    {
        left.network.aliases.clear();
    }
    // Resources.
    let r = &s.resources;
    let mut limits = Map::new();
    let mut memory = Map::new();
    for (k, v) in [
        ("limit", r.memory),
        ("reservation", r.memory_reservation),
        ("swap", r.memory_swap),
    ] {
        if let Some(v) = v {
            memory.insert(k.to_owned(), json!(v));
        }
    }
    if !memory.is_empty() {
        limits.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = Map::new();
    const PERIOD: u64 = 100_000;
    if let Some(n) = r.nano_cpus {
        cpu.insert(
            "quota".into(),
            json!(n.saturating_mul(PERIOD) / 1_000_000_000),
        );
        cpu.insert("period".into(), json!(PERIOD));
    }
    if let Some(q) = r.cpu_quota {
        cpu.insert("quota".into(), json!(q));
    }
    if let Some(p) = r.cpu_period {
        cpu.insert("period".into(), json!(p));
    }
    if let Some(n) = r.cpu_shares {
        cpu.insert("shares".into(), json!(n));
    }
    if let Some(c) = &r.cpuset_cpus {
        cpu.insert("cpus".into(), json!(c));
    }
    if let Some(m) = &r.cpuset_mems {
        cpu.insert("mems".into(), json!(m));
    }
    if !cpu.is_empty() {
        limits.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = r.pids_limit {
        limits.insert("pids".into(), json!({"limit": p}));
    }
    if !limits.is_empty() {
        put("resource_limits", Value::Object(limits));
    }
    if let Some(n) = r.oom_score_adj {
        put("oom_score_adj", json!(n));
    }
    if let Some(p) = &r.cgroup_parent {
        put("cgroup_parent", json!(p));
    }
    {
        let l = &mut left.resources;
        l.memory = None;
        l.memory_reservation = None;
        l.memory_swap = None;
        l.nano_cpus = None;
        l.cpu_quota = None;
        l.cpu_period = None;
        l.cpu_shares = None;
        l.cpuset_cpus = None;
        l.cpuset_mems = None;
        l.pids_limit = None;
        l.oom_score_adj = None;
        l.cgroup_parent = None;
        if l.cgroups.as_deref() == Some("enabled") {
            l.cgroups = None;
        }
    }
    let rlimits: Vec<Value> = s
        .ulimits
        .limits
        .iter()
        .map(|u| json!({"type": u.kind, "soft": u.soft, "hard": u.hard}))
        .collect();
    put("r_limits", json!(rlimits));
    left.ulimits.limits.clear();
    // The health check; an interval of 0 (`disable`) is the service's
    // default interval in a body, so it is refused below.
    if let Some(h) = &s.health_check {
        let n = |v: Option<u64>| v.unwrap_or(0);
        put(
            "healthconfig",
            json!({
                "Test": h.test, "Interval": n(h.interval_ns), "Timeout": n(h.timeout_ns),
                "StartPeriod": n(h.start_period_ns), "Retries": h.retries.unwrap_or(0),
            }),
        );
        if h.interval_ns != Some(0) {
            left.health_check = None;
        }
    }
    let sdnotify = match s.sdnotify {
        spec::SdNotify::Container => "container",
        spec::SdNotify::Conmon => "conmon",
        spec::SdNotify::Healthy => "healthy",
        spec::SdNotify::Ignore => "ignore",
    };
    put("sdnotifyMode", json!(sdnotify));
    let systemd = match s.systemd {
        spec::SystemdMode::True => "true",
        spec::SystemdMode::False => "false",
        spec::SystemdMode::Always => "always",
    };
    put("systemd", json!(systemd));
    if let Some(r) = &s.rootfs {
        // A directory on the service's host, as with Podman's client.
        put("rootfs", json!(r.path));
        put("rootfs_overlay", json!(r.overlay));
        if r.idmap {
            put("rootfs_mapping", json!(""));
        }
    }
    if let Some(n) = s.shm_size {
        put("shm_size", json!(n));
    }
    put("sysctl", json!(s.sysctls));
    put("dependencyContainers", json!(s.requires));
    put("hostusers", json!(s.host_users));
    put("unsetenv", json!(s.unsetenv));
    put("unsetenvall", json!(s.unsetenv_all));
    if let Some(u) = s.umask {
        put("umask", json!(format!("{u:04o}")));
    }
    let on_failure = match s.health_on_failure {
        spec::HealthOnFailure::None => 0,
        spec::HealthOnFailure::Kill => 1,
        spec::HealthOnFailure::Restart => 2,
        spec::HealthOnFailure::Stop => 3,
    };
    put("health_check_on_failure_action", json!(on_failure));

    // Carried above, or meaningless on the service's side: the client's
    // NOTIFY_SOCKET, and what the engine fills in at create.
    let d = ContainerSpec::default();
    left.version = d.version;
    left.image = d.image.clone();
    left.name = None;
    left.command.clear();
    left.entrypoint = None;
    left.env.clear();
    left.workdir = None;
    left.user = None;
    left.hostname = None;
    left.read_only = false;
    left.tty = false;
    left.interactive = false;
    left.remove = false;
    left.labels.clear();
    left.annotations.clear();
    left.cap_add.clear();
    left.cap_drop.clear();
    left.privileged = false;
    left.init = false;
    left.init_path = None;
    left.stop_signal = None;
    left.stop_timeout = None;
    left.run_timeout = None;
    left.timezone = None;
    left.runtime = None;
    left.monitor_pidfile = None;
    left.pod = None;
    left.group_add.clear();
    left.add_hosts.clear();
    left.restart = d.restart;
    left.log = d.log.clone();
    left.namespaces = d.namespaces.clone();
    left.mounts.clear();
    left.tmpfs.clear();
    left.devices.clear();
    left.sdnotify = d.sdnotify;
    left.notify_socket = None;
    left.systemd = d.systemd;
    left.create_command.clear();
    left.dependencies.clear();
    left.auto_userns = None;
    left.systemd_active = false;
    left.rootfs = None;
    left.shm_size = None;
    left.sysctls.clear();
    left.requires.clear();
    left.host_users.clear();
    left.unsetenv.clear();
    left.unsetenv_all = false;
    left.umask = None;
    left.health_on_failure = d.health_on_failure;
    if let Some(field) = differing(&left, &d)? {
        bail!(
            "{} is not supported by hutch's remote client: run the command on the service's host",
            flag_of(&field)
        );
    }
    Ok(Value::Object(g))
}

pub(super) fn network(s: &ContainerSpec, put: &mut impl FnMut(&str, Value)) {
    let n = &s.network;
    let mut networks = Map::new();
    match &n.mode {
        None => {}
        Some(NetworkMode::None) => put("netns", ns("none", "")),
        Some(NetworkMode::Host) => put("netns", ns("host", "")),
        Some(NetworkMode::Pasta { options }) => put("netns", ns("pasta", &options.join(","))),
        Some(NetworkMode::Slirp4netns { options }) => {
            put("netns", ns("slirp4netns", &options.join(",")))
        }
        Some(NetworkMode::Container { id }) => put("netns", ns("container", id)),
        Some(NetworkMode::Ns { path }) => put("netns", ns("path", &path.to_string_lossy())),
        Some(NetworkMode::Network { name }) => {
            put("netns", ns("bridge", ""));
            networks.insert(name.clone(), json!({}));
        }
    }
    for c in &n.connected {
        networks.insert(c.clone(), json!({}));
    }
    // Podman's aliases are per network; hutch's hold on each of them.
    if !n.aliases.is_empty() {
        for v in networks.values_mut() {
            *v = json!({"aliases": n.aliases});
        }
    }
    if !networks.is_empty() {
        put("Networks", Value::Object(networks));
    }
    let ports: Vec<Value> = n
        .ports
        .iter()
        .map(|p| {
            json!({
                "host_ip": p.host_ip, "container_port": p.container_port,
                "host_port": p.host_port, "range": p.range, "protocol": p.protocol.to_string(),
            })
        })
        .collect();
    put("portmappings", json!(ports));
    put("publish_image_ports", json!(n.publish_all));
    put("dns_server", json!(n.dns.servers));
    put("dns_search", json!(n.dns.search));
    put("dns_option", json!(n.dns.options));
}

/// The first field (`a` or `a.b`) where `left` differs from `default`.
fn differing(left: &ContainerSpec, default: &ContainerSpec) -> anyhow::Result<Option<String>> {
    let l = serde_json::to_value(left)?;
    let d = serde_json::to_value(default)?;
    let (Value::Object(l), Value::Object(d)) = (l, d) else {
        return Ok(None);
    };
    for (k, lv) in &l {
        let dv = d.get(k).unwrap_or(&Value::Null);
        if lv == dv {
            continue;
        }
        if let (Value::Object(lo), Value::Object(dobj)) = (lv, dv) {
            for (sk, sv) in lo {
                let path = format!("{k}.{sk}");
                if dobj.get(sk).unwrap_or(&Value::Null) != sv
                    && FLAGS.iter().any(|(p, _)| *p == path)
                {
                    return Ok(Some(path));
                }
            }
        }
        return Ok(Some(k.clone()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::container::flags::{Caller, CreateFlags};

    #[derive(Debug, Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        f: CreateFlags,
    }

    fn spec_of(args: &[&str]) -> ContainerSpec {
        let t = T::try_parse_from(std::iter::once("t").chain(args.iter().copied())).unwrap();
        let caller = Caller {
            cwd: "/home/u".into(),
            env: [("K".to_string(), "from-client".to_string())].into(),
            read: |_| Ok("FROM_FILE=1\n".into()),
        };
        t.f.spec("busybox", &["sh".to_string()], &caller).unwrap()
    }

    /// The service's reading of the body gives back the client's spec.
    #[test]
    fn the_service_reads_back_what_the_client_meant() {
        let cases: &[&[&str]] = &[
            &[
                "--name",
                "full",
                "-e",
                "A=1",
                "-e",
                "K",
                "--env-file",
                "f.env",
                "-l",
                "app=web",
                "--annotation",
                "a=b",
                "-w",
                "/tmp",
                "-u",
                "1000:1000",
                "--entrypoint",
                "/bin/sh",
                "--hostname",
                "hh",
                "--read-only",
                "--init",
                "--stop-signal",
                "INT",
                "--stop-timeout",
                "3",
                "--timeout",
                "9",
                "--tz",
                "UTC",
                "--rm",
                "-i",
                "-t",
            ],
            &[
                "-v",
                "/srv:/data:ro",
                "-v",
                "vol1:/v",
                "-v",
                "/anon",
                "--mount",
                "type=bind,src=/etc,dst=/hostetc,ro",
                "--tmpfs",
                "/scratch:size=1m",
                "--device",
                "/dev/fuse",
                "--device",
                "/dev/null:/dev/n2:r",
            ],
            &[
                "-p",
                "8080:80",
                "-p",
                "127.0.0.1:9000:90/udp",
                "-p",
                "7000-7001:70-71",
                "--dns",
                "1.1.1.1",
                "--dns-search",
                "ex.com",
                "--dns-option",
                "ndots:2",
                "--add-host",
                "foo;bar:1.2.3.4",
                "--add-host",
                "six:::1",
            ],
            &[
                "--network",
                "host",
                "--pid",
                "host",
                "--ipc",
                "host",
                "--uts",
                "host",
            ],
            &["--network", "none", "--userns", "keep-id:uid=5,gid=6"],
            &[
                "--network",
                "n1",
                "--network",
                "n2",
                "--userns",
                "auto:size=100",
            ],
            &[
                "--network",
                "slirp4netns:allow_host_loopback=true",
                "--userns",
                "nomap",
            ],
            &["--network", "container:abc", "--pid", "container:abc"],
            &[
                "--restart",
                "on-failure:3",
                "--memory",
                "64m",
                "--memory-reservation",
                "32m",
                "--memory-swap",
                "100m",
                "--cpus",
                "1.5",
                "--cpu-shares",
                "512",
                "--cpuset-cpus",
                "0",
                "--pids-limit",
                "100",
                "--oom-score-adj",
                "100",
                "--cgroup-parent",
                "/x",
                "--ulimit",
                "nofile=100:200",
                "--ulimit",
                "nproc=5",
            ],
            &[
                "--cap-add",
                "NET_ADMIN",
                "--cap-drop",
                "CHOWN",
                "--security-opt",
                "no-new-privileges",
                "--security-opt",
                "seccomp=unconfined",
                "--security-opt",
                "mask=/proc/a",
                "--security-opt",
                "unmask=ALL",
                "--security-opt",
                "label=disable",
                "--group-add",
                "10",
            ],
            &[
                "--health-cmd",
                "true",
                "--health-interval",
                "5s",
                "--health-retries",
                "2",
                "--health-timeout",
                "3s",
                "--health-start-period",
                "1s",
                "--sdnotify",
                "conmon",
                "--systemd",
                "always",
                "--log-driver",
                "k8s-file",
                "--log-opt",
                "max-size=1m",
            ],
            &[
                "--restart",
                "always",
                "--pod",
                "p1",
                "--runtime",
                "crun",
                "--privileged",
            ],
            &["--entrypoint", "", "--log-driver", "none", "-P"],
            &[
                "--shm-size",
                "1m",
                "--sysctl",
                "net.ipv4.ip_forward=1",
                "--requires",
                "a",
                "--hostuser",
                "root",
                "--unsetenv",
                "PATH",
                "--unsetenv-all",
                "--umask",
                "0077",
                "--health-cmd",
                "true",
                "--health-on-failure",
                "kill",
                "--health-start-period",
                "1s",
                "--network",
                "n1",
                "--network-alias",
                "web",
            ],
            &[
                "--rootfs",
                "/srv/root:O",
                "--network-alias",
                "x",
                "--network",
                "n",
            ],
            &["--rootfs", "/srv/root:idmap"],
        ];
        for args in cases {
            let mut want = spec_of(args);
            let body = generator(&want).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let text = serde_json::to_vec(&body).unwrap();
            let mut got = crate::api::routes::libpod_create::spec(&text)
                .unwrap_or_else(|e| panic!("{args:?}: {}", e.0));
            // The client's NOTIFY_SOCKET stays on the client's side.
            want.notify_socket = None;
            // Env order: a map in the body.
            want.env.sort();
            got.env.sort();
            // Binds before volumes in the body, as Podman's; the runtime
            // spec orders mounts by depth either way.
            want.mounts
                .sort_by(|a, b| a.destination.cmp(&b.destination));
            got.mounts.sort_by(|a, b| a.destination.cmp(&b.destination));
            assert_eq!(got, want, "{args:?}");
        }
    }

    #[test]
    fn what_cannot_be_carried_is_refused_by_flag() {
        for (args, flag) in [
            (&["--preserve-fds", "2"][..], "--preserve-fds"),
            (&["--uidmap", "0:1:1"], "--uidmap"),
            (&["--network-alias", "x"], "--network-alias"),
            (&["--ulimit", "host"], "--ulimit host"),
            (&["--cpu-weight", "10"], "--cpu-weight"),
            (
                &["--read-only", "--read-only-tmpfs=false"],
                "--read-only-tmpfs",
            ),
            (&["--device", "nvidia.com/gpu=all"], "--device"),
        ] {
            let e = generator(&spec_of(args)).unwrap_err().to_string();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
    }
}
