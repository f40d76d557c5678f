//! Image trust (issue 18): policy.json enforced on pull, `run --pull` and
//! `create`; sigstore signatures made by hutch and by the installed podman,
//! verified by both; `image trust show|set` compared with podman's. As the
//! unprivileged test user, against Debian's docker-registry on 127.0.0.1.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::images::*;
use common::registry::Registry;
use common::*;

const PODMAN: &str = "/usr/bin/podman";

/// A test environment whose registries.conf marks the registry as plain
/// HTTP, with the registry started in it.
fn setup() -> Option<(TestEnv, Registry)> {
    let mut env = TestEnv::new(TestUser::default_user());
    let reg = Registry::start(&env.root.join("registry"), None)?;
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
    Some((env, reg))
}

/// Writes a file below the user's `~/.config/containers`, owned by them.
fn write_config(env: &TestEnv, rel: &str, text: &str) -> PathBuf {
    let path = env.home.join(".config/containers").join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    let mut dir = path.clone();
    while dir != env.home {
        chown(&dir, env.user.uid, env.user.gid);
        dir.pop();
    }
    path
}

fn write_policy(env: &TestEnv, json: &str) -> PathBuf {
    write_config(env, "policy.json", json)
}

/// Signatures of the test registry are sigstore attachments.
fn use_attachments(env: &TestEnv, reg: &Registry) {
    write_config(
        env,
        "registries.d/test.yaml",
        &format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n",
            reg.address()
        ),
    );
}

/// A small image (one layer with `marker` in it) loaded as `name`.
fn load_image(env: &TestEnv, name: &str, marker: &str) {
    let layers = vec![layer(&[Entry::File("marker", marker.as_bytes())])];
    let archive = write_readable(
        &env.root,
        &format!("{}.tar", marker),
        &docker_archive(&layers, name),
    );
    env.ok(["load", "-i", archive.to_str().unwrap()]);
}

/// A cosign-format key pair (passphrase "secret") the test user can read:
/// (private key, passphrase file, public key).
fn key_pair(env: &TestEnv, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    use hutch::image::trust::keys;
    let key = keys::generate().unwrap();
    let private = write_readable(
        &env.root,
        &format!("{name}.priv"),
        keys::encrypt_private_key(&key, b"secret")
            .unwrap()
            .as_bytes(),
    );
    let pass = write_readable(&env.root, &format!("{name}.pass"), b"secret\n");
    let public = write_readable(
        &env.root,
        &format!("{name}.pub"),
        keys::public_key_pem(key.verifying_key()).as_bytes(),
    );
    (private, pass, public)
}

fn sigstore_policy(reg: &Registry, public: &Path) -> String {
    format!(
        r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"docker":{{"{}":[{{"type":"sigstoreSigned","keyPath":"{}","signedIdentity":{{"type":"matchRepoDigestOrExact"}}}}]}}}}}}"#,
        reg.address(),
        public.display()
    )
}

/// Debian builds podman with sigstore support patched out ("Debian-local
/// change: sigstore disabled"): its signing and verifying cannot be
/// compared there, and the test says so.
fn sigstore_disabled(out: &std::process::Output) -> bool {
    let disabled = stderr(out).contains("sigstore disabled");
    if disabled {
        eprintln!("skipped the podman comparison: this podman is built without sigstore support");
    }
    disabled
}

fn refused(env: &TestEnv, args: &[&str]) -> String {
    let out = env.run(args);
    assert_eq!(
        out.status.code(),
        Some(125),
        "hutch {args:?} should be refused: {}",
        stderr(&out)
    );
    stderr(&out)
}

/// The installed podman as the test user, in this test's home (its own
/// storage), or `None` where podman is missing.
fn podman(env: &TestEnv, args: &[&str]) -> Option<std::process::Output> {
    if !Path::new(PODMAN).exists() {
        eprintln!("skipped: podman not installed");
        return None;
    }
    Some(
        env.hutch_at(Path::new(PODMAN), args)
            .output()
            .expect("start podman"),
    )
}

