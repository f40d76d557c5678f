//! Pull, push and login against a real registry (Debian's docker-registry on
//! 127.0.0.1), as the unprivileged test user.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::images::*;
use common::registry::Registry;
use common::*;

/// A test environment whose registries.conf marks the test registry as
/// plain HTTP (and keeps the host's aliases out of the way).
fn env_with(reg: &Registry) -> TestEnv {
    let mut env = TestEnv::new(TestUser::default_user());
    let conf = write_readable(
        &env.root,
        "registries.conf",
        format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            reg.address()
        )
        .as_bytes(),
    );
    env.vars.push((
        "CONTAINERS_REGISTRIES_CONF".into(),
        conf.display().to_string(),
    ));
    env
}

fn start(env_root: &std::path::Path, auth: Option<(&str, &str)>) -> Option<Registry> {
    Registry::start(&env_root.join("registry"), auth)
}

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hutch-reg-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// Imports a three-layer image (gzip, zstd and plain layers via a
/// docker-archive) and returns its id.
fn load_layered(env: &TestEnv, name: &str) -> String {
    let layers = vec![
        busybox_rootfs(),
        layer(&[
            Entry::Dir("data"),
            Entry::Owned("data/by-1000", b"owned", 1000, 1000),
        ]),
        layer(&[
            Entry::Dir("etc"),
            Entry::File("etc/.wh.passwd", b""),
            Entry::File("etc/motd", b"hi\n"),
        ]),
    ];
    let archive = write_readable(&env.root, "layered.tar", &docker_archive(&layers, name));
    env.ok(["load", "-i", archive.to_str().unwrap()]);
    env.ok(["image", "inspect", name, "--format", "{{.Id}}"])
        .trim()
        .to_owned()
}

