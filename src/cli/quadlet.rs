//! `hutch quadlet [--dryrun] [NORMAL_DIR [EARLY_DIR LATE_DIR]]`, also run
//! as the systemd generator `hutch-quadlet` (a symlink to hutch in
//! `/usr/lib/systemd/user-generators/` or `system-generators/`, whose
//! name selects this command). It reads the Quadlet files of the search
//! directories and writes their services into NORMAL_DIR (systemd's
//! first generator argument), or prints them with `--dryrun`. A bad file
//! is reported (file, line, key) and skipped; the others are written;
//! the exit code is then 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::config::Context;
use crate::engine::container::systemd_unit::escape_arg;
use crate::quadlet::{self, Options};

#[derive(Debug, clap::Args)]
pub struct QuadletArgs {
    /// Print the services instead of writing them
    #[arg(long, visible_alias = "dry-run")]
    dryrun: bool,
    /// Generate user services (the default unless run as root)
    #[arg(long)]
    user: bool,
    /// Accepted for Podman's generator's command line; hutch logs to stderr
    #[arg(short = 'v', long)]
    verbose: bool,
    /// systemd's generator directories: the services go to the first
    dirs: Vec<PathBuf>,
}

/// The files to translate, by name: the first directory holding a name
/// wins, as in Podman.
fn find_files(dirs: &[PathBuf]) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
            let known = quadlet::EXTENSIONS.contains(&ext);
            if known && path.is_file() {
                found.entry(name.to_owned()).or_insert(path);
            }
        }
    }
    found
}

pub fn run(_ctx: &Context, args: &QuadletArgs) -> anyhow::Result<ExitCode> {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")));
    let override_dirs = std::env::var("HUTCH_QUADLET_DIRS").ok();
    let rootful = uid == 0 && !args.user;
    let dirs = quadlet::search_dirs(
        rootful,
        uid,
        config_home.as_deref(),
        override_dirs.as_deref(),
    );
    let out = match (args.dryrun, args.dirs.first()) {
        (true, _) => None,
        (false, Some(d)) => Some(d.clone()),
        (false, None) => bail!(
            "missing the output directory (systemd's first generator argument); use --dryrun to print"
        ),
    };
    let exe = std::fs::read_link("/proc/self/exe").context("finding the hutch binary")?;
    let opts = Options {
        hutch: escape_arg(&exe.to_string_lossy()),
        run_dir: "%t/hutch".into(),
    };
    let mut failed = false;
    let mut sources = Vec::new();
    for (name, path) in find_files(&dirs) {
        let source = path.to_string_lossy().into_owned();
        match read_bounded(&path) {
            Ok(text) => sources.push(quadlet::Source {
                name,
                path: source,
                text,
            }),
            Err(e) => {
                eprintln!("hutch-quadlet: {source}: {e:#}");
                failed = true;
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    for (src, result) in sources.iter().zip(quadlet::translate_all(&sources, &opts)) {
        let service = match result {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hutch-quadlet: {e}");
                failed = true;
                continue;
            }
        };
        match &out {
            None => {
                use std::io::Write as _;
                // A closed pipe (`| head`) ends the listing, not a panic.
                if write!(stdout, "---{}---\n{}\n", service.name, service.content).is_err() {
                    break;
                }
            }
            Some(dir) => {
                if let Err(e) = write_service(dir, &service) {
                    eprintln!("hutch-quadlet: {}: {e:#}", src.path);
                    failed = true;
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_bounded(path: &Path) -> anyhow::Result<String> {
    let len = std::fs::metadata(path)?.len();
    if len > quadlet::unit_file::MAX_FILE_SIZE as u64 {
        bail!("larger than {} bytes", quadlet::unit_file::MAX_FILE_SIZE);
    }
    Ok(std::fs::read_to_string(path)?)
}

/// The service file, and its `[Install]` links (`TARGET.wants/NAME`), as
/// systemd's `enable` would make them.
fn write_service(dir: &Path, s: &quadlet::Service) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(&s.name);
    std::fs::write(&path, &s.content).with_context(|| format!("writing {}", path.display()))?;
    for (targets, kind) in [(&s.wanted_by, "wants"), (&s.required_by, "requires")] {
        for t in targets {
            let links = dir.join(format!("{t}.{kind}"));
            std::fs::create_dir_all(&links)
                .with_context(|| format!("creating {}", links.display()))?;
            let link = links.join(&s.name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(Path::new("..").join(&s.name), &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    Ok(())
}
