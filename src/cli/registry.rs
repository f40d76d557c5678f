//! `pull`, `push`, `login` and `logout`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::progress::Progress;
use crate::config::Context;
use crate::engine::image::manifest_list::ManifestFormat;
use crate::engine::image::pull::{self, PullRequest, PushRequest, RegistryOptions};
use crate::engine::image::{self as engine, transfer};
use crate::image::reference;
use crate::image::registry::{Credentials, Platform};

#[derive(Debug, clap::Args)]
pub struct CommonRegistryArgs {
    /// Require HTTPS and verify certificates when contacting registries
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) tls_verify: Option<bool>,
    /// Credentials (USERNAME:PASSWORD) to use for authenticating to a registry
    #[arg(long)]
    pub(crate) creds: Option<String>,
    /// Path of the authentication file
    #[arg(long)]
    pub(crate) authfile: Option<std::path::PathBuf>,
    /// This is a Docker specific option and is a NOOP
    #[arg(long)]
    pub(crate) disable_content_trust: bool,
}

impl CommonRegistryArgs {
    pub(crate) fn options(&self) -> RegistryOptions {
        RegistryOptions {
            tls_verify: self.tls_verify,
            creds: self.creds.clone(),
            authfile: self.authfile.clone(),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub(crate) common: CommonRegistryArgs,
    /// Choose a platform (os/arch[/variant]) from a manifest list
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// Use ARCH instead of the architecture of the machine
    #[arg(long)]
    pub(crate) arch: Option<String>,
    /// Use OS instead of the running OS
    #[arg(long)]
    pub(crate) os: Option<String>,
    /// Use VARIANT instead of the default architecture variant
    #[arg(long)]
    pub(crate) variant: Option<String>,
    /// Suppress output information when pulling images
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Pull all tagged images in the repository
    #[arg(short, long)]
    pub(crate) all_tags: bool,
    /// `Pathname` of a directory containing TLS certificates and keys
    #[arg(long, value_name = "Pathname")]
    pub(crate) cert_dir: Option<std::path::PathBuf>,
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub(crate) common: CommonRegistryArgs,
    /// Write the digest of the pushed image to this file
    #[arg(long)]
    pub(crate) digestfile: Option<std::path::PathBuf>,
    /// Suppress output information when pushing images
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Sign the image with a sigstore private key (cosign format)
    #[arg(long, value_name = "PATH")]
    pub(crate) sign_by_sigstore_private_key: Option<std::path::PathBuf>,
    /// Read a passphrase for signing an image from PATH
    #[arg(long, value_name = "PATH")]
    pub(crate) sign_passphrase_file: Option<std::path::PathBuf>,
    /// Add a signature at the destination using the specified key (GPG)
    #[arg(long, value_name = "KEY")]
    pub(crate) sign_by: Option<String>,
    /// Compress tarball image layers when pushing to a directory using the 'dir' transport
    #[arg(long)]
    pub(crate) compress: bool,
    /// Compression format to use
    #[arg(long, value_name = "string")]
    pub(crate) compression_format: Option<String>,
    /// Manifest type (oci or v2s2) to use in the destination
    #[arg(short, long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Discard any pre-existing signatures in the image
    #[arg(long)]
    pub(crate) remove_signatures: bool,
    /// Path to a directory containing TLS certificates and keys
    #[arg(long, value_name = "string")]
    pub(crate) cert_dir: Option<std::path::PathBuf>,
    pub(crate) image: String,
    pub(crate) destination: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub(crate) common: CommonRegistryArgs,
    /// Username for the registry
    #[arg(short, long)]
    pub(crate) username: Option<String>,
    /// Password for the registry
    #[arg(short, long)]
    pub(crate) password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub(crate) password_stdin: bool,
    /// Return the current login user for the registry
    #[arg(long)]
    pub(crate) get_login: bool,
    /// Write more detailed information to stdout
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Use certificates at the specified path to access the registry
    #[arg(long, value_name = "string")]
    pub(crate) cert_dir: Option<std::path::PathBuf>,
    pub(crate) registry: String,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// Path of the authentication file
    #[arg(long)]
    pub(crate) authfile: Option<std::path::PathBuf>,
    /// Remove the cached credentials for all registries in the auth file
    #[arg(short, long)]
    pub(crate) all: bool,
    pub(crate) registry: Option<String>,
}

fn platform(args: &PullArgs) -> anyhow::Result<Platform> {
    let mut p = match &args.platform {
        Some(s) => s.parse::<Platform>().map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Platform::host(),
    };
    if let Some(os) = &args.os {
        p.os = os.clone();
    }
    if let Some(arch) = &args.arch {
        p.architecture = arch.clone();
    }
    if let Some(v) = &args.variant {
        p.variant = Some(v.clone());
    }
    Ok(p)
}

pub fn pull_images(ctx: &Context, args: &PullArgs) -> anyhow::Result<ExitCode> {
    check_cert_dir(args.cert_dir.as_deref())?;
    let platform = platform(args)?;
    let store = engine::open_store(ctx)?;
    // --all-tags: the repository's every tag, each pulled as named.
    let mut names = args.images.clone();
    if args.all_tags {
        let mut tagged = Vec::new();
        for name in &names {
            let (transport, rest) = reference::strip_transport(name);
            if transport.is_some_and(|t| t != "docker") {
                bail!("--all-tags/-a requires a docker:// reference: {name}");
            }
            let repo = reference::Reference::parse(rest)?.normalized_docker_hub();
            for tag in pull::list_tags(ctx, rest, &args.common.options())? {
                tagged.push(format!("{}:{tag}", repo.name()));
            }
        }
        names = tagged;
    }
    for name in &names {
        let (transport, rest) = reference::strip_transport(name);
        let records = match transport {
            Some(t) if t != "docker" => transfer::pull_local(&store, t, rest)?,
            _ => {
                let mut progress = Progress::new(args.quiet, "Trying to pull");
                let req = PullRequest {
                    name: rest.to_owned(),
                    platform: platform.clone(),
                    options: args.common.options(),
                };
                match pull::pull(ctx, &store, &req, &mut |r, e| progress.event(r, e)) {
                    Ok(record) => vec![record],
                    Err(e) => {
                        if e.downcast_ref::<crate::image::trust::Refusal>().is_some()
                            && let Ok(r) = reference::Reference::parse(rest)
                            && !r.is_short_name()
                        {
                            progress.announce(
                                &r.normalized_docker_hub().with_default_tag().to_string(),
                            );
                        }
                        return Err(e.into());
                    }
                }
            }
        };
        for r in records {
            println!("{}", r.id.hex());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn push_image(ctx: &Context, args: &PushArgs) -> anyhow::Result<ExitCode> {
    if let Some(c) = &args.compression_format {
        check_compression(c)?;
    }
    check_cert_dir(args.cert_dir.as_deref())?;
    let format = match args.format.as_deref() {
        None => None,
        Some(f) => Some(ManifestFormat::parse(f).ok_or_else(|| {
            // Podman's text, its typo included; hutch writes no schema 1.
            anyhow::anyhow!(
                "unknown format {f:?}. Choose on of the supported formats: 'oci', 'v2s1', or 'v2s2'"
            )
        })?),
    };
    let store = engine::open_store(ctx)?;
    if let Some(dest) = &args.destination {
        let (transport, rest) = reference::strip_transport(dest);
        if let Some(t) = transport.filter(|t| *t != "docker") {
            return push_local(&store, &args.image, t, rest);
        }
    }
    let mut progress = Progress::new(args.quiet, "Pushing");
    let req = PushRequest {
        image: args.image.clone(),
        destination: args.destination.clone(),
        options: args.common.options(),
    };
    let (signer, gpg) = signers(
        args.sign_by.as_deref(),
        args.sign_by_sigstore_private_key.as_deref(),
        args.sign_passphrase_file.as_deref(),
    )?;
    let digest = pull::push_as(
        ctx,
        &store,
        &req,
        format,
        signer.as_ref(),
        gpg.as_ref(),
        &mut |r, e| progress.event(r, e),
    )?;
    if let Some(f) = &args.digestfile {
        std::fs::write(f, digest.to_string())
            .with_context(|| format!("writing {}", f.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn push_local(
    store: &hutch_storage::Store,
    image: &str,
    transport: &str,
    rest: &str,
) -> anyhow::Result<ExitCode> {
    let record = engine::lookup(store, image)?;
    let format = match transport {
        "oci-archive" => transfer::SaveFormat::OciArchive,
        "docker-archive" => transfer::SaveFormat::DockerArchive,
        "oci" => transfer::SaveFormat::OciDir,
        "dir" => transfer::SaveFormat::DockerDir,
        other => bail!("unsupported destination transport {other}"),
    };
    let (path, name) = match rest.split_once(':') {
        Some((p, n)) => (p, Some(n.to_owned())),
        None => (rest, None),
    };
    let names = name
        .map(|n| vec![n])
        .unwrap_or_else(|| record.names.clone());
    let images = [(record, names)];
    match format {
        transfer::SaveFormat::OciDir | transfer::SaveFormat::DockerDir => transfer::save(
            store,
            &images,
            format,
            None,
            Some(std::path::Path::new(path)),
        )?,
        _ => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {path}"))?;
            let mut w = std::io::BufWriter::new(file);
            transfer::save(store, &images, format, Some(&mut w), None)?;
            std::io::Write::flush(&mut w).with_context(|| format!("writing {path}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Without XDG_RUNTIME_DIR, auth.json lives in hutch's fallback runtime
/// dir, which must pass the same ownership checks as for the namespace.
fn check_runtime_dir(ctx: &Context) -> anyhow::Result<()> {
    if ctx.rootless() && !ctx.run_dir_from_xdg && !ctx.inside_namespace {
        hutch_userns::rundir::ensure(&ctx.run_dir, ctx.identity.uid)?;
    }
    Ok(())
}

pub fn login(ctx: &Context, args: &LoginArgs) -> anyhow::Result<ExitCode> {
    check_runtime_dir(ctx)?;
    check_cert_dir(args.cert_dir.as_deref())?;
    if args.get_login {
        // Podman answers from the auth file alone, whatever -u says.
        let host = pull::normalize_registry(&args.registry);
        let auth = pull::auth_file(ctx, args.common.authfile.as_deref());
        return match auth.get(&host)? {
            Some(c) => {
                println!("{}", c.username);
                Ok(ExitCode::SUCCESS)
            }
            None => bail!("not logged into {host}"),
        };
    }
    // --verbose: Podman's extra line is for reused stored credentials,
    // which hutch does not do (it wants -u), so there is nothing to add.
    let _ = args.verbose;
    let username = match &args.username {
        Some(u) => u.clone(),
        None => bail!("username is required (use -u; hutch does not prompt)"),
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else if let Some(p) = &args.password {
        p.clone()
    } else if std::io::stdin().is_terminal() {
        bail!("password is required (use -p or --password-stdin)");
    } else {
        bail!("password is required: pass --password-stdin to read it from stdin");
    };
    if password.is_empty() {
        bail!("password is empty");
    }
    pull::login(
        ctx,
        &args.registry,
        Credentials { username, password },
        &args.common.options(),
    )?;
    println!("Login Succeeded!");
    Ok(ExitCode::SUCCESS)
}

pub fn logout(ctx: &Context, args: &LogoutArgs) -> anyhow::Result<ExitCode> {
    check_runtime_dir(ctx)?;
    let auth = pull::auth_file(ctx, args.authfile.as_deref());
    if args.all {
        auth.remove_all()?;
        println!("Removed login credentials for all registries");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(reg) = &args.registry else {
        bail!("registry must be given (or --all)");
    };
    let host = pull::normalize_registry(reg);
    if !auth.remove(&host)? {
        bail!("not logged into {host}");
    }
    println!("Removed login credentials for {host}");
    Ok(ExitCode::SUCCESS)
}

/// The signers `--sign-by`, `--sign-by-sigstore-private-key` and
/// `--sign-passphrase-file` ask for (`push`, `manifest push`): the
/// sigstore key opened (its passphrase read) first, as Podman does.
pub(crate) fn signers(
    sign_by: Option<&str>,
    sigstore_key: Option<&std::path::Path>,
    passphrase_file: Option<&std::path::Path>,
) -> anyhow::Result<(
    Option<crate::engine::image::trust::SigstoreSigner>,
    Option<crate::engine::image::sign::GpgSigner>,
)> {
    let signer = match sigstore_key {
        Some(key_file) => Some(sigstore_signer(key_file, passphrase_file)?),
        None => None,
    };
    if sign_by.is_some() && sigstore_key.is_some() {
        bail!("only one of --sign-by and sign-by-sigstore-private-key can be specified");
    }
    let gpg = match sign_by {
        Some(key) => Some(crate::engine::image::sign::GpgSigner {
            key: key.to_owned(),
            passphrase_file: passphrase_file
                .map(std::path::absolute)
                .transpose()
                .context("--sign-passphrase-file")?,
        }),
        None => None,
    };
    Ok((signer, gpg))
}

/// The private key of `--sign-by-sigstore-private-key`, opened with the
/// passphrase from `--sign-passphrase-file`, or asked for on the terminal
/// as Podman does. Both files are read bounded (keys are small).
fn sigstore_signer(
    key_file: &std::path::Path,
    passphrase_file: Option<&std::path::Path>,
) -> anyhow::Result<crate::engine::image::trust::SigstoreSigner> {
    use std::io::Read;
    let limit = crate::image::trust::keys::MAX_KEY_BYTES;
    let read = |p: &std::path::Path| -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        std::fs::File::open(p)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut out))
            .with_context(|| format!("reading {}", p.display()))?;
        if out.len() as u64 > limit {
            bail!("{}: larger than {limit} bytes", p.display());
        }
        Ok(out)
    };
    let key = read(key_file)?;
    let passphrase = match passphrase_file {
        // Podman takes the file's first line.
        Some(p) => {
            let text = read(p)?;
            let line = text.split(|b| *b == b'\n').next().unwrap_or_default();
            line.strip_suffix(b"\r").unwrap_or(line).to_vec()
        }
        None => {
            if !std::io::stdin().is_terminal() {
                bail!("--sign-passphrase-file is required when standard input is not a terminal");
            }
            eprint!("Key Passphrase: ");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).as_bytes().to_vec()
        }
    };
    Ok(crate::engine::image::trust::SigstoreSigner::open(
        &key,
        &passphrase,
        key_file,
    )?)
}

/// `--compression-format`: hutch pushes layers as stored (gzip), so only
/// gzip is taken; zstd would need recompressing, which hutch does not do.
pub(crate) fn check_compression(format: &str) -> anyhow::Result<()> {
    match format {
        "gzip" => Ok(()),
        "zstd" | "zstd:chunked" => bail!(
            "--compression-format {format}: hutch pushes layers as they are stored (gzip) and does not recompress them"
        ),
        other => bail!("cannot find compressor for {other:?}"),
    }
}

/// `--cert-dir`: certificates for TLS to the registry. hutch verifies
/// against the system's CA store (and registries.conf's insecure list);
/// a directory that holds certificates is refused rather than silently
/// ignored, an empty or missing one changes nothing (as in Podman).
pub(crate) fn check_cert_dir(dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let certs: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".crt") || n.ends_with(".cert") || n.ends_with(".key"))
        .collect();
    if !certs.is_empty() {
        bail!(
            "--cert-dir {}: hutch does not load certificates from a directory yet ({}); add the CA to the system store or mark the registry insecure in registries.conf",
            dir.display(),
            certs.join(", ")
        );
    }
    Ok(())
}