#[test]
fn reject_policy_refuses_pull_run_and_create_naming_the_rule() {
    let Some((env, reg)) = setup() else { return };
    let denied = format!("{}/plain:latest", reg.address());
    let allowed = format!("{}/ok:latest", reg.address());
    load_image(&env, &denied, "plain");
    env.ok(["tag", &denied, &allowed]);
    env.ok(["push", &denied]);
    env.ok(["push", &allowed]);
    env.ok(["rmi", "-a", "-f"]);
    // The registry is refused; one repository of it, more specific, is not.
    write_policy(
        &env,
        &format!(
            r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"docker":{{
                "{0}":[{{"type":"reject"}}],
                "{0}/ok":[{{"type":"insecureAcceptAnything"}}]}}}}}}"#,
            reg.address()
        ),
    );
    let rule = format!(
        "Error: Source image rejected: Running image docker://{denied} is rejected by policy."
    );
    let err = refused(&env, &["pull", &denied]);
    let ours: Vec<&str> = err.lines().collect();
    assert_eq!(
        ours,
        [format!("Trying to pull {denied}..."), rule.clone()],
        "{err}"
    );
    let err = refused(&env, &["run", "--pull=always", "--rm", &denied, "true"]);
    assert!(err.lines().any(|l| l == rule), "{err}");
    let err = refused(&env, &["create", &denied]);
    assert!(err.lines().any(|l| l == rule), "{err}");
    assert_eq!(env.run(["image", "exists", &denied]).status.code(), Some(1));
    env.ok(["pull", &allowed]);

    // Podman says the same, with the same exit code.
    if let Some(out) = podman(&env, &["pull", "--tls-verify=false", &denied]) {
        assert_eq!(out.status.code(), Some(125));
        let theirs = stderr(&out);
        let theirs: Vec<&str> = theirs
            .lines()
            .filter(|l| !l.contains("level=warning"))
            .collect();
        assert_eq!(theirs, ours);
    }
}

#[test]
fn invalid_policy_is_an_error_naming_the_file() {
    let Some((env, reg)) = setup() else { return };
    let path = write_policy(
        &env,
        r#"{"default":[{"type":"insecureAcceptAnything"}],"bogus":1}"#,
    );
    let err = refused(&env, &["pull", &format!("{}/none:latest", reg.address())]);
    assert!(
        err.contains(&format!(
            "invalid policy in {:?}",
            path.display().to_string()
        )),
        "{err}"
    );
}

#[test]
fn sigstore_signed_by_hutch_is_accepted_unsigned_and_retagged_are_refused() {
    let Some((env, reg)) = setup() else { return };
    use_attachments(&env, &reg);
    let (private, pass, public) = key_pair(&env, "hutch");
    let signed = format!("{}/signed:latest", reg.address());
    let retagged = format!("{}/signed:other", reg.address());
    let unsigned = format!("{}/unsigned:latest", reg.address());
    load_image(&env, &signed, "signed");
    env.ok(["tag", &signed, &retagged, &unsigned]);
    env.ok([
        "push",
        "--sign-by-sigstore-private-key",
        private.to_str().unwrap(),
        "--sign-passphrase-file",
        pass.to_str().unwrap(),
        &signed,
    ]);
    check_with_openssl(&env, &reg, &public, &signed);
    // Same manifest, so the signature made for :latest sits beside it.
    env.ok(["push", &retagged]);
    env.ok(["push", &unsigned]);
    env.ok(["rmi", "-a", "-f"]);

    write_policy(&env, &sigstore_policy(&reg, &public));
    env.ok(["pull", &signed]);
    let err = refused(&env, &["pull", &unsigned]);
    assert!(
        err.contains(
            "Error: Source image rejected: A signature was required, but no signature exists"
        ),
        "{err}"
    );
    let err = refused(&env, &["pull", &retagged]);
    assert!(
        err.contains(&format!(
            "Error: Source image rejected: Signature for identity {signed} is not accepted"
        )),
        "{err}"
    );

    // Another key does not verify it.
    let (_, _, stranger) = key_pair(&env, "stranger");
    write_policy(&env, &sigstore_policy(&reg, &stranger));
    env.ok(["rmi", "-a", "-f"]);
    let err = refused(&env, &["pull", &signed]);
    assert!(
        err.contains("cryptographic signature verification failed"),
        "{err}"
    );

    // Podman accepts hutch's signature under the same policy, and refuses
    // the re-tagged name for the same reason.
    write_policy(&env, &sigstore_policy(&reg, &public));
    if let Some(out) = podman(&env, &["pull", "--tls-verify=false", &signed])
        && !sigstore_disabled(&out)
    {
        assert!(out.status.success(), "podman pull: {}", stderr(&out));
        let out = podman(&env, &["pull", "--tls-verify=false", &retagged]).unwrap();
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("Signature for identity {signed} is not accepted")),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn sigstore_signed_by_podman_is_accepted() {
    let Some((env, reg)) = setup() else { return };
    if !Path::new(PODMAN).exists() {
        eprintln!("skipped: podman not installed");
        return;
    }
    use_attachments(&env, &reg);
    let (private, pass, public) = key_pair(&env, "podman");
    let name = format!("{}/bypodman:latest", reg.address());
    // The image goes to podman through an archive hutch writes.
    load_image(&env, &name, "bypodman");
    let archive = env.home.join("bypodman-save.tar");
    env.ok(["save", "-o", archive.to_str().unwrap(), &name]);
    let out = podman(&env, &["load", "-i", archive.to_str().unwrap()]).unwrap();
    assert!(out.status.success(), "podman load: {}", stderr(&out));
    let out = podman(
        &env,
        &[
            "push",
            "--tls-verify=false",
            "--sign-by-sigstore-private-key",
            private.to_str().unwrap(),
            "--sign-passphrase-file",
            pass.to_str().unwrap(),
            &name,
        ],
    )
    .unwrap();
    if sigstore_disabled(&out) {
        return;
    }
    assert!(
        out.status.success(),
        "podman push --sign-by-sigstore-private-key: {}",
        stderr(&out)
    );
    env.ok(["rmi", "-a", "-f"]);
    write_policy(&env, &sigstore_policy(&reg, &public));
    env.ok(["pull", &name]);
    // And it is the signature that made the difference: another key refuses.
    let (_, _, stranger) = key_pair(&env, "stranger");
    write_policy(&env, &sigstore_policy(&reg, &stranger));
    env.ok(["rmi", "-a", "-f"]);
    refused(&env, &["pull", &name]);
}

#[test]
fn trust_set_and_show_match_podman() {
    let Some((env, reg)) = setup() else { return };
    let (_, _, public) = key_pair(&env, "show");
    // No policy of the user's: the first `set` copies the system one.
    let path = env.home.join(".config/containers/policy.json");
    assert!(!path.exists());
    let scope = format!("{}/app", reg.address());
    env.ok(["image", "trust", "set", "--type", "reject", &reg.address()]);
    env.ok([
        "image",
        "trust",
        "set",
        "--type",
        "sigstoreSigned",
        "-f",
        public.to_str().unwrap(),
        &scope,
    ]);
    let err = refused(
        &env,
        &["image", "trust", "set", "--type", "signedBy", "quay.io"],
    );
    assert!(
        err.contains("at least one public key must be defined for type 'signedBy'"),
        "{err}"
    );
    let shown = env.ok(["image", "trust", "show"]);
    let rows: Vec<&str> = shown.lines().collect();
    assert!(rows[0].starts_with("TRANSPORT"), "{shown}");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {shown}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row(&reg.address()),
        ["repository", &reg.address(), "reject"]
    );
    assert_eq!(row(&scope), ["repository", &scope, "sigstoreSigned", "N/A"]);
    // The set policy is in force.
    let err = refused(&env, &["pull", &format!("{}/x:latest", reg.address())]);
    assert!(err.contains("is rejected by policy."), "{err}");

    assert!(path.exists());
    // Podman 4.3 shows the same file the same way (it reads the system
    // file unless given --policypath).
    let policypath = format!("--policypath={}", path.display());
    if let Some(out) = podman(&env, &["image", "trust", "show", &policypath]) {
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), shown);
        let theirs = podman(&env, &["image", "trust", "show", "--json", &policypath]).unwrap();
        let ours = env.ok(["image", "trust", "show", "--json"]);
        let theirs: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
        let ours: serde_json::Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(ours, theirs);
    }
}

