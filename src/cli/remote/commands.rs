//! The commands the remote client runs, each as libpod API calls built
//! from the command's typed options. Output and exit codes as the local
//! commands': a service error is hutch's own (125) unless the command
//! reports the container's code.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::{
    Service, attach, build, checkpoint, containers, cp, disk, enc, http, images, kube, objects,
    secrets, spec_gen, system,
};
use crate::cli::Command;
use crate::cli::container::ContainerCommand;
use crate::cli::container::flags::{Caller, CreateFlags};
use crate::spec::ContainerSpec;

/// Runs `command` against `svc`. Commands the client does not carry yet
/// are refused by name.
pub fn run(svc: &Service, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Version(_) => version(svc),
        Command::Ps(a) => ps(svc, &a),
        Command::Run(a) => run_container(svc, &a),
        Command::Logs(a) => logs(svc, &a),
        Command::Exec(a) => exec(svc, &a),
        Command::Stop(a) => stop(svc, &a),
        Command::Rm(a) => rm(svc, &a),
        Command::Inspect(a) => inspect(svc, &a),
        Command::Images(a) => images::list(svc, &a),
        Command::Pull(a) => images::pull(svc, &a),
        Command::Search(a) => images::search(svc, &a),
        Command::Create(a) => containers::create(svc, &a),
        Command::Start(a) => containers::start(svc, &a),
        Command::Kill(a) => containers::kill(svc, &a),
        Command::Pause(a) => containers::pause(svc, &a, "pause"),
        Command::Unpause(a) => containers::pause(svc, &a, "unpause"),
        Command::Restart(a) => containers::restart(svc, &a),
        Command::Wait(a) => containers::wait(svc, &a),
        Command::Rename(a) => containers::rename(svc, &a),
        Command::Top(a) => containers::top(svc, &a),
        Command::Port(a) => containers::port(svc, &a),
        Command::Tag(a) => containers::tag(svc, &a),
        Command::Rmi(a) => containers::rmi(svc, &a),
        Command::Attach(a) => attach::attach(svc, &a),
        Command::Cp(a) => cp::cp(svc, &a),
        Command::Volume(c) => objects::volume(svc, c),
        Command::Network(c) => objects::network(svc, c),
        Command::Pod(c) => objects::pod(svc, c),
        Command::Container(c) => container(svc, c),
        Command::Push(a) => images::push(svc, &a),
        Command::Image(c) => image(svc, c),
        Command::Diff(a) => system::diff(svc, &a),
        Command::Init(a) => containers::init(svc, &a),
        Command::Export(a) => system::export(svc, &a),
        Command::Events(a) => system::events(svc, &a),
        Command::Info(a) => system::info(svc, &a),
        Command::Stats(a) => system::stats(svc, &a),
        Command::Healthcheck(c) => system::healthcheck(svc, &c),
        Command::Commit(a) => system::commit(svc, &a),
        Command::Update(a) => system::update(svc, &a),
        Command::History(a) => images::history(svc, &a),
        Command::Save(a) => images::save(svc, &a),
        Command::Load(a) => images::load(svc, &a),
        Command::Import(a) => images::import(svc, &a),
        Command::Untag(a) => images::untag(svc, &a),
        Command::Secret(c) => secrets::secret(svc, c),
        Command::Kube(c) => kube::kube(svc, c),
        Command::Play(c) => kube::play_kube(svc, c),
        Command::Generate(c) => kube::generate(svc, c),
        // Podman's remote client logs in and out here: the client's auth
        // file, which its pulls and pushes send.
        Command::Login(a) => crate::cli::registry::login(&crate::config::Context::detect(), &a),
        Command::Logout(a) => crate::cli::registry::logout(&crate::config::Context::detect(), &a),
        Command::Build(a) => build::build(svc, &a),
        Command::System(c) => disk::system(svc, c),
        // What Podman's remote client refuses, in its words.
        Command::Mount(_) => Err(refuse(&typed("container", "mount", &[]))),
        Command::Unmount(_) => Err(refuse(&typed("container", "unmount", &["umount"]))),
        Command::Unshare(_) => Err(refuse("unshare")),
        Command::Manifest(c) => super::manifests::manifest(svc, c),
        Command::AutoUpdate(_) => Err(refuse("auto-update")),
        Command::Buildx(crate::cli::build::BuildxCommand::Build(a)) => build::build(svc, &a),
        _ => bail!(
            "this command is not available through hutch's remote client yet: \
             run it on the service's host"
        ),
    }
}

