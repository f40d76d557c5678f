//! `pod ps`: Podman's columns, `--format` (Go templates, json), `-q`,
//! `--filter`, `--ctr-names/--ctr-ids/--ctr-status`, `--no-trunc`,
//! `--sort`.

use std::process::ExitCode;

use anyhow::bail;
use hutch_storage::Store;

use crate::config::Context;
use crate::engine::pod::list;
use crate::engine::state::State;
use crate::format::{OutputFormat, Template};
use crate::host::time;

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Display the container IDs
    #[arg(long)]
    pub(crate) ctr_ids: bool,
    /// Display the container names
    #[arg(long)]
    pub(crate) ctr_names: bool,
    /// Display the container status
    #[arg(long)]
    pub(crate) ctr_status: bool,
    /// Filter output based on conditions given
    #[arg(short, long)]
    pub(crate) filter: Vec<String>,
    /// Pretty-print pods to JSON or using a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Act on the latest pod hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    /// Do not truncate pod and container IDs
    #[arg(long)]
    pub(crate) no_trunc: bool,
    /// Display namespace information of the pod
    #[arg(long)]
    pub(crate) ns: bool,
    /// Print the numeric IDs of the pods only
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Sort output by created, id, name, or number
    #[arg(long, default_value = "created")]
    pub(crate) sort: String,
    /// Do not print headers
    #[arg(long)]
    pub(crate) noheading: bool,
}

pub fn ps(ctx: &Context, store: &Store, state: &State, a: &PsArgs) -> anyhow::Result<ExitCode> {
    let filters = list::parse_filters(&a.filter)?;
    let pods: Vec<serde_json::Value> = list::list(ctx, store, state, &filters)?
        .iter()
        .map(list::report_view)
        .collect();
    print(a, pods)
}

/// Prints `pods` (Podman's ListPodsReport entries, as the libpod API
/// serves them) as `pod ps` does: the local command and the remote
/// client's both.
pub(crate) fn print(a: &PsArgs, mut pods: Vec<serde_json::Value>) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(a.format.as_deref())?;
    let created = |p: &serde_json::Value| -> i64 {
        p["Created"]
            .as_str()
            .and_then(time::parse_rfc3339)
            .unwrap_or(0)
    };
    // Nanoseconds too: pods made within one second keep their order.
    let created_ns = |p: &serde_json::Value| -> (i64, u64) {
        let frac = p["Created"]
            .as_str()
            .and_then(|c| c.split_once('.'))
            .map(|(_, f)| {
                let digits: String = f.chars().take_while(char::is_ascii_digit).collect();
                format!("{digits:0<9}").parse::<u64>().unwrap_or(0)
            })
            .unwrap_or(0);
        (created(p), frac)
    };
    let text =
        |p: &serde_json::Value, k: &str| -> String { p[k].as_str().unwrap_or("").to_owned() };
    let count = |p: &serde_json::Value| p["Containers"].as_array().map_or(0, Vec::len);
    match a.sort.as_str() {
        // Newest first, as Podman sorts by creation.
        "created" => pods.sort_by_key(|p| std::cmp::Reverse(created_ns(p))),
        "id" => pods.sort_by_key(|p| text(p, "Id")),
        "name" => pods.sort_by_key(|p| text(p, "Name")),
        "number" => pods.sort_by_key(count),
        "status" => pods.sort_by_key(|p| text(p, "Status")),
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
            println!("{}", short(&text(p, "Id"), a.no_trunc));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let template = match format {
        OutputFormat::Json => {
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(pods))
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
            if a.ns {
                cols.push("{{.Cgroup}}");
                cols.push("{{.Namespace}}");
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
    let rows: Vec<serde_json::Value> = pods
        .iter()
        .map(|p| row(p, created(p), now, a.no_trunc))
        .collect();
    let headers = [
        ("ID", "POD ID"),
        ("InfraID", "INFRA ID"),
        ("NumberOfContainers", "# OF CONTAINERS"),
        ("ContainerIds", "IDS"),
        ("ContainerNames", "NAMES"),
        ("ContainerStatuses", "STATUS"),
        ("Namespace", "NAMESPACES"),
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

/// Podman's template fields (`ListPodsReport` plus its `ps` helpers),
/// from the report `p` created at `created` (Unix seconds).
fn row(p: &serde_json::Value, created: i64, now: i64, no_trunc: bool) -> serde_json::Value {
    let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
    let members: Vec<&serde_json::Value> =
        p["Containers"].as_array().into_iter().flatten().collect();
    let join = |f: &dyn Fn(&serde_json::Value) -> String| {
        members.iter().map(|c| f(c)).collect::<Vec<_>>().join(",")
    };
    let field = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or("").to_owned();
    let infra = s("InfraId");
    let networks = p["Networks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(",");
    serde_json::json!({
        "ID": short(&s("Id"), no_trunc),
        "Id": s("Id"),
        "Name": s("Name"),
        "Status": s("Status"),
        "Created": time::ago(created, now),
        "CreatedAt": time::rfc3339(created),
        "InfraID": if infra.is_empty() { String::new() } else { short(&infra, no_trunc) },
        "InfraId": infra,
        "NumberOfContainers": members.len(),
        "ContainerIds": join(&|c| short(&field(c, "Id"), no_trunc)),
        "ContainerNames": join(&|c| field(c, "Names")),
        "ContainerStatuses": join(&|c| field(c, "Status")),
        "Labels": p["Labels"].clone(),
        "Networks": networks,
        "Cgroup": "",
        "Namespace": "",
    })
}
