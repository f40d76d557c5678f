//! CDI devices at create: the spec directories this user's configuration
//! names, and the requested devices' edits turned into the container's
//! devices, binds, environment, groups and hooks (runtime::cdi reads and
//! resolves the spec files).

use std::path::PathBuf;

use crate::config::Context;
use crate::runtime::cdi::{DEFAULT_SPEC_DIRS, Edits, Registry};

/// containers.conf `[engine] cdi_spec_dirs`, else /etc/cdi and
/// /var/run/cdi.
pub fn spec_dirs(ctx: &Context) -> Vec<PathBuf> {
    ctx.containers_conf()
        .cdi_spec_dirs
        .clone()
        .unwrap_or_else(|| DEFAULT_SPEC_DIRS.iter().map(PathBuf::from).collect())
}

/// The edits of `names`; nothing is read when no CDI device was asked for.
pub fn resolve(ctx: &Context, names: &[String]) -> crate::engine::Result<Edits> {
    if names.is_empty() {
        return Ok(Edits::default());
    }
    let registry = Registry::load(&spec_dirs(ctx));
    for e in &registry.errors {
        tracing::warn!("{e}");
    }
    registry
        .resolve(names)
        .map_err(|e| crate::engine::Error::new(crate::engine::ErrorKind::BadInput, e.to_string()))
}

/// What `info` lists: the directories and every device found.
pub fn inventory(ctx: &Context) -> (Vec<PathBuf>, Vec<String>, Vec<String>) {
    let dirs = spec_dirs(ctx);
    let registry = Registry::load(&dirs);
    let names = registry.device_names();
    (dirs, names, registry.errors)
}

/// CDI mount options that mean the same in `-v` spelling; the rest
/// (type-specific ones) are left to the bind's defaults.
pub fn bind_options(options: &[String]) -> Vec<String> {
    options
        .iter()
        .filter(|o| {
            matches!(
                o.as_str(),
                "ro" | "rw" | "nosuid" | "nodev" | "noexec" | "bind" | "rbind"
            )
        })
        .cloned()
        .collect()
}
