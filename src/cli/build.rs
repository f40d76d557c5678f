//! `build` (also `image build` and `buildx build`): flags → BuildOptions.
//! The front end reads the Containerfile, the ignore file and
//! `--build-arg-file`, resolves the context against its working
//! directory, and prints; the engine builds.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::build::{self, BuildOptions};
use crate::engine::container::create::PullPolicy;
use crate::engine::container::{self as engine};
use crate::engine::image;

/// Bytes of a `--build-arg-file` read at most.
const MAX_ARG_FILE: u64 = 1 << 20;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Name and optionally a tag (repeatable)
    #[arg(short, long = "tag")]
    tag: Vec<String>,
    /// Pathname or URL of a Dockerfile (`-` for stdin)
    #[arg(short, long = "file")]
    file: Vec<String>,
    /// Argument=value to supply to the builder
    #[arg(long = "build-arg")]
    build_arg: Vec<String>,
    /// Argument file with KEY=VALUE lines to supply to the builder
    #[arg(long = "build-arg-file")]
    build_arg_file: Vec<PathBuf>,
    /// Set the target build stage to build
    #[arg(long)]
    target: Option<String>,
    /// Do not use existing cached images for the container build
    #[arg(long)]
    no_cache: bool,
    /// Use intermediate layers during build (default true)
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    layers: bool,
    /// Set metadata for an image (repeatable)
    #[arg(long)]
    label: Vec<String>,
    /// Write the image ID to the file
    #[arg(long)]
    iidfile: Option<PathBuf>,
    /// Refrain from announcing build instructions and image read/write progress
    #[arg(short, long)]
    quiet: bool,
    /// Format of the built image's manifest and metadata (oci or docker; stored as OCI)
    #[arg(long, default_value = "oci")]
    format: String,
    /// Pull image policy: always, missing, never, newer
    #[arg(long, default_value = "missing", num_args = 0..=1, default_missing_value = "always")]
    pull: String,
    /// Remove intermediate containers after a successful build (default true)
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    rm: bool,
    /// Always remove intermediate containers after a build, even if the build is unsuccessful
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    force_rm: bool,
    /// Set the OS/ARCH of the built image (the native platform only)
    #[arg(long)]
    platform: Option<String>,
    /// Context directory
    context: Option<String>,
}

/// `buildx build`: the same flags.
#[derive(Debug, clap::Subcommand)]
pub enum BuildxCommand {
    /// Build an image using instructions from Containerfiles
    Build(BuildArgs),
}

pub fn buildx(ctx: &Context, cmd: &BuildxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BuildxCommand::Build(a) => build(ctx, a),
    }
}

fn read_limited(mut r: impl Read, limit: u64, what: &str) -> anyhow::Result<String> {
    let mut s = String::new();
    r.by_ref()
        .take(limit + 1)
        .read_to_string(&mut s)
        .with_context(|| format!("reading {what}"))?;
    if s.len() as u64 > limit {
        bail!("{what} is larger than {limit} bytes");
    }
    Ok(s)
}

fn parse_kv(
    list: &[String],
    what: &str,
    into: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    for a in list {
        match a.split_once('=') {
            Some((k, v)) => {
                into.insert(k.to_owned(), v.to_owned());
            }
            // `--build-arg NAME` takes the caller's environment, as Podman.
            None => {
                if let Ok(v) = std::env::var(a) {
                    into.insert(a.clone(), v);
                } else if what == "--label" {
                    into.insert(a.clone(), String::new());
                }
            }
        }
    }
    Ok(())
}

pub fn build(ctx: &Context, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    if !matches!(args.format.as_str(), "oci" | "docker") {
        bail!(
            "unrecognized image type {:?}: use oci or docker",
            args.format
        );
    }
    let pull = PullPolicy::parse(match args.pull.as_str() {
        "true" => "always",
        "false" => "missing",
        p => p,
    })
    .ok_or_else(|| {
        anyhow::anyhow!(
            "invalid pull policy {:?}: use always, missing, never or newer",
            args.pull
        )
    })?;
    if let Some(p) = &args.platform {
        let host = crate::image::registry::Platform::host();
        let native = format!("{}/{}", host.os, host.architecture);
        if p.split(',')
            .any(|one| one != native && !one.starts_with(&format!("{native}/")))
        {
            bail!("--platform {p}: hutch build builds for the native platform ({native}) only");
        }
    }
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let context_arg = args.context.clone().unwrap_or_else(|| ".".into());
    if context_arg.contains("://") || context_arg == "-" {
        bail!(
            "the build context must be a local directory: {context_arg:?} (URLs and stdin contexts are not supported)"
        );
    }
    let context = std::fs::canonicalize(cwd.join(&context_arg))
        .with_context(|| format!("the build context {context_arg:?}"))?;
    if !context.is_dir() {
        bail!("the build context {context_arg:?} is not a directory");
    }
    let containerfile = match args.file.first().map(String::as_str) {
        Some("-") => read_limited(
            std::io::stdin().lock(),
            crate::image::build::containerfile::MAX_CONTAINERFILE as u64,
            "the Containerfile on stdin",
        )?,
        Some(f) => {
            // Relative to the working directory, as Podman reads -f.
            let path = cwd.join(f);
            let file = std::fs::File::open(&path)
                .with_context(|| format!("reading the Containerfile {f:?}"))?;
            read_limited(
                file,
                crate::image::build::containerfile::MAX_CONTAINERFILE as u64,
                f,
            )?
        }
        None => {
            let found = ["Containerfile", "Dockerfile"]
                .iter()
                .map(|n| context.join(n))
                .find(|p| p.is_file())
                .ok_or_else(|| anyhow::anyhow!("no Containerfile or Dockerfile specified or found in context directory, {}: no such file or directory", context.display()))?;
            read_limited(
                std::fs::File::open(&found)?,
                crate::image::build::containerfile::MAX_CONTAINERFILE as u64,
                "the Containerfile",
            )?
        }
    };
    let ignore = read_ignore(&context)?;
    let mut build_args = BTreeMap::new();
    for f in &args.build_arg_file {
        let text = read_limited(
            std::fs::File::open(cwd.join(f)).with_context(|| format!("reading {}", f.display()))?,
            MAX_ARG_FILE,
            "--build-arg-file",
        )?;
        let lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        parse_kv(&lines, "--build-arg-file", &mut build_args)?;
    }
    parse_kv(&args.build_arg, "--build-arg", &mut build_args)?;
    let mut labels = BTreeMap::new();
    parse_kv(&args.label, "--label", &mut labels)?;
    let opts = BuildOptions {
        containerfile,
        context,
        ignore,
        tags: args.tag.clone(),
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
        layers: args.layers,
        labels: labels.into_iter().collect(),
        pull,
        quiet: args.quiet,
        rootless: ctx.rootless(),
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let report = build::build(ctx, &store, &state, &opts, &mut out, &mut err)?;
    if let Some(f) = &args.iidfile {
        std::fs::write(f, report.image.id.to_string())
            .with_context(|| format!("writing {}", f.display()))?;
    }
    writeln!(out, "{}", report.image.id.hex())?;
    Ok(ExitCode::SUCCESS)
}

/// `.containerignore`, else `.dockerignore`, in the context (Podman's
/// order); a file larger than the bound is refused.
fn read_ignore(context: &Path) -> anyhow::Result<String> {
    for name in [".containerignore", ".dockerignore"] {
        let p = context.join(name);
        if let Ok(f) = std::fs::File::open(&p) {
            return read_limited(f, 64 << 20, name);
        }
    }
    Ok(String::new())
}
