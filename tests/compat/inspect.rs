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
