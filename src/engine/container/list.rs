//! `list` (`ps`): the containers as typed summaries, filtered and limited
//! to the latest ones; the front end sorts and formats them.

use std::collections::HashMap;

use hutch_storage::Store;

use super::Paths;
use super::lifecycle::{self, state_name, stored};
use crate::config::Context;
use crate::engine::Result;
use crate::engine::image;
use crate::engine::state::{Container, ContainerState, State};
use crate::host::time;

/// One `--filter KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub key: String,
    pub value: String,
}

impl Filter {
    /// Podman's `ps` filter keys and status values; anything else is bad
    /// input.
    pub fn parse(f: &str) -> Result<Filter> {
        let Some((k, v)) = f.split_once('=') else {
            crate::fail!(BadInput, "invalid filter {f:?}: use KEY=VALUE");
        };
        if !matches!(
            k,
            "id" | "name" | "status" | "label" | "exited" | "ancestor" | "pod" | "health"
        ) {
            crate::fail!(BadInput, "{k} is an invalid filter");
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
            crate::fail!(BadInput, "{v} is not a valid status");
        }
        Ok(Filter {
            key: k.to_owned(),
            value: v.to_owned(),
        })
    }
}

/// `ps [-a] [--filter F]... [-n N | -l] [-s]`.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Stopped containers too (implied by a status filter, `last` and
    /// `latest`).
    pub all: bool,
    pub filters: Vec<Filter>,
    /// The `n` last created (`-n`).
    pub last: Option<usize>,
    /// Only the last created (`-l`).
    pub latest: bool,
    /// Compute the sizes of the writable layer and the image.
    pub size: bool,
}

impl ListOptions {
    pub fn validate(&self) -> Result<()> {
        if self.latest && self.last.is_some() {
            crate::fail!(BadInput, "--last and --latest cannot be used together");
        }
        Ok(())
    }
}

/// A container as `ps` and the API's list show it.
#[derive(Debug, Clone)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    /// The process's arguments, joined (the spec's, else the stored ones).
    pub command: String,
    /// The same arguments as a list (the libpod API's `Command`).
    pub args: Vec<String>,
    /// Nanoseconds since the epoch.
    pub created: i64,
    pub started_at: Option<i64>,
    pub exited_at: Option<i64>,
    pub state: ContainerState,
    /// Podman's name for the state ("created" for a configured one).
    pub state_name: &'static str,
    pub exit_code: Option<i32>,
    pub pid: Option<i32>,
    pub restarts: u32,
    pub auto_remove: bool,
    pub labels: Vec<(String, String)>,
    /// With `size`: (writable layer, image) in bytes.
    pub size: Option<(u64, u64)>,
    /// The published ports, with the host ports chosen at start where
    /// the network plan has them.
    pub ports: Vec<hutch_rootless_net::PortMapping>,
    /// The pod the container belongs to: (full id, name).
    pub pod: Option<(String, String)>,
    /// The health check's status (`starting`, `healthy`, `unhealthy`)
    /// once a container with a check has started.
    pub health: Option<String>,
}

/// Docker's Status: "Created", "Up 3 seconds", "Exited (0) 2 seconds
/// ago"; the API's container list shows it.
pub fn status_text(c: &ContainerSummary, now_ns: i64) -> String {
    with_health(c, state_text(c, now_ns))
}

/// Podman 4.3.1's STATUS column (and `{{.Status}}`): Docker's words,
/// but "Up 3 seconds ago" while running.
pub fn ps_status_text(c: &ContainerSummary, now_ns: i64) -> String {
    let text = match c.state {
        ContainerState::Running | ContainerState::Paused => {
            let up = time::ago(
                c.started_at.unwrap_or(c.created) / 1_000_000_000,
                now_ns / 1_000_000_000,
            );
            if c.state == ContainerState::Paused {
                format!("Up {up} (paused)")
            } else {
                format!("Up {up}")
            }
        }
        _ => state_text(c, now_ns),
    };
    with_health(c, text)
}

fn with_health(c: &ContainerSummary, text: String) -> String {
    // Podman 4.3.1 adds the health to every state, exited ones too.
    match c.health.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => format!("{text} ({h})"),
        None => text,
    }
}

