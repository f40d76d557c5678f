//! `ps`: the containers, as a table, JSON or a Go template; filtered,
//! sorted, limited to the latest ones.

use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::list::{self, ContainerSummary, ListOptions};
use crate::engine::container::{self as engine};
use crate::engine::image;
use crate::engine::state::ContainerState;
use crate::format::{OutputFormat, Template};
use crate::host::time;

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all the containers, default is only running containers
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Filter output based on conditions given (id, name, status, label, exited, ancestor)
    #[arg(short, long)]
    pub(crate) filter: Vec<String>,
    /// Pretty-print containers to JSON or using a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Print the n last created containers (all states)
    #[arg(short = 'n', long, default_value_t = -1)]
    pub(crate) last: i64,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Display extended information
    #[arg(long)]
    pub(crate) no_trunc: bool,
    /// Print the numeric IDs of the containers only
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Display the total file sizes
    #[arg(short, long)]
    pub(crate) size: bool,
    /// Sort output by: command, created, id, image, names, runningfor, size, status
    #[arg(long, default_value = "created")]
    pub(crate) sort: String,
    /// Show containers in external storage too (hutch has none besides its own)
    #[arg(long)]
    pub(crate) external: bool,
    /// Do not print headers
    #[arg(long)]
    pub(crate) noheading: bool,
    /// Print the ID and name of the pod the containers are associated with
    #[arg(short, long)]
    pub(crate) pod: bool,
    /// Display namespace information
    #[arg(long)]
    pub(crate) ns: bool,
    /// Sync container state with the OCI runtime
    // hutch's list already reconciles every row with its monitor (a dead
    // one reads as exited), which is what Podman's --sync asks for.
    #[arg(long)]
    pub(crate) sync: bool,
    /// Watch the ps output on an interval in seconds
    #[arg(short, long, value_name = "SECONDS", default_value_t = 0)]
    pub(crate) watch: u64,
}

pub fn ps(ctx: &Context, args: &PsArgs) -> anyhow::Result<ExitCode> {
    if args.watch > 0 && args.latest {
        return Err(crate::engine::Error::bad_input(
            "the watch and latest flags cannot be used together",
        )
        .into());
    }
    if args.watch == 0 {
        return print_once(ctx, args);
    }
    // Podman's --watch: the list again every N seconds until interrupted,
    // the screen cleared first when it is a terminal.
    use std::io::{IsTerminal as _, Write as _};
    let terminal = std::io::stdout().is_terminal();
    loop {
        if terminal {
            print!("\x1b[2J\x1b[1;1H");
        }
        print_once(ctx, args)?;
        std::io::stdout().flush()?;
        std::thread::sleep(std::time::Duration::from_secs(args.watch));
    }
}

fn print_once(ctx: &Context, args: &PsArgs) -> anyhow::Result<ExitCode> {
    // A bad template is refused before anything is listed.
    OutputFormat::parse(args.format.as_deref())?;
    let opts = ListOptions {
        all: args.all,
        filters: list::parse_filters(&args.filter)?,
        last: (args.last >= 0).then(|| usize::try_from(args.last).unwrap_or(0)),
        latest: args.latest,
        size: args.size,
    };
    opts.validate()?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let list = list::list(ctx, &store, &state, &opts)?;
    print_list(args, list)
}