/// One plain-HTTP GET to the test registry (it speaks no TLS).
fn http_get(reg: &Registry, path: &str, accept: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", reg.port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: {accept}\r\n\r\n",
        reg.address()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

/// The signature hutch attached, checked by another implementation:
/// openssl verifies the ECDSA signature of the payload with the public
/// key, and the payload names the pushed manifest and reference.
fn check_with_openssl(env: &TestEnv, reg: &Registry, public: &Path, signed: &str) {
    let repo = "signed";
    let (status, manifest) = http_get(
        reg,
        &format!("/v2/{repo}/manifests/latest"),
        "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200);
    let digest_hex = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(&manifest))
    };
    let (status, sigs) = http_get(
        reg,
        &format!("/v2/{repo}/manifests/sha256-{digest_hex}.sig"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&sigs));
    let sigs: serde_json::Value = serde_json::from_slice(&sigs).unwrap();
    let layer = &sigs["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let (status, payload) = http_get(
        reg,
        &format!("/v2/{repo}/blobs/{}", layer["digest"].as_str().unwrap()),
        "*/*",
    );
    assert_eq!(status, 200);
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["critical"]["identity"]["docker-reference"], signed);
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"],
        format!("sha256:{digest_hex}")
    );
    assert_eq!(
        claims["critical"]["type"],
        "cosign container image signature"
    );
    let b64 = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap();
    let der = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    };
    let payload_file = env.root.join("payload.json");
    let sig_file = env.root.join("payload.sig");
    fs::write(&payload_file, &payload).unwrap();
    fs::write(&sig_file, &der).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(&sig_file)
        .arg(&payload_file)
        .output();
    match out {
        Ok(out) => assert!(
            out.status.success(),
            "openssl refuses hutch's signature: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("skipped the openssl check: openssl not installed"),
    }
}

/// A GnuPG home of the test user's with three signing keys made for the
/// test (no passphrase; `p@example.com` has "pw"): `t@example.com` (Ed25519), `r@example.com`
/// (RSA 3072) and `o@example.com` (Ed25519, trusted by no policy). Its
/// agent is stopped on drop.
struct GnupgHome {
    dir: PathBuf,
    env: Vec<(String, String)>,
    user: TestUser,
    home: PathBuf,
}

