//! `events`: the event log, past events then (with `--stream`, the
//! default) new ones as they are appended, until interrupted.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::container as engine;
use crate::engine::state::{Event, EventFilter, EventType};
use crate::format::{OutputFormat, Template};
use crate::host::time;

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Filter output (container=, event=, image=, type=)
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format the output using a Go template or json
    #[arg(long)]
    format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Show all events created until timestamp
    #[arg(long)]
    until: Option<String>,
    /// Stream new events; for testing, use --stream=false
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    stream: bool,
}

/// A time as `--since`/`--until` take it: RFC 3339, a date, Unix seconds
/// (with a fraction), or a duration back from now (`10m`).
pub(crate) fn parse_time(s: &str, now_ns: i64) -> anyhow::Result<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    if let Some(secs) = time::parse_rfc3339(s) {
        return Ok(secs * 1_000_000_000);
    }
    if let Some(secs) = time::parse_rfc3339(&format!("{s}T00:00:00Z")) {
        return Ok(secs * 1_000_000_000);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|i| *i > 0);
    if let Some(i) = split {
        let (num, unit) = s.split_at(i);
        let n: f64 = num.parse().unwrap_or(f64::NAN);
        let unit_ns = match unit {
            "ns" => Some(1.0),
            "us" | "µs" => Some(1e3),
            "ms" => Some(1e6),
            "s" => Some(1e9),
            "m" => Some(60e9),
            "h" => Some(3600e9),
            _ => None,
        };
        if let Some(u) = unit_ns
            && n.is_finite()
        {
            return Ok(now_ns - (n * u) as i64);
        }
    }
    bail!("invalid time {s:?}: use RFC 3339, a Unix timestamp or a duration such as 10m")
}

/// Go's `time.Time.String()` in UTC: `2026-11-28 16:22:28.123456789 +0000 UTC`.
fn go_time(ns: i64) -> String {
    let rfc = crate::engine::container::inspect::rfc3339_nano(Some(ns));
    format!(
        "{} +0000 UTC",
        rfc.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

/// Podman's JSON/template view of an event.
fn view(e: &Event) -> serde_json::Value {
    let mut attributes = e.attributes.clone();
    let exit = attributes
        .remove("containerExitCode")
        .and_then(|c| c.parse::<i64>().ok());
    attributes.remove("image");
    attributes.remove("name");
    let mut v = serde_json::json!({
        "ID": e.actor_id,
        "Image": e.attributes.get("image").cloned().unwrap_or_default(),
        "Name": e.actor_name,
        "Status": e.action,
        "Time": crate::engine::container::inspect::rfc3339_nano(Some(e.time)),
        "Type": e.kind.as_str(),
        "Attributes": attributes,
    });
    if let Some(code) = exit {
        v["ContainerExitCode"] = code.into();
    }
    v
}

/// Podman's one-line text.
fn human(e: &Event) -> String {
    let mut line = format!(
        "{} {} {} {} (",
        go_time(e.time),
        e.kind,
        e.action,
        e.actor_id
    );
    let mut parts = vec![
        format!(
            "image={}",
            e.attributes.get("image").cloned().unwrap_or_default()
        ),
        format!("name={}", e.actor_name),
    ];
    for (k, v) in &e.attributes {
        if !matches!(k.as_str(), "image" | "name" | "containerExitCode") {
            parts.push(format!("{k}={v}"));
        }
    }
    line.push_str(&parts.join(", "));
    line.push(')');
    line
}

pub fn events(ctx: &Context, args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let now = time::now_ns();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let mut filter = EventFilter::default();
    let mut images = Vec::new();
    for f in &args.filter {
        let (k, v) = f
            .split_once('=')
            .with_context(|| format!("invalid filter {f:?}: use KEY=VALUE"))?;
        match k {
            "container" => filter.actors.push(v.to_owned()),
            "event" | "status" => filter
                .actions
                .push(if v == "die" { "died" } else { v }.to_owned()),
            "type" => filter
                .types
                .push(EventType::parse(v).with_context(|| format!("invalid event type {v:?}"))?),
            "image" => images.push(v.to_owned()),
            _ => bail!("{k} is an invalid filter"),
        }
    }
    let template = match &format {
        OutputFormat::Template(t) => Some(t),
        _ => None,
    };
    let json = matches!(format, OutputFormat::Json);
    let state = engine::open_state(ctx)?;
    let mut out = std::io::stdout().lock();
    let print = |e: &Event, out: &mut std::io::StdoutLock| -> anyhow::Result<()> {
        if !images.is_empty()
            && !e.attributes.get("image").is_some_and(|i| {
                images.iter().any(|f| {
                    i == f
                        || i.starts_with(&format!("{f}:"))
                        || i.ends_with(&format!("/{f}"))
                        || i.contains(&format!("/{f}:"))
                })
            })
        {
            return Ok(());
        }
        if json {
            writeln!(out, "{}", serde_json::to_string(&view(e))?)?;
        } else if let Some(t) = template {
            write!(out, "{}", render(t, e)?)?;
        } else {
            writeln!(out, "{}", human(e))?;
        }
        out.flush()?;
        Ok(())
    };
    let mut last = None;
    for e in state.events(since, until, &filter)? {
        print(&e, &mut out)?;
        last = Some(e.id);
    }
    if !args.stream {
        return Ok(ExitCode::SUCCESS);
    }
    if last.is_none() {
        // Start after whatever exists now, even outside the window.
        last = state
            .events(None, None, &EventFilter::default())?
            .last()
            .map(|e| e.id);
    }
    loop {
        if until.is_some_and(|u| time::now_ns() > u) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(100));
        let next = EventFilter {
            after_id: last,
            ..filter.clone()
        };
        for e in state.events(since, until, &next)? {
            print(&e, &mut out)?;
            last = Some(e.id);
        }
    }
}

fn render(t: &Template, e: &Event) -> anyhow::Result<String> {
    Ok(t.render_one(&view(e))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = 1_000_000_000_000_000_000;
        assert_eq!(
            parse_time("1700000000", now).unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(parse_time("10m", now).unwrap(), now - 600_000_000_000);
        assert_eq!(
            parse_time("1970-01-02T00:00:00Z", now).unwrap(),
            86_400_000_000_000
        );
        assert_eq!(parse_time("1970-01-02", now).unwrap(), 86_400_000_000_000);
        assert!(parse_time("yesterday", now).is_err());
        assert_eq!(go_time(1_500_000_000), "1970-01-01 00:00:01.5 +0000 UTC");
    }
}
