//! `system prune`, `system df` and `system reset`: Podman's flags, its
//! question before anything goes, its output.

use std::collections::HashMap;
use std::process::ExitCode;

use crate::config::Context;
use crate::engine::prune_filter::{PruneFilters, PruneKind};
use crate::engine::system::df::{self, DfReport};
use crate::engine::system::prune::{self, SystemPruneOptions};
use crate::format::{OutputFormat, Template};
use crate::host::time;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused data
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Do not prompt for confirmation.  The default is false
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Prune volumes
    #[arg(long)]
    pub(crate) volumes: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long)]
    pub(crate) filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct DfArgs {
    /// Show detailed information on disk usage
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Pretty-print images using a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub(crate) force: bool,
}

/// `system prune`'s question (Podman's words for the flags given).
pub(crate) fn prune_warning(a: &PruneArgs) -> String {
    let volumes = if a.volumes {
        "\n\t- all volumes not used by at least one container"
    } else {
        ""
    };
    let images = if a.all {
        "all images without at least one container associated with them\n\t- all build cache"
    } else {
        "all dangling images\n\t- all dangling build cache"
    };
    format!(
        "WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container{volumes}\n\t- {images}\n"
    )
}

/// What a system prune removed, by kind, each with its error if it
/// could not go: the local engine's report or a service's.
#[derive(Debug, Default)]
pub(crate) struct PruneOutcome {
    pub containers: Vec<(String, Option<String>)>,
    pub pods: Vec<(String, Option<String>)>,
    pub volumes: Vec<(String, Option<String>)>,
    pub images: Vec<(String, Option<String>)>,
    pub networks: Vec<(String, Option<String>)>,
    pub reclaimed: u64,
}