impl GnupgHome {
    fn new(env: &TestEnv) -> Option<GnupgHome> {
        if !Path::new("/usr/bin/gpg").exists() {
            eprintln!("skipped: gpg not installed (Debian's gnupg)");
            return None;
        }
        let dir = env.root.join("gnupg");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        chown(&dir, env.user.uid, env.user.gid);
        let g = GnupgHome {
            env: vec![("GNUPGHOME".into(), dir.display().to_string())],
            dir,
            user: TestUser::default_user(),
            home: env.home.clone(),
        };
        for (id, algo) in [
            ("Test <t@example.com>", "ed25519"),
            ("Rsa <r@example.com>", "rsa3072"),
            ("Other <o@example.com>", "ed25519"),
        ] {
            g.gpg(
                env,
                &[
                    "--batch",
                    "--passphrase",
                    "",
                    "--quick-gen-key",
                    id,
                    algo,
                    "sign",
                    "never",
                ],
            );
        }
        // One more whose private key needs a passphrase (`--sign-passphrase-file`).
        g.gpg(
            env,
            &[
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "pw",
                "--quick-gen-key",
                "Pass <p@example.com>",
                "ed25519",
                "sign",
                "never",
            ],
        );
        Some(g)
    }

    /// gpg as the test user in this home; requires success, returns stdout.
    fn gpg(&self, env: &TestEnv, args: &[&str]) -> Vec<u8> {
        let mut cmd = env.hutch_at(Path::new("/usr/bin/gpg"), args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let out = cmd.output().expect("start gpg");
        assert!(out.status.success(), "gpg {args:?}: {}", stderr(&out));
        out.stdout
    }

    /// The public key of `who`, exported (`--armor` or binary) to a file
    /// the test user can read.
    fn export(&self, env: &TestEnv, who: &str, armor: bool) -> PathBuf {
        let mut args = vec!["--export"];
        if armor {
            args.push("--armor");
        }
        args.push(who);
        let key = self.gpg(env, &args);
        assert!(!key.is_empty(), "no key exported for {who}");
        write_readable(
            &env.root,
            &format!("{who}{}", if armor { ".asc" } else { ".gpg" }),
            &key,
        )
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        self.stop_agent();
    }
}

impl GnupgHome {
    /// Stops the agent (and with it any passphrase it cached).
    fn stop_agent(&self) {
        let mut cmd = std::process::Command::new("/usr/bin/gpgconf");
        cmd.args(["--kill", "gpg-agent"])
            .env_clear()
            .env("HOME", &self.home)
            .env("GNUPGHOME", &self.dir);
        if is_root() {
            use std::os::unix::process::CommandExt;
            cmd.uid(self.user.uid).gid(self.user.gid);
        }
        let _ = cmd.output();
    }
}

/// hutch and podman find the keys and the lookaside store of the test.
fn gpg_setup() -> Option<(TestEnv, Registry, GnupgHome, PathBuf)> {
    let (mut env, reg) = setup()?;
    let gnupg = GnupgHome::new(&env)?;
    env.vars.extend(gnupg.env.clone());
    let store = env.root.join("sigstore");
    fs::create_dir(&store).unwrap();
    chown(&store, env.user.uid, env.user.gid);
    write_config(
        &env,
        "registries.d/test.yaml",
        &format!(
            "docker:\n  {}:\n    lookaside: file://{}\n    lookaside-staging: file://{}\n",
            reg.address(),
            store.display(),
            store.display()
        ),
    );
    Some((env, reg, gnupg, store))
}

fn signed_by_policy(reg: &Registry, keys: &[&Path]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| format!("{:?}", k.display().to_string()))
        .collect();
    format!(
        r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"docker":{{"{}":[{{"type":"signedBy","keyType":"GPGKeys","keyPaths":[{}]}}]}}}}}}"#,
        reg.address(),
        keys.join(",")
    )
}

fn manifest_hex(reg: &Registry, repo: &str, tag: &str) -> String {
    let (status, manifest) = http_get(
        reg,
        &format!("/v2/{repo}/manifests/{tag}"),
        "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200);
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(&manifest))
}

