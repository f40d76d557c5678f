//! `build` through the remote client, as `podman --remote build` does
//! it: the context directory is sent as a tar (streamed as it is made,
//! the Containerfile added when it lies outside the context or comes
//! from stdin), the flags as libpod's query parameters; the service's
//! output is printed as it comes, the image id last. Flags that name
//! files or sockets of the client's host for the build's RUN steps
//! (`--secret`, `--ssh`, `-v`) and the RUN container settings are
//! refused by name.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::{API_PREFIX, Service, enc, http};
use crate::cli::build::BuildArgs;

/// The name the Containerfile gets in the tar when it is not inside the
/// context (Podman's client adds it likewise).
const ADDED_CONTAINERFILE: &str = ".hutch-remote-Containerfile";

/// Largest `--build-arg-file`.
const MAX_ARG_FILE: u64 = 1 << 20;

/// The first flag given that the remote build does not carry.
fn refused(a: &BuildArgs) -> Option<&'static str> {
    [
        (!a.secret.is_empty(), "--secret"),
        (!a.ssh.is_empty(), "--ssh"),
        (!a.volume.is_empty(), "--volume"),
        (a.network.is_some(), "--network"),
        (
            !a.cap_add.is_empty() || !a.cap_drop.is_empty(),
            "--cap-add/--cap-drop",
        ),
        (!a.security_opt.is_empty(), "--security-opt"),
        (a.userns.is_some(), "--userns"),
        (a.squash || a.squash_all, "--squash"),
        (
            !a.env.is_empty() || !a.unsetenv.is_empty(),
            "--env/--unsetenv",
        ),
        (!a.annotation.is_empty(), "--annotation"),
        (a.timestamp.is_some(), "--timestamp"),
        (a.omit_history, "--omit-history"),
        (a.platform.is_some(), "--platform"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
    .or_else(|| a.local_only_group())
}

/// `K=V` items into `into`; a bare `K` takes the client's environment,
/// as the local build does.
fn key_values(list: &[String], into: &mut std::collections::BTreeMap<String, String>) {
    for a in list {
        match a.split_once('=') {
            Some((k, v)) => {
                into.insert(k.to_owned(), v.to_owned());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    into.insert(a.clone(), v);
                }
            }
        }
    }
}

