//! `kube play|down|generate`, `play kube` and `generate kube|systemd`
//! through the remote client, as Podman's does them: the client reads
//! the YAML (a file of its own or stdin) and sends it as the body; the
//! generated YAML and units come back and are printed (or written here
//! with `-f`/`--files`) as the local commands do.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::{API_PREFIX, Service, enc, http};
use crate::cli::generate::{GenerateCommand, SystemdArgs};
use crate::cli::kube::{GenerateArgs, KubeCommand, PlayArgs, PlayCommand};

pub fn kube(svc: &Service, cmd: KubeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KubeCommand::Play(a) => play(svc, &a),
        KubeCommand::Down(a) => down(svc, &a.file),
        KubeCommand::Generate(a) => generate_kube(svc, &a),
    }
}

pub fn play_kube(svc: &Service, cmd: PlayCommand) -> anyhow::Result<ExitCode> {
    let PlayCommand::Kube(a) = cmd;
    play(svc, &a)
}

pub fn generate(svc: &Service, cmd: GenerateCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        GenerateCommand::Kube(a) => generate_kube(svc, &a),
        GenerateCommand::Systemd(a) => generate_systemd(svc, &a),
        // Podman's remote client has no `generate spec` either.
        GenerateCommand::Spec(_) => anyhow::bail!(
            "generate spec is not available through hutch's remote client: run it on the service's host"
        ),
    }
}

/// Sends `yaml` with `method` to libpod's `play/kube`.
fn send_yaml(svc: &Service, method: &str, query: &str, yaml: &str) -> anyhow::Result<Value> {
    let mut body = yaml.as_bytes();
    http::send(
        &svc.socket,
        method,
        &format!("{API_PREFIX}/play/kube{query}"),
        Some(http::Body::Tar(&mut body)),
    )?
    .json()
}

