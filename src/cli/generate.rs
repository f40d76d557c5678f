//! `generate systemd`: systemd units for containers, as Podman writes
//! them (`--new`, `--name`, `--files`, `--format json`, ...). The engine
//! renders; this front end resolves `--files`' directory (the working
//! one) and writes there. `generate kube` is `kube generate`
//! (src/cli/kube.rs).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::container::{self as engine, systemd_unit};
use crate::engine::image;

#[derive(Debug, clap::Subcommand)]
pub enum GenerateCommand {
    /// Generate systemd units
    Systemd(SystemdArgs),
    /// Generate Kubernetes YAML from containers, pods or volumes
    Kube(super::kube::GenerateArgs),
    /// Generate Specgen JSON based on containers or pods
    Spec(SpecArgs),
}

#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    /// Print the json in a compact format for consumption
    #[arg(short, long)]
    pub(crate) compact: bool,
    /// Write output to the specified path
    #[arg(short, long, value_name = "string")]
    pub(crate) filename: Option<std::path::PathBuf>,
    /// Specify a new name for the generated spec (default true)
    #[arg(short, long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) name: Option<bool>,
    /// The container or pod (name or id)
    pub(crate) container: String,
}

#[derive(Debug, clap::Args)]
pub struct SystemdArgs {
    /// Add dependencies order to the generated unit file
    #[arg(long, value_name = "UNIT")]
    pub(crate) after: Vec<String>,
    /// Systemd unit name prefix for containers
    #[arg(long, default_value = "container", value_name = "PREFIX")]
    pub(crate) container_prefix: String,
    /// Set environment variables to the systemd unit files
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,
    /// Generate .service files instead of printing to stdout
    #[arg(short, long)]
    pub(crate) files: bool,
    /// Print the created units in specified format (json)
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Use container/pod names instead of IDs
    #[arg(short, long)]
    pub(crate) name: bool,
    /// Create a new container or pod instead of starting an existing one
    #[arg(long)]
    pub(crate) new: bool,
    /// Skip header generation
    #[arg(long)]
    pub(crate) no_header: bool,
    /// Systemd unit name prefix for pods
    #[arg(long, default_value = "pod", value_name = "PREFIX")]
    pub(crate) pod_prefix: String,
    /// Similar to wants, but declares stronger requirement dependencies
    #[arg(long, value_name = "UNIT")]
    pub(crate) requires: Vec<String>,
    /// Systemd restart-policy
    #[arg(long, default_value = "on-failure", value_name = "POLICY")]
    pub(crate) restart_policy: String,
    /// Systemd restart-sec
    #[arg(long, value_name = "SECONDS")]
    pub(crate) restart_sec: Option<u32>,
    /// Systemd unit name separator between name/id and prefix
    #[arg(long, default_value = "-", value_name = "SEPARATOR")]
    pub(crate) separator: String,
    /// Start timeout override
    #[arg(long, value_name = "SECONDS")]
    pub(crate) start_timeout: Option<u32>,
    /// Stop timeout override (default: the container's, 10 unless set)
    #[arg(short = 't', long, visible_alias = "time", value_name = "SECONDS")]
    pub(crate) stop_timeout: Option<u32>,
    /// Make it a template file and use %i and %I specifiers (not supported by hutch yet)
    #[arg(long)]
    pub(crate) template: bool,
    /// Add (weak) requirement dependencies to the generated unit file
    #[arg(long, value_name = "UNIT")]
    pub(crate) wants: Vec<String>,
    /// The container or pod (name or id)
    pub(crate) container: String,
}

pub fn run(ctx: &Context, cmd: &GenerateCommand) -> anyhow::Result<ExitCode> {
    let args = match cmd {
        GenerateCommand::Systemd(args) => args,
        GenerateCommand::Kube(args) => return super::kube::generate_main(ctx, args),
        GenerateCommand::Spec(args) => return spec(ctx, args),
    };
    if args.template {
        bail!("--template: template units are not supported by hutch yet");
    }
    match args.format.as_deref() {
        None | Some("" | "json") => {}
        Some(f) => bail!("unsupported format {f:?}: only json is supported"),
    }
    let opts = systemd_unit::SystemdOptions {
        new: args.new,
        use_name: args.name,
        restart_policy: args.restart_policy.clone(),
        restart_sec: args.restart_sec,
        start_timeout: args.start_timeout,
        stop_timeout: args.stop_timeout,
        container_prefix: args.container_prefix.clone(),
        pod_prefix: args.pod_prefix.clone(),
        separator: args.separator.clone(),
        no_header: args.no_header,
        env: args.env.clone(),
        wants: args.wants.clone(),
        after: args.after.clone(),
        requires: args.requires.clone(),
    };
    opts.validate()?;
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    // A container's name first, then a pod's (Podman's order).
    let units = if state.container(&args.container).is_err()
        && crate::engine::pod::lookup(&state, &args.container).is_ok()
    {
        crate::engine::pod::systemd_unit::generate(ctx, &store, &state, &args.container, &opts)?
    } else {
        vec![systemd_unit::generate(
            ctx,
            &store,
            &state,
            &args.container,
            &opts,
        )?]
    };
    let mut out = std::io::stdout().lock();
    let json = args.format.as_deref() == Some("json");
    let mut map = serde_json::Map::new();
    for unit in &units {
        if args.files {
            let dir = std::env::current_dir().context("finding the working directory")?;
            let path = dir.join(format!("{}.service", unit.name));
            std::fs::write(&path, &unit.content)
                .with_context(|| format!("writing {}", path.display()))?;
            if json {
                map.insert(unit.name.clone(), path.to_string_lossy().into());
            } else {
                writeln!(out, "{}", path.display())?;
            }
        } else if json {
            map.insert(unit.name.clone(), unit.content.clone().into());
        } else {
            write!(out, "{}", unit.content)?;
        }
    }
    if json {
        writeln!(out, "{}", indented(&serde_json::Value::Object(map))?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `generate spec`: the JSON on stdout, or written to `--filename`, whose
/// path is then printed (Podman's way).
fn spec(ctx: &Context, args: &SpecArgs) -> anyhow::Result<ExitCode> {
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let value = engine::generate_spec::generate(
        ctx,
        &store,
        &state,
        &args.container,
        engine::generate_spec::GenerateSpecOptions {
            new_name: args.name.unwrap_or(true),
        },
    )?;
    let text = if args.compact {
        serde_json::to_string(&value)?
    } else {
        indented(&value)?
    };
    match &args.filename {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            println!("{}", path.display());
        }
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Go's `json.MarshalIndent(v, "", " ")`, as Podman prints units.
pub(crate) fn indented(v: &serde_json::Value) -> anyhow::Result<String> {
    use serde::Serialize as _;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8(buf)?)
}
