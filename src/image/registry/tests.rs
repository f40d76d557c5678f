//! Pull and push against a real registry (see `testing`): round trips of
//! Docker and OCI images, skipping what is present, manifest lists by
//! platform, corrupt content, and htpasswd authentication.

use std::io::Write;

use hutch_storage::blobs::BlobStore;
use hutch_storage::digest::Digest;
use serde_json::json;

use super::testing::TestRegistry;
use super::*;

/// An image built in memory and stored in a `BlobStore`.
struct Image {
    manifest: Vec<u8>,
    media_type: &'static str,
    digest: Digest,
    config: Digest,
    layers: Vec<Digest>,
}

fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::open(dir.path()).unwrap();
    (dir, blobs)
}

fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, name, content).unwrap();
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Incompressible bytes, so that a layer spans many network reads.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An OCI image (one gzip layer, one zstd layer) or a Docker v2 schema 2
/// one (two gzip layers), distinguished from others by `marker`.
fn build_image(blobs: &BlobStore, docker: bool, arch: &str, marker: &str, size: usize) -> Image {
    let seed = marker.bytes().fold(size as u64, |a, b| {
        a.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    let first = tar_of("noise", &noise(size, seed));
    let second = tar_of("marker", marker.as_bytes());
    let (second_blob, second_type, first_type, config_type, media_type) = if docker {
        (
            gzip(&second),
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.container.image.v1+json",
            DOCKER_MANIFEST,
        )
    } else {
        (
            zstd::encode_all(&second[..], 3).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.config.v1+json",
            OCI_IMAGE_MANIFEST,
        )
    };
    let first_blob = gzip(&first);
    let config = serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"marker": marker}},
        "rootfs": {"type": "layers", "diff_ids": [
            Digest::of(&first).to_string(), Digest::of(&second).to_string()]},
    }))
    .unwrap();
    let descriptor = |media_type: &str, bytes: &[u8]| json!({"mediaType": media_type, "size": bytes.len(), "digest": Digest::of(bytes).to_string()});
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config_type, &config),
        "layers": [descriptor(first_type, &first_blob), descriptor(second_type, &second_blob)],
        "annotations": {"org.example.marker": format!("aaaa-{marker}")},
    }))
    .unwrap();
    let config = blobs.put_bytes(&config, None).unwrap();
    let layers = vec![
        blobs.put_bytes(&first_blob, None).unwrap(),
        blobs.put_bytes(&second_blob, None).unwrap(),
    ];
    let digest = blobs.put_bytes(&manifest, None).unwrap();
    Image {
        manifest,
        media_type,
        digest,
        config,
        layers,
    }
}

fn push_image(
    reg: &TestRegistry,
    repo: &str,
    tag: &str,
    image: &Image,
    blobs: &BlobStore,
    creds: Option<&Credentials>,
) -> Result<(Digest, Vec<ProgressEvent>), RegistryError> {
    let mut events = Vec::new();
    let digest = push(
        &reg.endpoint(),
        repo,
        tag,
        &image.manifest,
        image.media_type,
        blobs,
        creds,
        &mut |e| events.push(e),
    )?;
    Ok((digest, events))
}

fn pull_into(
    reg: &TestRegistry,
    blobs: &BlobStore,
    repo: &str,
    reference: &str,
    platform: &str,
    creds: Option<&Credentials>,
) -> (Result<Pulled, RegistryError>, Vec<ProgressEvent>) {
    let mut events = Vec::new();
    let result = pull(
        &reg.endpoint(),
        repo,
        reference,
        &platform.parse().unwrap(),
        creds,
        blobs,
        &mut |e| events.push(e),
    );
    (result, events)
}

