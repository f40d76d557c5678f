//! Image commands: `images`, `rmi`, `tag`, `untag`, `import` and the
//! `image ...` family. Each turns flags into an engine call and prints the
//! answer as Podman does.

use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

use crate::config::Context;
use crate::engine::image::{self as engine, history, import, inspect, list, remove, transfer};
use crate::format::{OutputFormat, Template, to_json_pretty};
use crate::host::time;

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Check if an image exists in local storage
    Exists(ExistsArgs),
    /// Show history of a specified image
    History(HistoryArgs),
    /// Load image(s) from a tar archive
    Load(LoadArgs),
    /// Pull an image from a registry or an archive
    Pull(super::registry::PullArgs),
    /// Search registry for image
    Search(super::search::SearchArgs),
    /// Securely copy images
    Scp(super::scp::ScpArgs),
    /// Push an image to a registry or an archive
    Push(super::registry::PushArgs),
    /// Save image(s) to an archive
    Save(SaveArgs),
    /// Import a tarball to create a filesystem image
    Import(ImportArgs),
    /// Display the configuration of an image
    Inspect(InspectArgs),
    /// List images in local storage
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Mount an image's root filesystem (read-only) and print the mount point
    Mount(MountArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Remove one or more images from local storage
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Unmount an image's root filesystem
    #[command(visible_alias = "umount")]
    Unmount(UnmountArgs),
    /// Remove a name from a local image
    Untag(UntagArgs),
    /// Build an image using instructions from Containerfiles
    Build(Box<super::build::BuildArgs>),
    /// Copy an image into a shared read-only store (storage.conf additionalimagestores of other users)
    Publish(PublishArgs),
    /// Manage container image trust policy
    #[command(subcommand)]
    Trust(super::trust::TrustCommand),
    /// Sign an image
    Sign(super::trust::SignArgs),
    /// Print layer hierarchy of an image in a tree format
    Tree(TreeArgs),
    /// Inspect changes to the image's file systems
    Diff(super::container::DiffArgs),
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The shared store's directory (made if missing)
    #[arg(long)]
    pub(crate) store: std::path::PathBuf,
    /// The image to publish
    pub(crate) image: String,
}

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Show all images (no intermediate images are kept, so the same as without)
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Show digests
    #[arg(long)]
    pub(crate) digests: bool,
    /// Filter output based on conditions provided
    #[arg(short, long)]
    pub(crate) filter: Vec<String>,
    /// Change the output format to JSON or a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Do not print column headings
    #[arg(short = 'n', long)]
    pub(crate) noheading: bool,
    /// Do not truncate output
    #[arg(long)]
    pub(crate) no_trunc: bool,
    /// Display only image IDs
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Sort by created, id, repository, size or tag
    #[arg(long, default_value = "created")]
    pub(crate) sort: String,
    /// Display the image name history
    #[arg(long)]
    pub(crate) history: bool,
    /// Show only images matching this name
    pub(crate) image: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmiArgs {
    /// Remove all images
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Force removal of the image, even if containers use it (missing images are ignored)
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Ignore errors if a specified image does not exist
    #[arg(short, long)]
    pub(crate) ignore: bool,
    /// Do not remove dangling parent images
    // hutch records no parent links between images (inspect's Parent is
    // empty), so `rmi` removes the named images only, with or without it.
    #[arg(long)]
    pub(crate) no_prune: bool,
    pub(crate) images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    pub(crate) image: String,
    #[arg(required = true)]
    pub(crate) target_names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct UntagArgs {
    pub(crate) image: String,
    pub(crate) names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ExistsArgs {
    pub(crate) image: String,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format the output using a Go template
    #[arg(short, long)]
    pub(crate) format: Option<String>,
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct MountArgs {
    /// Mount all images
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Print the mounted images in specified format (json)
    #[arg(long)]
    pub(crate) format: Option<String>,
    pub(crate) images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct UnmountArgs {
    /// Unmount all of the currently mounted images
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Force the complete unmount of the specified mounted images
    #[arg(short, long)]
    pub(crate) force: bool,
    pub(crate) images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all images not in use by containers, not just dangling ones
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Remove images even when they are used by external containers (e.g., by build containers)
    #[arg(long)]
    pub(crate) external: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long)]
    pub(crate) filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL)
    #[arg(short, long)]
    pub(crate) change: Vec<String>,
    /// Set a commit message for the imported image
    #[arg(short, long)]
    pub(crate) message: Option<String>,
    /// Suppress output
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Set the architecture of the imported image
    #[arg(long, value_name = "string")]
    pub(crate) arch: Option<String>,
    /// Set the OS of the imported image
    #[arg(long, value_name = "string")]
    pub(crate) os: Option<String>,
    /// Set the variant of the imported image
    #[arg(long, value_name = "string")]
    pub(crate) variant: Option<String>,
    /// The tarball: a path, or - for standard input
    pub(crate) path: String,
    /// Name for the new image
    pub(crate) reference: Option<String>,
}

pub fn run(ctx: &Context, cmd: ImageCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ImageCommand::Exists(a) => exists(ctx, &a),
        ImageCommand::History(a) => image_history(ctx, &a),
        ImageCommand::Diff(a) => {
            super::container::diff_of(ctx, &a, super::container::DiffObject::Image)
        }
        ImageCommand::Load(a) => load(ctx, &a),
        ImageCommand::Pull(a) => super::registry::pull_images(ctx, &a),
        ImageCommand::Search(a) => super::search::run(ctx, &a),
        ImageCommand::Scp(a) => super::scp::run(ctx, &a),
        ImageCommand::Push(a) => super::registry::push_image(ctx, &a),
        ImageCommand::Save(a) => save(ctx, &a),
        ImageCommand::Import(a) => import_image(ctx, a),
        ImageCommand::Inspect(a) => inspect_images(ctx, &a),
        ImageCommand::Ls(a) => images(ctx, &a),
        ImageCommand::Mount(a) => mount(ctx, &a),
        ImageCommand::Prune(a) => prune(ctx, &a),
        ImageCommand::Rm(a) => rmi(ctx, &a),
        ImageCommand::Tag(a) => tag(ctx, &a),
        ImageCommand::Unmount(a) => unmount(ctx, &a),
        ImageCommand::Untag(a) => untag(ctx, &a),
        ImageCommand::Build(a) => super::build::build(ctx, &a),
        ImageCommand::Publish(a) => publish(ctx, &a),
        ImageCommand::Trust(c) => super::trust::run(ctx, c),
        ImageCommand::Sign(a) => super::trust::sign(ctx, a),
        ImageCommand::Tree(a) => image_tree(ctx, &a),
    }
}

