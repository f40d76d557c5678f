//! Whole-spec tests of the mount list and devices: the defaults, how
//! rootless and user-namespaced containers change them, and user mounts.

use std::path::PathBuf;

use super::*;

#[test]
fn read_only_root_gets_podmans_tmpfs() {
    let mut cfg = base();
    cfg.read_only = true;
    let spec = spec_for(&cfg);
    assert_eq!(spec.root().as_ref().expect("root").readonly(), Some(true));
    for dest in ["/tmp", "/var/tmp", "/run"] {
        let m = mount_at(&spec, dest).unwrap_or_else(|| panic!("{dest} tmpfs"));
        assert_eq!(m.typ().as_deref(), Some("tmpfs"));
        assert_eq!(
            opts(m),
            ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup", "noexec"]
        );
    }

    cfg.read_only_tmpfs = false;
    assert!(mount_at(&spec_for(&cfg), "/tmp").is_none());

    // A user mount at one of them wins.
    cfg.read_only_tmpfs = true;
    cfg.mounts = vec![MountRequest::Tmpfs {
        destination: "/tmp".to_string(),
        options: vec!["size=1m".to_string()],
    }];
    let spec = spec_for(&cfg);
    assert!(opts(mount_at(&spec, "/tmp").expect("user tmpfs")).contains(&"size=1m".to_string()));
    assert!(mount_at(&spec, "/run").is_some());

    assert!(mount_at(&spec_for(&base()), "/tmp").is_none());
}

#[test]
fn default_mounts_rootful() {
    let spec = spec_for(&base());
    let order: Vec<String> = spec
        .mounts()
        .as_ref()
        .expect("mounts")
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "/proc",
            "/dev",
            "/sys",
            "/dev/pts",
            "/dev/mqueue",
            "/dev/shm",
            "/sys/fs/cgroup"
        ]
    );
    let dev = mount_at(&spec, "/dev").expect("/dev");
    assert_eq!(
        opts(dev),
        ["nosuid", "strictatime", "mode=755", "size=65536k"]
    );
    let pts = mount_at(&spec, "/dev/pts").expect("/dev/pts");
    assert_eq!(
        opts(pts),
        [
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5"
        ]
    );
    let shm = mount_at(&spec, "/dev/shm").expect("/dev/shm");
    assert_eq!(
        opts(shm),
        ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
    );
    let sys = mount_at(&spec, "/sys").expect("/sys");
    assert_eq!(sys.typ().as_deref(), Some("sysfs"));
    assert!(opts(sys).contains(&"ro".to_string()));
    let cg = mount_at(&spec, "/sys/fs/cgroup").expect("cgroup");
    assert_eq!(cg.typ().as_deref(), Some("cgroup"));
    assert!(opts(cg).contains(&"ro".to_string()));
}

#[test]
fn rootless_mounts_follow_podman() {
    // Private netns: a fresh sysfs can be mounted.
    let spec = spec_for(&rootless());
    assert_eq!(
        mount_at(&spec, "/sys").expect("/sys").typ().as_deref(),
        Some("sysfs")
    );
    // gid 5 exists in the pause namespace (65536 subgids), so devpts keeps it.
    assert!(opts(mount_at(&spec, "/dev/pts").expect("pts")).contains(&"gid=5".to_string()));

    // Host network: only the host's /sys can be bound, and /sys/kernel is
    // masked.
    let mut cfg = rootless();
    cfg.net = NamespaceMode::Host;
    let spec = spec_for(&cfg);
    let sys = mount_at(&spec, "/sys").expect("/sys");
    assert_eq!(sys.typ().as_deref(), Some("bind"));
    assert!(opts(sys).contains(&"rbind".to_string()) && opts(sys).contains(&"ro".to_string()));
    assert_eq!(
        mount_at(&spec, "/sys/fs/cgroup")
            .expect("cg")
            .typ()
            .as_deref(),
        Some("bind")
    );
    assert!(masked(&spec).contains(&"/sys/kernel".to_string()));
    assert!(
        spec.linux()
            .as_ref()
            .expect("linux")
            .namespaces()
            .as_ref()
            .expect("ns")
            .iter()
            .all(|n| n.typ() != LinuxNamespaceType::Network)
    );

    // Single-id mode: no gid 5.
    let mut d = host();
    d.subgid_size = 0;
    d.subuid_size = 0;
    let spec = generate(&rootless(), &d).expect("generates");
    assert!(!opts(mount_at(&spec, "/dev/pts").expect("pts")).contains(&"gid=5".to_string()));

    // Host pid and ipc in a user namespace: bind the host's /proc and mqueue.
    let mut cfg = rootless();
    cfg.pid = NamespaceMode::Host;
    cfg.ipc = NamespaceMode::Host;
    let spec = spec_for(&cfg);
    assert_eq!(
        mount_at(&spec, "/proc").expect("proc").typ().as_deref(),
        Some("bind")
    );
    assert_eq!(
        mount_at(&spec, "/dev/mqueue").expect("mq").typ().as_deref(),
        Some("bind")
    );
}

