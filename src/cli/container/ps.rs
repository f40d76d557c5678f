//! `ps`: the containers, as a table, JSON or a Go template; filtered,
//! sorted, limited to the latest ones.

use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::container::{self as engine, lifecycle};
use crate::engine::image;
use crate::engine::state::{Container, ContainerState};
use crate::format::{OutputFormat, Template};
use crate::host::time;

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all the containers, default is only running containers
    #[arg(short, long)]
    all: bool,
    /// Filter output based on conditions given (id, name, status, label, exited, ancestor)
    #[arg(short, long)]
    filter: Vec<String>,
    /// Pretty-print containers to JSON or using a Go template
    #[arg(long)]
    format: Option<String>,
    /// Print the n last created containers (all states)
    #[arg(short = 'n', long, default_value_t = -1)]
    last: i64,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Display extended information
    #[arg(long)]
    no_trunc: bool,
    /// Print the numeric IDs of the containers only
    #[arg(short, long)]
    quiet: bool,
    /// Display the total file sizes
    #[arg(short, long)]
    size: bool,
    /// Sort output by: command, created, id, image, names, runningfor, size, status
    #[arg(long, default_value = "created")]
    sort: String,
}

/// Podman's STATUS column: "Created", "Up 3 seconds", "Exited (0) 2
/// seconds ago".
pub fn status_text(c: &Container, now_ns: i64) -> String {
    let now = now_ns / 1_000_000_000;
    match c.state {
        ContainerState::Running | ContainerState::Paused => {
            let up = time::ago(c.started_at.unwrap_or(c.created) / 1_000_000_000, now);
            let up = up.trim_end_matches(" ago");
            if c.state == ContainerState::Paused {
                format!("Up {up} (paused)")
            } else {
                format!("Up {up}")
            }
        }
        ContainerState::Exited | ContainerState::Stopped => format!(
            "Exited ({}) {}",
            c.exit_code.unwrap_or(-1),
            time::ago(c.exited_at.unwrap_or(c.created) / 1_000_000_000, now)
        ),
        ContainerState::Configured | ContainerState::Created => "Created".to_owned(),
        ContainerState::Removing => "Removing".to_owned(),
    }
}

/// One `--filter KEY=VALUE`.
struct Filter {
    key: String,
    value: String,
}

fn parse_filters(raw: &[String]) -> anyhow::Result<Vec<Filter>> {
    raw.iter()
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .with_context(|| format!("invalid filter {f:?}: use KEY=VALUE"))?;
            if !matches!(
                k,
                "id" | "name" | "status" | "label" | "exited" | "ancestor"
            ) {
                bail!("{k} is an invalid filter");
            }
            if k == "status"
                && !matches!(
                    v,
                    "created"
                        | "configured"
                        | "running"
                        | "paused"
                        | "exited"
                        | "stopped"
                        | "removing"
                        | "unknown"
                )
            {
                bail!("{v} is not a valid status");
            }
            Ok(Filter {
                key: k.to_owned(),
                value: v.to_owned(),
            })
        })
        .collect()
}

/// Podman matches names as a regular expression; the common forms (plain
/// text, `^` and `$` anchors) are supported.
fn name_matches(pattern: &str, name: &str) -> bool {
    match (pattern.strip_prefix('^'), pattern.strip_suffix('$')) {
        (Some(p), _) if p.ends_with('$') => name == &p[..p.len() - 1],
        (Some(p), _) => name.starts_with(p),
        (None, Some(p)) => name.ends_with(p),
        (None, None) => name.contains(pattern),
    }
}

