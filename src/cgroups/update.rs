//! `update`'s cgroup side: whether this host can change a live container's
//! limits, and the resources file `runtime update --resources` reads. The
//! orchestration (the stored spec, config.json, the runtime) is the
//! engine's (`engine::container::update`); this module gets plain values.

use std::path::Path;

use crate::runtime::spec::resources::{ResourceRequest, linux_resources};

/// Podman's refusal, in the words of its `stats` one.
pub const NO_CGROUPS_V2: &str = "update is not supported in rootless mode without cgroups v2";

/// Whether a rootless (`rootless`) user on `host` can update limits.
pub fn supported(host: &super::CgroupHost, rootless: bool) -> bool {
    !rootless || host.version == super::CgroupVersion::V2
}

/// Writes the `linux.resources` of `req` (only what it sets) to `path`,
/// for `runtime update --resources PATH`.
pub fn write_resources(path: &Path, req: &ResourceRequest) -> std::io::Result<()> {
    let json = serde_json::to_vec(&linux_resources(req, false)).map_err(std::io::Error::other)?;
    std::fs::write(path, json)
}
