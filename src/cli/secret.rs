//! `secret create|ls|inspect|rm|exists`, Podman's flags, output and exit
//! codes, on the engine's file-driver store.

use std::io::Read;
use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::secret::{MAX_SECRET_BYTES, Secret, SecretStore};
use crate::engine::{ErrorKind, image};
use crate::format::{OutputFormat, Template};

#[derive(Debug, clap::Subcommand)]
pub enum SecretCommand {
    /// Create a new secret
    Create(CreateArgs),
    /// List secrets
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Inspect a secret
    Inspect(InspectArgs),
    /// Remove one or more secrets
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Check if a secret exists in local storage
    Exists(ExistsArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Specify secret driver
    #[arg(short, long, default_value = "file")]
    pub(crate) driver: String,
    /// Add labels to the secret (e.g. --label key=value)
    #[arg(short, long)]
    pub(crate) label: Vec<String>,
    /// Specify driver specific options
    #[arg(long = "driver-opts", value_name = "OPTIONS")]
    pub(crate) driver_opts: Vec<String>,
    /// Read secret data from environment variable
    #[arg(long)]
    pub(crate) env: bool,
    pub(crate) name: String,
    /// A file to read the data from, or `-` for standard input; with
    /// --env, the environment variable's name
    pub(crate) file: String,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Format volume output using Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Do not print headers
    #[arg(long)]
    pub(crate) noheading: bool,
    /// Print secret IDs only
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Filter secret output (name=, id=)
    #[arg(short, long)]
    pub(crate) filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format inspect output using Go template
    #[arg(short, long)]
    pub(crate) format: Option<String>,
    /// Print inspect output in human-readable format
    #[arg(long)]
    pub(crate) pretty: bool,
    #[arg(required = true)]
    pub(crate) names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove all secrets
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Ignore errors when a specified secret is missing
    #[arg(short, long)]
    pub(crate) ignore: bool,
    pub(crate) names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ExistsArgs {
    pub(crate) name: String,
}

pub fn run(ctx: &Context, cmd: SecretCommand) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let secrets = SecretStore::new(store.root());
    match cmd {
        SecretCommand::Create(a) => {
            let data = create_data(&a)?;
            let labels = crate::spec::parse::hosts::key_values("--label", &a.label)?;
            let opts = crate::spec::parse::hosts::key_values(
                "--driver-opts",
                &driver_opts(&a.driver_opts),
            )?;
            let s = secrets.create(&a.name, &a.driver, &data, labels, opts)?;
            println!("{}", s.id);
        }
        SecretCommand::Ls(a) => {
            let now = crate::host::time::now();
            let filters = ls_filters(&a.filter)?;
            let rows: Vec<serde_json::Value> = secrets
                .list()?
                .iter()
                .filter(|s| ls_filter_matches(&filters, s))
                .map(|s| ls_row(s, now))
                .collect();
            print_ls(&a, rows)?;
        }
        SecretCommand::Inspect(a) => {
            let mut rows = Vec::new();
            let mut missing = None;
            for n in &a.names {
                match secrets.lookup(n) {
                    Ok(s) => rows.push(secrets.inspect_view(&s)),
                    Err(e) => missing = Some(e),
                }
            }
            // Podman prints what it found, then fails for the rest.
            if a.pretty {
                print!("{}", pretty(&rows));
            } else {
                print_inspect(a.format.as_deref(), rows)?;
            }
            if let Some(e) = missing {
                return Err(e.context("inspecting secret").into());
            }
        }
        SecretCommand::Rm(a) => {
            let names: Vec<String> = if a.all {
                if !a.names.is_empty() {
                    bail!("when using the --all switch, you may not pass any secret names or IDs");
                }
                secrets.list()?.into_iter().map(|s| s.id).collect()
            } else {
                if a.names.is_empty() {
                    bail!("`hutch secret rm` requires one or more secret names, or --all");
                }
                a.names.clone()
            };
            let mut failed = None;
            for n in &names {
                match secrets.remove(n) {
                    Ok(s) => println!("{}", s.id),
                    Err(e) if a.ignore && e.kind() == ErrorKind::NotFound => {}
                    Err(e) => {
                        if let Some(prev) = failed.replace(e) {
                            eprintln!("Error: {}", prev.text());
                        }
                    }
                }
            }
            if let Some(e) = failed {
                return Err(e.into());
            }
        }
        SecretCommand::Exists(a) => {
            return Ok(match secrets.exists(&a.name)? {
                true => ExitCode::SUCCESS,
                false => ExitCode::from(1),
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints `secret ls`' rows ([`ls_row`]'s shape); the remote client's
/// too.
pub(crate) fn print_ls(a: &LsArgs, rows: Vec<serde_json::Value>) -> anyhow::Result<()> {
    if a.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let template = match OutputFormat::parse(a.format.as_deref())? {
        OutputFormat::Json => {
            println!(
                "{}",
                crate::format::to_json_pretty(&serde_json::Value::Array(rows))
            );
            return Ok(());
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => Template::parse(
            "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}",
        )?,
    };
    let template = if a.noheading {
        template.without_heading()
    } else {
        template
    };
    let headers = [
        ("CreatedAt", "CREATED"),
        ("UpdatedAt", "UPDATED"),
        ("ID", "ID"),
        ("Name", "NAME"),
        ("Driver", "DRIVER"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(())
}

/// Prints `secret inspect`'s documents; the remote client's too.
pub(crate) fn print_inspect(
    format: Option<&str>,
    rows: Vec<serde_json::Value>,
) -> anyhow::Result<()> {
    match OutputFormat::parse(format)? {
        OutputFormat::Template(t) => print!("{}", t.render_list(&rows, &Default::default())?),
        _ => println!(
            "{}",
            crate::format::to_json_pretty4(&serde_json::Value::Array(rows))
        ),
    }
    Ok(())
}

/// A `secret ls` row from its inspect document (the remote client's
/// rows: the service sends those).
pub(crate) fn ls_row_of_view(v: &serde_json::Value, now: i64) -> serde_json::Value {
    let secs = |k: &str| {
        v[k].as_str()
            .and_then(crate::host::time::parse_rfc3339)
            .unwrap_or(0)
    };
    let name = v["Spec"]["Name"].clone();
    let driver = v["Spec"]["Driver"]["Name"].clone();
    serde_json::json!({
        "ID": v["ID"],
        "Name": name,
        "Driver": driver,
        "CreatedAt": crate::host::time::ago(secs("CreatedAt"), now),
        "UpdatedAt": crate::host::time::ago(secs("UpdatedAt"), now),
        "Spec": { "Name": name, "Driver": { "Name": driver }, "Labels": v["Spec"]["Labels"] },
    })
}

/// The data from a file or standard input, at most [`MAX_SECRET_BYTES`]
/// (one byte more is read to tell "too large" from "just fits").
pub(crate) fn read_data(file: &str) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    let limit = MAX_SECRET_BYTES as u64 + 1;
    if file == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut data)?;
    } else {
        let f = std::fs::File::open(file).map_err(|e| {
            crate::engine::Error::bad_input(format!("opening secret file {file}: {e}"))
        })?;
        f.take(limit).read_to_end(&mut data)?;
    }
    crate::engine::secret::check_size(data.len())?;
    Ok(data)
}

/// The data `secret create` stores: the file's, stdin's, or with --env
/// the variable's (the front end reads it, not the engine).
pub(crate) fn create_data(a: &CreateArgs) -> anyhow::Result<Vec<u8>> {
    if !a.env {
        return read_data(&a.file);
    }
    // Podman's words for an unset variable.
    let v = std::env::var_os(&a.file).ok_or_else(|| {
        crate::engine::Error::bad_input(format!(
            "cannot create store secret data: environment variable {} is not set",
            a.file
        ))
    })?;
    let data = std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()).to_vec();
    crate::engine::secret::check_size(data.len())?;
    Ok(data)
}

/// `--driver-opts a=b,c=d` as Podman splits it (a comma list, the flag
/// repeatable).
fn driver_opts(list: &[String]) -> Vec<String> {
    list.iter()
        .flat_map(|o| o.split(','))
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `secret ls --filter`: name= and id=, regular expressions as Podman
/// reads them. Podman lists a secret that passes any one of them.
fn ls_filters(list: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    list.iter()
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((f.as_str(), ""));
            if !matches!(k, "name" | "id") {
                return Err(
                    crate::engine::Error::bad_input(format!("invalid filter {k:?}")).into(),
                );
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn ls_filter_matches(filters: &[(String, String)], s: &Secret) -> bool {
    use crate::engine::name_filter::matches;
    filters.is_empty()
        || filters.iter().any(|(k, v)| match k.as_str() {
            "name" => matches(v, &s.name),
            _ => matches(v, &s.id),
        })
}

/// `secret inspect --pretty`: Podman's text, its odd column widths kept.
fn pretty(rows: &[serde_json::Value]) -> String {
    let mut out = String::new();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let go_time = |v: &serde_json::Value| {
        v.as_str()
            .map(|t| {
                format!(
                    "{} +0000 UTC",
                    t.trim_end_matches('Z').replacen('T', " ", 1)
                )
            })
            .unwrap_or_default()
    };
    for r in rows {
        out += &format!("ID:              {}\n", text(&r["ID"]));
        out += &format!("Name:              {}\n", text(&r["Spec"]["Name"]));
        if let Some(labels) = r["Spec"]["Labels"].as_object().filter(|l| !l.is_empty()) {
            out += "Labels:\n";
            for (k, v) in labels {
                out += &format!(" - {k}={}\n", text(v));
            }
        }
        out += &format!(
            "Driver:            {}\n",
            text(&r["Spec"]["Driver"]["Name"])
        );
        out += &format!("Created at:        {}\n", go_time(&r["CreatedAt"]));
        out += &format!("Updated at:        {}\n", go_time(&r["UpdatedAt"]));
    }
    out
}

/// A `secret ls` row: Podman's fields, times as "x ago".
fn ls_row(s: &Secret, now: i64) -> serde_json::Value {
    let ago = |ns: i64| crate::host::time::ago(ns.div_euclid(1_000_000_000), now);
    serde_json::json!({
        "ID": s.id,
        "Name": s.name,
        "Driver": s.driver,
        "CreatedAt": ago(s.created_ns),
        "UpdatedAt": ago(s.updated_ns),
        "Spec": { "Name": s.name, "Driver": { "Name": s.driver }, "Labels": s.labels },
    })
}
