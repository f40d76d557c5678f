//! `container checkpoint` and `container restore` through the remote
//! client: the libpod checkpoint and restore routes. `--export FILE`
//! writes the archive the service sends to FILE here; `--import FILE`
//! sends FILE here to the service.

use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::http::{self, Body};
use super::{API_PREFIX, Service, enc};
use crate::cli::EXIT_HUTCH_ERROR;

pub fn checkpoint(
    svc: &Service,
    a: &crate::cli::container::checkpoint::CheckpointArgs,
) -> anyhow::Result<ExitCode> {
    if a.all || a.latest || a.print_stats {
        bail!(
            "checkpoint -a, -l and --print-stats through hutch's remote client are not available yet"
        );
    }
    if a.containers.is_empty() {
        bail!("you must provide at least one container name or id");
    }
    if a.export.is_some() && a.containers.len() > 1 {
        bail!("--export can only be used with a single container");
    }
    let mut code = ExitCode::SUCCESS;
    for c in &a.containers {
        let path = format!(
            "{API_PREFIX}/containers/{}/checkpoint?keep={}&leaveRunning={}&tcpEstablished={}&export={}&compression={}",
            enc(c),
            a.keep,
            a.leave_running,
            a.tcp_established,
            a.export.is_some(),
            enc(&a.compress)
        );
        let done = http::send(&svc.socket, "POST", &path, None).and_then(|r| match &a.export {
            None => r.json().map(drop),
            Some(file) => {
                let mut body = r.stream()?;
                let mut out = std::fs::File::create(file)
                    .with_context(|| format!("creating {}", file.display()))?;
                std::io::copy(&mut body, &mut out)
                    .with_context(|| format!("writing {}", file.display()))?;
                Ok(())
            }
        });
        match done {
            Ok(()) => println!("{c}"),
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                code = ExitCode::from(EXIT_HUTCH_ERROR);
            }
        }
    }
    Ok(code)
}

pub fn restore(
    svc: &Service,
    a: &crate::cli::container::checkpoint::RestoreArgs,
) -> anyhow::Result<ExitCode> {
    if a.all || a.latest || a.print_stats || !a.publish.is_empty() {
        bail!(
            "restore -a, -l, --print-stats and --publish through hutch's remote client are not available yet"
        );
    }
    let flags = format!(
        "keep={}&tcpEstablished={}&ignoreStaticIP={}&ignoreStaticMAC={}",
        a.keep, a.tcp_established, a.ignore_static_ip, a.ignore_static_mac
    );
    if let Some(file) = &a.import {
        if !a.containers.is_empty() {
            bail!("--import can only be used without naming containers");
        }
        let mut path = format!("{API_PREFIX}/containers/import/restore?import=true&{flags}");
        if let Some(n) = &a.name {
            path.push_str(&format!("&name={}", enc(n)));
        }
        let mut f =
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let v = http::send(&svc.socket, "POST", &path, Some(Body::Tar(&mut f)))?.json()?;
        println!("{}", v["Id"].as_str().unwrap_or(""));
        return Ok(ExitCode::SUCCESS);
    }
    if a.name.is_some() {
        bail!("--name can only be used with --import");
    }
    if a.containers.is_empty() {
        bail!("you must provide at least one container name or id");
    }
    let mut code = ExitCode::SUCCESS;
    for c in &a.containers {
        let path = format!("{API_PREFIX}/containers/{}/restore?{flags}", enc(c));
        match http::send(&svc.socket, "POST", &path, None).and_then(|r| r.json()) {
            Ok(_) => println!("{c}"),
            Err(e) => {
                eprintln!("Error: {}", crate::cli::error_text(&e));
                code = ExitCode::from(EXIT_HUTCH_ERROR);
            }
        }
    }
    Ok(code)
}
