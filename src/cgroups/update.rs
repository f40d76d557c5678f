//! `update`: new limits for a running container through `runtime update
//! --resources`, also written into its config.json so that the spec the
//! container was started with says what it now has.

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::container::{self as engine, Paths, create::CreateRequest};
use crate::engine::image;
use crate::engine::state::ContainerState;
use crate::runtime::oci;
use crate::runtime::spec::resources::{ResourceRequest, linux_resources};

/// Podman's refusal, in the words of its `stats` one.
pub const NO_CGROUPS_V2: &str = "update is not supported in rootless mode without cgroups v2";

/// Applies `req` to the container `query`; returns its full id.
pub fn update(ctx: &Context, query: &str, req: &ResourceRequest) -> anyhow::Result<String> {
    let host = super::detect_for(ctx);
    if ctx.rootless() && host.version != super::CgroupVersion::V2 {
        bail!("{NO_CGROUPS_V2}");
    }
    if !req.has_cgroup_limits() {
        bail!("no resource limit to update was given (e.g. --memory, --cpus, --pids-limit)");
    }
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    state.recover()?;
    let row = state.container(query)?;
    let short = &row.id[..12.min(row.id.len())];
    if !matches!(row.state, ContainerState::Running | ContainerState::Paused) {
        bail!(
            "container {short} is {}: only a running container's limits can be updated",
            row.state.as_str()
        );
    }
    let paths = Paths::new(ctx, store.root(), &row.id);
    if super::container::Plan::read(&paths.userdata).is_none() {
        bail!(
            "container {short} has no cgroup of its own (created with --cgroups=disabled or \
             without a cgroup manager), so its limits cannot change"
        );
    }
    let stored: CreateRequest = serde_json::from_str(&row.config).unwrap_or_default();
    let mut merged = stored.resources.clone();
    merged.merge(req);
    merged.validate()?;

    let (runtime, _) = oci::select(
        Some(&row.runtime),
        &oci::host_facts(),
        &ctx.run_dir.join("runtime"),
        false,
    )?;
    let file = paths.userdata.join("update-resources.json");
    std::fs::write(&file, serde_json::to_vec(&linux_resources(req, false))?)
        .with_context(|| format!("writing {}", file.display()))?;
    let result = runtime.run("update", &row.id, &runtime.update_args(&row.id, &file));
    let _ = std::fs::remove_file(&file);
    result.with_context(|| format!("updating the limits of container {short}"))?;

    // The spec keeps the device rules the container was created with.
    let spec_file = paths.userdata.join("config.json");
    if let Ok(text) = std::fs::read(&spec_file)
        && let Ok(mut spec) = serde_json::from_slice::<serde_json::Value>(&text)
    {
        let mut res = serde_json::to_value(linux_resources(&merged, true))?;
        if let Some(devices) = spec.pointer("/linux/resources/devices").cloned() {
            res["devices"] = devices;
        }
        if let Some(linux) = spec.get_mut("linux").and_then(|l| l.as_object_mut()) {
            linux.insert("resources".to_owned(), res);
        }
        std::fs::write(&spec_file, serde_json::to_vec_pretty(&spec)?)
            .with_context(|| format!("writing {}", spec_file.display()))?;
    }
    Ok(row.id)
}