#[test]
fn gpg_signed_by_hutch_is_accepted_unsigned_retagged_and_other_keys_refused() {
    let Some((env, reg, gnupg, store)) = gpg_setup() else {
        return;
    };
    let a = reg.address();
    let signed = format!("{a}/signed:latest");
    let retagged = format!("{a}/signed:other");
    let unsigned = format!("{a}/unsigned:latest");
    let by_rsa = format!("{a}/byrsa:latest");
    let by_other = format!("{a}/byother:latest");
    let later = format!("{a}/later:latest");
    load_image(&env, &signed, "gpgsigned");
    env.ok([
        "tag", &signed, &retagged, &unsigned, &by_rsa, &by_other, &later,
    ]);
    env.ok(["push", "--sign-by", "t@example.com", &signed]);
    env.ok(["push", &retagged]);
    env.ok(["push", &unsigned]);
    env.ok(["push", "--sign-by", "r@example.com", &by_rsa]);
    env.ok(["push", "--sign-by", "o@example.com", &by_other]);
    env.ok(["push", &later]);
    let by_pass = format!("{a}/bypass:latest");
    env.ok(["tag", &signed, &by_pass]);
    let pass = write_readable(&env.root, "gpg.pass", b"pw\n");
    // Not cached from the key's making: the file is what unlocks it.
    gnupg.stop_agent();
    env.ok([
        "push",
        "--sign-by",
        "p@example.com",
        "--sign-passphrase-file",
        pass.to_str().unwrap(),
        &by_pass,
    ]);
    // `image sign` signs what the registry serves, into the staging store.
    env.ok([
        "image",
        "sign",
        "--sign-by",
        "t@example.com",
        &format!("docker://{later}"),
    ]);
    // `--directory` puts it elsewhere, in the same layout.
    let elsewhere = env.home.join("elsewhere");
    env.ok([
        "image",
        "sign",
        "--sign-by",
        "t@example.com",
        "--directory",
        elsewhere.to_str().unwrap(),
        &later,
    ]);
    let later_hex = manifest_hex(&reg, "later", "latest");
    assert!(
        elsewhere
            .join(format!("later@sha256={later_hex}/signature-1"))
            .exists()
    );

    // The signature is where containers/image looks, and gpg itself
    // verifies it and finds the payload naming the image.
    let hex = manifest_hex(&reg, "signed", "latest");
    let sig = store.join(format!("signed@sha256={hex}/signature-1"));
    assert!(sig.exists(), "no signature at {}", sig.display());
    assert!(
        !store
            .join(format!("signed@sha256={hex}/signature-2"))
            .exists()
    );
    let payload = gnupg.gpg(&env, &["--batch", "--decrypt", sig.to_str().unwrap()]);
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        claims["critical"]["identity"]["docker-reference"],
        signed.as_str()
    );
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"],
        format!("sha256:{hex}")
    );
    assert_eq!(claims["critical"]["type"], "atomic container signature");

    env.ok(["rmi", "-a", "-f"]);
    // Keys as gpg exports them: binary for one, armored for the other.
    let ed = gnupg.export(&env, "t@example.com", false);
    let rsa = gnupg.export(&env, "r@example.com", true);
    let with_pass = gnupg.export(&env, "p@example.com", false);
    write_policy(&env, &signed_by_policy(&reg, &[&ed, &rsa, &with_pass]));
    env.ok(["pull", &signed]);
    env.ok(["pull", &by_pass]);
    env.ok(["pull", &by_rsa]);
    env.ok(["pull", &later]);
    let err = refused(&env, &["pull", &unsigned]);
    assert!(
        err.contains(
            "Error: Source image rejected: A signature was required, but no signature exists"
        ),
        "{err}"
    );
    let err = refused(&env, &["pull", &retagged]);
    assert!(
        err.contains(&format!(
            "Error: Source image rejected: Signature for identity {signed} is not accepted"
        )),
        "{err}"
    );
    let err = refused(&env, &["pull", &by_other]);
    assert!(
        err.contains("Error: Source image rejected: Invalid GPG signature"),
        "{err}"
    );
    assert_eq!(
        env.run(["image", "exists", &by_other]).status.code(),
        Some(1)
    );

    // Podman accepts hutch's signatures under the same policy, and refuses
    // what hutch refuses.
    if let Some(out) = podman(&env, &["pull", "--tls-verify=false", &signed]) {
        assert!(out.status.success(), "podman pull: {}", stderr(&out));
        let out = podman(&env, &["pull", "--tls-verify=false", &by_rsa]).unwrap();
        assert!(out.status.success(), "podman pull rsa: {}", stderr(&out));
        let out = podman(&env, &["pull", "--tls-verify=false", &later]).unwrap();
        assert!(
            out.status.success(),
            "podman pull (image sign): {}",
            stderr(&out)
        );
        let out = podman(&env, &["pull", "--tls-verify=false", &retagged]).unwrap();
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("Signature for identity {signed} is not accepted")),
            "{}",
            stderr(&out)
        );
        let out = podman(&env, &["pull", "--tls-verify=false", &by_other]).unwrap();
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        // Both name the signer's fingerprint after the same words (podman
        // then dumps gpgme's structure).
        let ours = refused(&env, &["pull", &by_other]);
        let fpr = ours
            .split("signature by key ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no fingerprint in {ours}"));
        assert_eq!(fpr.len(), 40, "{ours}");
        let theirs = stderr(&out);
        assert!(
            theirs.contains("Error: Source image rejected: Invalid GPG signature: ")
                && theirs.contains(fpr),
            "{theirs}"
        );
        // Line for line the same where podman's words are plain text.
        for image in [&unsigned, &retagged] {
            let out = podman(&env, &["pull", "--tls-verify=false", image]).unwrap();
            assert_eq!(out.status.code(), Some(125));
            let theirs = stderr(&out);
            let theirs: Vec<&str> = theirs
                .lines()
                .filter(|l| !l.contains("level=warning"))
                .collect();
            let ours = refused(&env, &["pull", image]);
            assert_eq!(ours.lines().collect::<Vec<_>>(), theirs);
        }
    }
}

