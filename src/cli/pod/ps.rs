//! `pod ps`: Podman's columns, `--format` (Go templates, json), `-q`,
//! `--filter`, `--ctr-names/--ctr-ids/--ctr-status`, `--no-trunc`,
//! `--sort`.

use std::process::ExitCode;

use anyhow::bail;
use hutch_storage::Store;

use crate::config::Context;
use crate::engine::pod::list::{self, PodSummary};
use crate::engine::state::State;
use crate::format::{OutputFormat, Template};
use crate::host::time;

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Display the container IDs
    #[arg(long)]
    ctr_ids: bool,
    /// Display the container names
    #[arg(long)]
    ctr_names: bool,
    /// Display the container status
    #[arg(long)]
    ctr_status: bool,
    /// Filter output based on conditions given
    #[arg(short, long)]
    filter: Vec<String>,
    /// Pretty-print pods to JSON or using a Go template
    #[arg(long)]
    format: Option<String>,
    /// Act on the latest pod hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Do not truncate pod and container IDs
    #[arg(long)]
    no_trunc: bool,
    /// Print the numeric IDs of the pods only
    #[arg(short, long)]
    quiet: bool,
    /// Sort output by created, id, name, or number
    #[arg(long, default_value = "created")]
    sort: String,
    /// Do not print headers
    #[arg(long)]
    noheading: bool,
}

pub fn ps(ctx: &Context, store: &Store, state: &State, a: &PsArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(a.format.as_deref())?;
    let filters = list::parse_filters(&a.filter)?;
    let mut pods = list::list(ctx, store, state, &filters)?;
    match a.sort.as_str() {
        // Newest first, as Podman sorts by creation.
        "created" => pods.sort_by_key(|p| std::cmp::Reverse(p.created)),
        "id" => pods.sort_by(|x, y| x.id.cmp(&y.id)),
        "name" => pods.sort_by(|x, y| x.name.cmp(&y.name)),
        "number" => pods.sort_by_key(|p| p.containers.len()),
        "status" => pods.sort_by(|x, y| x.status.cmp(y.status)),
        other => bail!(
            "invalid option for --sort, options are: created, id, name, number, or status: {other}"
        ),
    }
    if a.latest {
        pods.truncate(1);
    }
    let now = time::now_ns() / 1_000_000_000;
    if a.quiet {
        for p in &pods {
            println!("{}", short(&p.id, a.no_trunc));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let template = match format {
        OutputFormat::Json => {
            let rows: Vec<serde_json::Value> = pods.iter().map(json).collect();
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(rows))
            );
            return Ok(ExitCode::SUCCESS);
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => {
            let mut cols = vec![
                "{{.ID}}",
                "{{.Name}}",
                "{{.Status}}",
                "{{.Created}}",
                "{{.InfraID}}",
            ];
            if a.ctr_ids {
                cols.push("{{.ContainerIds}}");
            }
            if a.ctr_names {
                cols.push("{{.ContainerNames}}");
            }
            if a.ctr_status {
                cols.push("{{.ContainerStatuses}}");
            }
            if !a.ctr_ids && !a.ctr_names && !a.ctr_status {
                cols.push("{{.NumberOfContainers}}");
            }
            Template::parse(&format!("table {}", cols.join("\t")))?
        }
    };
    let template = if a.noheading {
        template.without_heading()
    } else {
        template
    };
    let rows: Vec<serde_json::Value> = pods.iter().map(|p| row(p, now, a.no_trunc)).collect();
    let headers = [
        ("ID", "POD ID"),
        ("InfraID", "INFRA ID"),
        ("NumberOfContainers", "# OF CONTAINERS"),
        ("ContainerIds", "IDS"),
        ("ContainerNames", "NAMES"),
        ("ContainerStatuses", "STATUS"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(ExitCode::SUCCESS)
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_owned()
    } else {
        id[..12.min(id.len())].to_owned()
    }
}

/// Podman's template fields (`ListPodsReport` plus its `ps` helpers).
fn row(p: &PodSummary, now: i64, no_trunc: bool) -> serde_json::Value {
    let join = |f: &dyn Fn(&list::PodMember) -> String| {
        p.containers.iter().map(f).collect::<Vec<_>>().join(",")
    };
    serde_json::json!({
        "ID": short(&p.id, no_trunc),
        "Id": p.id,
        "Name": p.name,
        "Status": p.status,
        "Created": time::ago(p.created / 1_000_000_000, now),
        "CreatedAt": time::rfc3339(p.created / 1_000_000_000),
        "InfraID": p.infra_id.as_deref().map(|i| short(i, no_trunc)).unwrap_or_default(),
        "InfraId": p.infra_id.clone().unwrap_or_default(),
        "NumberOfContainers": p.containers.len(),
        "ContainerIds": join(&|c| short(&c.id, no_trunc)),
        "ContainerNames": join(&|c| c.name.clone()),
        "ContainerStatuses": join(&|c| c.status.to_owned()),
        "Labels": p.labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "Networks": p.networks.join(","),
        "Cgroup": "",
        "Namespace": "",
    })
}

/// Podman's `pod ps --format json` entry.
fn json(p: &PodSummary) -> serde_json::Value {
    serde_json::json!({
        "Cgroup": "",
        "Containers": p.containers.iter().map(|c| serde_json::json!({
            "Id": c.id,
            "Names": c.name,
            "Status": c.status,
        })).collect::<Vec<_>>(),
        "Created": time::rfc3339(p.created / 1_000_000_000),
        "Id": p.id,
        "InfraId": p.infra_id.clone().unwrap_or_default(),
        "Name": p.name,
        "Namespace": "",
        "Networks": p.networks,
        "Status": p.status,
        "Labels": p.labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
    })
}
