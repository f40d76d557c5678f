//! `run`: create, start under the monitor, and relay output in the foreground.

use std::process::ExitCode;

use super::attach::AttachFlags;
use super::flags::{Caller, CreateFlags};
use crate::config::Context;
use crate::engine::container::attach::AttachOptions;
use crate::engine::container::select::Selection;
use crate::engine::container::start::{self, StartOptions, Started};
use crate::engine::container::{self as engine};
use crate::engine::image;

#[derive(Debug, clap::Args)]
// `-h` is --hostname, as Podman's (cobra keeps --help).
#[command(trailing_var_arg = true, disable_help_flag = true)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Run the container in the background and print its ID
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// Attach to STDIN, STDOUT or STDERR (repeatable; default all three)
    #[arg(short = 'a', long = "attach", value_name = "STREAM")]
    pub(crate) attach_streams: Vec<String>,
    /// Remove the image after the container exits, unless a container uses it (implies --rm)
    #[arg(long)]
    pub(crate) rmi: bool,
    /// Add entries to /etc/passwd and /etc/group (run only, as in Podman 4.3)
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true",
          require_equals = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub(crate) passwd: bool,
    #[command(flatten)]
    pub(crate) flags: CreateFlags,
    #[command(flatten)]
    pub(crate) attach: AttachFlags,
    /// IMAGE [COMMAND [ARG...]]: options end at the image, as in Podman
    /// (cobra's interspersed=false): what follows is the command's, `-c`
    /// and `--rm` included.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, value_name = "IMAGE [COMMAND [ARG...]]")]
    pub(crate) argv: Vec<String>,
}

impl RunArgs {
    pub(crate) fn image(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }

    pub(crate) fn command(&self) -> &[String] {
        self.argv.get(1..).unwrap_or_default()
    }
}

pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut spec = args.flags.with_conf(ctx.containers_conf()).spec(
        args.image(),
        args.command(),
        &Caller::current(),
    )?;
    spec.create_command = std::env::args().collect();
    for w in args.flags.warnings() {
        eprintln!("Warning: {w}");
    }
    spec.remove |= args.rmi;
    spec.setup.no_passwd = !args.passwd;
    check_attach_streams(&args.attach_streams)?;
    // Without -a every stream is attached; with it, only those named.
    let wants = |name: &str| {
        args.attach_streams.is_empty()
            || args
                .attach_streams
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
    };
    let attach = (!args.detach).then(|| AttachOptions {
        stdin: wants("stdin"),
        detach_keys: args.attach.detach_keys.clone(),
        sig_proxy: args.attach.sig_proxy,
        stdout: wants("stdout"),
        stderr: wants("stderr"),
    });
    // Bad detach keys are refused before anything is made.
    if let Some(a) = &attach {
        a.validate()?;
    }
    // `--preserve-fds` naming a descriptor not passed fails before
    // anything is made, as in Podman.
    let passed = super::passed::take()?.map(std::sync::Arc::new);
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let created = super::lifecycle::create_container(ctx, &store, &state, &args.flags, &spec)?;
    for w in &created.warnings {
        super::lifecycle::print_create_warning(w);
    }
    let Some(attach) = attach else {
        // The runtime's refusal keeps its code (126, 127), as Podman's.
        if spec.requires.is_empty() {
            // The one locked lookup of start, as before `--requires`.
            start::start_detached_with(ctx, &store, &state, &created.id, passed.as_deref())?;
        } else {
            start::start_with_dependencies(ctx, &store, &state, &created.id, passed.as_deref())?;
        }
        println!("{}", created.id);
        return Ok(ExitCode::SUCCESS);
    };
    let opts = StartOptions {
        select: Selection::names(std::slice::from_ref(&created.id)),
        attach: Some(attach),
        passed,
    };
    let code = match start::start(ctx, &store, &state, &opts)? {
        Started::Attached(Some(session)) => super::attach::console(session)?,
        // Already gone again (a `--rm` container another command removed).
        Started::Attached(None) | Started::Detached(_) => ExitCode::SUCCESS,
    };
    if args.rmi && spec.rootfs.is_none() {
        // As Podman: the image goes unless a container still uses it; a
        // failure is reported, the container's exit code stays.
        let report = image::remove::remove(&store, std::slice::from_ref(&spec.image), false, true)?;
        for e in &report.errors {
            eprintln!("Error: {e}");
        }
    }
    Ok(code)
}

/// `-a STREAM` of `run` and `create`: Podman's three names, its message.
pub(crate) fn check_attach_streams(streams: &[String]) -> anyhow::Result<()> {
    for s in streams {
        if !matches!(
            s.to_ascii_lowercase().as_str(),
            "stdin" | "stdout" | "stderr"
        ) {
            anyhow::bail!(
                "invalid stream {s:?} for --attach - must be one of stdin, stdout, or stderr: invalid argument"
            );
        }
    }
    Ok(())
}
