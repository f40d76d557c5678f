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
use crate::engine::container::select::Selection;

/// Whether `e` is the service's 404.
pub(super) fn is_missing(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ApiError>()
        .is_some_and(|e| e.status == 404)
}

/// Runs `each` for every target: the target printed when it succeeds,
/// the error on stderr when not; 125 once one failed (Podman's reports).
fn for_each(
    names: &[String],
    mut each: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
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

/// How a command names its containers: `--all`, `--latest`, `--filter`
/// and `--cidfile` beside the names.
#[derive(Default)]
pub(super) struct Pick<'a> {
    pub names: &'a [String],
    pub cidfiles: &'a [std::path::PathBuf],
    pub all: bool,
    pub latest: bool,
    pub filter: &'a [String],
    /// With `--all`, only containers in these states (`kill -a`: the
    /// running ones, as the local engine picks them); empty: every one.
    pub all_states: &'a [&'a str],
}

/// The containers a command acts on, as `podman --remote` picks them:
/// the names given and the ids in the `--cidfile`s (read here: the files
/// are the caller's), or for `--all`, `--latest` and `--filter` the full
/// ids from the service's list (printed back as the local command does).
/// The flag checks and their words are the local command's.
pub(super) fn targets(svc: &Service, p: &Pick) -> anyhow::Result<Vec<String>> {
    let mut names = p.names.to_vec();
    for f in p.cidfiles {
        names.push(crate::cli::container::rm::read_cidfile(f)?);
    }
    if !p.filter.is_empty() {
        if !names.is_empty() {
            bail!("--filter takes no arguments");
        }
        let filters = filters_query(p.filter);
        return Ok(listed(svc, &format!("all=true{filters}"))?
            .into_iter()
            .map(|(id, _)| id)
            .collect());
    }
    Selection {
        names: names.clone(),
        all: p.all,
        latest: p.latest,
    }
    .validate()?;
    if p.all {
        return Ok(listed(svc, "all=true")?
            .into_iter()
            .filter(|(_, state)| p.all_states.is_empty() || p.all_states.contains(&state.as_str()))
            .map(|(id, _)| id)
            .collect());
    }
    if p.latest {
        return latest(svc).map(|id| vec![id]);
    }
    Ok(names)
}

/// The newest container's full id (`--latest`); the local error when
/// there is none.
pub(super) fn latest(svc: &Service) -> anyhow::Result<String> {
    match listed(svc, "all=true&last=1")?.into_iter().next() {
        Some((id, _)) => Ok(id),
        None => Err(
            crate::engine::Error::not_found("no containers to act on: no such container").into(),
        ),
    }
}

/// `&filters=` for `--filter KEY=VALUE` items: libpod's JSON map of lists.
pub(super) fn filters_query(items: &[String]) -> String {
    let mut f = serde_json::Map::new();
    for item in items {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        if let Some(l) = f
            .entry(k)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            l.push(Value::String(v.to_owned()));
        }
    }
    format!("&filters={}", enc(&Value::Object(f).to_string()))
}

/// The service's list for `query`: each container's full id and state.
pub(super) fn listed(svc: &Service, query: &str) -> anyhow::Result<Vec<(String, String)>> {
    let list = svc
        .call("GET", &format!("/containers/json?{query}"), None)?
        .json()?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["Id"].as_str().unwrap_or("").to_owned(),
                c["State"].as_str().unwrap_or("").to_owned(),
            )
        })
        .filter(|(id, _)| !id.is_empty())
        .collect())
}

