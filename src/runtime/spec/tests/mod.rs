//! Whole-spec tests of `generate`: the defaults a plain `run` gets and how
//! each flag family changes the result.

use std::path::PathBuf;

use oci_spec::runtime::{Capability, LinuxNamespaceType, Mount, PosixRlimitType, Spec};

use super::*;

mod mounts;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
const GROUP: &str = "root:x:0:\ntty:x:5:\nwheel:x:10:alice\nalice:x:1000:\n";

fn base() -> ContainerConfig {
    ContainerConfig {
        id: "0123456789abcdef0123".to_string(),
        name: "test".to_string(),
        rootfs: PathBuf::from("/var/lib/hutch/c/rootfs"),
        command: vec!["/bin/sh".to_string(), "-c".to_string(), "true".to_string()],
        passwd: Some(PASSWD.to_string()),
        group: Some(GROUP.to_string()),
        ..ContainerConfig::default()
    }
}

fn rootless() -> ContainerConfig {
    ContainerConfig {
        rootless: true,
        ..base()
    }
}

fn host() -> Defaults {
    Defaults {
        nofile: (1024, 524_288),
        nproc: (63_000, 63_000),
        uid: 1000,
        gid: 1000,
        subuid_size: 65536,
        subgid_size: 65536,
        arch: "amd64".to_string(),
        kernel: Some((6, 1, 0)),
        ..Defaults::default()
    }
}

fn spec_for(cfg: &ContainerConfig) -> Spec {
    generate(cfg, &host()).expect("spec generates")
}

fn mount_at<'a>(spec: &'a Spec, dest: &str) -> Option<&'a Mount> {
    spec.mounts()
        .as_ref()
        .expect("mounts")
        .iter()
        .find(|m| m.destination() == &PathBuf::from(dest))
}

fn opts(m: &Mount) -> Vec<String> {
    m.options().clone().unwrap_or_default()
}

fn bounding(spec: &Spec) -> Vec<String> {
    let mut v: Vec<String> = spec
        .process()
        .as_ref()
        .expect("process")
        .capabilities()
        .as_ref()
        .expect("caps")
        .bounding()
        .as_ref()
        .expect("bounding")
        .iter()
        .map(|c| format!("CAP_{c}"))
        .collect();
    v.sort();
    v
}

fn masked(spec: &Spec) -> Vec<String> {
    spec.linux()
        .as_ref()
        .expect("linux")
        .masked_paths()
        .clone()
        .unwrap_or_default()
}

fn readonly(spec: &Spec) -> Vec<String> {
    spec.linux()
        .as_ref()
        .expect("linux")
        .readonly_paths()
        .clone()
        .unwrap_or_default()
}

fn env(spec: &Spec) -> Vec<String> {
    spec.process()
        .as_ref()
        .expect("process")
        .env()
        .clone()
        .unwrap_or_default()
}

fn syscall_actions(spec: &Spec, name: &str) -> Vec<oci_spec::runtime::LinuxSeccompAction> {
    spec.linux()
        .as_ref()
        .expect("linux")
        .seccomp()
        .as_ref()
        .expect("seccomp")
        .syscalls()
        .iter()
        .flatten()
        .filter(|s| s.names().iter().any(|n| n == name))
        .map(|s| s.action())
        .collect()
}

#[test]
fn default_capabilities_are_podmans() {
    let spec = spec_for(&base());
    // containers-common pkg/config/default.go DefaultCapabilities (v0.51+,
    // Podman 4.4 and later).
    let expected: Vec<String> = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(bounding(&spec), expected);
    let caps = spec
        .process()
        .as_ref()
        .expect("process")
        .capabilities()
        .clone()
        .expect("caps");
    assert_eq!(caps.effective(), caps.bounding());
    assert_eq!(caps.ambient().as_ref().map(|a| a.len()), Some(0));
}

