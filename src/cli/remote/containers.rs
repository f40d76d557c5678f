//! Container and image commands of the remote client beyond run, ps, logs,
//! exec, stop, rm and inspect: create, start, kill, pause, unpause, wait,
//! restart, rename, top, port, exists, tag and rmi. Output and exit codes
//! as the local commands': each name given is printed when done, each
//! failure is `Error: ...` on stderr and exit 125 (1 where Podman says a
//! missing object is 1).

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::http::ApiError;
use super::{Service, enc};
use crate::cli::EXIT_HUTCH_ERROR;

/// Whether `e` is the service's 404.
pub(super) fn is_missing(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(|e| e.status == 404)
}

/// Runs `each` for every name: the name printed when it succeeds, the
/// error on stderr when not; 125 once one failed (Podman's reports).
fn for_each(
    names: &[String],
    mut each: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    if names.is_empty() {
        bail!("you must provide at least one container name or id");
    }
    let mut code = ExitCode::SUCCESS;
    for n in names {
        match each(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                code = ExitCode::from(EXIT_HUTCH_ERROR);
            }
        }
    }
    Ok(code)
}

/// `--all`, `--latest` and `--filter` pick containers on the local store;
/// the client takes names.
fn names_only(all: bool, latest: bool, filter: &[String], what: &str) -> anyhow::Result<()> {
    if all || latest || !filter.is_empty() {
        bail!(
            "{what} -a, -l and --filter through hutch's remote client are not available yet: name the containers"
        );
    }
    Ok(())
}

pub fn create(svc: &Service, a: &crate::cli::container::CreateArgs) -> anyhow::Result<ExitCode> {
    let image = a.argv.first().map_or("", String::as_str);
    let command = a.argv.get(1..).unwrap_or_default();
    let (_, id) = super::commands::create_from_flags(svc, &a.flags, image, command)?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

pub fn start(svc: &Service, a: &crate::cli::container::StartArgs) -> anyhow::Result<ExitCode> {
    names_only(a.all, a.latest, &a.filter, "start")?;
    if a.attach {
        let [name] = a.containers.as_slice() else {
            bail!("you cannot start and attach multiple containers at once");
        };
        return super::attach::start_attached(svc, name, a.interactive, &a.attach_flags);
    }
    for_each(&a.containers, |c| {
        let r = svc.call("POST", &format!("/containers/{}/start", enc(c)), None)?;
        if r.status >= 400 {
            r.json()?;
        }
        Ok(())
    })
}

pub fn kill(svc: &Service, a: &crate::cli::container::KillArgs) -> anyhow::Result<ExitCode> {
    names_only(a.all, a.latest, &[], "kill")?;
    for_each(&a.containers, |c| {
        svc.call(
            "POST",
            &format!("/containers/{}/kill?signal={}", enc(c), enc(&a.signal)),
            None,
        )?
        .json()
        .map(drop)
    })
}

pub fn pause(
    svc: &Service,
    a: &crate::cli::container::PauseArgs,
    verb: &str,
) -> anyhow::Result<ExitCode> {
    names_only(a.all, a.latest, &a.filter, verb)?;
    for_each(&a.containers, |c| {
        svc.call("POST", &format!("/containers/{}/{verb}", enc(c)), None)?
            .json()
            .map(drop)
    })
}

pub fn restart(svc: &Service, a: &crate::cli::container::RestartArgs) -> anyhow::Result<ExitCode> {
    names_only(a.all, a.latest, &a.filter, "restart")?;
    if a.running {
        bail!("restart --running through hutch's remote client is not available yet");
    }
    if a.containers.is_empty() {
        bail!("you must provide at least one container name or id");
    }
    let mut code = ExitCode::SUCCESS;
    for c in &a.containers {
        let mut q = format!("/containers/{}/restart", enc(c));
        if let Some(t) = a.time {
            q.push_str(&format!("?t={t}"));
        }
        // Podman prints the full id of a restarted container.
        let done = svc.call("POST", &q, None)?.json().and_then(|_| {
            let v = svc
                .call("GET", &format!("/containers/{}/json", enc(c)), None)?
                .json()?;
            Ok(v["Id"].as_str().unwrap_or(c).to_owned())
        });
        match done {
            Ok(id) => println!("{id}"),
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                code = ExitCode::from(EXIT_HUTCH_ERROR);
            }
        }
    }
    Ok(code)
}

pub fn wait(svc: &Service, a: &crate::cli::container::WaitArgs) -> anyhow::Result<ExitCode> {
    names_only(false, a.latest, &[], "wait")?;
    if a.containers.is_empty() {
        bail!("you must provide at least one container name or id");
    }
    let mut q = String::new();
    for c in &a.condition {
        q.push_str(&format!("&condition={}", enc(c)));
    }
    let mut code = ExitCode::SUCCESS;
    for c in &a.containers {
        let r = svc
            .call(
                "POST",
                &format!(
                    "/containers/{}/wait?interval={}{q}",
                    enc(c),
                    enc(&a.interval)
                ),
                None,
            )?
            .json();
        match r {
            Ok(v) => println!("{}", v.as_i64().or(v["StatusCode"].as_i64()).unwrap_or(0)),
            Err(e) if a.ignore && is_missing(&e) => println!("-1"),
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                code = ExitCode::from(EXIT_HUTCH_ERROR);
            }
        }
    }
    Ok(code)
}