fn count(events: &[ProgressEvent], pred: impl Fn(&ProgressEvent) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

fn uploads_or_downloads(events: &[ProgressEvent]) -> usize {
    count(events, |e| matches!(e, ProgressEvent::LayerStart { .. }))
}

#[test]
fn oci_image_round_trip() {
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    let (_src_dir, src) = store();
    let image = build_image(&src, false, "amd64", "round", 300_000);
    let (pushed, events) = push_image(&reg, "hutch/round", "v1", &image, &src, None).unwrap();
    assert_eq!(pushed, image.digest);
    assert_eq!(uploads_or_downloads(&events), 2);
    assert_eq!(
        count(&events, |e| matches!(e, ProgressEvent::ConfigCopied { .. })),
        1
    );

    let (_dst_dir, dst) = store();
    let (pulled, events) = pull_into(&reg, &dst, "hutch/round", "v1", "linux/amd64", None);
    let pulled = pulled.unwrap();
    assert_eq!(pulled.manifest_digest, image.digest);
    assert_eq!(pulled.manifest, image.manifest);
    assert_eq!(pulled.manifest_media_type, OCI_IMAGE_MANIFEST);
    assert_eq!(pulled.config, image.config);
    assert_eq!(pulled.list_digest, None);
    let layer_digests: Vec<&Digest> = pulled.layers.iter().map(|(d, _, _)| d).collect();
    assert_eq!(layer_digests, image.layers.iter().collect::<Vec<_>>());
    assert!(pulled.layers[1].2.ends_with("+zstd"));
    for digest in image.layers.iter().chain([&image.config, &image.digest]) {
        assert_eq!(
            dst.read(digest).unwrap(),
            src.read(digest).unwrap(),
            "{digest}"
        );
    }
    // Every started layer reports its full size as the last byte count.
    for (digest, size, _) in &pulled.layers {
        let last = events.iter().rev().find_map(|e| match e {
            ProgressEvent::LayerBytes { digest: d, done } if d == digest => Some(*done),
            _ => None,
        });
        assert_eq!(last, Some(*size), "{digest}");
    }
    assert_eq!(
        events.last(),
        Some(&ProgressEvent::ManifestDone {
            digest: image.digest.clone()
        })
    );

    // By digest, into a third store.
    let (_by_digest_dir, by_digest) = store();
    let (again, _) = pull_into(
        &reg,
        &by_digest,
        "hutch/round",
        &image.digest.to_string(),
        "linux/amd64",
        None,
    );
    assert_eq!(again.unwrap().manifest_digest, image.digest);
}

#[test]
fn docker_schema2_round_trip() {
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    let (_src_dir, src) = store();
    let image = build_image(&src, true, "amd64", "docker", 10_000);
    push_image(&reg, "library/dock", "latest", &image, &src, None).unwrap();
    let (_dst_dir, dst) = store();
    let (pulled, _) = pull_into(&reg, &dst, "library/dock", "latest", "linux/amd64", None);
    let pulled = pulled.unwrap();
    assert_eq!(pulled.manifest_digest, image.digest);
    assert_eq!(pulled.manifest_media_type, DOCKER_MANIFEST);
    assert_eq!(pulled.config, image.config);
}

#[test]
fn present_blobs_are_skipped_both_ways() {
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    let (_src_dir, src) = store();
    let image = build_image(&src, false, "amd64", "skip", 50_000);
    push_image(&reg, "hutch/skip", "v1", &image, &src, None).unwrap();

    // Pushing again (another tag) uploads only the manifest.
    let (digest, events) = push_image(&reg, "hutch/skip", "v2", &image, &src, None).unwrap();
    assert_eq!(digest, image.digest);
    assert_eq!(uploads_or_downloads(&events), 0, "{events:?}");
    assert_eq!(
        count(&events, |e| matches!(e, ProgressEvent::LayerSkipped { .. })),
        2
    );
    assert_eq!(
        count(&events, |e| matches!(
            e,
            ProgressEvent::ConfigSkipped { .. }
        )),
        1
    );
    assert_eq!(
        count(&events, |e| matches!(e, ProgressEvent::ManifestDone { .. })),
        1
    );

    // A store that has the first layer downloads only the second.
    let (_dst_dir, dst) = store();
    dst.put_bytes(&src.read(&image.layers[0]).unwrap(), None)
        .unwrap();
    let (pulled, events) = pull_into(&reg, &dst, "hutch/skip", "v2", "linux/amd64", None);
    pulled.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(
                e,
                ProgressEvent::LayerSkipped { .. } | ProgressEvent::LayerStart { .. }
            ))
            .cloned()
            .collect::<Vec<_>>(),
        [
            ProgressEvent::LayerSkipped {
                digest: image.layers[0].clone()
            },
            ProgressEvent::LayerStart {
                digest: image.layers[1].clone(),
                size: src.read(&image.layers[1]).unwrap().len() as u64
            },
        ]
    );
    // And a second pull downloads nothing.
    let (pulled, events) = pull_into(&reg, &dst, "hutch/skip", "v1", "linux/amd64", None);
    assert_eq!(pulled.unwrap().manifest_digest, image.digest);
    assert_eq!(uploads_or_downloads(&events), 0);
    assert_eq!(
        count(&events, |e| matches!(
            e,
            ProgressEvent::ConfigSkipped { .. }
        )),
        1
    );
}

