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
    /// CONTAINER or IMAGE
    pub(crate) container: Vec<String>,
}

/// What `diff` looks at: Podman's `diff` takes a container, else an
/// image; `container diff` and `image diff` only their own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Any,
    Container,
    Image,
}

pub fn diff(ctx: &Context, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    diff_of(ctx, args, Object::Any)
}

pub fn diff_of(ctx: &Context, args: &DiffArgs, object: Object) -> anyhow::Result<ExitCode> {
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
    let name = args.container.first().map(String::as_str).unwrap_or("");
    let found = if object == Object::Image {
        image_changes(&store, name)?
    } else if args.latest || object == Object::Container || state.container(name).is_ok() {
        let c = super::pick::containers(&state, &args.container, args.latest)
            .map_err(|e| not_found(e, name, "container not known"))?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no container given"))?;
        changes::of_container(&store, &c)?
    } else {
        image_changes(&store, name)?
    };
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

fn image_changes(store: &hutch_storage::Store, name: &str) -> anyhow::Result<changes::Changes> {
    let img = image::lookup(store, name)
        .map_err(|e| not_found(e.into(), name, &format!("{name}: image not known")))?;
    Ok(changes::of_image(store, &img)?)
}

/// Podman's words for a name that is not there (`NAME not found: WHY`),
/// other errors as they are.
fn not_found(e: anyhow::Error, name: &str, why: &str) -> anyhow::Error {
    let missing = e
        .chain()
        .filter_map(|c| c.downcast_ref::<crate::engine::Error>())
        .any(|k| k.kind() == crate::engine::ErrorKind::NotFound)
        || e.to_string().contains("no such")
        || e.to_string().contains("not known");
    if missing {
        anyhow::anyhow!("{name} not found: {why}")
    } else {
        e
    }
}