pub fn images(ctx: &Context, args: &ImagesArgs) -> anyhow::Result<ExitCode> {
    check_sort(&args.sort)?;
    let store = engine::open_store(ctx)?;
    let req = list::ListRequest {
        filters: args.filter.clone(),
        name: args.image.clone(),
    };
    let listed = list::list(&store, &req)?;
    let now = time::now();
    let mut rows = Vec::new();
    for l in &listed {
        if l.record.names.is_empty() {
            rows.push(list::row_view(l, None, now));
        }
        for name in &l.record.names {
            rows.push(list::row_view(l, Some(name), now));
        }
    }
    // Podman's HISTORY column: the names the image has had, newest first.
    // hutch's store keeps the current names only (newest first too), so a
    // name the image lost is not shown (docs/compat.md).
    if args.history {
        for (row, l) in rows.iter_mut().zip(
            listed
                .iter()
                .flat_map(|l| std::iter::repeat_n(l, l.record.names.len().max(1))),
        ) {
            row["History"] = serde_json::json!(l.record.names.join(", "));
        }
    }
    let per_image: Vec<serde_json::Value> = listed.iter().map(list::json_view).collect();
    print_images(args, rows, per_image)
}

/// `--sort`'s fields, checked before anything is listed.
pub(crate) fn check_sort(sort: &str) -> anyhow::Result<()> {
    if !matches!(sort, "created" | "id" | "repository" | "size" | "tag") {
        anyhow::bail!(
            "{sort:?} is not a valid field for sorting. Choose from: id, repository, size, tag, created"
        );
    }
    Ok(())
}

