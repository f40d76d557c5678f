//! `volume`, `network` and `pod` through the remote client: the libpod
//! routes, printed by the same code as the local commands (the service
//! answers with the records they print), with their exit codes (Podman's
//! 1 for a missing object and 2 for one in use where it has them).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::bail;
use serde_json::{Value, json};

use super::containers::{exists, is_missing};
use super::http::ApiError;
use super::{Service, enc};
use crate::cli::EXIT_HUTCH_ERROR;
use crate::cli::network::NetworkCommand;
use crate::cli::pod::PodCommand;
use crate::cli::volume::VolumeCommand;

/// `K=V` items as a map (`--label`, `--opt`).
fn pairs(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|i| {
            let (k, v) = i.split_once('=').unwrap_or((i, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// `?filters=` for a list route (nothing when there are none).
fn filters_query(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!("?{}", &super::containers::filters_query(items)[1..])
}

/// The exit code Podman gives a failed removal: 1 missing, 2 in use.
fn removal_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<ApiError>().map(|e| e.status) {
        Some(404) => 1,
        Some(409) => 2,
        _ => EXIT_HUTCH_ERROR,
    }
}

/// Asks before a prune, as the local command does.
fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("{question}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

pub fn volume(svc: &Service, cmd: VolumeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        VolumeCommand::Create(a) => {
            let body = json!({
                "Name": a.name.clone().unwrap_or_default(),
                "Driver": a.driver,
                "Label": pairs(&a.label),
                "Options": pairs(&a.opt),
                "IgnoreIfExists": a.ignore,
            });
            let v = svc.call("POST", "/volumes/create", Some(&body))?.json()?;
            println!("{}", v["Name"].as_str().unwrap_or(""));
        }
        VolumeCommand::Ls(a) => {
            let q = filters_query(&a.filter);
            let rows = svc
                .call("GET", &format!("/volumes/json{q}"), None)?
                .json()?;
            let rows = rows.as_array().cloned().unwrap_or_default();
            crate::cli::volume::print_ls(&a, rows)?;
        }
        VolumeCommand::Inspect(a) => {
            let rows: Vec<Value> = if a.all {
                svc.call("GET", "/volumes/json", None)?
                    .json()?
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            } else {
                if a.names.is_empty() {
                    bail!("provide one or more volume names or use --all");
                }
                let mut out = Vec::new();
                let mut missing = None;
                for n in &a.names {
                    match svc
                        .call("GET", &format!("/volumes/{}/json", enc(n)), None)?
                        .json()
                    {
                        Ok(v) => out.push(v),
                        Err(e) => missing = Some(e),
                    }
                }
                if let Some(e) = missing {
                    // Podman prints what it found, then fails for the rest.
                    crate::cli::volume::print_inspect_rows(out, a.format.as_deref())?;
                    return Err(e);
                }
                out
            };
            crate::cli::volume::print_inspect_rows(rows, a.format.as_deref())?;
        }
        VolumeCommand::Rm(a) => {
            let names: Vec<String> = if a.all {
                svc.call("GET", "/volumes/json", None)?
                    .json()?
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v["Name"].as_str().map(str::to_owned))
                    .collect()
            } else {
                if a.names.is_empty() {
                    bail!("choose either one or more volumes or all");
                }
                a.names.clone()
            };
            let mut code = 0;
            let mut errors = Vec::new();
            for n in &names {
                let r = svc.call(
                    "DELETE",
                    &format!("/volumes/{}?force={}", enc(n), a.force),
                    None,
                )?;
                match r.json() {
                    Ok(_) => println!("{n}"),
                    // Podman's --force skips a missing volume silently.
                    Err(e) if a.force && is_missing(&e) => {}
                    Err(e) => {
                        code = removal_code(&e);
                        errors.push(e);
                    }
                }
            }
            for e in &errors {
                eprintln!("Error: {}", crate::cli::error_text(e));
            }
            return Ok(ExitCode::from(code));
        }
        VolumeCommand::Prune(a) => {
            if !a.force
                && !confirm(
                    "WARNING! This will remove all volumes not used by at least one container.",
                )?
            {
                return Ok(ExitCode::SUCCESS);
            }
            let q = filters_query(&a.filter);
            let out = svc
                .call("POST", &format!("/volumes/prune{q}"), None)?
                .json()?;
            for r in out.as_array().into_iter().flatten() {
                println!("{}", r["Id"].as_str().unwrap_or(""));
            }
        }
        VolumeCommand::Exists(a) => {
            return exists(svc, &format!("/volumes/{}/exists", enc(&a.name)));
        }
        // The service has no volume plugins either: nothing to reload.
        VolumeCommand::Reload => {}
        // Podman 4.3's remote client has none of these either.
        VolumeCommand::Export(_)
        | VolumeCommand::Import(_)
        | VolumeCommand::Mount(_)
        | VolumeCommand::Unmount(_) => {
            anyhow::bail!(
                "volume export, import, mount and unmount are not supported by hutch's remote client: run them on the service's host"
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn network(svc: &Service, cmd: NetworkCommand) -> anyhow::Result<ExitCode> {
    match &cmd {
        NetworkCommand::Create(a) => {
            if a.ignore
                && let Some(n) = &a.name
                && svc
                    .call("GET", &format!("/networks/{}/exists", enc(n)), None)?
                    .status
                    == 204
            {
                println!("{n}");
                return Ok(ExitCode::SUCCESS);
            }
            let mut subnets = Vec::new();
            if let Some(s) = &a.subnet {
                subnets
                    .push(json!({"subnet": s, "gateway": a.gateway.clone().unwrap_or_default()}));
            } else if a.gateway.is_some() {
                bail!("cannot set gateway without subnet");
            }
            let body = json!({
                "name": a.name.clone().unwrap_or_default(),
                "driver": "bridge",
                "subnets": subnets,
                "internal": a.internal,
                "labels": pairs(&a.label),
            });
            let v = svc.call("POST", "/networks/create", Some(&body))?.json()?;
            println!("{}", v["name"].as_str().unwrap_or(""));
        }
        NetworkCommand::Ls(a) => {
            let q = filters_query(&a.filter);
            let all = svc
                .call("GET", &format!("/networks/json{q}"), None)?
                .json()?;
            crate::cli::network::print_ls(a, all.as_array().cloned().unwrap_or_default())?;
        }
        NetworkCommand::Inspect(a) => {
            let mut out = Vec::new();
            for n in &a.names {
                out.push(
                    svc.call("GET", &format!("/networks/{}/json", enc(n)), None)?
                        .json()?,
                );
            }
            println!("{}", crate::format::to_json_pretty(&Value::Array(out)));
        }
        NetworkCommand::Rm(a) => {
            let mut code = 0;
            for n in &a.names {
                let r = svc.call(
                    "DELETE",
                    &format!("/networks/{}?force={}", enc(n), a.force),
                    None,
                )?;
                match r.json() {
                    Ok(_) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error: {}", crate::cli::error_text(&e));
                        code = removal_code(&e);
                    }
                }
            }
            return Ok(ExitCode::from(code));
        }
        NetworkCommand::Prune(a) => {
            if !a.force
                && !confirm(
                    "WARNING! This will remove all networks not used by at least one container.",
                )?
            {
                return Ok(ExitCode::SUCCESS);
            }
            let out = svc.call("POST", "/networks/prune", None)?.json()?;
            for r in out.as_array().into_iter().flatten() {
                println!("{}", r["Name"].as_str().unwrap_or(""));
            }
        }
        NetworkCommand::Connect(a) => {
            let body = json!({"container": a.container, "aliases": a.alias});
            svc.call(
                "POST",
                &format!("/networks/{}/connect", enc(&a.network)),
                Some(&body),
            )?
            .json()?;
        }
        NetworkCommand::Disconnect(a) => {
            let body = json!({"Container": a.container, "Force": a.force});
            svc.call(
                "POST",
                &format!("/networks/{}/disconnect", enc(&a.network)),
                Some(&body),
            )?
            .json()?;
        }
        NetworkCommand::Reload(_) => anyhow::bail!(
            "network reload is not supported by hutch's remote client: run it on the service's host"
        ),
        NetworkCommand::Exists(a) => {
            return exists(svc, &format!("/networks/{}/exists", enc(&a.name)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Pods named on the command line (`--pod-id-file` read here).
fn pod_names(
    all: bool,
    pods: &[String],
    files: &[std::path::PathBuf],
) -> anyhow::Result<Vec<String>> {
    let mut names = pods.to_vec();
    names.extend(crate::cli::pod::ids_from_files(files, false)?);
    if all {
        if !names.is_empty() {
            bail!("when --all is set, no pod names may be given");
        }
        return Ok(Vec::new());
    }
    if names.is_empty() {
        bail!("you must provide at least one pod name or id");
    }
    Ok(names)
}

/// Every pod's id on the service (`--all`).
fn all_pods(svc: &Service) -> anyhow::Result<Vec<String>> {
    Ok(svc
        .call("GET", "/pods/json", None)?
        .json()?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["Id"].as_str().map(str::to_owned))
        .collect())
}

/// `names`, or with `--latest` the pod the service made last (the local
/// words: Podman's, "containers" and all).
pub(super) fn with_latest_pod(
    svc: &Service,
    names: Vec<String>,
    latest: bool,
) -> anyhow::Result<Vec<String>> {
    if !latest {
        return Ok(names);
    }
    if !names.is_empty() {
        bail!("--latest and containers cannot be used together");
    }
    let pods = svc.call("GET", "/pods/json", None)?.json()?;
    // `Created` is RFC 3339 in one zone: its text orders as its time.
    match pods
        .as_array()
        .into_iter()
        .flatten()
        .max_by_key(|p| p["Created"].as_str().unwrap_or_default().to_owned())
        .and_then(|p| p["Id"].as_str())
    {
        Some(id) => Ok(vec![id.to_owned()]),
        None => bail!("no such pod"),
    }
}

/// `pod start|stop|restart|kill|pause|unpause`: each pod's id when done,
/// its error when not (125).
fn pod_action(
    svc: &Service,
    sel: &crate::cli::pod::SelectArgs,
    verb: &str,
    query: &str,
    ignore_missing: bool,
) -> anyhow::Result<ExitCode> {
    let mut names = pod_names(sel.all, &sel.pods, &sel.pod_id_file)?;
    if sel.all {
        names = all_pods(svc)?;
    }
    let names = with_latest_pod(svc, names, sel.latest)?;
    let mut code = ExitCode::SUCCESS;
    for n in &names {
        let r = svc
            .call("POST", &format!("/pods/{}/{verb}{query}", enc(n)), None)?
            .json();
        match r {
            Ok(v) => println!("{}", v["Id"].as_str().unwrap_or(n)),
            Err(e) if ignore_missing && is_missing(&e) => {}
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                code = ExitCode::from(EXIT_HUTCH_ERROR);
            }
        }
    }
    Ok(code)
}

pub fn pod(svc: &Service, cmd: PodCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PodCommand::Create(a) => {
            if a.infra_conmon_pidfile.is_some() {
                bail!(
                    "pod create --infra-conmon-pidfile is not supported by hutch's remote client: \
                     the file would be on the service's host"
                );
            }
            let share = match &a.share {
                Some(s) => crate::spec::pod::parse_share(s)?,
                None => crate::spec::pod::DEFAULT_SHARE
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            };
            let infra_command = match &a.infra_command {
                Some(c) if c.trim_start().starts_with('[') => {
                    Some(serde_json::from_str::<Vec<String>>(c)?)
                }
                Some(c) => Some(vec![c.clone()]),
                None => None,
            };
            let body = json!({
                "name": a.name.clone().unwrap_or_default(),
                "labels": pairs(&a.label),
                "no_infra": !a.infra || a.no_infra,
                "infra_image": a.infra_image.clone().unwrap_or_default(),
                "infra_command": infra_command,
                "infra_name": a.infra_name.clone().unwrap_or_default(),
                "shared_namespaces": share,
                "hostname": a.hostname.clone().unwrap_or_default(),
                "exit_policy": a.exit_policy,
                "pod_create_command": std::env::args().collect::<Vec<_>>(),
            });
            let mut body = body;
            // The network flags as the container create carries them
            // (libpod's netns, Networks, portmappings, dns_*).
            let net = crate::spec::ContainerSpec {
                network: a.network.spec()?,
                ..Default::default()
            };
            super::spec_gen::network(&net, &mut |k: &str, v: Value| body[k] = v);
            body["hostadd"] = json!(a.add_host);
            if let Some(u) = &a.userns {
                let (mode, value) = u.split_once(':').unwrap_or((u, ""));
                body["userns"] = json!({"nsmode": mode, "value": value});
            }
            if let Some(path) = &a.pod_id_file
                && std::path::Path::new(path).exists()
            {
                bail!("pod id file exists. Ensure another pod is not using it or delete {path}");
            }
            // --replace: a pod of that name goes first, as locally.
            if a.replace
                && let Some(n) = &a.name
            {
                match svc
                    .call("DELETE", &format!("/pods/{}?force=true", enc(n)), None)?
                    .json()
                {
                    Ok(_) => {}
                    Err(e) if is_missing(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            let v = svc.call("POST", "/pods/create", Some(&body))?.json()?;
            let id = v["Id"].as_str().unwrap_or("").to_owned();
            if let Some(path) = &a.pod_id_file {
                std::fs::write(path, &id)
                    .map_err(|e| anyhow::anyhow!("writing the pod id to {path}: {e}"))?;
            }
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        PodCommand::Start(a) => pod_action(svc, &a, "start", "", false),
        PodCommand::Restart(a) => pod_action(svc, &a, "restart", "", false),
        PodCommand::Pause(a) => pod_action(svc, &a, "pause", "", false),
        PodCommand::Unpause(a) => pod_action(svc, &a, "unpause", "", false),
        PodCommand::Kill(a) => pod_action(
            svc,
            &a.select,
            "kill",
            &format!("?signal={}", enc(&a.signal)),
            false,
        ),
        PodCommand::Stop(a) => {
            let q = a.time.map(|t| format!("?t={t}")).unwrap_or_default();
            pod_action(svc, &a.select, "stop", &q, a.ignore)
        }
        PodCommand::Rm(a) => {
            let mut names = pod_names(a.all, &a.pods, &a.pod_id_file)?;
            if a.all {
                names = all_pods(svc)?;
            }
            let names = with_latest_pod(svc, names, a.latest)?;
            let mut q = format!("?force={}", a.force);
            if let Some(t) = a.time {
                q.push_str(&format!("&t={t}"));
            }
            let mut code = ExitCode::SUCCESS;
            for n in &names {
                match svc
                    .call("DELETE", &format!("/pods/{}{q}", enc(n)), None)?
                    .json()
                {
                    Ok(v) => println!("{}", v["Id"].as_str().unwrap_or(n)),
                    // Podman's --force skips a missing pod too.
                    Err(e) if (a.ignore || a.force) && is_missing(&e) => {}
                    Err(e) => {
                        eprintln!("Error: {}", crate::cli::error_text(&e));
                        code = ExitCode::from(if is_missing(&e) { 1 } else { EXIT_HUTCH_ERROR });
                    }
                }
            }
            Ok(code)
        }
        PodCommand::Prune(a) => {
            if !a.force && !confirm("WARNING! This will remove all stopped/exited pods..")? {
                return Ok(ExitCode::SUCCESS);
            }
            let mut code = ExitCode::SUCCESS;
            for r in svc
                .call("POST", "/pods/prune", None)?
                .json()?
                .as_array()
                .into_iter()
                .flatten()
            {
                match r["Err"].as_str() {
                    Some(e) => {
                        eprintln!("Error: {e}");
                        code = ExitCode::from(EXIT_HUTCH_ERROR);
                    }
                    None => println!("{}", r["Id"].as_str().unwrap_or("")),
                }
            }
            Ok(code)
        }
        PodCommand::Ps(a) => {
            let q = filters_query(&a.filter);
            let pods = svc.call("GET", &format!("/pods/json{q}"), None)?.json()?;
            crate::cli::pod::ps::print(&a, pods.as_array().cloned().unwrap_or_default())
        }
        PodCommand::Inspect(a) => {
            let pod = match a.pod.clone() {
                Some(p) => p,
                None => with_latest_pod(svc, Vec::new(), a.latest)?.remove(0),
            };
            let pod = pod.as_str();
            let value = match svc
                .call("GET", &format!("/pods/{}/json", enc(pod)), None)?
                .json()
            {
                Ok(v) => v,
                Err(e) if is_missing(&e) => bail!("inspecting object: no such pod {pod}"),
                Err(e) => return Err(e),
            };
            match crate::format::OutputFormat::parse(a.format.as_deref())? {
                crate::format::OutputFormat::Template(t) => print!("{}", t.render_one(&value)?),
                _ => println!("{}", crate::format::to_json_pretty(&value)),
            }
            Ok(ExitCode::SUCCESS)
        }
        PodCommand::Exists(a) => exists(svc, &format!("/pods/{}/exists", enc(&a.pod))),
        PodCommand::Top(a) => super::pods::top(svc, &a),
        PodCommand::Stats(a) => super::pods::stats(svc, &a),
        PodCommand::Logs(a) => super::pods::logs(svc, &a),
        _ => bail!(
            "this pod command is not available through hutch's remote client yet: \
             run it on the service's host"
        ),
    }
}
