//! `image trust show|set`: the signature policy as Podman lists and edits
//! it.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Context;
use crate::engine::image::trust::{self, TrustSet};

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Display trust policy for the system
    Show(ShowArgs),
    /// Set default trust policy or a new trust policy for a registry
    Set(SetArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Output as json
    #[arg(short, long)]
    json: bool,
    /// Do not print column headings
    #[arg(short, long)]
    noheading: bool,
    /// Output raw policy file
    #[arg(long)]
    raw: bool,
    /// Path of the policy file (default: the one in force)
    #[arg(long, hide = true)]
    policypath: Option<std::path::PathBuf>,
    /// Show only this registry's scopes
    registry: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// Path of installed public key(s) to trust for TARGET
    #[arg(short = 'f', long)]
    pubkeysfile: Vec<std::path::PathBuf>,
    /// Trust type, accept values: signedBy(default), accept, reject, sigstoreSigned
    #[arg(short, long = "type", default_value = "signedBy")]
    kind: String,
    /// Path of the policy file (default: the one in force)
    #[arg(long, hide = true)]
    policypath: Option<std::path::PathBuf>,
    /// A registry, a repository, or `default`
    registry: String,
}

pub fn run(ctx: &Context, cmd: TrustCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TrustCommand::Show(a) => show(ctx, &a),
        TrustCommand::Set(a) => set(ctx, a),
    }
}

fn show(ctx: &Context, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let (path, mut rows) = trust::show(ctx, args.policypath.as_deref())?;
    if args.raw {
        let text = crate::config::policy::read_bounded(&path)?;
        println!("{}", String::from_utf8_lossy(&text).trim_end());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(reg) = &args.registry {
        rows.retain(|r| r.transport == "all" || r.name.starts_with(reg.as_str()));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    if !args.noheading {
        text.push_str("TRANSPORT\tNAME\tTYPE\tID\tSTORE\n");
    }
    for r in &rows {
        let name = if r.transport == "all" {
            "default"
        } else {
            &r.name
        };
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            r.transport, name, r.kind, r.gpg_id, r.sigstore
        ));
    }
    println!(
        "{}",
        crate::format::align_columns(text.trim_end_matches('\n'))
    );
    Ok(ExitCode::SUCCESS)
}

fn set(ctx: &Context, args: SetArgs) -> anyhow::Result<ExitCode> {
    let mut pubkeys = Vec::new();
    for k in &args.pubkeysfile {
        // Podman stores absolute paths and wants the files to exist.
        let abs = std::fs::canonicalize(k).map_err(|e| anyhow::anyhow!("{}: {e}", k.display()))?;
        pubkeys.push(abs);
    }
    trust::set(
        ctx,
        args.policypath.as_deref(),
        &TrustSet {
            scope: args.registry,
            kind: args.kind,
            pubkeys,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Sign all the manifests of the multi-architecture image
    #[arg(short, long)]
    all: bool,
    /// Path of the authentication file
    #[arg(long)]
    authfile: Option<std::path::PathBuf>,
    /// Pathname of a directory containing TLS certificates and keys (accepted; the system's CAs are used)
    #[arg(long, value_name = "Pathname")]
    cert_dir: Option<std::path::PathBuf>,
    /// Define an alternate directory to store signatures
    #[arg(short, long)]
    directory: Option<std::path::PathBuf>,
    /// Name of the signing key
    #[arg(long)]
    sign_by: Option<String>,
    /// Read a passphrase for signing an image from PATH
    #[arg(long, value_name = "PATH")]
    sign_passphrase_file: Option<std::path::PathBuf>,
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

/// `image sign`: a GPG simple signing signature of each image's manifest,
/// written to `--directory` or the registry's lookaside staging store.
pub fn sign(ctx: &Context, args: SignArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    let Some(key) = args.sign_by else {
        anyhow::bail!("no signing key was specified. Please specify a key using --sign-by");
    };
    let absolute = |p: Option<std::path::PathBuf>, what: &str| {
        p.map(|p| std::path::absolute(&p))
            .transpose()
            .with_context(|| what.to_owned())
    };
    let req = crate::engine::image::sign::SignRequest {
        images: args.images,
        signer: crate::engine::image::sign::GpgSigner {
            key,
            passphrase_file: absolute(args.sign_passphrase_file, "--sign-passphrase-file")?,
        },
        directory: absolute(args.directory, "--directory")?,
        all: args.all,
        options: crate::engine::image::pull::RegistryOptions {
            tls_verify: None,
            creds: None,
            authfile: args.authfile,
        },
    };
    let _ = args.cert_dir;
    crate::engine::image::sign::sign_images(ctx, &req)?;
    Ok(ExitCode::SUCCESS)
}