pub fn create(svc: &Service, a: &crate::cli::container::CreateArgs) -> anyhow::Result<ExitCode> {
    let image = a.argv.first().map_or("", String::as_str);
    let command = a.argv.get(1..).unwrap_or_default();
    let (_, id) = super::commands::create_from_flags(svc, &a.flags, image, command)?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

pub fn start(svc: &Service, a: &crate::cli::container::StartArgs) -> anyhow::Result<ExitCode> {
    if a.attach && (a.all || a.containers.len() > 1) {
        bail!("you cannot start and attach multiple containers at once");
    }
    let names = targets(
        svc,
        &Pick {
            names: &a.containers,
            all: a.all,
            latest: a.latest,
            filter: &a.filter,
            ..Pick::default()
        },
    )?;
    if a.attach {
        let [name] = names.as_slice() else {
            bail!("you cannot start and attach multiple containers at once");
        };
        return super::attach::start_attached(svc, name, a.interactive, &a.attach_flags);
    }
    for_each(&names, |c| {
        let r = svc.call("POST", &format!("/containers/{}/start", enc(c)), None)?;
        if r.status >= 400 {
            r.json()?;
        }
        Ok(())
    })
}

pub fn kill(svc: &Service, a: &crate::cli::container::KillArgs) -> anyhow::Result<ExitCode> {
    let names = targets(
        svc,
        &Pick {
            names: &a.containers,
            cidfiles: &a.cidfile,
            all: a.all,
            latest: a.latest,
            all_states: &["running"],
            ..Pick::default()
        },
    )?;
    for_each(&names, |c| {
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
    // `-a` passes over containers already in the wanted state, as locally.
    let from: &[&str] = if verb == "pause" {
        &["running"]
    } else {
        &["paused"]
    };
    let names = targets(
        svc,
        &Pick {
            names: &a.containers,
            cidfiles: &a.cidfile,
            all: a.all,
            latest: a.latest,
            filter: &a.filter,
            all_states: from,
        },
    )?;
    for_each(&names, |c| {
        svc.call("POST", &format!("/containers/{}/{verb}", enc(c)), None)?
            .json()
            .map(drop)
    })
}

pub fn restart(svc: &Service, a: &crate::cli::container::RestartArgs) -> anyhow::Result<ExitCode> {
    let names = targets(
        svc,
        &Pick {
            names: &a.containers,
            cidfiles: &a.cidfile,
            all: a.all,
            latest: a.latest,
            filter: &a.filter,
            ..Pick::default()
        },
    )?;
    let mut code = ExitCode::SUCCESS;
    for c in &names {
        // `--running`: only those running now, as the local engine.
        if a.running
            && let Ok(v) = svc
                .call("GET", &format!("/containers/{}/json", enc(c)), None)?
                .json()
            && v["State"]["Status"] != "running"
        {
            continue;
        }
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
    let names = targets(
        svc,
        &Pick {
            names: &a.containers,
            latest: a.latest,
            ..Pick::default()
        },
    )?;
    let mut q = String::new();
    for c in &a.condition {
        q.push_str(&format!("&condition={}", enc(c)));
    }
    let mut code = ExitCode::SUCCESS;
    for c in &names {
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
    let newest;
    let (c, descriptors) = if a.latest {
        newest = latest(svc)?;
        (&newest, a.args.as_slice())
    } else {
        a.args
            .split_first()
            .context("top needs a container name or id")?
    };
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
        if a.args.len() > 1 {
            bail!("no arguments are needed with --all, or only a port");
        }
        for (id, _) in listed(svc, "all=true")? {
            let short = &id[..12.min(id.len())];
            for (private, public) in ports_of(svc, &id, a.args.first())? {
                if a.args.is_empty() {
                    println!("{short}\t{private} -> {public}");
                } else {
                    println!("{public}");
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.args.len() > 2 {
        bail!("`port` accepts at most two arguments");
    }
    let (c, want) = a
        .args
        .split_first()
        .context("port needs a container name or id")?;
    for (private, public) in ports_of(svc, c, want.first())? {
        if want.is_empty() {
            println!("{private} -> {public}");
        } else {
            println!("{public}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A container's published ports (`80/tcp`, `0.0.0.0:8080`), sorted;
/// only `want`'s (`80` is `80/tcp`) when given.
fn ports_of(
    svc: &Service,
    c: &str,
    want: Option<&String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let v = svc
        .call("GET", &format!("/containers/{}/json", enc(c)), None)?
        .json()?;
    let want = want.map(|p| {
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
    let mut out = Vec::new();
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
            out.push((private.clone(), public));
        }
    }
    Ok(out)
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

/// `init CTR...`, `-a`, `-l`: `POST /containers/{id}/init`; the service's
/// 304 is Podman's "already been created in runtime" (the local words).
pub fn init(svc: &Service, a: &crate::cli::init::InitArgs) -> anyhow::Result<ExitCode> {
    let names = targets(
        svc,
        &Pick {
            names: &a.containers,
            all: a.all,
            latest: a.latest,
            // `-a` passes over what is past created, as locally.
            all_states: &["created", "configured", "exited", "stopped"],
            ..Pick::default()
        },
    )?;
    for_each(&names, |c| {
        let r = svc.call("POST", &format!("/containers/{}/init", enc(c)), None)?;
        if r.status == 304 {
            // The local words name the full id.
            let v = svc
                .call("GET", &format!("/containers/{}/json", enc(c)), None)?
                .json()?;
            let id = v["Id"].as_str().unwrap_or(c);
            bail!("container {id} has already been created in runtime: container state improper");
        }
        r.json().map(drop)
    })
}
