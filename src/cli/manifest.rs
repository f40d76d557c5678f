//! `manifest create|add|annotate|inspect|exists|rm|remove|push`: flags into
//! the engine's manifest-list options (src/engine/image/manifest_list.rs).

use std::process::ExitCode;

use anyhow::Context as _;

use super::progress::Progress;
use super::registry::CommonRegistryArgs;
use crate::config::Context;
use crate::engine::image::manifest_list::{self as lists, InstanceOptions, ManifestFormat};
use crate::engine::image::{self as engine, remove};

// Podman's own words for each (`podman manifest --help`).
#[derive(Debug, clap::Subcommand)]
pub enum ManifestCommand {
    /// Create manifest list or image index
    Create(CreateArgs),
    /// Add images to a manifest list or image index
    Add(AddArgs),
    /// Add or update information about an entry in a manifest list or image index
    Annotate(AnnotateArgs),
    /// Display the contents of a manifest list or image index
    Inspect(InspectArgs),
    /// Check if a manifest list exists in local storage
    Exists(NameArgs),
    /// Remove manifest list or image index from local storage
    Rm(RmArgs),
    /// Remove an entry from a manifest list or image index
    Remove(RemoveArgs),
    /// Push a manifest list or image index to a registry
    Push(PushArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Add all of the lists' images if the images to add are lists
    #[arg(long)]
    pub(crate) all: bool,
    /// Modify an existing list if one with the desired name already exists
    #[arg(short, long)]
    pub(crate) amend: bool,
    /// Require HTTPS and verify certificates when accessing the registry
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) tls_verify: Option<bool>,
    pub(crate) list: String,
    pub(crate) images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct InstanceArgs {
    /// Set an annotation for the specified image
    #[arg(long, value_name = "annotation")]
    pub(crate) annotation: Vec<String>,
    /// Override the architecture of the specified image
    #[arg(long, value_name = "architecture")]
    pub(crate) arch: Option<String>,
    /// Override the features of the specified image
    #[arg(long, value_name = "features", value_delimiter = ',')]
    pub(crate) features: Vec<String>,
    /// Override the OS of the specified image
    #[arg(long, value_name = "OS")]
    pub(crate) os: Option<String>,
    /// Override the OS version of the specified image
    #[arg(long, value_name = "version")]
    pub(crate) os_version: Option<String>,
    /// Override the Variant of the specified image
    #[arg(long, value_name = "Variant")]
    pub(crate) variant: Option<String>,
}

impl InstanceArgs {
    fn options(&self, os_features: &[String]) -> InstanceOptions {
        InstanceOptions {
            arch: self.arch.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            os_version: self.os_version.clone(),
            features: self.features.clone(),
            os_features: os_features.to_vec(),
            annotations: self.annotation.clone(),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Add all of the list's images if the image is a list
    #[arg(long)]
    pub(crate) all: bool,
    #[command(flatten)]
    pub(crate) instance: InstanceArgs,
    #[command(flatten)]
    pub(crate) registry: CommonRegistryArgs,
    /// Use certificates at the specified path to access the registry
    #[arg(long, value_name = "string")]
    pub(crate) cert_dir: Option<std::path::PathBuf>,
    pub(crate) list: String,
    pub(crate) image: String,
}

#[derive(Debug, clap::Args)]
pub struct AnnotateArgs {
    #[command(flatten)]
    pub(crate) instance: InstanceArgs,
    /// Override the OS features of the specified image
    #[arg(long, value_name = "features", value_delimiter = ',')]
    pub(crate) os_features: Vec<String>,
    pub(crate) list: String,
    pub(crate) digest: String,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    pub(crate) name: String,
}

#[derive(Debug, clap::Args)]
pub struct NameArgs {
    pub(crate) name: String,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    #[arg(required = true)]
    pub(crate) lists: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    pub(crate) list: String,
    pub(crate) digest: String,
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Also push the images in the list (always done: see docs/compat.md)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) all: Option<bool>,
    #[command(flatten)]
    pub(crate) registry: CommonRegistryArgs,
    /// Use certificates at the specified path to access the registry
    #[arg(long, value_name = "string")]
    pub(crate) cert_dir: Option<std::path::PathBuf>,
    /// Compression format to use
    #[arg(long, value_name = "string")]
    pub(crate) compression_format: Option<String>,
    /// After copying the image, write the digest of the resulting digest to the file
    #[arg(long, value_name = "string")]
    pub(crate) digestfile: Option<std::path::PathBuf>,
    /// Manifest type (oci or v2s2) to attempt to use when pushing the manifest list
    #[arg(short, long, value_name = "string")]
    pub(crate) format: Option<String>,
    /// Don't output progress information when pushing lists
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Don't copy signatures when pushing images
    #[arg(long)]
    pub(crate) remove_signatures: bool,
    /// Remove the manifest list if push succeeds
    #[arg(long)]
    pub(crate) rm: bool,
    /// Sign the image using a GPG key with the specified FINGERPRINT
    #[arg(long, value_name = "FINGERPRINT")]
    pub(crate) sign_by: Option<String>,
    /// Sign the image using a sigstore private key at PATH
    #[arg(long, value_name = "PATH")]
    pub(crate) sign_by_sigstore_private_key: Option<std::path::PathBuf>,
    /// Read a passphrase for signing an image from PATH
    #[arg(long, value_name = "PATH")]
    pub(crate) sign_passphrase_file: Option<std::path::PathBuf>,
    pub(crate) list: String,
    pub(crate) destination: String,
}

pub fn run(ctx: &Context, cmd: ManifestCommand) -> anyhow::Result<ExitCode> {
    let store = engine::open_store(ctx)?;
    match cmd {
        ManifestCommand::Create(a) => {
            let opts = lists::CreateOptions {
                name: a.list.clone(),
                images: a.images.clone(),
                all: a.all,
                amend: a.amend,
                registry: crate::engine::image::pull::RegistryOptions {
                    tls_verify: a.tls_verify,
                    ..Default::default()
                },
            };
            println!("{}", lists::create(ctx, &store, &opts)?);
        }
        ManifestCommand::Add(a) => {
            super::registry::check_cert_dir(a.cert_dir.as_deref())?;
            let opts = lists::AddOptions {
                list: a.list.clone(),
                image: a.image.clone(),
                all: a.all,
                instance: a.instance.options(&[]),
                registry: a.registry.options(),
            };
            println!("{}", lists::add(ctx, &store, &opts)?);
        }
        ManifestCommand::Annotate(a) => {
            let opts = a.instance.options(&a.os_features);
            println!("{}", lists::annotate(&store, &a.list, &a.digest, &opts)?);
        }
        ManifestCommand::Inspect(a) => {
            println!("{}", lists::inspect(ctx, &store, &a.name)?);
        }
        ManifestCommand::Exists(a) => {
            return Ok(match lists::exists(&store, &a.name)? {
                true => ExitCode::SUCCESS,
                false => ExitCode::from(1),
            });
        }
        ManifestCommand::Rm(a) => {
            // Only lists: an image named here is refused, not removed.
            let mut code = 0u8;
            let mut targets = Vec::new();
            for name in &a.lists {
                match lists::exists(&store, name) {
                    Ok(true) => targets.push(name.clone()),
                    Ok(false) => {
                        eprintln!("Error: {name}: image not known");
                        code = code.max(1);
                    }
                    Err(e) => {
                        eprintln!("Error: {}", super::error_text(&e.into()));
                        code = 125;
                    }
                }
            }
            let report = remove::remove(&store, &targets, false, false)?;
            for n in &report.untagged {
                println!("Untagged: {n}");
            }
            for d in &report.deleted {
                println!("Deleted: {d}");
            }
            for e in &report.errors {
                eprintln!("Error: {e}");
            }
            return Ok(ExitCode::from(code.max(report.exit_code)));
        }
        ManifestCommand::Remove(a) => {
            println!("{}", lists::remove_instance(&store, &a.list, &a.digest)?);
        }
        ManifestCommand::Push(a) => return push(ctx, &store, &a),
    }
    Ok(ExitCode::SUCCESS)
}

fn push(ctx: &Context, store: &hutch_storage::Store, a: &PushArgs) -> anyhow::Result<ExitCode> {
    super::registry::check_cert_dir(a.cert_dir.as_deref())?;
    if let Some(c) = &a.compression_format {
        super::registry::check_compression(c)?;
    }
    let format = a
        .format
        .as_deref()
        .map(|f| {
            ManifestFormat::parse(f).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown format {f:?}. Choose one of the supported formats: 'oci' or 'v2s2'"
                )
            })
        })
        .transpose()?;
    let opts = lists::PushOptions {
        list: a.list.clone(),
        destination: a.destination.clone(),
        format,
        remove: a.rm,
        registry: a.registry.options(),
    };
    let (sigstore, gpg) = super::registry::signers(
        a.sign_by.as_deref(),
        a.sign_by_sigstore_private_key.as_deref(),
        a.sign_passphrase_file.as_deref(),
    )?;
    let signers = crate::engine::image::pull::Signers {
        sigstore: sigstore.as_ref(),
        gpg: gpg.as_ref(),
    };
    let mut progress = Progress::new(a.quiet, "Pushing");
    let digest = lists::push_signed(ctx, store, &opts, signers, &mut |r, e| progress.event(r, e))?;
    if let Some(f) = &a.digestfile {
        std::fs::write(f, digest.to_string())
            .with_context(|| format!("writing {}", f.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