#[test]
fn gpg_signed_by_podman_is_accepted() {
    let Some((env, reg, gnupg, _store)) = gpg_setup() else {
        return;
    };
    if !Path::new(PODMAN).exists() {
        eprintln!("skipped: podman not installed");
        return;
    }
    let name = format!("{}/gpgbypodman:latest", reg.address());
    load_image(&env, &name, "gpgbypodman");
    let archive = env.home.join("gpgbypodman.tar");
    env.ok(["save", "-o", archive.to_str().unwrap(), &name]);
    let out = podman(&env, &["load", "-i", archive.to_str().unwrap()]).unwrap();
    assert!(out.status.success(), "podman load: {}", stderr(&out));
    let out = podman(
        &env,
        &[
            "push",
            "--tls-verify=false",
            "--sign-by",
            "t@example.com",
            &name,
        ],
    )
    .unwrap();
    assert!(
        out.status.success(),
        "podman push --sign-by: {}",
        stderr(&out)
    );
    // And one that only `podman image sign` signed, into the staging store.
    let sign_only = format!("{}/gpgpodmansign:latest", reg.address());
    let out = podman(&env, &["tag", &name, &sign_only]).unwrap();
    assert!(out.status.success(), "podman tag: {}", stderr(&out));
    let out = podman(&env, &["push", "--tls-verify=false", &sign_only]).unwrap();
    assert!(out.status.success(), "podman push: {}", stderr(&out));
    let out = podman(
        &env,
        &[
            "image",
            "sign",
            "--sign-by",
            "t@example.com",
            &format!("docker://{sign_only}"),
        ],
    )
    .unwrap();
    assert!(out.status.success(), "podman image sign: {}", stderr(&out));
    env.ok(["rmi", "-a", "-f"]);
    let ed = gnupg.export(&env, "t@example.com", true);
    write_policy(&env, &signed_by_policy(&reg, &[&ed]));
    env.ok(["pull", &name]);
    env.ok(["pull", &sign_only]);
    // The key decides: under another key's policy the same image is refused.
    let other = gnupg.export(&env, "o@example.com", false);
    write_policy(&env, &signed_by_policy(&reg, &[&other]));
    env.ok(["rmi", "-a", "-f"]);
    let err = refused(&env, &["pull", &name]);
    assert!(err.contains("Invalid GPG signature"), "{err}");
}

/// An offline Fulcio of the test's: a CA (and a second CA that signed
/// nothing of the test's), a leaf certificate made by openssl for a P-256
/// key, valid for one day from now, with Fulcio's OIDC issuer extension
/// (raw bytes), an e-mail SAN and the code-signing usage; and a Rekor
/// log key. `None` (skipped) without openssl.
struct OfflineFulcio {
    ca: PathBuf,
    other_ca: PathBuf,
    leaf_pem: String,
    leaf_key: p256::ecdsa::SigningKey,
    not_after: i64,
    rekor: p256::ecdsa::SigningKey,
    rekor_pub: PathBuf,
}

const FULCIO_ISSUER: &str = "https://issuer.example.com";
const FULCIO_EMAIL: &str = "signer@example.com";