/// Podman's refusal of a command its remote client does not carry, with
/// this program's name.
pub(super) fn refuse(command: &str) -> anyhow::Error {
    anyhow::anyhow!("cannot use command \"hutch {command}\" with the remote hutch client")
}

/// `command`, or `group command` when it was typed under `group` (the
/// parser makes `container mount` the top-level `mount`; Podman's
/// refusal names the path typed).
fn typed(group: &str, command: &str, aliases: &[&str]) -> String {
    let args: Vec<String> = std::env::args().collect();
    let under = args
        .windows(2)
        .any(|w| w[0] == group && (w[1] == command || aliases.contains(&w[1].as_str())));
    if under {
        format!("{group} {command}")
    } else {
        command.to_owned()
    }
}

/// `image SUBCOMMAND`: the same as the top-level command.
fn image(svc: &Service, c: crate::cli::image::ImageCommand) -> anyhow::Result<ExitCode> {
    use crate::cli::image::ImageCommand as I;
    match c {
        I::Ls(a) => images::list(svc, &a),
        I::Pull(a) => images::pull(svc, &a),
        I::Search(a) => images::search(svc, &a),
        I::Push(a) => images::push(svc, &a),
        I::Rm(a) => containers::rmi(svc, &a),
        I::Tag(a) => containers::tag(svc, &a),
        I::Exists(a) => containers::exists(svc, &format!("/images/{}/exists", enc(&a.image))),
        I::History(a) => images::history(svc, &a),
        I::Save(a) => images::save(svc, &a),
        I::Load(a) => images::load(svc, &a),
        I::Import(a) => images::import(svc, &a),
        I::Untag(a) => images::untag(svc, &a),
        I::Build(a) => build::build(svc, &a),
        I::Tree(a) => images::tree(svc, &a),
        I::Inspect(a) => images::inspect(svc, &a),
        I::Diff(a) => system::diff_of(svc, &a, crate::cli::container::DiffObject::Image),
        I::Prune(a) => images::prune(svc, &a),
        I::Mount(_) => Err(refuse("image mount")),
        I::Unmount(_) => Err(refuse("image unmount")),
        I::Sign(_) => Err(refuse("image sign")),
        I::Trust(crate::cli::trust::TrustCommand::Show(_)) => Err(refuse("image trust show")),
        I::Trust(crate::cli::trust::TrustCommand::Set(_)) => Err(refuse("image trust set")),
        _ => bail!(
            "this image command is not available through hutch's remote client yet: \
             run it on the service's host"
        ),
    }
}

