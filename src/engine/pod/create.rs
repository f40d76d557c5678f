//! `pod create`: the pod's row, then its infra container (unless
//! `--infra=false`), made from the pod's network, hostname and DNS
//! settings; the infra container is the one whose namespaces the pod's
//! other containers join. On error, nothing is left.

use hutch_storage::Store;

use super::{infra_image, lookup, remove};
use crate::config::Context;
use crate::engine::container::create::{self as ccreate, CreateOptions};
use crate::engine::state::{PodRow, State, names};
use crate::engine::{Result, ResultExt};
use crate::host::time;
use crate::spec::ContainerSpec;
use crate::spec::pod::PodConfig;

/// `pod create`.
#[derive(Debug, Clone, Default)]
pub struct PodCreateOptions {
    /// `None`: a generated name.
    pub name: Option<String>,
    pub config: PodConfig,
    /// `--replace`: a pod holding the name is removed first (with its
    /// containers, stopped at once).
    pub replace: bool,
}

impl PodCreateOptions {
    pub fn validate(&self) -> Result<()> {
        let c = &self.config;
        c.resources
            .validate()
            .map_err(|e| crate::engine::Error::bad_input(e.to_string()))?;
        if !c.infra {
            // Podman's order and words (`--mac`, its option's old name).
            for (flag, given) in [
                ("--ip", c.network.ip.is_some()),
                ("--ip6", c.network.ip6.is_some()),
                ("--mac", c.network.mac_address.is_some()),
            ] {
                if given {
                    crate::fail!(
                        BadInput,
                        "cannot set {flag} without infra container: invalid argument"
                    );
                }
            }
            if !c.network.ports.is_empty() {
                crate::fail!(
                    BadInput,
                    "you must have an infra container to publish port bindings to the host"
                );
            }
            if c.infra_image.is_some() || c.infra_command.is_some() || c.infra_name.is_some() {
                crate::fail!(
                    BadInput,
                    "cannot set --infra-image, --infra-command or --infra-name without an infra container"
                );
            }
        }
        if let Some(n) = &self.name {
            names::validate("pod", n)?;
        }
        Ok(())
    }
}

/// A created pod.
#[derive(Debug, Clone)]
pub struct PodCreateReport {
    pub id: String,
    pub name: String,
    pub infra_id: Option<String>,
    /// To print once (limits the host cannot apply).
    pub warnings: Vec<String>,
}

pub fn create(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &PodCreateOptions,
) -> Result<PodCreateReport> {
    opts.validate()?;
    let cfg = &opts.config;
    if opts.replace
        && let Some(name) = &opts.name
        && let Ok(old) = lookup(state, name)
        && old.name == *name
    {
        remove::remove_one(ctx, store, state, &old, true, Some(0))
            .with_context(|| format!("replacing pod {name}"))?;
    }
    // The image first: a pod whose infra cannot be made is not recorded.
    let image = match &cfg.infra_image {
        Some(i) => Some(i.clone()),
        None if cfg.infra => Some(infra_image::ensure(store)?),
        None => None,
    };
    let id = names::generate_id().context("generating a pod id")?;
    // The pod's cgroup before its row: a pod whose limits cannot be set
    // is not recorded.
    let mut cfg = cfg.clone();
    crate::engine::container::host::resolve_device_limits(&mut cfg.resources)?;
    let (cgroup, warnings) = make_cgroup(ctx, &id, &cfg.resources)?;
    cfg.cgroup = cgroup;
    let cfg = &cfg;
    let row = match state.create_pod(&PodRow {
        id: id.clone(),
        name: opts.name.clone().unwrap_or_default(),
        created: time::now_ns(),
        infra_id: None,
        config: serde_json::to_string(cfg)?,
    }) {
        Ok(r) => r,
        Err(e) => {
            if let Some(pc) = &cfg.cgroup {
                crate::cgroups::pod::remove(pc, session_bus().as_deref());
            }
            return Err(e.into());
        }
    };
    let Some(image) = image else {
        super::record(state, &id, &row.name, "create");
        return Ok(PodCreateReport {
            id,
            name: row.name,
            infra_id: None,
            warnings,
        });
    };
    let spec = ContainerSpec {
        image,
        name: Some(
            cfg.infra_name
                .clone()
                .unwrap_or_else(|| format!("{}-infra", &id[..12])),
        ),
        entrypoint: cfg.infra_command.clone(),
        hostname: cfg
            .share
            .iter()
            .any(|s| s == "uts")
            .then(|| cfg.hostname.clone().unwrap_or_else(|| row.name.clone())),
        network: cfg.network.clone(),
        add_hosts: cfg.add_hosts.clone(),
        userns: cfg.userns.clone(),
        pod: Some(id.clone()),
        monitor_pidfile: cfg.infra_monitor_pidfile.clone(),
        mounts: cfg.mounts.clone(),
        shm_size: cfg.shm_size,
        sysctls: cfg.sysctls.clone(),
        devices: cfg.devices.clone(),
        security: cfg.security.clone(),
        namespaces: cfg.namespaces.clone(),
        setup: crate::spec::SetupSpec {
            no_hosts: cfg.no_hosts,
            volumes_from: cfg.volumes_from.clone(),
            ..Default::default()
        },
        ..ContainerSpec::default()
    };
    let made = ccreate::create(ctx, store, state, &spec, &CreateOptions::default())
        .and_then(|c| Ok(state.set_pod_infra(&id, &c.id).map(|()| c)?));
    match made {
        Ok(c) => {
            super::record(state, &id, &row.name, "create");
            Ok(PodCreateReport {
                id,
                name: row.name,
                infra_id: Some(c.id),
                warnings,
            })
        }
        Err(e) => {
            // The infra container may exist (its row was written before
            // the pod's was updated): it goes with the pod.
            if let Ok(p) = lookup(state, &id) {
                let _ = remove::remove_one(ctx, store, state, &p, true, Some(0));
            }
            Err(e)
        }
    }
}

/// The session bus the systemd cgroup manager talks to, if any.
pub(super) fn session_bus() -> Option<std::path::PathBuf> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from);
    crate::cgroups::session_bus(xdg.as_deref())
}

/// The pod's cgroup with its limits, where the host delegates one; else
/// `None` and, for limits asked for, the warning containers get.
fn make_cgroup(
    ctx: &Context,
    id: &str,
    req: &crate::spec::ResourceRequest,
) -> Result<(Option<crate::cgroups::pod::PodCgroup>, Vec<String>)> {
    use crate::cgroups::pod;
    let host = crate::cgroups::detect_for(ctx);
    let own = crate::cgroups::v2::cgroup_of(None);
    let (plan, mut warnings) = pod::plan(&host, id, own.as_deref(), req);
    if let Some(pc) = &plan
        && let Err(e) = pod::make(pc, req, session_bus().as_deref())
    {
        // Without limits asked for, a pod whose cgroup cannot be made
        // still runs, its containers each in their own (as before pods had
        // cgroups); limits asked for must apply or the create fails.
        if req.memory.is_some_and(|m| m > 0) || req.nano_cpus.is_some_and(|n| n > 0) {
            return Err(crate::engine::Error::internal(format!("{e:#}")));
        }
        warnings.push(format!("the pod's cgroup was not made: {e:#}"));
        return Ok((None, warnings));
    }
    Ok((plan, warnings))
}