#[test]
fn manifest_list_resolves_by_platform() {
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    let (_src_dir, src) = store();
    let amd = build_image(&src, false, "amd64", "amd", 5_000);
    let arm = build_image(&src, false, "arm64", "arm", 5_000);
    let entry = |image: &Image, platform: serde_json::Value| {
        json!({"mediaType": OCI_IMAGE_MANIFEST, "size": image.manifest.len(),
               "digest": image.digest.to_string(), "platform": platform})
    };
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_INDEX,
        "manifests": [
            entry(&amd, json!({"os": "linux", "architecture": "amd64"})),
            entry(&arm, json!({"os": "linux", "architecture": "arm64", "variant": "v8"})),
        ],
    }))
    .unwrap();
    let mut events = Vec::new();
    let index_digest = push(
        &reg.endpoint(),
        "hutch/multi",
        "latest",
        &index,
        OCI_IMAGE_INDEX,
        &src,
        None,
        &mut |e| events.push(e),
    )
    .unwrap();
    assert_eq!(index_digest, Digest::of(&index));
    assert_eq!(uploads_or_downloads(&events), 4);
    assert_eq!(
        events
            .iter()
            .filter_map(|e| match e {
                ProgressEvent::ManifestDone { digest } => Some(digest.clone()),
                _ => None,
            })
            .collect::<Vec<_>>(),
        [amd.digest.clone(), arm.digest.clone(), index_digest.clone()]
    );

    for (platform, image) in [
        ("linux/amd64", &amd),
        ("linux/arm64", &arm),
        ("linux/arm64/v8", &arm),
    ] {
        let (_dir, dst) = store();
        let (pulled, _) = pull_into(&reg, &dst, "hutch/multi", "latest", platform, None);
        let pulled = pulled.unwrap();
        assert_eq!(pulled.manifest_digest, image.digest, "{platform}");
        assert_eq!(pulled.config, image.config, "{platform}");
        assert_eq!(pulled.list_digest.as_ref(), Some(&index_digest));
        assert!(dst.contains(&image.layers[0]) && dst.contains(&image.layers[1]));
    }

    // By the list's digest too.
    let (_dir, dst) = store();
    let (pulled, _) = pull_into(
        &reg,
        &dst,
        "hutch/multi",
        &index_digest.to_string(),
        "linux/arm64",
        None,
    );
    assert_eq!(pulled.unwrap().config, arm.config);

    let (_dir, dst) = store();
    let (missing, _) = pull_into(&reg, &dst, "hutch/multi", "latest", "linux/riscv64", None);
    let err = missing.unwrap_err();
    assert!(
        matches!(&err, RegistryError::NoMatchingPlatform { available, .. }
            if available == &["linux/amd64", "linux/arm64/v8"]),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("linux/riscv64") && message.contains("linux/amd64, linux/arm64/v8"),
        "{message}"
    );
}

#[test]
fn corrupt_layer_fails_and_stores_nothing() {
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    let (_src_dir, src) = store();
    let image = build_image(&src, false, "amd64", "corrupt", 200_000);
    push_image(&reg, "hutch/corrupt", "v1", &image, &src, None).unwrap();
    let bad = &image.layers[0];
    let data = reg.blob_data(bad);
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();

    let (dst_dir, dst) = store();
    let (result, _) = pull_into(&reg, &dst, "hutch/corrupt", "v1", "linux/amd64", None);
    let err = result.unwrap_err();
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, .. } if *expected == bad.to_string()),
        "{err:?}"
    );
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(!dst.contains(bad));
    assert!(!dst.contains(&Digest::of(&bytes)));
    assert!(
        !dst.contains(&image.digest),
        "manifest stored for an incomplete image"
    );
    assert_eq!(
        std::fs::read_dir(dst_dir.path().join("tmp"))
            .unwrap()
            .count(),
        0,
        "temporary file left"
    );
}

