//! `mount` and `unmount`: a container's root file system as a path on the
//! host. Rootless, the mount lives in hutch's mount namespace, so the path
//! means something only inside `hutch unshare`: outside it both commands
//! refuse, as Podman's do.

use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::{self as engine, rootfs};
use crate::engine::image;

#[derive(Debug, clap::Args)]
pub struct MountArgs {
    /// Mount all containers
    #[arg(short, long)]
    all: bool,
    /// Print the mounted containers in specified format (json)
    #[arg(long)]
    format: Option<String>,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
    containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct UnmountArgs {
    /// Unmount all of the currently mounted containers
    #[arg(short, long)]
    all: bool,
    /// Force the complete unmount of the specified mounted containers
    #[arg(short, long)]
    force: bool,
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    containers: Vec<String>,
}

pub(crate) fn require_unshare(ctx: &Context, command: &str) -> anyhow::Result<()> {
    if ctx.rootless() && !ctx.inside_namespace {
        bail!(
            "cannot run command \"hutch {command}\" in rootless mode, must execute `hutch unshare` first"
        );
    }
    Ok(())
}

pub fn mount(ctx: &Context, args: &MountArgs) -> anyhow::Result<ExitCode> {
    require_unshare(ctx, "mount")?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    if args.containers.is_empty() && !args.all && !args.latest {
        return list(&store, &state, args);
    }
    let targets = match args.all {
        true => state.list_containers(true)?,
        false => super::pick::containers(&state, &args.containers, args.latest)?,
    };
    for c in targets {
        let path = store.pin_container_mount(&c.id)?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn list(
    store: &hutch_storage::Store,
    state: &crate::engine::state::State,
    args: &MountArgs,
) -> anyhow::Result<ExitCode> {
    let mounted: Vec<(crate::engine::state::Container, std::path::PathBuf)> = state
        .list_containers(true)?
        .into_iter()
        .filter_map(|c| {
            let p = store.container_mount_point(&c.id)?;
            Some((c, p))
        })
        .collect();
    match args.format.as_deref() {
        Some("json") => {
            let rows: Vec<serde_json::Value> = mounted
                .iter()
                .map(|(c, p)| {
                    serde_json::json!({"id": c.id, "Names": [c.name], "mountpoint": p.display().to_string()})
                })
                .collect();
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&rows, &mut ser)?;
            println!("{}", String::from_utf8_lossy(&out));
        }
        None | Some("") => {
            for (c, p) in &mounted {
                let id = if args.no_trunc {
                    &c.id[..]
                } else {
                    &c.id[..12]
                };
                println!("{id}  {}", p.display());
            }
        }
        Some(other) => bail!("unknown --format {other:?}: only json is supported"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn unmount(ctx: &Context, args: &UnmountArgs) -> anyhow::Result<ExitCode> {
    require_unshare(ctx, "unmount")?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    if args.all {
        for c in state.list_containers(true)? {
            if store.container_mount_point(&c.id).is_some() {
                rootfs::release(&store, &state, &c.id, true);
                println!("{}", c.id);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.containers.is_empty() && !args.latest {
        bail!("you must provide at least one name or id");
    }
    let named: Vec<String> = if args.latest {
        Vec::new()
    } else {
        args.containers.clone()
    };
    let targets = super::pick::containers(&state, &named, args.latest)?;
    for (i, c) in targets.iter().enumerate() {
        rootfs::release(&store, &state, &c.id, args.force);
        // Podman prints the name or ID as it was given.
        println!("{}", named.get(i).unwrap_or(&c.id));
    }
    Ok(ExitCode::SUCCESS)
}