/// `container SUBCOMMAND`: the same as the top-level command.
fn container(svc: &Service, c: ContainerCommand) -> anyhow::Result<ExitCode> {
    match c {
        ContainerCommand::Create(a) => containers::create(svc, &a),
        ContainerCommand::Exists(a) => {
            containers::exists(svc, &format!("/containers/{}/exists", enc(&a.container)))
        }
        ContainerCommand::Inspect(a) => inspect(svc, &a),
        ContainerCommand::Kill(a) => containers::kill(svc, &a),
        ContainerCommand::Ps(a) => ps(svc, &a),
        ContainerCommand::Logs(a) => logs(svc, &a),
        ContainerCommand::Rename(a) => containers::rename(svc, &a),
        ContainerCommand::Restart(a) => containers::restart(svc, &a),
        ContainerCommand::Rm(a) => rm(svc, &a),
        ContainerCommand::Run(a) => run_container(svc, &a),
        ContainerCommand::Start(a) => containers::start(svc, &a),
        ContainerCommand::Stop(a) => stop(svc, &a),
        ContainerCommand::Wait(a) => containers::wait(svc, &a),
        ContainerCommand::Checkpoint(a) => checkpoint::checkpoint(svc, &a),
        ContainerCommand::Restore(a) => checkpoint::restore(svc, &a),
        ContainerCommand::Prune(a) => system::container_prune(svc, &a),
        ContainerCommand::Init(a) => containers::init(svc, &a),
        // The same as the top-level commands, as locally.
        ContainerCommand::Attach(a) => attach::attach(svc, &a),
        ContainerCommand::Commit(a) => system::commit(svc, &a),
        ContainerCommand::Cp(a) => cp::cp(svc, &a),
        ContainerCommand::Diff(a) => {
            system::diff_of(svc, &a, crate::cli::container::DiffObject::Container)
        }
        ContainerCommand::Exec(a) => exec(svc, &a),
        ContainerCommand::Export(a) => system::export(svc, &a),
        ContainerCommand::Pause(a) => containers::pause(svc, &a, "pause"),
        ContainerCommand::Unpause(a) => containers::pause(svc, &a, "unpause"),
        ContainerCommand::Port(a) => containers::port(svc, &a),
        ContainerCommand::Stats(a) => system::stats(svc, &a),
        ContainerCommand::Top(a) => containers::top(svc, &a),
        ContainerCommand::Update(a) => system::update(svc, &a),
        ContainerCommand::Cleanup(_) => Err(refuse("container cleanup")),
        ContainerCommand::Runlabel(_) => Err(refuse("container runlabel")),
        // Podman 4.3.1's remote client has no clone (its tunnel's words).
        ContainerCommand::Clone(_) => {
            bail!("cloning a container is not supported on the remote client")
        }
        _ => bail!(
            "this container command is not available through hutch's remote client yet: \
             run it on the service's host"
        ),
    }
}

fn version(svc: &Service) -> anyhow::Result<ExitCode> {
    let v = svc.call("GET", "/version", None)?.json()?;
    println!("Client:       hutch");
    println!("Version:      {}", env!("CARGO_PKG_VERSION"));
    println!();
    println!(
        "Server:       {}",
        v["Components"][0]["Name"].as_str().unwrap_or("?")
    );
    println!("Version:      {}", v["Version"].as_str().unwrap_or("?"));
    println!(
        "API Version:  {}",
        v["Components"][0]["Details"]["APIVersion"]
            .as_str()
            .or(v["ApiVersion"].as_str())
            .unwrap_or("?")
    );
    Ok(ExitCode::SUCCESS)
}

/// `{{.Path.To.Field}}` of `v` filled in; `\t` and `\n` as Podman takes
/// them. Enough for the fields scripts ask a remote for.
fn render(format: &str, v: &Value) -> String {
    let mut out = String::new();
    let mut rest = format.replace("\\t", "\t").replace("\\n", "\n");
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else {
            break;
        };
        let expr = rest[i + 2..i + j].trim();
        let mut cur = v;
        for part in expr
            .trim_start_matches('.')
            .split('.')
            .filter(|p| !p.is_empty())
        {
            cur = &cur[part];
        }
        match cur {
            Value::String(s) => out.push_str(s),
            Value::Null => {}
            Value::Array(a) => out.push_str(
                &a.iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            other => out.push_str(&other.to_string()),
        }
        rest = rest[i + j + 2..].to_owned();
    }
    out.push_str(&rest);
    out
}