/// Prints a system prune's outcome as Podman does: a section per kind
/// that removed anything, the errors, the space; 125 if any failed.
pub(crate) fn print_prune(o: PruneOutcome) -> ExitCode {
    let mut errors = Vec::new();
    let mut section = |title: &str, items: Vec<(String, Option<String>)>| {
        if !items.is_empty() {
            println!("Deleted {title}");
        }
        for (i, e) in items {
            match e {
                None => println!("{i}"),
                Some(e) => errors.push(e),
            }
        }
    };
    section("Containers", o.containers);
    section("Pods", o.pods);
    section("Volumes", o.volumes);
    section("Images", o.images);
    section("Networks", o.networks);
    let failed = !errors.is_empty();
    for e in errors {
        eprintln!("Error: {e}");
    }
    println!(
        "Total reclaimed space: {}",
        time::human_size_compact(o.reclaimed)
    );
    if failed {
        ExitCode::from(super::EXIT_HUTCH_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn prune_cmd(ctx: &Context, a: &PruneArgs) -> anyhow::Result<ExitCode> {
    if !a.force && !super::confirm(&prune_warning(a))? {
        return Ok(ExitCode::SUCCESS);
    }
    // Podman asks first, then reads the filters; the container prune's
    // words for an unknown key.
    let filters = PruneFilters::parse(&a.filter, PruneKind::Container, time::now_ns())?;
    let report = prune::prune(
        ctx,
        &SystemPruneOptions {
            all: a.all,
            volumes: a.volumes,
            filters,
        },
    )?;
    let plain = |v: Vec<String>| v.into_iter().map(|n| (n, None)).collect();
    Ok(print_prune(PruneOutcome {
        containers: report
            .containers
            .into_iter()
            .map(|r| (r.id, r.error.map(|e| e.text())))
            .collect(),
        pods: report
            .pods
            .into_iter()
            .map(|r| (r.id, r.error.map(|e| e.text())))
            .collect(),
        volumes: plain(report.volumes),
        images: plain(report.images),
        networks: plain(report.networks),
        reclaimed: report.reclaimed,
    }))
}

/// One row of `system df`'s summary, Podman's `dfSummary`.
fn summary_row(
    kind: &str,
    total: usize,
    active: usize,
    size: u64,
    reclaimable: u64,
) -> serde_json::Value {
    let percent = if size > 0 {
        (reclaimable as f64 / size as f64 * 100.0).round() as u64
    } else {
        0
    };
    serde_json::json!({
        "Type": kind,
        "Total": total,
        "TotalCount": total,
        "Active": active,
        "RawSize": size,
        "RawReclaimable": reclaimable,
        "Size": time::human_size_compact(size),
        "Reclaimable": format!("{} ({percent}%)", time::human_size_compact(reclaimable)),
    })
}

fn summary(r: &DfReport) -> Vec<serde_json::Value> {
    let mut seen = std::collections::HashSet::new();
    let (mut active, mut used) = (0, 0);
    for i in &r.images {
        if seen.insert(i.image_id.as_str()) && i.containers > 0 {
            active += 1;
            used += i.unique_size;
        }
    }
    let images = summary_row(
        "Images",
        r.images.len(),
        active,
        r.images_size,
        r.images_size.saturating_sub(used),
    );
    let (mut c_active, mut c_size, mut c_reclaim) = (0, 0, 0);
    for c in &r.containers {
        if c.status == "running" {
            c_active += 1;
        } else {
            c_reclaim += c.rw_size;
        }
        c_size += c.rw_size;
    }
    let containers = summary_row(
        "Containers",
        r.containers.len(),
        c_active,
        c_size,
        c_reclaim,
    );
    let links = r.volumes.iter().map(|v| v.links).sum();
    let size = r.volumes.iter().map(|v| v.size).sum();
    let reclaim = r.volumes.iter().map(|v| v.reclaimable_size).sum();
    let volumes = summary_row("Local Volumes", r.volumes.len(), links, size, reclaim);
    vec![images, containers, volumes]
}

pub fn df_cmd(ctx: &Context, a: &DfArgs) -> anyhow::Result<ExitCode> {
    // Podman 4.3.1 ignores --format with -v (later versions refuse it).
    // Parsed before the (slow) sizes are gathered, so a typo fails fast.
    let format = OutputFormat::parse(a.format.as_deref())?;
    print_df(&df::report(ctx)?, a.verbose, format)
}

/// Prints a `system df` report (the local engine's or a service's).
pub(crate) fn print_df(
    report: &DfReport,
    verbose_rows: bool,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    if verbose_rows {
        print!("{}", verbose(report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = summary(report);
    let headers = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let template = match format {
        OutputFormat::Json => {
            println!(
                "{}",
                crate::format::to_json_pretty4(&serde_json::Value::Array(rows))
            );
            return Ok(ExitCode::SUCCESS);
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => Template::parse(
            "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        )?,
    };
    print!(
        "{}",
        template.render_list(
            &rows,
            &headers(&[("Size", "SIZE"), ("Reclaimable", "RECLAIMABLE")])
        )?
    );
    Ok(ExitCode::SUCCESS)
}

/// `system df -v`: three tables, Podman's columns.
fn verbose(r: &DfReport) -> anyhow::Result<String> {
    let now = time::now();
    let duration = |secs: i64| {
        let ago = time::ago(secs, now);
        ago.strip_suffix(" ago").unwrap_or(&ago).to_owned()
    };
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let mut out = String::from("Images space usage:\n\n");
    let mut t = String::from(
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
    );
    for i in &r.images {
        t += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            i.repository,
            i.tag,
            short(&i.image_id),
            duration(i.created_secs),
            time::human_size_compact(i.size),
            time::human_size_compact(i.shared_size),
            time::human_size_compact(i.unique_size),
            i.containers
        );
    }
    out += &crate::format::align_columns(&t);
    out += "\nContainers space usage:\n\n";
    let mut t =
        String::from("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
    for c in &r.containers {
        t += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            short(&c.container_id),
            short(&c.image),
            c.command.join(" "),
            c.local_volumes,
            time::human_size_compact(c.rw_size),
            duration(c.created_ns.div_euclid(1_000_000_000)),
            c.status,
            c.names
        );
    }
    out += &crate::format::align_columns(&t);
    out += "\nLocal Volumes space usage:\n\n";
    let mut t = String::from("VOLUME NAME\tLINKS\tSIZE\n");
    for v in &r.volumes {
        t += &format!(
            "{}\t{}\t{}\n",
            v.volume_name,
            v.links,
            time::human_size_compact(v.size)
        );
    }
    out += &crate::format::align_columns(&t);
    Ok(out)
}

pub fn reset_cmd(ctx: &Context, a: &ResetArgs) -> anyhow::Result<ExitCode> {
    if !a.force {
        use std::io::{BufRead, Write};
        println!(
            "WARNING! This will remove:\n        - all containers\n        - all pods\n        - all images\n        - all networks\n        - all build cache\n        - all volumes\n        - all secrets"
        );
        print!("Are you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        // Podman logs the read error and exits 1, not 125.
        if std::io::stdin().lock().read_line(&mut answer)? == 0 {
            eprintln!("Error: EOF");
            return Ok(ExitCode::from(1));
        }
        if !answer.to_ascii_lowercase().starts_with('y') {
            return Ok(ExitCode::SUCCESS);
        }
    }
    // Podman's default stop timeout: the containers are stopped, not
    // killed at once.
    prune::reset(ctx, Some(10))?;
    Ok(ExitCode::SUCCESS)
}
