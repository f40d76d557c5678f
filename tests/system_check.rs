//! `hutch system check`: one finding per host fact with its fix, the exit
//! status saying whether containers can run, and the storage integrity
//! check with `--repair`. What a test cannot make real (an AppArmor
//! sysctl, an NFS home) goes through the documented test hooks
//! `HUTCH_TEST_PROC_SYS_DIR` and `HUTCH_TEST_FSTYPE`.

mod common;

use std::path::Path;

use common::images::busybox_env;
use common::*;
use serde_json::Value;

/// `system check --format json` with its exit code.
fn check_json(env: &TestEnv, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["system", "check", "--format", "json"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "system check json: {e}\nstdout: {}\nstderr: {}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code(), json)
}

/// The findings named `check`.
fn findings<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

fn one<'a>(report: &'a Value, check: &str) -> &'a Value {
    let found = findings(report, check);
    assert_eq!(found.len(), 1, "one {check} finding in {report:#}");
    found[0]
}

#[test]
fn a_usable_host_passes_with_every_finding_listed() {
    let env = TestEnv::new(TestUser::default_user());
    let out = env.run(["system", "check"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("hutch can run containers here"), "{text}");
    let (code, report) = check_json(&env, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(report["canRunContainers"], Value::Bool(true));
    for check in [
        "subuid",
        "subgid",
        "newuidmap",
        "newgidmap",
        "max_user_namespaces",
        "apparmor",
        "selinux",
        "graphroot",
        "runroot",
        "xdg_runtime_dir",
        "linger",
        "cgroups",
        "fuse",
        "tun",
        "runtime",
        "network",
        "storage",
    ] {
        let f = one(&report, check);
        assert_ne!(f["status"], "error", "{f}");
    }
    assert_eq!(one(&report, "subuid")["status"], "ok");
    assert!(
        one(&report, "runtime")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("crun") || d.contains("runc")),
        "{report:#}"
    );
    assert!(
        one(&report, "storage")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nothing missing")),
        "{report:#}"
    );
}

#[test]
fn missing_ranges_are_a_warning_with_the_usermod_fix() {
    let Some(user) = TestUser::named(NOSUB_USER) else {
        return;
    };
    let env = TestEnv::new(user);
    let (code, report) = check_json(&env, &[]);
    // A single-id mapping still runs containers.
    assert_eq!(code, Some(0), "{report:#}");
    for check in ["subuid", "subgid"] {
        let f = one(&report, check);
        assert_eq!(f["status"], "warning", "{f}");
        assert!(
            f["detail"]
                .as_str()
                .is_some_and(|d| d.contains("no range for hutch-nosub")),
            "{f}"
        );
        assert!(
            f["fix"]
                .as_str()
                .is_some_and(|d| d.contains("usermod --add-subuids")),
            "{f}"
        );
    }
}

#[test]
fn newuidmap_without_the_setuid_bit_is_an_error() {
    if !is_root() {
        eprintln!("skipped: needs root to copy newuidmap");
        return;
    }
    let mut env = TestEnv::new(TestUser::default_user());
    let bin = env.root.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for name in ["newuidmap", "newgidmap"] {
        let real = ["/usr/bin", "/usr/sbin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
            .expect("newuidmap installed");
        let copy = bin.join(name);
        std::fs::copy(&real, &copy).unwrap();
        // A copy loses the setuid bit (and any file capability).
        std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    env.vars.push((
        "PATH".into(),
        format!(
            "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            bin.display()
        ),
    ));
    let out = env.run(["system", "check"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(125), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("error") && l.contains("newuidmap "))
        .unwrap_or_else(|| panic!("no newuidmap error line:\n{text}"));
    assert!(
        line.contains("neither setuid root nor carrying file capabilities")
            && line.contains("fix: ")
            && line.contains("chmod u+s"),
        "{line}"
    );
    assert!(text.contains("hutch cannot run containers here"), "{text}");
    assert!(
        env.pause_pids().is_empty(),
        "a check that found the helper unusable must not try to make the namespace"
    );
}

/// A directory the sysctl hook reads, with `files` as (key, value).
fn proc_sys(env: &TestEnv, files: &[(&str, &str)]) -> String {
    let dir = env.root.join("proc-sys");
    for (key, value) in files {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{value}\n")).unwrap();
    }
    // Readable by the test user: the test root is 0755.
    for d in walk_dirs(&dir) {
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    dir.display().to_string()
}

fn walk_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk_dirs(&e.path()));
        }
    }
    out
}

#[test]
fn apparmor_restriction_is_an_error_with_the_sysctl_fix() {
    let mut env = TestEnv::new(TestUser::default_user());
    let dir = proc_sys(
        &env,
        &[("kernel/apparmor_restrict_unprivileged_userns", "1")],
    );
    env.vars.push(("HUTCH_TEST_PROC_SYS_DIR".into(), dir));
    let (code, report) = check_json(&env, &[]);
    assert_eq!(code, Some(125), "{report:#}");
    assert_eq!(report["canRunContainers"], Value::Bool(false));
    let out = env.run(["system", "check"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).starts_with("Error: hutch cannot run containers here"),
        "{}",
        stderr(&out)
    );
    let f = one(&report, "apparmor");
    assert_eq!(f["status"], "error", "{f}");
    assert!(
        f["fix"].as_str().is_some_and(|x| x
            .contains("kernel.apparmor_restrict_unprivileged_userns=0")
            && x.contains("userns,")),
        "{f}"
    );
    // Keys the hook does not hold still come from /proc/sys.
    assert_ne!(one(&report, "max_user_namespaces")["status"], "error");
    assert!(env.pause_pids().is_empty(), "no namespace attempted");
}

#[test]
fn zero_user_namespaces_is_an_error() {
    let mut env = TestEnv::new(TestUser::default_user());
    let dir = proc_sys(&env, &[("user/max_user_namespaces", "0")]);
    env.vars.push(("HUTCH_TEST_PROC_SYS_DIR".into(), dir));
    let (code, report) = check_json(&env, &[]);
    assert_eq!(code, Some(125));
    let f = one(&report, "max_user_namespaces");
    assert_eq!(f["status"], "error", "{f}");
    assert!(
        f["fix"]
            .as_str()
            .is_some_and(|x| x.contains("user.max_user_namespaces=")),
        "{f}"
    );
}

#[test]
fn graphroot_configured_on_nfs_is_an_error_naming_the_file_system() {
    let mut env = TestEnv::new(TestUser::default_user());
    let shared = env.home.join("nfs-store");
    let conf_dir = env.home.join(".config/containers");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("storage.conf"),
        format!("[storage]\ngraphroot = \"{}\"\n", shared.display()),
    )
    .unwrap();
    for d in [env.home.join(".config"), conf_dir] {
        chown(&d, env.user.uid, env.user.gid);
    }
    env.vars.push((
        "HUTCH_TEST_FSTYPE".into(),
        format!("{}=nfs", env.home.display()),
    ));
    let (code, report) = check_json(&env, &[]);
    assert_eq!(code, Some(125), "{report:#}");
    let f = one(&report, "graphroot");
    assert_eq!(f["status"], "error", "{f}");
    assert!(
        f["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nfs") && d.contains(&shared.display().to_string())),
        "{f}"
    );
    assert!(
        f["fix"].as_str().is_some_and(|x| x.contains("graphroot")),
        "{f}"
    );
}

