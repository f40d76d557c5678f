//! `create`: a container layer on the image, the OCI spec from the image
//! config merged with the request, and a row in the state database.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use hutch_storage::Store;
use serde::{Deserialize, Serialize};

use super::Paths;
use crate::config::Context;
use crate::engine::image;
use crate::engine::state::{NewContainer, State, names};
use crate::engine::time;
use crate::runtime::oci;
use crate::runtime::spec::{self, CgroupsMode, ContainerConfig, Defaults};

/// What `create`/`run` flags ask for (the subset implemented so far).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateRequest {
    pub image: String,
    pub command: Vec<String>,
    pub name: Option<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub read_only: bool,
    pub remove: bool,
    pub runtime: Option<String>,
    /// `-i`: keep stdin open for attached clients.
    #[serde(default)]
    pub interactive: bool,
    /// `-t`: a pseudo-terminal for the container's process.
    #[serde(default)]
    pub tty: bool,
}

/// A created container: its id and name.
pub struct Created {
    pub id: String,
    pub name: String,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn create(
    ctx: &Context,
    store: &Store,
    state: &State,
    req: &CreateRequest,
) -> anyhow::Result<Created> {
    let img = image::lookup(store, &req.image)?;
    let cfg = image::config(store, &img)?;
    let c = &cfg["config"];
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let entrypoint = match &req.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => strings(&c["Entrypoint"]),
    };
    let cmd = if req.command.is_empty() {
        strings(&c["Cmd"])
    } else {
        req.command.clone()
    };
    let command: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if command.is_empty() {
        bail!(
            "no command specified for {}: the image has no CMD or ENTRYPOINT; give one",
            req.image
        );
    }
    let mut env = strings(&c["Env"]);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_owned());
    }
    for e in &req.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if let Some(n) = &req.name {
        names::validate("container", n)?;
    }

    let id = names::generate_id().context("generating a container id")?;
    let rootfs = store
        .create_container_layer(&id, &img)
        .and_then(|_| store.mount_container(&id))
        .with_context(|| format!("preparing the root file system of {}", &id[..12]))?;
    let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).ok();
    let container = ContainerConfig {
        id: id.clone(),
        name: req.name.clone().unwrap_or_default(),
        image_id: img.id.hex().to_owned(),
        rootfs: rootfs.clone(),
        command,
        env,
        workdir: req.workdir.clone().or_else(|| {
            c["WorkingDir"]
                .as_str()
                .filter(|w| !w.is_empty())
                .map(String::from)
        }),
        user: req.user.clone().or_else(|| {
            c["User"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map(String::from)
        }),
        passwd: read("etc/passwd"),
        group: read("etc/group"),
        hostname: Some(id[..12].to_owned()),
        read_only: req.read_only,
        terminal: req.tty,
        rootless: ctx.rootless(),
        cgroups: CgroupsMode::Disabled,
        labels: BTreeMap::new(),
        ..ContainerConfig::default()
    };
    let defaults = host_defaults(ctx);
    let generated = spec::generate(&container, &defaults)?;
    let paths = Paths::new(ctx, store.root(), &id);
    std::fs::create_dir_all(&paths.userdata)
        .with_context(|| format!("creating {}", paths.userdata.display()))?;
    std::fs::write(
        paths.userdata.join("config.json"),
        serde_json::to_vec_pretty(&generated)?,
    )
    .with_context(|| format!("writing the OCI spec of {}", &id[..12]))?;

    let (runtime, _) = oci::select(
        req.runtime.as_deref(),
        &oci::host_facts(),
        &ctx.run_dir.join("runtime"),
        true,
    )?;
    let row = state.create_container(&NewContainer {
        id: id.clone(),
        name: req.name.clone(),
        image_id: img.id.hex().to_owned(),
        image_name: img
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| img.id.short().to_owned()),
        created: time::now_ns(),
        config: serde_json::to_string(req)?,
        pod_id: None,
        runtime: runtime.name.clone(),
        volumes: Vec::new(),
        new_volumes: Vec::new(),
    });
    match row {
        Ok(row) => Ok(Created { id, name: row.name }),
        Err(e) => {
            // Nothing half-made stays behind a failed create (a name clash).
            let _ = store.remove_container_layer(&id);
            Err(e.into())
        }
    }
}

/// What the spec generator needs to know about this host and user.
fn host_defaults(ctx: &Context) -> Defaults {
    let limit = |r| {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills a struct we own.
        unsafe { libc::getrlimit(r, &mut l) };
        (l.rlim_cur, l.rlim_max)
    };
    let uid_size: u32 = std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            m.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok())
                .sum()
        })
        .unwrap_or(1);
    Defaults {
        nofile: limit(libc::RLIMIT_NOFILE),
        nproc: limit(libc::RLIMIT_NPROC),
        seccomp_profile: [
            "/etc/containers/seccomp.json",
            "/usr/share/containers/seccomp.json",
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok()),
        cgroup_v2: false,
        cgroup_path_usable: false,
        uid: ctx.identity.uid,
        gid: ctx.identity.gid,
        subuid_size: uid_size.saturating_sub(1),
        subgid_size: uid_size.saturating_sub(1),
        ..Defaults::default()
    }
}
