//! The command line: Podman's command names, flags and exit codes.
//!
//! Parsing happens first and is single-threaded; then, for commands that
//! need it, the user namespace is joined (a `setns` that a multi-threaded
//! process may not make); only then does a command run. A command module
//! turns flags into an engine request and prints the answer; it makes no
//! syscalls of its own.

mod auto_update;
mod build;
mod build_flags;
mod container;
mod generate;
mod globals;
mod goflags;
mod help;
mod image;
pub(crate) mod init;
mod kube;
mod logfmt;
mod manifest;
mod network;
mod pod;
mod progress;
mod quadlet;
mod registry;
mod remote;
mod scp;
mod search;
mod secret;
mod system;
mod system_prune;
mod trust;
mod unshare;
mod version;
mod volume;
mod yaml;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Context;

/// Podman's exit code for an error of the tool itself (not the container's).
pub const EXIT_HUTCH_ERROR: u8 = 125;

#[derive(Debug, Parser)]
#[command(
    name = "hutch",
    about = "Manage containers, rootless and daemonless",
    disable_version_flag = true,
    arg_required_else_help = true,
    // Podman (cobra/pflag) takes the last value of a flag given twice
    // (`--name a --name b`); scripts build command lines that rely on it.
    // Propagated to every subcommand; lists (`-e`, `-v`) still append.
    args_override_self = true
)]
pub struct Cli {
    /// Log messages at and above this level (trace, debug, info, warn, warning, error, fatal, panic)
    // Checked in `main`, not by clap: Podman's message and exit code 1.
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    /// Path to the storage root directory (graphroot)
    #[arg(long, global = true, value_name = "PATH")]
    root: Option<std::path::PathBuf>,
    /// Path to the state directory of the OCI runtime (Podman's storage run root)
    #[arg(long, global = true, value_name = "PATH")]
    runroot: Option<std::path::PathBuf>,
    /// Path to the volume directory
    #[arg(long, global = true, value_name = "PATH")]
    volumepath: Option<std::path::PathBuf>,
    /// Add global flags for the container runtime (without the leading --)
    #[arg(long, global = true, value_name = "FLAG")]
    runtime_flag: Vec<String>,
    /// Events backend to use (file; journald and none are not available in hutch)
    #[arg(long, global = true, value_name = "BACKEND")]
    events_backend: Option<String>,
    /// Do not output to stdout
    #[arg(long, global = true)]
    noout: bool,
    /// Access a remote service (the default connection, else the local service socket)
    #[arg(short = 'r', long, global = true)]
    remote: bool,
    /// URL of a remote service: unix:///path or ssh://user@host[:port]/path (also CONTAINER_HOST)
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// Connection to use for remote hutch (`system connection list`; also CONTAINER_CONNECTION)
    #[arg(long, global = true, value_name = "NAME")]
    connection: Option<String>,
    /// SSH private key for a remote service (also CONTAINER_SSHKEY)
    #[arg(long, global = true, value_name = "PATH")]
    identity: Option<std::path::PathBuf>,
    /// Select which storage driver is used (overlay, vfs)
    #[arg(long, global = true, value_name = "DRIVER")]
    storage_driver: Option<String>,
    /// Cgroup manager to use (systemd, cgroupfs)
    #[arg(long, global = true, value_name = "MANAGER", value_parser = ["systemd", "cgroupfs"])]
    cgroup_manager: Option<String>,
    /// Path to the OCI runtime, or its name (crun, runc): the default of `--runtime` for new containers
    #[arg(long, global = true, value_name = "RUNTIME")]
    runtime: Option<String>,
    /// Storage driver option (overlay.mount_program=PATH); replaces storage.conf's options
    #[arg(long, global = true, value_name = "OPTION")]
    storage_opt: Vec<String>,
    /// Path of the pasta or slirp4netns executable to use for rootless networking
    #[arg(long, global = true, value_name = "PATH")]
    network_cmd_path: Option<std::path::PathBuf>,
    /// Path to the network config directory (hutch keeps networks in its store: a warning)
    #[arg(long, global = true, value_name = "PATH")]
    network_config_dir: Option<std::path::PathBuf>,
    /// Path to the conmon binary (hutch runs its own monitor: a warning)
    #[arg(long, global = true, value_name = "PATH")]
    conmon: Option<std::path::PathBuf>,
    /// Directories with OCI hook definitions (hutch runs no OCI hooks: a directory holding any is refused)
    #[arg(long, global = true, value_name = "PATH")]
    hooks_dir: Vec<std::path::PathBuf>,
    /// Libpod namespace (no effect, as in Podman 4)
    #[arg(long, global = true, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// SSH implementation for remote connections (golang, native; hutch always runs the ssh client)
    #[arg(long, global = true, value_name = "MODE")]
    ssh: Option<String>,
    /// Also send log messages to syslog (fails where no syslog socket listens)
    #[arg(long, global = true)]
    syslog: bool,
    /// Path to the temporary directory for runtime state (hutch keeps it under --runroot)
    #[arg(long, global = true, value_name = "PATH")]
    tmpdir: Option<std::path::PathBuf>,
    /// Print the version
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once per process: the size of the create flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// Create but do not start a container
    Create(container::CreateArgs),
    /// Show hutch events
    Events(container::EventsArgs),
    /// Display the configuration of object denoted by ID
    Inspect(container::InspectArgs),
    /// Kill one or more running containers with a specific signal
    Kill(container::KillArgs),
    /// Rename an existing container
    Rename(container::RenameArgs),
    /// Restart one or more containers
    Restart(container::RestartArgs),
    /// Start one or more containers
    Start(container::StartArgs),
    /// Stop one or more containers
    Stop(container::StopArgs),
    /// Block on one or more containers
    Wait(container::WaitArgs),
    /// Show history of a specified image
    History(image::HistoryArgs),
    /// Attach to a running container
    Attach(container::AttachArgs),
    /// Run a process in a running container
    Exec(container::ExecArgs),
    /// Fetch the logs of a container
    Logs(container::LogsArgs),
    /// Create new image based on the changed container
    Commit(container::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(container::CpArgs),
    /// Display the changes to the object's file system
    Diff(container::DiffArgs),
    /// Export container's filesystem contents as a tar archive
    Export(container::ExportArgs),
    /// Mount a working container's root filesystem
    Mount(container::MountArgs),
    /// Pause all the processes in one or more containers
    Pause(container::PauseArgs),
    /// List port mappings or a specific mapping for the container
    Port(container::PortArgs),
    /// Display the running processes of a container
    Top(container::TopArgs),
    /// Unmount working container's root filesystem
    #[command(visible_alias = "umount")]
    Unmount(container::UnmountArgs),
    /// Unpause the processes in one or more containers
    Unpause(container::PauseArgs),
    /// List containers
    Ps(container::PsArgs),
    /// Remove one or more containers
    Rm(container::RmArgs),
    /// Run a command in a new container
    Run(container::RunArgs),
    /// Display a live stream of container resource usage statistics
    Stats(container::StatsArgs),
    /// Update the resource limits of a container
    Update(container::UpdateArgs),
    #[command(name = "__cleanup", hide = true)]
    Cleanup(container::CleanupArgs),
    #[command(name = "__netns-holder", hide = true)]
    NetnsHolder(network::HolderArgs),
    /// List images in local storage
    Images(image::ImagesArgs),
    /// Import a tarball to create a filesystem image
    Import(image::ImportArgs),
    /// Display hutch related system information
    Info(system::InfoArgs),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage hutch
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Load image(s) from a tar archive
    Load(image::LoadArgs),
    /// Log in to a container registry
    Login(registry::LoginArgs),
    /// Log out of a container registry
    Logout(registry::LogoutArgs),
    /// Pull an image from a registry or an archive
    Pull(registry::PullArgs),
    /// Push an image to a registry or an archive
    Push(registry::PushArgs),
    /// Remove one or more images from local storage
    Rmi(image::RmiArgs),
    /// Save image(s) to an archive
    Save(image::SaveArgs),
    /// Search registry for image
    Search(search::SearchArgs),
    /// Add an additional name to a local image
    Tag(image::TagArgs),
    /// Run a command in a modified user namespace
    Unshare(unshare::UnshareArgs),
    /// Remove a name from a local image
    Untag(image::UntagArgs),
    /// Display the hutch version information
    Version(version::VersionArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage pods
    #[command(subcommand)]
    Pod(pod::PodCommand),
    /// Manage health checks on containers
    #[command(subcommand)]
    Healthcheck(container::HealthcheckCommand),
    /// Generate structured data based on containers (systemd units)
    #[command(subcommand)]
    Generate(generate::GenerateCommand),
    /// Build an image using instructions from Containerfiles
    Build(build::BuildArgs),
    /// Build images (Docker's buildx command: `buildx build`)
    #[command(subcommand)]
    Buildx(build::BuildxCommand),
    /// Turn Quadlet files into systemd services (the systemd generator hutch-quadlet)
    Quadlet(quadlet::QuadletArgs),
    /// Manage secrets
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Play containers, pods or volumes from a structured file (Kubernetes YAML)
    #[command(subcommand)]
    Kube(kube::KubeCommand),
    /// Play containers, pods or volumes from a structured file (`play kube`)
    #[command(subcommand)]
    Play(kube::PlayCommand),
    /// Auto update containers according to their auto-update policy
    AutoUpdate(auto_update::AutoUpdateArgs),
    /// Initialize one or more containers
    Init(init::InitArgs),
    /// Manipulate manifest lists and image indexes
    #[command(subcommand)]
    Manifest(manifest::ManifestCommand),
}

impl Command {
    /// Podman's `container attach`, `container exec` and the like are its
    /// top-level commands under another name: made those here, right after
    /// parsing, so that every later step (the descriptors `exec` takes
    /// over, the remote client, the namespace) sees one command.
    fn unnested(self) -> Command {
        use container::ContainerCommand as C;
        match self {
            Command::Container(c) => match c {
                C::Attach(a) => Command::Attach(a),
                C::Commit(a) => Command::Commit(a),
                C::Cp(a) => Command::Cp(a),
                C::Exec(a) => Command::Exec(a),
                C::Export(a) => Command::Export(a),
                C::Mount(a) => Command::Mount(a),
                C::Pause(a) => Command::Pause(a),
                C::Port(a) => Command::Port(a),
                C::Stats(a) => Command::Stats(a),
                C::Top(a) => Command::Top(a),
                C::Unmount(a) => Command::Unmount(a),
                C::Unpause(a) => Command::Unpause(a),
                C::Update(a) => Command::Update(a),
                other => Command::Container(other),
            },
            other => other,
        }
    }

    /// Commands that never touch containers must not create the namespace:
    /// `version` and `info` answer on a host where it cannot even be made.
    fn needs_namespace(&self) -> bool {
        match self {
            // Credentials live in files; no namespace needed.
            Command::Info(_) | Command::Version(_) | Command::Login(_) | Command::Logout(_) => {
                false
            }
            // Registries only; no store.
            Command::Search(_) | Command::Image(image::ImageCommand::Search(_)) => false,
            Command::System(sys) => sys.needs_namespace(),
            // Signing reads the registry and runs gpg; no storage. Outside
            // the namespace gpg finds the user's agent as the user runs it.
            Command::Image(image::ImageCommand::Sign(_)) => false,
            Command::Unshare(_) => true,
            Command::Container(_)
            | Command::Create(_)
            | Command::Events(_)
            | Command::Inspect(_)
            | Command::Kill(_)
            | Command::Rename(_)
            | Command::Restart(_)
            | Command::Start(_)
            | Command::Stop(_)
            | Command::Wait(_) => true,
            Command::Image(_)
            | Command::Images(_)
            | Command::History(_)
            | Command::Logs(_)
            | Command::Commit(_)
            | Command::Cp(_)
            | Command::Diff(_)
            | Command::Export(_)
            | Command::Mount(_)
            | Command::Pause(_)
            | Command::Network(_)
            | Command::Port(_)
            | Command::Top(_)
            | Command::Unmount(_)
            | Command::Unpause(_)
            | Command::Attach(_)
            | Command::Exec(_)
            | Command::Ps(_)
            | Command::Rm(_)
            | Command::Run(_)
            | Command::Stats(_)
            | Command::Update(_)
            | Command::Cleanup(_)
            | Command::NetnsHolder(_)
            | Command::Import(_)
            | Command::Load(_)
            | Command::Pull(_)
            | Command::Push(_)
            | Command::Save(_)
            | Command::Rmi(_)
            | Command::Tag(_)
            | Command::Untag(_)
            | Command::Volume(_) => true,
            Command::Pod(_)
            | Command::Healthcheck(_)
            | Command::Generate(_)
            | Command::Build(_)
            | Command::Buildx(_) => true,
            // A generator runs early at boot: text in, text out.
            Command::Quadlet(_) => false,
            // The data lives under the graph root, owned by the user.
            Command::Secret(_) => true,
            Command::Kube(_) | Command::Play(_) => true,
            Command::AutoUpdate(_) => true,
            Command::Init(_) => true,
            Command::Manifest(_) => true,
        }
    }
}

pub fn main() -> ExitCode {
    // `hutch ps | head -1`: output to a reader that has gone ends the
    // command quietly, as Podman's does.
    std::panic::set_hook(crate::host::stdio::quiet_on_closed_output(
        remote::forget_tunnels,
        std::panic::take_hook(),
    ));
    // Installed as a systemd generator, hutch is `hutch-quadlet DIR...`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == "hutch-quadlet")
    {
        args.insert(1, "quadlet".into());
    }
    // Cobra's version flag wins over whatever follows it: podman-compose
    // runs `podman --version ''` (an empty argument) to learn the version.
    if args.get(1).is_some_and(|a| a == "--version" || a == "-v") {
        println!("hutch version {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    // Cobra's `help [COMMAND...]`, which clap's own help subcommand
    // answers differently (an unknown topic is an error there).
    if args.get(1).is_some_and(|a| a == "help") {
        return help::run(args.get(2..).unwrap_or_default());
    }
    let mut cli = match Cli::try_parse_from(goflags::normalize(args)) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => EXIT_HUTCH_ERROR,
            };
            match goflags::cobra_message(&e) {
                Some(message) => eprintln!("{message}"),
                None => {
                    let _ = e.print();
                }
            }
            return ExitCode::from(code);
        }
    };
    cli.command = cli.command.map(Command::unnested);
    // The caller's descriptors for a container, before hutch opens any
    // file of its own (container/passed.rs).
    match &cli.command {
        Some(Command::Run(a) | Command::Container(container::ContainerCommand::Run(a))) => {
            container::passed::claim(Some(a.flags.preserve_fds))
        }
        Some(Command::Start(_) | Command::Container(container::ContainerCommand::Start(_))) => {
            container::passed::claim(None)
        }
        // Only when asked: Podman's exec passes no socket activation on.
        Some(Command::Exec(a)) if a.preserve_fds > 0 => {
            container::passed::claim(Some(a.preserve_fds))
        }
        _ => {}
    }
    // Podman checks the level before anything else, prints no "Error:"
    // prefix and exits 1.
    let Some(level) = log_level(&cli.log_level) else {
        eprintln!(
            "Log Level {:?} is not supported, choose from: {}",
            cli.log_level,
            LOG_LEVELS.join(", ")
        );
        return ExitCode::from(1);
    };
    init_tracing(level);
    // Podman's words and code (1, no "Error:"); hutch's own messages still
    // go to stderr only when a syslog listens (docs/compat.md).
    if cli.syslog && !globals::syslog_listens() {
        eprintln!("Failed to initialize syslog hook: Unix syslog delivery error");
        return ExitCode::from(1);
    }
    // The remote client: before anything local (no namespace, no store).
    // `system connection` and `system service` are the client's own.
    if !matches!(
        cli.command,
        None | Some(Command::System(
            system::SystemCommand::Connection(_) | system::SystemCommand::Service(_)
        ))
    ) && let Some(dest) = remote::select(&remote::Selection {
        remote: cli.remote,
        url: cli.url.as_deref(),
        connection: cli.connection.as_deref(),
        identity: cli.identity.as_deref(),
    }) && let Some(command) = cli.command
    {
        let result = dest
            .and_then(|(d, key)| remote::Service::connect(&d, key.as_deref()))
            .and_then(|svc| remote::commands::run(&svc, command));
        return match result {
            Ok(code) => code,
            Err(e) if crate::host::stdio::is_closed_output(e.as_ref()) => {
                crate::host::stdio::die_of_sigpipe()
            }
            Err(e) => {
                eprintln!("Error: {}", error_text(&e));
                ExitCode::from(EXIT_HUTCH_ERROR)
            }
        };
    }
    if let Some(backend) = cli.events_backend.as_deref()
        && backend != "file"
    {
        let reason = if matches!(backend, "journald" | "none") {
            "hutch writes events to a file only"
        } else {
            "invalid argument"
        };
        eprintln!(
            "Error: configuring runtime: {backend:?} is not a valid events backend: {reason}"
        );
        return ExitCode::from(EXIT_HUTCH_ERROR);
    }
    if cli.noout
        && let Err(e) = crate::host::stdio::discard_stdout()
    {
        eprintln!("Error: --noout: {e}");
        return ExitCode::from(EXIT_HUTCH_ERROR);
    }
    if cli.version {
        println!("hutch version {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        eprintln!(
            "Error: missing command 'hutch COMMAND'\nTry 'hutch --help' for more information."
        );
        return ExitCode::from(EXIT_HUTCH_ERROR);
    };
    let mut ctx = Context::detect();
    ctx.root_override = cli.root.clone();
    ctx.storage_driver = cli.storage_driver.clone();
    ctx.cgroup_manager = cli.cgroup_manager.clone();
    ctx.run_root = cli.runroot.clone();
    ctx.volume_path = cli.volumepath.clone();
    ctx.runtime_flags = cli.runtime_flag.clone();
    ctx.runtime = cli.runtime.clone();
    ctx.storage_opts = cli.storage_opt.clone();
    ctx.network_cmd_path = cli.network_cmd_path.clone();
    if let Err(e) = globals::check(
        &ctx,
        &globals::Unused {
            conmon: cli.conmon.as_deref(),
            network_config_dir: cli.network_config_dir.as_deref(),
            hooks_dirs: &cli.hooks_dir,
        },
    ) {
        eprintln!("Error: {}", error_text(&e));
        return ExitCode::from(EXIT_HUTCH_ERROR);
    }
    // HPC homes on NFS/Lustre/GPFS: the default graph root moved to
    // node-local disk, said once (engine::image::graphroot).
    if command.needs_namespace()
        && !ctx.inside_namespace
        && let Some(notice) = crate::engine::image::graphroot::notice_once(&ctx)
    {
        eprintln!("Warning: {notice}");
    }
    if command.needs_namespace()
        && ctx.rootless()
        && !ctx.inside_namespace
        && let Err(e) = crate::engine::image::check_root_owner(&ctx)
            .map_err(anyhow::Error::from)
            .and_then(|()| join_namespace(&ctx))
    {
        eprintln!("Error: {}", error_text(&e));
        return ExitCode::from(EXIT_HUTCH_ERROR);
    }
    let result = match command {
        Command::Image(cmd) => image::run(&ctx, cmd),
        Command::Container(cmd) => container::container(&ctx, cmd),
        Command::Create(args) => container::create(&ctx, &args),
        Command::Events(args) => container::events(&ctx, &args),
        Command::Inspect(args) => container::inspect(&ctx, &args),
        Command::Kill(args) => container::kill(&ctx, &args),
        Command::Rename(args) => container::rename(&ctx, &args),
        Command::Restart(args) => container::restart(&ctx, &args),
        Command::Start(args) => container::start(&ctx, &args),
        Command::Stop(args) => container::stop(&ctx, &args),
        Command::Wait(args) => container::wait(&ctx, &args),
        Command::Images(args) => image::images(&ctx, &args),
        Command::History(args) => image::image_history(&ctx, &args),
        Command::Logs(args) => container::logs(&ctx, &args),
        Command::Commit(args) => container::commit(&ctx, &args),
        Command::Cp(args) => container::cp(&ctx, &args),
        Command::Diff(args) => container::diff(&ctx, &args),
        Command::Export(args) => container::export(&ctx, &args),
        Command::Mount(args) => container::mount(&ctx, &args),
        Command::Pause(args) => container::pause(&ctx, &args),
        Command::Port(args) => container::port(&ctx, &args),
        Command::Top(args) => container::top(&ctx, &args),
        Command::Unmount(args) => container::unmount(&ctx, &args),
        Command::Unpause(args) => container::unpause(&ctx, &args),
        Command::Attach(args) => container::attach(&ctx, &args),
        Command::Exec(args) => container::exec(&ctx, &args),
        Command::Ps(args) => container::ps(&ctx, &args),
        Command::Rm(args) => container::rm(&ctx, &args),
        Command::Run(args) => container::run(&ctx, &args),
        Command::Stats(args) => container::stats(&ctx, &args),
        Command::Update(args) => container::update(&ctx, &args),
        Command::Cleanup(args) => container::cleanup_main(&ctx, &args),
        Command::NetnsHolder(args) => network::holder(&args),
        Command::Import(args) => image::import_image(&ctx, args),
        Command::Load(args) => image::load(&ctx, &args),
        Command::Login(args) => registry::login(&ctx, &args),
        Command::Logout(args) => registry::logout(&ctx, &args),
        Command::Pull(args) => registry::pull_images(&ctx, &args),
        Command::Search(args) => search::run(&ctx, &args),
        Command::Push(args) => registry::push_image(&ctx, &args),
        Command::Save(args) => image::save(&ctx, &args),
        Command::Rmi(args) => image::rmi(&ctx, &args),
        Command::Tag(args) => image::tag(&ctx, &args),
        Command::Untag(args) => image::untag(&ctx, &args),
        Command::Info(args) => system::info(&ctx, &args),
        Command::Network(cmd) => network::run(&ctx, &cmd),
        Command::System(cmd) => system::run(&ctx, cmd),
        Command::Unshare(args) => unshare::run(&ctx, &args),
        Command::Version(args) => version::run(&args),
        Command::Volume(cmd) => volume::run(&ctx, cmd),
        Command::Pod(cmd) => pod::run(&ctx, cmd),
        Command::Healthcheck(cmd) => container::healthcheck(&ctx, &cmd),
        Command::Generate(cmd) => generate::run(&ctx, &cmd),
        Command::Build(args) => build::build(&ctx, &args),
        Command::Buildx(cmd) => build::buildx(&ctx, &cmd),
        Command::Quadlet(args) => quadlet::run(&ctx, &args),
        Command::Secret(cmd) => secret::run(&ctx, cmd),
        Command::Kube(cmd) => kube::run(&ctx, cmd),
        Command::Play(cmd) => kube::run_play(&ctx, cmd),
        Command::AutoUpdate(args) => auto_update::run(&ctx, &args),
        Command::Init(args) => init::run(&ctx, &args),
        Command::Manifest(cmd) => manifest::run(&ctx, cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) if crate::host::stdio::is_closed_output(e.as_ref()) => {
            crate::host::stdio::die_of_sigpipe()
        }
        Err(e) => {
            eprintln!("Error: {}", error_text(&e));
            ExitCode::from(exit_code_of(&e))
        }
    }
}

/// The error chain on one line. Module errors already print their source
/// ("creating X: Permission denied"), so a cause whose text the line holds
/// already is not repeated.
/// Podman's prune question: `warning`, then "Are you sure...", on stdout;
/// true for an answer starting with y. End of input is an error ("EOF",
/// 125) as Podman's, so a script without -f fails instead of pruning.
pub fn confirm(warning: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        anyhow::bail!("EOF");
    }
    Ok(answer.to_ascii_lowercase().starts_with('y'))
}