#[test]
fn corrupt_manifest_fails() {
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    let (_src_dir, src) = store();
    let image = build_image(&src, false, "amd64", "tamper", 1_000);
    push_image(&reg, "hutch/tamper", "v1", &image, &src, None).unwrap();
    // Still valid JSON, so the registry serves it; only the digest can tell.
    let data = reg.blob_data(&image.digest);
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&data, text.replace("aaaa-tamper", "bbbb-tamper")).unwrap();

    for reference in [image.digest.to_string(), "v1".to_owned()] {
        let (_dir, dst) = store();
        let (result, _) = pull_into(&reg, &dst, "hutch/tamper", &reference, "linux/amd64", None);
        let err = result.unwrap_err();
        assert!(
            matches!(err, RegistryError::DigestMismatch { .. }),
            "{reference}: {err:?}"
        );
        assert!(!dst.contains(&image.config));
    }
}

#[test]
fn missing_images_and_bad_references() {
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    let (_dir, dst) = store();
    let (result, _) = pull_into(&reg, &dst, "hutch/absent", "v1", "linux/amd64", None);
    let err = result.unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("hutch/absent"), "{err}");
    for (repo, reference) in [
        ("hutch/x", "sha256:abc"),
        ("hutch/x", "../../v2"),
        ("Hutch/X", "v1"),
        ("hutch/../x", "v1"),
    ] {
        let (result, _) = pull_into(&reg, &dst, repo, reference, "linux/amd64", None);
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::BadReference { .. } | RegistryError::BadRepository { .. }
            ),
            "{repo} {reference}: {err:?}"
        );
    }
}

#[test]
fn htpasswd_auth() {
    let alice = Credentials {
        username: "alice".into(),
        password: "correct horse".into(),
    };
    let Some(reg) = TestRegistry::start(Some(&alice)) else {
        return;
    };
    let ep = reg.endpoint();
    let wrong = Credentials {
        username: "alice".into(),
        password: "battery staple".into(),
    };
    let err = check_login(&ep, &wrong).unwrap_err();
    assert!(
        matches!(err, RegistryError::InvalidCredentials { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("invalid username/password"),
        "{err}"
    );
    check_login(&ep, &alice).unwrap();

    let (_src_dir, src) = store();
    let image = build_image(&src, false, "amd64", "auth", 2_000);
    let anonymous = push_image(&reg, "hutch/private", "v1", &image, &src, None).unwrap_err();
    assert!(
        matches!(
            anonymous,
            RegistryError::Unauthorized {
                with_credentials: false,
                ..
            }
        ),
        "{anonymous:?}"
    );
    let (digest, _) = push_image(&reg, "hutch/private", "v1", &image, &src, Some(&alice)).unwrap();
    assert_eq!(digest, image.digest);

    let (_dst_dir, dst) = store();
    let (pulled, _) = pull_into(
        &reg,
        &dst,
        "hutch/private",
        "v1",
        "linux/amd64",
        Some(&alice),
    );
    assert_eq!(pulled.unwrap().config, image.config);
    for creds in [None, Some(&wrong)] {
        let (_dir, dst) = store();
        let (result, _) = pull_into(&reg, &dst, "hutch/private", "v1", "linux/amd64", creds);
        let err = result.unwrap_err();
        assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
        assert!(!err.to_string().contains("battery"), "password in {err}");
    }
}

#[test]
fn login_to_an_open_registry_succeeds() {
    let Some(reg) = TestRegistry::start(None) else {
        return;
    };
    let anyone = Credentials {
        username: "bob".into(),
        password: "x".into(),
    };
    check_login(&reg.endpoint(), &anyone).unwrap();
}

#[test]
fn unreachable_registry_is_an_error_naming_it() {
    // A port nothing listens on: connection refused, quickly.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let ep = Endpoint {
        registry: format!("127.0.0.1:{port}"),
        insecure: false,
    };
    let (_dir, dst) = store();
    let err = pull(
        &ep,
        "hutch/x",
        "v1",
        &Platform::host(),
        None,
        &dst,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains(&ep.registry), "{err}");
}

#[test]
fn tls_registry_with_a_self_signed_certificate() {
    let Some(reg) = TestRegistry::start_tls() else {
        return;
    };
    let (_src_dir, src) = store();
    let image = build_image(&src, false, "amd64", "tls", 20_000);
    // Insecure: TLS is still spoken (the probe finds it), unverified.
    let (digest, _) = push_image(&reg, "hutch/tls", "v1", &image, &src, None).unwrap();
    assert_eq!(digest, image.digest);
    let (_dst_dir, dst) = store();
    let (pulled, _) = pull_into(&reg, &dst, "hutch/tls", "v1", "linux/amd64", None);
    assert_eq!(pulled.unwrap().config, image.config);

    // Secure: the certificate is checked, and no CA signed it.
    let secure = Endpoint {
        insecure: false,
        ..reg.endpoint()
    };
    let (_dir, dst) = store();
    let err = pull(
        &secure,
        "hutch/tls",
        "v1",
        &Platform::host(),
        None,
        &dst,
        &mut |_| {},
    )
    .unwrap_err();
    // Refused at the first request, hutch's own `/v2/` check.
    assert!(
        matches!(
            err,
            RegistryError::Request { .. } | RegistryError::Http { .. }
        ),
        "{err:?}"
    );
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain += &format!(": {s}");
        source = s.source();
    }
    assert!(chain.contains("certificate"), "{chain}");
}

