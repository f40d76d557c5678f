//! `build` (also `image build` and `buildx build`): flags → BuildOptions.
//! The front end reads the Containerfile, the ignore file and
//! `--build-arg-file`, resolves the context against its working
//! directory, and prints; the engine builds.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::build_flags::{self, BuildPullFlags, OtherBuildFlags, RunContainerFlags};
use crate::config::Context;
use crate::engine::build::{self, BuildOptions};
use crate::engine::container::create::PullPolicy;
use crate::engine::container::{self as engine};
use crate::engine::image;

/// Bytes of a `--build-arg-file` read at most.
const MAX_ARG_FILE: u64 = 1 << 20;
/// Bytes of an ignore file read at most.
const MAX_IGNORE: u64 = 64 << 20;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Name and optionally a tag (repeatable)
    #[arg(short, long = "tag")]
    pub(crate) tag: Vec<String>,
    /// Pathname or URL of a Dockerfile (`-` for stdin)
    #[arg(short, long = "file")]
    pub(crate) file: Vec<String>,
    /// Argument=value to supply to the builder
    #[arg(long = "build-arg")]
    pub(crate) build_arg: Vec<String>,
    /// Argument file with KEY=VALUE lines to supply to the builder
    #[arg(long = "build-arg-file")]
    pub(crate) build_arg_file: Vec<PathBuf>,
    /// Set the target build stage to build
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// Do not use existing cached images for the container build
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// Use intermediate layers during build (default true)
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) layers: bool,
    /// Set metadata for an image (repeatable)
    #[arg(long)]
    pub(crate) label: Vec<String>,
    /// Write the image ID to the file
    #[arg(long)]
    pub(crate) iidfile: Option<PathBuf>,
    /// Refrain from announcing build instructions and image read/write progress
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Format of the built image's manifest and metadata (oci or docker; stored as OCI)
    #[arg(long, default_value = "oci")]
    pub(crate) format: String,
    /// Pull image policy: always, missing, never, newer
    #[arg(long, default_value = "missing", num_args = 0..=1, require_equals = true, default_missing_value = "always")]
    pub(crate) pull: String,
    /// Remove intermediate containers after a successful build (default true)
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) rm: bool,
    /// Always remove intermediate containers after a build, even if the build is unsuccessful
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) force_rm: bool,
    /// Set the OS/ARCH of the built image (the native platform only)
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// Secret file to expose to RUN --mount=type=secret (id=ID,src=PATH or id=ID,env=VAR)
    #[arg(long)]
    pub(crate) secret: Vec<String>,
    /// Network mode for RUN instructions (none, host, pasta, slirp4netns, ...)
    #[arg(long, alias = "net")]
    pub(crate) network: Option<String>,
    /// Bind mount a volume into the containers of RUN instructions
    #[arg(short, long)]
    pub(crate) volume: Vec<String>,
    /// Set environment variable for the image (KEY=VALUE, or KEY from the environment)
    #[arg(long)]
    pub(crate) env: Vec<String>,
    /// Unset environment variable from the image
    #[arg(long)]
    pub(crate) unsetenv: Vec<String>,
    /// Add an annotation to the image's manifest (KEY=VALUE)
    #[arg(long)]
    pub(crate) annotation: Vec<String>,
    /// Set created timestamps of the image and of the files of its new layers (seconds since the epoch)
    #[arg(long)]
    pub(crate) timestamp: Option<i64>,
    /// Omit build history information from the built image
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub(crate) omit_history: bool,
    /// Squash the new layers of the final stage into one on top of its base
    #[arg(long)]
    pub(crate) squash: bool,
    /// Squash all layers of the final image into one
    #[arg(long)]
    pub(crate) squash_all: bool,
    /// How many independent stages to build at once (default 1; 0: no limit)
    #[arg(long)]
    pub(crate) jobs: Option<u32>,
    /// Add capabilities to the containers of RUN instructions
    #[arg(long)]
    pub(crate) cap_add: Vec<String>,
    /// Drop capabilities from the containers of RUN instructions
    #[arg(long)]
    pub(crate) cap_drop: Vec<String>,
    /// Security options for the containers of RUN instructions
    #[arg(long)]
    pub(crate) security_opt: Vec<String>,
    /// User namespace mode for the containers of RUN instructions
    #[arg(long)]
    pub(crate) userns: Option<String>,
    /// SSH agent socket to expose to RUN --mount=type=ssh (default or ID[=SOCKET])
    #[arg(long)]
    pub(crate) ssh: Vec<String>,
    /// Path to an alternate .containerignore/.dockerignore file
    #[arg(long)]
    ignorefile: Option<PathBuf>,
    /// Limits, namespaces, hosts, DNS and devices of the containers of RUN instructions
    #[command(flatten)]
    run: RunContainerFlags,
    /// Registry access for the base images' pulls
    #[command(flatten)]
    pull_flags: BuildPullFlags,
    /// Podman's flags hutch does not act on, or refuses
    #[command(flatten)]
    other: OtherBuildFlags,
    /// Context directory
    pub(crate) context: Option<String>,
}

