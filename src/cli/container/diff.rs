//! `diff`: what a container changed in its image, as `A`/`C`/`D` lines or
//! JSON.

use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::changes::{self, Kind};
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Change the output format (json)
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    pub(crate) latest: bool,
    pub(crate) container: Vec<String>,
}

pub fn diff(ctx: &Context, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let json = match args.format.as_deref() {
        None | Some("") => false,
        Some("json") => true,
        Some(other) => bail!("only json is supported as --format, not {other:?}"),
    };
    if args.container.len() > 1 {
        bail!("hutch diff takes one container (diffing two is not supported yet)");
    }
    if args.container.is_empty() && !args.latest {
        bail!("container must be specified: hutch diff [options [...]] ID-NAME");
    }
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let c = super::pick::containers(&state, &args.container, args.latest)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no container given"))?;
    let found = changes::of_container(&store, &c)?;
    let path = |p: &[u8]| format!("/{}", String::from_utf8_lossy(p));
    if json {
        let list = |k: Kind| -> Vec<String> {
            found
                .iter()
                .filter(|(_, v)| **v == k)
                .map(|(p, _)| path(p))
                .collect()
        };
        let mut obj = serde_json::Map::new();
        for (key, kind) in [
            ("changed", Kind::Changed),
            ("added", Kind::Added),
            ("deleted", Kind::Deleted),
        ] {
            let l = list(kind);
            if !l.is_empty() {
                obj.insert(key.into(), serde_json::json!(l));
            }
        }
        println!(
            "{}",
            crate::format::to_json_pretty(&serde_json::Value::Object(obj))
        );
    } else {
        for (p, k) in &found {
            println!("{} {}", k.letter(), path(p));
        }
    }
    Ok(ExitCode::SUCCESS)
}
