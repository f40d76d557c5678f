//! `inspect` of a container: the HostConfig, Mounts and Config fields
//! scripts read with `--format`, next to podman 4.3.1's.

use super::*;

#[test]
fn container_inspect_host_config_and_mounts() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let bind = format!("{}:/b:ro", dir.path().display());
    p.both_ok(&[
        "create",
        "--name",
        "k2",
        "--pid",
        "host",
        "--uts",
        "host",
        "--dns",
        "1.1.1.1",
        "--dns-search",
        "ex.com",
        "--add-host",
        "a.b:10.0.0.1",
        "-v",
        "kv3:/data",
        "-v",
        &bind,
        "--group-add",
        "keep-groups",
        "bb",
        "true",
    ]);
    p.same(&[
        "inspect",
        "--format",
        "{{.HostConfig.PidMode}} {{.HostConfig.UTSMode}} {{.HostConfig.IpcMode}} \
         {{.HostConfig.Dns}} {{.HostConfig.DnsSearch}} {{.HostConfig.ExtraHosts}} \
         {{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}} {{.Propagation}};{{end}} \
         {{.HostConfig.Privileged}} {{.HostConfig.PublishAllPorts}} {{.Config.Passwd}} \
         {{.Config.Timeout}} {{.HostConfig.GroupAdd}} {{.HostConfig.CgroupManager}} \
         {{.HostConfig.Cgroups}} {{.HostConfig.Tmpfs}} {{.HostConfig.ContainerIDFile}}",
        "k2",
    ]);
    // The /etc files hutch wrote are named; a running container's cgroup
    // is shown, a created one's is not (Podman's omitempty).
    let h = stdout(&p.hutch(&[
        "inspect",
        "--format",
        "{{.HostsPath}} {{.ResolvConfPath}} {{.HostnamePath}}",
        "k2",
    ]));
    for (file, name) in h
        .split_whitespace()
        .zip(["hosts", "resolv.conf", "hostname"])
    {
        assert!(file.ends_with(&format!("/{name}")), "{h}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&p.hutch(&["inspect", "k2"]))).expect("json");
    assert!(v[0]["State"].get("CgroupPath").is_none(), "{v}");
    assert_eq!(
        v[0]["HostConfig"]["Binds"][0],
        "kv3:/data:rw,rprivate,rbind"
    );
}

/// `ps` lists the oldest first, as podman 4.3.1 does, and its STATUS of a
/// running container reads "Up ... ago" in the table, `{{.Status}}` and
/// the JSON.
#[test]
fn ps_order_and_running_status() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    for name in ["o1", "o2", "o3"] {
        p.both_ok(&[
            "create",
            "--name",
            name,
            "--network",
            "none",
            "bb",
            "sleep",
            "60",
        ]);
    }
    p.same(&["ps", "-a", "--format", "{{.Names}}"]);
    p.same(&["ps", "-a", "--sort", "runningfor", "--format", "{{.Names}}"]);
    p.both_ok(&["start", "o2"]);
    for side in [
        p.hutch(&["ps", "--format", "{{.Names}} {{.Status}}"]),
        p.podman(&["ps", "--format", "{{.Names}} {{.Status}}"]),
    ] {
        let out = stdout(&side);
        assert!(
            out.starts_with("o2 Up ") && out.trim_end().ends_with(" ago"),
            "{out}"
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&p.hutch(&["ps", "--format", "json"]))).expect("json");
    assert!(
        v[0]["Status"].as_str().is_some_and(|s| s.ends_with(" ago")),
        "{v}"
    );
    p.both_ok(&["rm", "-f", "-t", "0", "o1", "o2", "o3"]);
}

