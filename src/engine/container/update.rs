//! `update`: new resource limits for a container. The limits are merged
//! into the stored spec (so a second `update` keeps the first one's),
//! config.json is regenerated from it, and a running container's cgroup
//! gets them through `runtime update` (Podman's order: a created or
//! stopped container takes them at its next start).

use anyhow::Context as _;
use hutch_storage::Store;

use super::{Paths, oci_config};
use crate::cgroups;
use crate::config::Context;
use crate::engine::state::{ContainerState, State};
use crate::engine::{Error, Result};
use crate::fail;
use crate::runtime::spec::resources::ResourceRequest;

/// What to update.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Name or id.
    pub container: String,
    /// Only the limits given; the others keep their stored values.
    pub resources: ResourceRequest,
    /// A limit flag was given even if it asks for no change (Podman takes
    /// `--memory-swappiness -1` and does nothing).
    pub given: bool,
}

#[derive(Debug, Clone)]
pub struct UpdateReport {
    pub id: String,
}

pub fn update(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &UpdateOptions,
) -> Result<UpdateReport> {
    if !opts.resources.has_cgroup_limits() && !opts.given {
        fail!(
            BadInput,
            "no resource limit to update was given (e.g. --memory, --cpus, --pids-limit)"
        );
    }
    // Podman resolves the devices before it looks the container up.
    let mut resources = opts.resources.clone();
    super::host::resolve_device_limits(&mut resources)?;
    state.recover()?;
    let row = state.container(&opts.container)?;
    let host = cgroups::detect_for(ctx);
    if !cgroups::update::supported(&host, ctx.rootless()) {
        fail!(InvalidState, "{}", cgroups::update::NO_CGROUPS_V2);
    }
    let short = &row.id[..12.min(row.id.len())];
    if row.state == ContainerState::Removing {
        fail!(
            InvalidState,
            "container {short} is being removed: container state improper"
        );
    }
    let paths = Paths::new(ctx, store.root(), &row.id);
    let running = matches!(row.state, ContainerState::Running | ContainerState::Paused);
    if running && cgroups::container::Plan::read(&paths.userdata).is_none() {
        fail!(
            InvalidState,
            "container {short} has no cgroup of its own (created with --cgroups=disabled or \
             without a cgroup manager), so its limits cannot change"
        );
    }
    let mut spec = row.spec.clone();
    spec.resources.merge(&resources);
    spec.resources
        .validate()
        .map_err(|e| Error::bad_input(e.to_string()))?;

    if running && resources.has_cgroup_limits() {
        let (runtime, _) = super::oci_runtime(ctx, Some(&row.runtime), false)?;
        let file = paths.userdata.join("update-resources.json");
        cgroups::update::write_resources(&file, &resources)
            .with_context(|| format!("writing {}", file.display()))?;
        let result = runtime.run("update", &row.id, &runtime.update_args(&row.id, &file));
        let _ = std::fs::remove_file(&file);
        result.with_context(|| format!("updating the limits of container {short}"))?;
    }

    // The spec first: config.json is derived from it.
    state.set_spec(&row.id, &spec)?;
    if let Some(mut input) = oci_config::read_input(&paths) {
        input.resources = spec.resources.clone();
        input.oom_score_adj = spec.resources.oom_score_adj;
        let v2 = host.version == cgroups::CgroupVersion::V2;
        oci_config::write(ctx, &paths, &input, spec.seccomp_profile.as_deref(), v2)
            .with_context(|| format!("regenerating the OCI spec of {short}"))?;
    }
    Ok(UpdateReport { id: row.id })
}
