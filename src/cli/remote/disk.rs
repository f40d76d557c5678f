//! `system df` and `system prune` through the remote client, as
//! `podman --remote` 4.3.1 carries them (`GET /libpod/system/df`, `POST
//! /libpod/system/prune`), printed by the local commands' printers; and
//! the `system` commands Podman's remote client refuses (`reset`,
//! `migrate`, `renumber`), refused here in its words.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::Value;

use super::commands::refuse;
use super::{Service, containers};
use crate::cli::system::SystemCommand;
use crate::cli::system_prune::{self, DfArgs, PruneArgs, PruneOutcome};
use crate::engine::system::df::DfReport;
use crate::format::OutputFormat;

/// `system SUBCOMMAND` remotely (the connection and service commands
/// never come here: they are the client's own).
pub fn system(svc: &Service, cmd: SystemCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SystemCommand::Info(a) => super::system::info(svc, &a),
        SystemCommand::Df(a) => df(svc, &a),
        SystemCommand::Prune(a) => prune(svc, &a),
        SystemCommand::Reset(_) => Err(refuse("system reset")),
        SystemCommand::Migrate(_) => Err(refuse("system migrate")),
        SystemCommand::Renumber(_) => Err(refuse("system renumber")),
        SystemCommand::Check(_) => Err(refuse("system check")),
        SystemCommand::Connection(_) | SystemCommand::Service(_) => {
            bail!("system connection and system service run on the client")
        }
    }
}

fn df(svc: &Service, a: &DfArgs) -> anyhow::Result<ExitCode> {
    // Read before the (slow) report, as locally: a typo fails fast.
    let format = OutputFormat::parse(a.format.as_deref())?;
    let v = svc.call("GET", "/system/df", None)?.json()?;
    let report = DfReport::from_wire(v)
        .map_err(|e| anyhow::anyhow!("reading the service's disk usage report: {e}"))?;
    system_prune::print_df(&report, a.verbose, format)
}

/// One kind's entries of a prune report: `(id, error)` from `id_key`
/// and `err_key` (Podman's client reads errors as text; an empty object
/// is Go's encoding of an error it could not write).
fn entries(v: &Value, id_key: &str, err_key: &str) -> Vec<(String, Option<String>)> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let err = match &r[err_key] {
                Value::Null => None,
                Value::String(s) if s.is_empty() => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            (r[id_key].as_str().unwrap_or_default().to_owned(), err)
        })
        .filter(|(id, err)| !id.is_empty() || err.is_some())
        .collect()
}

fn prune(svc: &Service, a: &PruneArgs) -> anyhow::Result<ExitCode> {
    if !a.force && !crate::cli::confirm(&system_prune::prune_warning(a))? {
        return Ok(ExitCode::SUCCESS);
    }
    let mut q = format!("/system/prune?all={}&volumes={}", a.all, a.volumes);
    if !a.filter.is_empty() {
        q.push_str(&containers::filters_query(&a.filter));
    }
    let r = svc.call("POST", &q, None)?.json()?;
    Ok(system_prune::print_prune(PruneOutcome {
        containers: entries(&r["ContainerPruneReports"], "Id", "Err"),
        pods: entries(&r["PodPruneReport"], "Id", "Err"),
        volumes: entries(&r["VolumePruneReports"], "Id", "Err"),
        images: entries(&r["ImagePruneReports"], "Id", "Err"),
        networks: entries(&r["NetworkPruneReports"], "Name", "Error"),
        reclaimed: r["ReclaimedSpace"].as_u64().unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_entries_take_text_errors_and_skip_empty_rows() {
        let v = serde_json::json!([
            {"Id": "a", "Err": null},
            {"Id": "b", "Err": "in use"},
            {"Id": "c", "Err": ""},
            {"Id": "", "Err": null}
        ]);
        assert_eq!(
            entries(&v, "Id", "Err"),
            vec![
                ("a".to_owned(), None),
                ("b".to_owned(), Some("in use".to_owned())),
                ("c".to_owned(), None)
            ]
        );
        assert!(entries(&Value::Null, "Id", "Err").is_empty());
    }
}