#[test]
fn cap_add_drop_reach_the_spec() {
    let mut cfg = base();
    cfg.cap_add = vec!["sys_admin".to_string()];
    cfg.cap_drop = vec!["CAP_KILL".to_string(), "chown".to_string()];
    let b = bounding(&spec_for(&cfg));
    assert!(b.contains(&"CAP_SYS_ADMIN".to_string()));
    assert!(!b.contains(&"CAP_KILL".to_string()) && !b.contains(&"CAP_CHOWN".to_string()));

    cfg.cap_add = vec!["net_raw".to_string()];
    cfg.cap_drop = vec!["all".to_string()];
    assert_eq!(bounding(&spec_for(&cfg)), vec!["CAP_NET_RAW".to_string()]);

    cfg.cap_add = vec!["ALL".to_string()];
    cfg.cap_drop = vec![];
    assert_eq!(bounding(&spec_for(&cfg)).len(), 41);

    cfg.cap_add = vec!["CAP_WARP_DRIVE".to_string()];
    let err = generate(&cfg, &host()).expect_err("unknown cap");
    assert!(err.to_string().contains("CAP_WARP_DRIVE"), "{err}");
}

#[test]
fn non_root_user_keeps_only_added_caps() {
    let mut cfg = base();
    cfg.user = Some("alice".to_string());
    cfg.cap_add = vec!["net_raw".to_string()];
    let spec = spec_for(&cfg);
    let caps = spec
        .process()
        .as_ref()
        .expect("process")
        .capabilities()
        .clone()
        .expect("caps");
    let eff: Vec<_> = caps.effective().clone().expect("eff").into_iter().collect();
    assert_eq!(eff, vec![Capability::NetRaw]);
    assert_eq!(caps.ambient(), caps.effective());
    assert!(
        caps.bounding()
            .as_ref()
            .expect("bounding")
            .contains(&Capability::Chown)
    );
}

#[test]
fn bounding_set_limits_caps_and_privileged_takes_it_all() {
    let mut d = host();
    d.bounding_capabilities = Some(caps::from_mask(0b11)); // CHOWN, DAC_OVERRIDE
    let mut cfg = base();
    let spec = generate(&cfg, &d).expect("generates");
    assert_eq!(
        bounding(&spec),
        vec!["CAP_CHOWN".to_string(), "CAP_DAC_OVERRIDE".to_string()]
    );
    cfg.privileged = true;
    let spec = generate(&cfg, &d).expect("generates");
    assert_eq!(
        bounding(&spec),
        vec!["CAP_CHOWN".to_string(), "CAP_DAC_OVERRIDE".to_string()]
    );
}

#[test]
fn masked_and_readonly_paths_default_privileged_and_adjusted() {
    let spec = spec_for(&base());
    let m = masked(&spec);
    for p in security::DEFAULT_MASKED_PATHS {
        assert!(m.contains(&p.to_string()), "{p} masked");
    }
    assert_eq!(
        readonly(&spec),
        security::DEFAULT_READONLY_PATHS.map(String::from).to_vec()
    );

    let mut cfg = rootless();
    cfg.privileged = true;
    let spec = spec_for(&cfg);
    assert!(masked(&spec).is_empty() && readonly(&spec).is_empty());

    let mut cfg = base();
    cfg.security = SecurityOpts {
        unmask: vec!["/proc/kcore".to_string(), "/proc/sys".to_string()],
        mask: vec!["/etc/secret".to_string()],
        ..SecurityOpts::default()
    };
    let spec = spec_for(&cfg);
    assert!(!masked(&spec).contains(&"/proc/kcore".to_string()));
    assert!(masked(&spec).contains(&"/etc/secret".to_string()));
    assert!(!readonly(&spec).contains(&"/proc/sys".to_string()));
}

