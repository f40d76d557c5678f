//! Observing commands of the remote client: `diff`, `export`, `events`,
//! `info`, `container prune`. Each asks the libpod route Podman's remote
//! client asks and prints through the local command's own printer where
//! there is one, so the text is the local command's.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::{Service, containers, enc};
use crate::engine::state::{Event, EventType};
use crate::format::OutputFormat;

/// `diff [--format json] [-l] CONTAINER`: the service's list of changes
/// (`Kind` 0 changed, 1 added, 2 deleted), printed as locally.
pub fn diff(svc: &Service, a: &crate::cli::container::DiffArgs) -> anyhow::Result<ExitCode> {
    diff_of(svc, a, crate::cli::container::DiffObject::Any)
}

/// `diff`, `container diff`, `image diff`: as locally, `diff` takes a
/// container, else an image (`GET /libpod/images/{name}/changes`), and a
/// name that is neither gets the local words.
pub fn diff_of(
    svc: &Service,
    a: &crate::cli::container::DiffArgs,
    object: crate::cli::container::DiffObject,
) -> anyhow::Result<ExitCode> {
    use crate::cli::container::DiffObject;
    let json = match a.format.as_deref() {
        None | Some("") => false,
        Some("json") => true,
        Some(other) => bail!("only json is supported as --format, not {other:?}"),
    };
    if a.container.len() > 1 {
        bail!("hutch diff takes one container (diffing two is not supported yet)");
    }
    let name = match (a.container.first(), a.latest) {
        (Some(n), false) => n.clone(),
        (None, true) => containers::latest(svc)?,
        (Some(_), true) => bail!("--latest and containers cannot be used together"),
        (None, false) => bail!("container must be specified: hutch diff [options [...]] ID-NAME"),
    };
    let image = || -> anyhow::Result<serde_json::Value> {
        match svc
            .call("GET", &format!("/images/{}/changes", enc(&name)), None)?
            .json()
        {
            Err(e) if containers::is_missing(&e) => {
                bail!("{name} not found: {name}: image not known")
            }
            other => other,
        }
    };
    let v = match object {
        DiffObject::Image => image()?,
        _ => match svc
            .call("GET", &format!("/containers/{}/changes", enc(&name)), None)?
            .json()
        {
            Err(e) if containers::is_missing(&e) && object == DiffObject::Any && !a.latest => {
                image()?
            }
            Err(e) if containers::is_missing(&e) => {
                bail!("{name} not found: container not known")
            }
            other => other?,
        },
    };
    let changes: Vec<(u64, String)> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["Kind"].as_u64().unwrap_or(0),
                c["Path"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    const LETTERS: [(u64, &str, &str); 3] =
        [(0, "C", "changed"), (1, "A", "added"), (2, "D", "deleted")];
    if json {
        let mut obj = serde_json::Map::new();
        for (kind, _, key) in LETTERS {
            let l: Vec<&str> = changes
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, p)| p.as_str())
                .collect();
            if !l.is_empty() {
                obj.insert(key.into(), serde_json::json!(l));
            }
        }
        println!("{}", crate::format::to_json_pretty(&Value::Object(obj)));
    } else {
        for (kind, path) in &changes {
            let letter = LETTERS
                .iter()
                .find(|(k, _, _)| k == kind)
                .map_or("C", |(_, l, _)| *l);
            println!("{letter} {path}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `export [-o FILE] CONTAINER`: the service's tar, into a file here or
/// stdout (never a terminal, as locally).
pub fn export(svc: &Service, a: &crate::cli::container::ExportArgs) -> anyhow::Result<ExitCode> {
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => {
            if std::io::stdout().is_terminal() {
                bail!("refusing to export to terminal. Use -o flag or redirect");
            }
            Box::new(std::io::stdout().lock())
        }
    };
    let r = svc.call(
        "GET",
        &format!("/containers/{}/export", enc(&a.container)),
        None,
    )?;
    std::io::copy(&mut r.stream()?, &mut out).context("writing the exported archive")?;
    out.flush().context("writing the exported archive")?;
    Ok(ExitCode::SUCCESS)
}

/// `info [--format]`: the service's host, printed as the local `info`
/// prints its own (the service sends what the local command gathers).
pub fn info(svc: &Service, a: &crate::cli::system::InfoArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(a.format.as_deref())?;
    let data = svc.call("GET", "/info", None)?.json()?;
    match format {
        OutputFormat::Json => println!("{}", crate::format::to_json_pretty(&data)),
        OutputFormat::Template(t) => print!("{}", t.render_one(&data)?),
        OutputFormat::Default => print!("{}", crate::cli::yaml::to_yaml(&data)),
    }
    Ok(ExitCode::SUCCESS)
}

/// An event as the local printer takes it, from libpod's JSON line
/// (`Actor.Attributes` carries the name, and an exit code the service
/// adds to every event: kept for `died` only, where the log has it).
fn event_of(v: &Value) -> Option<Event> {
    let kind: EventType = serde_json::from_value(v["Type"].clone()).ok()?;
    let mut attributes: std::collections::BTreeMap<String, String> = v["Actor"]["Attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    let action = v["Action"].as_str().or(v["status"].as_str())?.to_owned();
    let actor_name = attributes.remove("name").unwrap_or_default();
    if action != "died" {
        attributes.remove("containerExitCode");
    }
    Some(Event {
        id: 0,
        time: v["timeNano"].as_i64().unwrap_or(0),
        kind,
        action,
        actor_id: v["Actor"]["ID"]
            .as_str()
            .or(v["id"].as_str())
            .unwrap_or("")
            .to_owned(),
        actor_name,
        attributes,
    })
}

/// `events [--since] [--until] [--filter] [--format] [--stream=false]`:
/// the service's event stream, each printed as it comes, as locally.
pub fn events(svc: &Service, a: &crate::cli::container::EventsArgs) -> anyhow::Result<ExitCode> {
    use std::io::BufRead;
    let format = OutputFormat::parse(a.format.as_deref())?;
    let mut q = format!("/events?stream={}", a.stream);
    if let Some(s) = &a.since {
        q.push_str(&format!("&since={}", enc(s)));
    }
    if let Some(u) = &a.until {
        q.push_str(&format!("&until={}", enc(u)));
    }
    if !a.filter.is_empty() {
        q.push_str(&containers::filters_query(&a.filter));
    }
    let r = svc.call("GET", &q, None)?;
    let mut out = std::io::stdout().lock();
    for line in std::io::BufReader::new(r.stream()?).lines() {
        let line = line.context("reading the service's events")?;
        let Some(e) = serde_json::from_str::<Value>(&line)
            .ok()
            .as_ref()
            .and_then(event_of)
        else {
            continue;
        };
        use crate::cli::container::events::{human, view};
        match &format {
            OutputFormat::Json => writeln!(out, "{}", serde_json::to_string(&view(&e))?)?,
            OutputFormat::Template(t) => write!(out, "{}", t.render_one(&view(&e))?)?,
            OutputFormat::Default => writeln!(out, "{}", human(&e))?,
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `container prune [-f]`: asks as locally, then the service removes;
/// each removed id printed, a failure on stderr and 125.
pub fn container_prune(
    svc: &Service,
    a: &crate::cli::container::PruneArgs,
) -> anyhow::Result<ExitCode> {
    if !a.force && !crate::cli::confirm("WARNING! This will remove all non running containers.")? {
        return Ok(ExitCode::SUCCESS);
    }
    let q = if a.filter.is_empty() {
        String::new()
    } else {
        format!("?{}", &containers::filters_query(&a.filter)[1..])
    };
    let v = svc
        .call("POST", &format!("/containers/prune{q}"), None)?
        .json()?;
    let mut code = ExitCode::SUCCESS;
    for r in v.as_array().into_iter().flatten() {
        match r["Err"].as_str().filter(|e| !e.is_empty()) {
            None => println!("{}", r["Id"].as_str().unwrap_or("")),
            Some(e) => {
                eprintln!("Error: {e}");
                code = ExitCode::from(crate::cli::EXIT_HUTCH_ERROR);
            }
        }
    }
    Ok(code)
}

/// A stats report from libpod's JSON entry, for the local printer.
fn stats_report(v: &Value) -> crate::engine::container::stats::StatsReport {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    crate::engine::container::stats::StatsReport {
        id: v["ContainerID"].as_str().unwrap_or("").to_owned(),
        name: v["Name"].as_str().unwrap_or("").to_owned(),
        cpu_percent: f("CPU"),
        avg_cpu_percent: f("AvgCPU"),
        cpu_usec: n("CPUNano") / 1000,
        mem_usage: n("MemUsage"),
        mem_limit: n("MemLimit"),
        mem_percent: f("MemPerc"),
        net_rx: n("NetInput"),
        net_tx: n("NetOutput"),
        block_read: n("BlockInput"),
        block_write: n("BlockOutput"),
        pids: n("PIDs"),
        uptime_ns: v["UpTime"].as_i64().unwrap_or(0),
    }
}

/// `stats [-a] [--no-stream] [--no-trunc] [--format] [-i N] [NAME...]`:
/// the service's samples (`GET /libpod/containers/stats`), each printed
/// by the local command's printer. `-a` names every container listed.
pub fn stats(svc: &Service, a: &crate::cli::container::StatsArgs) -> anyhow::Result<ExitCode> {
    use std::io::BufRead;
    let format = OutputFormat::parse(a.format.as_deref())?;
    let names = if a.all && a.containers.is_empty() {
        containers::listed(svc, "all=true")?
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    } else {
        a.containers.clone()
    };
    let mut q = format!(
        "/containers/stats?stream={}&interval={}",
        !a.no_stream,
        a.interval.max(1)
    );
    for n in &names {
        q.push_str(&format!("&containers={}", enc(n)));
    }
    let r = svc.call("GET", &q, None)?;
    for line in std::io::BufReader::new(r.stream()?).lines() {
        let line = line.context("reading the service's stats")?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(e) = v["Error"].as_str().filter(|e| !e.is_empty()) {
            bail!("{e}");
        }
        let rows: Vec<Value> = v["Stats"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| crate::cli::container::stats::row(&stats_report(e), a.no_trunc))
            .collect();
        crate::cli::container::stats::print_sample(&format, rows, a.no_stream)?;
        if a.no_stream {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `healthcheck run CONTAINER`: the check run once on the service; exit
/// 0 when it passed, "unhealthy" and 1 when not, as locally.
pub fn healthcheck(
    svc: &Service,
    cmd: &crate::cli::container::HealthcheckCommand,
) -> anyhow::Result<ExitCode> {
    let crate::cli::container::HealthcheckCommand::Run(args) = cmd;
    let r = svc
        .call(
            "GET",
            &format!("/containers/{}/healthcheck", enc(&args.container)),
            None,
        )?
        .json();
    match r {
        Ok(v) if v["Status"] == crate::engine::container::health::UNHEALTHY => {
            println!("{}", crate::engine::container::health::UNHEALTHY);
            Ok(ExitCode::from(1))
        }
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) if containers::is_missing(&e) => Err(e.context(format!(
            "unable to look up {} to perform a health check",
            args.container
        ))),
        Err(e) => Err(e),
    }
}

/// `commit [-a] [-c]... [-m] [-p] [-f] [-q] [--iidfile] CONTAINER [IMAGE]`:
/// the image made on the service; its id printed, `--iidfile` written
/// here (the caller's file).
pub fn commit(svc: &Service, a: &crate::cli::container::CommitArgs) -> anyhow::Result<ExitCode> {
    if !matches!(a.format.as_str(), "oci" | "docker") {
        bail!("unrecognized image type {:?}: use oci or docker", a.format);
    }
    let mut q = format!(
        "/commit?container={}&pause={}&format={}",
        enc(&a.container),
        a.pause,
        enc(&a.format)
    );
    if let Some(image) = &a.image {
        // The tag after the last ':' that is not part of a registry port.
        let (repo, tag) = match image.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (image.as_str(), ""),
        };
        q.push_str(&format!("&repo={}", enc(repo)));
        if !tag.is_empty() {
            q.push_str(&format!("&tag={}", enc(tag)));
        }
    }
    if let Some(au) = &a.author {
        q.push_str(&format!("&author={}", enc(au)));
    }
    if let Some(m) = &a.message {
        q.push_str(&format!("&comment={}", enc(m)));
    }
    for c in &a.change {
        q.push_str(&format!("&changes={}", enc(c)));
    }
    let v = svc.call("POST", &q, None)?.json()?;
    let id = v["Id"]
        .as_str()
        .context("the service returned no image id")?
        .trim_start_matches("sha256:")
        .to_owned();
    if let Some(f) = &a.iidfile {
        std::fs::write(f, format!("sha256:{id}"))
            .with_context(|| format!("writing {}", f.display()))?;
    }
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

/// Podman's colors for `logs --color`, one per container in turn (the
/// local command's).
const COLORS: [&str; 7] = [
    "\x1b[37m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m",
];

/// Longest log line kept whole while waiting for its newline; a longer
/// one is dressed in pieces.
const MAX_LINE: usize = 1024 * 1024;

/// `logs` of several containers, or with `-n`/`--color`: each
/// container's log in turn, each line prefixed with the container's short
/// id (its name with `-n`) when several are asked for and wrapped in its
/// color with `--color`, as the local command dresses them.
pub fn logs_dressed(
    svc: &Service,
    a: &crate::cli::container::LogsArgs,
) -> anyhow::Result<ExitCode> {
    use std::io::Read;
    if a.follow && a.containers.len() > 1 {
        bail!("hutch logs --follow takes one container at a time");
    }
    let several = a.containers.len() > 1;
    for (i, query) in a.containers.iter().enumerate() {
        let prefix = if several {
            let v = svc
                .call("GET", &format!("/containers/{}/json", enc(query)), None)?
                .json()?;
            Some(if a.names {
                v["Name"].as_str().unwrap_or("").to_owned()
            } else {
                v["Id"].as_str().unwrap_or("").chars().take(12).collect()
            })
        } else {
            None
        };
        let color = a.color.then_some(COLORS[i % COLORS.len()]);
        let mut q = format!(
            "/containers/{}/logs?stdout=true&stderr=true&follow={}&timestamps={}",
            enc(query),
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
        let mut r = svc.call("GET", &q, None)?.stream()?;
        // Docker's frames: 8 bytes (stream, 0, 0, 0, length BE) then the
        // bytes; lines are dressed once whole.
        let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut head = [0u8; 8];
        let dress = |stream: usize, line: &[u8]| -> anyhow::Result<()> {
            let mut text = String::from_utf8_lossy(line).into_owned();
            if let Some(p) = &prefix {
                text = format!("{p} {text}");
            }
            if let Some(c) = color {
                text = format!("{c}{text}\x1b[0m");
            }
            if stream == 1 {
                let mut e = std::io::stderr().lock();
                writeln!(e, "{text}")?;
            } else {
                let mut o = std::io::stdout().lock();
                writeln!(o, "{text}")?;
                o.flush()?;
            }
            Ok(())
        };
        loop {
            match r.read_exact(&mut head) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e).context("reading the log stream"),
            }
            let len = u64::from(u32::from_be_bytes([head[4], head[5], head[6], head[7]]));
            let stream = usize::from(head[0] == 2);
            let buf = &mut pending[stream];
            (&mut r)
                .take(len)
                .read_to_end(buf)
                .context("reading the log stream")?;
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                dress(stream, &line[..line.len() - 1])?;
            }
            if buf.len() > MAX_LINE {
                let line = std::mem::take(buf);
                dress(stream, &line)?;
            }
        }
        for (stream, rest) in pending.iter().enumerate() {
            if !rest.is_empty() {
                dress(stream, rest)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `update [limits] CONTAINER`: the limits as an OCI `LinuxResources`
/// body (`POST /libpod/containers/{id}/update`, Podman 4.3.1's), `--cpus`
/// as quota and period; the container's id printed, as locally.
pub fn update(svc: &Service, a: &crate::cli::container::UpdateArgs) -> anyhow::Result<ExitCode> {
    let r = a.limits.request()?;
    let mut body = serde_json::Map::new();
    let mut memory = serde_json::Map::new();
    for (k, v) in [
        ("limit", r.memory),
        ("reservation", r.memory_reservation),
        ("swap", r.memory_swap),
    ] {
        if let Some(v) = v {
            memory.insert(k.into(), v.into());
        }
    }
    if let Some(s) = r.memory_swappiness {
        memory.insert("swappiness".into(), s.into());
    }
    if !memory.is_empty() {
        body.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = serde_json::Map::new();
    const PERIOD: u64 = 100_000;
    if let Some(n) = r.nano_cpus {
        cpu.insert(
            "quota".into(),
            (n.saturating_mul(PERIOD) / 1_000_000_000).into(),
        );
        cpu.insert("period".into(), PERIOD.into());
    }
    if let Some(q) = r.cpu_quota {
        cpu.insert("quota".into(), q.into());
    }
    if let Some(p) = r.cpu_period {
        cpu.insert("period".into(), p.into());
    }
    if let Some(s) = r.cpu_shares {
        cpu.insert("shares".into(), s.into());
    }
    if let Some(c) = &r.cpuset_cpus {
        cpu.insert("cpus".into(), c.clone().into());
    }
    if let Some(m) = &r.cpuset_mems {
        cpu.insert("mems".into(), m.clone().into());
    }
    if let Some(p) = r.cpu_rt_period {
        cpu.insert("realtimePeriod".into(), p.into());
    }
    if let Some(rt) = r.cpu_rt_runtime {
        cpu.insert("realtimeRuntime".into(), rt.into());
    }
    if !cpu.is_empty() {
        body.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = r.pids_limit {
        body.insert("pids".into(), serde_json::json!({"limit": p}));
    }
    if let Some(w) = r.blkio_weight {
        body.insert("blockIO".into(), serde_json::json!({"weight": w}));
    }
    let unsent = crate::runtime::spec::resources::ResourceRequest {
        cpu_weight: r.cpu_weight,
        oom_score_adj: r.oom_score_adj,
        cgroups: r.cgroups.clone(),
        cgroup_parent: r.cgroup_parent.clone(),
        ..Default::default()
    };
    if r.device_limits().next().is_some() {
        // The device numbers are the service host's, not this one's.
        bail!(
            "update: the per-device limits (--blkio-weight-device, --device-read-bps, ...) are not \
             supported by hutch's remote client: run it on the service's host"
        );
    }
    if unsent != crate::runtime::spec::resources::ResourceRequest::default() {
        bail!(
            "update: --cpu-weight is not supported by hutch's remote client: run it on the service's host"
        );
    }
    let v = svc
        .call(
            "POST",
            &format!("/containers/{}/update", enc(&a.container)),
            Some(&Value::Object(body)),
        )?
        .json()?;
    println!("{}", v.as_str().unwrap_or(&a.container));
    Ok(ExitCode::SUCCESS)
}