pub fn error_text(e: &anyhow::Error) -> String {
    crate::engine::error::chain_text(e)
}

/// Podman's exit code for a failed command: the kind of the engine error
/// in the chain decides (a runtime's 126/127), else 125.
pub fn exit_code_of(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| c.downcast_ref::<crate::engine::Error>())
        .map_or(EXIT_HUTCH_ERROR, |e| e.kind().exit_code())
}

fn join_namespace(ctx: &Context) -> anyhow::Result<()> {
    // A record of the pause process beside the user's data, which every
    // command of this user finds whatever runtime directory it picked (see
    // `enter_shared`).
    let shared = ctx.data_dir.join("pause.pid");
    // HUTCH_NO_PAUSE_PROCESS=1 (Podman 6's PODMAN_NO_PAUSE_PROCESS):
    // hold the namespace through nsfs file handles on Linux >= 6.18
    // instead of a pause process; read only when one is to be created.
    let no_pause =
        || std::env::var("HUTCH_NO_PAUSE_PROCESS").is_ok_and(|v| !matches!(v.as_str(), "" | "0"));
    let entered = hutch_userns::namespace::enter_holding(
        &ctx.identity,
        &ctx.run_dir,
        Some(&shared),
        no_pause,
    )?;
    for warning in &entered.warnings {
        eprintln!("Warning: {warning}");
    }
    // SAFETY: still single-threaded (nothing has spawned a thread before the
    // namespace is joined), so no other thread can read the environment.
    unsafe {
        std::env::set_var(hutch_userns::ROOTLESS_UID_ENV, ctx.identity.uid.to_string());
        std::env::set_var("_HUTCH_ROOTLESS_GID", ctx.identity.gid.to_string());
    }
    if entered.created && entered.pause_pid > 0 {
        crate::cgroups::systemd::move_pause(ctx, entered.pause_pid);
    }
    Ok(())
}

