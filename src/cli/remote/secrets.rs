//! `secret create|ls|inspect|rm|exists` through the remote client: the
//! libpod secret routes, the data read here (a file of the client's or
//! its stdin) and sent as the body; printed by the local commands'
//! printers, with their exit codes.

use std::process::ExitCode;

use super::containers::is_missing;
use super::{API_PREFIX, Service, enc, http};
use crate::cli::secret::{self as local, SecretCommand};
use anyhow::{Context as _, bail};

pub fn secret(svc: &Service, cmd: SecretCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SecretCommand::Create(a) => {
            let data = local::create_data(&a)?;
            let labels = crate::spec::parse::hosts::key_values("--label", &a.label)?;
            let q = format!(
                "{API_PREFIX}/secrets/create?name={}&driver={}&labels={}",
                enc(&a.name),
                enc(&a.driver),
                enc(&serde_json::to_string(&labels)?)
            );
            let mut body: &[u8] = &data;
            let v =
                http::send(&svc.socket, "POST", &q, Some(http::Body::Tar(&mut body)))?.json()?;
            println!(
                "{}",
                v["ID"]
                    .as_str()
                    .context("the service returned no secret id")?
            );
        }
        SecretCommand::Ls(a) => {
            let list = svc.call("GET", "/secrets/json", None)?.json()?;
            let now = crate::host::time::now();
            let rows = list
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| local::ls_row_of_view(v, now))
                .collect();
            local::print_ls(&a, rows)?;
        }
        SecretCommand::Inspect(a) => {
            let mut rows = Vec::new();
            let mut missing = None;
            for n in &a.names {
                match svc
                    .call("GET", &format!("/secrets/{}/json", enc(n)), None)?
                    .json()
                {
                    Ok(v) => rows.push(v),
                    Err(e) if is_missing(&e) => missing = Some(e),
                    Err(e) => return Err(e),
                }
            }
            // Podman prints what it found, then fails for the rest.
            local::print_inspect(a.format.as_deref(), rows)?;
            if let Some(e) = missing {
                return Err(e.context("inspecting secret"));
            }
        }
        SecretCommand::Rm(a) => {
            let names: Vec<String> = if a.all {
                if !a.names.is_empty() {
                    bail!("when using the --all switch, you may not pass any secret names or IDs");
                }
                svc.call("GET", "/secrets/json", None)?
                    .json()?
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v["ID"].as_str().map(str::to_owned))
                    .collect()
            } else {
                if a.names.is_empty() {
                    bail!("`hutch secret rm` requires one or more secret names, or --all");
                }
                a.names.clone()
            };
            let mut failed: Option<anyhow::Error> = None;
            for n in &names {
                // The id first, as Podman's client does: rm prints it.
                let found = svc
                    .call("GET", &format!("/secrets/{}/json", enc(n)), None)?
                    .json()
                    .and_then(|v| {
                        let id = v["ID"].as_str().unwrap_or(n).to_owned();
                        svc.call("DELETE", &format!("/secrets/{}", enc(&id)), None)?
                            .json()?;
                        Ok(id)
                    });
                match found {
                    Ok(id) => println!("{id}"),
                    Err(e) if a.ignore && is_missing(&e) => {}
                    Err(e) => {
                        if let Some(prev) = failed.replace(e) {
                            eprintln!("Error: {}", crate::cli::error_text(&prev));
                        }
                    }
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        SecretCommand::Exists(a) => {
            let r = svc
                .call("GET", &format!("/secrets/{}/json", enc(&a.name)), None)?
                .json();
            return match r {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) if is_missing(&e) => Ok(ExitCode::from(1)),
                Err(e) => Err(e),
            };
        }
    }
    Ok(ExitCode::SUCCESS)
}