fn ps(svc: &Service, a: &crate::cli::container::PsArgs) -> anyhow::Result<ExitCode> {
    // The namespaces are the service host's /proc, which this client
    // cannot read.
    if a.ns {
        bail!("hutch --remote ps: --ns is not supported by the remote client");
    }
    if a.watch > 0 {
        bail!("hutch --remote ps: --watch is not supported by the remote client");
    }
    let mut q = format!("/containers/json?all={}", a.all);
    if a.last >= 0 {
        q.push_str(&format!("&last={}", a.last));
    }
    if !a.filter.is_empty() {
        let mut f = serde_json::Map::new();
        for item in &a.filter {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            if let Some(l) = f.entry(k).or_insert_with(|| json!([])).as_array_mut() {
                l.push(json!(v));
            }
        }
        q.push_str(&format!("&filters={}", enc(&Value::Object(f).to_string())));
    }
    let list = svc.call("GET", &q, None)?.json()?;
    // The service lists the newest first and gives times in seconds:
    // reversed, the oldest come first among those made in one second too.
    let list: Vec<_> = list
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .filter_map(summary)
        .collect();
    crate::cli::container::ps::print_list(a, list)
}

/// A container of the service's libpod list (Podman's `ListContainer`)
/// as the local `ps` prints one; `None` for an entry without an id.
fn summary(c: &Value) -> Option<crate::engine::container::list::ContainerSummary> {
    use crate::engine::container::lifecycle::state_name;
    use crate::engine::state::ContainerState;
    // Seconds, or an RFC 3339 time (`Created`); Go's zero time (and 0)
    // for unset.
    let ns = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(crate::host::time::parse_rfc3339))
            .filter(|s| *s > 0)
            .map(|s| s * 1_000_000_000)
    };
    let state = match c["State"].as_str().unwrap_or_default() {
        "created" | "configured" => ContainerState::Configured,
        "initialized" => ContainerState::Created,
        other => ContainerState::parse(other).unwrap_or(ContainerState::Configured),
    };
    let args: Vec<String> = c["Command"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let pod = c["Pod"].as_str().filter(|p| !p.is_empty()).map(|p| {
        (
            p.to_owned(),
            c["PodName"].as_str().unwrap_or_default().to_owned(),
        )
    });
    Some(crate::engine::container::list::ContainerSummary {
        id: c["Id"].as_str()?.to_owned(),
        name: c["Names"][0].as_str().unwrap_or_default().to_owned(),
        image: c["Image"].as_str().unwrap_or_default().to_owned(),
        image_id: c["ImageID"].as_str().unwrap_or_default().to_owned(),
        command: args.join(" "),
        args,
        created: ns(&c["Created"]).unwrap_or(0),
        started_at: ns(&c["StartedAt"]),
        exited_at: ns(&c["ExitedAt"]),
        state,
        state_name: state_name(state),
        exit_code: c["ExitCode"].as_i64().and_then(|e| i32::try_from(e).ok()),
        pid: c["Pid"]
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 0),
        restarts: c["Restarts"]
            .as_u64()
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0),
        auto_remove: c["AutoRemove"].as_bool().unwrap_or(false),
        labels: c["Labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        size: c["Size"]["rwSize"]
            .as_u64()
            .map(|rw| (rw, c["Size"]["rootFsSize"].as_u64().unwrap_or(0))),
        ports: c["Ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| serde_json::from_value(p.clone()).ok())
            .collect(),
        pod,
        health: None,
    })
}

/// Pulls `image` on the service unless it has it (`--pull=missing`).
pub(super) fn pull_missing(svc: &Service, image: &str, policy: &str) -> anyhow::Result<()> {
    use std::io::BufRead;
    let r = svc.call(
        "POST",
        &format!(
            "/images/pull?reference={}&policy={}&quiet=true",
            enc(image),
            enc(policy)
        ),
        None,
    )?;
    for line in std::io::BufReader::new(r.stream()?).lines() {
        let line = line.context("reading the pull's progress")?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(e) = v["error"].as_str().filter(|e| !e.is_empty()) {
            bail!("{e}");
        }
    }
    Ok(())
}

