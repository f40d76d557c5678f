//! Podman's global options that hutch takes without acting on them the
//! way Podman does: each is checked here, once, before the command runs,
//! so that a script passing one gets Podman's outcome or a clear word
//! about the difference, never a silent drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::config::Context;

/// The global options with no field in the context.
pub struct Unused<'a> {
    pub conmon: Option<&'a Path>,
    pub network_config_dir: Option<&'a Path>,
    pub hooks_dirs: &'a [PathBuf],
}

/// Refuses what cannot work (an OCI runtime that is not there, hooks hutch
/// would not run, a storage option hutch does
/// not know) with Podman's words where it has them; warns about options
/// whose work hutch does another way.
pub fn check(ctx: &Context, unused: &Unused) -> anyhow::Result<()> {
    if let Some(runtime) = ctx.runtime.as_deref() {
        check_runtime(runtime)?;
    }
    crate::config::storage::check_opts(&ctx.storage_opts).map_err(anyhow::Error::msg)?;
    for dir in unused.hooks_dirs {
        if let Some(hook) = first_hook(dir) {
            bail!(
                "OCI hooks are not supported by hutch: {} defines one (remove --hooks-dir {} or the file)",
                hook.display(),
                dir.display()
            );
        }
    }
    if let Some(path) = unused.conmon {
        eprintln!(
            "Warning: --conmon {} is not used: hutch watches containers with its own monitor (hutch-monitor)",
            path.display()
        );
    }
    if let Some(dir) = unused.network_config_dir {
        eprintln!(
            "Warning: --network-config-dir {} is not used: hutch keeps network definitions in its store",
            dir.display()
        );
    }
    Ok(())
}

/// Podman resolves the runtime before any command and fails every command
/// with a runtime it cannot find.
fn check_runtime(runtime: &str) -> anyhow::Result<()> {
    if runtime.contains('/') {
        if !executable(Path::new(runtime)) {
            bail!("no valid executable found for OCI runtime {runtime}: invalid argument");
        }
        return Ok(());
    }
    let facts = crate::runtime::oci::host_facts();
    if !facts.installed.iter().any(|(n, _)| n == runtime) {
        bail!("default OCI runtime {runtime:?} not found: invalid argument");
    }
    Ok(())
}

fn executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first hook definition (`*.json`) in `dir`; a missing directory has
/// none, as Podman's default directories are usually missing.
fn first_hook(dir: &Path) -> Option<PathBuf> {
    let mut hooks: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    hooks.sort();
    hooks.into_iter().next()
}

/// Whether a syslog daemon takes datagrams on /dev/log (`--syslog`
/// fails without one, as Podman's does).
pub fn syslog_listens() -> bool {
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return false;
    };
    sock.connect("/dev/log").is_ok()
}