/// The container's labels: the image's, then those of its spec.
fn labels(c: &Container, image_labels: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = image_labels
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    out.extend(c.spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// Whether `c` passes the filters: values of one key are alternatives,
/// different keys must all match (Podman's rule).
fn passes(
    c: &Container,
    filters: &[Filter],
    store: &hutch_storage::Store,
    image_labels: &mut impl FnMut(&Container) -> serde_json::Value,
) -> bool {
    let mut keys: Vec<&str> = filters.iter().map(|f| f.key.as_str()).collect();
    keys.dedup();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().all(|key| {
        filters.iter().filter(|f| f.key == key).any(|f| {
            let v = f.value.as_str();
            match key {
                "id" => c.id.starts_with(v),
                "name" => name_matches(v, &c.name),
                "status" => {
                    lifecycle::state_name(c.state) == v
                        || (v == "stopped" && c.state == ContainerState::Exited)
                        || (v == "configured" && c.state == ContainerState::Configured)
                }
                "exited" => {
                    matches!(c.state, ContainerState::Exited | ContainerState::Stopped)
                        && c.exit_code.map(|e| e.to_string()).as_deref() == Some(v)
                }
                "ancestor" => {
                    c.image_name == v
                        || c.image_id.starts_with(v)
                        || c.image_name.starts_with(&format!("{v}:"))
                        || c.image_name.contains(&format!("/{v}:"))
                        || image::lookup(store, v).is_ok_and(|i| i.id.hex() == c.image_id)
                }
                "label" => {
                    let (lk, lv) = match v.split_once('=') {
                        Some((k, val)) => (k, Some(val)),
                        None => (v, None),
                    };
                    labels(c, &image_labels(c))
                        .iter()
                        .any(|(k, val)| k == lk && lv.is_none_or(|lv| lv == val))
                }
                _ => false,
            }
        })
    })
}

/// Bytes in a directory tree (files counted once by size; no links).
fn tree_size(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}

pub fn ps(ctx: &Context, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    if args.latest && args.last >= 0 {
        bail!("--last and --latest cannot be used together");
    }
    let filters = parse_filters(&args.filter)?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    // A container whose monitor was killed shows as exited, not running.
    lifecycle::recover(ctx, &store, &state)?;
    let all = args.all || args.latest || args.last >= 0 || !filters.is_empty();
    let mut image_cache = std::collections::HashMap::new();
    let mut image_labels = |c: &Container| -> serde_json::Value {
        image_cache
            .entry(c.image_id.clone())
            .or_insert_with(|| {
                image::lookup(&store, &c.image_id)
                    .ok()
                    .and_then(|i| image::config(&store, &i).ok())
                    .map(|cfg| cfg["config"]["Labels"].clone())
                    .unwrap_or_default()
            })
            .clone()
    };
    let mut list: Vec<Container> = state
        .list_containers(all)?
        .into_iter()
        .filter(|c| passes(c, &filters, &store, &mut image_labels))
        .collect();
    // Newest first, as Podman lists them; --latest/--last take from there.
    list.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    if args.latest {
        list.truncate(1);
    } else if args.last >= 0 {
        list.truncate(usize::try_from(args.last).unwrap_or(0));
    }
    let now = time::now_ns();
    let mut rows: Vec<(Container, serde_json::Value)> = list
        .into_iter()
        .map(|c| {
            let req = &c.spec;
            let command = std::fs::read(
                engine::Paths::new(ctx, store.root(), &c.id)
                    .userdata
                    .join("config.json"),
            )
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|spec| {
                spec["process"]["args"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
            })
            .unwrap_or_else(|| req.command.join(" "));
            let command = if args.no_trunc || command.chars().count() <= 20 {
                command
            } else {
                format!("{}...", command.chars().take(17).collect::<String>())
            };
            let mut row = serde_json::json!({
                "ID": if args.no_trunc { c.id.clone() } else { c.id[..12].to_owned() },
                "Image": c.image_name,
                "ImageID": c.image_id,
                "Command": command,
                "CreatedAt": time::rfc3339(c.created / 1_000_000_000),
                "Created": time::ago(c.created / 1_000_000_000, now / 1_000_000_000),
                "RunningFor": time::ago(c.created / 1_000_000_000, now / 1_000_000_000),
                "Status": status_text(&c, now),
                "State": lifecycle::state_name(c.state),
                "Ports": "",
                "Names": c.name,
                "ExitCode": c.exit_code.unwrap_or(0),
                "Exited": matches!(c.state, ContainerState::Exited | ContainerState::Stopped),
                "Pid": c.pid.unwrap_or(0),
                "Restarts": c.restart_count,
                "AutoRemove": req.remove,
            });
            if args.size {
                let rw = tree_size(&store.root().join("containers").join(&c.id).join("upper"));
                let rootfs = image::lookup(&store, &c.image_id)
                    .map(|i| i.size)
                    .unwrap_or(0);
                row["Size"] = format!(
                    "{} (virtual {})",
                    time::human_size(rw),
                    time::human_size(rw + rootfs)
                )
                .into();
                row["SizeRw"] = rw.into();
            }
            (c, row)
        })
        .collect();
    match args.sort.as_str() {
        "created" | "runningfor" => {}
        "id" => rows.sort_by(|a, b| a.0.id.cmp(&b.0.id)),
        "image" => rows.sort_by(|a, b| a.0.image_name.cmp(&b.0.image_name)),
        "names" => rows.sort_by(|a, b| a.0.name.cmp(&b.0.name)),
        "status" => rows
            .sort_by(|a, b| lifecycle::state_name(a.0.state).cmp(lifecycle::state_name(b.0.state))),
        "command" => rows.sort_by(|a, b| a.1["Command"].as_str().cmp(&b.1["Command"].as_str())),
        "size" => rows.sort_by_key(|r| r.1["SizeRw"].as_u64().unwrap_or(0)),
        other => bail!(
            "invalid option for --sort, options are: command, created, id, image, names, runningfor, size, or status: {other}"
        ),
    }
    let rows: Vec<serde_json::Value> = rows.into_iter().map(|(_, r)| r).collect();
    if args.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let template = match format {
        OutputFormat::Json => {
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(rows))
            );
            return Ok(ExitCode::SUCCESS);
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => Template::parse(if args.size {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
        } else {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
        })?,
    };
    let headers = [("ID", "CONTAINER ID")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_like_podman_regexps() {
        assert!(name_matches("web", "my-web-1"));
        assert!(name_matches("^my", "my-web-1"));
        assert!(!name_matches("^web", "my-web-1"));
        assert!(name_matches("-1$", "my-web-1"));
        assert!(name_matches("^my-web-1$", "my-web-1"));
        assert!(!name_matches("^my-web$", "my-web-1"));
    }

    #[test]
    fn filters_are_checked() {
        assert!(parse_filters(&["status=running".into()]).is_ok());
        assert!(parse_filters(&["status=bogus".into()]).is_err());
        assert!(parse_filters(&["color=red".into()]).is_err());
        assert!(parse_filters(&["name".into()]).is_err());
    }
}