#[test]
fn seccomp_default_unconfined_privileged_and_path() {
    let spec = spec_for(&base());
    let sc = spec
        .linux()
        .as_ref()
        .expect("linux")
        .seccomp()
        .clone()
        .expect("seccomp on");
    assert_eq!(sc.default_errno_ret(), Some(38));
    assert_eq!(
        syscall_actions(&spec, "bpf"),
        vec![oci_spec::runtime::LinuxSeccompAction::ScmpActErrno]
    );

    let mut cfg = base();
    cfg.cap_add = vec!["SYS_ADMIN".to_string()];
    assert_eq!(
        syscall_actions(&spec_for(&cfg), "bpf"),
        vec![oci_spec::runtime::LinuxSeccompAction::ScmpActAllow]
    );

    let mut cfg = base();
    cfg.security.seccomp = SeccompChoice::Unconfined;
    assert!(
        spec_for(&cfg)
            .linux()
            .as_ref()
            .expect("linux")
            .seccomp()
            .is_none()
    );

    let mut cfg = base();
    cfg.privileged = true;
    assert!(
        spec_for(&cfg)
            .linux()
            .as_ref()
            .expect("linux")
            .seccomp()
            .is_none()
    );

    let mut cfg = base();
    cfg.security.seccomp = SeccompChoice::Path(PathBuf::from("/etc/my.json"));
    let err = generate(&cfg, &host()).expect_err("not loaded");
    assert!(err.to_string().contains("/etc/my.json"), "{err}");
    let mut d = host();
    d.seccomp_files.insert(
        PathBuf::from("/etc/my.json"),
        r#"{"defaultAction":"SCMP_ACT_LOG"}"#.to_string(),
    );
    let spec = generate(&cfg, &d).expect("generates");
    let sc = spec
        .linux()
        .as_ref()
        .expect("linux")
        .seccomp()
        .clone()
        .expect("seccomp");
    assert_eq!(
        sc.default_action(),
        oci_spec::runtime::LinuxSeccompAction::ScmpActLog
    );
    d.seccomp_files
        .insert(PathBuf::from("/etc/my.json"), "{".to_string());
    let err = generate(&cfg, &d).expect_err("bad json");
    assert!(err.to_string().contains("/etc/my.json"), "{err}");
}

#[test]
fn no_new_privileges_off_by_default() {
    let spec = spec_for(&base());
    assert_eq!(
        spec.process()
            .as_ref()
            .expect("process")
            .no_new_privileges(),
        Some(false)
    );
    let mut cfg = base();
    cfg.security.no_new_privileges = true;
    assert_eq!(
        spec_for(&cfg)
            .process()
            .as_ref()
            .expect("process")
            .no_new_privileges(),
        Some(true)
    );
}

#[test]
fn rlimits_come_from_defaults() {
    let spec = spec_for(&rootless());
    let rl = spec
        .process()
        .as_ref()
        .expect("process")
        .rlimits()
        .clone()
        .expect("rlimits");
    let nofile = rl
        .iter()
        .find(|r| r.typ() == PosixRlimitType::RlimitNofile)
        .expect("nofile");
    assert_eq!((nofile.soft(), nofile.hard()), (1024, 524_288));
    let spec = spec_for(&base());
    let rl = spec
        .process()
        .as_ref()
        .expect("process")
        .rlimits()
        .clone()
        .expect("rlimits");
    let nofile = rl
        .iter()
        .find(|r| r.typ() == PosixRlimitType::RlimitNofile)
        .expect("nofile");
    assert_eq!((nofile.soft(), nofile.hard()), (1_048_576, 1_048_576));
}

#[test]
fn user_resolution_reaches_process_user() {
    let mut cfg = base();
    cfg.user = Some("alice".to_string());
    cfg.group_add = vec!["tty".to_string()];
    let spec = spec_for(&cfg);
    let u = spec.process().as_ref().expect("process").user().clone();
    assert_eq!((u.uid(), u.gid()), (1000, 1000));
    assert_eq!(u.additional_gids().as_deref(), Some(&[10, 5][..]));
    assert!(env(&spec).contains(&"HOME=/home/alice".to_string()));

    cfg.user = Some("bob".to_string());
    let err = generate(&cfg, &host()).expect_err("unknown user");
    assert!(err.to_string().contains("\"bob\""), "{err}");
}

