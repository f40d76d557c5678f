//! `kube play|down` and `play kube`: Kubernetes YAML read here (a file or
//! standard input, at most `MAX_YAML_BYTES`), played by the engine.
//! `kube generate` (and `generate kube`): YAML from containers, pods and
//! volumes, printed or written to a new file.

use std::io::Read;
use std::process::ExitCode;

use crate::config::Context;
use crate::engine::container as containers;
use crate::engine::image;
use crate::engine::kube::{self, MAX_YAML_BYTES, generate, play};

#[derive(Debug, clap::Subcommand)]
pub enum KubeCommand {
    /// Play a pod and its containers, based on a Kubernetes YAML
    Play(Box<PlayArgs>),
    /// Remove pods based on a Kubernetes YAML
    Down(DownArgs),
    /// Generate Kubernetes YAML from containers, pods or volumes
    Generate(GenerateArgs),
}

/// `play kube`, Podman's older spelling.
#[derive(Debug, clap::Subcommand)]
pub enum PlayCommand {
    /// Play a pod and its containers, based on a Kubernetes YAML
    Kube(PlayArgs),
}

#[derive(Debug, clap::Args)]
pub struct PlayArgs {
    /// Start the pod after creating it
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) start: bool,
    /// Delete and recreate pods defined in the YAML file
    #[arg(long)]
    pub(crate) replace: bool,
    /// Stop and remove pods defined in the YAML file
    #[arg(long)]
    pub(crate) down: bool,
    /// Start a service container that tells systemd (NOTIFY_SOCKET) when the pods run
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) service_container: bool,
    /// Add an annotation to the containers (key=value)
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) annotation: Vec<String>,
    /// Path of the authentication file
    #[arg(long, value_name = "PATH")]
    pub(crate) authfile: Option<std::path::PathBuf>,
    /// Use credentials (USERNAME[:PASSWORD]) for accessing the registry
    #[arg(long, value_name = "USERNAME[:PASSWORD]")]
    pub(crate) creds: Option<String>,
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub(crate) tls_verify: Option<bool>,
    /// Path to a directory of certificates to use (refused: hutch's pulls take none)
    #[arg(long, value_name = "PATH")]
    pub(crate) cert_dir: Option<String>,
    /// Paths of ConfigMap YAML files (comma-separated, repeatable)
    #[arg(long, value_name = "PATH", value_delimiter = ',')]
    pub(crate) configmap: Vec<String>,
    /// Logging driver for the containers
    #[arg(long, value_name = "DRIVER")]
    pub(crate) log_driver: Option<String>,
    /// Logging driver options
    #[arg(long, value_name = "OPTION")]
    pub(crate) log_opt: Vec<String>,
    /// Connect the pods to a network
    #[arg(long = "network", visible_alias = "net", value_name = "MODE")]
    pub(crate) network: Vec<String>,
    /// Do not create /etc/hosts within the pod's containers, instead use the version from the image
    #[arg(long)]
    pub(crate) no_hosts: bool,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// User namespace to use for the pods
    #[arg(long, value_name = "MODE")]
    pub(crate) userns: Option<String>,
    /// Path to the directory of the images to build (refused: hutch does not build from kube YAML)
    #[arg(long, value_name = "PATH")]
    pub(crate) context_dir: Option<String>,
    /// Build images from directories named after them (refused: hutch does not build from kube YAML)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub(crate) build: Option<bool>,
    /// Directory of seccomp profiles named by annotations (refused: hutch reads no such annotations)
    #[arg(long, value_name = "PATH")]
    pub(crate) seccomp_profile_root: Option<String>,
    /// Static IP addresses to assign to the pods (one each, in order)
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) ip: Vec<String>,
    /// Static MAC addresses to assign to the pods (one each, in order)
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) mac_address: Vec<String>,
    /// The YAML file, or `-` for standard input
    pub(crate) file: String,
}

impl PlayArgs {
    /// The flags for parts hutch does not have, refused with what to do.
    fn refuse_missing_parts(&self) -> anyhow::Result<()> {
        let refused = [
            (
                "--cert-dir",
                self.cert_dir.is_some(),
                "hutch's pulls take no certificate directory: put the CA in the system trust store",
            ),
            (
                "--build",
                self.build == Some(true),
                "hutch does not build images from kube YAML: build them first (hutch build -t NAME DIR)",
            ),
            (
                "--context-dir",
                self.context_dir.is_some(),
                "hutch does not build images from kube YAML: build them first (hutch build -t NAME DIR)",
            ),
            (
                "--seccomp-profile-root",
                self.seccomp_profile_root.is_some(),
                "hutch reads no seccomp annotations from kube YAML",
            ),
        ];
        for (flag, given, why) in refused {
            if given {
                return Err(crate::engine::Error::bad_input(format!(
                    "kube play {flag} is not supported: {why}"
                ))
                .into());
            }
        }
        Ok(())
    }