/// Prints `list` as `ps` does (sorted, formatted); the remote client's
/// `ps` prints the service's list through it.
pub(crate) fn print_list(args: &PsArgs, list: Vec<ContainerSummary>) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let now = time::now_ns();
    let mut rows: Vec<(ContainerSummary, serde_json::Value)> = list
        .into_iter()
        .map(|c| {
            let mut row = row(&c, now, args.no_trunc);
            if args.ns {
                for (k, v) in namespace_fields(&c) {
                    row[k] = v.into();
                }
            }
            (c, row)
        })
        .collect();
    match args.sort.as_str() {
        // Podman 4.3.1 lists the oldest first (the engine, as Docker's
        // API, the newest).
        "created" | "runningfor" => {
            // Stable: ties keep the order given.
            rows.sort_by_key(|r| r.0.created);
        }
        "id" => rows.sort_by(|a, b| a.0.id.cmp(&b.0.id)),
        "image" => rows.sort_by(|a, b| a.0.image.cmp(&b.0.image)),
        "names" => rows.sort_by(|a, b| a.0.name.cmp(&b.0.name)),
        "status" => rows.sort_by(|a, b| a.0.state_name.cmp(b.0.state_name)),
        "command" => rows.sort_by(|a, b| a.1["Command"].as_str().cmp(&b.1["Command"].as_str())),
        "size" => rows.sort_by_key(|r| r.1["SizeRw"].as_u64().unwrap_or(0)),
        other => bail!(
            "invalid option for --sort, options are: command, created, id, image, names, runningfor, size, or status: {other}"
        ),
    }
    if matches!(format, OutputFormat::Json) && !args.quiet {
        let rows = rows
            .iter()
            .map(|(c, _)| {
                let mut row = json_row(c, now);
                if args.ns {
                    row["Namespaces"] = namespaces_json(c);
                }
                row
            })
            .collect();
        println!(
            "{}",
            crate::format::to_json_pretty(&serde_json::Value::Array(rows))
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<serde_json::Value> = rows.into_iter().map(|(_, r)| r).collect();
    if args.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let template = match format {
        OutputFormat::Json => unreachable!("printed above"),
        OutputFormat::Template(t) => t,
        OutputFormat::Default if args.ns => Template::parse(
            "table {{.ID}}\t{{.Names}}\t{{.Pid}}\t{{.CGROUPNS}}\t{{.IPC}}\t{{.MNT}}\t{{.NET}}\t{{.PIDNS}}\t{{.USERNS}}\t{{.UTS}}",
        )?,
        OutputFormat::Default => Template::parse(&format!(
            "table {{{{.ID}}}}\t{{{{.Image}}}}\t{{{{.Command}}}}\t{{{{.Created}}}}\t{{{{.Status}}}}\t{{{{.Ports}}}}\t{{{{.Names}}}}{}{}",
            if args.size { "\t{{.Size}}" } else { "" },
            if args.pod {
                "\t{{.Pod}}\t{{.PodName}}"
            } else {
                ""
            },
        ))?,
    };
    let template = if args.noheading {
        template.without_heading()
    } else {
        template
    };
    let headers = [
        ("ID", "CONTAINER ID"),
        ("Pid", "PID"),
        ("Pod", "POD ID"),
        ("PodName", "PODNAME"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(ExitCode::SUCCESS)
}

/// `--ns`: the namespace ids of a running container's process as the
/// columns Podman names them (empty for a container that does not run).
fn namespace_fields(c: &ContainerSummary) -> Vec<(&'static str, String)> {
    let ns = c
        .pid
        .filter(|_| c.state.is_active())
        .map(list::namespaces)
        .unwrap_or_default();
    vec![
        ("CGROUPNS", ns.cgroup),
        ("IPC", ns.ipc),
        ("MNT", ns.mnt),
        ("NET", ns.net),
        ("PIDNS", ns.pid),
        ("USERNS", ns.user),
        ("UTS", ns.uts),
    ]
}

/// `--ns --format json`: Podman's `Namespaces` object.
fn namespaces_json(c: &ContainerSummary) -> serde_json::Value {
    let ns = c
        .pid
        .filter(|_| c.state.is_active())
        .map(list::namespaces)
        .unwrap_or_default();
    serde_json::json!({
        "Mnt": ns.mnt,
        "Cgroup": ns.cgroup,
        "Ipc": ns.ipc,
        "Net": ns.net,
        "Pidns": ns.pid,
        "Uts": ns.uts,
        "User": ns.user,
    })
}

/// Podman's `ps` fields (Go names) for one summary.
fn row(c: &ContainerSummary, now: i64, no_trunc: bool) -> serde_json::Value {
    let command = if no_trunc || c.command.chars().count() <= 20 {
        c.command.clone()
    } else {
        format!("{}...", c.command.chars().take(17).collect::<String>())
    };
    let mut row = serde_json::json!({
        "ID": if no_trunc { c.id.clone() } else { c.id[..12.min(c.id.len())].to_owned() },
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": command,
        "CreatedAt": time::rfc3339(c.created / 1_000_000_000),
        "Created": time::ago(c.created / 1_000_000_000, now / 1_000_000_000),
        "RunningFor": time::ago(c.created / 1_000_000_000, now / 1_000_000_000),
        "Status": list::ps_status_text(c, now),
        "State": list::ps_state_text(c, now),
        "Ports": c.ports.iter().map(|p| p.ps_text()).collect::<Vec<_>>().join(", "),
        "Names": c.name,
        "ExitCode": c.exit_code.unwrap_or(0),
        "Exited": matches!(c.state, ContainerState::Exited | ContainerState::Stopped),
        "Pid": c.pid.unwrap_or(0),
        "Restarts": c.restarts,
        "AutoRemove": c.auto_remove,
        "Pod": c.pod.as_ref().map(|(id, _)| if no_trunc { id.clone() } else { id[..12.min(id.len())].to_owned() }).unwrap_or_default(),
        "PodName": c.pod.as_ref().map(|(_, name)| name.clone()).unwrap_or_default(),
        "Labels": c.labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some((rw, rootfs)) = c.size {
        row["Size"] = format!(
            "{} (virtual {})",
            time::human_size(rw),
            time::human_size(rw + rootfs)
        )
        .into();
        row["SizeRw"] = rw.into();
    }
    row
}

/// `ps --format json`: Podman's ListContainer objects (full ids, `Names`
/// and `Command` as lists, `Labels` as a map, times in seconds), which
/// scripts and podman-compose read (`Names[0]`, `Id`, `Labels`).
fn json_row(c: &ContainerSummary, now: i64) -> serde_json::Value {
    // Go's zero time, as Podman prints an unset one.
    let secs = |ns: Option<i64>| ns.map_or(-62_135_596_800, |n| n / 1_000_000_000);
    let labels: serde_json::Map<String, serde_json::Value> = c
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let ports: Vec<serde_json::Value> = c
        .ports
        .iter()
        .map(|p| {
            serde_json::json!({
                "host_ip": p.host_ip,
                "container_port": p.container_port,
                "host_port": p.host_port,
                "range": p.range,
                "protocol": p.protocol,
            })
        })
        .collect();
    let null_if_empty = |v: serde_json::Value, empty: bool| {
        if empty { serde_json::Value::Null } else { v }
    };
    serde_json::json!({
        "AutoRemove": c.auto_remove,
        "Command": c.args,
        "CreatedAt": time::ago(c.created / 1_000_000_000, now / 1_000_000_000),
        "Exited": matches!(c.state, ContainerState::Exited | ContainerState::Stopped),
        "ExitedAt": secs(c.exited_at),
        "ExitCode": c.exit_code.unwrap_or(0),
        "Id": c.id,
        "Image": c.image,
        "ImageID": c.image_id,
        "IsInfra": false,
        "Labels": null_if_empty(labels.into(), c.labels.is_empty()),
        "Mounts": [],
        "Names": [c.name],
        "Namespaces": {},
        "Networks": [],
        "Pid": c.pid.unwrap_or(0),
        "Pod": c.pod.as_ref().map(|(id, _)| id.clone()).unwrap_or_default(),
        "PodName": c.pod.as_ref().map(|(_, name)| name.clone()).unwrap_or_default(),
        "Ports": null_if_empty(ports.into(), c.ports.is_empty()),
        "Restarts": c.restarts,
        "Size": c.size.map(|(rw, root)| serde_json::json!({"rwSize": rw, "rootFsSize": root})),
        "StartedAt": secs(c.started_at),
        "State": c.state_name,
        "Status": list::ps_status_text(c, now),
        "Created": c.created / 1_000_000_000,
    })
}
