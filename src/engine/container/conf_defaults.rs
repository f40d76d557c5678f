//! containers.conf's `[containers]` and `[engine] stop_timeout` as the
//! defaults of a new container. Podman takes its flags' defaults from
//! these keys; hutch's front ends leave a flag that was not given at its
//! built-in default, and here each such field takes the file's value. So a
//! flag given with the built-in value itself (`--ipc private`) cannot be
//! told from no flag: the file's value wins there (docs/compat.md).
//!
//! A value that does not parse fails the create with the key's name, as
//! Podman fails on a bad default.

use std::path::Path;

use crate::config::Context;
use crate::config::containers::{ContainersConf, cap_name};
use crate::engine::{Error, Result};
use crate::runtime::spec::caps::DEFAULT_CAPABILITIES;
use crate::runtime::spec::{ContainerConfig, NamespaceMode};
use crate::spec::{ContainerSpec, LogDriver, Namespace, Userns, parse};
use hutch_rootless_net::NetworkMode;

fn bad(key: &str, value: &str, e: impl std::fmt::Display) -> Error {
    Error::bad_input(format!("containers.conf {key} {value:?}: {e}"))
}

/// The spec with containers.conf's defaults where it has the built-in ones;
/// recorded with the container (inspect shows them).
pub fn apply(ctx: &Context, req: &ContainerSpec) -> Result<ContainerSpec> {
    let conf = ctx.containers_conf();
    let mut req = req.clone();
    if req.timezone.is_none() {
        req.timezone = conf.tz.clone().filter(|t| !t.is_empty());
    }
    req.init |= conf.init == Some(true);
    if req.shm_size.is_none()
        && let Some(s) = &conf.shm_size
    {
        // Podman reads it with go-units' FromHumanSize: powers of 1000.
        match parse::log::decimal_size(s) {
            Ok(n) if n > 0 => req.shm_size = Some(n),
            _ => return Err(bad("shm_size", s, "not a size")),
        }
    }
    if req.stop_timeout.is_none() {
        req.stop_timeout = conf.stop_timeout;
    }
    // Podman drops the file's pids_limit where it cannot set limits
    // (rootless without a cgroup manager), silently: a default is no
    // request the user made.
    let limits = crate::cgroups::detect_for(ctx).manager != crate::cgroups::Manager::None;
    if limits && req.resources.pids_limit.is_none() {
        req.resources.pids_limit = conf.containers.pids_limit;
    }
    containers(conf, &mut req)?;
    namespaces(conf, &mut req)?;
    capabilities(conf, &mut req);
    Ok(req)
}

fn containers(conf: &ContainersConf, req: &mut ContainerSpec) -> Result<()> {
    let d = &conf.containers;
    if !req.ulimits.host {
        for u in d.default_ulimits.iter().flatten() {
            let limit = parse::ulimit::ulimit(u).map_err(|e| bad("default_ulimits", u, e))?;
            // A `--ulimit` of the same resource wins.
            if !req.ulimits.limits.iter().any(|l| l.kind == limit.kind) {
                req.ulimits.limits.push(limit);
            }
        }
    }
    if req.log.max_size.is_none()
        && let Some(n) = d.log_size_max
        && n > 0
    {
        req.log.max_size = Some(n as u64);
    }
    if req.log.tag.is_none() {
        req.log.tag = d.log_tag.clone().filter(|t| !t.is_empty());
    }
    if req.log.driver == LogDriver::K8sFile && d.log_driver.as_deref() == Some("none") {
        req.log.driver = LogDriver::None;
    }
    for a in d.annotations.iter().flatten() {
        let (k, v) = a.split_once('=').unwrap_or((a.as_str(), ""));
        req.annotations
            .entry(k.to_owned())
            .or_insert_with(|| v.to_owned());
    }
    req.read_only |= d.read_only == Some(true);
    req.setup.no_hosts |= d.no_hosts == Some(true);
    if req.setup.no_hosts && !req.add_hosts.is_empty() {
        return Err(Error::bad_input(
            "--no-hosts and --add-host cannot be set together",
        ));
    }
    for dev in d.devices.iter().flatten() {
        let dev = parse::device::device(dev).map_err(|e| bad("devices", dev, e))?;
        if !req
            .devices
            .iter()
            .any(|x| x.container_path == dev.container_path)
        {
            req.devices.push(dev);
        }
    }
    for v in d.volumes.iter().flatten() {
        let m = parse::mount::volume(v, Path::new("/")).map_err(|e| bad("volumes", v, e))?;
        // A `-v` on the same destination wins.
        if !req.mounts.iter().any(|x| x.destination == m.destination) {
            req.mounts.push(m);
        }
    }
    if req.init_path.is_none() {
        req.init_path = d.init_path.clone();
    }
    if req.seccomp_profile.is_none() {
        req.seccomp_profile = d.seccomp_profile.clone().filter(|s| !s.is_empty());
    }
    Ok(())
}