impl OfflineFulcio {
    fn new(env: &TestEnv) -> Option<OfflineFulcio> {
        use hutch::image::trust::{cert, keys};
        if !Path::new("/usr/bin/openssl").exists() {
            eprintln!("skipped: openssl not installed");
            return None;
        }
        let dir = env.root.join("fulcio");
        fs::create_dir(&dir).unwrap();
        let hex: Vec<String> = FULCIO_ISSUER.bytes().map(|b| format!("{b:02x}")).collect();
        fs::write(
            dir.join("ext.cnf"),
            format!(
                "[ca]\nbasicConstraints = critical,CA:true\nkeyUsage = critical,keyCertSign\n\
                 [leaf]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature\n\
                 extendedKeyUsage = codeSigning\nsubjectAltName = critical,email:{FULCIO_EMAIL}\n\
                 1.3.6.1.4.1.57264.1.1 = DER:{}\n",
                hex.join(":")
            ),
        )
        .unwrap();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("/usr/bin/openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("start openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for name in ["ca", "other", "leaf"] {
            openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ]);
        }
        for (key, out) in [("ca.key", "ca.pem"), ("other.key", "other-ca.pem")] {
            openssl(&[
                "req",
                "-x509",
                "-new",
                "-key",
                key,
                "-subj",
                "/CN=offline-fulcio",
                "-days",
                "30",
                "-config",
                "ext.cnf",
                "-extensions",
                "ca",
                "-out",
                out,
            ]);
        }
        openssl(&[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-subj",
            "/O=sigstore.dev",
            "-out",
            "leaf.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "leaf",
            "-out",
            "leaf.pem",
        ]);
        let leaf_pem = fs::read_to_string(dir.join("leaf.pem")).unwrap();
        let leaf_key = {
            use p256::pkcs8::DecodePrivateKey;
            p256::ecdsa::SigningKey::from_pkcs8_pem(
                &fs::read_to_string(dir.join("leaf.key")).unwrap(),
            )
            .unwrap()
        };
        let fields =
            cert::parse(&cert::single_pem_certificate(leaf_pem.as_bytes()).unwrap()).unwrap();
        let rekor = keys::generate().unwrap();
        let rekor_pub = write_readable(
            &env.root,
            "rekor.pub",
            keys::public_key_pem(rekor.verifying_key()).as_bytes(),
        );
        Some(OfflineFulcio {
            ca: write_readable(
                &env.root,
                "fulcio-ca.pem",
                &fs::read(dir.join("ca.pem")).unwrap(),
            ),
            other_ca: write_readable(
                &env.root,
                "other-ca.pem",
                &fs::read(dir.join("other-ca.pem")).unwrap(),
            ),
            leaf_pem,
            leaf_key,
            not_after: fields.not_after,
            rekor,
            rekor_pub,
        })
    }

    /// Signs `reference` at manifest `sha256:<digest_hex>` as cosign with
    /// Fulcio does, the Rekor SET made by `log` at `integrated_time`
    /// (`None`: no SET annotation), and attaches it in the registry.
    fn sign_and_attach(
        &self,
        reg: &Registry,
        repo: &str,
        reference: &str,
        digest_hex: &str,
        log: Option<&p256::ecdsa::SigningKey>,
        integrated_time: i64,
    ) {
        use hutch::image::registry::{Endpoint, attach_signature};
        use hutch::image::trust::{fulcio, rekor, sigstore};
        let digest = format!("sha256:{digest_hex}");
        let payload = sigstore::payload(reference, &digest, integrated_time);
        let signature = sigstore::sign(&self.leaf_key, &payload);
        let mut annotations = std::collections::BTreeMap::new();
        annotations.insert(
            fulcio::CERTIFICATE_ANNOTATION.to_owned(),
            self.leaf_pem.clone(),
        );
        if let Some(log) = log {
            annotations.insert(
                rekor::SET_ANNOTATION.to_owned(),
                rekor::signed_entry(
                    log,
                    self.leaf_pem.as_bytes(),
                    &signature,
                    &payload,
                    integrated_time,
                ),
            );
        }
        annotations.insert(sigstore::SIGNATURE_ANNOTATION.to_owned(), signature);
        let att = sigstore::Attachment {
            media_type: sigstore::PAYLOAD_MEDIA_TYPE.to_owned(),
            payload,
            annotations,
        };
        let ep = Endpoint {
            registry: reg.address(),
            insecure: true,
        };
        attach_signature(&ep, repo, &digest.parse().unwrap(), &att, None).unwrap();
    }
}

fn fulcio_policy(reg: &Registry, ca: &Path, issuer: &str, email: &str, rekor: &Path) -> String {
    format!(
        r#"{{"default":[{{"type":"insecureAcceptAnything"}}],"transports":{{"docker":{{"{}":[{{"type":"sigstoreSigned","fulcio":{{"caPath":"{}","oidcIssuer":"{issuer}","subjectEmail":"{email}"}},"rekorPublicKeyPath":"{}","signedIdentity":{{"type":"matchRepoDigestOrExact"}}}}]}}}}}}"#,
        reg.address(),
        ca.display(),
        rekor.display()
    )
}