#[test]
fn keep_id_rootless() {
    let mut cfg = rootless();
    cfg.userns = UsernsMode::KeepId {
        uid: None,
        gid: None,
        size: None,
    };
    let spec = spec_for(&cfg);
    let linux = spec.linux().as_ref().expect("linux");
    let uids = linux.uid_mappings().as_ref().expect("uid map");
    let triples: Vec<(u32, u32, u32)> = uids
        .iter()
        .map(|m| (m.container_id(), m.host_id(), m.size()))
        .collect();
    assert_eq!(
        triples,
        vec![(0, 1, 1000), (1000, 0, 1), (1001, 1001, 64536)]
    );
    assert!(
        linux
            .namespaces()
            .as_ref()
            .expect("ns")
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User)
    );
    let u = spec.process().as_ref().expect("process").user().clone();
    assert_eq!((u.uid(), u.gid()), (1000, 1000));
    // keep-id runs as a non-root user: no effective capabilities.
    let caps = spec
        .process()
        .as_ref()
        .expect("process")
        .capabilities()
        .clone()
        .expect("caps");
    assert_eq!(caps.effective().as_ref().map(|e| e.len()), Some(0));
}

#[test]
fn host_userns_rootless_has_no_user_namespace() {
    let spec = spec_for(&rootless());
    let linux = spec.linux().as_ref().expect("linux");
    assert!(linux.uid_mappings().is_none());
    assert!(
        linux
            .namespaces()
            .as_ref()
            .expect("ns")
            .iter()
            .all(|n| n.typ() != LinuxNamespaceType::User)
    );
    // Rootless containers get no device cgroup rules, only Podman's
    // default pids limit (this host fixture has a usable cgroup).
    let res = linux.resources().as_ref().expect("resources");
    assert!(res.devices().is_none());
    assert_eq!(res.pids().as_ref().map(|p| p.limit()), Some(2048));
}

#[test]
fn hostname_env_workdir_terminal() {
    let mut cfg = base();
    cfg.env = vec![
        "FOO=bar".to_string(),
        "FOO=baz".to_string(),
        "PATH=/opt/bin".to_string(),
    ];
    cfg.workdir = Some("/work".to_string());
    cfg.terminal = true;
    let spec = spec_for(&cfg);
    assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));
    let e = env(&spec);
    assert!(e.contains(&"FOO=baz".to_string()) && !e.contains(&"FOO=bar".to_string()));
    assert!(e.contains(&"PATH=/opt/bin".to_string()));
    assert!(e.contains(&"TERM=xterm".to_string()));
    assert!(e.contains(&"HOSTNAME=0123456789ab".to_string()));
    assert!(e.contains(&"container=podman".to_string()));
    let p = spec.process().as_ref().expect("process");
    assert_eq!(p.cwd(), &PathBuf::from("/work"));
    assert_eq!(p.terminal(), Some(true));

    cfg.hostname = Some("box".to_string());
    assert_eq!(spec_for(&cfg).hostname().as_deref(), Some("box"));
    cfg.uts = NamespaceMode::Host;
    assert!(matches!(
        generate(&cfg, &host()),
        Err(SpecError::HostnameNeedsUts)
    ));
    cfg.hostname = None;
    assert!(spec_for(&cfg).hostname().is_none());

    let mut cfg = base();
    cfg.workdir = Some("relative".to_string());
    assert!(matches!(
        generate(&cfg, &host()),
        Err(SpecError::RelativeWorkdir(_))
    ));
    let e = env(&spec_for(&base()));
    assert!(e.contains(&DEFAULT_PATH.to_string()));
    assert!(!e.iter().any(|v| v.starts_with("TERM=")));
}