impl BuildArgs {
    /// The first group of flags given that only the local build acts on
    /// (the RUN containers' limits and namespaces, the base images' pull
    /// flags, Podman's other build flags): the remote client refuses it
    /// by name rather than dropping it. Compared with clap's defaults, as
    /// some default to on (`--http-proxy`).
    pub(crate) fn local_only_group(&self) -> Option<&'static str> {
        #[derive(clap::Parser)]
        struct Empty {
            #[command(flatten)]
            args: BuildArgs,
        }
        let d = <Empty as clap::Parser>::try_parse_from(["build"])
            .ok()?
            .args;
        let differs =
            |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
        if differs(&self.run, &d.run) {
            Some("--memory/--cpu-*/--ulimit/--add-host/--dns*/--device/--ipc/--pid/--uts")
        } else if differs(&self.pull_flags, &d.pull_flags) {
            Some("--authfile/--creds/--tls-verify/--arch/--os/--variant")
        } else if differs(&self.other, &d.other) || self.ignorefile.is_some() {
            Some("--ignorefile/--from/--logfile and the other local-only flags")
        } else {
            None
        }
    }
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

/// The directory the build context argument (`.` when none) names:
/// hutch builds from local directories only.
pub(crate) fn context_dir(cwd: &Path, arg: Option<&str>) -> anyhow::Result<PathBuf> {
    let context_arg = arg.unwrap_or(".");
    if context_arg.contains("://") || context_arg == "-" {
        bail!(
            "the build context must be a local directory: {context_arg:?} (URLs and stdin contexts are not supported)"
        );
    }
    let context = std::fs::canonicalize(cwd.join(context_arg))
        .with_context(|| format!("the build context {context_arg:?}"))?;
    if !context.is_dir() {
        bail!("the build context {context_arg:?} is not a directory");
    }
    Ok(context)
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
    if let Some(m) = args.other.refused() {
        bail!(m);
    }
    let pf = &args.pull_flags;
    if pf.cert_dir.is_some() {
        bail!(
            "hutch build does not support --cert-dir: give --tls-verify=false for a registry with a certificate the host does not trust"
        );
    }
    let host = crate::image::registry::Platform::host();
    let native = format!("{}/{}", host.os, host.architecture);
    if let Some(p) = &args.platform
        && p.split(',')
            .any(|one| one != native && !one.starts_with(&format!("{native}/")))
    {
        bail!("--platform {p}: hutch build builds for the native platform ({native}) only");
    }
    for (flag, given, own) in [
        ("--os", &pf.os, &host.os),
        ("--arch", &pf.arch, &host.architecture),
    ] {
        if let Some(v) = given
            && v != own
        {
            bail!("{flag} {v}: hutch build builds for the native platform ({native}) only");
        }
    }
    if let Some(v) = &pf.variant
        && host.variant.as_deref() != Some(v.as_str())
    {
        bail!("--variant {v}: hutch build builds for the native platform ({native}) only");
    }
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let context = context_dir(&cwd, args.context.as_deref())?;
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
    let ignore = match &args.ignorefile {
        // Podman reads it relative to the working directory.
        Some(f) => read_limited(
            std::fs::File::open(cwd.join(f))
                .with_context(|| format!("reading the ignore file {}", f.display()))?,
            MAX_IGNORE,
            "--ignorefile",
        )?,
        None => read_ignore(&context)?,
    };
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
    let secrets = read_secrets(&args.secret, &cwd)?;
    let ssh = ssh_agents(&args.ssh, &cwd)?;
    let run = run_settings(args, &cwd)?;
    if args.squash && args.squash_all {
        bail!("--squash and --squash-all cannot be used together");
    }
    let mut annotations = BTreeMap::new();
    parse_kv(&args.annotation, "--label", &mut annotations)?;
    let host_env = |k: &str| std::env::var(k).ok();
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
        secrets,
        ssh,
        run,
        env: crate::spec::parse::env::env(&args.env, &host_env),
        unsetenv: args.unsetenv.clone(),
        annotations: annotations.into_iter().collect(),
        timestamp: args.timestamp,
        omit_history: args.omit_history,
        squash: if args.squash_all {
            build::Squash::All
        } else if args.squash {
            build::Squash::New
        } else {
            build::Squash::No
        },
        jobs: match args.jobs {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n as usize,
        },
        registry: crate::engine::image::pull::RegistryOptions {
            tls_verify: pf.tls_verify,
            creds: pf.creds.clone(),
            authfile: pf.authfile.clone(),
        },
        from: args.other.from.clone(),
    };
    // --runtime-flag: the runtime's global flags for RUN containers, after
    // the command line's own (as Podman appends them).
    let with_flags;
    let ctx = if args.other.runtime_flag.is_empty() {
        ctx
    } else {
        let mut c = ctx.clone();
        c.runtime_flags
            .extend(args.other.runtime_flag.iter().cloned());
        with_flags = c;
        &with_flags
    };
    let store = image::open_store(ctx)?;
    let state = engine::open_state(ctx)?;
    // --logfile: the build's output, its errors and the image id go there
    // (Podman's); hutch's own errors still go to stderr.
    let mut logfile = match &args.other.logfile {
        Some(f) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(cwd.join(f))
                .with_context(|| format!("opening the log file {}", f.display()))?,
        ),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let report = match logfile.as_mut() {
        Some(log) => {
            let mut log2 = log.try_clone().context("duplicating the log file")?;
            build::build(ctx, &store, &state, &opts, log, &mut log2)?
        }
        None => build::build(ctx, &store, &state, &opts, &mut out, &mut err)?,
    };
    if let Some(f) = &args.iidfile {
        std::fs::write(f, report.image.id.to_string())
            .with_context(|| format!("writing {}", f.display()))?;
    }
    match logfile.as_mut() {
        Some(log) => writeln!(log, "{}", report.image.id.hex())?,
        None => writeln!(out, "{}", report.image.id.hex())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `.containerignore`, else `.dockerignore`, in the context (Podman's
/// order); a file larger than the bound is refused.
fn read_ignore(context: &Path) -> anyhow::Result<String> {
    for name in [".containerignore", ".dockerignore"] {
        let p = context.join(name);
        if let Ok(f) = std::fs::File::open(&p) {
            return read_limited(f, MAX_IGNORE, name);
        }
    }
    Ok(String::new())
}

/// `--secret` values read now (file or environment variable), each at most
/// [`build::runmounts::MAX_SECRET`] bytes.
fn read_secrets(list: &[String], cwd: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    use crate::image::build::runmount::{SecretSource, parse_secret};
    let max = build::runmounts::MAX_SECRET;
    let mut out = BTreeMap::new();
    for s in list {
        let (id, source) = parse_secret(s).map_err(|e| anyhow::anyhow!(e))?;
        let value = match source {
            SecretSource::Env(var) => std::env::var_os(&var)
                .map(|v| std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()).to_vec())
                .ok_or_else(|| {
                    anyhow::anyhow!("--secret {s}: the environment variable {var} is not set")
                })?,
            SecretSource::File(path) => {
                let f = std::fs::File::open(cwd.join(&path))
                    .with_context(|| format!("--secret {s}: reading {path}"))?;
                let mut v = Vec::new();
                f.take(max as u64 + 1)
                    .read_to_end(&mut v)
                    .with_context(|| format!("--secret {s}: reading {path}"))?;
                v
            }
        };
        if value.len() > max {
            bail!("--secret {s}: the secret is larger than {max} bytes");
        }
        out.insert(id, value);
    }
    Ok(out)
}

/// `--ssh ID[=SOCKET]`: each id's agent socket (the caller's
/// `SSH_AUTH_SOCK` when none is given). Key files are refused: hutch
/// forwards an agent, it does not run one.
fn ssh_agents(list: &[String], cwd: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = BTreeMap::new();
    for s in list {
        let (id, paths) =
            crate::image::build::runmount::parse_ssh(s).map_err(|e| anyhow::anyhow!(e))?;
        let path = match paths.as_slice() {
            [] => PathBuf::from(std::env::var_os("SSH_AUTH_SOCK").ok_or_else(|| {
                anyhow::anyhow!("--ssh {s}: SSH_AUTH_SOCK is not set: start an ssh-agent or give --ssh {id}=SOCKET")
            })?),
            [one] => cwd.join(one),
            _ => bail!("--ssh {s}: give one agent socket per id"),
        };
        let meta =
            std::fs::metadata(&path).with_context(|| format!("--ssh {s}: {}", path.display()))?;
        if !meta.file_type().is_socket() {
            bail!(
                "--ssh {s}: {} is not a socket: hutch build forwards an ssh agent (add keys to one with ssh-add)",
                path.display()
            );
        }
        out.insert(id, path);
    }
    Ok(out)
}

/// The flags that shape every RUN container.
fn run_settings(args: &BuildArgs, cwd: &Path) -> anyhow::Result<build::step::RunSettings> {
    use crate::spec::parse;
    let network = parse::network(&parse::NetworkFlags {
        mode: args.network.as_deref(),
        ..Default::default()
    })?;
    if !network.connected.is_empty() {
        bail!("--network: a build joins one network");
    }
    let mut volumes = Vec::new();
    for v in &args.volume {
        let m = parse::mount::volume(v, cwd)?;
        if !matches!(m.source, crate::spec::MountSource::Bind(_)) {
            bail!("-v {v}: build mounts host directories only (SOURCE:DEST[:OPTIONS])");
        }
        volumes.push(m);
    }
    parse::capabilities(&args.cap_add, &args.cap_drop)?;
    let security = parse::security::security(&args.security_opt)?;
    if matches!(security.seccomp, crate::spec::SeccompChoice::Path(_)) {
        bail!("--security-opt seccomp=PATH is not supported by hutch build (unconfined is)");
    }
    let f = &args.run;
    // Podman's build refuses DNS settings a RUN without a network cannot use.
    if matches!(network.mode, Some(hutch_rootless_net::NetworkMode::None)) {
        for (flag, list) in [
            ("--dns", &f.dns),
            ("--dns-option", &f.dns_option),
            ("--dns-search", &f.dns_search),
        ] {
            if !list.is_empty() {
                bail!("the {flag} option cannot be used with --network=none");
            }
        }
    }
    if f.dns.len() > 1 && f.dns.iter().any(|d| d == "none") {
        bail!("invalid --dns, --dns=none may not be used with any other --dns options");
    }
    let userns = parse::userns::userns(
        args.userns.as_deref(),
        &build_flags::id_maps(&f.userns_uid_map)?,
        &build_flags::id_maps(&f.userns_gid_map)?,
    )?;
    let namespace = |flag: &str, v: &Option<String>| build_flags::namespace(flag, v.as_deref());
    // --http-proxy (on by default): the caller's proxy variables, which
    // the image's and the instruction's environment override (buildah's
    // order).
    let env = if f.http_proxy {
        super::container::flags::PROXY_VARS
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v}")))
            .collect()
    } else {
        Vec::new()
    };
    Ok(build::step::RunSettings {
        network: network.mode,
        dns: hutch_rootless_net::DnsConfig {
            servers: f.dns.clone(),
            search: f.dns_search.clone(),
            options: f.dns_option.clone(),
        },
        volumes,
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        security,
        userns,
        resources: f.limits.request(),
        shm_size: build_flags::shm_size(f.shm_size.as_deref())?,
        ulimits: parse::ulimit::ulimits(&f.ulimit)?,
        add_hosts: f
            .add_host
            .iter()
            .map(|h| parse::hosts::add_host(h))
            .collect::<anyhow::Result<_>>()?,
        namespaces: crate::spec::Namespaces {
            ipc: namespace("ipc", &f.ipc)?,
            pid: namespace("pid", &f.pid)?,
            uts: namespace("uts", &f.uts)?,
        },
        cgroupns: build_flags::cgroupns(f.cgroupns.as_deref())?,
        devices: f
            .device
            .iter()
            .map(|d| {
                let dev = parse::device::device(d)?;
                // Checked before any step, as Podman's build executor does
                // (a fully cached build would otherwise never look).
                if let Err(e) = std::fs::metadata(&dev.host_path) {
                    let src = dev.host_path.display();
                    let why = match e.kind() {
                        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
                        _ => e.to_string(),
                    };
                    bail!("creating build executor: getting info of source device {src}: stat {src}: {why}");
                }
                Ok(dev)
            })
            .collect::<anyhow::Result<_>>()?,
        env,
    })
}