/// What the hostile registry answers for a manifest.
#[derive(Clone, Copy)]
enum Hostile {
    /// 200 and body bytes without end (no Content-Length), until the
    /// client hangs up or 64 MiB went out.
    Endless,
    /// A declared Content-Length of 50 MB (the body never comes).
    Declared,
    /// A valid image manifest whose config declares 50 MB.
    BigConfig,
    /// `/v2/` asks for a bearer token whose service answers without end.
    EndlessToken,
    /// `/v2/` asks for a bearer token; the service gives `good`, and a
    /// manifest request that presents it gets 404 (without it, 401).
    GoodToken,
}

/// A registry on 127.0.0.1 that serves `what` for every manifest; `/v2/`
/// answers 200 without a challenge. Returns its endpoint and the bytes of
/// manifest body it managed to send, once it is done.
fn hostile_registry(what: Hostile) -> (Endpoint, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::Read;
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let counter = counter.clone();
            std::thread::spawn(move || {
                // The request head (a TLS probe is not one: it is closed).
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
                    match conn.read(&mut byte) {
                        // A TLS ClientHello (0x16 first) would wait for
                        // an answer forever: close it, so the client
                        // falls back to plain HTTP.
                        Ok(1) if head.is_empty() && !byte[0].is_ascii_uppercase() => return,
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let Some(path) = head.strip_prefix("GET ").and_then(|r| r.split(' ').next()) else {
                    return;
                };
                let oci = "application/vnd.oci.image.manifest.v1+json";
                if matches!(what, Hostile::GoodToken) && path.starts_with("/token") {
                    let body = r#"{"token":"good","expires_in":300}"#;
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                if matches!(what, Hostile::GoodToken) && path.contains("/manifests/") {
                    let status = match head.contains("Bearer good") {
                        true => "404 Not Found",
                        false => "401 Unauthorized",
                    };
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    return;
                }
                if matches!(what, Hostile::EndlessToken | Hostile::GoodToken) {
                    if path.starts_with("/token") {
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{\"token\":\""
                        );
                        let chunk = vec![b'a'; 64 << 10];
                        while counter.load(Ordering::SeqCst) < 64 << 20 {
                            if conn.write_all(&chunk).is_err() {
                                break;
                            }
                            counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                        }
                    } else {
                        let _ = write!(
                            conn,
                            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"hostile\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                    return;
                }
                if !path.contains("/manifests/") {
                    let _ = conn.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    return;
                }
                match what {
                    Hostile::Endless => {
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: {oci}\r\nConnection: close\r\n\r\n"
                        );
                        let chunk = vec![b' '; 64 << 10];
                        while counter.load(Ordering::SeqCst) < 64 << 20 {
                            if conn.write_all(&chunk).is_err() {
                                break;
                            }
                            counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                        }
                    }
                    Hostile::Declared => {
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: {oci}\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n"
                        );
                    }
                    Hostile::BigConfig => {
                        let body = json!({
                            "schemaVersion": 2,
                            "mediaType": oci,
                            "config": {
                                "mediaType": "application/vnd.oci.image.config.v1+json",
                                "digest": Digest::of(b"big").to_string(),
                                "size": 50_000_000,
                            },
                            "layers": [],
                        })
                        .to_string();
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: {oci}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    // Answered above.
                    Hostile::EndlessToken | Hostile::GoodToken => {}
                }
            });
        }
    });
    let ep = Endpoint {
        registry: format!("127.0.0.1:{port}"),
        insecure: true,
    };
    (ep, sent)
}

