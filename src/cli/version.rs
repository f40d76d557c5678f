//! `hutch version`.

use std::process::ExitCode;

use serde_json::json;

use crate::engine::info;
use crate::format::OutputFormat;

#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short, long)]
    format: Option<String>,
}

pub fn run(args: &VersionArgs) -> anyhow::Result<ExitCode> {
    let client = info::version();
    let view = json!({ "Client": client });
    match OutputFormat::parse(args.format.as_deref())? {
        OutputFormat::Json => println!("{}", crate::format::to_json_pretty(&view)),
        OutputFormat::Template(t) => print!("{}", t.render_one(&view)?),
        OutputFormat::Default => {
            let field = |k: &str| {
                client
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            println!("Version:      {}", field("Version"));
            println!("API Version:  {}", field("APIVersion"));
            println!("OS/Arch:      {}", field("OsArch"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
