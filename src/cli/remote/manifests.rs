//! `manifest` through the remote client, as `podman --remote` 4.3.1
//! carries it: `create`, `add`, `remove`, `inspect`, `exists`, `rm` and
//! `push` over the libpod manifest routes (API v4: `POST`/`PUT`/`GET
//! /libpod/manifests/{name}...`, `POST .../registry/{destination}`),
//! credentials sent as for `push`. `annotate` is refused, as Podman's
//! remote client refuses it; so are the flags naming the client's files
//! for the service to read (`--cert-dir`) and signing (the key is the
//! client's; Podman 4.3.1's remote client hides the flags and drops them,
//! hutch says so instead of pushing unsigned).

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::commands::refuse;
use super::images::{auth_headers, registry_auth};
use super::{API_PREFIX, Service, enc, http};
use crate::cli::manifest::{InstanceArgs, ManifestCommand, PushArgs};
use crate::engine::image::manifest_list::pretty;

pub fn manifest(svc: &Service, cmd: ManifestCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ManifestCommand::Create(a) => {
            let mut q = format!(
                "/manifests/{}?all={}&amend={}",
                enc(&a.list),
                a.all,
                a.amend
            );
            for i in &a.images {
                q.push_str(&format!("&images={}", enc(i)));
            }
            if let Some(t) = a.tls_verify {
                q.push_str(&format!("&tlsVerify={t}"));
            }
            let v = svc.call("POST", &q, None)?.json()?;
            println!("{}", v["Id"].as_str().unwrap_or_default());
        }
        ManifestCommand::Add(a) => {
            if a.cert_dir.is_some() {
                bail!(
                    "manifest add --cert-dir is not supported by hutch's remote client: the certificates would be the service host's"
                );
            }
            let mut body = instance_body(&a.instance);
            body["operation"] = json!("update");
            body["images"] = json!([a.image]);
            body["all"] = json!(a.all);
            let mut q = format!("{API_PREFIX}/manifests/{}", enc(&a.list));
            if let Some(t) = a.registry.tls_verify {
                q.push_str(&format!("?tlsVerify={t}"));
            }
            let auth = registry_auth(&a.registry, &a.image)?;
            let r = send_json(svc, "PUT", &q, &body, &auth_headers(auth.as_deref()))?;
            println!("{}", modify_answer(r)?);
        }
        ManifestCommand::Annotate(_) => return Err(refuse("manifest annotate")),
        ManifestCommand::Remove(a) => {
            let body = json!({"operation": "remove", "images": [a.digest]});
            let q = format!("{API_PREFIX}/manifests/{}", enc(&a.list));
            let r = send_json(svc, "PUT", &q, &body, &[])?;
            println!("{}", modify_answer(r)?);
        }
        ManifestCommand::Inspect(a) => {
            let v = svc
                .call("GET", &format!("/manifests/{}/json", enc(&a.name)), None)?
                .json()?;
            // Printed as the local command prints it: four spaces, the
            // service's key order.
            println!("{}", pretty(&v));
        }
        ManifestCommand::Exists(a) => {
            return super::containers::exists(svc, &format!("/manifests/{}/exists", enc(&a.name)));
        }
        ManifestCommand::Rm(a) => return rm(svc, &a.lists),
        ManifestCommand::Push(a) => return push(svc, &a),
    }
    Ok(ExitCode::SUCCESS)
}

/// The platform fields and annotations of `add`, as Podman's client
/// sends them (`annotations` a map).
fn instance_body(i: &InstanceArgs) -> Value {
    let mut annotations = serde_json::Map::new();
    for item in &i.annotation {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        annotations.insert(k.to_owned(), json!(v));
    }
    json!({
        "annotations": annotations,
        "arch": i.arch.clone().unwrap_or_default(),
        "os": i.os.clone().unwrap_or_default(),
        "os_version": i.os_version.clone().unwrap_or_default(),
        "variant": i.variant.clone().unwrap_or_default(),
        "features": i.features,
    })
}

