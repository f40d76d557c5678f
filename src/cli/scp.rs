//! `image scp SRC [DEST]`: an image between the local store and a `system
//! connection`, as a save on one side and a load on the other. The local
//! side is the ordinary `save`/`load`; the connection's side goes through
//! the remote client (`GET /libpod/images/{name}/get`, `POST
//! /libpod/images/load`), over ssh as the connection says, so the other
//! host needs hutch's (or Podman's) service, not hutch itself on PATH.
//!
//! `USER@localhost::` (another local user's store) needs root on both
//! sides: Podman runs sudo or machinectl for it; hutch refuses it with
//! Podman's error where those tools are missing, and by name otherwise.

use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::remote::{self, API_PREFIX, Service, enc, http};
use crate::config::Context;

#[derive(Debug, clap::Args)]
pub struct ScpArgs {
    /// Suppress the output
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// IMAGE, or CONNECTION::IMAGE
    pub(crate) source: String,
    /// CONNECTION::[NAME], or (from a connection) a local NAME
    pub(crate) destination: Option<String>,
}

/// One side of the transfer.
#[derive(Debug, PartialEq, Eq)]
enum Side {
    Local(String),
    /// A connection name (or `USER@localhost`) and the image there, which
    /// may be empty.
    Remote {
        connection: String,
        image: String,
    },
}

fn side(arg: &str) -> Side {
    match arg.split_once("::") {
        Some((c, i)) => Side::Remote {
            connection: c.to_owned(),
            image: i.to_owned(),
        },
        None => Side::Local(arg.to_owned()),
    }
}

pub fn run(ctx: &Context, args: &ScpArgs) -> anyhow::Result<ExitCode> {
    let src = side(&args.source);
    let dst = args.destination.as_deref().map(side);
    match (src, dst) {
        (Side::Local(_), None) => bail!("must specify a destination: invalid argument"),
        (
            Side::Local(image),
            Some(Side::Remote {
                connection,
                image: name,
            }),
        ) => {
            refuse_local_user(&connection)?;
            to_connection(ctx, &image, &connection, &name, args.quiet)
        }
        (Side::Remote { connection, image }, None) => {
            refuse_local_user(&connection)?;
            from_connection(ctx, &connection, &image, None, args.quiet)
        }
        (Side::Remote { connection, image }, Some(Side::Local(name))) => {
            refuse_local_user(&connection)?;
            from_connection(ctx, &connection, &image, Some(&name), args.quiet)
        }
        (Side::Local(_), Some(Side::Local(_))) => {
            bail!("cannot copy an image to the same store: give a destination CONNECTION::")
        }
        (Side::Remote { .. }, Some(Side::Remote { .. })) => bail!(
            "hutch does not copy images between two connections: copy to the local store first"
        ),
    }
}

/// `USER@localhost`: another local user's store (or root's), which needs
/// root: Podman runs `sudo` (for root) or `machinectl` for it.
fn refuse_local_user(connection: &str) -> anyhow::Result<()> {
    let Some((user, host)) = connection.split_once('@') else {
        return Ok(());
    };
    if host != "localhost" {
        return Ok(());
    }
    let tool = if user == "root" { "sudo" } else { "machinectl" };
    if crate::host::tools::find(tool).is_none() {
        // Podman's words: it runs the tool and Go reports it missing.
        bail!("exec: {tool:?}: executable file not found in $PATH");
    }
    bail!(
        "{connection}::: copying images between local users' stores needs root ({tool}); hutch does not do it: save the image and load it as {user}"
    )
}

fn connect(connection: &str) -> anyhow::Result<Service> {
    let Some(found) = remote::select(&remote::Selection {
        remote: false,
        url: None,
        connection: Some(connection),
        identity: None,
    }) else {
        bail!("no connection {connection:?}");
    };
    let (dest, key) = found?;
    Service::connect(&dest, key.as_deref())
}

/// A private directory for the archive in transit, removed on drop.
struct Staging(std::path::PathBuf);