#[test]
fn init_namespaces_cgroups_and_annotations() {
    let mut cfg = base();
    cfg.init = Some(PathBuf::from("/usr/libexec/podman/catatonit"));
    cfg.stop_signal = Some("SIGINT".to_string());
    cfg.net = NamespaceMode::Container { pid: 4242 };
    cfg.ipc = NamespaceMode::Path(PathBuf::from("/run/netns/x"));
    cfg.cgroup_path = Some("user.slice:hutch:abc".to_string());
    cfg.oom_score_adj = Some(500);
    let spec = spec_for(&cfg);
    let args = spec
        .process()
        .as_ref()
        .expect("process")
        .args()
        .clone()
        .expect("args");
    assert_eq!(&args[..3], ["/run/podman-init", "--", "/bin/sh"]);
    let init = mount_at(&spec, "/run/podman-init").expect("init bind");
    assert!(opts(init).contains(&"ro".to_string()));
    let ann = spec.annotations().as_ref().expect("annotations");
    assert_eq!(ann.get(ANNOTATION_INIT).map(String::as_str), Some("TRUE"));
    assert_eq!(
        ann.get(ANNOTATION_STOP_SIGNAL).map(String::as_str),
        Some("SIGINT")
    );
    let linux = spec.linux().as_ref().expect("linux");
    let ns = linux.namespaces().as_ref().expect("ns");
    let net = ns
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)
        .expect("net");
    assert_eq!(
        net.path().as_deref(),
        Some(std::path::Path::new("/proc/4242/ns/net"))
    );
    let ipc = ns
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Ipc)
        .expect("ipc");
    assert_eq!(
        ipc.path().as_deref(),
        Some(std::path::Path::new("/run/netns/x"))
    );
    assert!(ns.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup));
    assert_eq!(
        linux.cgroups_path().as_deref(),
        Some(std::path::Path::new("user.slice:hutch:abc"))
    );
    assert_eq!(
        spec.process().as_ref().expect("process").oom_score_adj(),
        Some(500)
    );

    cfg.cgroups = CgroupsMode::Disabled;
    let spec = spec_for(&cfg);
    let linux = spec.linux().as_ref().expect("linux");
    assert!(linux.cgroups_path().is_none() && linux.resources().is_none());

    let mut cfg = base();
    cfg.init = Some(PathBuf::from("/init"));
    cfg.pid = NamespaceMode::Host;
    assert!(matches!(
        generate(&cfg, &host()),
        Err(SpecError::InitNeedsPrivatePid)
    ));
}

#[test]
fn empty_command_is_an_error() {
    let mut cfg = base();
    cfg.command.clear();
    assert!(matches!(generate(&cfg, &host()), Err(SpecError::NoCommand)));
}