#[test]
fn bind_mounts_and_volumes() {
    let mut cfg = base();
    cfg.mounts = vec![
        MountRequest::Bind {
            source: PathBuf::from("/home/alice/src"),
            destination: "/src/".to_string(),
            options: vec!["ro".to_string(), "Z".to_string(), "U".to_string()],
            source_flags: SourceFlags {
                nosuid: true,
                nodev: true,
                noexec: false,
            },
        },
        MountRequest::Volume {
            name: "data".to_string(),
            source: PathBuf::from("/vol/data/_data"),
            destination: "/data".to_string(),
            options: vec![],
            source_flags: SourceFlags::default(),
        },
    ];
    assert!(cfg.mounts[0].wants_chown());
    assert_eq!(cfg.mounts[0].relabel(), Some(config::Relabel::Private));
    let spec = spec_for(&cfg);
    let src = mount_at(&spec, "/src").expect("bind");
    assert_eq!(
        src.source().as_deref(),
        Some(std::path::Path::new("/home/alice/src"))
    );
    assert_eq!(opts(src), ["ro", "rprivate", "nosuid", "nodev", "rbind"]);
    assert_eq!(
        opts(mount_at(&spec, "/data").expect("volume")),
        ["rprivate", "rbind"]
    );

    // A user mount replaces the default one at the same place.
    let mut cfg = base();
    cfg.mounts = vec![MountRequest::Tmpfs {
        destination: "/dev/shm".to_string(),
        options: vec!["size=1g".to_string()],
    }];
    let spec = spec_for(&cfg);
    let shms: Vec<_> = spec
        .mounts()
        .as_ref()
        .expect("mounts")
        .iter()
        .filter(|m| m.destination() == &PathBuf::from("/dev/shm"))
        .collect();
    assert_eq!(shms.len(), 1);
    assert!(opts(shms[0]).contains(&"size=1g".to_string()));

    let mut cfg = base();
    let tmpfs = |d: &str| MountRequest::Tmpfs {
        destination: d.to_string(),
        options: Vec::new(),
    };
    cfg.mounts = vec![tmpfs("/x"), tmpfs("/x/")];
    let err = generate(&cfg, &host()).expect_err("duplicate");
    assert!(err.to_string().contains("/x"), "{err}");
}

#[test]
fn devices_rootful_and_rootless() {
    let mut cfg = base();
    let mut fuse = DeviceRequest {
        host_path: PathBuf::from("/dev/fuse"),
        container_path: PathBuf::from("/dev/fuse"),
        permissions: "rwm".to_string(),
        node: None,
    };
    fuse.node = Some(DeviceNode {
        kind: DeviceKind::Char,
        major: 10,
        minor: 229,
        file_mode: Some(0o666),
        uid: Some(0),
        gid: Some(0),
    });
    cfg.devices = vec![fuse.clone()];
    let spec = spec_for(&cfg);
    let linux = spec.linux().as_ref().expect("linux");
    let nodes = linux.devices().as_ref().expect("devices");
    let paths: Vec<_> = nodes
        .iter()
        .map(|d| d.path().display().to_string())
        .collect();
    for p in [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
        "/dev/fuse",
    ] {
        assert!(paths.contains(&p.to_string()), "{p}");
    }
    let rules = linux
        .resources()
        .as_ref()
        .expect("resources")
        .devices()
        .clone()
        .expect("rules");
    assert!(!rules[0].allow(), "deny-all first");
    assert!(
        rules
            .iter()
            .any(|r| r.allow() && r.major() == Some(10) && r.minor() == Some(229))
    );

    let mut cfg = rootless();
    fuse.node = None;
    cfg.devices = vec![fuse];
    let spec = spec_for(&cfg);
    assert!(spec.linux().as_ref().expect("linux").devices().is_none());
    let m = mount_at(&spec, "/dev/fuse").expect("bind-mounted");
    assert_eq!(m.typ().as_deref(), Some("bind"));
    assert!(opts(m).contains(&"rw".to_string()));
}