/// Prints `images`' rows (one per name, [`list::row_view`]s, newest image
/// first) or, for `--format json`, the per-image documents; the remote
/// client prints the service's listing with it too.
pub(crate) fn print_images(
    args: &ImagesArgs,
    mut rows: Vec<serde_json::Value>,
    per_image: Vec<serde_json::Value>,
) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = r["Id"].as_str().unwrap_or_default();
            if seen.insert(id.to_owned()) {
                if args.no_trunc {
                    println!("sha256:{id}");
                } else {
                    println!("{}", id.get(..12).unwrap_or(id));
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.no_trunc {
        for row in &mut rows {
            let full = format!("sha256:{}", row["Id"].as_str().unwrap_or_default());
            row["ID"] = serde_json::json!(full);
        }
    }
    // Podman's orders: the newest first, else ascending by the field; the
    // list comes newest first already, and the sort is stable.
    let text = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or_default().to_owned();
    match args.sort.as_str() {
        "id" => rows.sort_by_key(|r| text(r, "ID")),
        "repository" => rows.sort_by_key(|r| text(r, "Repository")),
        "tag" => rows.sort_by_key(|r| text(r, "Tag")),
        "size" => rows.sort_by_key(|r| r["VirtualSize"].as_u64().unwrap_or(0)),
        _ => {}
    }
    let headers: HashMap<String, String> = [
        ("ID", "IMAGE ID"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("ReadOnly", "R/O"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let template = match format {
        OutputFormat::Json => {
            println!("{}", to_json_pretty(&serde_json::Value::Array(per_image)));
            return Ok(ExitCode::SUCCESS);
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => {
            let digest = if args.digests { "\t{{.Digest}}" } else { "" };
            // Podman adds its R/O column when a read-only store's image
            // is listed.
            let read_only = if rows.iter().any(|r| r["ReadOnly"] == true) {
                "\t{{.ReadOnly}}"
            } else {
                ""
            };
            let history = if args.history { "\t{{.History}}" } else { "" };
            Template::parse(&format!(
                "table {{{{.Repository}}}}\t{{{{.Tag}}}}{digest}\t{{{{.ID}}}}\t{{{{.CreatedSince}}}}\t{{{{.Size}}}}{read_only}{history}"
            ))?
        }
    };
    let template = if args.noheading {
        template.without_heading()
    } else {
        template
    };
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(ExitCode::SUCCESS)
}

fn exists(ctx: &Context, args: &ExistsArgs) -> anyhow::Result<ExitCode> {
    let store = engine::open_store(ctx)?;
    match engine::lookup(&store, &args.image) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(engine::LookupError::NotKnown(_)) => Ok(ExitCode::from(1)),
        Err(e) => Err(e.into()),
    }
}

pub fn import_image(ctx: &Context, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = engine::open_store(ctx)?;
    let source: Box<dyn Read> = if args.path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&args.path).with_context(|| format!("opening {}", args.path))?)
    };
    let record = import::import(
        &store,
        import::ImportRequest {
            source,
            source_name: if args.path == "-" {
                "standard input".into()
            } else {
                args.path.clone()
            },
            reference: args.reference,
            changes: args.change,
            message: args.message,
            arch: args.arch,
            os: args.os,
            variant: args.variant,
            annotations: Default::default(),
        },
    )?;
    println!("{}", record.id.hex());
    Ok(ExitCode::SUCCESS)
}

pub fn inspect_images(ctx: &Context, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    let store = engine::open_store(ctx)?;
    let mut views = Vec::new();
    let mut missing = Vec::new();
    for name in &args.images {
        match engine::lookup(&store, name) {
            Ok(img) => views.push(inspect::inspect(&store, &img)?),
            Err(engine::LookupError::NotKnown(n)) => missing.push(format!("{n}: image not known")),
            Err(e) => return Err(e.into()),
        }
    }
    match format {
        OutputFormat::Template(t) => {
            for v in &views {
                print!("{}", t.render_one(v)?);
            }
        }
        _ => println!("{}", to_json_pretty(&serde_json::Value::Array(views))),
    }
    if !missing.is_empty() {
        return Err(super::container::inspect::not_found(&missing));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rmi(ctx: &Context, args: &RmiArgs) -> anyhow::Result<ExitCode> {
    let store = engine::open_store(ctx)?;
    let inputs: Vec<String> = if args.all {
        store
            .images
            .list()?
            .iter()
            .map(|i| i.id.hex().to_owned())
            .collect()
    } else {
        if args.images.is_empty() {
            anyhow::bail!("image name or ID must be specified");
        }
        args.images.clone()
    };
    let report = remove::remove(&store, &inputs, args.force, args.force || args.ignore)?;
    for n in &report.untagged {
        println!("Untagged: {n}");
    }
    for d in &report.deleted {
        println!("Deleted: {d}");
    }
    for e in &report.errors {
        eprintln!("Error: {e}");
    }
    Ok(ExitCode::from(report.exit_code))
}

pub fn tag(ctx: &Context, args: &TagArgs) -> anyhow::Result<ExitCode> {
    let store = engine::open_store(ctx)?;
    let image = engine::lookup(&store, &args.image)?;
    for target in &args.target_names {
        engine::tag(&store, &image, target)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn untag(ctx: &Context, args: &UntagArgs) -> anyhow::Result<ExitCode> {
    let store = engine::open_store(ctx)?;
    engine::untag(&store, &args.image, &args.names)?;
    Ok(ExitCode::SUCCESS)
}

fn publish(ctx: &Context, args: &PublishArgs) -> anyhow::Result<ExitCode> {
    let store_dir = if args.store.is_absolute() {
        args.store.clone()
    } else {
        std::env::current_dir()
            .context("resolving --store against the working directory")?
            .join(&args.store)
    };
    let store = engine::open_store(ctx)?;
    let report = engine::publish::publish(
        &store,
        &engine::publish::PublishOptions {
            image: args.image.clone(),
            store: store_dir,
        },
    )?;
    println!("{}", report.id);
    Ok(ExitCode::SUCCESS)
}

/// `image mount [IMAGE...]`: with names, their mount points; with --all
/// or nothing, the list of mounted images as Podman prints it.
fn mount(ctx: &Context, args: &MountArgs) -> anyhow::Result<ExitCode> {
    if args.all && !args.images.is_empty() {
        anyhow::bail!("when using the --all switch, you may not pass any image names or IDs");
    }
    let json = match args.format.as_deref() {
        None => false,
        Some("json") => true,
        Some(f) => anyhow::bail!("unknown --format argument: {f:?}"),
    };
    let store = engine::open_store(ctx)?;
    if !args.images.is_empty() {
        for name in &args.images {
            println!("{}", engine::mount(&store, name)?.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.all {
        for (image, _) in store.all_images()? {
            engine::mount(&store, image.id.hex())?;
        }
    }
    let mounted = engine::mounted(&store)?;
    if json {
        let rows: Vec<serde_json::Value> = mounted
            .iter()
            .map(|(i, p)| {
                serde_json::json!({
                    "id": i.id.hex(),
                    "Names": [i.digest.to_string()],
                    "Repositories": i.names,
                    "mountpoint": p.display().to_string(),
                })
            })
            .collect();
        println!(
            "{}",
            crate::format::to_json_pretty(&serde_json::Value::Array(rows))
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for (i, p) in &mounted {
        let name = i
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| i.id.hex().to_owned());
        text += &format!("{name}\t{}\n", p.display());
    }
    print!("{}", crate::format::align_columns(&text));
    Ok(ExitCode::SUCCESS)
}

/// `image unmount`: hutch keeps no mount count, so every unmount is
/// complete, as Podman's with --force.
fn unmount(ctx: &Context, args: &UnmountArgs) -> anyhow::Result<ExitCode> {
    if args.all && !args.images.is_empty() {
        anyhow::bail!("when using the --all switch, you may not pass any image names or IDs");
    }
    if !args.all && args.images.is_empty() {
        anyhow::bail!("image name or ID must be specified");
    }
    let _ = args.force;
    let store = engine::open_store(ctx)?;
    let names: Vec<String> = if args.all {
        engine::mounted(&store)?
            .into_iter()
            .map(|(i, _)| i.id.hex().to_owned())
            .collect()
    } else {
        args.images.clone()
    };
    for name in &names {
        if let Some(id) = engine::unmount(&store, name)? {
            println!("{id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn prune(ctx: &Context, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    if !args.force
        && !crate::cli::confirm(if args.all {
            "WARNING! This command removes all images without at least one container associated with them."
        } else {
            "WARNING! This command removes all dangling images."
        })?
    {
        return Ok(ExitCode::SUCCESS);
    }
    let filters = crate::engine::prune_filter::PruneFilters::parse(
        &args.filter,
        crate::engine::prune_filter::PruneKind::Image,
        crate::host::time::now_ns(),
    )?;
    let store = engine::open_store(ctx)?;
    // --external: hutch's builds leave no containers of their own in the
    // store, so there are none of Podman's "external" ones to remove.
    let opts = engine::prune::ImagePruneOptions {
        all: args.all,
        filters,
    };
    for id in engine::prune::prune(&store, &opts)? {
        println!("{id}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Save image to oci-archive, oci-dir (directory with oci manifest type), docker-archive, docker-dir (directory with v2s2 manifest type)
    #[arg(long, default_value = "docker-archive")]
    pub(crate) format: String,
    /// Write to a file (or directory for oci-dir and docker-dir), default is STDOUT
    #[arg(short, long)]
    pub(crate) output: Option<std::path::PathBuf>,
    /// Interpret additional arguments as images not tags and create a multi-image-archive (docker-archive only; always on in hutch)
    #[arg(short, long)]
    pub(crate) multi_image_archive: bool,
    /// Compress tarball image layers when saving to a directory (docker-dir: layers kept as stored)
    #[arg(long)]
    pub(crate) compress: bool,
    /// Accept uncompressed layers when copying OCI images
    #[arg(long)]
    pub(crate) uncompressed: bool,
    /// Suppress the output
    #[arg(short, long)]
    pub(crate) quiet: bool,
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Read from specified archive file (default: stdin)
    #[arg(short, long)]
    pub(crate) input: Option<std::path::PathBuf>,
    /// Suppress the output
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

pub fn save(ctx: &Context, args: &SaveArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let format = transfer::SaveFormat::parse(&args.format)?;
    let store = engine::open_store(ctx)?;
    let mut images = Vec::new();
    for name in &args.images {
        images.push(transfer::lookup_for_save(&store, name)?);
    }
    let dir_format = matches!(
        format,
        transfer::SaveFormat::OciDir | transfer::SaveFormat::DockerDir
    );
    match (&args.output, dir_format) {
        // Podman's docker-dir layers are uncompressed unless --compress
        // (--uncompressed changes nothing more, as in Podman 4.3).
        (Some(dir), true) => {
            transfer::save_layers(&store, &images, format, None, Some(dir), !args.compress)?
        }
        (None, true) => anyhow::bail!("--format {} needs a directory given with -o", args.format),
        (Some(path), false) => {
            // Write-then-rename: an interrupted save never leaves a truncated
            // archive under the requested name.
            let tmp = path.with_extension("hutch-partial");
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let result = transfer::save(&store, &images, format, Some(&mut w), None)
                .map_err(anyhow::Error::from)
                .and_then(|()| w.into_inner().map_err(|e| e.into_error().into()).map(drop))
                .and_then(|()| {
                    std::fs::rename(&tmp, path)
                        .with_context(|| format!("writing {}", path.display()))
                });
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        (None, false) => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                anyhow::bail!("refusing to save to terminal. Use -o flag or redirect");
            }
            let mut w = std::io::BufWriter::new(stdout.lock());
            transfer::save(&store, &images, format, Some(&mut w), None)?;
            std::io::Write::flush(&mut w).context("writing to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn load(ctx: &Context, args: &LoadArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let store = engine::open_store(ctx)?;
    let records = match &args.input {
        Some(path) => {
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            transfer::load(
                &store,
                std::io::BufReader::new(file),
                &path.display().to_string(),
            )?
        }
        None => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!(
                    "cannot read from terminal, use command-line redirection or the --input flag"
                );
            }
            transfer::load(&store, std::io::stdin().lock(), "standard input")?
        }
    };
    if !args.quiet {
        for r in &records {
            if r.names.is_empty() {
                println!("Loaded image: {}", r.id);
            }
            for n in &r.names {
                println!("Loaded image: {n}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Change the output to JSON or a Go template
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Display the numeric IDs only
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub(crate) no_trunc: bool,
    /// Display sizes and dates in human readable format (--human=false: dates as RFC 3339)
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) human: bool,
    pub(crate) image: String,
}

#[derive(Debug, clap::Args)]
pub struct TreeArgs {
    /// Show all child images and layers of the specified image
    #[arg(long)]
    pub(crate) whatrequires: bool,
    pub(crate) image: String,
}

/// `image tree`: printed as podman 4.3.1 prints it: a header, then one
/// branch per layer; with `--whatrequires` the layers on the image's top
/// one, depth first, on one level (podman nests no fork either).
pub fn image_tree(ctx: &Context, args: &TreeArgs) -> anyhow::Result<ExitCode> {
    let store = engine::open_store(ctx)?;
    let image = engine::lookup(&store, &args.image)?;
    let text = crate::engine::image::tree::text(&store, &image, args.whatrequires)?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

pub fn image_history(ctx: &Context, args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    OutputFormat::parse(args.format.as_deref())?;
    let store = engine::open_store(ctx)?;
    let image = engine::lookup(&store, &args.image)?;
    let rows = history::history(&store, &image, time::now())?;
    print_history(args, rows)
}

/// Prints `history`'s rows ([`history::history`]'s); the remote client
/// prints the service's with it too.
pub(crate) fn print_history(
    args: &HistoryArgs,
    mut rows: Vec<serde_json::Value>,
) -> anyhow::Result<ExitCode> {
    let format = OutputFormat::parse(args.format.as_deref())?;
    if args.no_trunc {
        for r in &mut rows {
            r["ID"] = r["RawID"].clone();
        }
    }
    if args.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let OutputFormat::Json = format {
        // Podman 4.3.1 prints its raw entries, on one line.
        let raw: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let created = crate::host::time::rfc3339(r["RawCreated"].as_i64().unwrap_or(0));
                serde_json::json!({
                    "id": r["RawID"],
                    "created": created,
                    "CreatedBy": r["CreatedBy"],
                    "size": r["RawSize"],
                    "comment": r["Comment"],
                    "Created": created,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(raw));
        return Ok(ExitCode::SUCCESS);
    }
    if !args.human {
        // Podman 4.3.1 shows the date itself; sizes stay human.
        for r in &mut rows {
            let date = crate::host::time::rfc3339(r["RawCreated"].as_i64().unwrap_or(0));
            r["Created"] = serde_json::json!(date);
            r["CreatedSince"] = serde_json::json!(date);
        }
    }
    if !args.no_trunc {
        // Podman cuts CREATED BY to 45 characters in the table.
        for r in &mut rows {
            let by = r["CreatedBy"].as_str().unwrap_or_default();
            if by.chars().count() > 45 {
                let cut: String = by.chars().take(42).collect();
                r["CreatedBy"] = serde_json::json!(format!("{cut}..."));
            }
        }
    }
    let template = match format {
        OutputFormat::Json => unreachable!("printed above"),
        OutputFormat::Template(t) => t,
        OutputFormat::Default => Template::parse(
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        )?,
    };
    let headers: HashMap<String, String> =
        [("CreatedSince", "CREATED"), ("CreatedBy", "CREATED BY")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    print!("{}", template.render_list(&rows, &headers)?);
    Ok(ExitCode::SUCCESS)
}