/// `ps --format '{{.State}}'`: Podman 4.3.1's psReporter.State, the
/// STATUS text without the health and with its own wording: "Up 3
/// seconds ago" while running, "Exited (0) 3 seconds ago", else the
/// state's word capitalised ("Created", "Paused"). `ps --format json`
/// keeps the lower-case word.
pub fn ps_state_text(c: &ContainerSummary, now_ns: i64) -> String {
    let now = now_ns / 1_000_000_000;
    match c.state {
        ContainerState::Running => format!(
            "Up {}",
            time::ago(c.started_at.unwrap_or(c.created) / 1_000_000_000, now)
        ),
        ContainerState::Exited | ContainerState::Stopped => state_text(c, now_ns),
        _ => {
            let mut word = c.state_name.chars();
            match word.next() {
                Some(first) => first.to_uppercase().chain(word).collect(),
                None => String::new(),
            }
        }
    }
}

fn state_text(c: &ContainerSummary, now_ns: i64) -> String {
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
        ContainerState::Configured => "Created".to_owned(),
        ContainerState::Created => "Initialized".to_owned(),
        ContainerState::Removing => "Removing".to_owned(),
    }
}

/// The namespace ids (the inode numbers of `/proc/PID/ns/*`) of a
/// container's process, as `ps --ns` shows them; empty where unreadable
/// (the process has gone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub cgroup: String,
    pub ipc: String,
    pub mnt: String,
    pub net: String,
    pub pid: String,
    pub user: String,
    pub uts: String,
}

pub fn namespaces(pid: i32) -> Namespaces {
    // The link reads `net:[4026532176]`; Podman shows the number.
    let id = |kind: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
            .ok()
            .and_then(|l| {
                let l = l.to_string_lossy().into_owned();
                let start = l.find('[')? + 1;
                let end = l.rfind(']')?;
                l.get(start..end).map(str::to_owned)
            })
            .unwrap_or_default()
    };
    Namespaces {
        cgroup: id("cgroup"),
        ipc: id("ipc"),
        mnt: id("mnt"),
        net: id("net"),
        pid: id("pid"),
        user: id("user"),
        uts: id("uts"),
    }
}

/// The containers `opts` asks for, newest first.
pub fn list(
    ctx: &Context,
    store: &Store,
    state: &State,
    opts: &ListOptions,
) -> Result<Vec<ContainerSummary>> {
    opts.validate()?;
    // A container whose monitor was killed shows as exited, not running.
    lifecycle::recover(ctx, store, state)?;
    // Only a status filter widens the list beyond running containers, as
    // in Podman and dockerd (`ps --filter name=x` lists running ones).
    let all = opts.all
        || opts.latest
        || opts.last.is_some()
        || opts.filters.iter().any(|f| f.key == "status");
    let mut image_cache: HashMap<String, serde_json::Value> = HashMap::new();
    let mut image_labels = |c: &Container| -> serde_json::Value {
        image_cache
            .entry(c.image_id.clone())
            .or_insert_with(|| {
                image::lookup(store, &c.image_id)
                    .ok()
                    .and_then(|i| image::config(store, &i).ok())
                    .map(|cfg| cfg["config"]["Labels"].clone())
                    .unwrap_or_default()
            })
            .clone()
    };
    // `pod=NAME|ID`: the pods' full ids, looked up once.
    let pods: Vec<String> = opts
        .filters
        .iter()
        .filter(|f| f.key == "pod")
        .filter_map(|f| state.pod(&f.value).ok().map(|p| p.id))
        .collect();
    let mut rows: Vec<(Container, Vec<(String, String)>)> = Vec::new();
    for c in state.list_containers(all)? {
        let labels = labels(&c, &image_labels(&c));
        if passes(&c, &labels, &opts.filters, store, &pods) {
            rows.push((c, labels));
        }
    }
    // Newest first, as Podman lists them; --latest/--last take from there.
    rows.sort_by(|a, b| b.0.created.cmp(&a.0.created).then(b.0.id.cmp(&a.0.id)));
    if opts.latest {
        rows.truncate(1);
    } else if let Some(n) = opts.last {
        rows.truncate(n);
    }
    Ok(rows
        .into_iter()
        .map(|(c, labels)| {
            let pod = c
                .pod_id
                .as_deref()
                .and_then(|p| state.pod(p).ok())
                .map(|p| (p.id, p.name));
            ContainerSummary {
                pod,
                ..summary(ctx, store, c, labels, opts.size)
            }
        })
        .collect())
}