/// `history`'s fields and JSON, `images --format json`'s `History` and
/// `network inspect`'s `ipam_options`, as podman 4.3.1 shows them.
#[test]
fn history_images_and_network_fields() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.same(&[
        "history",
        "--format",
        "{{.Tags}}|{{.Size}}|{{.Comment}}|{{.CreatedBy}}",
        "bb",
    ]);
    // The full id with --no-trunc (the ids differ between the stores).
    for side in [
        p.hutch(&["history", "--no-trunc", "-q", "bb"]),
        p.podman(&["history", "--no-trunc", "-q", "bb"]),
    ] {
        assert_eq!(stdout(&side).trim().len(), 64, "{}", stdout(&side));
    }
    let keys = |out: &std::process::Output| -> Vec<Vec<String>> {
        let v: serde_json::Value = serde_json::from_str(&stdout(out)).expect("json");
        v.as_array()
            .expect("list")
            .iter()
            .map(|e| e.as_object().expect("object").keys().cloned().collect())
            .collect()
    };
    let args = ["history", "--format", "json", "bb"];
    assert_eq!(keys(&p.hutch(&args)), keys(&p.podman(&args)));
    let h = stdout(&p.hutch(&args));
    assert_eq!(h.lines().count(), 1, "{h}");
    let images = |out: &std::process::Output| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&stdout(out)).expect("json");
        v.as_array()
            .expect("list")
            .iter()
            .find(|i| i["Names"][0] == "localhost/bb:latest")
            .map(|i| i["History"].clone())
            .unwrap_or_default()
    };
    let args = ["images", "--format", "json"];
    assert_eq!(images(&p.hutch(&args)), images(&p.podman(&args)));
    p.both_ok(&["network", "create", "ipn"]);
    p.same(&["network", "inspect", "--format", "{{.IPAMOptions}}", "ipn"]);
    let ipam = |out: &std::process::Output| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&stdout(out)).expect("json");
        v[0]["ipam_options"].clone()
    };
    let args = ["network", "inspect", "ipn"];
    assert_eq!(ipam(&p.hutch(&args)), ipam(&p.podman(&args)));
}

/// `info`'s host, store and version fields scripts read, as podman 4.3.1
/// prints them on this host.
#[test]
fn info_fields() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.both_ok(&["create", "--name", "i1", "--network", "none", "bb", "true"]);
    p.same(&[
        "info",
        "--format",
        "{{.Host.Security.Rootless}} {{.Host.CPUs}} {{.Host.MemTotal}} {{.Host.SwapTotal}} \
         {{.Host.Security.SELinuxEnabled}} \
         {{.Host.ServiceIsRemote}} {{.Host.CgroupControllers}} \
         {{.Store.ContainerStore.Number}} {{.Store.ContainerStore.Running}} \
         {{.Store.ImageStore.Number}} {{.Version.Built}} {{.Version.GitCommit}}",
    ]);
}

/// Go's `--switch=BOOL` is taken, and an unknown flag or command is
/// refused in cobra's words, as podman 4.3.1 does.
#[test]
fn go_flags_and_cobra_words() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.both_ok(&["create", "--name", "g1", "--network", "none", "bb", "true"]);
    p.same(&["ps", "--all=true", "--format", "{{.Names}}"]);
    p.same(&["ps", "-a=false", "--format", "{{.Names}}"]);
    let (h, _) = p.same(&[
        "run",
        "--rm=true",
        "-d=false",
        "--network",
        "none",
        "bb",
        "echo",
        "--all=true",
    ]);
    assert_eq!(h, "");
    // `-h` is --hostname on run, create and pod create (--help stays).
    p.same(&[
        "run",
        "--rm",
        "-h",
        "myhost",
        "--network",
        "none",
        "bb",
        "hostname",
    ]);
    p.both_ok(&["pod", "create", "-h", "podhost", "--name", "gp"]);
    p.same(&["pod", "inspect", "--format", "{{.Hostname}}", "gp"]);
    for args in [
        ["run", "--badflag", "bb"].as_slice(),
        ["run", "-Q", "bb"].as_slice(),
        ["nosuchcmd"].as_slice(),
        ["container", "nosuch"].as_slice(),
    ] {
        let (h, q) = p.same(args);
        assert_eq!(h.replace("hutch", "podman"), q, "{args:?}");
    }
}

/// The commands no other comparison runs: version, logout, auto-update,
/// pod top/unpause/prune of a pod that never ran, system renumber, image
/// trust show; each as podman 4.3.1 answers.
#[test]
fn remaining_commands() {
    let Some(p) = Pair::with_busybox() else {
        return;
    };
    p.same(&[
        "version",
        "--format",
        "{{.Client.APIVersion}} {{.Client.Os}}",
    ]);
    p.same(&["logout", "nosuch.example:5000"]);
    p.same(&["logout", "--all"]);
    p.same(&["auto-update", "--dry-run"]);
    p.both_ok(&["pod", "create", "--name", "tp"]);
    p.same(&["pod", "top", "tp"]);
    p.same(&["pod", "unpause", "tp"]);
    p.same(&["pod", "prune", "-f"]);
    p.same(&["system", "renumber"]);
    p.same(&["image", "trust", "show"]);
}