fn namespaces(conf: &ContainersConf, req: &mut ContainerSpec) -> Result<()> {
    let d = &conf.containers;
    if req.network.mode.is_none()
        && let Some(n) = d.netns.as_deref().filter(|n| !matches!(*n, "" | "private"))
    {
        let mode = NetworkMode::parse(n, &NetworkMode::None).map_err(|e| bad("netns", n, e))?;
        req.network.mode = Some(mode);
    }
    if req.userns == Userns::Host
        && let Some(u) = d.userns.as_deref().filter(|u| !matches!(*u, "" | "host"))
    {
        req.userns = parse::userns::userns(Some(u), &[], &[]).map_err(|e| bad("userns", u, e))?;
    }
    let req_hostname = req.hostname.is_some();
    for (key, flag, value, ns) in [
        ("ipcns", "--ipc", &d.ipcns, &mut req.namespaces.ipc),
        ("utsns", "--uts", &d.utsns, &mut req.namespaces.uts),
        ("pidns", "--pid", &d.pidns, &mut req.namespaces.pid),
    ] {
        // `--hostname` needs a UTS namespace of its own (Podman refuses it
        // with `--uts host`): the file's `utsns` yields to it.
        let own_uts = key == "utsns" && req_hostname;
        if *ns == Namespace::Private
            && !own_uts
            && let Some(v) = value.as_deref().filter(|v| !matches!(*v, "" | "private"))
        {
            *ns = parse::userns::namespace(flag, Some(v)).map_err(|e| bad(key, v, e))?;
        }
    }
    Ok(())
}

/// A `default_capabilities` list other than the built-in one becomes the
/// additions and drops that turn the built-in list into it; the user's
/// `--cap-add`/`--cap-drop` still win.
fn capabilities(conf: &ContainersConf, req: &mut ContainerSpec) {
    let Some(list) = &conf.containers.default_capabilities else {
        return;
    };
    let want: Vec<String> = list.iter().map(|c| cap_name(c)).collect();
    let user_add: Vec<String> = req.cap_add.iter().map(|c| cap_name(c)).collect();
    let user_drop: Vec<String> = req.cap_drop.iter().map(|c| cap_name(c)).collect();
    if user_drop.iter().any(|c| c == "CAP_ALL") {
        return;
    }
    for c in &want {
        if !DEFAULT_CAPABILITIES.contains(&c.as_str()) && !user_drop.contains(c) {
            req.cap_add.push(c.clone());
        }
    }
    for c in DEFAULT_CAPABILITIES {
        let c = c.to_string();
        if !want.contains(&c) && !user_add.contains(&c) && !user_add.iter().any(|a| a == "CAP_ALL")
        {
            req.cap_drop.push(c);
        }
    }
}

/// What containers.conf sets below the spec: the process's umask and the
/// cgroup namespace.
pub fn runtime_config(
    ctx: &Context,
    req: &ContainerSpec,
    config: &mut ContainerConfig,
) -> Result<()> {
    let d = &ctx.containers_conf().containers;
    config.umask = config.umask.or(req.umask);
    if config.cgroupns.is_none() {
        config.cgroupns = match req.cgroupns.as_deref() {
            Some("host") => Some(NamespaceMode::Host),
            Some("private") => Some(NamespaceMode::Private),
            _ => None,
        };
    }
    if config.umask.is_none()
        && let Some(u) = &d.umask
    {
        let mask = u32::from_str_radix(u, 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| bad("umask", u, "not an octal mode"))?;
        config.umask = Some(mask);
    }
    if config.cgroupns.is_none()
        && let Some(c) = &d.cgroupns
    {
        config.cgroupns = Some(match c.as_str() {
            "host" => NamespaceMode::Host,
            "private" => NamespaceMode::Private,
            _ => return Err(bad("cgroupns", c, "must be host or private")),
        });
    }
    Ok(())
}
