//! `run`: create, start under the monitor, and relay output in the foreground.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use anyhow::Context as _;

use super::exit_status;
use super::flags::CreateFlags;
use crate::config::Context;
use crate::engine::container::{self as engine, Paths, monitor};
use crate::engine::image;
use crate::runtime::monitor as relay;

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Run the container in the background and print its ID
    #[arg(short, long)]
    detach: bool,
    #[command(flatten)]
    flags: CreateFlags,
    image: String,
    #[arg(allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let req = args.flags.request(&args.image, &args.command);
    let created = super::lifecycle::create_container(ctx, &store, &state, &req)?;
    for w in &created.warnings {
        eprintln!("Warning: {w}");
    }
    let attach = !args.detach;
    match monitor::spawn(ctx, &created.id, attach, args.flags.rm)? {
        monitor::Spawned::Failed { code, message } => {
            eprintln!("Error: {message}");
            return Ok(ExitCode::from(code));
        }
        monitor::Spawned::Created { .. } => {}
    }
    if args.detach {
        println!("{}", created.id);
        return Ok(ExitCode::SUCCESS);
    }
    let paths = Paths::new(ctx, store.root(), &created.id);
    let mut sock = UnixStream::connect(&paths.attach)
        .with_context(|| format!("attaching to container {}", &created.id[..12]))?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    while let Some((kind, data)) =
        relay::read_frame(&mut sock).context("reading the container's output")?
    {
        match kind {
            relay::FRAME_STDOUT => {
                out.write_all(&data)?;
                out.flush()?;
            }
            relay::FRAME_STDERR => {
                err.write_all(&data)?;
                err.flush()?;
            }
            relay::FRAME_EXIT => {
                let code = data
                    .get(..4)
                    .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(125);
                return Ok(exit_status(code));
            }
            _ => {}
        }
    }
    anyhow::bail!(
        "the monitor of container {} went away before the container exited",
        &created.id[..12]
    )
}
