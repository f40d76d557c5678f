//! `events`: the event log, past events then (with `--stream`, the
//! default) new ones as they are appended, until interrupted.

use std::io::Write;
use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container::events::{EventStream, EventsOptions, parse_time, parse_until};
use crate::engine::container::{self as engine};
use crate::engine::state::{Event, EventType};
use crate::format::{OutputFormat, Template};
use crate::host::time;

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Filter output (container=, event=, image=, type=)
    #[arg(short, long)]
    pub(crate) filter: Vec<String>,
    /// Format the output using a Go template or json
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Show all events created until timestamp
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Stream new events; for testing, use --stream=false
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) stream: bool,
    /// Do not truncate the output (--no-trunc=false: ids cut to 12 characters in the text lines)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) no_trunc: bool,
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
pub(crate) fn view(e: &Event) -> serde_json::Value {
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

/// `--format json`: [`view`], but a volume's event as Podman's JSON has
/// it: no empty `ID` or `Image` (omitempty) and `Attributes` null.
fn json_view(e: &Event) -> serde_json::Value {
    let mut v = view(e);
    if e.kind == EventType::Volume
        && let Some(o) = v.as_object_mut()
    {
        o.retain(|k, val| !(matches!(k.as_str(), "ID" | "Image") && val == ""));
        if o.get("Attributes")
            .and_then(|a| a.as_object())
            .is_some_and(|a| a.is_empty())
        {
            o.insert("Attributes".to_owned(), serde_json::Value::Null);
        }
    }
    v
}

/// Podman's one-line text.
pub(crate) fn human(e: &Event) -> String {
    // Podman's ToHumanReadable: images, volumes and the system's own
    // events (log-rotation) print no attributes.
    match e.kind {
        EventType::Image => {
            return format!(
                "{} {} {} {} {}",
                go_time(e.time),
                e.kind,
                e.action,
                e.actor_id,
                e.actor_name
            );
        }
        EventType::Volume | EventType::System if !e.actor_name.is_empty() => {
            return format!(
                "{} {} {} {}",
                go_time(e.time),
                e.kind,
                e.action,
                e.actor_name
            );
        }
        EventType::System => return format!("{} {} {}", go_time(e.time), e.kind, e.action),
        _ => {}
    }
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
    let at = |t: &Option<String>| t.as_deref().map(|t| parse_time(t, now)).transpose();
    let opts = EventsOptions {
        filters: args.filter.clone(),
        since: at(&args.since)?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_until(t, now))
            .transpose()?,
    };
    opts.validate()?;
    let template = match &format {
        OutputFormat::Template(t) => Some(t),
        _ => None,
    };
    let json = matches!(format, OutputFormat::Json);
    let state = engine::open_state(ctx)?;
    let mut stream = EventStream::open(&state, &opts)?;
    let mut out = std::io::stdout().lock();
    // Podman cuts ids in its text line only; JSON and templates keep them.
    let cut = !args.no_trunc && !json && template.is_none();
    let mut print = |mut events: Vec<Event>| -> anyhow::Result<()> {
        if cut {
            for e in &mut events {
                if e.actor_id.is_char_boundary(12) {
                    e.actor_id.truncate(12);
                }
            }
        }
        for e in &events {
            if json {
                writeln!(out, "{}", serde_json::to_string(&json_view(e))?)?;
            } else if let Some(t) = template {
                write!(out, "{}", render(t, e)?)?;
            } else {
                writeln!(out, "{}", human(e))?;
            }
            out.flush()?;
        }
        Ok(())
    };
    print(stream.next_batch()?)?;
    if !args.stream {
        return Ok(ExitCode::SUCCESS);
    }
    while let Some(batch) = stream.wait_batch()? {
        print(batch)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render(t: &Template, e: &Event) -> anyhow::Result<String> {
    Ok(t.render_one(&view(e))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(go_time(1_500_000_000), "1970-01-01 00:00:01.5 +0000 UTC");
    }
}
