//! Image commands of the remote client beyond tag and rmi, as
//! `podman --remote` does them: `pull` and `push` run on the service, the
//! client sending the credentials (`--creds`, else its own auth file's
//! entry for the reference, else none, and the service's own auth.json
//! applies) and printing the service's progress lines on stderr; `images`
//! and `history` print the service's records with the local commands'
//! printers; `save` writes the service's archive here, `load` and
//! `import` send a file of the client's (or its stdin).

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::{API_PREFIX, Service, enc, http};
use crate::cli::image::{HistoryArgs, ImagesArgs, ImportArgs, LoadArgs, SaveArgs, UntagArgs};
use crate::cli::registry::{CommonRegistryArgs, PullArgs, PushArgs};
use crate::host::time;

/// The repository part of a registry reference (no transport, tag or
/// digest), which auth files are keyed by.
fn repository(reference: &str) -> &str {
    let r = reference.strip_prefix("docker://").unwrap_or(reference);
    let r = r.split_once('@').map_or(r, |(n, _)| n);
    match r.rfind(':') {
        Some(i) if !r[i..].contains('/') => &r[..i],
        _ => r,
    }
}

/// `X-Registry-Auth` for `destination`, if the client has credentials.
/// A named `--authfile` must exist, as the local commands say.
pub(super) fn registry_auth(
    common: &CommonRegistryArgs,
    destination: &str,
) -> anyhow::Result<Option<String>> {
    use base64::Engine as _;
    if let Some(f) = &common.authfile
        && common.creds.is_none()
        && !f.exists()
    {
        bail!("stat {}: no such file or directory", f.display());
    }
    let (user, pass) = if let Some(c) = &common.creds {
        let (u, p) = c.split_once(':').unwrap_or((c, ""));
        if u.is_empty() {
            bail!("invalid --creds: the username is empty");
        }
        (u.to_owned(), p.to_owned())
    } else {
        let file = match &common.authfile {
            Some(f) => crate::image::auth::AuthFile::new(f),
            None => {
                let run = std::env::var_os("XDG_RUNTIME_DIR")
                    .filter(|x| !x.is_empty())
                    .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
                crate::image::auth::AuthFile::locate(&run)
            }
        };
        match file
            .get(repository(destination))
            .context("reading the auth file")?
        {
            Some(c) => (c.username, c.password),
            None => return Ok(None),
        }
    };
    let v = json!({"username": user, "password": pass});
    Ok(Some(
        base64::engine::general_purpose::URL_SAFE.encode(v.to_string()),
    ))
}

