//! `pod top`, `pod stats` and `pod logs` through the remote client, as
//! `podman --remote` 4.3.1 carries them: `GET /libpod/pods/{name}/top`,
//! `GET /libpod/pods/stats` (one sample a second, printed by the local
//! command's printer), and the logs of the pod's containers read one by
//! one as `logs` reads several. `-l` is the pod the service made last.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::Value;

use super::containers::is_missing;
use super::objects::with_latest_pod;
use super::{Service, enc};
use crate::cli::pod::{LogsArgs, TopArgs, stats::StatsArgs};

pub fn top(svc: &Service, a: &TopArgs) -> anyhow::Result<ExitCode> {
    let (pod, descriptors) = if a.latest {
        (
            with_latest_pod(svc, Vec::new(), true)?.remove(0),
            a.args.clone(),
        )
    } else {
        match a.args.split_first() {
            Some((pod, rest)) => (pod.clone(), rest.to_vec()),
            None => bail!("you must provide the name or id of a running pod"),
        }
    };
    let mut q = format!("/pods/{}/top", enc(&pod));
    if !descriptors.is_empty() {
        q.push_str(&format!("?ps_args={}", enc(&descriptors.join(","))));
    }
    let v = svc.call("GET", &q, None)?.json()?;
    let words = |row: &Value| -> String {
        row.as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\t")
    };
    // No running container: nothing, as locally.
    if v["Titles"].as_array().is_none_or(Vec::is_empty) {
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = words(&v["Titles"]);
    text.push('\n');
    for row in v["Processes"].as_array().into_iter().flatten() {
        text.push_str(&words(row));
        text.push('\n');
    }
    print!("{}", crate::format::align_columns(&text));
    Ok(ExitCode::SUCCESS)
}

pub fn stats(svc: &Service, a: &StatsArgs) -> anyhow::Result<ExitCode> {
    crate::engine::pod::stats::PodStatsOptions {
        pods: a.pods.clone(),
        all: a.all,
        latest: a.latest,
    }
    .validate()?;
    let pods = with_latest_pod(svc, a.pods.clone(), a.latest)?;
    let mut q = format!("/pods/stats?all={}", a.all);
    for p in &pods {
        q.push_str(&format!("&namesOrIDs={}", enc(p)));
    }
    let mut first = true;
    crate::cli::pod::stats::show(a, || {
        if !first {
            // Podman's pod stats samples every second.
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        first = false;
        let rows = svc.call("GET", &q, None)?.json()?;
        let rows = rows.as_array().cloned().unwrap_or_default();
        // The pods' containers all gone: nothing left to follow.
        Ok((!rows.is_empty() || !a.no_stream).then_some(rows))
    })
}

pub fn logs(svc: &Service, a: &LogsArgs) -> anyhow::Result<ExitCode> {
    let pod = match (&a.pod, a.latest) {
        (Some(_), true) => bail!("--latest and pods cannot be used together"),
        (Some(name), false) => name.clone(),
        (None, true) => match with_latest_pod(svc, Vec::new(), true) {
            Ok(mut p) => p.remove(0),
            Err(_) => bail!("no pods to log: no such pod"),
        },
        (None, false) => bail!("specify at least one pod name or ID to log"),
    };
    let v = match svc
        .call("GET", &format!("/pods/{}/json", enc(&pod)), None)?
        .json()
    {
        Ok(v) => v,
        Err(e) if is_missing(&e) => bail!("no pod with name or ID {pod} found: no such pod"),
        Err(e) => return Err(e),
    };
    let infra = v["InfraContainerID"].as_str().unwrap_or_default();
    let name = v["Name"].as_str().unwrap_or(&pod).to_owned();
    // The infra container has nothing worth showing, as locally.
    let mut ctrs: Vec<(String, String)> = v["Containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let id = c["Id"].as_str()?;
            (id != infra).then(|| (id.to_owned(), c["Name"].as_str().unwrap_or("").to_owned()))
        })
        .collect();
    if let Some(want) = &a.container {
        ctrs.retain(|(id, n)| n == want || id.starts_with(want.as_str()));
        if ctrs.is_empty() {
            bail!("container {want} is not in pod {name}: no such container");
        }
    }
    if ctrs.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let args = a.for_containers(ctrs.into_iter().map(|(id, _)| id).collect())?;
    super::system::logs_dressed(svc, &args)
}