/// Issue 17 item 2: a manifest without Content-Length and without end was
/// read whole (4 GB of memory for 2 GiB), a 50 MB one too, and a 50 MB
/// config blob was accepted; a token service's answer was read whole by
/// oci-client. Now each is refused at its documented limit, the read
/// stopping there.
#[test]
fn oversized_registry_documents_are_refused_at_their_limit() {
    for what in [
        Hostile::Endless,
        Hostile::Declared,
        Hostile::BigConfig,
        Hostile::EndlessToken,
    ] {
        let (ep, sent) = hostile_registry(what);
        let (_dir, blobs) = store();
        let result = pull(
            &ep,
            "hostile/image",
            "latest",
            &"linux/amd64".parse().unwrap(),
            None,
            &blobs,
            &mut |_| {},
        );
        let Err(err) = result else {
            panic!("an oversized document was accepted");
        };
        let (limit, thing) = match what {
            Hostile::BigConfig => (pull::MAX_CONFIG_BYTES, "config"),
            Hostile::EndlessToken => (super::token::MAX_TOKEN_BYTES, "token"),
            _ => (pull::MAX_MANIFEST_BYTES, "manifest"),
        };
        assert!(
            matches!(&err, RegistryError::TooLarge { limit: l, .. } if *l == limit),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("larger than {limit} bytes")),
            "{text}"
        );
        assert!(text.contains(thing), "{text}");
        if matches!(what, Hostile::Endless | Hostile::EndlessToken) {
            // The client hung up near the limit: what went out is the limit
            // plus what the sockets' buffers held, far from the 64 MiB the
            // server would have sent.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut last = u64::MAX;
            while std::time::Instant::now() < deadline {
                let now = sent.load(std::sync::atomic::Ordering::SeqCst);
                if now == last {
                    break;
                }
                last = now;
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            assert!(last < 32 << 20, "the server sent {last} bytes");
        }
    }
}

/// The bearer token hutch fetches itself (bounded) is the one oci-client
/// and hutch's manifest reads present.
#[test]
fn bearer_tokens_fetched_by_hutch_are_presented() {
    let (ep, _) = hostile_registry(Hostile::GoodToken);
    let (_dir, blobs) = store();
    let err = pull(
        &ep,
        "token/image",
        "latest",
        &"linux/amd64".parse().unwrap(),
        None,
        &blobs,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
}

#[test]
fn loopback_registries_may_speak_plain_http() {
    for r in [
        "127.0.0.1:5000",
        "127.1.2.3",
        "localhost:5000",
        "[::1]:5000",
        "::1",
    ] {
        assert!(super::is_loopback(r), "{r}");
    }
    for r in [
        "docker.io",
        "10.0.0.1:5000",
        "[2001:db8::1]:443",
        "localhost.example",
    ] {
        assert!(!super::is_loopback(r), "{r}");
    }
    let ep = Endpoint {
        registry: "127.0.0.1:5000".into(),
        insecure: false,
    };
    assert!(ep.allows_plain_http());
}
