//! `container runlabel LABEL IMAGE [ARG...]`: runs the host command an
//! image label describes, as Podman does: the image pulled when missing,
//! the label's command made by `engine::image::runlabel`, `--display`
//! printing it instead, `--replace` removing a container of the name the
//! command gives first. The command runs as a child with this process's
//! streams; its failure is hutch's error (125), in Podman's words.

use std::collections::BTreeMap;
use std::process::{ExitCode, Stdio};

use anyhow::bail;

use crate::config::Context;
use crate::engine::container::create::{PullPolicy, PullProgress, resolve_image_with};
use crate::engine::container::remove::{RemoveOptions, remove};
use crate::engine::container::{self as engine};
use crate::engine::image::{self, runlabel};
use crate::engine::state::StateError;

#[derive(Debug, clap::Args)]
pub struct RunlabelArgs {
    /// Path of the authentication file. Use REGISTRY_AUTH_FILE environment variable to override
    #[arg(long, value_name = "FILE")]
    authfile: Option<std::path::PathBuf>,
    /// `Pathname` of a directory containing TLS certificates and keys
    #[arg(long, value_name = "Pathname")]
    cert_dir: Option<std::path::PathBuf>,
    /// `Credentials` (USERNAME:PASSWORD) to use for authenticating to a registry
    #[arg(long, value_name = "Credentials")]
    creds: Option<String>,
    /// Preview the command that the label would run
    #[arg(long)]
    display: bool,
    /// Assign a name to the container
    #[arg(short, long)]
    name: Option<String>,
    /// Suppress output information when installing images
    #[arg(short, long)]
    quiet: bool,
    /// Replace existing container with a new one from the image
    #[arg(long)]
    replace: bool,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tls_verify: Option<bool>,
    /// Optional parameter to pass for install ($OPT1)
    #[arg(long, hide = true)]
    opt1: Option<String>,
    /// Optional parameter to pass for install ($OPT2)
    #[arg(long, hide = true)]
    opt2: Option<String>,
    /// Optional parameter to pass for install ($OPT3)
    #[arg(long, hide = true)]
    opt3: Option<String>,
    /// Deprecated: the image is pulled when missing anyway
    #[arg(short, long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pull: Option<bool>,
    /// LABEL IMAGE [ARG...]
    #[arg(value_name = "LABEL IMAGE [ARG...]")]
    args: Vec<String>,
}

pub fn runlabel(ctx: &Context, a: &RunlabelArgs) -> anyhow::Result<ExitCode> {
    let [label, input, rest @ ..] = a.args.as_slice() else {
        bail!("requires at least 2 arg(s), only received {}", a.args.len());
    };
    if let Some(f) = &a.authfile {
        std::fs::metadata(f).map_err(|e| engine::host::io_error("stat", f, &e))?;
    }
    crate::cli::registry::check_cert_dir(a.cert_dir.as_deref())?;
    let store = image::open_store(ctx)?;
    let progress = (!a.quiet).then(|| {
        let mut p = crate::cli::progress::Progress::new(false, "Trying to pull");
        PullProgress(std::sync::Arc::new(std::sync::Mutex::new(
            move |r: &str, e| p.event(r, e),
        )))
    });
    let registry = image::pull::RegistryOptions {
        tls_verify: a.tls_verify,
        creds: a.creds.clone(),
        authfile: a.authfile.clone(),
    };
    let img = resolve_image_with(
        ctx,
        &store,
        input,
        PullPolicy::Missing,
        progress.as_ref(),
        &registry,
        None,
    )?;
    let config = image::config(&store, &img)?;
    let labels: BTreeMap<String, String> =
        serde_json::from_value(config["config"]["Labels"].clone()).unwrap_or_default();
    let Some(value) = runlabel::find_label(&labels, label) else {
        bail!("cannot find the value of label: {label} in image: {input}");
    };
    let image_name = img
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| img.id.hex().to_owned());
    let cwd = std::env::current_dir().unwrap_or_default();
    let opts = [("OPT1", &a.opt1), ("OPT2", &a.opt2), ("OPT3", &a.opt3)];
    let mut vars: BTreeMap<String, String> = opts
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), (*v).clone()?)))
        .collect();
    vars.insert("PWD".into(), cwd.display().to_string());
    let req = runlabel::LabelRequest {
        label: value,
        name: a
            .name
            .clone()
            .unwrap_or_else(|| runlabel::default_name(input, img.id.hex(), &image_name)),
        image: image_name,
        args: rest.to_vec(),
        vars,
    };
    let this = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/proc/self/exe".into());
    let mut cmd = runlabel::command(&req, &this)?;
    // A path must name a file (Podman's check, --display too).
    if cmd[0].contains('/') || cmd[0].starts_with('.') {
        let path = runlabel::absolute(&cwd, &cmd[0]);
        if let Err(e) = std::fs::metadata(&path) {
            return Err(engine::host::io_error("stat", &path, &e));
        }
        cmd[0] = path.display().to_string();
    }
    if a.display {
        // Podman shows its own command as the user typed it.
        let shown = if cmd[0] == this {
            std::env::args().next().unwrap_or_else(|| "hutch".into())
        } else {
            cmd[0].clone()
        };
        println!(
            "command: {}",
            std::iter::once(shown)
                .chain(cmd[1..].iter().cloned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    if a.replace
        && let Some(i) = cmd.iter().position(|w| w == "--name")
        && let Some(name) = cmd.get(i + 1)
    {
        let state = engine::open_state(ctx)?;
        match state.container(name) {
            Ok(c) => {
                let reports = remove(
                    ctx,
                    &store,
                    &state,
                    &RemoveOptions {
                        names: vec![c.id],
                        force: true,
                        ..RemoveOptions::default()
                    },
                )?;
                if let Some(e) = reports.into_iter().find_map(|r| r.error) {
                    return Err(e.into());
                }
            }
            Err(StateError::NoSuchContainer { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut child = std::process::Command::new(&cmd[0]);
    child
        .args(&cmd[1..])
        .envs(opts.iter().filter_map(|(k, v)| Some((*k, v.as_deref()?))))
        // Podman's mark for commands that care whether a runlabel ran them.
        .env("PODMAN_RUNLABEL_NESTED", "1");
    if a.quiet {
        child
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    let shown = format!("`{} {}`", cmd[0], cmd[1..].join(" "));
    let status = match child.status() {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !cmd[0].contains('/') => {
            bail!(
                "{shown} failed: exec: \"{}\": executable file not found in $PATH",
                cmd[0]
            )
        }
        Err(e) => bail!("{shown} failed: {e}"),
    };
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => bail!("{shown} failed: exit status {c}"),
            (None, Some(s)) => bail!("{shown} failed: signal: {}", signal_name(s)),
            _ => bail!("{shown} failed: {status}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Go's words for the signals a command commonly dies of.
fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGINT => "interrupt".into(),
        libc::SIGHUP => "hangup".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGABRT => "aborted".into(),
        libc::SIGPIPE => "broken pipe".into(),
        s => format!("signal {s}"),
    }
}
