//! `container checkpoint` and `container restore` through the remote
//! client: the libpod checkpoint and restore routes, as `podman --remote`
//! calls them. `--export FILE` writes the archive the service sends to
//! FILE here; `--import FILE` sends FILE here to the service. `-a` lists
//! the service's running (checkpoint) or exited (restore) containers and
//! asks for each; `--print-stats` prints the reports the service sends
//! (each carries its runtime duration and CRIU's statistics) in Podman's
//! JSON.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::http::{self, Body};
use super::{API_PREFIX, Service, enc};
use crate::cli::EXIT_HUTCH_ERROR;

/// The containers to act on: the named ones, or with `-a` the service's
/// containers in `state` (Podman's remote engine narrows its list so).
fn targets(svc: &Service, names: &[String], all: bool, state: &str) -> anyhow::Result<Vec<String>> {
    if !all {
        return Ok(names.to_vec());
    }
    Ok(super::containers::listed(svc, "all=true")?
        .into_iter()
        .filter(|(_, s)| s == state)
        .map(|(id, _)| id)
        .collect())
}

/// The names (or ids) that succeeded, or the reports as Podman's
/// `--print-stats` JSON; errors on stderr.
fn finish(
    results: Vec<(String, anyhow::Result<Value>)>,
    stats: bool,
    total_key: &str,
    began: Instant,
) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    let mut reports = Vec::new();
    for (name, r) in results {
        match r {
            Ok(v) if stats => reports.push(v),
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                code = ExitCode::from(EXIT_HUTCH_ERROR);
            }
        }
    }
    if stats {
        let json = serde_json::json!({
            total_key: began.elapsed().as_micros() as u64,
            "container_statistics": reports,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    }
    code
}

pub fn checkpoint(
    svc: &Service,
    a: &crate::cli::container::checkpoint::CheckpointArgs,
) -> anyhow::Result<ExitCode> {
    let began = Instant::now();
    if a.latest {
        bail!(
            "checkpoint -l through hutch's remote client is not available (Podman's remote client has no --latest)"
        );
    }
    if a.compress.is_some() && a.export.is_none() {
        bail!("--compress can only be used with --export");
    }
    // Podman's checks, in its order (its CLI makes them for both clients).
    let opts = crate::engine::container::checkpoint::CheckpointOptions {
        select: crate::engine::container::select::Selection {
            names: a.containers.clone(),
            all: a.all,
            latest: false,
        },
        export: a.export.clone(),
        ignore_rootfs: a.ignore_rootfs,
        ignore_volumes: a.ignore_volumes,
        pre_checkpoint: a.pre_checkpoint,
        with_previous: a.with_previous,
        ..Default::default()
    };
    opts.validate()?;
    let mut results = Vec::new();
    for c in targets(svc, &a.containers, a.all, "running")? {
        let mut path = format!(
            "{API_PREFIX}/containers/{}/checkpoint?keep={}&leaveRunning={}&tcpEstablished={}&export={}&compression={}&fileLocks={}&ignoreRootfs={}&ignoreVolumes={}&preCheckpoint={}&withPrevious={}&printStats={}",
            enc(&c),
            a.keep,
            a.leave_running,
            a.tcp_established,
            a.export.is_some(),
            enc(a.compress.as_deref().unwrap_or("zstd")),
            a.file_locks,
            a.ignore_rootfs,
            a.ignore_volumes,
            a.pre_checkpoint,
            a.with_previous,
            a.print_stats,
        );
        if let Some(image) = &a.create_image {
            path.push_str(&format!("&createImage={}", enc(image)));
        }
        let done = http::send(&svc.socket, "POST", &path, None).and_then(|r| match &a.export {
            None => r.json(),
            Some(file) => {
                let mut body = r.stream()?;
                let mut out = std::fs::File::create(file)
                    .with_context(|| format!("creating {}", file.display()))?;
                std::io::copy(&mut body, &mut out)
                    .with_context(|| format!("writing {}", file.display()))?;
                // The archive is the body: no report comes with it.
                Ok(serde_json::json!({"Id": c}))
            }
        });
        results.push((c, done));
    }
    Ok(finish(
        results,
        a.print_stats,
        "podman_checkpoint_duration",
        began,
    ))
}

pub fn restore(
    svc: &Service,
    a: &crate::cli::container::checkpoint::RestoreArgs,
) -> anyhow::Result<ExitCode> {
    let began = Instant::now();
    if a.latest {
        bail!(
            "restore -l through hutch's remote client is not available (Podman's remote client has no --latest)"
        );
    }
    // Podman's remote engine refuses it before anything else.
    if a.import_previous.is_some() {
        bail!("--import-previous is not supported on the remote client");
    }
    let mut flags = format!(
        "keep={}&tcpEstablished={}&ignoreStaticIP={}&ignoreStaticMAC={}&fileLocks={}&ignoreRootfs={}&ignoreVolumes={}&printStats={}",
        a.keep,
        a.tcp_established,
        a.ignore_static_ip,
        a.ignore_static_mac,
        a.file_locks,
        a.ignore_rootfs,
        a.ignore_volumes,
        a.print_stats,
    );
    if let Some(n) = &a.name {
        flags.push_str(&format!("&name={}", enc(n)));
    }
    if let Some(p) = &a.pod {
        flags.push_str(&format!("&pod={}", enc(p)));
    }
    for p in &a.publish {
        flags.push_str(&format!("&publishPorts={}", enc(p)));
    }
    if let Some(file) = &a.import {
        if a.all {
            bail!("cannot use --import with --all or --latest");
        }
        if !a.containers.is_empty() {
            bail!("cannot use --import with positional arguments");
        }
        let path = format!("{API_PREFIX}/containers/import/restore?import=true&{flags}");
        let mut f =
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let v = http::send(&svc.socket, "POST", &path, Some(Body::Tar(&mut f)))?.json()?;
        let id = v["Id"].as_str().unwrap_or("").to_owned();
        return Ok(finish(
            vec![(id, Ok(v))],
            a.print_stats,
            "podman_restore_duration",
            began,
        ));
    }
    // The service makes the checks that need its containers and images
    // (a checkpoint image takes --name, --pod, ...); these need neither.
    if a.all && !a.containers.is_empty() {
        bail!("no arguments are needed with --all");
    }
    if !a.all && a.containers.is_empty() {
        bail!("you must provide at least one name or id");
    }
    let mut results = Vec::new();
    for c in targets(svc, &a.containers, a.all, "exited")? {
        let path = format!("{API_PREFIX}/containers/{}/restore?{flags}", enc(&c));
        let done = http::send(&svc.socket, "POST", &path, None).and_then(|r| r.json());
        results.push((c, done));
    }
    Ok(finish(
        results,
        a.print_stats,
        "podman_restore_duration",
        began,
    ))
}