/// The store's layer directories (chain id hex), as root sees them.
fn layer_dirs(root: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(root.join("layers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.len() == 64)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_broken_layer_is_reported_and_repair_removes_it_and_its_image() {
    let env = busybox_env(&[]);
    let store = env.home.join(".local/share/hutch/storage");
    let layers = layer_dirs(&store);
    assert_eq!(layers.len(), 1, "{layers:?}");
    // The layer's content goes, as a full disk or a killed cleanup might
    // leave it; its files belong to mapped ids, so removed from inside.
    let diff = layers[0].join("diff");
    env.ok(["unshare", "rm", "-rf", &diff.display().to_string()]);

    let (code, report) = check_json(&env, &[]);
    assert_eq!(code, Some(125), "{report:#}");
    assert_eq!(
        report["canRunContainers"],
        Value::Bool(true),
        "damage is not a host problem"
    );
    // Podman's own last line, on stderr.
    let out = env.run(["system", "check"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Error: damage detected in local storage"),
        "{}",
        stderr(&out)
    );
    let storage = findings(&report, "storage");
    let details: Vec<&str> = storage
        .iter()
        .filter_map(|f| f["detail"].as_str())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("layer ") && d.contains("content (diff/) is missing")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("image ") && d.contains("is damaged")),
        "{details:?}"
    );
    assert!(storage.iter().all(|f| f["status"] == "error"));

    let out = env.run(["system", "check", "--repair"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.lines()
            .any(|l| l.starts_with("repaired removed layer ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("repaired removed image ")),
        "{text}"
    );
    assert!(!layers[0].exists(), "the broken layer is gone");
    assert_eq!(
        env.ok(["images", "-q"]).trim(),
        "",
        "the damaged image is gone"
    );
    let (code, report) = check_json(&env, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(one(&report, "storage")["status"], "ok");
}

#[test]
fn repair_leaves_an_image_a_container_uses_unless_forced() {
    let env = busybox_env(&[]);
    env.ok(["create", "--name", "c1", "busybox", "true"]);
    let store = env.home.join(".local/share/hutch/storage");
    let layers = layer_dirs(&store);
    env.ok([
        "unshare",
        "rm",
        "-rf",
        &layers[0].join("diff").display().to_string(),
    ]);
    let (code, report) = check_json(&env, &["--repair"]);
    assert_eq!(code, Some(125), "{report:#}");
    assert!(
        findings(&report, "storage").iter().any(|f| f["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("container "))
            && f["fix"].as_str().is_some_and(|x| x.contains("--force"))),
        "{report:#}"
    );
    assert!(layers[0].exists(), "a layer in use stays without --force");
    let out = env.run(["system", "check", "--repair"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Error: damage in local storage still present after repair attempt"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.ok(["ps", "-aq"]).lines().count(), 1);

    let (code, report) = check_json(&env, &["--repair", "--force"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(
        report["repaired"].as_array().is_some_and(|r| r
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("container")))),
        "{report:#}"
    );
    assert_eq!(env.ok(["ps", "-aq"]).trim(), "");
    assert!(!layers[0].exists());
}