    /// Lays the flags that change every pod or container over the plan.
    fn apply(&self, plan: &mut play::Translation) -> anyhow::Result<()> {
        use crate::spec::parse;
        let annotations = parse::hosts::key_values("--annotation", &self.annotation)?;
        let log = (self.log_driver.is_some() || !self.log_opt.is_empty())
            .then(|| parse::log::log(self.log_driver.as_deref(), &self.log_opt))
            .transpose()?;
        let network = (!self.network.is_empty())
            .then(|| {
                crate::cli::container::NetworkFlags {
                    network: self.network.clone(),
                    ..Default::default()
                }
                .spec()
            })
            .transpose()?;
        let userns = self
            .userns
            .as_deref()
            .map(|u| parse::userns::userns(Some(u), &[], &[]))
            .transpose()?;
        let ips = self
            .ip
            .iter()
            .map(|t| {
                t.parse::<std::net::IpAddr>().map_err(|_| {
                    anyhow::anyhow!(
                        "invalid argument \"{t}\" for \"--ip\" flag: invalid string being converted to IP address: {t}"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let macs = self
            .mac_address
            .iter()
            .map(|m| parse::mac_address(m))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (i, p) in plan.pods.iter_mut().enumerate() {
            if let Some(n) = &network {
                // The pod's published ports stay; the mode is the flag's.
                let ports = std::mem::take(&mut p.pod.config.network.ports);
                p.pod.config.network = n.clone();
                p.pod.config.network.ports = ports;
            }
            // Podman's: the i-th address to the i-th pod (its infra
            // container), on its one user network.
            static_address(
                &mut p.pod.config.network,
                ips.get(i).copied(),
                "ip",
                !ips.is_empty(),
            )?;
            if let Some(m) = macs.get(i) {
                static_address(&mut p.pod.config.network, None, "mac", true)?;
                p.pod.config.network.mac_address = Some(m.clone());
            } else if !ips.is_empty() {
                // Podman 4.3.1 warns so when `--ip` (not `--mac-address`)
                // was given.
                tracing::warn!("No more static macs left using a random one");
            }
            if let Some(u) = &userns {
                p.pod.config.userns = u.clone();
            }
            p.pod.config.no_hosts |= self.no_hosts;
            for c in &mut p.containers {
                c.annotations
                    .extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
                if let Some(l) = &log {
                    c.log = l.clone();
                }
                c.setup.no_hosts |= self.no_hosts;
            }
        }
        Ok(())
    }
}

/// `kube play --ip`/`--mac-address` for one pod: checked as Podman
/// checks them (a user network, one only); without an address left for
/// this pod, Podman's warning when some were given.
fn static_address(
    net: &mut crate::spec::NetworkSpec,
    ip: Option<std::net::IpAddr>,
    kind: &str,
    given: bool,
) -> anyhow::Result<()> {
    if kind == "ip" && ip.is_none() {
        if given {
            tracing::warn!("No more static ips left using a random one");
        }
        return Ok(());
    }
    if !matches!(
        net.mode,
        Some(hutch_rootless_net::NetworkMode::Network { .. })
    ) {
        return Err(crate::engine::Error::bad_input(format!(
            "static {kind} addresses can only be set when the network mode is bridge: invalid argument"
        ))
        .into());
    }
    if !net.connected.is_empty() {
        return Err(crate::engine::Error::bad_input(format!(
            "cannot set static {kind} addresses for more than network, use netname:{kind}=<{kind}> syntax to specify {kind}s for more than network: invalid argument"
        ))
        .into());
    }
    if let Some(ip) = ip {
        match ip {
            std::net::IpAddr::V4(_) => net.ip = Some(ip),
            std::net::IpAddr::V6(_) => net.ip6 = Some(ip),
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// The YAML file, or `-` for standard input
    pub(crate) file: String,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Write output to the specified path
    #[arg(short, long, value_name = "FILENAME")]
    pub(crate) filename: Option<std::path::PathBuf>,
    /// Generate YAML for a Kubernetes service object
    #[arg(short, long)]
    pub(crate) service: bool,
    /// Generate YAML for the given Kubernetes kind (pod or deployment)
    #[arg(short = 't', long = "type", default_value = "pod", value_name = "TYPE")]
    pub(crate) kind: String,
    /// The number of replicas of a Deployment (no `-r`: that is hutch's
    /// global `--remote`)
    #[arg(long, default_value_t = 1)]
    pub(crate) replicas: u32,
    /// Containers, pods or volumes
    #[arg(required = true, value_name = "CONTAINER|POD|VOLUME")]
    pub(crate) names: Vec<String>,
}

pub fn run(ctx: &Context, cmd: KubeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KubeCommand::Play(a) => play_main(ctx, &a),
        KubeCommand::Down(a) => down_main(ctx, &a.file),
        KubeCommand::Generate(a) => generate_main(ctx, &a),
    }
}

pub fn generate_main(ctx: &Context, a: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let opts = generate::GenerateOptions {
        kind: generate::KubeKind::parse(&a.kind)?,
        replicas: a.replicas,
        service: a.service,
        now: crate::host::time::now_ns() / 1_000_000_000,
        // Only spreads Service node ports, as Podman's time-seeded RNG.
        seed: crate::host::time::now_ns() as u64 ^ u64::from(std::process::id()),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    // Refused before any work, as Podman checks the file first.
    if let Some(path) = &a.filename
        && path.exists()
    {
        return Err(crate::engine::Error::conflict(format!(
            "cannot write to {:?}; file exists",
            path.display().to_string()
        ))
        .into());
    }
    let store = image::open_store(ctx)?;
    let state = containers::open_state(ctx)?;
    let inputs = kube::facts::collect(ctx, &store, &state, &a.names)?;
    let out = generate::generate(&inputs, &opts)?;
    for w in &out.warnings {
        tracing::warn!("{w}");
    }
    match &a.filename {
        Some(path) => {
            use std::io::Write as _;
            // create_new: a file made meanwhile is not overwritten either.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| {
                    crate::engine::Error::bad_input(format!(
                        "cannot write to {:?}: {e}",
                        path.display().to_string()
                    ))
                })?;
            f.write_all(out.text.as_bytes()).map_err(|e| {
                crate::engine::Error::internal(format!("writing {}: {e}", path.display()))
            })?;
        }
        // Podman prints the text with Println: one more newline.
        None => println!("{}", out.text),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_play(ctx: &Context, cmd: PlayCommand) -> anyhow::Result<ExitCode> {
    let PlayCommand::Kube(a) = cmd;
    play_main(ctx, &a)
}

fn play_main(ctx: &Context, a: &PlayArgs) -> anyhow::Result<ExitCode> {
    if a.down {
        return down_main(ctx, &a.file);
    }
    a.refuse_missing_parts()?;
    // `--quiet`: hutch's kube play prints no pull progress either way.
    let _ = a.quiet;
    let text = read_yaml(&a.file)?;
    let mut docs = kube::parse(&text)?;
    // `--configmap`: ConfigMaps from files of their own, as if in the YAML.
    for path in a.configmap.iter().filter(|p| !p.is_empty()) {
        let more = kube::parse(&read_yaml(path)?)?;
        if more
            .iter()
            .any(|d| !matches!(d, kube::Document::ConfigMap { .. }))
        {
            return Err(crate::engine::Error::bad_input(format!(
                "--configmap {path}: only ConfigMap documents are allowed in it"
            ))
            .into());
        }
        docs.extend(more);
    }
    let mut plan = play::translate(&docs, a.replace)?;
    a.apply(&mut plan)?;
    for w in &plan.warnings {
        eprintln!("Warning: {w}");
    }
    let store = image::open_store(ctx)?;
    let state = containers::open_state(ctx)?;
    let played = play::play(
        ctx,
        &store,
        &state,
        &plan,
        &play::PlayOptions {
            start: a.start,
            replace: a.replace,
            registry: crate::engine::image::pull::RegistryOptions {
                tls_verify: a.tls_verify,
                creds: a.creds.clone(),
                authfile: a.authfile.clone(),
            },
            service_container: a.service_container.then(|| play::ServiceContainer {
                name: play::service_container_name(&text),
                notify_socket: std::env::var("NOTIFY_SOCKET").ok(),
            }),
        },
    )?;
    for p in &played {
        println!("Pod:\n{}", p.id);
        println!(
            "{}",
            if p.containers.len() == 1 {
                "Container:"
            } else {
                "Containers:"
            }
        );
        for c in &p.containers {
            println!("{c}");
        }
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

fn down_main(ctx: &Context, file: &str) -> anyhow::Result<ExitCode> {
    let (plan, text) = translation(file, false)?;
    let store = image::open_store(ctx)?;
    let state = containers::open_state(ctx)?;
    let service = play::service_container_name(&text);
    let removed = play::down(ctx, &store, &state, &plan, Some(&service))?;
    if !removed.is_empty() {
        println!("Pods stopped:");
        for id in &removed {
            println!("{id}");
        }
        println!("Pods removed:");
        for id in &removed {
            println!("{id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan, and the YAML's text (which names the service container).
fn translation(file: &str, replace: bool) -> anyhow::Result<(play::Translation, String)> {
    let text = read_yaml(file)?;
    let docs = kube::parse(&text)?;
    Ok((play::translate(&docs, replace)?, text))
}

/// The YAML of a file or standard input (`-`), at most `MAX_YAML_BYTES`
/// (the remote client sends it to the service).
pub(crate) fn read_yaml(file: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    let limit = MAX_YAML_BYTES as u64 + 1;
    if file == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_string(&mut text)?;
    } else {
        let f = std::fs::File::open(file).map_err(|e| {
            crate::engine::Error::bad_input(format!("opening kube YAML {file}: {e}"))
        })?;
        f.take(limit).read_to_string(&mut text).map_err(|e| {
            crate::engine::Error::bad_input(format!("reading kube YAML {file}: {e}"))
        })?;
    }
    Ok(text)
}
