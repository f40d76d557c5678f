//! Podman's `--format` option: `json`, or a Go template rendered with
//! gotmpl, with Podman's extra functions (`json`, `lower`, `upper`,
//! `title`, `split`, `join`, `truncate`, `pad`) and its `table` prefix
//! (header row, columns aligned like Go's tabwriter).
//!
//! Data arrive as `serde_json::Value` keyed by Podman's JSON keys
//! (`{"host":{"cgroupVersion":"v2"}}`), while users write Go field names
//! (`{{.Host.CgroupVersion}}`). gotmpl reads only maps, by exact key, and
//! has no hook for field lookup, so the data are converted to gotmpl maps
//! with their keys unchanged and every field access in the parsed template
//! is rewritten into a call of a hidden function that tries the exact key,
//! then a match ignoring case, then one ignoring case and underscores
//! (`.HostPort` for `host_port`) (`rewrite.rs`, `funcs.rs`). Rewriting the
//! template rather than adding Go-style keys to the data keeps
//! `{{json .Host}}`, `{{range $k, $v := .Labels}}` and `len` seeing the
//! data as they are. A field that is absent is an error naming it, as Go
//! reports for a struct; on a JSON null the lookup yields no value.
//!
//! This module does not choose columns or headers for a command's default
//! output, nor print: callers pass the rows and write the returned text.

mod funcs;
mod header;
mod rewrite;
mod syntax;
mod tabwriter;
mod template;
mod value;

#[cfg(test)]
mod tests;

pub use template::Template;

/// What a `--format` value asks for.
#[derive(Debug)]
pub enum OutputFormat {
    /// No `--format`: the command's own layout.
    Default,
    /// `json` or `{{json .}}`: the data as indented JSON (`to_json_pretty`).
    Json,
    /// Any other value: a Go template.
    Template(Template),
}

impl OutputFormat {
    /// Reads a `--format` value: absent or empty means the default layout,
    /// Podman's JSON spellings mean JSON, anything else must parse as a
    /// template.
    pub fn parse(s: Option<&str>) -> Result<OutputFormat, FormatError> {
        match s {
            None | Some("") => Ok(OutputFormat::Default),
            Some(s) if is_json(s) => Ok(OutputFormat::Json),
            Some(s) => Template::parse(s).map(OutputFormat::Template),
        }
    }
}

/// Why a template could not be parsed or rendered. Each message names the
/// template as the user wrote it.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The template is not valid Go template syntax, or calls a function
    /// that does not exist.
    #[error("template {template:?}: {}", at(*line, *col, message))]
    Parse {
        template: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// The template names a field the data do not have.
    #[error(
        "template {template:?}: {}",
        at(*line, *col, &format!("executing at <{expr}>: can't evaluate field {field} in type {kind}"))
    )]
    MissingField {
        template: String,
        line: usize,
        col: usize,
        /// The expression as written, e.g. `.Host.Foo`.
        expr: String,
        field: String,
        /// The kind of value the field was looked for in (`map`, `string`...).
        kind: &'static str,
    },
    /// Any other failure while rendering (a function given the wrong
    /// arguments, ranging over a number...).
    #[error("template {template:?}: {source}")]
    Execute {
        template: String,
        #[source]
        source: gotmpl::TemplateError,
    },
}

/// `line:col: message`, or just the message when the position is unknown.
fn at(line: usize, col: usize, message: &str) -> String {
    if line == 0 {
        message.to_string()
    } else {
        format!("{line}:{col}: {message}")
    }
}

/// Tab-separated cells aligned as Podman's tables (Go's tabwriter with
/// minwidth 12, padding 2), for commands that print without a template.
pub fn align_columns(text: &str) -> String {
    tabwriter::align(text)
}

/// JSON as Podman prints `inspect` and `--format json`: indented by five
/// spaces, `<`, `>` and `&` not escaped, floats as Go writes them. Without
/// the trailing newline Go's encoder adds: print it with `println!`.
pub fn to_json_pretty(v: &serde_json::Value) -> String {
    value::to_json_indented(v)
}

/// JSON indented by four spaces, as `secret inspect` prints it.
pub fn to_json_pretty4(v: &serde_json::Value) -> String {
    value::to_json_indented4(v)
}

/// Podman's `report.IsJSON`: `json`, or `{{json}}` / `{{json .}}` with any
/// spacing (`^\s*(json|{{\s*json *\.?\s*}})\s*$`).
fn is_json(s: &str) -> bool {
    // Go's `\s`: ASCII space, tab, newline, form feed, carriage return.
    let space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r');
    let s = s.trim_matches(space);
    if s == "json" {
        return true;
    }
    let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) else {
        return false;
    };
    let Some(rest) = inner.trim_start_matches(space).strip_prefix("json") else {
        return false;
    };
    let rest = rest.trim_start_matches(' ');
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    rest.chars().all(space)
}