/// Podman's log levels, in its order.
const LOG_LEVELS: [&str; 8] = [
    "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic",
];

/// A `--log-level` name as tracing's level; `fatal` and `panic` log errors
/// only, as tracing has nothing above.
fn log_level(name: &str) -> Option<tracing::Level> {
    Some(match name {
        "trace" => tracing::Level::TRACE,
        "debug" => tracing::Level::DEBUG,
        "info" => tracing::Level::INFO,
        "warn" | "warning" => tracing::Level::WARN,
        "error" | "fatal" | "panic" => tracing::Level::ERROR,
        _ => return None,
    })
}

fn init_tracing(level: tracing::Level) {
    // Builds no thread: the subscriber writes to stderr synchronously.
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .event_format(logfmt::Logrus::new())
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn a_flag_given_twice_takes_the_last_value() {
        let cli = Cli::try_parse_from([
            "hutch",
            "--log-level",
            "debug",
            "--log-level",
            "error",
            "run",
            "--name",
            "a",
            "--name",
            "b",
            "--rm",
            "--rm",
            "-e",
            "A=1",
            "-e",
            "B=2",
            "--userns",
            "host",
            "--userns",
            "keep-id",
            "busybox",
        ])
        .expect("parses");
        assert_eq!(cli.log_level, "error");
        let Some(Command::Run(run)) = cli.command else {
            panic!("not run: {:?}", cli.command);
        };
        let text = format!("{run:?}");
        assert!(text.contains(r#"name: Some("b")"#), "{text}");
        assert!(text.contains(r#"userns: Some("keep-id")"#), "{text}");
        assert!(text.contains(r#"env: ["A=1", "B=2"]"#), "{text}");
        let ps = Cli::try_parse_from(["hutch", "ps", "--format", "x", "--format", "{{.ID}}"])
            .expect("parses");
        assert!(format!("{ps:?}").contains(r#"format: Some("{{.ID}}")"#));
    }
}