pub fn build(svc: &Service, a: &BuildArgs) -> anyhow::Result<ExitCode> {
    if let Some(flag) = refused(a) {
        bail!(
            "build {flag} is not supported by hutch's remote client: build on the service's host"
        );
    }
    if !matches!(a.format.as_str(), "oci" | "docker") {
        bail!("unrecognized image type {:?}: use oci or docker", a.format);
    }
    let pull = match a.pull.as_str() {
        "true" => "always",
        "false" => "missing",
        p @ ("always" | "missing" | "never" | "newer") => p,
        p => bail!("invalid pull policy {p:?}: use always, missing, never or newer"),
    };
    let cwd = std::env::current_dir().context("finding the working directory")?;
    let context = crate::cli::build::context_dir(&cwd, a.context.as_deref())?;
    // The Containerfile: a path inside the context is named; one outside
    // it (or stdin) is added to the tar.
    let limit = crate::image::build::containerfile::MAX_CONTAINERFILE as u64;
    let (named, added): (Option<String>, Option<Vec<u8>>) = match a.file.first().map(String::as_str)
    {
        None => (None, None),
        Some("-") => {
            let mut text = Vec::new();
            std::io::stdin()
                .lock()
                .take(limit + 1)
                .read_to_end(&mut text)
                .context("reading the Containerfile on stdin")?;
            (Some(ADDED_CONTAINERFILE.into()), Some(text))
        }
        Some(f) => {
            let path = std::fs::canonicalize(cwd.join(f))
                .with_context(|| format!("reading the Containerfile {f:?}"))?;
            match path.strip_prefix(&context) {
                Ok(rel) => (Some(rel.to_string_lossy().into_owned()), None),
                Err(_) => {
                    let mut text = Vec::new();
                    std::fs::File::open(&path)
                        .and_then(|file| file.take(limit + 1).read_to_end(&mut text))
                        .with_context(|| format!("reading the Containerfile {f:?}"))?;
                    (Some(ADDED_CONTAINERFILE.into()), Some(text))
                }
            }
        }
    };
    if added.as_ref().is_some_and(|t| t.len() as u64 > limit) {
        bail!("the Containerfile is larger than {limit} bytes");
    }
    let mut build_args = std::collections::BTreeMap::new();
    for f in &a.build_arg_file {
        let mut text = String::new();
        std::fs::File::open(cwd.join(f))
            .and_then(|file| file.take(MAX_ARG_FILE).read_to_string(&mut text))
            .with_context(|| format!("reading {}", f.display()))?;
        let lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        key_values(&lines, &mut build_args);
    }
    key_values(&a.build_arg, &mut build_args);
    let mut labels = std::collections::BTreeMap::new();
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_owned(), v.to_owned());
    }
    let mut q = format!(
        "{API_PREFIX}/build?q={}&nocache={}&layers={}&pullpolicy={pull}&buildargs={}&labels={}",
        a.quiet,
        a.no_cache,
        a.layers,
        enc(&serde_json::to_string(&build_args)?),
        enc(&serde_json::to_string(&labels)?),
    );
    if let Some(n) = &named {
        q.push_str(&format!(
            "&dockerfile={}",
            enc(&serde_json::to_string(&[n])?)
        ));
    }
    if let Some(t) = &a.target {
        q.push_str(&format!("&target={}", enc(t)));
    }
    for t in &a.tag {
        q.push_str(&format!("&t={}", enc(t)));
    }
    let (mut reader, writer) = std::io::pipe().context("making a pipe for the build context")?;
    let maker = std::thread::spawn(move || write_context(&context, added.as_deref(), writer));
    let sent = http::send(&svc.socket, "POST", &q, Some(http::Body::Tar(&mut reader)));
    drop(reader);
    // The tar's own error first: it says which file could not be read.
    match maker.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) if sent.is_err() => return Err(e),
        Ok(Err(_)) | Err(_) => {}
    }
    let stream = sent?.stream()?;
    let id = match follow(stream) {
        Ok(id) => id,
        // The build's own failure: its message, and the code the local
        // build exits with (a failed RUN's).
        Err(e) => match e.downcast_ref::<Failed>() {
            Some(f) => {
                eprintln!("Error: {}", f.message);
                return Ok(ExitCode::from(f.code));
            }
            None => return Err(e),
        },
    };
    let id = id.context("the service's build reported no image id")?;
    if let Some(f) = &a.iidfile {
        std::fs::write(f, format!("sha256:{id}"))
            .with_context(|| format!("writing {}", f.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the context directory (and the added Containerfile) as a tar
/// into `out`; symlinks stay links.
fn write_context(
    context: &Path,
    added: Option<&[u8]>,
    out: std::io::PipeWriter,
) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
    tar.follow_symlinks(false);
    tar.append_dir_all(".", context)
        .with_context(|| format!("sending the build context {}", context.display()))?;
    if let Some(text) = added {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, PathBuf::from(ADDED_CONTAINERFILE), text)
            .context("sending the Containerfile")?;
    }
    tar.into_inner()
        .context("sending the build context")?
        .into_inner()
        .map_err(|e| e.into_error())
        .context("sending the build context")?;
    Ok(())
}

/// The service's build failed: its message and exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Failed {
    message: String,
    code: u8,
}

/// Prints the build's stream (hutch's `"fd": 2` lines on stderr) as it
/// comes; the image id, or the stream's error.
fn follow(stream: impl std::io::Read) -> anyhow::Result<Option<String>> {
    use std::io::{BufRead, Write};
    let mut id = None;
    for line in std::io::BufReader::new(stream).lines() {
        let line = line.context("reading the build's output")?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(e) = v["error"].as_str().filter(|e| !e.is_empty()) {
            let code = v["exitCode"]
                .as_u64()
                .and_then(|c| u8::try_from(c).ok())
                .filter(|c| *c != 0)
                .unwrap_or(crate::cli::EXIT_HUTCH_ERROR);
            return Err(Failed {
                message: e.to_owned(),
                code,
            }
            .into());
        }
        if let Some(s) = v["stream"].as_str() {
            if v["fd"] == 2 {
                let mut e = std::io::stderr().lock();
                e.write_all(s.as_bytes())?;
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(s.as_bytes()).and_then(|()| o.flush())?;
            }
        }
        // The image id is the stream's line of 64 hex digits, as Podman's
        // client finds it.
        if let Some(s) = v["stream"].as_str() {
            let line = s.trim_end_matches('\n');
            if line.len() == 64 && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                id = Some(line.to_owned());
            }
        }
    }
    Ok(id)
}