fn summary(
    ctx: &Context,
    store: &Store,
    c: Container,
    labels: Vec<(String, String)>,
    size: bool,
) -> ContainerSummary {
    let cfg = stored(&c);
    let args: Vec<String> = std::fs::read(
        Paths::new(ctx, store.root(), &c.id)
            .userdata
            .join("config.json"),
    )
    .ok()
    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    .and_then(|spec| {
        spec["process"]["args"].as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
    })
    .unwrap_or_else(|| cfg.command.clone());
    let size = size.then(|| {
        let rw = tree_size(&store.root().join("containers").join(&c.id).join("upper"));
        let rootfs = image::lookup(store, &c.image_id)
            .map(|i| i.size)
            .unwrap_or(0);
        (rw, rootfs)
    });
    // Only containers that publish ports cost a read of their plan.
    let ports = if c.spec.network.ports.is_empty() && !c.spec.network.publish_all {
        Vec::new()
    } else {
        super::network::read_plan(&Paths::new(ctx, store.root(), &c.id))
            .map(|plan| plan.ports)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| c.spec.network.ports.clone())
    };
    ContainerSummary {
        ports,
        health: c.health,
        state_name: state_name(c.state),
        id: c.id,
        name: c.name,
        image: c.image_name,
        image_id: c.image_id,
        command: args.join(" "),
        args,
        created: c.created,
        started_at: c.started_at,
        exited_at: c.exited_at,
        state: c.state,
        exit_code: c.exit_code,
        pid: c.pid,
        restarts: c.restart_count,
        auto_remove: cfg.auto_remove,
        labels,
        size,
        pod: None,
    }
}

/// Podman matches names as a regular expression; the common forms (plain
/// text, `^` and `$` anchors) are supported.
fn name_matches(pattern: &str, name: &str) -> bool {
    crate::engine::name_filter::matches(pattern, name)
}

/// The container's labels: the image's, then its own `--label`s.
pub(crate) fn labels(c: &Container, image_labels: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = image_labels
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    for l in &stored(c).labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        out.push((k.to_owned(), v.to_owned()));
    }
    out
}

/// Whether `c` passes the filters: values of one key are alternatives,
/// different keys must all match (Podman's rule).
fn passes(
    c: &Container,
    labels: &[(String, String)],
    filters: &[Filter],
    store: &Store,
    pods: &[String],
) -> bool {
    let mut keys: Vec<&str> = filters.iter().map(|f| f.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().all(|key| {
        let mut same = filters.iter().filter(|f| f.key == key);
        // Values of one key are alternatives, except labels, which must
        // all be there (Docker and Podman alike; compose asks for a
        // project's and a service's label at once).
        let one = |f: &Filter| {
            let v = f.value.as_str();
            match key {
                "id" => c.id.starts_with(v),
                "name" => name_matches(v, &c.name),
                "status" => {
                    state_name(c.state) == v
                        || (v == "stopped" && c.state == ContainerState::Exited)
                        || (v == "configured" && c.state == ContainerState::Configured)
                }
                "health" => c.health.as_deref() == Some(v),
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
                    labels
                        .iter()
                        .any(|(k, val)| k == lk && lv.is_none_or(|lv| lv == val))
                }
                "pod" => c.pod_id.as_ref().is_some_and(|p| pods.contains(p)),
                _ => false,
            }
        };
        if key == "label" {
            same.all(one)
        } else {
            same.any(one)
        }
    })
}

/// Bytes in a directory tree (files counted once by size; no links).
pub fn tree_size(dir: &std::path::Path) -> u64 {
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

/// Filters from `--filter` values.
pub fn parse_filters(raw: &[String]) -> Result<Vec<Filter>> {
    raw.iter().map(|f| Filter::parse(f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorKind;

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
    fn filters_and_options_are_checked() {
        assert!(Filter::parse("status=running").is_ok());
        let bad = Filter::parse("status=bogus").unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::BadInput);
        assert_eq!(bad.text(), "bogus is not a valid status");
        assert!(Filter::parse("color=red").is_err());
        assert!(Filter::parse("name").is_err());
        let both = ListOptions {
            latest: true,
            last: Some(2),
            ..ListOptions::default()
        };
        assert_eq!(both.validate().unwrap_err().kind(), ErrorKind::BadInput);
    }
}
