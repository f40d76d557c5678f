//! `top`: the processes of a running container.

use std::os::fd::AsFd;
use std::process::ExitCode;

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::rootfs::MountedRoot;
use crate::engine::container::{self as engine, inroot, top};
use crate::engine::image;
use crate::engine::state::ContainerState;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct TopArgs {
    /// Act on the latest container hutch is aware of
    #[arg(short, long)]
    latest: bool,
    /// CONTAINER [FORMAT-DESCRIPTORS|ARGS...]
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn top(ctx: &Context, args: &TopArgs) -> anyhow::Result<ExitCode> {
    let (names, descriptors) = match (args.latest, args.args.split_first()) {
        (true, _) => (Vec::new(), &args.args[..]),
        (false, Some((c, rest))) => (vec![c.clone()], rest),
        (false, None) => bail!("you must provide the name or id of a running container"),
    };
    let descriptors = top::parse_descriptors(descriptors)?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    state.recover()?;
    let Some(c) = super::pick::containers(&state, &names, args.latest)?
        .into_iter()
        .next()
    else {
        bail!("no container given");
    };
    let (ContainerState::Running | ContainerState::Paused, Some(pid)) = (c.state, c.pid) else {
        bail!("top can only be used on running containers");
    };
    // User and group names come from the container's own files.
    let root = MountedRoot::mount(&store, &state, &c)?;
    let read = |p: &[u8]| -> String {
        inroot::resolve(root.fd.as_fd(), p)
            .ok()
            .filter(|r| r.exists)
            .and_then(|r| {
                let (leaf, parent) = r.parts.split_last()?;
                let dir = inroot::open_dir(root.fd.as_fd(), parent).ok()?;
                let fd = rustix::fs::openat(
                    dir.as_fd(),
                    std::ffi::OsStr::new(std::str::from_utf8(leaf).ok()?),
                    rustix::fs::OFlags::RDONLY
                        | rustix::fs::OFlags::NOFOLLOW
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .ok()?;
                std::io::read_to_string(std::fs::File::from(fd)).ok()
            })
            .unwrap_or_default()
    };
    let lookup = top::Lookup::new(read(b"/etc/passwd"), read(b"/etc/group"));
    drop(root);
    let pids = top::processes(pid);
    let rows = top::rows(&pids, &descriptors, &lookup);
    let mut text = descriptors
        .iter()
        .map(|d| top::header(d))
        .collect::<Vec<_>>()
        .join("\t");
    text.push('\n');
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    print!("{}", crate::format::align_columns(&text));
    Ok(ExitCode::SUCCESS)
}