#[test]
fn json_has_what_crun_needs() {
    let spec = spec_for(&rootless());
    let text = serde_json::to_string_pretty(&spec).expect("serialises");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let version = v["ociVersion"].as_str().expect("ociVersion");
    assert!(
        version == "1.0.2-dev" || version.starts_with("1.1"),
        "{version}"
    );
    let args = v["process"]["args"].as_array().expect("args");
    assert!(!args.is_empty());
    assert_eq!(v["root"]["path"], "/var/lib/hutch/c/rootfs");
    assert_eq!(v["process"]["cwd"], "/");
    assert!(v["process"]["user"]["uid"].is_u64());
    assert!(
        v["linux"]["namespaces"]
            .as_array()
            .expect("ns")
            .iter()
            .any(|n| n["type"] == "mount")
    );
    assert!(
        v["mounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .all(|m| m["destination"].is_string())
    );
    assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(
        v["process"]["capabilities"]["bounding"]
            .as_array()
            .expect("caps")[0]
            .as_str()
            .expect("cap name")
            .starts_with("CAP_")
    );
    assert_eq!(v["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
    // Nothing of oci-spec's own defaults leaks in.
    assert_ne!(v["hostname"], "youki");
    // And it reads back.
    let back: Spec = serde_json::from_str(&text).expect("round trip");
    assert_eq!(back, spec);
}

#[test]
fn request_round_trips_through_serde() {
    let mut cfg = rootless();
    cfg.userns = UsernsMode::KeepId {
        uid: Some(1),
        gid: None,
        size: None,
    };
    cfg.net = NamespaceMode::Container { pid: 7 };
    cfg.mounts = vec![MountRequest::Tmpfs {
        destination: "/t".to_string(),
        options: vec![],
    }];
    let text = serde_json::to_string(&cfg).expect("serialises");
    let back: ContainerConfig = serde_json::from_str(&text).expect("deserialises");
    assert_eq!(back, cfg);
    // Missing fields take the defaults, including read_only_tmpfs = true.
    let minimal: ContainerConfig = serde_json::from_str(r#"{"command":["sh"]}"#).expect("minimal");
    assert!(minimal.read_only_tmpfs);
}

#[test]
fn limits_reach_linux_resources_only_with_a_cgroup() {
    let mut cfg = rootless();
    cfg.resources.memory = Some(64 << 20);
    cfg.resources.nano_cpus = Some(500_000_000);
    cfg.cgroup_path = Some("/user.slice/hutch-x.scope/container".to_string());
    let spec = spec_for(&cfg);
    let linux = spec.linux().as_ref().expect("linux");
    let res = linux.resources().as_ref().expect("resources");
    assert_eq!(res.memory().and_then(|m| m.limit()), Some(64 << 20));
    assert_eq!(res.cpu().as_ref().and_then(|c| c.quota()), Some(50_000));
    assert_eq!(
        linux.cgroups_path().as_deref(),
        Some(std::path::Path::new("/user.slice/hutch-x.scope/container"))
    );
    cfg.cgroups = CgroupsMode::Disabled;
    let spec = spec_for(&cfg);
    let linux = spec.linux().as_ref().expect("linux");
    assert!(linux.resources().is_none());
    assert!(linux.cgroups_path().is_none());
}

#[test]
fn systemd_mode_mounts_and_the_notify_socket() {
    let mut cfg = rootless();
    cfg.systemd = Some(SystemdSetup {
        cgroup_v1_systemd: true,
    });
    cfg.notify_dir = Some(PathBuf::from("/run/user/1000/hutch/n/0123456789ab"));
    cfg.mounts = vec![MountRequest::Tmpfs {
        destination: "/tmp".to_string(),
        options: vec!["size=1m".to_string()],
    }];
    // cgroup v2 with a private cgroup namespace: its own, writable.
    let spec = spec_for(&cfg);
    for dest in ["/run", "/run/lock", "/var/log/journal"] {
        let m = mount_at(&spec, dest).unwrap_or_else(|| panic!("{dest}"));
        assert_eq!(m.typ().as_deref(), Some("tmpfs"), "{dest}");
        assert!(opts(m).contains(&"tmpcopyup".to_string()), "{dest}");
    }
    // The user's /tmp stays theirs.
    let tmp = mount_at(&spec, "/tmp").expect("/tmp");
    assert!(opts(tmp).iter().any(|o| o.starts_with("size=")));
    let cg = mount_at(&spec, "/sys/fs/cgroup").expect("cgroup");
    assert_eq!(cg.typ().as_deref(), Some("cgroup"));
    assert_eq!(opts(cg), ["private", "rw"]);
    let n = mount_at(&spec, "/run/notify").expect("notify dir");
    assert_eq!(
        n.source().as_deref(),
        Some(std::path::Path::new("/run/user/1000/hutch/n/0123456789ab"))
    );
    assert!(env(&spec).contains(&"NOTIFY_SOCKET=/run/notify/notify.sock".to_string()));
    // /run before /run/notify: parents mount first.
    let dests: Vec<String> = spec
        .mounts()
        .as_ref()
        .expect("mounts")
        .iter()
        .map(crate::runtime::spec::mounts::destination_of)
        .collect();
    let pos = |d: &str| dests.iter().position(|x| x == d).expect(d);
    assert!(pos("/run") < pos("/run/notify"));

    // cgroup v1: systemd's named hierarchy bound, its release_agent masked.
    let v1 = Defaults {
        cgroup_v2: false,
        ..host()
    };
    let spec = generate(&cfg, &v1).expect("spec generates");
    let sd = mount_at(&spec, "/sys/fs/cgroup/systemd").expect("systemd hierarchy");
    assert_eq!(sd.typ().as_deref(), Some("bind"));
    assert!(masked(&spec).contains(&"/sys/fs/cgroup/systemd/release_agent".to_string()));

    // Without systemd mode none of it.
    let spec = spec_for(&rootless());
    assert!(mount_at(&spec, "/run/lock").is_none());
    assert!(mount_at(&spec, "/run/notify").is_none());
    assert!(!env(&spec).iter().any(|e| e.starts_with("NOTIFY_SOCKET=")));
}
