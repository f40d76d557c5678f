//! `hutch system ...` and `hutch info`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Context;
use crate::engine::info;
use crate::format::OutputFormat;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Display hutch related system information
    Info(InfoArgs),
    /// Migrate to the current subuid/subgid ranges: end the pause process so the next command re-creates the user namespace
    Migrate(MigrateArgs),
    /// Run an API service
    Service(ServiceArgs),
    /// Check that this host can run containers, and the storage's consistency
    Check(CheckArgs),
    /// Manage the destinations of the remote client
    #[command(subcommand)]
    Connection(super::remote::connections::ConnectionCommand),
    /// Remove unused data
    Prune(super::system_prune::PruneArgs),
    /// Show hutch disk usage
    Df(super::system_prune::DfArgs),
    /// Reset hutch storage: remove every container, pod, image, volume, network and secret
    Reset(super::system_prune::ResetArgs),
    /// Migrate lock numbers (hutch's per-container lock files have no numbers: nothing to do)
    Renumber(RenumberArgs),
}

#[derive(Debug, clap::Args)]
pub struct RenumberArgs {}

impl SystemCommand {
    pub fn needs_namespace(&self) -> bool {
        match self {
            SystemCommand::Info(_) => false,
            // It ends the namespace; joining it first would be pointless.
            SystemCommand::Migrate(_) => false,
            // Its handlers run containers; its threads must start inside.
            SystemCommand::Service(_) => true,
            // It must answer where the namespace cannot be made: the host
            // part runs outside, then `check` joins for the storage part.
            SystemCommand::Check(_) => false,
            // A file of the user's: no namespace.
            SystemCommand::Connection(_) => false,
            SystemCommand::Renumber(_) => false,
            SystemCommand::Prune(_) | SystemCommand::Df(_) | SystemCommand::Reset(_) => true,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Change the output format to JSON or a Go template
    #[arg(short, long)]
    pub(crate) format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Specify a new runtime for all containers
    #[arg(long, value_name = "RUNTIME")]
    new_runtime: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Remove damaged images and layers (not those containers use). No
    /// `-r`: that is the global --remote here.
    #[arg(long)]
    repair: bool,
    /// With --repair, also remove containers that depend on damaged images
    #[arg(short, long)]
    force: bool,
    /// Change the output format to JSON
    #[arg(long)]
    format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// Time until the service session expires in seconds. Use 0 to disable the timeout
    #[arg(short, long, default_value_t = 5, value_name = "SECONDS")]
    time: u64,
    /// Set CORS Headers
    #[arg(long, value_name = "ORIGIN")]
    cors: Option<String>,
    /// Where to listen: unix:///path or tcp://ADDRESS:PORT (default: unix://$XDG_RUNTIME_DIR/hutch/hutch.sock)
    uri: Option<String>,
}

pub fn run(ctx: &Context, cmd: SystemCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SystemCommand::Info(args) => info(ctx, &args),
        SystemCommand::Migrate(args) => migrate(ctx, &args),
        SystemCommand::Service(args) => service(ctx, &args),
        SystemCommand::Check(args) => check(ctx, &args),
        SystemCommand::Connection(cmd) => super::remote::connections::run(cmd),
        SystemCommand::Prune(a) => super::system_prune::prune_cmd(ctx, &a),
        SystemCommand::Df(a) => super::system_prune::df_cmd(ctx, &a),
        SystemCommand::Reset(a) => super::system_prune::reset_cmd(ctx, &a),
        // Podman reallocates its shared-memory lock numbers; hutch locks
        // each container by its own file, so there is nothing to renumber.
        SystemCommand::Renumber(_) => Ok(ExitCode::SUCCESS),
    }
}

pub fn info(ctx: &Context, args: &InfoArgs) -> anyhow::Result<ExitCode> {
    // Parse the template before gathering, so a typo fails fast.
    let format = OutputFormat::parse(args.format.as_deref())?;
    let data = info::gather(ctx);
    match format {
        OutputFormat::Json => println!("{}", crate::format::to_json_pretty(&data)),
        OutputFormat::Template(t) => print!("{}", t.render_one(&data)?),
        OutputFormat::Default => print!("{}", super::yaml::to_yaml(&data)),
    }
    Ok(ExitCode::SUCCESS)
}

fn migrate(ctx: &Context, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    if let Some(runtime) = &args.new_runtime {
        match crate::engine::system::migrate_runtime(ctx, runtime) {
            Ok(changed) => {
                for id in changed {
                    tracing::info!("Resetting container {id} runtime to runtime {runtime}");
                }
            }
            // Podman prints this one on stdout, without "Error: ".
            Err(e) if e.kind() == crate::engine::ErrorKind::BadInput => {
                println!("{}", e.text());
                return Ok(ExitCode::from(crate::cli::EXIT_HUTCH_ERROR));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if ctx.rootful {
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.inside_namespace {
        anyhow::bail!(
            "system migrate cannot run inside the user namespace it would end; run it from a normal shell"
        );
    }
    if let Some(pid) = hutch_userns::migrate(&ctx.identity, &ctx.run_dir)? {
        tracing::info!(pid, "ended the pause process");
    }
    Ok(ExitCode::SUCCESS)
}

fn service(ctx: &Context, args: &ServiceArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args
        .uri
        .as_deref()
        .map(crate::api::Endpoint::parse)
        .transpose()?;
    let opts = crate::api::ServiceOptions {
        endpoint,
        idle: (args.time > 0).then(|| std::time::Duration::from_secs(args.time)),
        listen_pid: std::env::var("LISTEN_PID").ok(),
        listen_fds: std::env::var("LISTEN_FDS").ok(),
        cors: args.cors.clone(),
    };
    // What systemd passed is for this process, not for the monitors and
    // cleanup commands it starts (sd_listen_fds' unset_environment).
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: single-threaded still: the service builds its threads
        // after this.
        unsafe { std::env::remove_var(k) };
    }
    crate::api::serve(ctx, opts)?;
    Ok(ExitCode::SUCCESS)
}

/// `system check`: the host's findings, then (inside the namespace when
/// rootless) the storage's; exit 0 when hutch can run containers here and
/// nothing is damaged, else 125.
fn check(ctx: &Context, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    use crate::engine::system::check::{self, CheckReport, Finding, Status};
    use crate::engine::system::integrity;
    let json = match args.format.as_deref() {
        None => false,
        Some("json") => true,
        Some(other) => anyhow::bail!("unsupported --format {other:?}: use json"),
    };
    let mut report = CheckReport {
        findings: check::host(ctx),
        ..CheckReport::default()
    };
    let blocked = report.findings.iter().any(|f| f.status == Status::Error);
    let joined = if ctx.rootless() && !ctx.inside_namespace {
        if blocked {
            Err("the user namespace cannot be made until the errors above are fixed".to_owned())
        } else {
            crate::engine::image::check_root_owner(ctx)
                .map_err(anyhow::Error::from)
                .and_then(|()| super::join_namespace(ctx))
                .map_err(|e| super::error_text(&e))
        }
    } else {
        Ok(())
    };
    match joined {
        Ok(()) => {
            let opts = integrity::IntegrityOptions {
                repair: args.repair,
                force: args.force,
            };
            match integrity::storage(ctx, opts) {
                Ok((findings, repaired)) => {
                    report.findings.extend(findings);
                    report.repaired = repaired;
                }
                Err(e) => report.findings.push(Finding {
                    check: "storage".to_owned(),
                    status: Status::Error,
                    detail: format!("{e:#}"),
                    fix: String::new(),
                }),
            }
        }
        Err(why) if blocked => report.findings.push(Finding {
            check: "storage".to_owned(),
            status: Status::Warning,
            detail: format!("not checked: {why}"),
            fix: String::new(),
        }),
        Err(why) => report.findings.push(Finding {
            check: "userns".to_owned(),
            status: Status::Error,
            detail: format!("joining the user namespace: {why}; storage not checked"),
            fix: String::new(),
        }),
    }
    let report = report.finish();
    if json {
        println!(
            "{}",
            crate::format::to_json_pretty(&serde_json::to_value(&report)?)
        );
    } else {
        let width = report
            .findings
            .iter()
            .map(|f| f.check.len())
            .max()
            .unwrap_or(0);
        for f in &report.findings {
            let fix = if f.fix.is_empty() || f.status == Status::Ok {
                String::new()
            } else {
                format!("; fix: {}", f.fix)
            };
            println!(
                "{:<8}{:<width$}  {}{fix}",
                f.status.word(),
                f.check,
                f.detail
            );
        }
        for r in &report.repaired {
            println!("repaired {r}");
        }
        let errors = report
            .findings
            .iter()
            .filter(|f| f.status == Status::Error && f.check != "storage")
            .count();
        if report.can_run_containers {
            println!("hutch can run containers here");
        } else {
            println!(
                "hutch cannot run containers here until the {errors} error(s) above are fixed"
            );
        }
        if report.damaged > 0 {
            println!(
                "storage: {} damaged object(s); hutch system check --repair removes them",
                report.damaged
            );
        }
    }
    // Podman's last line for a damaged store, on stderr as its errors are,
    // so that scripts written for `podman system check` read the same.
    if !report.can_run_containers {
        eprintln!("Error: hutch cannot run containers here: the host has error findings");
    } else if report.damaged > 0 {
        eprintln!(
            "Error: {}",
            if args.repair {
                "damage in local storage still present after repair attempt"
            } else {
                "damage detected in local storage"
            }
        );
    }
    Ok(if report.can_run_containers && report.damaged == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_HUTCH_ERROR)
    })
}