/// Creates a container from `flags` on the service, as the local
/// `create` does: `--pod new:NAME` makes the pod first, `--replace`
/// removes a container of that name, `--cidfile` is written here (the
/// file is the caller's). The spec and the container's id.
pub(super) fn create_from_flags(
    svc: &Service,
    flags: &CreateFlags,
    image: &str,
    command: &[String],
) -> anyhow::Result<(ContainerSpec, String)> {
    if flags.env_host {
        bail!(
            "--env-host is not supported by hutch's remote client: the client's environment is not the container's host's"
        );
    }
    let mut spec = flags.spec(image, command, &Caller::current())?;
    if let Some(path) = &flags.cidfile
        && std::path::Path::new(path).exists()
    {
        bail!(
            "container id file exists. Ensure another container is not using it or delete {path}"
        );
    }
    let body = spec_gen::generator(&spec)?;
    let mut body = body;
    if let Some(pod) = spec.pod.as_deref().and_then(|p| p.strip_prefix("new:")) {
        let made = svc
            .call("POST", "/pods/create", Some(&json!({"name": pod})))?
            .json()?;
        let id = made["Id"]
            .as_str()
            .context("the service returned no pod id")?;
        body["pod"] = json!(id);
        spec.pod = Some(id.to_owned());
    }
    if flags.replace
        && let Some(n) = &spec.name
    {
        let r = svc.call(
            "DELETE",
            &format!("/containers/{}?force=true&ignore=true", enc(n)),
            None,
        )?;
        match r.json() {
            Ok(_) => {}
            Err(e) if containers::is_missing(&e) => {}
            Err(e) => return Err(e),
        }
    }
    if !spec.image.is_empty() {
        pull_missing(svc, &spec.image, &flags.pull)?;
    }
    let created = svc
        .call("POST", "/containers/create", Some(&body))?
        .json()?;
    let id = created["Id"]
        .as_str()
        .context("the service returned no container id")?
        .to_owned();
    for w in flags.warnings() {
        eprintln!("Warning: {w}");
    }
    for w in created["Warnings"].as_array().into_iter().flatten() {
        if let Some(w) = w.as_str() {
            eprintln!("Warning: {w}");
        }
    }
    if let Some(path) = &flags.cidfile {
        std::fs::write(path, &id).with_context(|| format!("writing the container id to {path}"))?;
    }
    Ok((spec, id))
}

