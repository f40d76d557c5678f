//! The pieces a container is made of, put together for real before the
//! `run` command exists: an image from the store, mounted inside the user's
//! namespace, a spec from the generator, and runc running it as the
//! unprivileged user.

mod common;

use std::fs;

use common::images::*;
use common::*;
use hutch::runtime::spec::{self, CgroupsMode, ContainerConfig, Defaults};

fn rlimit(resource: libc::__rlimit_resource_t) -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    unsafe { libc::getrlimit(resource, &mut r) };
    (r.rlim_cur, r.rlim_max)
}

#[test]
fn generated_spec_runs_an_image_under_runc_as_the_user() {
    if !std::path::Path::new("/usr/bin/runc").exists() {
        eprintln!("skipped: runc not installed");
        return;
    }
    let env = TestEnv::new(TestUser::default_user());
    let tar = write_readable(&env.root, "bb.tar.gz", &gzip(&busybox_rootfs()));
    env.ok(["import", tar.to_str().unwrap(), "busybox"]);
    let rootfs = env.ok(["image", "mount", "busybox"]).trim().to_owned();

    let cfg = ContainerConfig {
        id: "smoke".into(),
        name: "smoke".into(),
        rootfs: rootfs.into(),
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo hi from $(id -u); cat /proc/self/status | grep CapEff".into(),
        ],
        read_only: true,
        rootless: true,
        cgroups: CgroupsMode::Disabled,
        ..ContainerConfig::default()
    };
    let size = env
        .user
        .sub_range("/etc/subuid")
        .map_or(0, |(_, count)| count);
    let defaults = Defaults {
        nofile: rlimit(libc::RLIMIT_NOFILE),
        nproc: rlimit(libc::RLIMIT_NPROC),
        cgroup_v2: false,
        cgroup_path_usable: false,
        uid: env.user.uid,
        gid: env.user.gid,
        subuid_size: size,
        subgid_size: size,
        ..Defaults::default()
    };
    let generated = spec::generate(&cfg, &defaults).expect("spec");
    let bundle = env.home.join("bundle");
    fs::create_dir(&bundle).unwrap();
    fs::write(
        bundle.join("config.json"),
        serde_json::to_vec(&generated).unwrap(),
    )
    .unwrap();
    for p in [&bundle, &bundle.join("config.json")] {
        chown(p, env.user.uid, env.user.gid);
    }
    let state = env.home.join("runc-state");
    let out = env.run([
        "unshare",
        "runc",
        "--root",
        state.to_str().unwrap(),
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        "smoke",
    ]);
    assert!(out.status.success(), "runc failed: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("hi from 0"), "{text}");
    // Podman's default capability set, nothing more.
    assert!(text.contains("CapEff:\t00000000800405fb"), "{text}");
    env.ok(["image", "unmount", "busybox"]);
}