fn play(svc: &Service, a: &PlayArgs) -> anyhow::Result<ExitCode> {
    if a.down {
        return down(svc, &a.file);
    }
    // The flags the service's play route does not take yet: refused by
    // name rather than dropped.
    if let Some(flag) = [
        (!a.annotation.is_empty(), "--annotation"),
        (
            a.authfile.is_some() || a.creds.is_some(),
            "--authfile/--creds",
        ),
        (a.tls_verify.is_some(), "--tls-verify"),
        (a.cert_dir.is_some(), "--cert-dir"),
        (!a.configmap.is_empty(), "--configmap"),
        (
            a.log_driver.is_some() || !a.log_opt.is_empty(),
            "--log-driver/--log-opt",
        ),
        (!a.network.is_empty(), "--network"),
        (a.no_hosts, "--no-hosts"),
        (a.userns.is_some(), "--userns"),
        (
            a.context_dir.is_some() || a.build.is_some(),
            "--build/--context-dir",
        ),
        (a.seccomp_profile_root.is_some(), "--seccomp-profile-root"),
        (
            !a.ip.is_empty() || !a.mac_address.is_empty(),
            "--ip/--mac-address",
        ),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
    {
        bail!(
            "kube play {flag} is not supported by hutch's remote client yet: play on the service's host"
        );
    }
    let yaml = crate::cli::kube::read_yaml(&a.file)?;
    let q = format!(
        "?start={}&replace={}&serviceContainer={}",
        a.start, a.replace, a.service_container
    );
    let report = send_yaml(svc, "POST", &q, &yaml)?;
    for w in report["Warnings"].as_array().into_iter().flatten() {
        eprintln!("Warning: {}", w.as_str().unwrap_or_default());
    }
    for p in report["Pods"].as_array().into_iter().flatten() {
        println!("Pod:\n{}", p["ID"].as_str().unwrap_or_default());
        let ctrs: Vec<&str> = p["Containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "{}",
            if ctrs.len() == 1 {
                "Container:"
            } else {
                "Containers:"
            }
        );
        for c in ctrs {
            println!("{c}");
        }
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

fn down(svc: &Service, file: &str) -> anyhow::Result<ExitCode> {
    let yaml = crate::cli::kube::read_yaml(file)?;
    let report = send_yaml(svc, "DELETE", "", &yaml)?;
    let ids = |k: &str| -> Vec<String> {
        report[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["Id"].as_str().map(str::to_owned))
            .collect()
    };
    let (stopped, removed) = (ids("StopReport"), ids("RmReport"));
    if !stopped.is_empty() {
        println!("Pods stopped:");
        for id in &stopped {
            println!("{id}");
        }
    }
    if !removed.is_empty() {
        println!("Pods removed:");
        for id in &removed {
            println!("{id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn generate_kube(svc: &Service, a: &GenerateArgs) -> anyhow::Result<ExitCode> {
    // Refused before any work, as the local command checks the file first.
    if let Some(path) = &a.filename
        && path.exists()
    {
        bail!(
            "cannot write to {:?}; file exists",
            path.display().to_string()
        );
    }
    let mut q = format!(
        "/generate/kube?service={}&type={}&replicas={}",
        a.service,
        enc(&a.kind),
        a.replicas
    );
    for n in &a.names {
        q.push_str(&format!("&names={}", enc(n)));
    }
    let r = svc.call("GET", &q, None)?;
    let mut text = String::new();
    {
        use std::io::Read as _;
        r.stream()?
            .take(crate::engine::kube::MAX_YAML_BYTES as u64)
            .read_to_string(&mut text)
            .context("reading the service's YAML")?;
    }
    match &a.filename {
        Some(path) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| format!("cannot write to {:?}", path.display().to_string()))?;
            f.write_all(text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        // Podman prints the text with Println: one more newline.
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn generate_systemd(svc: &Service, a: &SystemdArgs) -> anyhow::Result<ExitCode> {
    if a.template {
        bail!("--template: template units are not supported by hutch yet");
    }
    match a.format.as_deref() {
        None | Some("" | "json") => {}
        Some(f) => bail!("unsupported format {f:?}: only json is supported"),
    }
    let mut q = format!(
        "/generate/{}/systemd?useName={}&new={}&noHeader={}&restartPolicy={}&containerPrefix={}&podPrefix={}&separator={}",
        enc(&a.container),
        a.name,
        a.new,
        a.no_header,
        enc(&a.restart_policy),
        enc(&a.container_prefix),
        enc(&a.pod_prefix),
        enc(&a.separator)
    );
    for (k, v) in [
        ("restartSec", a.restart_sec),
        ("startTimeout", a.start_timeout),
        ("stopTimeout", a.stop_timeout),
    ] {
        if let Some(v) = v {
            q.push_str(&format!("&{k}={v}"));
        }
    }
    for (k, list) in [
        ("additionalEnvVariables", &a.env),
        ("wants", &a.wants),
        ("after", &a.after),
        ("requires", &a.requires),
    ] {
        for v in list {
            q.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    let units = svc.call("GET", &q, None)?.json()?;
    let units = units
        .as_object()
        .context("the service's units are not a map")?;
    let json = a.format.as_deref() == Some("json");
    let mut out = std::io::stdout().lock();
    let mut map = serde_json::Map::new();
    for (name, content) in units {
        let content = content.as_str().unwrap_or_default();
        if a.files {
            // Written where the client runs, as Podman's remote client does.
            let dir = std::env::current_dir().context("finding the working directory")?;
            let path = dir.join(format!("{name}.service"));
            std::fs::write(&path, content)
                .with_context(|| format!("writing {}", path.display()))?;
            if json {
                map.insert(name.clone(), path.to_string_lossy().into());
            } else {
                writeln!(out, "{}", path.display())?;
            }
        } else if json {
            map.insert(name.clone(), content.into());
        } else {
            write!(out, "{content}")?;
        }
    }
    if json {
        writeln!(
            out,
            "{}",
            crate::cli::generate::indented(&Value::Object(map))?
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
