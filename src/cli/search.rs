//! `search` and `image search`: flags into [`SearchOptions`], results into
//! Podman's table, template or JSON. The remote client prints through
//! [`print`] too.

use std::collections::HashMap;
use std::process::ExitCode;

use crate::config::Context;
use crate::engine::image::pull::RegistryOptions;
use crate::engine::image::search::{self, DESCRIPTION_LIMIT, SearchOptions, SearchReport};
use crate::format::{OutputFormat, Template, to_json_pretty4};

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Path of the authentication file. Use REGISTRY_AUTH_FILE environment variable to override
    #[arg(long)]
    pub(crate) authfile: Option<std::path::PathBuf>,
    /// `Pathname` of a directory containing TLS certificates and keys
    #[arg(long, value_name = "Pathname")]
    pub(crate) cert_dir: Option<std::path::PathBuf>,
    /// List stars, official and automated columns (Docker compatibility)
    #[arg(long)]
    pub(crate) compatible: bool,
    /// `Credentials` (USERNAME:PASSWORD) to use for authenticating to a registry
    #[arg(long, value_name = "Credentials")]
    pub(crate) creds: Option<String>,
    /// Filter output based on conditions provided (default [])
    #[arg(short, long, value_name = "strings")]
    pub(crate) filter: Vec<String>,
    /// Change the output format to JSON or a Go template
    #[arg(long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Limit the number of results
    #[arg(
        long,
        value_name = "int",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub(crate) limit: i64,
    /// List the tags of the input registry
    #[arg(long)]
    pub(crate) list_tags: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub(crate) no_trunc: bool,
    /// Require HTTPS and verify certificates when contacting registries (default true)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) tls_verify: Option<bool>,
    pub(crate) term: String,
}

impl SearchArgs {
    pub(crate) fn options(&self) -> SearchOptions {
        SearchOptions {
            registry: RegistryOptions {
                tls_verify: self.tls_verify,
                creds: self.creds.clone(),
                authfile: self.authfile.clone(),
            },
            limit: self.limit,
            filters: self.filter.clone(),
            list_tags: self.list_tags,
            no_trunc: self.no_trunc,
        }
    }
}

pub fn run(ctx: &Context, args: &SearchArgs) -> anyhow::Result<ExitCode> {
    // The template is checked before any registry is asked.
    OutputFormat::parse(args.format.as_deref())?;
    super::registry::check_cert_dir(args.cert_dir.as_deref())?;
    let reports = search::search(ctx, &args.term, &args.options())?;
    print(args, reports)
}

/// Podman's output for `reports`: nothing at all for no result; with
/// `--list-tags` a NAME/TAG table (or `[{Name, Tags}]` as JSON) whatever
/// template was given; else JSON, the template, or the default table
/// (NAME, DESCRIPTION, and with `--compatible` STARS, OFFICIAL, AUTOMATED).
pub(crate) fn print(args: &SearchArgs, mut reports: Vec<SearchReport>) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    if reports.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let json = matches!(format, OutputFormat::Json);
    if !(args.no_trunc || json) {
        for r in &mut reports {
            r.description = table_description(&r.description);
        }
    }
    let template = if args.list_tags {
        if json {
            println!("{}", to_json_pretty4(&tags_json(&reports)));
            return Ok(ExitCode::SUCCESS);
        }
        Template::parse("table {{.Name}}\t{{.Tag}}")?
    } else {
        match format {
            OutputFormat::Json => {
                println!("{}", to_json_pretty4(&serde_json::to_value(&reports)?));
                return Ok(ExitCode::SUCCESS);
            }
            OutputFormat::Template(t) => t,
            OutputFormat::Default if args.compatible => Template::parse(
                "table {{.Name}}\t{{.Description}}\t{{.Stars}}\t{{.Official}}\t{{.Automated}}",
            )?,
            OutputFormat::Default => Template::parse("table {{.Name}}\t{{.Description}}")?,
        }
    };
    let rows = reports
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    print!("{}", template.render_list(&rows, &HashMap::new())?);
    Ok(ExitCode::SUCCESS)
}

/// The CLI's own cut (after the engine's): 44 bytes, spaces trimmed,
/// `...` (Podman cuts twice, so a cut description ends `...` after at
/// most 44 bytes of text).
fn table_description(d: &str) -> String {
    if d.len() <= DESCRIPTION_LIMIT {
        return d.to_owned();
    }
    let mut end = DESCRIPTION_LIMIT;
    while !d.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", d[..end].trim())
}

/// `--list-tags --format json`: one `{Name, Tags}` per repository, in the
/// order first seen.
fn tags_json(reports: &[SearchReport]) -> serde_json::Value {
    let mut entries: Vec<(String, Vec<String>)> = Vec::new();
    for r in reports {
        match entries.iter_mut().find(|(n, _)| *n == r.name) {
            Some((_, tags)) => tags.push(r.tag.clone()),
            None => entries.push((r.name.clone(), vec![r.tag.clone()])),
        }
    }
    serde_json::Value::Array(
        entries
            .into_iter()
            .map(|(name, tags)| serde_json::json!({"Name": name, "Tags": tags}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_cut_as_podmans_table() {
        let engine_cut = search::truncate(&format!("{} tail of it", "word ".repeat(9)), false);
        assert_eq!(engine_cut.len(), DESCRIPTION_LIMIT + 3);
        assert_eq!(
            table_description(&engine_cut),
            format!("{}...", "word ".repeat(9).trim())
        );
        assert_eq!(table_description("short"), "short");
    }
}
