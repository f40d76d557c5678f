//! Where the graph root is, and the automatic move to node-local disk when
//! the default one would sit on a network or parallel file system (NFS,
//! Lustre, GPFS, CephFS, CIFS, BeeGFS, ...), as on HPC clusters where
//! homes are shared. There rootless storage fails with cryptic errors
//! (Podman #7091, #20551): no user-namespace ownership, overlay refuses the
//! upper dir, root squash.
//!
//! Only the default (`$XDG_DATA_HOME/hutch/storage`) moves: `--root` and
//! storage.conf's `graphroot` (or `rootless_storage_path`) always win. The
//! rest of the configuration (runroot, driver, additional image stores)
//! stays as it is. The new place is `/var/tmp/hutch-$UID/storage`, else
//! `/tmp/hutch-$UID/storage` when /var/tmp is itself shared or unusable:
//! the same path for every command of the user on that node, whether or
//! not a login session set XDG_RUNTIME_DIR (a tmpfs in RAM, absent under
//! cron and Slurm, so a root there would come and go).

use std::path::{Path, PathBuf};

use crate::config::Context;
use crate::config::storage::StorageConf;
use crate::host::fs;

/// The graph root in force and, when it was moved, from where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphRoot {
    pub path: PathBuf,
    pub relocated: Option<Relocation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relocation {
    /// The default that would have been used.
    pub from: PathBuf,
    /// Its file system ("nfs", "lustre").
    pub fs: &'static str,
}

impl Relocation {
    /// The one line a user sees (once per graph root) and `info` shows.
    pub fn notice(&self, to: &Path) -> String {
        format!(
            "{} is on {} (a network file system, where rootless storage does not work): using node-local storage {} instead; set graphroot in ~/.config/containers/storage.conf to choose another place",
            self.from.display(),
            self.fs,
            to.display()
        )
    }
}

/// Marks a relocated root whose notice was printed.
const NOTICE_MARK: &str = ".hutch-relocated";

/// `--root`, else storage.conf's graphroot, else the default, moved to
/// node-local disk when it is on a network file system.
pub fn locate(ctx: &Context, conf: &StorageConf) -> GraphRoot {
    if let Some(p) = ctx.root_override.clone().or_else(|| conf.graphroot.clone()) {
        return GraphRoot {
            path: p,
            relocated: None,
        };
    }
    let default = ctx.data_dir.join("storage");
    let fs_name = match fs::fs_type(&default) {
        Some(t) if t.network => t.name,
        _ => {
            return GraphRoot {
                path: default,
                relocated: None,
            };
        }
    };
    let uid = ctx.identity.uid;
    let local = ["/var/tmp", "/tmp"].iter().find_map(|base| {
        let base = Path::new(base);
        if fs::fs_type(base).is_none_or(|t| t.network) {
            return None;
        }
        let dir = base.join(format!("hutch-{uid}"));
        match fs::ensure_private_dir(&dir) {
            Ok(()) => Some(dir.join("storage")),
            Err(e) => {
                tracing::debug!("not using {} for node-local storage: {e}", dir.display());
                None
            }
        }
    });
    match local {
        Some(path) => GraphRoot {
            path,
            relocated: Some(Relocation {
                from: default,
                fs: fs_name,
            }),
        },
        // Nowhere local: the store refuses the network root with its fix.
        None => GraphRoot {
            path: default,
            relocated: None,
        },
    }
}

/// The relocation notice, the first time only for this root (a mark file
/// in it remembers); None when nothing moved or it was said before.
pub fn notice_once(ctx: &Context) -> Option<String> {
    let conf = super::storage_conf(ctx).ok()?;
    let root = locate(ctx, &conf);
    let relocated = root.relocated?;
    let mark = root.path.parent()?.join(NOTICE_MARK);
    if mark.exists() {
        return None;
    }
    // Said once even when two commands race: only the one that creates
    // the mark prints.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&mark)
        .ok()?;
    Some(relocated.notice(&root.path))
}
