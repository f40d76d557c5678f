//! What `kube generate` reads about the containers, pods and volumes it
//! is given: the state rows, the image configs, each container's OCI spec
//! (resolved user, capabilities, working directory, volume mounts) and
//! network plan (host ports as chosen), and whether bind sources are
//! directories. [`super::generate`] turns these facts into YAML.

use hutch_rootless_net::NetworkMode;
use hutch_storage::Store;
use serde_json::Value;

use super::generate::{
    BindFact, ContainerFacts, HostPathKind, ImageFacts, Inputs, PodFacts, VolumeFact, VolumeFacts,
};
use crate::config::Context;
use crate::engine::container::{Paths, network};
use crate::engine::image;
use crate::engine::pod;
use crate::engine::state::{Container, State};
use crate::engine::{Error, ErrorKind, Result};
use crate::spec::MountSource;

/// Sorts the names into containers, pods and volumes, as Podman looks
/// them up (a container first, then a pod, then a volume).
pub fn collect(ctx: &Context, store: &Store, state: &State, names: &[String]) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for name in names {
        match state.container(name) {
            Ok(c) => {
                if let Some(pod) = &c.pod_id {
                    return Err(Error::bad_input(format!(
                        "container {} is associated with pod {pod}: use generate on the pod itself",
                        c.id
                    )));
                }
                inputs.containers.push(container(ctx, store, state, &c)?);
                continue;
            }
            Err(e) => {
                let e = Error::from(e);
                if e.kind() != ErrorKind::NotFound {
                    return Err(e);
                }
            }
        }
        match pod::lookup(state, name) {
            Ok(p) => {
                inputs.pods.push(pod_facts(ctx, store, state, &p)?);
                continue;
            }
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        match state.volume(name) {
            Ok(v) => inputs.volumes.push(VolumeFacts {
                name: v.name,
                driver: v.driver,
                labels: v.labels,
                options: v.options,
            }),
            Err(_) => {
                return Err(Error::not_found(format!("name or ID {name:?} not found")));
            }
        }
    }
    Ok(inputs)
}

fn pod_facts(ctx: &Context, store: &Store, state: &State, p: &pod::Pod) -> Result<PodFacts> {
    let mut facts = PodFacts {
        id: p.id.clone(),
        name: p.name.clone(),
        config: p.config.clone(),
        ..PodFacts::default()
    };
    for c in p.containers(state)? {
        if p.is_infra(&c) {
            let plan = network::read_plan(&Paths::new(ctx, store.root(), &c.id));
            if let Some(plan) = plan {
                facts.host_network = plan.mode == NetworkMode::Host;
                facts.ports = plan.ports;
            } else {
                facts.ports = p.config.network.ports.clone();
            }
            continue;
        }
        facts.containers.push(container(ctx, store, state, &c)?);
    }
    Ok(facts)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn container(ctx: &Context, store: &Store, state: &State, c: &Container) -> Result<ContainerFacts> {
    let paths = Paths::new(ctx, store.root(), &c.id);
    let req = &c.spec;
    // The OCI spec written at create: what the user and the image resolved
    // to. A container whose spec is unreadable still gets the spec's view.
    let oci: Value = std::fs::read(paths.userdata.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let img_cfg = image::lookup(store, &c.image_id)
        .ok()
        .and_then(|img| image::config(store, &img).ok())
        .unwrap_or(Value::Null);
    let ic = &img_cfg["config"];
    let image_config = ImageFacts {
        env: strings(&ic["Env"]),
        cmd: strings(&ic["Cmd"]),
        entrypoint: strings(&ic["Entrypoint"]),
        workdir: ic["WorkingDir"].as_str().unwrap_or_default().to_owned(),
        user: ic["User"].as_str().unwrap_or_default().to_owned(),
    };
    // As create resolves them.
    let entrypoint = match &req.entrypoint {
        Some(e) => e.clone(),
        None => image_config.entrypoint.clone(),
    };
    let command = if req.command.is_empty() {
        image_config.cmd.clone()
    } else {
        req.command.clone()
    };
    let process = &oci["process"];
    let user_ids = process["user"]["uid"].as_u64().map(|uid| {
        (
            uid as u32,
            process["user"]["gid"].as_u64().unwrap_or(0) as u32,
        )
    });
    let plan = network::read_plan(&paths);
    let (ports, host_network) = match &plan {
        Some(p) => (p.ports.clone(), p.mode == NetworkMode::Host),
        None => (
            req.network.ports.clone(),
            req.network.mode == Some(NetworkMode::Host),
        ),
    };

    let mut binds = Vec::new();
    let mut tmpfs: Vec<String> = req.tmpfs.iter().map(|t| t.destination.clone()).collect();
    for m in &req.mounts {
        match &m.source {
            MountSource::Bind(src) => {
                let kind = match std::fs::metadata(src) {
                    Ok(md) if md.is_dir() => HostPathKind::Directory,
                    Ok(_) => HostPathKind::File,
                    Err(_) => HostPathKind::DirectoryOrCreate,
                };
                binds.push(BindFact {
                    source: src.to_string_lossy().into_owned(),
                    destination: m.destination.clone(),
                    read_only: m.options.iter().any(|o| o == "ro"),
                    kind,
                });
            }
            MountSource::Tmpfs => tmpfs.push(m.destination.clone()),
            MountSource::Named(_) | MountSource::Anonymous => {}
        }
    }
    // Named and anonymous volumes (the image's VOLUMEs included), by
    // where the OCI spec mounts their directories.
    let mut volumes = Vec::new();
    let oci_mounts = oci["mounts"].as_array().cloned().unwrap_or_default();
    let mut owned = Vec::new();
    for name in state.container_volumes(&c.id)? {
        if let Ok(v) = state.volume(&name) {
            owned.push(v);
        }
    }
    for m in &oci_mounts {
        let Some(src) = m["source"].as_str() else {
            continue;
        };
        if let Some(v) = owned.iter().find(|v| v.mountpoint == src) {
            volumes.push(VolumeFact {
                name: v.name.clone(),
                destination: m["destination"].as_str().unwrap_or_default().to_owned(),
                read_only: strings(&m["options"]).iter().any(|o| o == "ro"),
            });
        }
    }

    let limits = serde_json::to_value(crate::runtime::spec::resources::linux_resources(
        &req.resources,
        false,
    ))
    .unwrap_or(Value::Null);
    let memory_limit = limits["memory"]["limit"].as_i64();
    let cpu_limit = match (
        limits["cpu"]["quota"].as_i64(),
        limits["cpu"]["period"].as_u64(),
    ) {
        (Some(q), Some(p)) => Some((q, p)),
        _ => None,
    };

    Ok(ContainerFacts {
        id: c.id.clone(),
        name: c.name.clone(),
        spec: req.clone(),
        image: c.image_name.clone(),
        image_config,
        entrypoint,
        command,
        workdir: process["cwd"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| req.workdir.clone())
            .unwrap_or_else(|| "/".to_owned()),
        user_ids,
        hostname: oci["hostname"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| c.id[..12.min(c.id.len())].to_owned()),
        capabilities: strings(&process["capabilities"]["bounding"]),
        ports,
        host_network,
        binds,
        tmpfs,
        volumes,
        memory_limit,
        cpu_limit,
    })
}