#[test]
fn sigstore_fulcio_and_rekor_offline_accept_and_refuse_naming_the_check() {
    let Some((env, reg)) = setup() else { return };
    let Some(f) = OfflineFulcio::new(&env) else {
        return;
    };
    use_attachments(&env, &reg);
    let a = reg.address();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let stranger_log = hutch::image::trust::keys::generate().unwrap();
    // One repository per kind of signature; the same image in each.
    let cases: [(&str, Option<&p256::ecdsa::SigningKey>, i64); 4] = [
        ("fulcio-ok", Some(&f.rekor), now),
        ("fulcio-noset", None, now),
        ("fulcio-badset", Some(&stranger_log), now),
        // Logged after the one-day certificate had expired.
        ("fulcio-expired", Some(&f.rekor), f.not_after + 3600),
    ];
    load_image(&env, &format!("{a}/fulcio-ok:latest"), "fulcio");
    for (repo, log, time) in cases {
        let name = format!("{a}/{repo}:latest");
        env.ok(["tag", &format!("{a}/fulcio-ok:latest"), &name]);
        env.ok(["push", &name]);
        let hex = manifest_hex(&reg, repo, "latest");
        f.sign_and_attach(&reg, repo, &name, &hex, log, time);
    }
    env.ok(["rmi", "-a", "-f"]);

    let policy = |ca: &Path, issuer: &str, email: &str| {
        write_policy(&env, &fulcio_policy(&reg, ca, issuer, email, &f.rekor_pub))
    };
    let good = format!("{a}/fulcio-ok:latest");
    policy(&f.ca, FULCIO_ISSUER, FULCIO_EMAIL);
    env.ok(["pull", &good]);
    env.ok(["rmi", "-a", "-f"]);

    let expect = |name: &str, why: &str| {
        let err = refused(&env, &["pull", name]);
        assert!(
            err.contains(&format!("Error: Source image rejected: {why}")),
            "{name}: expected {why:?} in {err}"
        );
        assert_eq!(env.run(["image", "exists", name]).status.code(), Some(1));
    };
    expect(
        &format!("{a}/fulcio-noset:latest"),
        "missing dev.sigstore.cosign/bundle annotation",
    );
    expect(
        &format!("{a}/fulcio-badset:latest"),
        "cryptographic signature verification of Rekor SET failed",
    );
    expect(
        &format!("{a}/fulcio-expired:latest"),
        "veryfing leaf certificate failed: x509: certificate has expired or is not yet valid: current time",
    );
    policy(&f.ca, "https://other.example.com", FULCIO_EMAIL);
    expect(
        &good,
        &format!("Unexpected Fulcio OIDC issuer \"{FULCIO_ISSUER}\""),
    );
    policy(&f.ca, FULCIO_ISSUER, "other@example.com");
    expect(
        &good,
        &format!("Required email other@example.com not found (got []string{{\"{FULCIO_EMAIL}\"}})"),
    );
    policy(&f.other_ca, FULCIO_ISSUER, FULCIO_EMAIL);
    expect(
        &good,
        "veryfing leaf certificate failed: x509: certificate signed by unknown authority",
    );

    // Podman 4.3.1 cannot verify Fulcio signatures (its containers/image
    // rejects the "fulcio" key); `image trust show` reads the same policy
    // file the same way.
    let path = policy(&f.ca, FULCIO_ISSUER, FULCIO_EMAIL);
    let policypath = format!("--policypath={}", path.display());
    if let Some(out) = podman(&env, &["image", "trust", "show", &policypath]) {
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), env.ok(["image", "trust", "show"]));
    }
}

/// `manifest push --sign-by-sigstore-private-key` (issue 18): the list
/// and its image are signed as pushed, so a `sigstoreSigned` policy
/// takes the list; a list pushed unsigned is refused under it.
#[test]
fn manifest_push_signs_the_list_with_a_sigstore_key() {
    let Some((env, reg)) = setup() else { return };
    use_attachments(&env, &reg);
    let (private, pass, public) = key_pair(&env, "lists");
    let image = format!("{}/inlist:latest", reg.address());
    load_image(&env, &image, "inlist");
    env.ok(["manifest", "create", "siglist", &image]);
    let signed = format!("{}/siglist:latest", reg.address());
    let unsigned = format!("{}/unsignedlist:latest", reg.address());
    let digestfile = env.home.join("siglist.digest");
    env.ok([
        "manifest",
        "push",
        "--sign-by-sigstore-private-key",
        private.to_str().unwrap(),
        "--sign-passphrase-file",
        pass.to_str().unwrap(),
        "--digestfile",
        digestfile.to_str().unwrap(),
        "siglist",
        &signed,
    ]);
    let digest = fs::read_to_string(&digestfile).expect("digest file");
    let hex = digest.trim().trim_start_matches("sha256:");
    // The list's signature is an attachment tagged after its digest.
    let (code, _) = http_get(
        &reg,
        &format!("/v2/siglist/manifests/sha256-{hex}.sig"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(code, 200, "no signature attached to the list {digest}");
    env.ok(["manifest", "push", "siglist", &unsigned]);
    // Both signers at once are refused, in Podman's words.
    let err = refused(
        &env,
        &[
            "manifest",
            "push",
            "--sign-by",
            "nobody",
            "--sign-by-sigstore-private-key",
            private.to_str().unwrap(),
            "--sign-passphrase-file",
            pass.to_str().unwrap(),
            "siglist",
            &unsigned,
        ],
    );
    assert!(err.contains("only one of --sign-by and"), "{err}");
    env.ok(["rmi", "-a", "-f"]);
    write_policy(&env, &sigstore_policy(&reg, &public));
    env.ok(["pull", &signed]);
    let err = refused(&env, &["pull", &unsigned]);
    assert!(err.contains("Source image rejected"), "{err}");
}
