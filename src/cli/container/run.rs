//! `run`: create, start under the monitor, and relay output in the foreground.

use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use anyhow::Context as _;

use super::attach::{self, AttachFlags, AttachOptions};
use super::flags::{Caller, CreateFlags};
use crate::config::Context;
use crate::engine::container::{self as engine, Paths, monitor};
use crate::engine::image;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Run the container in the background and print its ID
    #[arg(short, long)]
    detach: bool,
    #[command(flatten)]
    flags: CreateFlags,
    #[command(flatten)]
    attach: AttachFlags,
    image: String,
    #[arg(allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let spec = args
        .flags
        .spec(&args.image, &args.command, &Caller::current())?;
    // Bad detach keys are refused before anything is made.
    let opts = AttachOptions::new(&spec, true, &args.attach.detach_keys, args.attach.sig_proxy)?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let created = super::lifecycle::create_container(ctx, &store, &state, &args.flags, &spec)?;
    for w in &created.warnings {
        eprintln!("Warning: {w}");
    }
    let attach = !args.detach;
    let start = monitor::Start {
        wait_for_attach: attach,
        remove: args.flags.rm,
        restarting: false,
    };
    let client = match monitor::spawn_with(ctx, &store, &state, &created.id, start)? {
        monitor::Spawned::Failed { code, message } => {
            eprintln!("Error: {message}");
            return Ok(ExitCode::from(code));
        }
        monitor::Spawned::Created { attach, .. } => attach,
    };
    if args.detach {
        println!("{}", created.id);
        return Ok(ExitCode::SUCCESS);
    }
    let sock = match client {
        Some(s) => s,
        None => {
            let paths = Paths::new(ctx, store.root(), &created.id);
            UnixStream::connect(&paths.attach)
                .with_context(|| format!("attaching to container {}", &created.id[..12]))?
        }
    };
    attach::session(sock, &created.id, &opts)
}