impl Staging {
    fn new(ctx: &Context) -> anyhow::Result<Staging> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = ctx
            .run_dir
            .join(format!("scp-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(Staging(dir))
    }

    fn archive(&self) -> std::path::PathBuf {
        self.0.join("image.tar")
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn to_connection(
    ctx: &Context,
    image: &str,
    connection: &str,
    new_name: &str,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let staging = Staging::new(ctx)?;
    let archive = staging.archive();
    super::image::save(
        ctx,
        &super::image::SaveArgs {
            format: "docker-archive".into(),
            output: Some(archive.clone()),
            multi_image_archive: false,
            compress: false,
            uncompressed: false,
            quiet: true,
            images: vec![image.to_owned()],
        },
    )?;
    let svc = connect(connection)?;
    let mut input =
        std::fs::File::open(&archive).with_context(|| format!("opening {}", archive.display()))?;
    let report = http::send(
        &svc.socket,
        "POST",
        &format!("{API_PREFIX}/images/load"),
        Some(http::Body::Tar(&mut input)),
    )?
    .json()?;
    let mut names: Vec<String> = report["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    if !new_name.is_empty() {
        let loaded = names
            .first()
            .cloned()
            .context("the service's load reported no image")?;
        let (repo, tag) = split_tag(new_name);
        // An empty 201 on success; the error's JSON otherwise.
        svc.call(
            "POST",
            &format!(
                "/images/{}/tag?repo={}&tag={}",
                enc(&loaded),
                enc(&repo),
                enc(&tag)
            ),
            None,
        )?
        .json()?;
        // As the service stores it: a name without a registry is
        // localhost's.
        names = vec![
            crate::image::reference::local_name(&format!("{repo}:{tag}"))
                .unwrap_or_else(|_| format!("{repo}:{tag}")),
        ];
    }
    if !quiet {
        for n in &names {
            println!("Loaded image: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn from_connection(
    ctx: &Context,
    connection: &str,
    image: &str,
    new_name: Option<&str>,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    if image.is_empty() {
        bail!("{connection}::: no image named to copy from the connection");
    }
    let staging = Staging::new(ctx)?;
    let archive = staging.archive();
    {
        let svc = connect(connection)?;
        let r = svc.call(
            "GET",
            &format!("/images/{}/get?format=docker-archive", enc(image)),
            None,
        )?;
        let mut body = r.stream()?;
        let mut out = std::fs::File::create(&archive)
            .with_context(|| format!("creating {}", archive.display()))?;
        // Bounded as the API's load reads an archive.
        use crate::engine::image::transfer::MAX_ARCHIVE_BYTES;
        use std::io::Read as _;
        let got = std::io::copy(&mut (&mut body).take(MAX_ARCHIVE_BYTES + 1), &mut out)
            .with_context(|| format!("receiving {image} from {connection}"))?;
        if got > MAX_ARCHIVE_BYTES {
            bail!("{connection}::{image}: the archive is larger than {MAX_ARCHIVE_BYTES} bytes");
        }
    }
    super::image::load(
        ctx,
        &super::image::LoadArgs {
            input: Some(archive.clone()),
            quiet: quiet || new_name.is_some(),
        },
    )?;
    if let Some(name) = new_name {
        let store = crate::engine::image::open_store(ctx)?;
        let record = crate::engine::image::lookup(&store, image)?;
        let stored = crate::engine::image::tag(&store, &record, name)?;
        if !quiet {
            println!("Loaded image: {stored}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `name[:tag]`, the tag `latest` when none is given (a port's colon is
/// not a tag's).
fn split_tag(name: &str) -> (String, String) {
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some((_, tag)) => (
            name[..name.len() - tag.len() - 1].to_owned(),
            tag.to_owned(),
        ),
        None => (name.to_owned(), "latest".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_and_tags() {
        assert_eq!(side("bb"), Side::Local("bb".into()));
        assert_eq!(
            side("conn::bb:1"),
            Side::Remote {
                connection: "conn".into(),
                image: "bb:1".into()
            }
        );
        assert_eq!(
            split_tag("localhost:5000/a"),
            ("localhost:5000/a".into(), "latest".into())
        );
        assert_eq!(split_tag("a/b:v1"), ("a/b".into(), "v1".into()));
    }
}
