//! Log lines as Podman (logrus) prints them, so that scripts and eyes
//! trained on Podman read hutch's the same way: on a terminal
//! `WARN[0001] message key=value` (seconds since the command started), and
//! otherwise `time="2026-12-06T21:22:55Z" level=warning msg="message"`.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct Logrus {
    terminal: bool,
    started: Instant,
}

impl Logrus {
    pub fn new() -> Logrus {
        Logrus {
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.rest.push((field.name(), text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.push((field.name(), value.to_owned()));
        }
    }
}

fn level_name(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::ERROR => ("error", "ERRO"),
        Level::WARN => ("warning", "WARN"),
        Level::INFO => ("info", "INFO"),
        Level::DEBUG => ("debug", "DEBU"),
        Level::TRACE => ("trace", "TRAC"),
    }
}

/// logrus quotes a value with spaces or quotes in it, Go-style.
fn quoted(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=')
    {
        return v.to_owned();
    }
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl<S, N> FormatEvent<S, N> for Logrus
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let (long, short) = level_name(*event.metadata().level());
        let mut line = String::new();
        if self.terminal {
            let secs = self.started.elapsed().as_secs();
            write!(line, "{short}[{secs:04}] {}", fields.message)?;
        } else {
            let now = crate::host::time::rfc3339(crate::host::time::now());
            write!(
                line,
                "time=\"{now}\" level={long} msg={}",
                quoted(&fields.message)
            )?;
        }
        for (k, v) in &fields.rest {
            write!(line, " {k}={}", quoted(v))?;
        }
        writeln!(writer, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn values_are_quoted_as_logrus_does() {
        assert_eq!(quoted("abc"), "abc");
        assert_eq!(quoted("a b"), "\"a b\"");
        assert_eq!(quoted("say \"x\""), "\"say \\\"x\\\"\"");
        assert_eq!(quoted(""), "\"\"");
    }
}