pub fn rename(svc: &Service, a: &crate::cli::container::RenameArgs) -> anyhow::Result<ExitCode> {
    let r = svc.call(
        "POST",
        &format!(
            "/containers/{}/rename?name={}",
            enc(&a.container),
            enc(&a.name)
        ),
        None,
    )?;
    if r.status >= 400 {
        r.json()?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn exists(svc: &Service, path: &str) -> anyhow::Result<ExitCode> {
    let r = svc.call("GET", path, None)?;
    match r.status {
        200..=299 => Ok(ExitCode::SUCCESS),
        404 => Ok(ExitCode::from(1)),
        _ => r.json().map(|_| ExitCode::from(EXIT_HUTCH_ERROR)),
    }
}

pub fn top(svc: &Service, a: &crate::cli::container::TopArgs) -> anyhow::Result<ExitCode> {
    if a.latest {
        bail!("top -l through hutch's remote client is not available yet: name the container");
    }
    let (c, descriptors) = a
        .args
        .split_first()
        .context("top needs a container name or id")?;
    let mut q = format!("/containers/{}/top", enc(c));
    if !descriptors.is_empty() {
        q.push_str(&format!("?ps_args={}", enc(&descriptors.join(","))));
    }
    let v = svc.call("GET", &q, None)?.json()?;
    let cells = |row: &Value| -> String {
        row.as_array()
            .into_iter()
            .flatten()
            .map(|x| x.as_str().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\t")
    };
    let mut text = cells(&v["Titles"]);
    text.push('\n');
    for r in v["Processes"].as_array().into_iter().flatten() {
        text.push_str(&cells(r));
        text.push('\n');
    }
    print!("{}", crate::format::align_columns(&text));
    Ok(ExitCode::SUCCESS)
}

pub fn port(svc: &Service, a: &crate::cli::container::PortArgs) -> anyhow::Result<ExitCode> {
    if a.all {
        bail!("port -a through hutch's remote client is not available yet: name the container");
    }
    let (c, want) = a
        .args
        .split_first()
        .context("port needs a container name or id")?;
    let v = svc
        .call("GET", &format!("/containers/{}/json", enc(c)), None)?
        .json()?;
    let want = want.first().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut ports: Vec<(&String, &Value)> = v["NetworkSettings"]["Ports"]
        .as_object()
        .into_iter()
        .flatten()
        .collect();
    ports.sort_by_key(|(k, _)| k.as_str());
    for (private, bindings) in ports {
        if want.as_ref().is_some_and(|w| w != private) {
            continue;
        }
        for b in bindings.as_array().into_iter().flatten() {
            let ip = b["HostIp"]
                .as_str()
                .filter(|i| !i.is_empty())
                .unwrap_or("0.0.0.0");
            let public = format!("{ip}:{}", b["HostPort"].as_str().unwrap_or(""));
            if want.is_some() {
                println!("{public}");
            } else {
                println!("{private} -> {public}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tag(svc: &Service, a: &crate::cli::image::TagArgs) -> anyhow::Result<ExitCode> {
    for t in &a.target_names {
        let (repo, tag) = match t.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (t.as_str(), "latest"),
        };
        let r = svc.call(
            "POST",
            &format!(
                "/images/{}/tag?repo={}&tag={}",
                enc(&a.image),
                enc(repo),
                enc(tag)
            ),
            None,
        )?;
        if r.status >= 400 {
            r.json()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rmi(svc: &Service, a: &crate::cli::image::RmiArgs) -> anyhow::Result<ExitCode> {
    if a.all {
        bail!("rmi -a through hutch's remote client is not available yet: name the images");
    }
    let mut code = ExitCode::SUCCESS;
    for i in &a.images {
        let r = svc
            .call(
                "DELETE",
                &format!("/images/{}?force={}", enc(i), a.force),
                None,
            )?
            .json();
        match r {
            Ok(v) => {
                for u in v["Untagged"].as_array().into_iter().flatten() {
                    println!("Untagged: {}", u.as_str().unwrap_or(""));
                }
                for d in v["Deleted"].as_array().into_iter().flatten() {
                    println!("Deleted: {}", d.as_str().unwrap_or(""));
                }
            }
            Err(e) if a.ignore && is_missing(&e) => {}
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                // Podman: 1 for an image that is not there, 2 in use.
                code = ExitCode::from(match e.downcast_ref::<ApiError>().map(|e| e.status) {
                    Some(404) => 1,
                    Some(409) => 2,
                    _ => EXIT_HUTCH_ERROR,
                });
            }
        }
    }
    Ok(code)
}