#[test]
fn push_then_pull_round_trip_keeps_digests() {
    let dir = scratch();
    let Some(reg) = start(&dir, None) else { return };
    let env = env_with(&reg);
    let id = load_layered(&env, "localhost/layered:latest");
    let remote = format!("{}/test/layered:v1", reg.address());
    env.ok(["tag", "layered", &remote]);
    let digest_file = env.home.join("digest");
    env.ok([
        "push",
        "--digestfile",
        digest_file.to_str().unwrap(),
        &remote,
    ]);
    let pushed = fs::read_to_string(&digest_file).unwrap();
    assert!(pushed.starts_with("sha256:"), "{pushed}");

    env.ok(["rmi", "-a", "-f"]);
    assert!(env.ok(["images", "-q"]).trim().is_empty());
    let out = env.run(["pull", &remote]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), id, "pull prints the image id");
    // Podman's lines when stderr is not a terminal: blobs, then the
    // config, by full digest.
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&format!("Trying to pull {remote}...").as_str()),
        "{err}"
    );
    assert_eq!(
        lines.get(1),
        Some(&"Getting image source signatures"),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Copying blob sha256:") && l.len() == 84),
        "{err}"
    );
    assert_eq!(
        &lines[lines.len() - 3..],
        [
            format!("Copying config sha256:{id}").as_str(),
            "Writing manifest to image destination",
            "Storing signatures"
        ],
        "{err}"
    );
    let out = env.run(["pull", "-q", &remote]);
    assert_eq!(stderr(&out), "", "-q: nothing but the id");
    assert_eq!(
        env.ok([
            "image",
            "inspect",
            &remote,
            "--format",
            "{{.Id}} {{.Digest}}"
        ])
        .trim(),
        format!("{id} {pushed}")
    );

    // Pulling again finds everything in place and gives the same image.
    assert_eq!(env.ok(["pull", &remote]).trim(), id);

    // Pulled by digest: no name kept, the digest reference finds it, and
    // untagging that reference succeeds as in Podman.
    let by_digest = format!("{}/test/layered@{}", reg.address(), pushed.trim());
    env.ok(["rmi", "-a", "-f"]);
    assert_eq!(env.ok(["pull", "-q", &by_digest]).trim(), id);
    assert_eq!(
        env.ok(["image", "inspect", "--format", "{{.Id}}", &by_digest])
            .trim(),
        id
    );
    env.ok(["untag", &by_digest, &by_digest]);
    env.ok(["pull", "-q", &remote]);

    // `create` (and `run`) pull with the same lines; `-q` silences them.
    env.ok(["rmi", "-f", &remote]);
    let out = env.run(["create", &remote, "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!(
            "Trying to pull {remote}...\nGetting image source signatures\n"
        )),
        "{}",
        stderr(&out)
    );
    let out = env.run(["create", "-q", "--pull", "always", &remote, "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "-q: no pull lines");

    // The pull's registry flags on create/run, as Podman's: a named auth
    // file must exist; `--tls-verify` takes its value only after `=` (the
    // next word is the image); a bad `--platform` is named.
    let missing = dir.join("no-auth.json").display().to_string();
    let out = env.run([
        "create",
        "-q",
        "--pull",
        "always",
        "--authfile",
        &missing,
        &remote,
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains(&format!("stat {missing}: no such file or directory")),
        "{}",
        stderr(&out)
    );
    let out = env.run(["pull", "-q", "--authfile", &missing, &remote]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    env.ok([
        "create",
        "-q",
        "--pull",
        "always",
        "--tls-verify=false",
        &remote,
        "true",
    ]);
    env.ok(["pull", "-q", "--tls-verify", &remote]);
    env.ok(["create", "-q", "--tls-verify", &remote, "true"]);
    let out = env.run(["create", "--platform", "bogus", &remote]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("--platform \"bogus\""),
        "{}",
        stderr(&out)
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn pulled_files_owned_by_1000_land_on_the_subuid_range() {
    let dir = scratch();
    let Some(reg) = start(&dir, None) else { return };
    let env = env_with(&reg);
    let Some((start_id, _)) = env.user.sub_range("/etc/subuid") else {
        eprintln!("skipped: no subuid range");
        return;
    };
    load_layered(&env, "localhost/layered:latest");
    let remote = format!("{}/test/owned:v1", reg.address());
    env.ok(["tag", "layered", &remote]);
    env.ok(["push", &remote]);
    env.ok(["rmi", "-a", "-f"]);
    env.ok(["pull", "-q", &remote]);
    let found = walk(
        &env.home.join(".local/share/hutch/storage/layers"),
        "by-1000",
    );
    let meta = fs::metadata(found.expect("pulled file on disk")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.uid(), start_id + 999);
    let _ = fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for e in fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if e.file_name() == name {
            return Some(p);
        }
        if e.file_type().ok()?.is_dir()
            && let Some(f) = walk(&p, name)
        {
            return Some(f);
        }
    }
    None
}

#[test]
fn corrupted_blob_fails_the_pull_and_leaves_nothing() {
    let dir = scratch();
    let Some(reg) = start(&dir, None) else { return };
    let env = env_with(&reg);
    load_layered(&env, "localhost/layered:latest");
    let remote = format!("{}/test/corrupt:v1", reg.address());
    env.ok(["tag", "layered", &remote]);
    env.ok(["push", &remote]);
    let inspect: serde_json::Value =
        serde_json::from_str(&env.ok(["image", "inspect", &remote])).unwrap();
    let manifest_digest = inspect[0]["Digest"].as_str().unwrap().to_owned();
    env.ok(["rmi", "-a", "-f"]);
    // Corrupt the last layer blob the registry holds for this image.
    let manifest = fs::read(reg.blob_path(manifest_digest.trim_start_matches("sha256:"))).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layer = manifest["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = reg.blob_path(layer.trim_start_matches("sha256:"));
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xff;
    fs::write(&path, bytes).unwrap();

    let out = env.run(["pull", &remote]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("digest") || err.contains("sha256"),
        "a digest error: {err}"
    );
    assert!(
        env.ok(["images", "-q"]).trim().is_empty(),
        "no image visible"
    );
    let blob = env
        .home
        .join(".local/share/hutch/storage/blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    assert!(!blob.exists(), "corrupt blob not stored");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn two_concurrent_pulls_store_layers_once() {
    let dir = scratch();
    let Some(reg) = start(&dir, None) else { return };
    let env = env_with(&reg);
    load_layered(&env, "localhost/layered:latest");
    let remote = format!("{}/test/concurrent:v1", reg.address());
    env.ok(["tag", "layered", &remote]);
    env.ok(["push", &remote]);
    env.ok(["rmi", "-a", "-f"]);
    let children: Vec<_> = (0..2)
        .map(|_| {
            env.hutch(["pull", "-q", &remote])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        assert!(o.status.success(), "{}", stderr(o));
    }
    assert_eq!(stdout(&outs[0]), stdout(&outs[1]));
    let layers: Vec<_> = fs::read_dir(env.home.join(".local/share/hutch/storage/layers"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("diff").is_dir())
        .collect();
    assert_eq!(layers.len(), 3, "three layers, each stored once");
    assert_eq!(env.ok(["images", "-q"]).lines().count(), 1);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn login_with_a_wrong_password_fails_clearly() {
    let dir = scratch();
    let Some(reg) = start(&dir, Some(("alice", "s3cret"))) else {
        return;
    };
    let env = env_with(&reg);
    let out = env.run(["login", "-u", "alice", "-p", "wrong", &reg.address()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("invalid username/password"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("wrong"),
        "the password is never printed"
    );

    let out = env.run(["login", "-u", "alice", "-p", "s3cret", &reg.address()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Login Succeeded!"));
    let auth = env
        .xdg_runtime_dir
        .as_ref()
        .unwrap()
        .join("containers/auth.json");
    let text = fs::read_to_string(&auth).unwrap();
    assert!(text.contains(&reg.address()), "{text}");

    // Stored credentials are used by push and pull.
    load_layered(&env, "localhost/layered:latest");
    let remote = format!("{}/private/img:v1", reg.address());
    env.ok(["tag", "layered", &remote]);
    env.ok(["push", &remote]);
    env.ok(["logout", &reg.address()]);
    let out = env.run(["push", &remote]);
    assert_eq!(out.status.code(), Some(125), "anonymous push refused");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn manifest_list_pull_picks_the_platform() {
    let dir = scratch();
    let Some(reg) = start(&dir, None) else { return };
    let env = env_with(&reg);
    // Two single-arch images pushed by digest, then an OCI index naming them.
    let amd = load_layered(&env, "localhost/amd:latest");
    let arm_layers = vec![layer(&[Entry::File("arm", b"arm64")])];
    let arch_archive = write_readable(
        &env.root,
        "arm.tar",
        &docker_archive(&arm_layers, "localhost/arm:latest"),
    );
    env.ok(["load", "-i", arch_archive.to_str().unwrap()]);
    let arm = env
        .ok(["image", "inspect", "arm", "--format", "{{.Id}}"])
        .trim()
        .to_owned();
    let mut digests = Vec::new();
    for (name, tag) in [("amd", "amd64"), ("arm", "arm64")] {
        let remote = format!("{}/test/multi:{tag}", reg.address());
        env.ok(["tag", name, &remote]);
        let f = env.home.join(format!("{tag}.digest"));
        env.ok(["push", "--digestfile", f.to_str().unwrap(), &remote]);
        let d = fs::read_to_string(&f).unwrap();
        let size = fs::metadata(reg.blob_path(d.trim_start_matches("sha256:")))
            .unwrap()
            .len();
        digests.push((tag, d, size));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": digests.iter().map(|(arch, d, size)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": d, "size": size,
            "platform": {"os": "linux", "architecture": arch},
        })).collect::<Vec<_>>(),
    });
    let status = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.index.v1+json",
            "--data-binary",
        ])
        .arg(serde_json::to_string(&index).unwrap())
        .arg(format!(
            "http://{}/v2/test/multi/manifests/latest",
            reg.address()
        ))
        .status()
        .expect("curl");
    assert!(status.success(), "index pushed");
    env.ok(["rmi", "-a", "-f"]);
    let remote = format!("{}/test/multi:latest", reg.address());
    assert_eq!(
        env.ok(["pull", "-q", "--platform", "linux/arm64", &remote])
            .trim(),
        arm
    );
    assert_eq!(
        env.ok(["pull", "-q", "--arch", "amd64", &remote]).trim(),
        amd
    );
    let out = env.run(["pull", "--platform", "linux/s390x", &remote]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("arm64") && stderr(&out).contains("amd64"),
        "lists what exists: {}",
        stderr(&out)
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn push_to_oci_layout_and_pull_back() {
    let env = TestEnv::new(TestUser::default_user());
    let id = load_layered(&env, "localhost/layered:latest");
    let layout = env.home.join("layout");
    env.ok([
        "push",
        "layered",
        &format!("oci:{}:mytag", layout.display()),
    ]);
    env.ok(["rmi", "-a", "-f"]);
    let pulled = env.ok(["pull", &format!("oci:{}:mytag", layout.display())]);
    assert_eq!(pulled.trim(), id);
}

#[test]
fn killed_pull_leaves_no_image_and_the_next_pull_succeeds() {
    let dir = scratch();
    let Some(reg) = start(&dir, None) else { return };
    let env = env_with(&reg);
    // A layer big enough that the pull is still running when it is killed.
    let mut noise = vec![0u8; 64 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in noise.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let big = layer(&[Entry::File("noise", &noise)]);
    drop(noise);
    let archive = write_readable(
        &env.root,
        "big.tar",
        &docker_archive(&[big], "localhost/big:latest"),
    );
    env.ok(["load", "-q", "-i", archive.to_str().unwrap()]);
    let id = env
        .ok(["image", "inspect", "big", "--format", "{{.Id}}"])
        .trim()
        .to_owned();
    let remote = format!("{}/test/big:v1", reg.address());
    env.ok(["tag", "big", &remote]);
    env.ok(["push", &remote]);
    env.ok(["rmi", "-a", "-f"]);

    let storage = env.home.join(".local/share/hutch/storage");
    let mut child = env
        .hutch(["pull", "-q", &remote])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let in_flight = wait_until(std::time::Duration::from_secs(30), || {
        let tmp_blob = fs::read_dir(storage.join("tmp"))
            .map(|d| d.count() > 0)
            .unwrap_or(false);
        let tmp_layer = fs::read_dir(storage.join("layers"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
            .unwrap_or(false);
        tmp_blob || tmp_layer || matches!(child.try_wait(), Ok(Some(_)))
    });
    assert!(in_flight, "the pull neither started nor finished");
    let finished_first = matches!(child.try_wait(), Ok(Some(_)));
    let _ = child.kill();
    let _ = child.wait();
    if !finished_first {
        assert!(
            env.ok(["images", "-q"]).trim().is_empty(),
            "no image visible after a killed pull"
        );
    }
    assert_eq!(
        env.ok(["pull", "-q", &remote]).trim(),
        id,
        "the next pull completes"
    );
    let diff = fs::read_dir(storage.join("layers"))
        .unwrap()
        .flatten()
        .find(|e| e.path().join("diff/noise").exists())
        .expect("layer extracted");
    assert_eq!(
        fs::metadata(diff.path().join("diff/noise")).unwrap().len(),
        64 << 20,
        "layer complete"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// `pull --all-tags`: every tag of the repository, each stored under its
/// name (issue 12); a tag in the name is refused, as by Podman.
#[test]
fn pull_all_tags_fetches_every_tag() {
    let env0 = TestEnv::new(TestUser::default_user());
    let Some(reg) = start(&env0.root, None) else {
        eprintln!("skipped: docker-registry is not installed");
        return;
    };
    let env = env_with(&reg);
    let id = load_layered(&env, "alltags:latest");
    let repo = format!("{}/alltags", reg.address());
    for tag in ["v1", "v2"] {
        env.ok(["tag", &id, &format!("{repo}:{tag}")]);
        env.ok(["push", "-q", &format!("{repo}:{tag}")]);
    }
    env.ok(["rmi", "-a", "-f"]);
    let out = env.run(["pull", "-q", "--all-tags", &repo]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        [id.as_str(), id.as_str()],
        "one id per tag"
    );
    let names = env.ok([
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "--sort",
        "tag",
    ]);
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [format!("{repo}:v1"), format!("{repo}:v2")],
        "{names}"
    );
    let out = env.run(["pull", "-a", &format!("{repo}:v1")]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tag can't be used with --all-tags/-a"),
        "{}",
        stderr(&out)
    );
}