fn send_json(
    svc: &Service,
    method: &str,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> anyhow::Result<http::Response> {
    let bytes = serde_json::to_vec(body)?;
    http::send_with(
        &svc.socket,
        method,
        path,
        Some(http::Body::Json(&bytes)),
        headers,
    )
}

/// The list's id from a modify answer; a failure's `errors` (Podman's
/// service sends only those) as the error.
fn modify_answer(r: http::Response) -> anyhow::Result<String> {
    match r.json() {
        Ok(v) => Ok(v["Id"].as_str().unwrap_or_default().to_owned()),
        Err(e) => {
            if let Some(api) = e.downcast_ref::<http::ApiError>()
                && let Ok(v) = serde_json::from_str::<Value>(&api.message)
                && let Some(errs) = v["errors"].as_array()
            {
                let text: Vec<&str> = errs.iter().filter_map(Value::as_str).collect();
                bail!("{}", text.join("\n"));
            }
            Err(e)
        }
    }
}

/// `manifest rm`: only lists go (`lookupmanifest`), as locally: a name
/// that is not one is "image not known" (exit 1).
fn rm(svc: &Service, names: &[String]) -> anyhow::Result<ExitCode> {
    let mut q = String::from("/images/remove?lookupmanifest=true");
    for n in names {
        q.push_str(&format!("&images={}", enc(n)));
    }
    let v = svc.call("DELETE", &q, None)?.json()?;
    for n in v["Untagged"].as_array().into_iter().flatten() {
        println!("Untagged: {}", n.as_str().unwrap_or_default());
    }
    for d in v["Deleted"].as_array().into_iter().flatten() {
        println!("Deleted: {}", d.as_str().unwrap_or_default());
    }
    for e in v["Errors"].as_array().into_iter().flatten() {
        eprintln!("Error: {}", e.as_str().unwrap_or_default());
    }
    let code = v["ExitCode"].as_u64().unwrap_or(0);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(125)))
}

fn push(svc: &Service, a: &PushArgs) -> anyhow::Result<ExitCode> {
    if a.cert_dir.is_some() {
        bail!(
            "manifest push --cert-dir is not supported by hutch's remote client: the certificates would be the service host's"
        );
    }
    if a.sign_by.is_some() || a.sign_by_sigstore_private_key.is_some() {
        bail!(
            "manifest push --sign-by and --sign-by-sigstore-private-key are not supported by hutch's remote client: the key is the client's"
        );
    }
    let destination = a
        .destination
        .strip_prefix("docker://")
        .unwrap_or(&a.destination);
    let mut q = format!(
        "{API_PREFIX}/manifests/{}/registry/{}?all={}&quiet={}&removesignatures={}",
        enc(&a.list),
        enc(destination),
        a.all.unwrap_or(true),
        a.quiet,
        a.remove_signatures
    );
    if let Some(t) = a.registry.tls_verify {
        q.push_str(&format!("&tlsVerify={t}"));
    }
    if let Some(f) = &a.format {
        q.push_str(&format!("&format={}", enc(f)));
    }
    if let Some(c) = &a.compression_format {
        q.push_str(&format!("&compressionformat={}", enc(c)));
    }
    let auth = registry_auth(&a.registry, destination)?;
    let r = http::send_with(
        &svc.socket,
        "POST",
        &q,
        None,
        &auth_headers(auth.as_deref()),
    )?;
    let digest = super::commands::follow_progress(r.stream()?, a.quiet, "push", "Id")?
        .filter(|d| !d.is_empty());
    if let Some(f) = &a.digestfile {
        let d = digest.context("the service's push reported no digest")?;
        std::fs::write(f, d).with_context(|| format!("writing {}", f.display()))?;
    }
    // Podman's client removes the list itself once pushed.
    if a.rm {
        svc.call("DELETE", &format!("/manifests/{}", enc(&a.list)), None)?
            .json()?;
    }
    Ok(ExitCode::SUCCESS)
}