fn run_container(svc: &Service, a: &crate::cli::container::RunArgs) -> anyhow::Result<ExitCode> {
    // The client removes a foreground --rm container itself, after reading
    // its whole log and exit code.
    let mut flags = a.flags.clone();
    let remove_after = !a.detach && flags.rm;
    flags.rm &= a.detach;
    let (spec, id) = create_from_flags(svc, &flags, a.image(), a.command())?;
    if !a.detach && (spec.interactive || spec.tty) {
        // Attached before the start, so no output is lost and the
        // terminal is there from the first byte.
        let code = attach::run_attached(svc, &id, spec.interactive, spec.tty, &a.attach);
        if remove_after {
            let _ = svc.call("DELETE", &format!("/containers/{id}?force=true"), None);
        }
        return code;
    }
    let started = svc.call("POST", &format!("/containers/{id}/start"), None)?;
    if started.status >= 400 {
        started.json()?;
    }
    if a.detach {
        println!("{id}");
        return Ok(ExitCode::SUCCESS);
    }
    let logs = svc.call(
        "GET",
        &format!("/containers/{id}/logs?follow=true&stdout=true&stderr=true"),
        None,
    )?;
    http::demux(logs.stream()?)?;
    let code = svc
        .call(
            "POST",
            &format!("/containers/{id}/wait?condition=stopped&condition=exited"),
            None,
        )?
        .json()?;
    let code = code.as_i64().or(code["StatusCode"].as_i64()).unwrap_or(0);
    if remove_after {
        svc.call("DELETE", &format!("/containers/{id}?force=true"), None)?
            .json()?;
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
}

fn logs(svc: &Service, a: &crate::cli::container::LogsArgs) -> anyhow::Result<ExitCode> {
    if a.containers.len() > 1 || a.names || a.color {
        return system::logs_dressed(svc, a);
    }
    let mut q = format!(
        "/containers/{}/logs?stdout=true&stderr=true&follow={}&timestamps={}",
        enc(a.containers.first().map_or("", String::as_str)),
        a.follow,
        a.timestamps
    );
    if let Some(n) = a.tail_lines() {
        q.push_str(&format!("&tail={n}"));
    }
    if let Some(s) = &a.since {
        q.push_str(&format!("&since={}", enc(s)));
    }
    if let Some(u) = &a.until {
        q.push_str(&format!("&until={}", enc(u)));
    }
    http::demux(svc.call("GET", &q, None)?.stream()?)?;
    Ok(ExitCode::SUCCESS)
}

fn exec(svc: &Service, a: &crate::cli::container::ExecArgs) -> anyhow::Result<ExitCode> {
    // A descriptor cannot travel over the API (podman-remote refuses it too).
    if a.preserve_fds > 0 {
        bail!("exec --preserve-fds is not available through hutch's remote client");
    }
    if !a.env_file.is_empty() {
        bail!("exec --env-file through hutch's remote client is not available yet: use -e");
    }
    let newest;
    let (container, cmd) = if a.latest {
        newest = containers::latest(svc)?;
        (&newest, a.args.as_slice())
    } else {
        a.args
            .split_first()
            .context("exec needs a container and a command")?
    };
    if cmd.is_empty() {
        bail!("exec needs a command to run in {container}");
    }
    let mut body = json!({
        "AttachStdout": true, "AttachStderr": true, "AttachStdin": a.interactive,
        "Cmd": cmd, "Env": a.env, "Privileged": a.privileged, "Tty": a.tty,
        "DetachKeys": a.detach_keys,
    });
    if let Some(u) = &a.user {
        body["User"] = json!(u);
    }
    if let Some(w) = &a.workdir {
        body["WorkingDir"] = json!(w);
    }
    let created = svc
        .call(
            "POST",
            &format!("/containers/{}/exec", enc(container)),
            Some(&body),
        )?
        .json()?;
    let sid = created["Id"]
        .as_str()
        .context("the service returned no exec id")?
        .to_owned();
    if a.detach {
        let start = json!({"Detach": true, "Tty": a.tty});
        svc.call("POST", &format!("/exec/{sid}/start"), Some(&start))?
            .json()?;
        return Ok(ExitCode::SUCCESS);
    }
    attach::exec_session(svc, &sid, a.interactive, a.tty)?;
    // The output ends when the process does; its code is recorded by the
    // service just after: wait for it, with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let s = svc
            .call("GET", &format!("/exec/{sid}/json"), None)?
            .json()?;
        if s["Running"] == json!(false) || std::time::Instant::now() > deadline {
            let code = s["ExitCode"].as_i64().unwrap_or(0);
            return Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn stop(svc: &Service, a: &crate::cli::container::StopArgs) -> anyhow::Result<ExitCode> {
    let names = containers::targets(
        svc,
        &containers::Pick {
            names: &a.containers,
            cidfiles: &a.cidfile,
            all: a.all,
            latest: a.latest,
            filter: &a.filter,
            all_states: &["running", "paused"],
        },
    )?;
    let mut code = ExitCode::SUCCESS;
    for c in &names {
        let mut q = format!("/containers/{}/stop", enc(c));
        if let Some(t) = a.time {
            q.push_str(&format!("?timeout={t}"));
        }
        let r = svc.call("POST", &q, None)?;
        match r.json() {
            Ok(_) => println!("{c}"),
            Err(e)
                if a.ignore
                    && e.downcast_ref::<http::ApiError>()
                        .is_some_and(|e| e.status == 404) => {}
            // As the local stop: each failure reported, the others go on.
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                code = ExitCode::from(crate::cli::EXIT_HUTCH_ERROR);
            }
        }
    }
    Ok(code)
}

fn rm(svc: &Service, a: &crate::cli::container::RmArgs) -> anyhow::Result<ExitCode> {
    let mut names = a.containers.clone();
    for f in &a.cidfile {
        names.push(crate::cli::container::rm::read_cidfile(f)?);
    }
    if a.filter.is_empty() {
        // rm's own checks and words, as the local rm.
        crate::engine::container::remove::RemoveOptions {
            names: names.clone(),
            all: a.all,
            latest: a.latest,
            force: a.force,
            timeout: a.time,
            ..Default::default()
        }
        .validate()?;
    }
    let names = match containers::targets(
        svc,
        &containers::Pick {
            names: &names,
            all: a.all,
            latest: a.latest,
            filter: &a.filter,
            ..containers::Pick::default()
        },
    ) {
        Ok(n) => n,
        // As the local rm: no container to take as latest is exit 1.
        Err(e)
            if e.downcast_ref::<crate::engine::Error>()
                .is_some_and(|e| e.kind() == crate::engine::ErrorKind::NotFound) =>
        {
            eprintln!("Error: {}", crate::cli::error_text(&e));
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e),
    };
    let mut code = ExitCode::SUCCESS;
    for c in &names {
        let mut q = format!(
            "/containers/{}?force={}&ignore={}&volumes={}&depend={}",
            enc(c),
            a.force,
            a.ignore,
            a.volumes,
            a.depend
        );
        if let Some(t) = a.time {
            q.push_str(&format!("&timeout={t}"));
        }
        match svc.call("DELETE", &q, None)?.json() {
            Ok(_) => println!("{c}"),
            // As the local rm: a missing container is exit 1.
            Err(e)
                if e.downcast_ref::<http::ApiError>()
                    .is_some_and(|e| e.status == 404) =>
            {
                eprintln!("Error: {e}");
                code = ExitCode::from(1);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(code)
}

fn inspect(svc: &Service, a: &crate::cli::container::InspectArgs) -> anyhow::Result<ExitCode> {
    let names = containers::targets(
        svc,
        &containers::Pick {
            names: &a.names,
            latest: a.latest,
            ..containers::Pick::default()
        },
    )?;
    let mut all = Vec::new();
    for n in &names {
        all.push(
            svc.call("GET", &format!("/containers/{}/json", enc(n)), None)?
                .json()?,
        );
    }
    match a.format.as_deref() {
        None | Some("json") => println!("{}", serde_json::to_string_pretty(&all)?),
        Some(f) => {
            for v in &all {
                println!("{}", render(f, v));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows a libpod pull or push stream (JSON lines): its `stream` text
/// to stderr unless `quiet`, its `error` as the error; the last value of
/// `key` (the image id, the manifest digest).
pub(super) fn follow_progress(
    stream: impl std::io::Read,
    quiet: bool,
    what: &str,
    key: &str,
) -> anyhow::Result<Option<String>> {
    use std::io::BufRead;
    let mut found = None;
    for line in std::io::BufReader::new(stream).lines() {
        let line = line.with_context(|| format!("reading the {what}'s progress"))?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(e) = v["error"].as_str().filter(|e| !e.is_empty()) {
            bail!("{e}");
        }
        if let Some(s) = v["stream"].as_str()
            && !quiet
        {
            eprint!("{s}");
        }
        if let Some(k) = v[key].as_str() {
            found = Some(k.to_owned());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_paths() {
        let v = json!({"Name": "a", "State": {"Status": "running", "Pid": 5}, "L": ["x", "y"]});
        assert_eq!(
            render("{{.Name}} {{.State.Status}}\\t{{ .State.Pid }} {{.L}}", &v),
            "a running\t5 x,y"
        );
    }
}