pub fn push(svc: &Service, a: &PushArgs) -> anyhow::Result<ExitCode> {
    // Podman 4.3.1's remote client drops these flags and pushes unsigned;
    // refused here instead.
    if a.sign_by_sigstore_private_key.is_some() {
        bail!(
            "--sign-by-sigstore-private-key is not supported by hutch's remote client: the key is the client's"
        );
    }
    if a.sign_by.is_some() {
        bail!("--sign-by is not supported by hutch's remote client: the key is the client's");
    }
    let destination = a.destination.clone().unwrap_or_else(|| a.image.clone());
    let mut q = format!(
        "{API_PREFIX}/images/{}/push?destination={}&quiet={}",
        enc(&a.image),
        enc(&destination),
        a.quiet
    );
    if let Some(t) = a.common.tls_verify {
        q.push_str(&format!("&tlsVerify={t}"));
    }
    let auth = registry_auth(&a.common, &destination)?;
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|v| vec![("X-Registry-Auth", v)])
        .unwrap_or_default();
    let r = http::send_with(&svc.socket, "POST", &q, None, &headers)?;
    let digest = super::commands::follow_progress(r.stream()?, a.quiet, "push", "manifestdigest")?;
    if let Some(f) = &a.digestfile {
        let d = digest.context("the service's push reported no digest")?;
        std::fs::write(f, d).with_context(|| format!("writing {}", f.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The headers carrying `auth`, if any.
pub(super) fn auth_headers(auth: Option<&str>) -> Vec<(&'static str, &str)> {
    auth.map(|v| vec![("X-Registry-Auth", v)])
        .unwrap_or_default()
}

/// `pull`: the service pulls each image, the client sending its
/// credentials and the platform asked for (libpod's `os`, `arch`,
/// `variant`); the image id on stdout, as the local command prints it.
pub fn pull(svc: &Service, a: &PullArgs) -> anyhow::Result<ExitCode> {
    let mut platform = match &a.platform {
        Some(p) => Some(
            p.parse::<crate::image::registry::Platform>()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        None => None,
    };
    let (mut os, mut arch, mut variant) = match platform.take() {
        Some(p) => (Some(p.os), Some(p.architecture), p.variant),
        None => (None, None, None),
    };
    os = a.os.clone().or(os);
    arch = a.arch.clone().or(arch);
    variant = a.variant.clone().or(variant);
    for image in &a.images {
        let mut q = format!(
            "{API_PREFIX}/images/pull?reference={}&policy=always&quiet={}",
            enc(image),
            a.quiet
        );
        if let Some(t) = a.common.tls_verify {
            q.push_str(&format!("&tlsVerify={t}"));
        }
        for (k, v) in [("os", &os), ("arch", &arch), ("variant", &variant)] {
            if let Some(v) = v {
                q.push_str(&format!("&{k}={}", enc(v)));
            }
        }
        let auth = registry_auth(&a.common, image)?;
        let r = http::send_with(
            &svc.socket,
            "POST",
            &q,
            None,
            &auth_headers(auth.as_deref()),
        )?;
        let id = super::commands::follow_progress(r.stream()?, a.quiet, "pull", "id")?;
        println!("{}", id.context("the service's pull reported no image id")?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `filters=` of libpod's image list: `--filter K=V` items and the
/// positional name (Podman's client sends it as `reference=`).
fn list_filters(a: &ImagesArgs) -> String {
    let mut f: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for item in &a.filter {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        f.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    if let Some(n) = &a.image {
        f.entry("reference".into()).or_default().push(n.clone());
    }
    if f.is_empty() {
        return String::new();
    }
    format!("&filters={}", enc(&json!(f).to_string()))
}

/// `images [NAME]`: the service's listing (libpod's `ImageSummary`, one
/// per image, newest first), printed by the local command's printer.
pub fn list(svc: &Service, a: &ImagesArgs) -> anyhow::Result<ExitCode> {
    crate::cli::image::check_sort(&a.sort)?;
    let listed = svc
        .call(
            "GET",
            &format!("/images/json?all={}{}", a.all, list_filters(a)),
            None,
        )?
        .json()?;
    let per_image: Vec<Value> = listed.as_array().cloned().unwrap_or_default();
    let now = time::now();
    let mut rows = Vec::new();
    for i in &per_image {
        let names: Vec<&str> = i["Names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let created = i["Created"].as_i64().unwrap_or(0);
        let id = i["Id"].as_str().unwrap_or("").trim_start_matches("sha256:");
        let size = i["Size"].as_u64().unwrap_or(0);
        let row = |name: Option<&str>| {
            let (repo, tag) = name.map_or_else(
                || ("<none>".to_owned(), "<none>".to_owned()),
                crate::engine::image::list::repo_tag,
            );
            json!({
                "ID": id.get(..12).unwrap_or(id),
                "Id": id,
                "Repository": repo,
                "Tag": tag,
                "Digest": i["Digest"],
                "Created": created,
                "CreatedAt": time::rfc3339(created),
                "CreatedSince": time::ago(created, now),
                "Size": time::human_size(size),
                "VirtualSize": i["VirtualSize"],
                "Names": i["Names"],
                "Labels": i["Labels"],
                "Dangling": names.is_empty(),
                "Containers": i["Containers"],
                "ReadOnly": i["ReadOnly"],
            })
        };
        if names.is_empty() {
            rows.push(row(None));
        }
        for n in &names {
            rows.push(row(Some(n)));
        }
    }
    crate::cli::image::print_images(a, rows, per_image)
}

/// `history`: the service's entries (Docker's `HistoryResponseItem`s,
/// which Podman's libpod route answers with) as the local rows.
pub fn history(svc: &Service, a: &HistoryArgs) -> anyhow::Result<ExitCode> {
    crate::format::OutputFormat::parse(a.format.as_deref())?;
    let entries = svc
        .call("GET", &format!("/images/{}/history", enc(&a.image)), None)?
        .json()?;
    let now = time::now();
    let rows: Vec<Value> = entries
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let id = e["Id"].as_str().unwrap_or("<missing>");
            crate::engine::image::history::row(
                id.trim_start_matches("sha256:"),
                e["Created"].as_i64().unwrap_or(0),
                e["CreatedBy"].as_str().unwrap_or_default(),
                e["Size"].as_u64().unwrap_or(0),
                e["Comment"].as_str().unwrap_or_default(),
                now,
            )
        })
        .collect();
    crate::cli::image::print_history(a, rows)
}

/// `image tree`: the service's text, printed as the local command does.
pub fn tree(svc: &Service, a: &crate::cli::image::TreeArgs) -> anyhow::Result<ExitCode> {
    let v = svc
        .call(
            "GET",
            &format!(
                "/images/{}/tree?whatrequires={}",
                enc(&a.image),
                a.whatrequires
            ),
            None,
        )?
        .json()?;
    println!("{}", v["Tree"].as_str().unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

/// `untag IMAGE [NAME...]`: each name, or every name without one.
pub fn untag(svc: &Service, a: &UntagArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/images/{}/untag", enc(&a.image));
    if a.names.is_empty() {
        svc.call("POST", &path, None)?.json()?;
    }
    for n in &a.names {
        svc.call("POST", &format!("{path}?repo={}", enc(n)), None)?
            .json()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `save`: the service's archive of the images (libpod's `get` for one,
/// `export` for several) to `-o` or stdout; the directory formats arrive
/// as a tar of the directory and are unpacked into `-o`.
pub fn save(svc: &Service, a: &SaveArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let format = crate::engine::image::transfer::SaveFormat::parse(&a.format)?;
    let dir_format = matches!(
        format,
        crate::engine::image::transfer::SaveFormat::OciDir
            | crate::engine::image::transfer::SaveFormat::DockerDir
    );
    if dir_format && a.output.is_none() {
        bail!("--format {} needs a directory given with -o", a.format);
    }
    if a.output.is_none() && std::io::stdout().is_terminal() {
        bail!("refusing to save to terminal. Use -o flag or redirect");
    }
    let q = match a.images.as_slice() {
        [one] => format!(
            "/images/{}/get?format={}&compress={}",
            enc(one),
            enc(&a.format),
            a.compress
        ),
        many => format!(
            "/images/export?format={}&compress={}{}",
            enc(&a.format),
            a.compress,
            many.iter()
                .map(|n| format!("&references={}", enc(n)))
                .collect::<String>()
        ),
    };
    let mut archive = svc.call("GET", &q, None)?.stream()?;
    match &a.output {
        Some(dir) if dir_format => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut tar = tar::Archive::new(archive);
            tar.set_preserve_permissions(false);
            tar.unpack(dir)
                .with_context(|| format!("writing {}", dir.display()))?;
        }
        Some(path) => {
            // Write-then-rename, as the local save: an interrupted save
            // never leaves a truncated archive under the requested name.
            let tmp = path.with_extension("hutch-partial");
            let result = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))
                .and_then(|mut f| {
                    std::io::copy(&mut archive, &mut f).context("receiving the archive")?;
                    std::fs::rename(&tmp, path)
                        .with_context(|| format!("writing {}", path.display()))
                });
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut archive, &mut out).context("writing to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens `path` for sending, or stdin for `-`/none (not a terminal).
fn source(path: Option<&std::path::Path>, refusal: &str) -> anyhow::Result<Box<dyn std::io::Read>> {
    use std::io::IsTerminal;
    match path {
        Some(p) if p != std::path::Path::new("-") => Ok(Box::new(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
        _ => {
            if std::io::stdin().is_terminal() {
                bail!("{refusal}");
            }
            Ok(Box::new(std::io::stdin()))
        }
    }
}

/// `load`: the archive (`-i` or stdin) sent to the service; the names it
/// stored, as the local command prints them.
pub fn load(svc: &Service, a: &LoadArgs) -> anyhow::Result<ExitCode> {
    let mut input = source(
        a.input.as_deref(),
        "cannot read from terminal, use command-line redirection or the --input flag",
    )?;
    let r = http::send(
        &svc.socket,
        "POST",
        &format!("{API_PREFIX}/images/load"),
        Some(http::Body::Tar(&mut input)),
    )?;
    let report = r.json()?;
    if !a.quiet {
        for n in report["Names"].as_array().into_iter().flatten() {
            println!("Loaded image: {}", n.as_str().unwrap_or(""));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `import`: the tarball (a file or `-`) sent to the service with the
/// name, message and `--change`s; the new image's id.
pub fn import(svc: &Service, a: &ImportArgs) -> anyhow::Result<ExitCode> {
    if a.path.contains("://") {
        bail!(
            "import from a URL through hutch's remote client is not available: download it first"
        );
    }
    let mut input = source(
        Some(std::path::Path::new(&a.path)),
        "cannot read from terminal, use command-line redirection",
    )?;
    let mut q = format!("{API_PREFIX}/images/import?quiet={}", a.quiet);
    if let Some(r) = &a.reference {
        q.push_str(&format!("&reference={}", enc(r)));
    }
    if let Some(m) = &a.message {
        q.push_str(&format!("&message={}", enc(m)));
    }
    for c in &a.change {
        q.push_str(&format!("&changes={}", enc(c)));
    }
    let r = http::send(&svc.socket, "POST", &q, Some(http::Body::Tar(&mut input)))?;
    let report = r.json()?;
    println!(
        "{}",
        report["Id"]
            .as_str()
            .context("the service's import reported no image id")?
    );
    Ok(ExitCode::SUCCESS)
}

/// `image inspect IMAGE...` (`--format`): `GET /images/{name}/json`, the
/// service's document printed as the local command prints its own (the
/// same Go templates); missing images named together at the end, with the
/// local words and code.
pub fn inspect(svc: &Service, a: &crate::cli::image::InspectArgs) -> anyhow::Result<ExitCode> {
    use crate::format::{OutputFormat, to_json_pretty};
    let format = OutputFormat::parse(a.format.as_deref())?;
    let mut views = Vec::new();
    let mut missing = Vec::new();
    for name in &a.images {
        match svc
            .call("GET", &format!("/images/{}/json", enc(name)), None)?
            .json()
        {
            Ok(v) => views.push(v),
            Err(e) if super::containers::is_missing(&e) => {
                missing.push(format!("{name}: image not known"));
            }
            Err(e) => return Err(e),
        }
    }
    match format {
        OutputFormat::Template(t) => {
            for v in &views {
                print!("{}", t.render_one(v)?);
            }
        }
        _ => println!("{}", to_json_pretty(&Value::Array(views))),
    }
    if !missing.is_empty() {
        return Err(crate::cli::container::inspect::not_found(&missing));
    }
    Ok(ExitCode::SUCCESS)
}

/// `image prune` (`-a`, `-f`): `POST /images/prune`; the removed ids
/// printed as locally.
pub fn prune(svc: &Service, a: &crate::cli::image::PruneArgs) -> anyhow::Result<ExitCode> {
    if !a.force
        && !crate::cli::confirm(if a.all {
            "WARNING! This command removes all images without at least one container associated with them."
        } else {
            "WARNING! This command removes all dangling images."
        })?
    {
        return Ok(ExitCode::SUCCESS);
    }
    let mut q = format!("/images/prune?all={}", a.all);
    if !a.filter.is_empty() {
        q.push_str(&super::containers::filters_query(&a.filter));
    }
    let v = svc.call("POST", &q, None)?.json()?;
    for r in v.as_array().into_iter().flatten() {
        if let Some(id) = r["Id"].as_str() {
            println!("{id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `search`: the service searches (its registries.conf, its network), the
/// client sending its credentials and printing with the local printer.
pub fn search(svc: &Service, a: &crate::cli::search::SearchArgs) -> anyhow::Result<ExitCode> {
    crate::format::OutputFormat::parse(a.format.as_deref())?;
    if a.list_tags && !a.filter.is_empty() {
        bail!("filters are not applicable to list tags result");
    }
    let mut q = format!(
        "{API_PREFIX}/images/search?term={}&limit={}&listTags={}",
        enc(&a.term),
        a.limit,
        a.list_tags
    );
    if let Some(t) = a.tls_verify {
        q.push_str(&format!("&tlsVerify={t}"));
    }
    if !a.filter.is_empty() {
        let mut filters = serde_json::Map::new();
        // `key` alone goes as an empty list, which the service reads
        // back as `key` (`is-official`, or a bad key in Podman's words).
        for f in &a.filter {
            let (k, v) = match f.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (f.as_str(), None),
            };
            let entry = filters.entry(k.to_owned()).or_insert_with(|| json!([]));
            if let (Some(vals), Some(v)) = (entry.as_array_mut(), v) {
                vals.push(json!(v));
            }
        }
        q.push_str(&format!(
            "&filters={}",
            enc(&Value::Object(filters).to_string())
        ));
    }
    let common = CommonRegistryArgs {
        tls_verify: a.tls_verify,
        creds: a.creds.clone(),
        authfile: a.authfile.clone(),
        disable_content_trust: false,
    };
    let auth = registry_auth(&common, &a.term)?;
    let answer = http::send_with(&svc.socket, "GET", &q, None, &auth_headers(auth.as_deref()))?;
    let mut reports: Vec<crate::engine::image::search::SearchReport> =
        serde_json::from_value(answer.json()?).context("reading the service's search results")?;
    for r in &mut reports {
        r.description = crate::engine::image::search::truncate(&r.description, a.no_trunc);
    }
    crate::cli::search::print(a, reports)
}

#[cfg(test)]
mod tests {
    use super::repository;

    #[test]
    fn auth_keys_are_repositories() {
        assert_eq!(repository("localhost:5000/a/b:1"), "localhost:5000/a/b");
        assert_eq!(repository("docker://quay.io/x@sha256:00"), "quay.io/x");
        assert_eq!(repository("localhost:5000/a"), "localhost:5000/a");
    }
}
