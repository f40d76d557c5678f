//! The storage half of `system check` (Podman 5's `system check`): layers,
//! images and containers that reference missing data, and with `repair`
//! their removal. Runs inside the user namespace (rootless), where the
//! layers' files belong to mapped ids that the user can remove.

use hutch_storage::check::{Damage, Subject};

use super::check::{Finding, Status};
use crate::config::Context;
use crate::engine::Result;

#[derive(Debug, Clone, Copy, Default)]
pub struct IntegrityOptions {
    /// Remove damaged layers and images.
    pub repair: bool,
    /// With `repair`: containers standing on damaged layers go too
    /// (Podman's `--force`).
    pub force: bool,
}

/// Findings about the store, and one line per object `repair` removed.
pub fn storage(ctx: &Context, opts: IntegrityOptions) -> Result<(Vec<Finding>, Vec<String>)> {
    let store = crate::engine::image::open_store(ctx)?;
    let mut repaired = Vec::new();
    if opts.repair {
        let damaged = store.check_integrity()?;
        if opts.force {
            let ids: Vec<String> = damaged
                .iter()
                .filter(|d| d.subject == Subject::Container)
                .map(|d| d.id.clone())
                .collect();
            if !ids.is_empty() {
                let state = crate::engine::container::open_state(ctx)?;
                let reports = crate::engine::container::remove::remove(
                    ctx,
                    &store,
                    &state,
                    &crate::engine::container::remove::RemoveOptions {
                        names: ids,
                        force: true,
                        ignore: true,
                        ..Default::default()
                    },
                )?;
                for r in reports.iter().filter(|r| r.error.is_none()) {
                    repaired.push(format!("removed container {}", r.id));
                }
            }
        }
        for d in store.repair(opts.force)? {
            if d.subject != Subject::Container || !repaired.iter().any(|r| r.ends_with(&d.id)) {
                repaired.push(format!("removed {}: {}", describe(&d), d.reason));
            }
        }
    }
    let damaged = store.check_integrity()?;
    if damaged.is_empty() {
        let layers = store.layers.list().map(|l| l.len()).unwrap_or(0);
        let images = store.images.list().map(|i| i.len()).unwrap_or(0);
        return Ok((
            vec![Finding {
                check: "storage".to_owned(),
                status: Status::Ok,
                detail: format!(
                    "{} layers, {} images in {}: nothing missing",
                    layers,
                    images,
                    store.root().display()
                ),
                fix: String::new(),
            }],
            repaired,
        ));
    }
    let findings = damaged
        .iter()
        .map(|d| Finding {
            check: "storage".to_owned(),
            status: Status::Error,
            detail: format!("{}: {}", describe(d), d.reason),
            fix: match d.subject {
                Subject::Container => {
                    "hutch system check --repair --force (removes the container), or hutch rm -f it"
                        .to_owned()
                }
                _ => "hutch system check --repair (removes it; pull the image again)".to_owned(),
            },
        })
        .collect();
    Ok((findings, repaired))
}

fn describe(d: &Damage) -> String {
    let what = match d.subject {
        Subject::Layer => "layer",
        Subject::Image => "image",
        Subject::Container => "container",
    };
    let id = d.id.strip_prefix("sha256:").unwrap_or(&d.id);
    format!("{what} {}", &id[..id.len().min(12)])
}
